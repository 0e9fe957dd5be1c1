"""Build the workbooks an agency sees: the return template it fills in, and (in ``reportworkbook.py``) the report on
its upload.

Pure functions, data in and bytes out; the service layer fetches the rows and stores the bytes.

* `template_xlsx` lists exactly the figures an agency owes for a period on a "Figures" sheet, one row
  each, with the reference columns locked and grey and the input columns pale yellow, and Excel data
  validation on every input cell so most mistakes are caught while typing. Code lists for dropdowns
  live on a hidden "Lists" sheet behind defined names, because inline lists break past 255 characters
  (STYLE.md §2.6, §4.3).
* `template_csv` is the same sheet as CSV, for agencies whose systems write CSV.
* `report_workbook` gives the agency its own upload back with every problem cell coloured and
  commented, on the same row numbers as its file, plus a "Problems" table.

The template is written with plain write_string on a normal (not constant_memory) workbook: it
needs per-cell formats, validations and sheet protection, which polars' `write_excel` does not
give. Each distinct validation rule becomes one validation over all its rows (runs of consecutive
rows, joined as one multi-range), so a 50,000-row template has a handful of validations, builds in
a few seconds, and stays under Excel's limit of about 60,000 validations per sheet.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from xlsxwriter.utility import xl_col_to_name, xl_range, xl_rowcol_to_cell

from indicators.symbols import NO_FIGURE, STATUSES, SYMBOLS
from onereturn.spreadsheet import SafeWorkbook, neutralise_row

#: Columns of the template's "Figures" sheet, in order. An upload of the filled template is read by these header names
#: (lower-case); indicator, org, period, breakdown, value, numerator, denominator, status, note are the ones the service reads;
#: title, org_name, unit, allowed, last_value are there to help the person filling it in and are ignored on upload.
TEMPLATE_COLUMNS = (
    "indicator",
    "title",
    "org",
    "org_name",
    "period",
    "breakdown",
    "unit",
    "allowed",
    "last_value",
    "value",
    "numerator",
    "denominator",
    "status",
    "note",
)
#: The kinds of statistic a template row can ask for.
STATISTICS = ("count", "percentage", "rate", "mean", "score", "duration", "judgement", "gap")
#: The columns the agency fills in; every other column is reference and locked.
INPUT_COLUMNS = ("value", "numerator", "denominator", "status", "note")

#: The symbols that stand alone in place of a value ("u" only ever follows a value).
NO_FIGURE_ALONE = tuple(NO_FIGURE)
_SYMBOL_TEXT = " ".join(NO_FIGURE_ALONE)
_COL = {name: i for i, name in enumerate(TEMPLATE_COLUMNS)}
#: Columns kept as text so Excel never turns "2024-06" into a date or drops a code's leading zero.
_TEXT_COLUMNS = frozenset({"indicator", "org", "period", "breakdown"})
#: Excel's limits: data validation formulas and messages; rows; columns; cell text.
_MAX_FORMULA = 255
_MAX_MESSAGE = 255
MAX_ROWS = 1_048_576
MAX_COLS = 16_384
#: Comment text limit in characters: half Excel's 32,767 UTF-16 units, so even astral characters fit.
MAX_COMMENT = 16_000
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.]")
K = TypeVar("K", bound=Hashable)
#: Column widths, in characters: wide enough to read, narrow enough to see the input columns.
MIN_WIDTH = 8
MAX_WIDTH = 50
_INPUT_WIDTHS = {"value": 12, "numerator": 12, "denominator": 13, "status": 12, "note": 40}


@dataclass(frozen=True)
class TemplateRow:
    """One figure an agency owes: what it is, for whom and when, and what is allowed in its value."""

    indicator: str
    title: str
    org: str
    org_name: str
    period: str
    breakdown: str
    unit: str
    statistic: str  # one of STATISTICS
    decimals: int
    min_value: float | None  # e.g. 0 for counts and percentages
    max_value: float | None  # e.g. 100 for percentages
    whole: bool  # counts must be whole numbers
    judgement_codelist: str | None  # for judgements: id of a code list in TemplateInfo.codelists
    ratio: bool  # the agency also gives numerator and denominator for this figure
    last_value: str | None  # the last accepted value, as a hint


@dataclass(frozen=True)
class TemplateInfo:
    """Who the template is for, for which period, and the code lists its judgements use."""

    agency_code: str
    agency_name: str
    period: str
    generated_at: datetime
    catalogue_version: str
    codelists: dict[str, list[tuple[str, str]]]  # code list id -> [(code, label)]


# --------------------------------------------------------------------------------------------- allowed values


#: What decides a value cell's validation, input message and number format; rows sharing it share one validation.
ValueRule = tuple[str, str | None, float | None, float | None, bool, int]


def value_rule(row: TemplateRow) -> ValueRule:
    return (row.statistic, row.judgement_codelist, row.min_value, row.max_value, row.whole, row.decimals)


def _num(x: float) -> str:
    """Write a bound the way a person (and an Excel formula) reads it: 100, not 100.0."""
    if not math.isfinite(x):
        raise ValueError(f"Bound {x!r} is not a finite number")
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _check_row(row: TemplateRow, codelists: dict[str, list[tuple[str, str]]]) -> None:
    if row.statistic not in STATISTICS:
        raise ValueError(
            f'Indicator "{row.indicator}" has unknown statistic "{row.statistic}"; expected one of {", ".join(STATISTICS)}'
        )
    if row.statistic == "judgement":
        if row.judgement_codelist not in codelists:
            known = ", ".join(sorted(codelists)) or "none"
            raise ValueError(
                f'Indicator "{row.indicator}" is a judgement on code list "{row.judgement_codelist}", '
                f"which is not among the template's code lists ({known})"
            )
        if not codelists[row.judgement_codelist]:
            raise ValueError(f'Code list "{row.judgement_codelist}" of indicator "{row.indicator}" has no codes')
    if row.decimals < 0:
        raise ValueError(f'Indicator "{row.indicator}" has negative decimals {row.decimals}')


def _range_text(row: TemplateRow) -> str:
    lo, hi = row.min_value, row.max_value
    kind = "whole number" if row.whole else "number"
    if lo is not None and hi is not None:
        bounds = f"{_num(lo)} to {_num(hi)}"
    elif lo is not None:
        bounds = f"{_num(lo)} or more"
    elif hi is not None:
        bounds = f"{_num(hi)} or less"
    else:
        bounds = f"any {kind}"
    if row.whole:
        return bounds if bounds.startswith("any") else f"{kind}, {bounds}"
    if row.decimals == 0:
        return f"{bounds}, rounded to a whole number"
    return f"{bounds}, {row.decimals} decimal{'s' if row.decimals > 1 else ''}"


def _value_text(row: TemplateRow, codelists: dict[str, list[tuple[str, str]]]) -> str:
    """What may go in the value cell, without the numerator/denominator hint."""
    _check_row(row, codelists)
    if row.statistic == "judgement":
        assert row.judgement_codelist is not None  # _check_row saw it in codelists
        choices = ", ".join(f"{code} {label}".strip() for code, label in codelists[row.judgement_codelist])
        base = f"one of: {choices}"
    else:
        base = _range_text(row)
    return f"{base}, or a symbol {_SYMBOL_TEXT}"


def allowed_text(row: TemplateRow, codelists: dict[str, list[tuple[str, str]]]) -> str:
    """Describe in plain words what the row's value may be, for the template's "allowed" column."""
    text = _value_text(row, codelists)
    return f"{text}; give numerator and denominator too" if row.ratio else text


# --------------------------------------------------------------------------------------------- helpers


def _runs(keys: Sequence[K]) -> Iterator[tuple[int, int, K]]:
    """Yield (first index, last index, key) for each run of equal consecutive keys."""
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            yield start, i - 1, keys[start]
            start = i


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def defined_name(base: str, taken: set[str]) -> str:
    """Make a unique defined name: Excel names allow letters, digits, "_" and "." only."""
    name = _NAME_UNSAFE.sub("_", base)
    candidate, n = name, 2
    while candidate.lower() in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate.lower())
    return candidate


def _symbols_clause(ref: str) -> list[str]:
    return [f'{ref}="{s}"' for s in NO_FIGURE_ALONE]


def _number_formula(ref: str, lo: float | None, hi: float | None, whole: bool) -> str:
    """Build a custom validation formula: a number within bounds, the same followed by " u", or a symbol.

    Relative references (J2) shift row by row in Excel, so one formula serves every row it covers.
    When checking the bounds of a "u"-flagged value would pass Excel's 255-character limit, the
    flagged value is only checked to be a number; the upload checks it fully anyway.
    """

    def checks(v: str) -> list[str]:
        out = [f"{v}>={_num(lo)}"] if lo is not None else []
        out += [f"{v}<={_num(hi)}"] if hi is not None else []
        return out + ([f"INT({v})={v}"] if whole else [])

    plain = f"AND({','.join([f'ISNUMBER({ref})', *checks(ref)])})"
    if whole:
        # Excel's AND evaluates every argument: INT of a text (a symbol, "12 u") is #VALUE!, which would refuse it.
        plain = f"IFERROR({plain},FALSE)"
    flagged_value = f"--LEFT({ref},LEN({ref})-2)"
    # ISNUMBER turns LEFT's error on a short text into FALSE; comparisons need IFERROR for that.
    loose = f'AND(RIGHT({ref},2)=" u",ISNUMBER({flagged_value}))'
    bounded = checks(flagged_value)
    full = f'IFERROR(AND(RIGHT({ref},2)=" u",{",".join(bounded)}),FALSE)' if bounded else loose
    for flagged in (full, loose):
        formula = f"OR({','.join([plain, flagged, *_symbols_clause(ref)])})"
        if len(formula) <= _MAX_FORMULA:
            return "=" + formula
    raise ValueError(f"Validation formula for bounds {lo!r}..{hi!r} is longer than Excel allows: {formula}")


def _number_format(row: TemplateRow) -> str:
    if row.statistic == "judgement":
        return "@"  # codes are text: "01" must stay "01", and the dropdown inserts text
    digits = "0." + "0" * row.decimals if row.decimals else "0"
    return "#,##" + digits if row.statistic == "count" else digits


class _TemplateStyles:
    """Every format the template uses, made once per workbook (STYLE.md §2.6)."""

    def __init__(self, wb: Any) -> None:
        self._wb = wb
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.heading = wb.add_format({"bold": True, "font_size": 12})
        self.label = wb.add_format({"bold": True, "valign": "top"})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.header = wb.add_format({"bold": True, "bg_color": "#D9D9D9", "bottom": 1, "num_format": "@"})
        self.header_input = wb.add_format({"bold": True, "bg_color": "#FFE699", "bottom": 1, "num_format": "@"})
        self.reference = wb.add_format({"font_color": "#595959"})
        self.reference_text = wb.add_format({"font_color": "#595959", "num_format": "@"})
        self.not_needed = wb.add_format({"bg_color": "#D9D9D9", "pattern": 1})
        # Input cells are unlocked; their fill comes from one conditional format over the data rows only,
        # so the yellow ends where the figures end without a formatted blank cell per input.
        self.input_text = wb.add_format({"locked": False, "num_format": "@"})
        self.input_fill = wb.add_format({"bg_color": "#FFF2CC"})
        self._values: dict[str, Any] = {}

    def value(self, num_format: str) -> Any:
        """Return the format for a value cell with this number format (one per distinct number format)."""
        if num_format not in self._values:
            self._values[num_format] = self._wb.add_format({"locked": False, "num_format": num_format})
        return self._values[num_format]


# --------------------------------------------------------------------------------------------- template


def _template_cells(row: TemplateRow, allowed: str) -> list[str]:
    """The reference cells of a template row, in TEMPLATE_COLUMNS order up to last_value."""
    return [
        row.indicator,
        row.title,
        row.org,
        row.org_name,
        row.period,
        row.breakdown,
        row.unit,
        allowed,
        row.last_value or "",
    ]


def _allowed_column(rows: list[TemplateRow], codelists: dict[str, list[tuple[str, str]]]) -> list[str]:
    """The "allowed" text of every row, worked out once per distinct rule (50,000 rows share a handful)."""
    cache: dict[tuple[ValueRule, bool], str] = {}
    out = []
    for row in rows:
        key = (value_rule(row), row.ratio)
        if key not in cache:
            cache[key] = allowed_text(row, codelists)
        out.append(cache[key])
    return out


def _write_instructions(ws: Any, st: _TemplateStyles, info: TemplateInfo, n_rows: int) -> None:
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 100)
    ws.write_string(0, 0, f"Return template: {info.agency_name} ({info.agency_code}), {info.period}", st.title)
    facts = [
        ("Agency", f"{info.agency_name} ({info.agency_code})"),
        ("Period", info.period),
        ("Generated at", info.generated_at.isoformat(sep=" ", timespec="minutes")),
        ("Catalogue version", info.catalogue_version),
        ("Figures owed", f"{n_rows:,}"),
    ]
    r = 2
    for label, text in facts:
        ws.write_string(r, 0, label, st.label)
        ws.write_string(r, 1, text, st.wrap)
        r += 1
    steps = [
        'The "Figures" sheet has one row per figure you owe for this period. Fill in every row; do not add, delete or reorder rows.',
        'Put the figure in the "value" column (pale yellow). The "allowed" column says what each value may be; Excel checks it as you type.',
        'Where the "numerator" and "denominator" cells are yellow, also give the two numbers the percentage or rate is worked out from. Grey cells are not needed.',
        "When you have no figure, type one of the symbols below instead of a number. Never leave a value blank to mean nil or unknown.",
        'Add " u" after a value of low reliability, e.g. 12.5 u.',
        'Set "status" to provisional or estimated when the figure is not final; leave it blank when the figure is final.',
        'Write a "note" when a figure changes a lot from "last_value" or is unusual for any other reason, saying why.',
        "Do not change the indicator, org, period or breakdown cells: they say which figure the row is. The other grey columns are there to help you and are ignored on upload.",
        "Save and upload the file as it is (xlsx, or the CSV template filled in the same way). You will get back a report of every problem found.",
    ]
    r += 1
    ws.write_string(r, 0, "How to fill it in", st.heading)
    r += 1
    for i, step in enumerate(steps, start=1):
        ws.write_string(r, 0, f"{i}.", st.label)
        ws.write_string(r, 1, step, st.wrap)
        r += 1
    r += 1
    ws.write_string(r, 0, "Symbols", st.heading)
    r += 1
    for symbol, meaning in SYMBOLS.items():
        ws.write_string(r, 0, symbol, st.label)
        ws.write_string(r, 1, meaning, st.wrap)
        r += 1
    r += 1
    ws.write_string(r, 0, "Statuses", st.heading)
    r += 1
    for status, meaning in zip(
        STATUSES,
        (
            "the figure is final (the default when status is blank)",
            "the figure may still change",
            "the figure is an estimate",
        ),
        strict=True,
    ):
        ws.write_string(r, 0, status, st.label)
        ws.write_string(r, 1, meaning, st.wrap)
        r += 1


def _write_lists(ws: Any, wb: Any, codelists: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """Write each code list (codes, then the symbols) and the statuses to the hidden sheet, one column each.

    Defines "list_<id>" over a list's codes, "list_<id>_or_symbol" over its codes and the symbols
    (what a judgement cell accepts), and "statuses". Returns code list id -> validation source name.
    """
    taken = {"statuses"}
    sources = {}
    col = 0
    for list_id, entries in codelists.items():
        codes = [code for code, _ in entries]
        ws.write_string(0, col, list_id)
        for i, text in enumerate([*codes, *NO_FIGURE_ALONE], start=1):
            ws.write_string(i, col, text)
        letter = xl_col_to_name(col)
        name = defined_name(f"list_{list_id}", taken)
        if codes:
            wb.define_name(name, f"=Lists!${letter}$2:${letter}${len(codes) + 1}")
        sources[list_id] = defined_name(f"{name}_or_symbol", taken)
        wb.define_name(sources[list_id], f"=Lists!${letter}$2:${letter}${len(codes) + len(NO_FIGURE_ALONE) + 1}")
        col += 1
    letter = xl_col_to_name(col)
    ws.write_string(0, col, "status")
    ws.write_column(1, col, STATUSES)
    wb.define_name("statuses", f"=Lists!${letter}$2:${letter}${len(STATUSES) + 1}")
    ws.hide()
    return sources


def _validate_grouped(
    ws: Any, col: int, keys: Sequence[K | None], options_for: Callable[[K, str], dict[str, Any]]
) -> None:
    """Add one validation per distinct key over every run of rows with that key, as one multi-range.

    One per run would be slow (XlsxWriter reparses each formula) and, past about 60,000 per sheet,
    Excel drops them all (XlsxWriter #240, #874). The runs are listed top-down in one column, so the
    first run's first cell, which the formula's relative reference names, is the range's top-left
    cell however Excel anchors it.
    """
    runs: dict[K, list[tuple[int, int]]] = {}
    for first, last, key in _runs(keys):
        if key is not None:  # a row with no rule (the report's rows of unknown indicators) gets no validation
            runs.setdefault(key, []).append((first + 1, last + 1))
    for key, spans in runs.items():
        sqref = " ".join(xl_range(a, col, b, col) if a != b else xl_rowcol_to_cell(a, col) for a, b in spans)
        top = spans[0][0]
        options = options_for(key, xl_rowcol_to_cell(top, col)) | {"multi_range": sqref}
        ws.data_validation(top, col, top, col, options)


def validate_values(
    ws: Any,
    rows: Sequence[TemplateRow | None],
    allowed: Sequence[str | None],
    sources: dict[str, str],
    col: int = _COL["value"],
) -> None:
    """Check each value cell against its row's rule: a number within bounds, a code from its list, or a symbol."""
    example: dict[ValueRule, int] = {}  # rule -> first row with it
    for i, maybe in enumerate(rows):
        if maybe is not None:
            example.setdefault(value_rule(maybe), i)

    def options_for(rule: ValueRule, ref: str) -> dict[str, Any]:
        row = rows[example[rule]]
        assert row is not None
        # The allowed text minus the ratio hint, which is not about the value cell.
        message = clip(str(allowed[example[rule]]).split("; give numerator")[0], _MAX_MESSAGE)
        options: dict[str, Any] = {
            "input_title": "Value",
            "input_message": message,
            "error_title": "Value not allowed here",
            "error_message": clip(f"Enter {message}.", _MAX_MESSAGE),
        }
        if row.statistic == "judgement":
            assert row.judgement_codelist is not None  # allowed_text checked it
            return options | {"validate": "list", "source": "=" + sources[row.judgement_codelist]}
        return options | {"validate": "custom", "value": _number_formula(ref, row.min_value, row.max_value, row.whole)}

    _validate_grouped(ws, col, [None if row is None else value_rule(row) for row in rows], options_for)


def validate_ratio_parts(
    ws: Any, rows: Sequence[TemplateRow | None], cols: tuple[int, int] = (_COL["numerator"], _COL["denominator"])
) -> None:
    """Check numerator and denominator cells where they are asked for; explain the grey ones where not."""
    ratios = [None if row is None else row.ratio for row in rows]
    for col, (name, lowest, what) in zip(
        cols, (("numerator", ">=0", "0 or more"), ("denominator", ">0", "more than 0")), strict=True
    ):

        def options_for(
            ratio: bool, ref: str, name: str = name, lowest: str = lowest, what: str = what
        ) -> dict[str, Any]:
            if not ratio:
                return {
                    "validate": "any",
                    "input_title": "Not needed",
                    "input_message": f"No {name} is needed for this figure.",
                }
            return {
                "validate": "custom",
                "value": f"=OR(AND(ISNUMBER({ref}),{ref}{lowest}),{','.join(_symbols_clause(ref))})",
                "input_title": name.capitalize(),
                "input_message": f"The {name} this figure is worked out from: a number {what}, or a symbol {_SYMBOL_TEXT}.",
                "error_title": f"{name.capitalize()} not allowed here",
                "error_message": f"Enter a number {what}, or a symbol {_SYMBOL_TEXT}.",
            }

        _validate_grouped(ws, col, ratios, options_for)


def _write_figures(ws: Any, st: _TemplateStyles, rows: list[TemplateRow], allowed: list[str]) -> None:
    """Write the header and one row per figure, writing only the cells that differ from their column's format.

    At 50,000 rows the time goes on XlsxWriter's per-cell work, so empty strings are skipped, the
    reference and input columns take their formats from set_column, and only value cells with an
    uncommon number format and grey "not needed" numerator/denominator cells are written one by one.
    """
    n = len(rows)
    for c, name in enumerate(TEMPLATE_COLUMNS):
        ws.write_string(0, c, name, st.header_input if name in INPUT_COLUMNS else st.header)
    value_col, num_col, den_col = (_COL[name] for name in ("value", "numerator", "denominator"))
    number_formats: dict[tuple[str, int], str] = {}
    for row in rows:
        number_formats.setdefault((row.statistic, row.decimals), _number_format(row))
    counts = Counter(number_formats[row.statistic, row.decimals] for row in rows)
    common = counts.most_common(1)[0][0] if counts else "General"
    widths = [len(name) + 2 for name in TEMPLATE_COLUMNS[:value_col]]
    # write_string, not write: a title starting with "=" must stay text, and the direct call is the fast path.
    write_string, write_blank = ws.write_string, ws.write_blank
    for i, (row, allowed_cell) in enumerate(zip(rows, allowed, strict=True)):
        r = i + 1
        for c, text in enumerate(_template_cells(row, allowed_cell)):
            if text:
                write_string(r, c, text)
                if len(text) > widths[c]:
                    widths[c] = len(text)
        number_format = number_formats[row.statistic, row.decimals]
        if number_format != common:
            write_blank(r, value_col, None, st.value(number_format))
        if not row.ratio:
            write_blank(r, num_col, None, st.not_needed)
            write_blank(r, den_col, None, st.not_needed)
    for c, width in enumerate(widths):
        ws.set_column(
            c,
            c,
            min(max(width + 1, MIN_WIDTH), MAX_WIDTH),
            st.reference_text if TEMPLATE_COLUMNS[c] in _TEXT_COLUMNS else st.reference,
        )
    for name, width in _INPUT_WIDTHS.items():
        ws.set_column(_COL[name], _COL[name], width, st.input_text if name in ("status", "note") else st.value(common))
    if n:
        _input_rules(ws, st, rows)
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, n, len(TEMPLATE_COLUMNS) - 1)
    # Locks the reference columns so a row keeps saying which figure it is; no password, filtering still works.
    ws.protect("", {"autofilter": True, "format_columns": True, "format_rows": True})


def _input_rules(ws: Any, st: _TemplateStyles, rows: list[TemplateRow]) -> None:
    """Shade the cells to fill in and give the status and note columns their prompts and allowed entries."""
    n = len(rows)
    value_col, num_col, den_col, status_col, note_col = (_COL[name] for name in INPUT_COLUMNS)
    ratio_spans = [
        xl_range(a + 1, num_col, b + 1, den_col) for a, b, ratio in _runs([row.ratio for row in rows]) if ratio
    ]
    fill_ranges = [xl_range(1, value_col, n, value_col), xl_range(1, status_col, n, note_col), *ratio_spans]
    ws.conditional_format(
        1,
        value_col,
        n,
        value_col,
        {"type": "formula", "criteria": "=TRUE", "format": st.input_fill, "multi_range": " ".join(fill_ranges)},
    )
    # Codes, periods and hints are text on purpose; Excel's green "number stored as text" triangles would only worry people.
    ws.ignore_errors({"number_stored_as_text": f"A2:{xl_rowcol_to_cell(n, value_col - 1)}"})
    ws.data_validation(
        1,
        status_col,
        n,
        status_col,
        {
            "validate": "list",
            "source": "=statuses",
            "input_title": "Status",
            "input_message": "Leave blank when the figure is final; otherwise choose provisional or estimated.",
            "error_title": "Status not allowed here",
            "error_message": f"Choose one of {', '.join(STATUSES)}, or leave blank for final.",
        },
    )
    ws.data_validation(
        1,
        note_col,
        n,
        note_col,
        {
            "validate": "any",
            "input_title": "Note",
            "input_message": "Say why when the figure changes a lot from last_value or is unusual.",
        },
    )


def template_xlsx(info: TemplateInfo, rows: list[TemplateRow]) -> bytes:
    """Build the xlsx return template listing every figure the agency owes for the period."""
    allowed = _allowed_column(rows, info.codelists)
    buf = io.BytesIO()
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    with SafeWorkbook(buf, options) as wb:
        st = _TemplateStyles(wb)
        created = (
            info.generated_at.astimezone(UTC).replace(tzinfo=None) if info.generated_at.tzinfo else info.generated_at
        )
        wb.set_properties(
            {
                "title": f"onereturn template: {info.agency_name}, {info.period}",
                "subject": f"{info.agency_name} ({info.agency_code}), {info.period}",
                "author": "onereturn",
                "keywords": "onereturn, return template",
                "comments": f"Catalogue version {info.catalogue_version}",
                "created": created,
            }
        )
        # Machine-readable copies, so an uploaded file can be matched to the template it came from.
        wb.set_custom_property("onereturn_agency", info.agency_code)
        wb.set_custom_property("onereturn_period", info.period)
        wb.set_custom_property("onereturn_catalogue_version", info.catalogue_version)
        instructions = wb.add_worksheet("Instructions")
        figures = wb.add_worksheet("Figures")
        lists = wb.add_worksheet("Lists")
        _write_instructions(instructions, st, info, len(rows))
        sources = _write_lists(lists, wb, info.codelists)
        _write_figures(figures, st, rows, allowed)
        validate_values(figures, rows, allowed, sources)
        validate_ratio_parts(figures, rows)
    return buf.getvalue()


def template_csv(rows: list[TemplateRow], codelists: dict[str, list[tuple[str, str]]]) -> bytes:
    """Build the CSV return template: the xlsx "Figures" sheet as UTF-8 with a BOM, input columns empty."""
    allowed = _allowed_column(rows, codelists)
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(TEMPLATE_COLUMNS)
    blank_inputs = [""] * len(INPUT_COLUMNS)
    writer.writerows(
        neutralise_row([*_template_cells(row, text), *blank_inputs]) for row, text in zip(rows, allowed, strict=True)
    )
    # The BOM is what makes Excel read the file as UTF-8 rather than the local code page.
    return buf.getvalue().encode("utf-8-sig")
