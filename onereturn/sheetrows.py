"""A sheet's rows written as XML built column by column with polars, rather than a Python call per cell.

XlsxWriter keeps every cell as a Python object and writes each as XML at ``close``: two Python calls and a
string format per cell, most of the time of a workbook of tens of thousands of cells. A
:class:`BulkWorksheet` takes whole frames instead (:meth:`BulkWorksheet.write_frame`): each column's cells are
made as XML text by polars expressions (the value escaped for XML, neutralised as every text cell is, see
:mod:`onereturn.spreadsheet`; a number as its digits; a cell reference and style index), and the rows are
written into the sheet's data after the cells written the usual way (a header, say). Text goes in line (an
``inlineStr`` cell, as XlsxWriter writes it in its constant-memory mode), escaped as XlsxWriter escapes it:
``& < >`` as entities, a control character as ``_xHHHH_`` (and a literal ``_xHHHH_`` as ``_x005F_xHHHH_``),
leading or trailing white space kept with ``xml:space="preserve"``, and a text over Excel's 32,767 characters cut
there. A number is written with the digits that read back as the same number (XlsxWriter writes 16 significant
digits).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import polars as pl
from xlsxwriter.utility import xl_col_to_name

from onereturn.spreadsheet import SafeWorksheet, neutralise_expr

#: Excel's longest text in a cell (XlsxWriter cuts a longer one there too).
MAX_TEXT = 32_767
#: Control characters Excel cannot hold in XML as they are: written as ``_xHHHH_``.
_CONTROL = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20))]


@dataclass(frozen=True)
class Column:
    """One column of cells from the frame's column ``name``: text, a number, or (``blank``, where ``name`` is true) a
    cell with a style and no value. ``style`` is a Format for every cell, or the name of a frame column holding each
    row's style index (null: none). Columns given the same ``at`` fill one sheet column: the first with a cell wins."""

    name: str
    kind: Literal["text", "number", "blank"]
    style: Any = None
    at: int | None = None


def _escaped(text: pl.Expr, controls: bool, literal: bool) -> pl.Expr:
    """Text as XML element content, escaped as XlsxWriter escapes it (a literal ``_xHHHH_`` in any text, before a
    control character is written as one)."""
    if literal:
        text = text.str.replace_all(r"(_x[0-9a-fA-F]{4}_)", "_x005F$1")
    if controls:
        for char in _CONTROL:
            text = text.str.replace_all(char, f"_x{ord(char):04X}_", literal=True)
        text = text.str.replace_all("\ufffe", "_xFFFE_", literal=True).str.replace_all(
            "\uffff", "_xFFFF_", literal=True
        )
    return (
        text.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


#: What a text column may hold that its cells' XML must deal with (:func:`_needs`): a control character (or a
#: non-character), a start a spreadsheet would run as a formula, more than Excel's longest text, white space at an
#: end, a character XML escapes, and a literal ``_xHHHH_`` (Excel's own escape, which is escaped in turn).
_LOOKS = (
    r"[\x00-\x08\x0b-\x1f\x{fffe}\x{ffff}]",
    r"^[=+\-@\t\r]",
    None,
    r"^\s|\s$",
    r"[&<>]",
    r"_x[0-9a-fA-F]{4}_",
)


def _needs(frame: pl.DataFrame, columns: list[Column]) -> frozenset[tuple[str, int]]:
    """What each text column holds anywhere (its name and the place in ``_LOOKS`` of each thing found): looked for
    once, all together, so a column's cells skip the steps nothing in it needs."""
    texts = sorted({c.name for c in columns if c.kind == "text"})
    pairs = [(name, at) for name in texts for at in range(len(_LOOKS))]
    if not pairs:
        return frozenset()
    found = frame.select(
        _look(pl.col(name).cast(pl.String), at).any().alias(str(i)) for i, (name, at) in enumerate(pairs)
    )
    return frozenset(pair for pair, hit in zip(pairs, found.row(0), strict=True) if hit)


def _look(text: pl.Expr, at: int) -> pl.Expr:
    """Whether each text holds the thing at ``at`` in ``_LOOKS``."""
    look = _LOOKS[at]
    return text.str.len_chars() > MAX_TEXT if look is None else text.str.contains(look)


def _style(style: str | int | None) -> pl.Expr:
    """A cell's style attribute: from a frame column of style indexes (``str``, its name), or one index for all."""
    if isinstance(style, str):
        return pl.format(' s="{}"', pl.col(style)).fill_null("")
    return pl.lit(f' s="{style}"' if style is not None else "")


#: One column's cells as :func:`_cell` makes them: its place, frame column, kind, style (a frame column's name, or an
#: index) and whether its numbers are whole.
_Layout = tuple[int, str, str, str | int | None, bool]


def _cell(layout: _Layout, row: pl.Expr, needs: frozenset[int]) -> pl.Expr:
    """The XML of one column's cells (null where there is no cell); a text column's steps only where ``needs`` (the
    places in ``_LOOKS`` of what the column holds) says a cell of it needs them."""
    position, name, kind, style, integer = layout
    start = [pl.lit(f'<c r="{xl_col_to_name(position)}'), row, pl.lit('"'), _style(style)]
    value = pl.col(name)
    if kind == "blank":
        return pl.when(value).then(pl.concat_str([*start, pl.lit("/>")]))
    if kind == "number":
        number = value.cast(pl.Float64)
        digits = value.cast(pl.Int64).cast(pl.String) if integer else number.cast(pl.String)
        cell = pl.concat_str([*start, pl.lit("><v>"), digits, pl.lit("</v></c>")])
        return pl.when(value.is_not_null() & number.is_finite()).then(cell)
    controls, formula, long, spaced, escaped, literal = (at in needs for at in range(len(_LOOKS)))
    text = value.cast(pl.String)
    if formula:
        text = neutralise_expr(text)
    if long:
        text = text.str.slice(0, MAX_TEXT)
    # Made no longer, neutralised or cut, a text can end in white space only where it did.
    preserve = (
        pl.when(text.str.contains(r"^\s|\s$")).then(pl.lit(' xml:space="preserve"')).otherwise(pl.lit(""))
        if spaced or formula or long
        else pl.lit("")
    )
    shown = _escaped(text, controls, literal) if controls or escaped or literal else text
    inline = [pl.lit(' t="inlineStr"><is><t'), preserve, pl.lit(">"), shown, pl.lit("</t></is></c>")]
    return pl.concat_str([*start, *inline])


@lru_cache(maxsize=256)
def _row_cells(
    layouts: tuple[_Layout, ...], first_row: int, needs: frozenset[tuple[str, int]]
) -> tuple[pl.Expr, pl.Expr]:
    """The row numbers and each row's cells as XML, for rows from ``first_row``: made once for each layout (a
    workbook's sheets are written with the same few, and making the expressions cost more than running them)."""
    row = (pl.int_range(pl.len(), dtype=pl.Int64) + (first_row + 1)).cast(pl.String)
    places: dict[int, list[pl.Expr]] = {}
    for layout in layouts:
        own = frozenset(at for name, at in needs if name == layout[1])
        places.setdefault(layout[0], []).append(_cell(layout, row, own))
    made = [found[0] if len(found) == 1 else pl.coalesce(found) for _, found in sorted(places.items())]
    return row.alias("r"), pl.concat_str(made, ignore_nulls=True).alias("cells")


#: Each row's element from its number and cells.
_ROW = pl.concat_str([pl.lit('<row r="'), pl.col("r"), pl.lit('">'), pl.col("cells"), pl.lit("</row>")]).str.join("")


def rows_xml(frame: pl.DataFrame, columns: list[Column], first_row: int) -> str:
    """The ``<row>`` elements of the frame's rows from ``first_row`` (0-based), each cell of ``columns`` in order."""
    if frame.is_empty() or not columns:
        return ""
    needs = _needs(frame, columns)
    layouts = []
    for i, column in enumerate(columns):
        # A format's style index, taken as the columns are written (an index is given to a format when first used).
        style = column.style if column.style is None or isinstance(column.style, str) else column.style._get_xf_index()
        integer = column.kind == "number" and frame.schema[column.name].is_integer()
        layouts.append((i if column.at is None else column.at, column.name, column.kind, style, integer))
    row, cells = _row_cells(tuple(layouts), first_row, needs)
    made = frame.select(row, cells)
    return str(made.filter(pl.col("cells") != "").select(_ROW).item())


#: Rows made into XML at a time: the text of a large sheet is never held whole (about 1.5 MB at most).
CHUNK_ROWS = 2_000


class BulkWorksheet(SafeWorksheet):
    """A SafeWorksheet that also takes whole frames of rows (:meth:`write_frame`), after its cells written one by one.

    The rows are made into XML ``CHUNK_ROWS`` at a time straight into the sheet's file: when the workbook is closed, or
    at once in constant-memory mode (where cells written one by one after them must be on later rows, as there).
    """

    def __init__(self) -> None:
        super().__init__()
        self._frames: list[tuple[int, pl.DataFrame, list[Column]]] = []
        self._bulk_from: int | None = None
        self._bulk_to = -1

    def write_frame(self, first_row: int, frame: pl.DataFrame, columns: list[Column]) -> None:
        """Write the frame's rows from ``first_row`` (0-based), one column of cells per entry of ``columns``."""
        streamed_to: int = self.previous_row  # type: ignore[has-type]
        if first_row <= self._bulk_to or (self.constant_memory and first_row <= streamed_to):
            raise ValueError(f"rows from {first_row} overlap the rows already written")
        if frame.is_empty() or not columns:
            return
        last = first_row + frame.height - 1
        width = max(i if c.at is None else c.at for i, c in enumerate(columns))
        # The sheet's extent (its <dimension>, an autofilter's check) counts these rows and columns too.
        if self._check_dimensions(last, width) or self._check_dimensions(first_row, 0):
            raise ValueError(f"rows {first_row}-{last} do not fit in a sheet")
        self._bulk_to = last
        if self.constant_memory:
            # Rows already go to the sheet's file as they are written: the row in hand first, then these at once.
            self._write_single_row(first_row)
            self._write_chunks(first_row, frame, columns)
            self.previous_row = last
            return
        self._frames.append((first_row, frame, columns))
        self._bulk_from = first_row if self._bulk_from is None else self._bulk_from

    def _write_chunks(self, first_row: int, frame: pl.DataFrame, columns: list[Column]) -> None:
        for offset in range(0, frame.height, CHUNK_ROWS):
            self.fh.write(rows_xml(frame.slice(offset, CHUNK_ROWS), columns, first_row + offset))

    def _write_sheet_data(self) -> None:
        if self._bulk_from is None:
            super()._write_sheet_data()
            return
        written = [r for r, cells in self.table.items() if cells]
        if written and max(written) >= self._bulk_from:
            raise ValueError(f"a cell was written one by one at row {max(written)}, among the rows written as a frame")
        whole: int = self.dim_rowmax  # type: ignore[has-type]
        self._xml_start_tag("sheetData")
        if written:
            # XlsxWriter's own rows (and their spans) over the cells it holds, not the rows written here.
            self.dim_rowmax = max(written)
            try:
                self._write_rows()
            finally:
                self.dim_rowmax = whole
        for first_row, frame, columns in self._frames:
            self._write_chunks(first_row, frame, columns)
        self._xml_end_tag("sheetData")
