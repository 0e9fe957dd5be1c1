"""XLSX export in the return's own layout, with its definitions and the lineage of every cell.

Sheets: "Cover" (what the return is, completeness, suppression rule, how to trace a cell), "Data"
(a list, one row per cell, or a grid of orgs by fields), "Definitions" (one row per field) and
"Lineage" (one row per stored figure behind a cell).

Written row by row with XlsxWriter: in memory for a small return, in ``constant_memory`` mode for
a large one (no tables, which that mode cannot write, STYLE.md §4.3; text as inline strings), with
every format created once per workbook in :class:`_Styles`. Text always goes through
``write_string`` so a label such as ``=HYPERLINK(...)`` stays text and never becomes a formula.
XlsxWriter gives every part a fixed zip timestamp, and the created/modified properties come from
``generated_at``, so the same return always gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

from exports._common import fields_by_code, finite
from exports.built import WITHHELD, BuiltReturn, FieldInfo
from exports.disclosure import withheld_lineage
from exports.symbols import key_lines
from onereturn.sheetrows import BulkWorksheet, Column
from onereturn.spreadsheet import SafeWorkbook

#: Status order on the Cover sheet; any other status follows in alphabetical order.
_STATUS_ORDER = ("present", "suppressed", "missing", "not_available", "different_method", "not_derivable")

_LIST_COLUMNS: tuple[tuple[str, int], ...] = (
    ("Field code", 10),
    ("Field label", 50),
    ("Org code", 12),
    ("Org name", 28),
    ("Period", 14),
    ("Reference date", 12),
    ("Breakdown", 18),
    ("Value", 12),
    ("Unit", 14),
    ("Status", 14),
    ("Reason", 40),
    ("Cell id", 30),
)

_DEFINITION_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("code", "Field code", 10),
    ("label", "Field label", 45),
    ("indicator_id", "Indicator id", 30),
    ("indicator_title", "Indicator", 35),
    ("definition", "Definition", 60),
    ("statistic", "Statistic", 12),
    ("unit", "Unit", 14),
    ("decimals", "Decimals", 9),
    ("multiplier", "Multiplier", 10),
    ("method", "Method", 20),
    ("relation", "Relation", 14),
    ("breakdown", "Breakdown", 14),
    ("source", "Sources", 60),
)


TRACE_NOTE = (
    "To trace a cell, find its cell id (field code|org code|breakdown) on the Lineage sheet: its row lists the "
    "submissions and file rows, agencies and files, and the stored figures (with version and weight) it was made "
    "from. The JSON export and /api/exports/{id}/lineage give the same one row per figure. Definitions of every "
    "field are on the Definitions sheet."
)


SYMBOLS_NOTE = (
    "A cell that shows no number shows one of these symbols, the Government Statistical Service's "
    "shorthand; the Reason column (or the JSON export) says why for each cell."
)


class _Styles:
    """Every format of one workbook, created once (XlsxWriter formats belong to a workbook)."""

    def __init__(self, wb: Any, decimals: Sequence[int]) -> None:
        self._wb = wb
        self._flagged: dict[tuple[int | None, str], Any] = {}
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.label = wb.add_format({"bold": True, "valign": "top"})
        self.header = wb.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7", "border": 1}
        )
        self.text = wb.add_format({"valign": "top"})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.integer = wb.add_format({"num_format": "0"})
        self.general_number = wb.add_format({"num_format": "General"})
        self.percent = wb.add_format({"num_format": "0.0%"})
        # Suppressed cells show the rule's symbol; distinct so a reader never takes "*" for a value.
        self.suppressed = wb.add_format(
            {"align": "right", "italic": True, "font_color": "#9C0006", "bg_color": "#FFC7CE"}
        )
        self.missing = wb.add_format({"pattern": 1, "bg_color": "#D9D9D9"})
        self.flagged = wb.add_format({"align": "right", "italic": True, "font_color": "#7F6000", "bg_color": "#FFF2CC"})
        self._numbers = {
            d: wb.add_format({"num_format": "0." + "0" * d if d > 0 else "0"}) for d in sorted(set(decimals))
        }
        #: How each grid cell is shown (:func:`_shown`), by the cell's status, display, value, decimals and flag.
        self.said: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    def number(self, decimals: int | None, flag: str | None = None) -> Any:
        """Return the number format for a cell's decimals, showing its flag (``u``, ``p``) after the number."""
        if flag:
            key = (decimals, flag)
            if key not in self._flagged:
                base = "General" if decimals is None else ("0." + "0" * decimals if decimals > 0 else "0")
                # The flag is part of the number format: the cell stays a number a formula can use.
                self._flagged[key] = self._wb.add_format({"num_format": f'{base}" {flag}"'})
            return self._flagged[key]
        if decimals is None:
            return self.general_number
        return self._numbers.get(decimals, self.general_number)


def _utc_naive(moment: datetime) -> datetime:
    # XlsxWriter prints the datetime with a "Z" without converting it, so hand it UTC.
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def _plain(value: Any, styles: _Styles) -> tuple[Any, Any] | None:
    """A plain value as written: numbers as numbers, everything else as text; None for no cell (a null, or a number
    that is not finite)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower(), styles.text
    if isinstance(value, int):
        return value, styles.integer
    if isinstance(value, float):
        shown = finite(value)
        return None if shown is None else (shown, styles.general_number)
    return str(value), styles.text


def _shown(cell: tuple[Any, ...], styles: _Styles) -> tuple[Any, Any]:
    """A cell's value and style the way its status says it must be shown, from its status, display, value, decimals and
    flag: the text, number or None (a grey blank) ``SafeWorksheet.write_cells`` takes."""
    status, display, value, decimals, flag = cell
    display = display or ""
    if status == "suppressed":
        return display or "c", styles.suppressed
    if status == "missing":
        # A missing figure shows its symbol, so it is never confused with an agency's "x" or a blank.
        return display or "..", styles.missing
    shown = finite(value)
    if shown is not None:
        return shown, styles.number(decimals, flag)
    if display:
        # not_available ("x") and other flagged cells show their symbol, never a number.
        return display, styles.flagged
    return None, styles.missing


def _header(ws: Any, headers: Sequence[tuple[str, int]], styles: _Styles, *, row: int = 0) -> None:
    for col, (name, width) in enumerate(headers):
        ws.write_string(row, col, name, styles.header)
        ws.set_column(col, col, width)


def _cover(wb: Any, built: BuiltReturn, styles: _Styles) -> None:
    ws = wb.add_worksheet("Cover")
    ws.set_column(0, 0, 26)
    ws.set_column(1, 1, 90)
    ws.write_string(0, 0, built.title, styles.title)
    rows: list[tuple[str, str]] = [
        ("Return id", built.return_id),
        ("Recipient", built.recipient),
        ("Period", built.period),
        ("Geography level", built.geography_level),
        ("Layout", built.layout),
        ("Generated at", built.generated_at.isoformat()),
        ("Catalogue version", built.catalogue_version),
        ("Suppression rule", built.suppression),
    ]
    r = 2
    for label, value in rows:
        ws.write_string(r, 0, label, styles.label)
        ws.write_string(r, 1, value, styles.wrap)
        r += 1
    r += 1
    ws.write_string(r, 0, "Completeness", styles.label)
    ws.write_string(r, 1, f"{built.cells.height} cells", styles.text)
    r += 1
    known = [s for s in _STATUS_ORDER if s in built.completeness]
    others = sorted(s for s in built.completeness if s not in _STATUS_ORDER)
    for status in known + others:
        ws.write_string(r, 0, f"  {status}", styles.text)
        ws.write_number(r, 1, built.completeness[status], styles.integer)
        r += 1
    ws.write_string(r, 0, "% complete", styles.label)
    ws.write_number(r, 1, built.complete_share, styles.percent)
    r += 2
    ws.write_string(r, 0, "Symbols", styles.label)
    ws.write_string(r, 1, SYMBOLS_NOTE, styles.wrap)
    r += 1
    for symbol, meaning in key_lines():
        ws.write_string(r, 0, symbol, styles.text)
        ws.write_string(r, 1, meaning, styles.wrap)
        r += 1
    r += 1
    ws.write_string(r, 0, "How to trace a cell", styles.label)
    ws.write_string(r, 1, TRACE_NOTE, styles.wrap)


def _value_cells(cells: pl.DataFrame, styles: _Styles) -> tuple[pl.DataFrame, list[Column]]:
    """The Value column as :func:`_shown` gives each cell, worked out for the whole column: the columns it adds to
    the cells and the cells written from them (the first that has one in each row)."""
    status, display = pl.col("status"), pl.col("display").fill_null("")
    value = pl.col("value")
    # finite(): a null, NaN or infinite value is none, and -0.0 is written as 0.
    number = pl.when(value.is_finite()).then(pl.when(value == 0).then(pl.lit(0.0)).otherwise(value))
    keys = cells.select("decimals", "flag").unique(maintain_order=True)
    number_styles = keys.with_columns(
        pl.Series("number_style", [styles.number(d, f)._get_xf_index() for d, f in keys.iter_rows()], pl.Int64)
    )
    symbol = (
        pl.when(status == "suppressed")
        .then(pl.when(display != "").then(display).otherwise(pl.lit("c")))
        .when(status == "missing")
        .then(pl.when(display != "").then(display).otherwise(pl.lit("..")))
    )
    shown = cells.join(number_styles, on=["decimals", "flag"], how="left", nulls_equal=True, maintain_order="left")
    shown = shown.with_columns(
        symbol.alias("value_symbol"),
        pl.when(status.is_in(["suppressed", "missing"]).not_()).then(number).alias("value_number"),
        pl.when(status.is_in(["suppressed", "missing"]).not_() & number.is_null() & (display != ""))
        .then(display)
        .alias("value_flagged"),
        pl.lit(True).alias("value_blank"),
        pl.when(status == "suppressed")
        .then(pl.lit(styles.suppressed._get_xf_index()))
        .when(status == "missing")
        .then(pl.lit(styles.missing._get_xf_index()))
        .alias("symbol_style"),
    )
    columns = [
        Column("value_symbol", "text", "symbol_style", at=7),
        Column("value_number", "number", "number_style", at=7),
        Column("value_flagged", "text", styles.flagged, at=7),
        # Nothing to show: a grey blank, never a 0.
        Column("value_blank", "blank", styles.missing, at=7),
    ]
    return shown, columns


def _data_list(wb: Any, built: BuiltReturn, styles: _Styles) -> None:
    ws = wb.add_worksheet("Data", worksheet_class=BulkWorksheet)
    _header(ws, _LIST_COLUMNS, styles)
    labels = {code: info.label for code, info in fields_by_code(built).items()}
    texts = ["field_code", "label", "org_code", "org_name", "period", "ref_date", "breakdown"]
    # Every cell's row made at once as the sheet's XML (text neutralised as every text cell is), in the order and
    # with the styles the cells had when written one by one; an absent text is written as empty text.
    cells = built.cells.with_columns(
        pl.col("field_code").replace_strict(labels, default="", return_dtype=pl.String).alias("label")
    )
    shown, value = _value_cells(cells, styles)
    shown = shown.with_columns(pl.col([*texts, "unit", "status", "reason", "cell_id"]).fill_null(""))
    columns = [Column(name, "text", styles.text) for name in texts]
    columns += value + [Column(n, "text", styles.text, at=8 + i) for i, n in enumerate(("unit", "status", "reason"))]
    ws.write_frame(1, shown, [*columns, Column("cell_id", "text", styles.text, at=11)])
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, built.cells.height, len(_LIST_COLUMNS) - 1)


def _grid_header(code: str, label: str, breakdown: str) -> str:
    text = f"{code}: {label}" if label else code
    return f"{text} [{breakdown}]" if breakdown else text


def _data_grid(wb: Any, built: BuiltReturn, styles: _Styles) -> None:
    ws = wb.add_worksheet("Data")
    labels = {code: info.label for code, info in fields_by_code(built).items()}
    texts = [pl.col(c).fill_null("") for c in ("org_code", "org_name", "field_code", "breakdown")]
    cells = built.cells.select(*texts, "status", "display", "value", "decimals", "flag")
    # Rows and columns in the order the builder emitted their first cell.
    places = cells.select("field_code", "breakdown").unique(maintain_order=True).iter_rows()
    columns = {place: 2 + at for at, place in enumerate(places)}
    _header(ws, (("Org code", 12), ("Org name", 28)), styles)
    for (code, breakdown), col in columns.items():
        ws.write_string(0, col, _grid_header(code, labels.get(code, ""), breakdown), styles.header)
        ws.set_column(col, col, 16)
    ws.set_row(0, 60)
    # Row by row, as a constant-memory sheet must be written: each org's cells brought together in the builder's order
    # (an org's row named as its first cell names it; the last cell of a place wins), one org's held at a time.
    first = pl.col("_at").min().over("org_code")
    rows = cells.with_row_index("_at").sort(first, maintain_order=True).drop("_at").iter_rows()
    placed: dict[int, tuple[Any, ...]] = {}
    row = 0
    org = name = None
    for cell in rows:
        if cell[0] != org:
            if org is not None:
                _grid_row(ws, row, org, name, columns.values(), placed, styles)
            org, name, placed, row = cell[0], cell[1], {}, row + 1
        placed[columns[(cell[2], cell[3])]] = cell[4:]
    if org is not None:
        _grid_row(ws, row, org, name, columns.values(), placed, styles)
    ws.freeze_panes(1, 2)


def _grid_row(
    ws: Any, row: int, org: str, name: Any, places: Any, placed: dict[int, tuple[Any, ...]], styles: _Styles
) -> None:
    """Write one org's row of the grid: its code and name, then each place's cell (a grey blank where it has none)."""
    cells: list[tuple[int, Any, Any]] = [(0, org, styles.text), (1, name, styles.text)]
    # A grid has a place for every org x column; an absent cell is shown as missing, not as 0.
    absent = (None, styles.missing)
    # Most cells show one of a few symbols: each way a cell is shown worked out once (the same for 0.0 and -0.0).
    said = styles.said
    for col in places:
        found = placed.get(col)
        if found is None:
            cells.append((col, *absent))
            continue
        shown = said.get(found)
        if shown is None:
            shown = said[found] = _shown(found, styles)
        cells.append((col, *shown))
    ws.write_cells(row, cells)


def _definitions(wb: Any, fields: list[FieldInfo], styles: _Styles) -> None:
    ws = wb.add_worksheet("Definitions")
    _header(ws, [(title, width) for _, title, width in _DEFINITION_COLUMNS], styles)
    for r, info in enumerate(fields, start=1):
        row = [
            (col, *cell)
            for col, (attr, _, _) in enumerate(_DEFINITION_COLUMNS)
            if (cell := _plain(getattr(info, attr), styles))
        ]
        ws.write_cells(r, row)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(fields), 1), len(_DEFINITION_COLUMNS) - 1)


#: The Lineage sheet: one row per cell (a row per stored figure made it 95% of the workbook's cost).
_LINEAGE_COLUMNS: list[tuple[str, int]] = [
    ("Cell id", 30),
    ("Field code", 10),
    ("Org code", 12),
    ("Figures", 8),
    ("Provenance", 40),
    ("Agencies and files", 36),
    ("Stored figures", 70),
]


def _lineage(wb: Any, built: BuiltReturn, styles: _Styles) -> None:
    ws = wb.add_worksheet("Lineage", worksheet_class=BulkWorksheet)
    _header(ws, _LINEAGE_COLUMNS, styles)
    summary = built.lineage_summary.select(
        pl.col("cell_id"),
        pl.col("field_code").fill_null(""),
        pl.col("org_code").fill_null(""),
        pl.col("figures").cast(pl.Int64),
        "provenance",
        "sources",
        "stored",
    )
    # A withheld cell lists no figure, but its row says why: suppressed, or not yet signed off by its body.
    withheld = built.cells.filter(pl.col("status").is_in(WITHHELD))
    # Worked out once for each status and reason: a return withholds thousands of cells for a few reasons.
    told: dict[tuple[str | None, str], str] = {}
    said = [
        told[key] if key in told else told.setdefault(key, withheld_lineage(*key))
        for key in zip(withheld["status"].to_list(), withheld["reason"].fill_null("").to_list(), strict=True)
    ]
    why = withheld.select(
        "cell_id",
        pl.col("field_code").fill_null(""),
        pl.col("org_code").fill_null(""),
        pl.lit(0, pl.Int64).alias("figures"),
        pl.Series("provenance", said, pl.String),
    )
    rows = pl.concat([summary, why], how="diagonal")
    # Every row made at once as the sheet's XML, as on the Data sheet.
    columns = [Column(name, "text", styles.text) for name in ("cell_id", "field_code", "org_code")]
    columns.append(Column("figures", "number", styles.integer))
    ws.write_frame(
        1, rows, columns + [Column(name, "text", styles.text) for name in ("provenance", "sources", "stored")]
    )
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(rows.height, 1), len(_LINEAGE_COLUMNS) - 1)


#: Cells from which a workbook is written in constant memory (text inline, not in a shared table).
STREAMED_CELLS = 10_000


def write_xlsx(built: BuiltReturn) -> bytes:
    """Write the return as an XLSX workbook: Cover, Data (list or grid), Definitions and Lineage."""
    buffer = io.BytesIO()
    # A large return in constant memory: each row goes to a temporary file once the next begins, so
    # its sheets never sit in memory as a cell table. A small one in memory: its dozen temporary
    # files cost more than the table (12 ms against 5 ms a workbook).
    mode = "constant_memory" if built.cells.height >= STREAMED_CELLS else "in_memory"
    options = {mode: True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    decimals = [d for d in built.cells["decimals"].drop_nulls().unique().to_list() if d >= 0]
    with SafeWorkbook(buffer, options) as wb:
        wb.set_properties(
            {
                "title": built.title,
                "subject": f"{built.return_id} {built.period}",
                "author": "onereturn",
                "comments": f"catalogue version {built.catalogue_version}",
                "created": _utc_naive(built.generated_at),
            }
        )
        styles = _Styles(wb, decimals)
        _cover(wb, built, styles)
        if built.layout == "grid":
            _data_grid(wb, built, styles)
        else:
            _data_list(wb, built, styles)
        _definitions(wb, built.fields, styles)
        _lineage(wb, built, styles)
    return buffer.getvalue()
