"""A region's pooled child-level tables, built when asked from its consenting councils' newest kept records, each
column as its use case's policy says (``mappings/regions/use_cases.toml``), every child under the region's
cross-council key; nothing built is kept.

A council is in a use case's table only while its consent holds the use case: the consent is read as the table is
built, so a withdrawal takes its children out of every table built after it. Each row carries the council's GSS code
(``council``), the collection year of the upload it was read from and the child's key (``child_key``); no name, UPN,
ULN or council child id leaves the council's file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import TypeVar

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.records.privacy import SealedElsewhere
from collectors.regions import frames
from collectors.regions.childkey import UPN, ChildKeys, label, region_keys
from collectors.regions.degrade import further
from collectors.regions.sources import Held, newest, read_sen2, read_tables
from collectors.sen2.records import Sen2Records
from mappings.regions.consent import consenting, region_agency
from mappings.regions.forms import conform
from mappings.regions.policy import TablePolicy, UseCase, use_case
from onereturn import clock
from onereturn.errors import NotFound
from onereturn.keptfiles import KeptFileMissing
from onereturn.settings import Settings
from onereturn.spreadsheet import neutralise_expr

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: The columns every pooled table begins with.
LEADING = ("council", "collection_year", "child_key")
#: A postcode as the SSDA903 gives it, read to its sector (outward code and the inward code's digit), spaces aside.
_POSTCODE = r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9])[A-Z]{2}$"


@dataclass
class Built:
    """A pooled table built: its use case and policy, its rows, the uploads read, and each consenting council left
    out with why (no upload of the return kept inside the retention)."""

    use_case: UseCase
    table: TablePolicy
    frame: pl.DataFrame
    sources: list[Held] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    #: Each kept column's values blanked for not being of its form (mappings/regions/forms.toml), by column.
    blanked: dict[str, int] = field(default_factory=dict)

    def csv(self) -> bytes:
        """The table as CSV (UTF-8, a heading row, dates as yyyy-mm-dd), no cell a spreadsheet would run."""
        text = [name for name, kind in self.frame.schema.items() if kind == pl.String]
        return self.frame.with_columns(neutralise_expr(pl.col(c)).alias(c) for c in text).write_csv().encode("utf-8")


def table_policy(case_name: str, table_name: str) -> tuple[UseCase, TablePolicy]:
    """The use case and table asked for by name; NotFound naming what is held."""
    case = use_case(case_name)
    table = case.tables.get(table_name)
    if table is None:
        said = f"the {case.name} use case's tables are {', '.join(case.tables)}, not {table_name[:40]!r}"
        raise NotFound(
            said, errors=[{"type": "not_found", "loc": ["path", "table"], "msg": said, "input": table_name[:40]}]
        )
    return case, table


def library_of(table: TablePolicy) -> str:
    """The return a table's rows come from: ``903``, ``cin`` or ``sen2``."""
    return table.source.split(":", 1)[0]


def plan(
    engine: Engine, region: str, case: UseCase, library: str, today: date
) -> tuple[list[tuple[str, str, Held | None]], list[str]]:
    """For each consenting council (by GSS code), the upload its rows come from, or None; with why each is left out."""
    with Session(engine) as session:
        region_agency(session, region)
        councils = consenting(session, region, case.name)
        found = [
            (council, gss, newest(session, council, gss, library, case.retention_years, today))
            for council, gss in sorted(councils.items(), key=lambda item: item[1])
        ]
    left = [
        f"{gss} ({council}) has no {library} upload kept for a year inside {case.name}'s {case.retention_years} years"
        for council, gss, held in found
        if held is None
    ]
    return found, left


class Reads:
    """One build's reads of the councils' files: each upload decrypted and read once, however many of the build's
    tables ask for it, and let go of when the build moves on to the next council (one council's files held at once)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine, self.settings = engine, settings
        self._read: dict[int, object] = {}

    def tables(self, held: Held) -> dict[str, pl.DataFrame]:
        """The upload's SSDA903 or CIN census tables, read at the first ask of this council's turn."""
        if held.submission_id not in self._read:
            self._read[held.submission_id] = read_tables(self.engine, self.settings, held)
        found = self._read[held.submission_id]
        assert isinstance(found, dict)
        return found

    def sen2(self, held: Held) -> Sen2Records:
        """The upload's SEN2 tables, read at the first ask of this council's turn."""
        if held.submission_id not in self._read:
            self._read[held.submission_id] = read_sen2(self.engine, self.settings, held)
        found = self._read[held.submission_id]
        assert isinstance(found, Sen2Records)
        return found

    def let_go(self) -> None:
        """Forget every file read (the build has done with this council)."""
        self._read.clear()


#: A council's part of a table: its rows as the table keeps them, from its upload, read through the build's reads.
PartOf = Callable[[Held, Reads], pl.DataFrame]


@dataclass
class Pending:
    """A table of a build not yet made: the uploads it reads, each council left out, what it makes of a council's
    upload, and what it makes of the councils' parts joined (None: no part)."""

    case: UseCase
    table: TablePolicy
    sources: list[Held]
    left_out: list[str]
    part: PartOf
    finish: Callable[[pl.DataFrame | None], pl.DataFrame]
    blanked: dict[str, int] = field(default_factory=dict)
    parts: list[pl.DataFrame] = field(default_factory=list)
    read: list[Held] = field(default_factory=list)


def pending(
    engine: Engine, settings: Settings, region: str, case_name: str, table_name: str, *, today: date | None = None
) -> Pending:
    """The pooled table ``table_name`` of the use case for the region, ready to be made by :func:`make`."""
    case, table = table_policy(case_name, table_name)
    today = today or clock.now().date()
    found, left = plan(engine, region, case, library_of(table), today)
    sources = [held for _, _, held in found if held is not None]
    keys = region_keys(engine, settings, region) if sources else None
    blanked: dict[str, int] = {}

    def part(held: Held, reads: Reads) -> pl.DataFrame:
        assert keys is not None
        rows = council_rows(reads, keys, held, table, case, today)
        return apply_policy(conform(rows, table, blanked), table)

    def finish(frame: pl.DataFrame | None) -> pl.DataFrame:
        return further(frame if frame is not None else empty(table), table, case.degrade).sort(LEADING, nulls_last=True)

    return Pending(case, table, sources, left, part, finish, blanked)


def make(engine: Engine, settings: Settings, tables: list[Pending]) -> list[Built]:
    """The tables made in one build: council by council, each upload decrypted and read once for every table that
    reads it (not once per table), and let go of before the next council's."""
    reads = Reads(engine, settings)
    for gss in sorted({held.gss for one in tables for held in one.sources}):
        for one in tables:
            for held in (h for h in one.sources if h.gss == gss):
                rows = readable(one.left_out, held, partial(one.part, held, reads))
                if rows is not None:
                    one.parts.append(rows)
                    one.read.append(held)
        reads.let_go()
    return [
        Built(
            one.case,
            one.table,
            one.finish(pl.concat(one.parts, how="vertical_relaxed") if one.parts else None),
            one.read,
            one.left_out,
            one.blanked,
        )
        for one in tables
    ]


def build(
    engine: Engine, settings: Settings, region: str, case_name: str, table_name: str, *, today: date | None = None
) -> Built:
    """The pooled table ``table_name`` of the use case for the region, from its consenting councils' newest records."""
    return make(engine, settings, [pending(engine, settings, region, case_name, table_name, today=today)])[0]


def readable(left: list[str], held: Held, read: Callable[[], T]) -> T | None:
    """What ``read`` reads of the council's file, or None with the council named in ``left`` and why (no path, no upload's id): one council's
    file that cannot be read leaves the others' tables whole."""
    try:
        return read()
    except KeptFileMissing:
        why = "its kept file is missing from the store (purged, or kept on another host's disk)"
    except SealedElsewhere:
        why = "its kept file is sealed under keys this service does not hold"
    except Exception:  # a file that passed once and reads no more: the others still answer
        logger.exception("a region's pooled table could not read %s's upload %s", held.council, held.submission_id)
        why = "its kept file could not be read"
    left.append(f"{held.gss} ({held.council}): its {held.library} upload of {held.collection_year} is left out: {why}")
    return None


def council_rows(
    reads: Reads, keys: ChildKeys, held: Held, table: TablePolicy, case: UseCase, today: date
) -> pl.DataFrame:
    """One council's source rows of the table, in the source's columns, with ``council``, ``collection_year`` and
    ``child_key`` added; the other file a UPN is looked up in is read only inside the use case's retention."""
    if held.library == "sen2":
        persons = frames.sen2_persons(reads.sen2(held))
        labels = [label(held.gss, None, upn, uln) for upn, uln in persons.select("upn", "uln").iter_rows()]
        return _keyed(persons, keys, labels, held)
    tables = reads.tables(held)
    # The child's UPN from either of the council's files (the SSDA903 and the CIN census share its ids), so a child
    # whose UPN one file lacks has the same key in both.
    other = "cin" if held.library == "903" else "903"
    with Session(reads.engine) as session:
        beside = newest(session, held.council, held.gss, other, case.retention_years, today)
    upns = _upns(tables, _beside(reads, beside))
    source = table.source.split(":", 1)[1]
    rows = frames.cin_events(tables) if source == "events" else frames.ssda903(tables, source)
    labels = [label(held.gss, child, upns.get(child or "")) for child in rows["CHILD"].to_list()]
    return _keyed(rows, keys, labels, held)


def _beside(reads: Reads, beside: Held | None) -> dict[str, pl.DataFrame]:
    """The council's other file's tables for its UPNs; one that cannot be read gives none (the ids key the child)."""
    if beside is None:
        return {}
    try:
        return reads.tables(beside)
    except Exception:  # the UPN lookup is a help, not the table: the table's own file is what is pooled
        logger.exception("a region's UPN lookup could not read %s's upload %s", beside.council, beside.submission_id)
        return {}


def _upns(*sets: dict[str, pl.DataFrame]) -> dict[str, str]:
    """Each council child id's well-formed UPN, from whichever of the council's files gives one."""
    found: dict[str, str] = {}
    for tables in sets:
        people = tables.get("Header") if "Header" in tables else tables.get("Children")
        if people is None:
            continue
        for child, upn in people.select("CHILD", "UPN").iter_rows():
            given = (upn or "").strip().upper()
            if child and UPN.fullmatch(given):
                found.setdefault(child, given)
    return found


def _keyed(rows: pl.DataFrame, keys: ChildKeys, labels: list[str | None], held: Held) -> pl.DataFrame:
    """The rows with the council, the year and each child's key (each distinct label's HMAC made once)."""
    made = {text: keys.of(text) for text in set(labels) if text is not None}
    return rows.with_columns(
        pl.lit(held.gss).alias("council"),
        pl.lit(held.collection_year).alias("collection_year"),
        pl.Series("child_key", [made[t] if t is not None else None for t in labels], dtype=pl.String),
    )


def apply_policy(rows: pl.DataFrame, table: TablePolicy, derived: tuple[str, ...] = ()) -> pl.DataFrame:
    """The rows as the table's policy writes them: each source column kept, degraded or dropped, the key in its place,
    then the columns the service ``derived`` from them (the host council); a source column the policy does not name
    refuses the whole table (nothing passes through unsaid)."""
    for name in rows.columns:
        if name not in LEADING and name not in derived:
            table.action(name)
    out: list[pl.Expr] = [pl.col(name) for name in LEADING]
    for column in table.columns:
        if column.action in ("drop", "key"):
            continue
        given = pl.col(column.name) if column.name in rows.columns else pl.lit(None, dtype=pl.String)
        if column.action == "first_of_month":
            given = given.cast(pl.Date).dt.month_start()
        elif column.action == "sector":
            cut = given.cast(pl.String).str.to_uppercase().str.replace_all(r"\s", "")
            given = pl.concat_str(cut.str.extract(_POSTCODE, 1), pl.lit(" "), cut.str.extract(_POSTCODE, 2))
        out.append(given.alias(column.name))
    return rows.select(*out, *derived)


def empty(table: TablePolicy) -> pl.DataFrame:
    """The table with no row: its heading alone (no council consents, or none has an upload to read)."""
    return pl.DataFrame(schema=dict.fromkeys((*LEADING, *table.written), pl.String))
