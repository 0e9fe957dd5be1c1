"""The columns of Annex A no return holds, keyed once by the council: one optional file by child id (CSV or XLSX,
from the template), for those columns only, checked against Ofsted's codes and kept encrypted as a record-level
upload is (and purged with them).

The template's headings are "Child Unique ID" then "List N: <heading>" for each column of Lists 3 to 10 that the
records leave blank. A heading the records fill is refused, naming it; a value is refused naming its row and column
and what it must be, never quoting it (the values are a child's). Nothing here is logged.
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import fastexcel
import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors import door
from collectors.door import newest_kept
from collectors.figures.readxlsx import check_xlsx_safety
from collectors.records.kept import content_hash, keep, kept_files
from collectors.records.privacy import checked_keys
from indicators.store.models import RECORDS_KIND
from mappings.annex_a import Column, Layout
from onereturn.errors import InvalidInput
from onereturn.listing import name_a_few
from onereturn.settings import Settings
from onereturn.spreadsheet import SafeWorkbook
from onereturn.workspace import private_folder

#: The mode of the submission that keeps the council's own columns.
COLUMNS_MODE = "annex_a_columns"
#: The way in that takes the council's columns file, as the door reads it and its row in the table of ways in holds
#: it: one purpose, stored as its mode; checked whole as it is received and accepted at once, no worker to hold it;
#: every file is the agency's newest, so none repeats another (no repeat key); no figure stored.
WAY = door.Way("annex_a_columns", RECORDS_KIND, {COLUMNS_MODE: COLUMNS_MODE}, lease=door.Lease.DOOR, reads_first=True)
CHILD = "Child Unique ID"
#: Lists whose rows are children of the returns, so the council's columns join them by child id.
BY_CHILD = (3, 4, 5, 6, 7, 8, 9, 10)
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?: 00:00:00)?")
_DATE_UK = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_MAX_ROWS = 200_000


def council_columns(layout: Layout) -> dict[str, tuple[int, Column]]:
    """Each heading of the council's file ("List N: heading") and the list and column it fills."""
    return {
        f"{item.sheet}: {column.heading}": (item.number, column)
        for item in layout.lists
        if item.number in BY_CHILD
        for column in item.blank
    }


def template(layout: Layout) -> bytes:
    """The template: the headings of the council's columns, and a sheet of the codes each coded column takes."""
    buffer = io.BytesIO()
    book = SafeWorkbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    sheet = book.add_worksheet("Columns")
    headings = [CHILD, *council_columns(layout)]
    sheet.write_row(0, 0, headings, bold)
    sheet.freeze_panes(1, 1)
    codes = book.add_worksheet("Codes")
    codes.write_row(0, 0, ["Column", "Kind", "Allowed codes (Ofsted's)", "Why no return holds it"], bold)
    for row, (heading, (_, column)) in enumerate(council_columns(layout).items(), start=1):
        allowed = "; ".join(dict.fromkeys(layout.codes[column.codes].values())) if column.codes else ""
        kind = {"date": "date (DD/MM/YYYY)", "int": "whole number"}.get(column.kind, "text")
        codes.write_row(row, 0, [heading, kind, allowed, column.why])
    book.close()
    return buffer.getvalue()


def _frame(data: bytes, filename: str, max_bytes: int) -> pl.DataFrame:
    """The file's cells as text, its first row the headings (CSV, or the first sheet of an XLSX)."""
    try:
        if filename.lower().endswith(".xlsx"):
            check_xlsx_safety(data, max_uncompressed_bytes=max_bytes, max_rows=_MAX_ROWS)
            sheet = fastexcel.read_excel(data).load_sheet(0, header_row=0, dtypes="string")
            return sheet.to_polars()
        if filename.lower().endswith(".csv"):
            return pl.read_csv(io.BytesIO(data), infer_schema=False, encoding="utf8-lossy")
    except (fastexcel.FastExcelError, pl.exceptions.PolarsError) as exc:
        raise InvalidInput(f"{filename} cannot be read ({type(exc).__name__}): save it as CSV UTF-8 or XLSX") from exc
    raise InvalidInput(f"{filename}: the columns file is a CSV or an XLSX workbook")


def _as_date(value: str) -> date | None:
    for pattern, order in ((_DATE_ISO, (0, 1, 2)), (_DATE_UK, (2, 1, 0))):
        found = pattern.fullmatch(value)
        if found:
            parts = found.groups()
            try:
                return date(int(parts[order[0]]), int(parts[order[1]]), int(parts[order[2]]))
            except ValueError:
                return None
    return None


def _check_headings(headings: list[str], known: dict[str, tuple[int, Column]], layout: Layout, filename: str) -> None:
    if CHILD not in headings:
        raise InvalidInput(f"{filename}: the first heading must be {CHILD!r}, as in the template")
    filled = {f"{item.sheet}: {heading}" for item in layout.lists for heading in item.filled}
    refused = [h for h in headings if h in filled]
    if refused:
        raise InvalidInput(
            f"{filename}: {name_a_few(refused)} are filled from your CIN census and SSDA903 records; "
            "only the columns no return holds are uploaded (see the template)"
        )
    unknown = [number for number, h in enumerate(headings, start=1) if h != CHILD and h not in known]
    if unknown:
        raise InvalidInput(
            f"{filename}: the heading of column(s) {name_a_few([str(n) for n in unknown])} is not one of the "
            "template's (List N: heading)"
        )
    if len(set(headings)) != len(headings):
        raise InvalidInput(f"{filename}: a heading repeats")


def read_columns(data: bytes, filename: str, layout: Layout, *, max_bytes: int) -> pl.DataFrame:
    """The council's columns, checked: one row per child id, each value of its column's kind or Ofsted's codes."""
    frame = _frame(data, filename, max_bytes)
    headings = [h.strip() for h in frame.columns]
    known = council_columns(layout)
    _check_headings(headings, known, layout, filename)
    frame.columns = headings
    if frame.height > _MAX_ROWS:
        raise InvalidInput(f"{filename} has {frame.height:,} rows; at most {_MAX_ROWS:,}")
    typed: dict[str, list[object]] = {h: [] for h in headings}
    seen: dict[str, int] = {}
    for row_number, row in enumerate(frame.iter_rows(named=True), start=2):
        child = (row[CHILD] or "").strip()
        if not child:
            raise InvalidInput(f"{filename} row {row_number}, column {CHILD!r}: a child id is needed")
        if child in seen:
            raise InvalidInput(f"{filename} row {row_number}: the child id repeats row {seen[child]}; one row a child")
        seen[child] = row_number
        typed[CHILD].append(child)
        for heading in (h for h in headings if h != CHILD):
            typed[heading].append(_value(row[heading], known[heading][1], layout, filename, row_number, heading))
    return pl.DataFrame([pl.Series(h, values, strict=False) for h, values in typed.items()])


def _value(raw: str | None, column: Column, layout: Layout, filename: str, row: int, heading: str) -> object:
    """One cell as its column's kind; a value that is not is refused by row and column, never quoted."""
    text = (raw or "").strip()
    if not text:
        return None
    where = f"{filename} row {row}, column {heading!r}"
    if column.kind == "date":
        day = _as_date(text)
        if day is None:
            raise InvalidInput(f"{where}: not a date (DD/MM/YYYY)")
        return day
    if column.kind == "int":
        if not re.fullmatch(r"-?\d+", text):
            raise InvalidInput(f"{where}: not a whole number")
        return int(text)
    if column.codes is not None and text not in layout.codes[column.codes].values():
        allowed = ", ".join(dict.fromkeys(layout.codes[column.codes].values()))
        raise InvalidInput(f"{where}: not one of Ofsted's codes ({allowed})")
    return text


def receive_columns(
    engine: Engine, settings: Settings, agency_code: str, layout: Layout, filename: str, data: bytes, submitted_by: str
) -> tuple[int, pl.DataFrame]:
    """Check the council's columns and keep the file encrypted as the agency's newest; nothing is kept if refused."""
    name = Path(filename).name or "columns"

    def read() -> door.Found[pl.DataFrame]:
        frame = read_columns(data, filename, layout, max_bytes=settings.max_upload_bytes)
        counts = {
            "rows_read": frame.height,
            "rows_accepted": frame.height,
            "message": f"the council's own Annex A columns: {frame.height:,} children, {frame.width - 1} columns",
        }
        return door.Found(frame, columns=counts)

    with private_folder(settings, "annexa-columns-") as work:
        spooled = Path(work) / name
        spooled.write_bytes(data)
        named = [(name, spooled)]
        digest = content_hash(named)
        file = door.File(
            name[:255],
            "annex_a",
            len(data),
            digest,
            keep=lambda: keep(engine, settings, checked_keys(engine, settings), digest, named),
        )
        # Finished at the door: accepted as it is recorded.
        entry = door.Entry(
            WAY.name,
            WAY.mode_of(COLUMNS_MODE),
            agency_code,
            file,
            submitted_by,
            status="accepted",
            columns={"stage": "stored"},
        )
        return door.through(engine, settings, entry, read=read, store=lambda made, frame: (door.id_of(made), frame))


def newest_columns(session: Session, settings: Settings, agency_code: str, layout: Layout) -> pl.DataFrame | None:
    """The council's newest columns file still kept, read and checked again; None when it has sent none."""
    found = newest_kept(session, agency_code, COLUMNS_MODE)
    if found is None:
        return None
    with private_folder(settings, "annexa-columns-") as work:
        ((name, path),) = kept_files(session.get_bind(), settings, found, Path(work))
        data = path.read_bytes()
    return read_columns(data, name, layout, max_bytes=settings.max_upload_bytes)


def fill_council(lists: dict[int, pl.DataFrame], layout: Layout, council: pl.DataFrame | None) -> list[str]:
    """Fill each list's blank columns from the council's file, by child id (the list's first column); return the
    headings filled so."""
    if council is None:
        return []
    filled = []
    for heading, (number, column) in council_columns(layout).items():
        if heading not in council.columns or number not in lists:
            continue
        item = layout.list(number)
        position = item.columns.index(column)
        frame = lists[number]
        target = f"c{position}"
        values = council.select(pl.col(CHILD).alias("c0"), pl.col(heading).alias("_council"))
        joined = frame.with_row_index("_order").join(values, on="c0", how="left").sort("_order")
        lists[number] = joined.with_columns(pl.col("_council").cast(frame.schema[target]).alias(target)).drop(
            "_council", "_order"
        )
        # Named as filled only where some row has a value: a column blank in every row (no child of the list in the
        # file, or no row at all) is blank, and the front sheet says so.
        if lists[number][target].null_count() < lists[number].height:
            filled.append(heading)
    return filled
