"""The text of an SSD table's CSV judged at a sweep before each row is read: whether a value may need stripping, and
whether every row has the heading's fields, each answered by polars or one match where reading row by row in Python
took as long as the extract's checks (``collectors.ssd.intake`` reads the table with these).

Nothing here logs or quotes the text: it holds children's records (``docs/records.md``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import polars as pl

#: In a CSV without quotes: white space (Unicode's, as polars strips) at a value's start or end, or a carriage
#: return not ending a line.
_PADDED = r"(?:^|[,\n])[^\S\r\n]|[^\S\r\n](?:,|\r?\n|$)|\r(?:[^\n]|$)"
#: The same where a space is a text's one white space: a space after a comma or a line feed, or before one.
_SPACED = r"[,\n] | [,\n]"


def each_line(text: str) -> Iterator[str]:
    """The text's lines, each with its line feed, one at a time (as ``io.StringIO`` gives them)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start) + 1 or len(text)
        yield text[start:end]
        start = end


def untidy(text: str) -> bool:
    """Whether some value of the CSV may have white space about it or be a quoted blank: its values are then
    stripped and blanks made null (a blank unquoted value is read as null). Without a quote a value starts at a
    line's start or after a comma and ends before a comma or the line's end, so white space there, or a carriage
    return not ending a line, is all there is to look for (stripping every value took as long as reading them)."""
    if '"' in text:
        return True
    if text.isascii() and not any(c in text for c in "\t\r\x0b\x0c\x1c\x1d\x1e\x1f"):
        # A space the one white space (as in a date's time or a postcode): a space beside a comma or a line feed,
        # literal pairs found at a sweep, where _PADDED's classes read each character.
        return " " in text and (text[0] == " " or text[-1] == " " or has(text, _SPACED))
    return has(text, _PADDED)


def has(text: str, pattern: str) -> bool:
    """Whether ``pattern`` is found in ``text`` (by polars: Python's ``re`` took ten times as long)."""
    return bool(pl.Series((text,), dtype=pl.String).str.contains(pattern).item())


def polars_read(data: bytes) -> tuple[pl.DataFrame | None, pl.exceptions.PolarsError | None]:
    """The CSV as text columns, or why polars could not read it."""
    try:
        return pl.read_csv(data, infer_schema=False), None
    except pl.exceptions.PolarsError as exc:
        return None, exc


def rows_fit(text: str, frame: pl.DataFrame | None, width: int) -> bool:
    """Whether every row surely has the heading's ``width`` fields, without reading each row. Without a quote or a
    lone carriage return each line is a row and its commas part its fields; polars refuses a row of more fields than
    the heading (``frame`` is then None) but for a last line no line feed ends, counted here. polars gives a row of
    fewer fields blanks to the last column, so with none blank there no row has fewer; else when the commas come to
    ``width - 1`` a row read, blank lines among them, none has. Otherwise ``ragged`` reads each row."""
    if frame is None:
        return False
    if '"' in text:
        return quoted_fit(text, frame, width)
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return False
    last = text[text.rfind("\n") + 1 :]
    if last.count(",") > width - 1:
        return False
    # The last column's blanks are counted as it is read: counting every comma took as long as a table's checks.
    if frame.width == width and frame[frame.columns[-1]].null_count() == 0:
        return True
    # polars reads each line but the heading's as a row (a blank line as a blank row), so the rows and the heading
    # stand for the lines without counting them again; were there more rows than lines, the commas would fall short.
    return text.count(",") == (width - 1) * (frame.height + 1)


def quoted_fit(text: str, frame: pl.DataFrame, width: int) -> bool:
    """Whether a CSV with quotes surely has ``width`` fields a row as Python's reader reads it, found in one match: each
    field unquoted without a quote or line end, or quoted whole (a quote in it doubled), and no field near the
    reader's limit on a field's length (reading each row in Python took as long as a table's checks)."""
    if "\x00" in text or frame.width != width:
        return False
    field = r'(?:"(?:[^"]|"")*"|[^",\r\n]*)'
    record = rf"{field}(?:,{field}){{{width - 1}}}"
    if not has(text, rf"^{record}(?:\r?\n{record})*(?:\r?\n)?$"):
        return False
    # A value's bytes are at least its characters; halved, the bound holds however quotes were read.
    longest = frame.select(pl.max_horizontal(pl.col(pl.String).str.len_bytes().max())).item()
    return (longest or 0) <= csv.field_size_limit() // 2


def ragged(text: str, width: int) -> list[int]:
    """The rows (1 is the row under the heading) whose fields are not ``width``, blank lines aside. Without a quote
    or a lone carriage return every line is a row and its commas part its fields, so they are counted in one pass;
    otherwise (a quoted comma or line break) each row is read as CSV."""
    if '"' in text or text.count("\r") != text.count("\r\n"):
        rows = csv.reader(io.StringIO(text))
        next(rows, None)
        return [n for n, row in enumerate(rows, start=1) if row and len(row) != width]
    lines = pl.Series(text.split("\n")[1:], dtype=pl.String).str.strip_suffix("\r")
    fields = lines.str.count_matches(",", literal=True) + 1
    wrong = (lines != "") & (fields != width)
    return [int(n) + 1 for n in wrong.arg_true()]
