"""Read an Excel workbook upload into text cells, after checking the archive is safe to open: the sheet and its
header row found, each row numbered as Excel shows it, exact numbers kept, formulas with no saved result listed."""

from __future__ import annotations

import re
import zipfile
import zlib
from dataclasses import dataclass
from xml.etree import ElementTree

import fastexcel
import polars as pl

from collectors.figures.identifiers import first_in_sheet
from collectors.figures.rawtable import (
    DEFAULT_SHEET,
    HEADER_MARKER,
    HEADER_SEARCH_ROWS,
    MAX_COMPRESSION_RATIO,
    RATIO_GRACE_BYTES,
    ROW,
    WHOLE_FLOAT_LIMIT,
    apply_header,
    drop_empty_rows,
    first_non_empty_row,
    normalise_header,
    open_zip,
    tidy,
)
from onereturn.errors import InvalidInput, PayloadTooLarge, UnsupportedFile
from onereturn.listing import error_kind

# fastexcel writes number cells as text with at most nine decimals (1/3 → "0.333333333", 1e-10 → "0"),
# so a cell that looks like this may need its exact value from a float read of the same column.
_NUMBER_TEXT = r"^-?\d+(\.\d+)?$"
_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"
# Excel keeps a time of day as a fraction of a day, which calamine reads as a time on 1899-12-31.
_TIME_ONLY = r"^1899-12-31 (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$"
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
    infos = open_zip(data, "the workbook").infolist()
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


def read_xlsx(data: bytes, filename: str, wanted: str | None) -> tuple[pl.DataFrame, str, pl.DataFrame]:
    """Read one sheet as text, the way the cells look to the person who typed them.

    A number cell gives its shortest exact form ("12", "12.5", "0.30000000000000004", "1e-10"); a date cell
    ISO "2024-03-31", or "2024-03-31 13:45:00" with a time; a time-only cell "13:45:00"; a boolean
    "true"/"false"; a formula its cached result (blank if the file was saved without one); an error cell
    such as #DIV/0! reads as empty, because calamine gives no text for it. Text cells are kept as typed.
    """
    try:
        reader = fastexcel.read_excel(data)
        name, raw = _choose_sheet(reader, wanted, filename)
        _no_child_elsewhere(reader, name, filename)
        raw = _exact_numbers(reader, name, raw)
    except fastexcel.FastExcelError as exc:
        # The reader's own text can quote what it read: the kind of fault is said instead.
        raise UnsupportedFile(f'"{filename}" could not be read as an Excel workbook: {error_kind(exc)}') from exc
    raw = tidy(raw).with_columns(
        pl.col(c).str.replace(_MIDNIGHT, "$1").str.replace(_TIME_ONLY, "$1") for c in raw.columns
    )
    # Read with skip_rows=0 and no header, fastexcel keeps leading blank rows, so frame row i is sheet row i + 1.
    raw = raw.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    header_at = _header_row(raw)
    if header_at is None:
        raise InvalidInput(f'Sheet "{name}" of "{filename}" is empty; expected a header row and at least one data row')
    header = list(raw.row(header_at)[1:])
    body = drop_empty_rows(raw.slice(header_at + 1).select([*raw.columns[1:], ROW]))
    where = f'sheet "{name}", header on row {header_at + 1}'
    names = [normalise_header(h) if h else "" for h in header]
    try:
        unresolved = unresolved_formulas(data, name, header_row=header_at + 1, names=names)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ElementTree.ParseError) as exc:
        # The cells read, but a part of the archive is damaged (a bad checksum): refuse the file, never guess.
        raise UnsupportedFile(
            f'"{filename}" is damaged: a part of the workbook cannot be read (a checksum, its compression or its XML)'
        ) from exc
    return apply_header(body, header, where, filename, numbering="column"), name, unresolved


def _no_child_elsewhere(reader: fastexcel.ExcelReader, read: str, filename: str) -> None:
    """Refuse a workbook whose other sheets (hidden ones too) seem to hold a child's identifier: the whole file would
    be kept, not only the sheet of figures. Named by the sheet's place, row and column, never a value or a name."""
    for place, name in enumerate(reader.sheet_names, start=1):
        if name == read:
            continue
        found = first_in_sheet(_load_text(reader, name)[0])
        if found is not None:
            row, column, kind = found
            raise InvalidInput(
                f'"{filename}" sheet {place} row {row} column {column} seems to hold {kind}; a file of figures '
                "carries no child's identifier: take that sheet out and upload the file again"
            )


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
    return marked if marked is not None else first_non_empty_row(raw)


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
    """The polars form of format_float: whole numbers without ".0", others as their shortest exact form."""
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
    archive = open_zip(data, "the workbook")
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
