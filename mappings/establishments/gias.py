"""GIAS's all-establishments extract and its links file, read and checked before anything is stored.

The extract (``edubasealldataYYYYMMDD.csv``) is Windows-1252 with every field quoted and about 140 columns, which GIAS
adds to from time to time: its columns are read by name (``gias/SOURCE.md``); a copy saved again by a spreadsheet,
quoted only where needed, is read too. A file is refused whole, each reason said: not GIAS's layout (a column the
service reads missing), no establishment in it, a row cut short (a truncated download), a URN given twice or not a
number, a type code not on GIAS's list (``gias/establishment_types.csv``), a date not GIAS's ``dd-mm-yyyy``, a
publication date still to come or before a change the file holds, or more bytes than the register's limit. Nothing
here touches the store.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import polars as pl

from onereturn.errors import InvalidInput, PayloadTooLarge

FOLDER = Path(__file__).with_name("gias")
#: The extract's columns the service reads, by the name GIAS gives them, and what each is read into.
READ = {
    "URN": "urn",
    "EstablishmentName": "name",
    "LA (code)": "la_code",
    "TypeOfEstablishment (code)": "type_code",
    "EstablishmentTypeGroup (code)": "group_code",
    "EstablishmentStatus (name)": "status",
    "CloseDate": "close_date",
    "PhaseOfEducation (name)": "phase",
    "UKPRN": "ukprn",
}
LINKS = {"URN": "urn", "LinkURN": "link_urn", "LinkType": "link_type", "LinkEstablishedDate": "established"}
#: The column whose newest date bounds (or, with no date in the file's name, gives) the day GIAS published it.
CHANGED = "LastChangedDate"
#: At most this many rows are named in one reason; the count says how many more.
NAMED = 5
_PUBLISHED = re.compile(r"edubasealldata(\d{8})")


class RegisterRefused(InvalidInput):
    """A register or links file that is not GIAS's, or not whole: nothing of it was stored."""

    error_type = "register_refused"


@dataclass(frozen=True)
class Extract:
    """A checked extract: one row per establishment (the columns of ``READ``), its name, date and digest."""

    frame: pl.DataFrame
    file_name: str
    published: date | None
    sha256: str


@cache
def type_codes() -> dict[int, tuple[int, str]]:
    """GIAS's establishment types: each type code's group code and name (``gias/establishment_types.csv``)."""
    out: dict[int, tuple[int, str]] = {}
    with (FOLDER / "establishment_types.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            code = int(row["type-of-establishment-code"])
            out[code] = (int(row["establishment-type-group-code"]), row["type-of-establishment-name"])
    return out


@cache
def gias_header() -> tuple[str, ...]:
    """The extract's 140 column names in GIAS's order (``gias/edubasealldata_columns.csv``)."""
    with (FOLDER / "edubasealldata_columns.csv").open(encoding="ascii", newline="") as f:
        return tuple(next(csv.reader(f)))


def published_on(file_name: str) -> date | None:
    """The date in GIAS's file name (``edubasealldata20250422.csv``: 22 April 2025), or None."""
    found = _PUBLISHED.search(file_name)
    if found is None:
        return None
    try:
        return date(int(found[1][:4]), int(found[1][4:6]), int(found[1][6:]))
    except ValueError:
        return None


def publication_date(file_name: str, newest_change: date | None, what: str, today: date | None = None) -> date | None:
    """The day GIAS published an extract: the date in its name, else its newest ``LastChangedDate``; RegisterRefused
    for a day still to come, or a name dated before a change the file holds (it cannot have been published then)."""
    named = published_on(file_name)
    # GIAS dates its files by England's day, which runs up to an hour ahead of UTC's.
    latest = (today or datetime.now(UTC).date()) + timedelta(days=1)
    for day, said in ((named, "its name dates it"), (newest_change, "its newest LastChangedDate is")):
        if day is not None and day > latest:
            raise RegisterRefused(
                f"{what}: {said} {day.isoformat()}, a day still to come (GIAS dates an extract the day it publishes "
                "it); nothing was stored"
            )
    if named is not None and newest_change is not None and named < newest_change:
        raise RegisterRefused(
            f"{what}: its name dates it {named.isoformat()}, before the newest change it holds (LastChangedDate "
            f"{newest_change.isoformat()}), so it was not published then; nothing was stored"
        )
    return named or newest_change


def _newest_change(frame: pl.DataFrame) -> date | None:
    """The newest ``LastChangedDate`` read as GIAS writes its dates (dd-mm-yyyy); a value not in that form is not
    used (the column is read for the register's date alone)."""
    if "last_changed" not in frame.columns:
        return None
    newest = frame["last_changed"].str.strip_chars().str.to_date("%d-%m-%Y", strict=False).max()
    return newest if isinstance(newest, date) else None


def _text(data: bytes, what: str, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            f"{what} is {len(data):,} bytes, over the register's limit of {max_bytes:,} "
            "(ONERETURN_ESTABLISHMENTS_MAX_BYTES); nothing was stored"
        )
    if not data.strip():
        raise RegisterRefused(f"{what} is empty; nothing was stored")
    # GIAS writes Windows-1252; a copy saved again as UTF-8 (by a spreadsheet, say) is read as UTF-8.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise RegisterRefused(
            f"{what} is neither Windows-1252 (as GIAS writes it) nor UTF-8 text (byte {exc.start:,}); nothing was stored"
        ) from exc


def _header(text: str, what: str, needed: dict[str, str]) -> list[str]:
    first = text.split("\n", 1)[0].rstrip("\r")
    try:
        header = next(csv.reader([first]))
    except (csv.Error, StopIteration) as exc:
        raise RegisterRefused(f"{what}: its first line is not a CSV header; nothing was stored") from exc
    missing = [c for c in needed if c not in header]
    if missing:
        raise RegisterRefused(
            f"{what} is not GIAS's layout: no column {', '.join(repr(c) for c in missing)} in its header "
            f"(GIAS's columns are read by name; extra columns are fine); nothing was stored"
        )
    doubled = sorted({c for c in header if header.count(c) > 1 and c in needed})
    if doubled:
        raise RegisterRefused(f"{what}: column {', '.join(map(repr, doubled))} given twice; nothing was stored")
    return header


def _rows_named(rows: pl.Series) -> str:
    # A row's number is its line in the file: the header is line 1.
    numbers = [str(n + 2) for n in rows.head(NAMED).to_list()]
    more = f" and {rows.len() - NAMED:,} more" if rows.len() > NAMED else ""
    return f"{', '.join(numbers)}{more}"


def _frame(text: str, what: str, header: list[str], needed: dict[str, str]) -> pl.DataFrame:
    last = header[-1]
    wanted = list(dict.fromkeys([*needed, last]))
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False, columns=wanted, quote_char='"')
    except pl.exceptions.PolarsError as exc:
        raise RegisterRefused(
            f"{what} could not be read as GIAS's quoted CSV (a quote left open: the file cut short?); "
            "nothing was stored"
        ) from exc
    if frame.height == 0:
        raise RegisterRefused(f"{what} has a header and no rows; nothing was stored")
    # GIAS quotes every field, so a field it left empty reads as "" and only a field missing altogether (a row cut
    # short, the end of a truncated download) reads as null in the last column. A copy saved again by a spreadsheet
    # quotes only where needed, so its empty fields read as null too: then each row's fields are counted.
    if frame[last].null_count():
        short = _short_records(text, len(header))
        if short.len():
            raise RegisterRefused(
                f"{what}: row(s) {_rows_named(short)} end before column {last!r} (the file cut short?); "
                "nothing was stored"
            )
    return frame.select(pl.col(c).fill_null("").alias(n) for c, n in needed.items())


def _short_records(text: str, columns: int) -> pl.Series:
    """The rows (0 the first after the header) with fewer fields than the header, blank lines not counted."""
    records = (row for row in csv.reader(io.StringIO(text, newline="")) if row)
    next(records, None)
    return pl.Series("row", [n for n, row in enumerate(records) if len(row) < columns], dtype=pl.UInt32)


def _integers(frame: pl.DataFrame, column: str, label: str, what: str, *, required: bool = True) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    value = text.cast(pl.Int64, strict=False)
    bad = frame.with_row_index("row").filter(
        (value.is_null() & (text != "")) | (required & (text == "")) | (value < 0)
    )["row"]
    if bad.len():
        raise RegisterRefused(f"{what}: {label} is not a whole number in row(s) {_rows_named(bad)}; nothing was stored")
    return pl.when(text == "").then(None).otherwise(value)


def _dates(frame: pl.DataFrame, column: str, label: str, what: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars()
    value = text.str.to_date("%d-%m-%Y", strict=False)
    bad = frame.with_row_index("row").filter(value.is_null() & (text != ""))["row"]
    if bad.len():
        raise RegisterRefused(
            f"{what}: {label} is not a date written dd-mm-yyyy, as GIAS writes them, in row(s) {_rows_named(bad)}; "
            "nothing was stored"
        )
    return value


def read_extract(data: bytes, file_name: str, max_bytes: int, today: date | None = None) -> Extract:
    """GIAS's all-establishments extract read and checked; RegisterRefused (or PayloadTooLarge) says why not."""
    what = f"The register {file_name[:120]!r}"
    text = _text(data, what, max_bytes)
    header = _header(text, what, READ)
    raw = _frame(text, what, header, READ | ({CHANGED: "last_changed"} if CHANGED in header else {}))
    published = publication_date(file_name, _newest_change(raw), what, today)
    raw = raw.drop("last_changed", strict=False)
    frame = raw.with_columns(
        urn=_integers(raw, "urn", "URN", what),
        type_code=_integers(raw, "type_code", "TypeOfEstablishment (code)", what),
        group_code=_integers(raw, "group_code", "EstablishmentTypeGroup (code)", what, required=False),
        close_date=_dates(raw, "close_date", "CloseDate", what),
        ukprn=pl.when(pl.col("ukprn").str.strip_chars() == "").then(None).otherwise(pl.col("ukprn").str.strip_chars()),
    )
    twice = frame.with_row_index("row").filter(pl.col("urn").is_duplicated())
    if twice.height:
        urns = sorted(set(twice["urn"].to_list()))
        shown = ", ".join(str(u) for u in urns[:NAMED]) + (
            f" and {len(urns) - NAMED:,} more" if len(urns) > NAMED else ""
        )
        raise RegisterRefused(
            f"{what}: URN {shown} given more than once (rows {_rows_named(twice['row'])}); a URN names one "
            "establishment; nothing was stored"
        )
    known = list(type_codes())
    unknown = frame.with_row_index("row").filter(~pl.col("type_code").is_in(known))
    if unknown.height:
        codes = ", ".join(str(c) for c in sorted(set(unknown["type_code"].to_list())))
        raise RegisterRefused(
            f"{what}: type of establishment code {codes} is not on GIAS's list of {len(known)} types "
            f"(rows {_rows_named(unknown['row'])}); nothing was stored"
        )
    return Extract(frame, file_name, published, hashlib.sha256(data).hexdigest())


def read_links(data: bytes, file_name: str, max_bytes: int) -> pl.DataFrame:
    """GIAS's links file read and checked: one row per link (``urn``, ``link_urn``, ``link_type``, ``established``)."""
    what = f"The links file {file_name[:120]!r}"
    text = _text(data, what, max_bytes)
    header = _header(text, what, LINKS)
    raw = _frame(text, what, header, LINKS)
    frame = raw.with_columns(
        urn=_integers(raw, "urn", "URN", what),
        link_urn=_integers(raw, "link_urn", "LinkURN", what),
        established=_dates(raw, "established", "LinkEstablishedDate", what),
        link_type=pl.col("link_type").str.strip_chars(),
    )
    twice = frame.with_row_index("row").filter(pl.struct("urn", "link_urn", "link_type").is_duplicated())
    if twice.height:
        raise RegisterRefused(
            f"{what}: the same link is given twice in rows {_rows_named(twice['row'])}; nothing was stored"
        )
    return frame
