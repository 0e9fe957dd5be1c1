"""A council's school census as COLLECT exports it, read and checked: one ZIP of blade CSVs or several CSVs, one a
module, each table known by its heading (its ``<module>tableid`` column) and checked against its year's and term's
schema (``collectors.census.schema``), into the one set of tables every reader answers
(``collectors.census.records``).

What a council may fix in its own system (a cell its schema refuses, a pupil on roll twice at one school, more
sessions missed than possible, a free meals period ending before it starts) is a refusal: its file, table, row (the
file's line, the heading being line 1), column and rule, never the value, and the cell is read as blank. What makes
a file no census of that year and term (a table of another schema, two councils' schools, a formula, a damaged or
oversized ZIP) refuses the whole upload with :class:`onereturn.errors.InvalidInput`. Names and addresses are never
read: the address blades are passed over and the name columns never leave the file."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from collectors.census import tables
from collectors.census.records import SOURCES, TERMS, CensusRecords, conformed, empty
from collectors.census.schema import Table, module_of, rule, schema_for, schemas_with, typed
from collectors.census.tables import REFUSALS, refused
from collectors.records import inputs
from collectors.records.contract import RecordsError
from onereturn.errors import InvalidInput
from onereturn.listing import clip, name_a_few
from onereturn.settings import get_settings
from onereturn.spreadsheet import neutralise_expr
from onereturn.workspace import private_folder

#: The most a census's files may hold, unpacked: a large county's term is 90-170 MB of blades with its addresses
#: (estimates from the London councils' samples, ``docs/census.md``), so this leaves room and refuses 500 MB.
MAX_BYTES = 256 * 1024 * 1024
#: The columns that name a pupil: never read out of a blade.
NAMES = frozenset({"surname", "forename", "middlenames", "preferredsurname", "formersurname"})
#: Census days DfE gave for 2024-25 (``docs/census.md``), used where the files hold no ``schoolcensus`` blade.
CENSUS_DAYS = {
    (2024, "autumn"): date(2024, 10, 3),
    (2025, "spring"): date(2025, 1, 16),
    (2025, "summer"): date(2025, 5, 15),
}
_WORDS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Refusal:
    """One problem found: where it is (file, table, row, column; a heading's problem is on row 1) and the rule, never
    a value."""

    file: str
    table: str
    row: int | None
    column: str | None
    rule: str


@dataclass(frozen=True)
class CensusRead:
    """A census read: its tables (every pupil, not yet minimised), its refusals as a table (``refused``: file, table,
    row, column, rule) and how many pupils (enrolments, on roll or not) were read."""

    records: CensusRecords
    refused: pl.DataFrame
    pupils_read: int

    @property
    def refusals(self) -> tuple[Refusal, ...]:
        """Each refusal, in the order of ``refused`` (file, row, column)."""
        return tuple(Refusal(*row) for row in self.refused.iter_rows())


@dataclass(frozen=True)
class Blade:
    """One blade read: the file it came in, its module and its cells as the schema reads them, with ``file`` and
    ``row`` beside each row."""

    file: str
    table: Table
    frame: pl.DataFrame


def read_census(
    files: Sequence[tuple[str, Path]],
    *,
    year: int | None = None,
    term: str | None = None,
    source: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> CensusRead:
    """Read and check a census sent as ``files`` (name, path): one ZIP of blades or several CSVs; the year, term and
    ``la``/``acad`` from the arguments or the files' names. InvalidInput when the files are no census of that year."""
    if not files:
        raise InvalidInput("no file was sent: a census is a ZIP of COLLECT's blade CSVs or the CSVs themselves")
    with private_folder(get_settings(), "census-") as workdir:
        sent = list(unpacked(files, workdir, max_bytes))
        year, term, source = census_of(sent, year, term, source)
        schema = schema_for(year, term)
        refusals: list[pl.DataFrame] = []
        blades = [blade for name, path in sent if (blade := _blade(name, path, schema, year, term, refusals))]
    return _assembled(blades, year, term, source, refusals)


def unpacked(files: Sequence[tuple[str, Path]], workdir: Path, max_bytes: int) -> Iterator[tuple[str, Path]]:
    """Each CSV sent, a ZIP's members unpacked by the house's guards (its directory checked before anything inflates,
    and each member as it inflates), all of them together no larger than ``max_bytes``."""
    left = max_bytes
    for number, (name, path) in enumerate(files):
        shown = Path(name).name
        try:
            inputs.check_at_door(path, shown, left)
            if not zipfile.is_zipfile(path):
                left -= path.stat().st_size
                if left < 0:
                    raise inputs.TooLarge(f"the files are over the limit of {max_bytes:,} bytes for a census")
                yield shown, path
                continue
            # The guards name the ZIP by its path: a link under the name it was sent as names it as the council does.
            link = workdir / f"sent-{number}" / shown
            link.parent.mkdir()
            link.symlink_to(path.resolve())
            members = inputs.gather([link], link.parent, max_unpacked=left)
        except RecordsError as exc:
            raise InvalidInput(exc.message) from exc
        for member, target in members:
            left -= target.stat().st_size
            yield f"{shown}: {member}", target


def _hints(name: str) -> tuple[set[int], set[str], set[str]]:
    words = _WORDS.split(name.lower())
    return {int(w) for w in words if re.fullmatch(r"20[0-9]{2}", w)}, set(words) & set(TERMS), set(words) & set(SOURCES)


def _one(what: str, given: object | None, named: dict[str, set[object]]) -> object:
    said = {value for values in named.values() for value in values}
    if given is not None and said - {given}:
        other = [f for f, values in named.items() if values - {given}]
        raise InvalidInput(f"the census's {what} was given as {given}, but {name_a_few(other)} say otherwise")
    if given is None and len(said) > 1:
        raise InvalidInput(f"the files' names give two {what}s ({name_a_few(sorted(map(str, said)))}): one at a time")
    if given is None and not said:
        raise InvalidInput(f"the census's {what} is in no file's name: name the files as COLLECT does, or give it")
    return given if given is not None else said.pop()


def census_of(
    sent: list[tuple[str, Path]], year: int | None, term: str | None, source: str | None
) -> tuple[int, str, str]:
    """The census's year, term and source, from the arguments or the files' names (a ZIP member's and its ZIP's)."""
    hints = {name: _hints(name) for name, _ in sent}
    chosen = [
        _one(what, given, {n: set(h[at]) for n, h in hints.items()})
        for at, (what, given) in enumerate((("year", year), ("term", term), ("source (la or acad)", source)))
    ]
    if chosen[1] not in TERMS or chosen[2] not in SOURCES:
        raise InvalidInput(f"a census's term is one of {', '.join(TERMS)} and its source la or acad")
    return int(str(chosen[0])), str(chosen[1]), str(chosen[2])


def heading_of(name: str, path: Path) -> list[str]:
    """A CSV's heading; InvalidInput for a file that is not a CSV or is empty."""
    if path.suffix.lower() != ".csv" and not name.lower().endswith(".csv"):
        raise InvalidInput(f"{clip(name)}: a census's blades are CSV files")
    try:
        return pl.read_csv(path, n_rows=0, infer_schema=False, encoding="utf8-lossy").columns
    except pl.exceptions.NoDataError as exc:
        raise InvalidInput(f"{clip(name)} is empty") from exc
    except pl.exceptions.PolarsError as exc:
        raise InvalidInput(f"{clip(name)} cannot be read as a CSV file") from exc


def read_text(name: str, path: Path, columns: list[str]) -> pl.DataFrame:
    """The file's ``columns`` read whole as text, each row's number beside it (the heading is row 1); InvalidInput,
    quoting nothing of the file, when a row has more cells than the heading or the file is not one CSV table."""
    try:
        text = pl.read_csv(path, columns=columns, infer_schema=False, encoding="utf8-lossy", empty_string_is_null=True)
    except pl.exceptions.PolarsError as exc:
        raise InvalidInput(
            f"{clip(name)} cannot be read as a CSV table: a row has more cells than its heading, or its bytes are not "
            "one table's; export it again"
        ) from exc
    return text.with_row_index("row", offset=2)


def _module(name: str, heading: list[str], schema: dict[str, Table], year: int, term: str) -> Table | None:
    """The schema's table for a blade's heading; None for an address blade (never read); InvalidInput for a heading
    that is no blade, or a table of another year's or term's schema."""
    module = module_of(heading)
    if module is None:
        raise InvalidInput(f"{clip(name)} is no blade of the school census: its heading has no <module>tableid column")
    if module.startswith("addresses"):
        return None
    exact = schemas_with(module, heading)[::-1]
    if module not in schema or (exact and f"{year} {term}" not in exact):
        found = f"the {name_a_few(exact)} schema's" if exact else "no"
        raise InvalidInput(
            f"{clip(name)} holds the {module} table of {found} census, not the {year} {term} census's: send the "
            "blades of one census, named by its year and term"
        )
    table = schema[module]
    missing = [c for c, column in table.columns.items() if not column.blank and c not in heading]
    if missing:
        raise InvalidInput(f"{clip(name)}: the {module} table has no {name_a_few(missing)} column, which it needs")
    return table


def _blade(
    name: str, path: Path, schema: dict[str, Table], year: int, term: str, refusals: list[pl.DataFrame]
) -> Blade | None:
    """One blade read as text, every column the schema has but the names, and checked; None for an address blade."""
    heading = heading_of(name, path)
    table = _module(name, heading, schema, year, term)
    if table is None:
        return None
    read = [c for c in heading if c in table.columns and c not in NAMES and table.columns[c].kind != "postcode"]
    text = read_text(name, path, read)
    no_formulas(name, text, read)
    off = [c for c in heading if c not in table.columns] + [c for c in table.columns if c not in heading]
    refusals.append(_columns_refused(name, table, off, heading))
    # A column the file lacks is read as blank, typed as the schema types it.
    missing = [c for c in table.columns if c not in heading and c not in NAMES]
    frame, refused = checked(name, table, text.with_columns(pl.lit(None, pl.String).alias(c) for c in missing))
    refusals.append(refused)
    return Blade(name, table, frame)


def no_formulas(name: str, text: pl.DataFrame, columns: list[str]) -> None:
    """InvalidInput naming the first cell (row and column) a spreadsheet would run as a formula."""
    starts = text.filter(pl.any_horizontal(pl.col(c).str.contains(r"^[=+\-@\t\r]") for c in columns))
    for column in columns:
        hit = starts.filter(neutralise_expr(pl.col(column)) != pl.col(column))
        if hit.height:
            raise InvalidInput(
                f"{clip(name)}: row {hit['row'][0]}, column {column} starts as a spreadsheet formula would; a "
                "census's files hold no formulas: export them again from COLLECT"
            )


def _columns_refused(name: str, table: Table, off: list[str], heading: list[str]) -> pl.DataFrame:
    said = {
        c: "not a column of this year's schema: not read" if c in heading else "missing: read as blank" for c in off
    }
    kept = [c for c in off if c not in NAMES]
    frame = pl.DataFrame({"file": name, "table": table.name, "row": [1] * len(kept), "column": kept})
    return frame.with_columns(pl.col("column").replace_strict(said, return_dtype=pl.String).alias("rule"))


def checked(name: str, table: Table, text: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The blade's cells as the schema reads them, and a refusal for each cell it cannot (blank where it must not be,
    or not of its kind); a refused cell is read as blank."""
    columns = [table.columns[c] for c in text.columns if c in table.columns]
    where = (pl.lit(name).alias("file"), pl.lit(table.name).alias("table"))
    frame = text.select(*where, "row", *(typed(c).alias(c.name) for c in columns))
    found: list[pl.DataFrame] = []
    for column in columns:
        was = text.get_column(column.name).is_not_null()
        unread = was & frame.get_column(column.name).is_null()
        checks = [(unread, rule(column))] + ([] if column.blank else [(~was, "blank, where the schema needs it")])
        found.extend(refused(frame.filter(bad), column.name, said) for bad, said in checks if bad.any())
    return frame, pl.concat(found) if found else pl.DataFrame(schema=REFUSALS)


def _assembled(blades: list[Blade], year: int, term: str, source: str, refusals: list[pl.DataFrame]) -> CensusRead:
    by_module: dict[str, pl.DataFrame] = {}
    for blade in blades:
        have = by_module.get(blade.table.name)
        by_module[blade.table.name] = (
            blade.frame if have is None else pl.concat([have, blade.frame], how="diagonal_relaxed")
        )
    return assembled(by_module, year, term, source, refusals)


def assembled(
    by_module: dict[str, pl.DataFrame], year: int, term: str, source: str, refusals: list[pl.DataFrame]
) -> CensusRead:
    """The census's tables made from its modules as the schema reads them, with the checks that join them."""
    schools = tables.schools(by_module)
    tables.one_council(schools)
    pupils = tables.pupils(by_module, schools)
    if pupils.height == 0:
        raise InvalidInput("the files hold no pupil: a census's blades include pupilonroll")
    made = tables.children(by_module, pupils, refusals)
    pupils = tables.with_needs(by_module, pupils, refusals)
    refusals.extend(tables.pupil_refusals(pupils, made))
    records = CensusRecords(
        year=year,
        term=term,
        census_day=tables.census_day(by_module) or known_day(year, term),
        source=source,
        pupils=pupils.select(*tables.PUPIL_COLUMNS),
        schools=tables.schools_of(schools, pupils),
        premium=empty("premium"),
        **made,
    )
    found = pl.concat([r for r in refusals if r.height] or [pl.DataFrame(schema=REFUSALS)])
    return CensusRead(conformed(records), found.sort("file", "row", "column"), pupils.height)


def known_day(year: int, term: str) -> date:
    """DfE's census day for the year and term where the service knows it; InvalidInput where it does not."""
    day = CENSUS_DAYS.get((year, term))
    if day is None:
        raise InvalidInput(
            f"the files hold no schoolcensus blade, whose reference date is the census day, and the service does not "
            f"know the {year} {term} census's day: send the schoolcensus blade with the others"
        )
    return day
