"""England's and each region's rows of DfE's EHC plan tables, made from the councils' own SEN2 files as DfE makes its
own: each count the sum of the councils' (DfE's data guidance: the individual level data "aggregated to calculate
national, regional and local authority totals"), each percentage the ratio of those sums, and neither suppressed nor
rounded ("The dataset and outputs have not had suppression or rounding applied"; both in the 2025 release's
``data-guidance/data-guidance.txt``, ``collectors/sen2/dfe/SOURCE.md``). Checked against the release itself: its
National and Regional rows are the sums of its Local authority rows.

The councils counted are DfE's (the 153 of its release, ``collectors/sen2/dfe/councils.csv``) whose agency keeps a
SEN2 file for the year; each of DfE's councils without one is named as missing, and the rows say how many of the 153
they count. A council's region is the one the service's geography (ONS's lookups) puts it in. Nothing made is kept:
each council's tables are the ones its own route serves (``collectors.sen2.service.make_tables``, held a while).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import Session, select

from collectors.sen2.receiving import kept_sen2
from collectors.sen2.schema import survey_of
from collectors.sen2.service import TABLES, Made, make_tables
from collectors.sen2.tables import NATIONAL, added, council_rows, regional, write
from mappings.comparison.figures import geography
from mappings.illustrative import councils_of
from mappings.models import Agency
from onereturn.errors import NotFound
from onereturn.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Coverage:
    """Which councils England's rows count: those counted (ONS code to agency), DfE's councils with no file (named),
    and the files left out with why."""

    expected: int
    counted: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def said(self) -> str:
        """How many of DfE's councils the rows count, in words."""
        return f"{len(self.counted)} of {self.expected} councils"


@dataclass(frozen=True)
class Rows:
    """DfE's tables of the year with England's, each region's and the councils' rows, and the coverage."""

    tables: dict[str, str]
    coverage: Coverage


def _councils(session: Session, collection_year: str) -> list[tuple[str, str]]:
    """(agency, ONS code) of every agency answering for one council with a SEN2 file of the year kept."""
    found = []
    for agency in session.exec(select(Agency.code).order_by(Agency.code)).all():
        councils = councils_of(session, agency)
        if len(councils) == 1 and kept_sen2(session, agency, collection_year) is not None:
            found.append((agency, councils[0].org))
    return found


def _made(
    engine: Engine, settings: Settings, collection_year: str, names: tuple[str, ...]
) -> tuple[dict[str, dict[str, Made]], Coverage, dict[str, str], dict[str, str]]:
    """Each counted council's tables (by ONS code), the coverage, and the geography's names and regions."""
    dfe = council_rows()
    coverage = Coverage(len(dfe))
    made: dict[str, dict[str, Made]] = {}
    with Session(engine) as session:
        councils = _councils(session, collection_year)
        names_of, _, region_of = geography(session)
    for agency, org in councils:
        if org not in dfe:
            coverage.left_out.append(f"{org} ({agency}): not one of the {len(dfe)} councils DfE's release counts")
        elif org in made:
            coverage.left_out.append(f"{org} ({agency}): {coverage.counted[org]}'s file is counted for this council")
        else:
            try:
                made[org] = make_tables(engine, settings, agency, collection_year, names)
            except Exception:  # one council's file that reads no more leaves the others' rows whole, and is named
                logger.exception("England's SEN2 rows could not read %s's file", agency)
                coverage.left_out.append(f"{org} ({agency}): its SEN2 file could not be read")
                continue
            coverage.counted[org] = agency
    coverage.missing = [
        f"{code} {row['la_name']}: no SEN2 file kept for {collection_year}"
        for code, row in sorted(dfe.items())
        if code not in made and code not in {o for _, o in councils}
    ]
    return made, coverage, names_of, region_of


def ehc_plan_rows(
    engine: Engine,
    settings: Settings,
    collection_year: str,
    names: tuple[str, ...] = TABLES,
    shown: frozenset[str] | None = None,
) -> Rows:
    """DfE's tables ``names`` for the year: England's row, each region's, then the councils' (only those in
    ``shown``, by ONS code, where given), in DfE's layout; NotFound when no council's file is counted."""
    survey_of(collection_year)
    for name in names:
        if name not in TABLES:
            raise NotFound(f"DfE's EHC plan tables are {', '.join(TABLES)}, not {name[:40]!r}")
    made, coverage, names_of, region_of = _made(engine, settings, collection_year, names)
    if not made:
        raise NotFound(f"no council of DfE's {coverage.expected} has a SEN2 file kept for {collection_year}")
    regions = sorted({region_of[org] for org in made if org in region_of})
    coverage.left_out += [
        f"{org}: the service's geography puts it in no region, so it is in England's rows only"
        for org in sorted(made)
        if org not in region_of
    ]
    order = sorted(made, key=lambda org: (region_of.get(org, ""), org))
    survey = survey_of(collection_year)
    tables = {}
    for name in names:
        first = next(iter(made.values()))[name].table
        blocks = [(NATIONAL, added(m[name].rows for m in made.values()))]
        blocks += [
            (
                regional(code, names_of.get(code, code)),
                added(made[o][name].rows for o in order if region_of.get(o) == code),
            )
            for code in regions
        ]
        blocks += [
            ({"geographic_level": "Local authority", **made[o][name].identity}, made[o][name].rows)
            for o in order
            if shown is None or o in shown
        ]
        tables[name] = write(first, survey, blocks)
    return Rows(tables, coverage)
