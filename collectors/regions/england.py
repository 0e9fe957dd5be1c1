"""England's and each region's rows of DfE's EHC plan tables, made from the councils' own SEN2 files as DfE makes its
own: each count the sum of the councils' (DfE's data guidance: the individual level data "aggregated to calculate
national, regional and local authority totals"), each percentage the ratio of those sums, and neither suppressed nor
rounded ("The dataset and outputs have not had suppression or rounding applied"; both in the 2025 release's
``data-guidance/data-guidance.txt``, ``collectors/sen2/dfe/SOURCE.md``). Checked against the release itself: its
National and Regional rows are the sums of its Local authority rows.

The councils counted are DfE's (the 153 of its release, ``collectors/sen2/dfe/councils.csv``) whose agency keeps a
SEN2 file for the year; each of DfE's councils without one is named as missing, and the rows say how many of the 153
they count. A council's region is the one the service's geography (ONS's lookups) puts it in. Each council's rows are
the ones its own route serves (``collectors.sen2.service.make_tables``). Nothing made is written: the tables made are
held in memory (counts only) by the uploads they count, so a regulator's pulls of the twelve read each council's file
once, and a council's new file is counted at the next ask.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Engine
from sqlmodel import Session, select

from collectors.sen2.receiving import kept_sen2
from collectors.sen2.schema import survey_of
from collectors.sen2.service import TABLES, Made, make_tables
from collectors.sen2.tables import NATIONAL, added, council_rows, dfe_place, regional, write
from indicators.store.models import Submission
from mappings.comparison.figures import geography
from mappings.establishments.register import held
from mappings.illustrative import Council, councils_of
from mappings.models import Agency
from onereturn.errors import NotFound
from onereturn.settings import Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Coverage:
    """Which councils England's rows count: those counted (ONS code to agency), DfE's councils with no file (named),
    and the files left out with why."""

    expected: int
    counted: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    #: A council counted from an illustrative council's made-up records: its ONS code to the illustrative code.
    stands_in: dict[str, str] = field(default_factory=dict)
    #: Each council counted: DfE's code for it to the code its agency holds (its own rows are shown by that code: an
    #: illustrative council's, or a council's given a new code since DfE's release).
    held_as: dict[str, str] = field(default_factory=dict)

    def said(self) -> str:
        """How many of DfE's councils the rows count, in words."""
        return f"{len(self.counted)} of {self.expected} councils"

    def answer(self) -> dict[str, object]:
        """The coverage as the API answers it: how many, which councils counted, missing and made up, and left out."""
        return {
            "coverage": self.said(),
            "councils_counted": sorted(self.counted),
            "councils_missing": self.missing,
            "made_up_councils_counted": self.stands_in,
            "left_out": self.left_out,
        }


@dataclass(frozen=True)
class Rows:
    """DfE's tables of the year with England's, each region's and the councils' rows, and the coverage."""

    tables: dict[str, str]
    coverage: Coverage


#: England's tables made, by the uploads they count (each council's, its id and digest) and the register's load: the
#: National and Regional rows and each council's, as CSV text without a heading (counts only, no child). A new
#: upload, or a new load of the register, makes them again; the newest two are held.
_HELD: OrderedDict[tuple[object, ...], tuple[dict[str, list[tuple[str | None, str]]], Coverage]] = OrderedDict()
_HELD_MOST = 2
_LOCK = threading.Lock()


def counted_councils(
    session: Session, what: str, upload: Callable[[str, Council], T | None]
) -> tuple[dict[str, tuple[str, Council, T]], Coverage]:
    """DfE's councils (by ONS code) whose agency has an ``upload`` of the return: the agency, its council and the
    upload; an illustrative council counted in the place of the council it stands in for (said in the coverage);
    each of DfE's councils with none named as missing, and each upload not counted left out with why."""
    dfe = council_rows()
    coverage = Coverage(len(dfe))
    found: dict[str, tuple[str, Council, T]] = {}
    for agency in session.exec(select(Agency.code).order_by(Agency.code)).all():
        councils = councils_of(session, agency)
        if len(councils) != 1 or (given := upload(agency, councils[0])) is None:
            continue
        council = councils[0]
        place = dfe_place(council.rules_as, dfe)
        if place not in dfe:
            coverage.left_out.append(f"{place} ({agency}): not one of the {len(dfe)} councils DfE's releases count")
        elif place in found:
            coverage.left_out.append(f"{place} ({agency}): {found[place][0]}'s {what} is counted for this council")
        else:
            found[place] = (agency, council, given)
            coverage.counted[place] = agency
            coverage.held_as[place] = council.org
            if council.illustrative:
                coverage.stands_in[place] = council.org
    coverage.missing = [f"{code} {row['la_name']}: no {what}" for code, row in sorted(dfe.items()) if code not in found]
    return found, coverage


def _made(
    engine: Engine, settings: Settings, collection_year: str, councils: dict[str, tuple[str, Council, Submission]]
) -> dict[str, dict[str, Made]]:
    """Each counted council's twelve tables (by ONS code); one whose file cannot be read is left out and said."""
    made: dict[str, dict[str, Made]] = {}
    for place, (agency, _, _) in councils.items():
        try:
            made[place] = make_tables(engine, settings, agency, collection_year)
        except Exception:  # one council's file that reads no more leaves the others' rows whole, and is named
            logger.exception("England's SEN2 rows could not read %s's file", agency)
    return made


def _blocks(
    made: dict[str, dict[str, Made]],
    coverage: Coverage,
    names_of: dict[str, str],
    region_of: dict[str, str],
    survey: int,
) -> dict[str, list[tuple[str | None, str]]]:
    """Each table's rows as CSV text: England's and each region's under the heading (None), then each council's."""
    regions = sorted({region_of[org] for org in made if org in region_of})
    coverage.left_out += [
        f"{org}: the service's geography puts it in no region, so it is in England's rows only"
        for org in sorted(made)
        if org not in region_of
    ]
    order = sorted(made, key=lambda org: (region_of.get(org, ""), org))
    out: dict[str, list[tuple[str | None, str]]] = {}
    for name in TABLES:
        table = next(iter(made.values()))[name].table
        summed = [(NATIONAL, added(m[name].rows for m in made.values()))]
        summed += [
            (
                regional(code, names_of.get(code, code)),
                added(made[o][name].rows for o in order if region_of.get(o) == code),
            )
            for code in regions
        ]
        # England's and the regions' rows under the table's heading, then each council's rows without it.
        out[name] = [(None, write(table, survey, summed))]
        # A council's rows are shown to its own key, by the code its agency holds.
        out[name] += [(coverage.held_as.get(o, o), made[o][name].csv.split("\n", 1)[1]) for o in order]
    return out


def ehc_plan_rows(
    engine: Engine,
    settings: Settings,
    collection_year: str,
    names: tuple[str, ...] = TABLES,
    shown: frozenset[str] | None = None,
) -> Rows:
    """DfE's tables ``names`` for the year: England's row, each region's, then the councils' (only those in
    ``shown``, by ONS code, where given), in DfE's layout; NotFound when no council's file is counted."""
    survey = survey_of(collection_year)
    for name in names:
        if name not in TABLES:
            raise NotFound(f"DfE's EHC plan tables are {', '.join(TABLES)}, not {name[:40]!r}")
    with Session(engine) as session:
        councils, coverage = counted_councils(
            session, f"SEN2 file kept for {collection_year}", lambda a, _: kept_sen2(session, a, collection_year)
        )
        register = held(session)
        names_of, _, region_of = geography(session)
    uploads = tuple((place, s.id, s.content_hash) for place, (_, _, s) in sorted(councils.items()))
    key = (str(engine.url), collection_year, uploads, register.id if register is not None else None)
    with _LOCK:
        found = _HELD.get(key)
    if found is None:
        made = _made(engine, settings, collection_year, councils)
        for place in sorted(set(councils) - set(made)):
            del coverage.counted[place]
            coverage.left_out.append(f"{place} ({councils[place][0]}): its SEN2 file could not be read")
        if not made:
            raise NotFound(f"no council of DfE's {coverage.expected} has a SEN2 file kept for {collection_year}")
        found = (_blocks(made, coverage, names_of, region_of, survey), coverage)
        with _LOCK:
            _HELD[key] = found
            while len(_HELD) > _HELD_MOST:
                _HELD.popitem(last=False)
    blocks, coverage = found
    tables = {
        name: "".join(text for org, text in blocks[name] if org is None or shown is None or org in shown)
        for name in names
    }
    return Rows(tables, coverage)
