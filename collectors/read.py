"""Turn an uploaded file (CSV, XLSX or JSON) into a table of text cells with each row's number in the file.

This is stage (a) of the two-stage upload parse (STYLE §2.1): nothing is typed here, so that the
validation that follows can report every bad cell with its row, column and value. Every cell is
``pl.String``, with surrounding whitespace stripped and empty cells null; rows in which every cell is
empty are dropped, but the others keep the row number they have in the file:

- CSV: the line number (header on line 1, so the first data row is 2). A quoted value spanning
  several lines is accepted; its row is the line on which the record starts.
- XLSX: the spreadsheet row number as Excel shows it, even with blank rows or a title above the header.
- JSON: the 1-based position of the item in the list.

The format is sniffed from the content (magic bytes); the file name only breaks ties.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import re
import zipfile
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal, NoReturn
from xml.etree import ElementTree

import fastexcel
import polars as pl

from onereturn.errors import InvalidInput, PayloadTooLarge, UnsupportedFile

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
_UTF8_BOM = b"\xef\xbb\xbf"
_BINARY_MAGIC = (
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"Rar!", "a RAR archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)
_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# fastexcel writes number cells as text with at most nine decimals (1/3 → "0.333333333", 1e-10 → "0"),
# so a cell that looks like this may need its exact value from a float read of the same column.
_NUMBER_TEXT = r"^-?\d+(\.\d+)?$"
_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"
# Excel keeps a time of day as a fraction of a day, which calamine reads as a time on 1899-12-31.
_TIME_ONLY = r"^1899-12-31 (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$"
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
        _check_workbook_parts(data, filename)
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
    text_start = head.removeprefix(_UTF8_BOM).lstrip()[:1]
    if text_start in (b"[", b"{"):
        return "json"
    # Text that does not open like JSON is CSV unless the name says JSON: then the JSON error is the useful one.
    return "json" if PurePath(filename).suffix.lower() == ".json" else "csv"


#: Most members a workbook may hold, and most sheets.
MAX_ZIP_MEMBERS = 1000
MAX_SHEETS = 64
#: Most columns a sheet may reach (column BL); an upload needs about a dozen.
MAX_COLUMNS = 64
#: A sheet whose last row number is this many times its count of rows (plus a margin) is mostly empty
#: space, which the reader would still fill in row by row.
MAX_SPARSENESS = 10
_INFLATE_CHUNK = 1 << 20
_LOCAL_HEADER = b"PK\x03\x04"
# A cell reference past column BL: three letters, or two from CA on, or BM to BZ.
_WIDE_CELL = re.compile(rb'<c r="(?:[A-Z]{3}|[C-Z][A-Z]|B[M-Z])[0-9]')
_ROW_NUMBER = re.compile(rb'<row r="([0-9]+)"')
_FAR_ROW = re.compile(rb'<row r="([0-9]{7,})"')


@dataclass
class _Inflated:
    """Running totals while a workbook's members are inflated."""

    total: int = 0
    rows: int = 0
    last_row: int = 0


def check_xlsx_safety(data: bytes, *, max_uncompressed_bytes: int, max_rows: int = 2_000_000) -> None:
    """Refuse a workbook by what its members actually inflate to (never the sizes it declares): a ZIP bomb.

    Every member is inflated and counted, stopping as soon as a limit is passed: the total bytes, the
    ratio of one member (100 to 1 past 1 MiB), the number of members and sheets, and, in each sheet,
    its rows, how far they reach and how wide its cells go.
    """
    infos = _open_zip(data, "the workbook").infolist()
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UnsupportedFile(f"The workbook has {len(infos)} parts; the limit is {MAX_ZIP_MEMBERS}")
    sheets = [i for i in infos if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")]
    if len(sheets) > MAX_SHEETS:
        raise UnsupportedFile(
            f"The workbook has {len(sheets)} sheets; the limit is {MAX_SHEETS} (upload only the figures)"
        )
    seen = _Inflated()
    for info in infos:
        sheet = _Inflated() if info in sheets else None
        _inflate_member(data, info, seen, sheet, max_uncompressed_bytes)
        if sheet is not None:
            _check_sheet(info.filename, sheet, max_rows)


def _inflate_member(data: bytes, info: zipfile.ZipInfo, seen: _Inflated, sheet: _Inflated | None, limit: int) -> None:
    start = info.header_offset
    if data[start : start + 4] != _LOCAL_HEADER:
        raise UnsupportedFile(f'The workbook is damaged: the part "{info.filename}" is not where its index says')
    method = int.from_bytes(data[start + 8 : start + 10], "little")
    names = int.from_bytes(data[start + 26 : start + 28], "little") + int.from_bytes(
        data[start + 28 : start + 30], "little"
    )
    offset = start + 30 + names
    if method == zipfile.ZIP_STORED:
        _count(data[offset : offset + info.compress_size], seen, sheet, limit, info.filename, tail=b"")
        return
    if method != zipfile.ZIP_DEFLATED:
        raise UnsupportedFile(
            f'The workbook part "{info.filename}" is compressed in a way Excel does not use ({method})'
        )
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    member = 0
    tail = b""
    position = offset
    while not inflater.eof:
        pending = inflater.unconsumed_tail or data[position : position + _INFLATE_CHUNK]
        if not inflater.unconsumed_tail:
            position += len(pending)
        if not pending:
            break  # the stream ends before its end marker: the reader will say the file is damaged
        try:
            chunk = inflater.decompress(pending, _INFLATE_CHUNK)
        except zlib.error as exc:
            raise UnsupportedFile(f'The workbook part "{info.filename}" is damaged ({exc})') from exc
        member += len(chunk)
        tail = _count(chunk, seen, sheet, limit, info.filename, tail=tail)
        consumed = position - offset - len(inflater.unconsumed_tail) - len(inflater.unused_data)
        if member > RATIO_GRACE_BYTES and member > MAX_COMPRESSION_RATIO * max(consumed, 1):
            raise UnsupportedFile(
                f'The workbook part "{info.filename}" unzips {member / max(consumed, 1):.0f} times larger than it is stored '
                f"({member} bytes inflated when it was stopped); the limit is {MAX_COMPRESSION_RATIO} times, "
                "so it looks like a ZIP bomb"
            )


def _count(chunk: bytes, seen: _Inflated, sheet: _Inflated | None, limit: int, name: str, *, tail: bytes) -> bytes:
    """Add an inflated chunk to the totals; return its end, to find tags split across chunks."""
    seen.total += len(chunk)
    if seen.total > limit:
        raise UnsupportedFile(
            f"The workbook unzips to more than {limit} bytes, the limit (remove unused sheets or formatting, or upload CSV)"
        )
    if sheet is None:
        return b""
    window = tail + chunk
    sheet.rows += window.count(b"<row ") + window.count(b"<row>") - tail.count(b"<row ") - tail.count(b"<row>")
    if _WIDE_CELL.search(window):
        raise UnsupportedFile(
            f'The sheet "{name}" has cells past column BL; an upload needs at most {MAX_COLUMNS} columns'
        )
    # Rows come in order, so the last one in a chunk reaches furthest; a far row out of order has seven digits.
    last = window.rfind(b'<row r="', 0, max(0, len(window) - 16))
    for found in (*_FAR_ROW.finditer(window), *_ROW_NUMBER.finditer(window, max(last, 0))):
        sheet.last_row = max(sheet.last_row, int(found.group(1)))
    return window[-32:]


def _check_sheet(name: str, sheet: _Inflated, max_rows: int) -> None:
    reach = max(sheet.rows, sheet.last_row)
    if reach > max_rows + HEADER_SEARCH_ROWS:
        raise PayloadTooLarge(f'The sheet "{name}" reaches row {reach}; the limit is {max_rows} rows')
    if sheet.last_row > MAX_SPARSENESS * sheet.rows + 1000:
        raise UnsupportedFile(
            f'The sheet "{name}" has {sheet.rows} rows spread down to row {sheet.last_row}; '
            "delete the empty rows between them"
        )


def read_table(
    data: bytes,
    filename: str,
    *,
    sheet: str | None = None,
    max_rows: int = 2_000_000,
    max_uncompressed_bytes: int = 500 * 1024 * 1024,
) -> RawTable:
    """Read an upload into text cells plus the "row" number of each data row."""
    source_format = sniff_format(data, filename)
    if source_format == "csv":
        # Binary files and JSON are told apart by their content (with precise messages); other text by its name.
        check_file_type(filename, data)
    if source_format == "xlsx":
        check_xlsx_safety(data, max_uncompressed_bytes=max_uncompressed_bytes, max_rows=max_rows)
        frame, sheet_read, unresolved = _read_xlsx(data, filename, sheet)
        table = RawTable(frame, "xlsx", sheet_read, None, None, unresolved)
    elif source_format == "csv":
        frame, encoding, delimiter = _read_csv(data, filename)
        table = RawTable(frame, "csv", None, encoding, delimiter)
    else:
        table = RawTable(_read_json(data, filename), "json", None, None, None)
    table = _without_nul(table)
    if table.frame.height == 0:
        raise InvalidInput(f'"{filename}" has no rows of figures; expected a header row and at least one data row')
    if table.frame.height > max_rows:
        raise PayloadTooLarge(f'"{filename}" has {table.frame.height} rows; the limit is {max_rows}')
    return table


# --- shared -------------------------------------------------------------------------------------


def _without_nul(table: RawTable) -> RawTable:
    """Show a NUL character as U+FFFD: PostgreSQL refuses NUL in text, and the cell stays visibly wrong."""
    texts = [c for c, t in table.frame.schema.items() if t == pl.String]
    if (
        not texts
        or not table.frame.select(pl.any_horizontal(pl.col(texts).str.contains("\x00", literal=True).any())).item()
    ):
        return table
    frame = table.frame.with_columns(pl.col(c).str.replace_all("\x00", "\ufffd", literal=True) for c in texts)
    return RawTable(frame, table.source_format, table.sheet, table.encoding, table.delimiter)


def _open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError) as exc:
        raise UnsupportedFile(f"{what} is damaged: it is not a readable ZIP archive ({exc})") from exc


def _check_workbook_parts(data: bytes, filename: str) -> None:
    archive = _open_zip(data, f'"{filename}"')
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


def _tidy(frame: pl.DataFrame) -> pl.DataFrame:
    """Strip every text cell and make empty ones null; the "row" column is left alone."""
    # replace() is about twice as fast here as when/then on a million-row upload.
    return frame.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in frame.columns if c != ROW)


def _drop_empty_rows(frame: pl.DataFrame) -> pl.DataFrame:
    cells = [c for c in frame.columns if c != ROW]
    if not cells:
        return frame.clear()
    return frame.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in cells))


def _apply_header(
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


def _format_float(value: float) -> str:
    """Write a float as people expect: whole numbers without ".0", others as their shortest exact form."""
    if value == 0 and math.copysign(1.0, value) < 0:
        return "-0"  # kept as written, so validation can refuse it rather than store it as 0
    if value.is_integer() and abs(value) < WHOLE_FLOAT_LIMIT:
        return str(int(value))
    return repr(value)


# --- CSV ----------------------------------------------------------------------------------------


def _read_csv(data: bytes, filename: str) -> tuple[pl.DataFrame, str, str]:
    body, encoding = _decode(data, filename)
    delimiter = _sniff_delimiter(body)
    # Blank lines at the top would make polars take a one-field line as the row width; skip them by count.
    leading = re.match(rb"(?:[ \t]*\r?\n)*", body)
    skipped = body[: leading.end() if leading else 0].count(b"\n")
    raw = _read_csv_fast(body, delimiter, skipped)
    if raw is None:
        raw = _read_csv_slow(body, delimiter, filename)
    raw = _tidy(raw)
    header_at = _first_non_empty_row(raw)
    if header_at is None:
        raise InvalidInput(f'"{filename}" is empty; expected a header row and at least one data row')
    header_row = raw.row(header_at)
    header_line = header_row[-1]
    header = list(header_row[:-1])
    body_frame = _drop_empty_rows(raw.slice(header_at + 1))
    body_frame = _refuse_ragged_rows(body_frame, header, filename, delimiter, header_line)
    where = f"header on line {header_line}"
    return _apply_header(body_frame, header, where, filename, numbering="column"), encoding, delimiter


def _decode(data: bytes, filename: str) -> tuple[bytes, str]:
    """Return the text as UTF-8 bytes for polars, and the encoding it came in."""
    if data.startswith(_UTF8_BOM):
        body = data[len(_UTF8_BOM) :]
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f'"{filename}" starts with a UTF-8 byte order mark but byte {exc.start + len(_UTF8_BOM)} '
                "is not valid UTF-8; save it again as CSV UTF-8"
            ) from exc
        return body, "utf-8-sig"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return data, "utf-8"
    try:
        return data.decode("cp1252").encode("utf-8"), "cp1252"
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f'"{filename}" is neither UTF-8 nor Windows-1252 text (byte {exc.start} is 0x{data[exc.start]:02X}); '
            "save it as CSV UTF-8"
        ) from exc


def _sniff_delimiter(body: bytes) -> str:
    """Pick the comma, semicolon or tab that occurs most often outside quotes on the first non-blank line."""
    found = re.search(rb"\S[^\r\n]*", body)
    line = found.group().decode("utf-8") if found else ""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    # max() keeps the first of equal counts, so a tie (or a one-column file) means comma.
    return max(_DELIMITERS, key=lambda d: counts[d])


def _read_csv_fast(body: bytes, delimiter: str, skipped: int) -> pl.DataFrame | None:
    """Read with polars; None when the file needs the careful reader (ragged rows, bad quotes)."""
    lines = body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)
    if lines - skipped <= 0:
        return pl.DataFrame({ROW: pl.Series([], dtype=pl.Int64)})
    try:
        raw = pl.read_csv(
            body,
            has_header=False,
            infer_schema=False,
            separator=delimiter,
            quote_char='"',
            skip_lines=skipped,
            truncate_ragged_lines=False,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None
    if raw.width == 0:
        return None
    first = skipped + 1
    # polars gives a blank line a row of nulls, so with one row per line, row i is on line i + first.
    if raw.height == lines - skipped:
        return raw.with_columns(pl.int_range(first, first + raw.height, dtype=pl.Int64).alias(ROW))
    # Fewer rows than lines: quoted values span lines. Each record then takes one line plus the line breaks
    # inside its values; if that accounts for every line, a record starts where the previous ones end.
    spans = raw.select(
        (1 + pl.sum_horizontal(pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in raw.columns))
        .cast(pl.Int64)
        .alias(ROW)
    ).to_series()
    if spans.sum() != lines - skipped:
        return None
    return raw.with_columns((spans.cum_sum() - spans + first).alias(ROW))


def _read_csv_slow(body: bytes, delimiter: str, filename: str) -> pl.DataFrame:
    """Read with the csv module, which reports the line of each error; used only when polars refuses the file."""
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""), delimiter=delimiter, quotechar='"', strict=True)
    records: list[list[str]] = []
    starts: list[int] = []
    previous_end = 0
    try:
        for record in reader:
            records.append(record)
            starts.append(previous_end + 1)
            previous_end = reader.line_num
    except csv.Error as exc:
        raise InvalidInput(
            f'"{filename}" line {reader.line_num}: {exc}; a value containing a {_DELIMITER_NAMES[delimiter]}, '
            'a double quote or a line break must be wrapped in double quotes, with each quote inside it doubled ("")'
        ) from exc
    width = max((len(r) for r in records), default=0)
    columns = {
        f"column_{i + 1}": pl.Series([r[i] if i < len(r) else None for r in records], dtype=pl.String)
        for i in range(width)
    }
    return pl.DataFrame({**columns, ROW: pl.Series(starts, dtype=pl.Int64)})


def _first_non_empty_row(raw: pl.DataFrame) -> int | None:
    cells = [c for c in raw.columns if c != ROW]
    if not cells or raw.height == 0:
        return None
    hits = raw.select(pl.any_horizontal(pl.col(c).is_not_null() for c in cells).arg_true().first()).item()
    return None if hits is None else int(hits)


def _refuse_ragged_rows(
    body: pl.DataFrame, header: list[str | None], filename: str, delimiter: str, header_line: int
) -> pl.DataFrame:
    """Refuse a row with values past the header's last column, and drop the empty columns there.

    Such values would belong to no column; usually a value holds an unquoted delimiter. A row with fewer
    fields than the header is padded with empty cells, as spreadsheets do, and validation then reports its
    missing values at the right row; extra fields that are empty (a trailing delimiter) are harmless.
    """
    width = max((i + 1 for i, h in enumerate(header) if h is not None), default=0)
    cells = [c for c in body.columns if c != ROW]
    beyond = cells[width:]
    if beyond:
        stray = body.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in beyond))
        if stray.height:
            raise InvalidInput(
                f'"{filename}" line {stray.get_column(ROW)[0]} has values past the last of the {width} column{"s" if width != 1 else ""} '
                f"of the header on line {header_line}; a value containing a {_DELIMITER_NAMES[delimiter]} "
                "must be wrapped in double quotes"
            )
    return body.select([*cells[:width], ROW])


# --- XLSX ---------------------------------------------------------------------------------------


def _read_xlsx(data: bytes, filename: str, wanted: str | None) -> tuple[pl.DataFrame, str, pl.DataFrame]:
    """Read one sheet as text, the way the cells look to the person who typed them.

    A number cell gives its shortest exact form ("12", "12.5", "0.30000000000000004", "1e-10"); a date cell
    ISO "2024-03-31", or "2024-03-31 13:45:00" with a time; a time-only cell "13:45:00"; a boolean
    "true"/"false"; a formula its cached result (blank if the file was saved without one); an error cell
    such as #DIV/0! reads as empty, because calamine gives no text for it. Text cells are kept as typed.
    """
    try:
        reader = fastexcel.read_excel(data)
        name, raw = _choose_sheet(reader, wanted, filename)
        raw = _exact_numbers(reader, name, raw)
    except fastexcel.FastExcelError as exc:
        raise UnsupportedFile(f'"{filename}" could not be read as an Excel workbook: {exc}') from exc
    raw = _tidy(raw).with_columns(
        pl.col(c).str.replace(_MIDNIGHT, "$1").str.replace(_TIME_ONLY, "$1") for c in raw.columns
    )
    # Read with skip_rows=0 and no header, fastexcel keeps leading blank rows, so frame row i is sheet row i + 1.
    raw = raw.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    header_at = _header_row(raw)
    if header_at is None:
        raise InvalidInput(f'Sheet "{name}" of "{filename}" is empty; expected a header row and at least one data row')
    header = list(raw.row(header_at)[1:])
    body = _drop_empty_rows(raw.slice(header_at + 1).select([*raw.columns[1:], ROW]))
    where = f'sheet "{name}", header on row {header_at + 1}'
    names = [normalise_header(h) if h else "" for h in header]
    try:
        unresolved = unresolved_formulas(data, name, header_row=header_at + 1, names=names)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ElementTree.ParseError) as exc:
        # The cells read, but a part of the archive is damaged (a bad checksum): refuse the file, never guess.
        raise UnsupportedFile(f'"{filename}" is damaged: a part of the workbook cannot be read ({exc})') from exc
    return _apply_header(body, header, where, filename, numbering="column"), name, unresolved


def _load_text(reader: fastexcel.ExcelReader, sheet: str) -> tuple[pl.DataFrame, bool]:
    """Load a whole sheet as text, without header, from row 1; also say whether the sheet is visible."""
    loaded = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string")
    return loaded.to_polars(), loaded.visible == "visible"


def _choose_sheet(reader: fastexcel.ExcelReader, wanted: str | None, filename: str) -> tuple[str, pl.DataFrame]:
    """Pick the sheet asked for, else "Figures", else the first with an "indicator" column, else the first."""
    names = reader.sheet_names
    if not names:
        raise UnsupportedFile(f'"{filename}" is damaged or empty: the workbook lists no sheets')
    if wanted is not None:
        matches = [n for n in names if n == wanted] or [n for n in names if n.casefold() == wanted.casefold()]
        if len(matches) != 1:
            listed = ", ".join(f'"{n}"' for n in names)
            raise InvalidInput(f'"{filename}" has no sheet named "{wanted}"; its sheets are {listed}')
        return matches[0], _load_text(reader, matches[0])[0]
    for name in names:
        if name.strip().casefold() == DEFAULT_SHEET:
            return name, _load_text(reader, name)[0]
    first: tuple[str, pl.DataFrame] | None = None
    for name in names:
        frame, visible = _load_text(reader, name)
        # Hidden sheets hold lookup lists (our own templates put dropdown values there), never the figures.
        if not visible:
            continue
        if _marker_row(frame) is not None:
            return name, frame
        first = first or (name, frame)
    if first is None:
        return names[0], _load_text(reader, names[0])[0]
    return first


def _marker_row(frame: pl.DataFrame) -> int | None:
    """Index of the first of the top rows with a cell reading "indicator", if any."""
    for i, row in enumerate(frame.head(HEADER_SEARCH_ROWS).iter_rows()):
        if any(isinstance(v, str) and normalise_header(v) == HEADER_MARKER for v in row):
            return i
    return None


def _header_row(raw: pl.DataFrame) -> int | None:
    marked = _marker_row(raw.drop(ROW))
    return marked if marked is not None else _first_non_empty_row(raw)


def _exact_numbers(reader: fastexcel.ExcelReader, sheet: str, text: pl.DataFrame) -> pl.DataFrame:
    """Replace fastexcel's rounded text of number cells with the shortest exact form of the value.

    fastexcel turns a number cell into text with at most nine decimals, so 1/3 reads "0.333333333" and
    1e-10 reads "0". A second read of the affected columns as floats gives the exact values. A text cell
    such as "007" or "12.50" reads back as the same number from both, so it is left exactly as typed.
    """
    names = [c for c in text.columns if text.get_column(c).str.contains(_NUMBER_TEXT).any()]
    if not names:
        return text
    # By name: integer use_columns count from column A, while the frame starts at the first used column.
    loaded = reader.load_sheet(sheet, header_row=None, skip_rows=0, use_columns=names, dtypes="float")
    numbers = loaded.to_polars()
    if numbers.height != text.height:
        return text
    numbers = numbers.rename(dict(zip(numbers.columns, [f"{n}__float" for n in names], strict=True)))
    joined = pl.concat([text, numbers], how="horizontal")
    fixes = []
    for name in names:
        cell, value = pl.col(name), pl.col(f"{name}__float")
        digits = cell.str.replace_all(r"[^0-9]", "").str.strip_chars("0").str.len_chars()
        lossy = (
            cell.str.contains(_NUMBER_TEXT)
            & value.is_not_null()
            & ((cell.cast(pl.Float64, strict=False) != value) | (digits > 17))
        )
        fixes.append(pl.when(lossy).then(_format_float_expr(value)).otherwise(cell).alias(name))
    return joined.with_columns(fixes).select(text.columns)


def _format_float_expr(value: pl.Expr) -> pl.Expr:
    """The polars form of _format_float: whole numbers without ".0", others as their shortest exact form."""
    whole = (value == value.floor()) & (value.abs() < WHOLE_FLOAT_LIMIT)
    negative_zero = (value == 0) & ((1.0 / value) < 0)
    return (
        pl.when(negative_zero)
        .then(pl.lit("-0"))
        .when(whole)
        .then(value.cast(pl.Int64, strict=False).cast(pl.String))
        .otherwise(value.cast(pl.String))
    )


_FORMULA_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_CELL_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")
_NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_NS_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def _column_index(letters: str) -> int:
    index = 0
    for char in letters:
        index = index * 26 + ord(char) - 64
    return index - 1


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    """Find the ZIP member holding a sheet, through workbook.xml and its relationships."""
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError):
        return None
    rel_id = next((s.get(f"{_NS_REL}id") for s in book.iter(f"{_NS_MAIN}sheet") if s.get("name") == sheet), None)
    target = next((r.get("Target") for r in rels.iter(f"{_NS_PKG_REL}Relationship") if r.get("Id") == rel_id), None)
    if target is None:
        return None
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _recalculates_on_open(archive: zipfile.ZipFile) -> bool:
    """Say whether the workbook asks to be recalculated when opened: then no saved formula result can be trusted."""
    try:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    except (KeyError, ElementTree.ParseError):
        return False
    calc = book.find(f"{_NS_MAIN}calcPr")
    return calc is not None and calc.get("fullCalcOnLoad") in ("1", "true")


def _has_formulas(archive: zipfile.ZipFile, part: str) -> bool:
    tail = b""
    with archive.open(part) as stream:
        while chunk := stream.read(1024 * 1024):
            if _FORMULA_TAG.search(tail + chunk):
                return True
            tail = chunk[-64:]
    return False


def unresolved_formulas(data: bytes, sheet: str, *, header_row: int, names: list[str]) -> pl.DataFrame:
    """List the data cells of a sheet holding a formula whose result was not saved (row, column, formula).

    Such a cell reads as empty, or as the 0 that programs writing formulas without calculating
    them store, so its figure is unknown. A workbook marked to be recalculated on opening has no
    trustworthy saved result at all. Only sheets with a formula are parsed cell by cell.
    """
    schema = {"row": pl.Int64, "column": pl.String, "formula": pl.String}
    archive = _open_zip(data, "the workbook")
    part = _sheet_part(archive, sheet)
    if part is None or part not in archive.namelist() or not _has_formulas(archive, part):
        return pl.DataFrame(schema=schema)
    stale = _recalculates_on_open(archive)
    found: list[tuple[int, int, str]] = []
    first_col: int | None = None
    with archive.open(part) as stream:
        for _, element in ElementTree.iterparse(stream):
            if element.tag != f"{_NS_MAIN}c":
                continue
            match = _CELL_REF.match(element.get("r") or "")
            formula = element.find(f"{_NS_MAIN}f")
            value = element.find(f"{_NS_MAIN}v")
            has_value = (value is not None and (value.text or "") != "") or element.find(f"{_NS_MAIN}is") is not None
            if match:
                col_index = _column_index(match.group(1))
                if has_value:
                    first_col = col_index if first_col is None else min(first_col, col_index)
                if formula is not None and (stale or not has_value) and int(match.group(2)) > header_row:
                    found.append((int(match.group(2)), col_index, "=" + (formula.text or "(shared formula)")))
            element.clear()
    offset = first_col or 0
    rows = [
        (row, names[c - offset] if 0 <= c - offset < len(names) and names[c - offset] else f"column {c + 1}", text)
        for row, c, text in found
    ]
    return pl.DataFrame(rows, schema=schema, orient="row")


# --- JSON ---------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number JSON allows")


def _json_int(text: str) -> int | float:
    # JSON reads -0 as the integer 0; keep its sign so validation can refuse it.
    return -0.0 if text.startswith("-") and not text.strip("-0") else int(text)


#: How deeply a JSON upload may nest brackets; a file of figures needs three ({"figures": [{...}]}).
MAX_JSON_DEPTH = 32
#: JSON items turned into a frame at a time, so an upload never exists as a million Python dicts at once.
JSON_BATCH = 50_000
_BRACKET_STEP = [0] * 256
for _open, _close in (b"[]", b"{}"):
    _BRACKET_STEP[_open], _BRACKET_STEP[_close] = 1, -1
#: Every byte but the brackets (and, for the exact count, the quote), for bytes.translate to delete.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"')
_SURROGATE = re.compile("[\\ud800-\\udfff]")
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def json_depth(data: bytes) -> int:
    """How deeply a JSON text nests brackets (up to one past the limit), found without parsing it, in little memory.

    Counting every bracket is one pass in C; only when that passes the limit are brackets inside strings
    told apart (a note may hold "[[["), with escapes removed first so an escaped quote ends no string.
    """
    rough = max(itertools.accumulate(map(_BRACKET_STEP.__getitem__, data.translate(None, _NOT_BRACKETS))), default=0)
    if rough <= MAX_JSON_DEPTH:
        return rough
    depth = deepest = 0
    inside = False
    for byte in data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE):
        if byte == 34:  # "
            inside = not inside
        elif not inside:
            depth += _BRACKET_STEP[byte]
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    break  # past the limit: no need to read on
    return deepest


class _JsonItems:
    """Walk a JSON upload's list of figures one item at a time (the list itself, or the "figures" key of an object)."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.decoder = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_json_int)

    def _skip(self, pos: int) -> int:
        match = _WHITESPACE.match(self.text, pos)
        return match.end() if match else pos

    def _expect(self, pos: int, what: str) -> int:
        pos = self._skip(pos)
        if not self.text.startswith(what, pos):
            named = {",": "',' delimiter", ":": "':' delimiter"}.get(what, repr(what))
            raise json.JSONDecodeError(f"Expecting {named}", self.text, pos)
        return pos + 1

    def items(self) -> Iterator[object]:
        """Yield each item of the list of figures, checking the whole text is well formed."""
        expected = 'must hold a list of objects, or an object with the key "figures" holding that list'
        pos = self._skip(0)
        if self.text.startswith("[", pos):
            pos = yield from self._list(pos)
        elif self.text.startswith("{", pos):
            pos = yield from self._object(pos, expected)
        else:
            value, pos = self.decoder.raw_decode(self.text, pos)
            raise InvalidInput(f'"{self.filename}" {expected}; found {_json_kind(value)}')
        pos = self._skip(pos)
        if pos != len(self.text):
            raise json.JSONDecodeError("Extra data", self.text, pos)

    def _list(self, pos: int) -> Generator[object, None, int]:
        pos = self._skip(pos + 1)
        if self.text.startswith("]", pos):
            return pos + 1
        while True:
            item, pos = self.decoder.raw_decode(self.text, self._skip(pos))
            yield item
            pos = self._skip(pos)
            if self.text.startswith("]", pos):
                return pos + 1
            pos = self._expect(pos, ",")

    def _object(self, pos: int, expected: str) -> Generator[object, None, int]:
        keys: list[str] = []
        pos = self._skip(pos + 1)
        closed = self.text.startswith("}", pos)
        pos += closed
        while not closed:
            if not self.text.startswith('"', pos):
                raise json.JSONDecodeError("Expecting property name enclosed in double quotes", self.text, pos)
            key, pos = self.decoder.raw_decode(self.text, pos)
            pos = self._skip(self._expect(pos, ":"))
            if key != "figures":
                _, pos = self.decoder.raw_decode(self.text, pos)
            elif "figures" in keys:
                raise InvalidInput(f'"{self.filename}" has the key "figures" twice; give the list of figures once')
            elif self.text.startswith("[", pos):
                pos = yield from self._list(pos)
            else:
                value, pos = self.decoder.raw_decode(self.text, pos)
                raise InvalidInput(f'"{self.filename}" {expected}; found {_json_kind(value)}')
            keys.append(key)
            pos = self._skip(pos)
            closed = self.text.startswith("}", pos)
            pos = pos + 1 if closed else self._skip(self._expect(pos, ","))
        if "figures" not in keys:
            listed = ", ".join(f'"{k}"' for k in keys[:10]) or "none"
            raise InvalidInput(f'"{self.filename}" {expected}; found an object with the keys {listed}')
        return pos


def _read_json(data: bytes, filename: str) -> pl.DataFrame:
    """Read a JSON upload in bounded batches, after checking its nesting depth without parsing it."""
    if json_depth(data) > MAX_JSON_DEPTH:
        raise InvalidInput(
            f'"{filename}" nests brackets deeper than the limit of {MAX_JSON_DEPTH} '
            '(a file of figures needs 3: {"figures": [{...}]})'
        )
    try:
        text = data.removeprefix(_UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f'"{filename}" is not valid JSON: {exc}; expected UTF-8 JSON') from exc
    batches: list[pl.DataFrame] = []
    rows: list[dict[str, str | None]] = []
    columns: dict[str, None] = {}
    number = 0
    try:
        for number, item in enumerate(_JsonItems(text, filename).items(), start=1):
            rows.append(_json_row(item, number, filename))
            columns.update(dict.fromkeys(rows[-1]))
            if len(rows) == JSON_BATCH:
                batches.append(_json_batch(rows, number))
                rows = []
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f'"{filename}" is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}'
        ) from exc
    except ValueError as exc:
        raise InvalidInput(f'"{filename}" is not valid JSON: {exc}; expected UTF-8 JSON') from exc
    except RecursionError as exc:
        # Brackets inside strings can hide nesting from the count above; the parser's own limit still holds.
        raise InvalidInput(f'"{filename}" nests brackets deeper than the limit of {MAX_JSON_DEPTH}') from exc
    if ROW in columns:
        raise InvalidInput(f'"{filename}": the key "{ROW}" is reserved; rename it in every item')
    if rows or not batches:
        batches.append(_json_batch(rows, number))
    # One chunk, as the other readers give: polars 2.1 can panic filtering a frame of many unaligned chunks.
    frame = pl.concat(batches, how="diagonal").select(*columns, ROW).rechunk()
    return _drop_empty_rows(_tidy(frame))


def _json_batch(rows: list[dict[str, str | None]], last: int) -> pl.DataFrame:
    """One batch of items as a frame of text cells, numbered by their position in the list."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    schema = dict.fromkeys(seen, pl.String)
    frame = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
    first = last - len(rows) + 1
    return frame.with_columns(pl.int_range(first, last + 1, dtype=pl.Int64).alias(ROW))


def _json_row(item: object, number: int, filename: str) -> dict[str, str | None]:
    if not isinstance(item, dict):
        raise InvalidInput(f'"{filename}" item {number} is {_json_kind(item)}; expected an object of key: value pairs')
    row: dict[str, str | None] = {}
    for key, value in item.items():
        name = normalise_header(_without_surrogates(key))
        if not name:
            raise InvalidInput(f'"{filename}" item {number} has a key with no name; give every value a key')
        if name in row:
            raise InvalidInput(
                f'"{filename}" item {number}: keys that differ only in case, spaces or hyphens both read as "{name}"; '
                "use each key once"
            )
        row[name] = _json_cell(value, number, key, filename)
    return row


def _without_surrogates(text: str) -> str:
    """Show a lone UTF-16 surrogate (JSON allows "\\ud800" on its own) as U+FFFD: no UTF-8 store can hold it."""
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _json_cell(value: Any, number: int, key: str, filename: str) -> str | None:
    if value is None:
        return value
    if isinstance(value, str):
        return _without_surrogates(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float(value)
    raise InvalidInput(
        f'"{filename}" item {number}, key "{key}": the value is {_json_kind(value)}; '
        "expected a number, a string or null"
    )


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"a {type(value).__name__.replace('str', 'string').replace('float', 'number').replace('int', 'number')}"
