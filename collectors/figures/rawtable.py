"""An upload as a table of text cells (stage (a) of the upload parse, see ``collectors/figures/read.py``), and what
every format's reader shares: the file-type checks, the header row, tidying cells and writing numbers as text."""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal

import polars as pl

from onereturn.errors import InvalidInput, UnsupportedFile

SourceFormat = Literal["csv", "xlsx", "json"]

#: The column holding each row's number in the file; an upload may not use this name itself.
ROW = "row"
#: Accepted types, as listed in messages refusing a file.
ACCEPTED = "CSV (.csv), Excel workbook (.xlsx) or JSON (.json)"
#: No workbook member may inflate more than this many times (Apache POI's ZipSecureFile uses the same 1:100).
MAX_COMPRESSION_RATIO = 100
#: Members smaller than this skip the ratio rule: they cannot be a bomb on their own (the total-size rule
#: still counts them), and tiny, repetitive XML parts can legitimately compress very well.
RATIO_GRACE_BYTES = 1024 * 1024
#: How far down a sheet the header row (the first row with an "indicator" cell) is looked for.
HEADER_SEARCH_ROWS = 20
#: The column that marks the header row of a sheet with a title above it.
HEADER_MARKER = "indicator"
#: The sheet read when the caller names none and the workbook has it (compared case-insensitively).
DEFAULT_SHEET = "figures"
#: Whole floats below this magnitude are written as integers ("12", not "12.0"); above it they are not exact.
WHOLE_FLOAT_LIMIT = 2.0**53

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
UTF8_BOM = b"\xef\xbb\xbf"
_BINARY_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"Rar!", "a RAR archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)
_SEPARATORS = re.compile(r"[\s\-]+")


@dataclass(frozen=True)
class RawTable:
    """An upload as text cells, one row per data row, with its row number in the file."""

    frame: pl.DataFrame
    source_format: SourceFormat
    sheet: str | None
    encoding: str | None
    delimiter: str | None
    #: Workbook cells holding a formula with no saved result (row, column, formula): their value is unknown.
    unresolved: pl.DataFrame | None = None


def normalise_header(name: str) -> str:
    """Make a column name comparable: strip, lower-case, and turn runs of spaces or hyphens into "_"."""
    return _SEPARATORS.sub("_", name.strip().lower())


#: File name endings an upload may have (the content then decides which format it is read as).
ACCEPTED_SUFFIXES = frozenset({"", ".csv", ".tsv", ".xlsx", ".json"})


def check_file_type(filename: str, data: bytes) -> None:
    """Refuse text named as none of the accepted types unless it is a table (HTTP 415).

    Excel's "Text (Tab delimited) (*.txt)" is a table and is read whatever its name; a .txt of prose,
    whose first line has no comma, semicolon or tab, is not a file of figures.
    """
    suffix = PurePath(filename).suffix.lower()
    first = re.search(rb"\S[^\r\n]*", data[:65536])
    if suffix in ACCEPTED_SUFFIXES or (first is not None and re.search(rb"[,;\t]", first.group())):
        return
    hint = "; save it as CSV UTF-8" if suffix == ".txt" else ""
    raise UnsupportedFile(f'"{filename}" is a {suffix} file that is not a table; expected {ACCEPTED}{hint}')


def sniff_format(data: bytes, filename: str) -> SourceFormat:
    """Tell the format of an upload from its content, using the file name only to break ties."""
    if data.startswith(_ZIP_MAGIC):
        check_workbook_parts(data, filename)
        return "xlsx"
    if data.startswith(_OLE_MAGIC):
        raise UnsupportedFile(
            f'"{filename}" is an Excel 97-2003 workbook (.xls) or a password-protected workbook; '
            "save it as an Excel workbook (.xlsx) without a password, or as CSV UTF-8"
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnsupportedFile(f'"{filename}" is UTF-16 text; save it as CSV UTF-8 (or UTF-8 JSON)')
    for magic, kind in _BINARY_MAGIC:
        if data.startswith(magic):
            raise UnsupportedFile(f'"{filename}" is {kind}; expected {ACCEPTED}')
    head = data[:65536]
    if b"\x00" in head:
        raise UnsupportedFile(f'"{filename}" is a binary file, not text; expected {ACCEPTED}')
    text_start = head.removeprefix(UTF8_BOM).lstrip()[:1]
    if text_start in (b"[", b"{"):
        return "json"
    # Text that does not open like JSON is CSV unless the name says JSON: then the JSON error is the useful one.
    return "json" if PurePath(filename).suffix.lower() == ".json" else "csv"


def open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError) as exc:
        raise UnsupportedFile(f"{what} is damaged: it is not a readable ZIP archive ({exc})") from exc


def check_workbook_parts(data: bytes, filename: str) -> None:
    archive = open_zip(data, f'"{filename}"')
    names = set(archive.namelist())
    macro = "xl/vbaProject.bin" in names
    types = archive.getinfo("[Content_Types].xml") if "[Content_Types].xml" in names else None
    # Read the content types only when small: this runs before the ZIP-bomb check.
    if not macro and types is not None and types.file_size <= RATIO_GRACE_BYTES:
        try:
            macro = b"macroenabled" in archive.read(types).lower()
        except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
            raise UnsupportedFile(
                f'"{filename}" is damaged: its part [Content_Types].xml cannot be read ({exc})'
            ) from exc
    if "xl/workbook.xml" not in names:
        hint = " (.xlsb binary workbooks are not accepted either)" if "xl/workbook.bin" in names else ""
        raise UnsupportedFile(
            f'"{filename}" is a ZIP archive but not an Excel workbook{hint}; expected {ACCEPTED}; '
            "an .xlsx saved from Excel contains xl/workbook.xml"
        )
    if macro:
        raise UnsupportedFile(f'"{filename}": macro-enabled workbooks (.xlsm) are refused; save as .xlsx')


def tidy(frame: pl.DataFrame) -> pl.DataFrame:
    """Strip every text cell and make empty ones null; the "row" column is left alone."""
    # replace() is about twice as fast here as when/then on a million-row upload.
    return frame.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in frame.columns if c != ROW)


def drop_empty_rows(frame: pl.DataFrame) -> pl.DataFrame:
    cells = [c for c in frame.columns if c != ROW]
    if not cells:
        return frame.clear()
    return frame.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in cells))


def apply_header(
    body: pl.DataFrame, header: list[str | None], where: str, filename: str, *, numbering: str
) -> pl.DataFrame:
    """Name the body's positional columns from the header cells; refuse missing, duplicate or reserved names."""
    positional = [c for c in body.columns if c != ROW]
    names = [normalise_header(h) if h else "" for h in header[: len(positional)]]
    unnamed = [i for i, n in enumerate(names) if not n]
    with_values = [i for i in unnamed if body.get_column(positional[i]).is_not_null().any()]
    if with_values:
        raise InvalidInput(
            f'"{filename}" {where}: {numbering} {_ordinals(with_values)} '
            f"{'has' if len(with_values) == 1 else 'have'} values but no name in the header; "
            "give every column with figures a header"
        )
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if name:
            seen.setdefault(name, []).append(i)
    duplicates = {name: at for name, at in seen.items() if len(at) > 1}
    if duplicates:
        listed = "; ".join(f'"{name}" ({numbering}s {_ordinals(at, join=" and ")})' for name, at in duplicates.items())
        raise InvalidInput(
            f'"{filename}" {where}: duplicate column names in the header: {listed}; each column name must appear once'
        )
    if ROW in seen:
        raise InvalidInput(f'"{filename}" {where}: the column name "{ROW}" is reserved; rename that column')
    keep = {positional[i]: names[i] for i in range(len(names)) if names[i]}
    return body.select([pl.col(old).alias(new) for old, new in keep.items()] + [pl.col(ROW)])


def _ordinals(positions: list[int], join: str = ", ") -> str:
    return join.join(str(i + 1) for i in positions)


def format_float(value: float) -> str:
    """Write a float as people expect: whole numbers without ".0", others as their shortest exact form."""
    if value == 0 and math.copysign(1.0, value) < 0:
        return "-0"  # kept as written, so validation can refuse it rather than store it as 0
    if value.is_integer() and abs(value) < WHOLE_FLOAT_LIMIT:
        return str(int(value))
    return repr(value)


def first_non_empty_row(raw: pl.DataFrame) -> int | None:
    cells = [c for c in raw.columns if c != ROW]
    if not cells or raw.height == 0:
        return None
    hits = raw.select(pl.any_horizontal(pl.col(c).is_not_null() for c in cells).arg_true().first()).item()
    return None if hits is None else int(hits)
