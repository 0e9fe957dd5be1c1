"""Our own read of a record-level upload before DfE's rules: which return, its rule set, every table whole with
its columns, and the checks that refuse another year's file; the council's child ids as written.

Nothing read here is logged or put in a message: a record's contents are a child's (``docs/records.md``).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from collectors.records.cin_tables import check_cin_xml, read_cin_tables
from collectors.records.contract import Findings, Library, RecordsError, ruleset_for, run_rules
from collectors.records.inputs import gather, which_return
from collectors.records.ssda903_tables import COLUMNS as TABLE_COLUMNS
from collectors.records.ssda903_tables import OPTIONAL_COLUMNS
from collectors.records.ssda903_xml import check_903_xml, read_903_xml
from onereturn.errors import OneReturnError
from onereturn.listing import name_a_few


@dataclass
class Found:
    """What the reading stage tells before the tables are read: the return, its rule set and the files for DfE's rules."""

    library: Library
    ruleset: str
    files: list[tuple[str, Path]]


@dataclass
class Read:
    """What the reading stage found: the return, its rule set, the files for DfE's rules and the tables."""

    library: Library
    ruleset: str
    files: list[tuple[str, Path]]
    tables: dict[str, pl.DataFrame]
    rows: int


def distances_for(episodes: pl.DataFrame, distances: tuple[float | None, ...]) -> pl.DataFrame:
    """Episodes with each placement's distance from home (the file's own, else DfE's from the postcodes),
    and the postcodes dropped: nothing after this reads them."""
    if "PL_DISTANCE" not in episodes.columns and len(distances) == episodes.height:
        episodes = episodes.with_columns(pl.Series("PL_DISTANCE", distances, dtype=pl.Float64))
    # Blanked rather than removed: the table keeps the specification's columns.
    return episodes.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in ("HOME_POST", "PL_POST"))


def read_files(files: list[tuple[str, Path]], workdir: Path, year: str, *, max_unpacked: int) -> Read:
    """Our own read before DfE's rules: which return, its rule set, every table whole with its columns, the year."""
    # The tables are read at once, their XML under the same guard, so it is not scanned twice.
    return read_tables(identify(files, workdir, year, max_unpacked=max_unpacked, guard=False))


def identify(
    files: list[tuple[str, Path]], workdir: Path, year: str, *, max_unpacked: int, guard: bool = True
) -> Found:
    """The first part of our read: the files gathered, none blank, which return they are and its rule set; with
    ``guard``, an XML file the tables' read would refuse as unsafe or malformed refused now."""
    for name, path in files:
        if _blank(path):
            raise RecordsError(f"{name} is empty")
    gathered = gather([path for _, path in files], workdir, max_unpacked=max_unpacked)
    for name, path in gathered:
        if _blank(path):
            raise RecordsError(f"{name} is empty")
    library = which_return(gathered)
    ruleset = ruleset_for(library, year)
    # DfE's library parses the XML with no guard of its own: what our read would refuse as unsafe (a DOCTYPE, an
    # entity, too large or too deep) or malformed is refused before the rules see it, though the tables are read
    # beside them.
    if library == "cin":
        if guard:
            check_cin_xml(gathered[0][1].read_bytes())
    elif all(name.lower().endswith(".xml") for name, _ in gathered):
        if len(gathered) != 1:
            raise RecordsError(f"one SSDA903 XML file is a whole return; {len(gathered)} were given")
        if guard:
            check_903_xml(gathered[0][1].read_bytes())
    return Found(library, ruleset, gathered)


def read_tables(found: Found) -> Read:
    """The rest of our read: every table of the return whole with its columns, refused when one is missing."""
    library, ruleset, gathered = found.library, found.ruleset, found.files
    if library == "cin":
        # The census's own year is checked by DfE's rules for the year asked (rule 100, its reference date).
        tables = read_cin_tables(gathered[0][1].read_bytes())
        if tables["Children"].is_empty():
            raise RecordsError(f"{gathered[0][0]} holds no children")
    elif all(name.lower().endswith(".xml") for name, _ in gathered):
        if len(gathered) != 1:
            raise RecordsError(f"one SSDA903 XML file is a whole return; {len(gathered)} were given")
        tables = read_903_xml(gathered[0][1].read_bytes())
    else:
        tables = _read_903_csvs(gathered)
    if library == "903" and ("Episodes" not in tables or tables["Episodes"].is_empty()):
        raise RecordsError("the SSDA903 Episodes table is missing or has no rows: every figure counts episodes")
    rows = sum(t.height for t in tables.values())
    return Read(library, ruleset, gathered, tables, rows)


def rules_beside_read(found: Found, local_authority: str) -> tuple[Read, Findings] | str:
    """DfE's rules on the files and our read of their tables, at once; or why the upload is refused.

    The rules run in a process of their own, watched from a thread, so the tables (a census's XML takes about a
    second for 10,000 children) are read meanwhile rather than before. Our read's refusal comes first, as when it
    ran first: its message, whatever the rules made of the files; and the rules are stopped then, not waited for
    (a council told at once that a date is not a date, not seconds later).
    """
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="records-rules") as pool:
        checking = pool.submit(
            run_rules, found.library, found.ruleset, found.files, local_authority=local_authority, stop=stop
        )
        try:
            try:
                read = read_tables(found)
            except OneReturnError as exc:
                return exc.message
            try:
                findings = checking.result()
            except RecordsError as exc:
                return exc.message
        finally:
            # Refused, or stopped by an error or a signal: the rules' process ends with this upload's work.
            if not checking.done():
                stop.set()
    return read, findings


def _blank(path: Path) -> bool:
    """Whether a file holds nothing but white space (read a chunk at a time, stopping at the first other byte)."""
    with path.open("rb") as data:
        while chunk := data.read(1024 * 1024):
            if chunk.strip():
                return False
    return True


def _read_903_csvs(files: list[tuple[str, Path]]) -> dict[str, pl.DataFrame]:
    """Each CSV as the 903 table whose columns it has (as DfE's library tells them apart); a stranger is refused."""
    tables: dict[str, pl.DataFrame] = {}
    for name, path in files:
        if not name.lower().endswith(".csv"):
            raise RecordsError(f"{name}: SSDA903 files are CSVs (one a table) or one XML file, not a mix")
        try:
            frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
        except pl.exceptions.PolarsError as exc:
            # The reader's own words may quote a line of the file, a child's; say what to check instead.
            raise RecordsError(
                f"{name} cannot be read as CSV ({type(exc).__name__}): check that every row has the header's "
                "columns and that it is saved as CSV UTF-8"
            ) from exc
        columns = {c.strip().upper() for c in frame.columns}
        frame = frame.rename({c: c.strip().upper() for c in frame.columns})
        table = next(
            (t for t, wanted in TABLE_COLUMNS.items() if columns - set(OPTIONAL_COLUMNS.get(t, ())) == set(wanted)),
            None,
        )
        if table is None:
            closest = max(TABLE_COLUMNS, key=lambda t: len(columns & set(TABLE_COLUMNS[t])))
            lacking = sorted(set(TABLE_COLUMNS[closest]) - columns)
            extra = sorted(columns - set(TABLE_COLUMNS[closest]) - set(OPTIONAL_COLUMNS.get(closest, ())))
            raise RecordsError(
                f"{name} is not one of the SSDA903 tables: nearest is {closest}"
                + (f", which lacks {name_a_few(lacking)}" if lacking else "")
                + (f", and it has {name_a_few(extra)} besides" if extra else "")
            )
        if table in tables:
            raise RecordsError(f"{name} is a second {table} table; each table is one file")
        tables[table] = frame
    return tables


def check_903_year(episodes: pl.DataFrame, year_ending: int, year: str) -> None:
    """Refuse a return whose episodes all end before or start after the collection year: another year's file."""
    dates = episodes.select(
        pl.col("DECOM").cast(pl.String).str.strip_chars().str.to_date("%d/%m/%Y", strict=False).alias("start"),
        pl.col("DEC").cast(pl.String).str.strip_chars().str.to_date("%d/%m/%Y", strict=False).alias("end"),
    )
    first, last = datetime(year_ending - 1, 4, 1).date(), datetime(year_ending, 3, 31).date()
    in_year = dates.filter((pl.col("start") <= last) & (pl.col("end").is_null() | (pl.col("end") >= first)))
    if in_year.is_empty() and dates["start"].drop_nulls().len():
        # Only the year the episodes fall in is said: an episode's own date is a child's.
        after = bool((dates["start"].drop_nulls() > last).all())
        raise RecordsError(
            f"no episode in the files is open in the year {year} (1 April {year_ending - 1} to 31 March {year_ending}); "
            f"every episode {'starts after' if after else 'ends before'} it: is this another year's return?"
        )


def as_written(tables: dict[str, pl.DataFrame]) -> dict[str, str]:
    """Each child id as the council wrote it, by the upper-cased form DfE's SSDA903 library gives it back in."""
    spelled: dict[str, str] = {}
    for table in tables.values():
        if "CHILD" in table.columns:
            for child in table["CHILD"].drop_nulls().unique(maintain_order=True).cast(pl.String).to_list():
                spelled.setdefault(child.strip().upper(), child.strip())
    return spelled
