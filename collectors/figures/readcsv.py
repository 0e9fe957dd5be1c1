"""Read a CSV upload into text cells: its encoding and delimiter found, each row numbered by the line it starts on."""

from __future__ import annotations

import csv
import io
import re

import polars as pl

from collectors.figures.rawtable import ROW, UTF8_BOM, apply_header, drop_empty_rows, first_non_empty_row, tidy
from onereturn.errors import InvalidInput

_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


def read_csv(data: bytes, filename: str) -> tuple[pl.DataFrame, str, str]:
    body, encoding = _decode(data, filename)
    delimiter = _sniff_delimiter(body)
    # Blank lines at the top would make polars take a one-field line as the row width; skip them by count.
    leading = re.match(rb"(?:[ \t]*\r?\n)*", body)
    skipped = body[: leading.end() if leading else 0].count(b"\n")
    raw = _read_csv_fast(body, delimiter, skipped)
    if raw is None:
        raw = _read_csv_slow(body, delimiter, filename)
    raw = tidy(raw)
    header_at = first_non_empty_row(raw)
    if header_at is None:
        raise InvalidInput(f'"{filename}" is empty; expected a header row and at least one data row')
    header_row = raw.row(header_at)
    header_line = header_row[-1]
    header = list(header_row[:-1])
    body_frame = drop_empty_rows(raw.slice(header_at + 1))
    body_frame = _refuse_ragged_rows(body_frame, header, filename, delimiter, header_line)
    where = f"header on line {header_line}"
    return apply_header(body_frame, header, where, filename, numbering="column"), encoding, delimiter


def _decode(data: bytes, filename: str) -> tuple[bytes, str]:
    """Return the text as UTF-8 bytes for polars, and the encoding it came in."""
    if data.startswith(UTF8_BOM):
        body = data[len(UTF8_BOM) :]
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f'"{filename}" starts with a UTF-8 byte order mark but byte {exc.start + len(UTF8_BOM)} '
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
