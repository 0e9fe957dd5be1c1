"""Build the report workbook on an upload: the agency's own file back with every problem cell coloured and
commented, on the same row numbers as its file, plus a "Problems" table.

Pure functions, data in and bytes out, like the template beside it (``workbooks.py``), whose value rules and
Excel limits it shares.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from xlsxwriter.utility import xl_col_to_name

from collectors.figures.workbooks import (
    MAX_COLS,
    MAX_COMMENT,
    MAX_ROWS,
    MAX_WIDTH,
    MIN_WIDTH,
    NO_FIGURE_ALONE,
    TemplateRow,
    ValueRule,
    allowed_text,
    clip,
    defined_name,
    validate_ratio_parts,
    validate_values,
    value_rule,
)
from indicators.symbols import STATUSES, SYMBOLS
from onereturn.spreadsheet import SafeWorkbook


@dataclass(frozen=True)
class ProblemCell:
    """One problem found in an upload; row is the spreadsheet row number (header row is 1)."""

    row: int | None
    column: str | None
    value: str | None
    rule: str
    severity: str  # "error" | "warning"
    message: str


#: Upload columns whose cells are figures: written back as numbers where they read as one.
_NUMBER_COLUMNS = frozenset({"value", "numerator", "denominator"})
_PLAIN_NUMBER = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
#: Problem severities in the order a cell's colour follows (the gravest wins).
SEVERITIES = ("error", "query", "information")


#: Cells of the report given a comment. XlsxWriter keeps every comment in memory until the file is closed
#: (about 0.8 KB each) and Excel is slow to open a sheet of a million, so past this many the marked cells keep
#: their colour and the "Problems" sheet, which lists every problem, says what is wrong with them.
MAX_COMMENTS = 10_000


class ProblemSource(Protocol):
    """An upload's problems, read twice while its report is written, never held as one list."""

    def by_row(self) -> Iterable[ProblemCell]:
        """Yield the problems that have a row, in row order (a row's own problems in listing order)."""
        ...

    def listed(self) -> Iterable[ProblemCell]:
        """Yield every problem in the order the "Problems" sheet lists them."""
        ...


class ProblemList:
    """Problems already in memory, as a :class:`ProblemSource`."""

    def __init__(self, problems: Sequence[ProblemCell]) -> None:
        self.problems = problems

    def by_row(self) -> Iterable[ProblemCell]:
        """Yield the problems that have a row, sorted (stably) by row."""
        return sorted((p for p in self.problems if p.row is not None), key=lambda p: p.row or 0)

    def listed(self) -> Iterable[ProblemCell]:
        """Yield every problem in list order."""
        return iter(self.problems)


class _RowMarks:
    """Hands out each row's problems in turn from problems sorted by row, so no row index of them is built."""

    def __init__(self, problems: Iterable[ProblemCell]) -> None:
        self._problems = iter(problems)
        self._next = next(self._problems, None)

    def take(self, row: int) -> list[ProblemCell]:
        """Return the problems of ``row``, passing over any of earlier rows (rows no line of the file has)."""
        found: list[ProblemCell] = []
        while self._next is not None and (self._next.row or 0) <= row:
            if self._next.row == row:
                found.append(self._next)
            self._next = next(self._problems, None)
        return found

    def close(self) -> None:
        """Let go of the problems not taken (a database stream is closed)."""
        close = getattr(self._problems, "close", None)
        if close is not None:
            close()


class _Comments:
    """Writes cell comments up to :data:`MAX_COMMENTS`, and counts the marked cells past it."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.written = 0
        self.left_out = 0

    def add(self, r: int, c: int, problems: list[ProblemCell], header: list[str]) -> None:
        """Comment on a marked cell, unless the report already has as many comments as it may."""
        if self.written >= MAX_COMMENTS:
            self.left_out += 1
            return
        self.written += 1
        _comment(self.ws, r, c, _comment_text(problems, header))


@dataclass(frozen=True)
class ReportRow:
    """One row of an upload as the report writes it back: its row number, its cells and its template rule."""

    row: int
    cells: list[str | None]
    #: What its value may be, as in the template (None when the row's indicator is not known).
    rule: TemplateRow | None = None


class _ReportStyles:
    """Every format the report uses, made once per workbook (STYLE.md §2.6)."""

    def __init__(self, wb: Any) -> None:
        self.header = wb.add_format({"bold": True, "bg_color": "#D9D9D9", "bottom": 1})
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.heading = wb.add_format({"bold": True, "font_size": 12})
        self.label = wb.add_format({"bold": True, "valign": "top"})
        self.by_severity = {
            "error": wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
            "query": wb.add_format({"bg_color": "#FFEB9C", "font_color": "#9C5700"}),
            "information": wb.add_format({"bg_color": "#DDEBF7", "font_color": "#1F4E78"}),
        }
        self.blank = wb.add_format({"bg_color": "#DDEBF7", "pattern": 1})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})


def _problem_column(problem: ProblemCell, header: list[str]) -> int | None:
    """Find the problem's column in the upload's header: exactly, else ignoring case and spaces."""
    if problem.column is None:
        return None
    if problem.column in header:
        return header.index(problem.column)
    wanted = problem.column.strip().lower()
    for c, name in enumerate(header):
        if name.strip().lower() == wanted:
            return c
    return None


def _check_row_number(row: int, lowest: int, what: str) -> None:
    if not lowest <= row <= MAX_ROWS:
        raise ValueError(f"{what} row number {row} is outside the sheet's rows {lowest} to {MAX_ROWS:,}")


def _comment_text(problems: list[ProblemCell], header: list[str]) -> str:
    lines = []
    for p in problems:
        where = "" if p.column is None or _problem_column(p, header) is not None else f' (column "{p.column}")'
        lines.append(f"{p.severity.capitalize()}{where}: {p.message}")
    return clip("\n".join(lines), MAX_COMMENT)


def _cells_of(problems: list[ProblemCell], header: list[str]) -> dict[int, list[ProblemCell]]:
    """Group one row's problems by column; a row-level problem (or one on a column the file lacks) sits on column A."""
    out: dict[int, list[ProblemCell]] = {}
    for p in problems:
        col = _problem_column(p, header)
        out.setdefault(0 if col is None else col, []).append(p)
    return out


def _comment(ws: Any, r: int, c: int, text: str) -> None:
    lines = sum(1 + len(line) // 50 for line in text.splitlines())
    ws.write_comment(r, c, text, {"author": "onereturn", "width": 360, "height": min(20 + 15 * lines, 600)})


def _write_report_row(
    ws: Any,
    st: _ReportStyles,
    r: int,
    values: list[str | None],
    numeric: set[int],
    marks: dict[int, list[ProblemCell]],
    header: list[str],
    widths: list[int],
    comments: _Comments,
) -> None:
    """Write one row left to right (constant-memory mode needs it so), numbers as numbers, marks with their comments."""
    for c in range(max(len(values), max(marks, default=-1) + 1)):
        text = values[c] if c < len(values) else None
        found = marks.get(c, [])
        fmt = None
        if found:
            grave = min(SEVERITIES.index(p.severity) if p.severity in SEVERITIES else 0 for p in found)
            fmt = st.by_severity[SEVERITIES[grave]]
        if text is None:
            if fmt is not None:
                ws.write_blank(r, c, None, fmt)
        elif c in numeric and _PLAIN_NUMBER.match(text):
            ws.write_number(r, c, float(text), fmt)
        else:
            ws.write_string(r, c, text, fmt)
        if text is not None and c < len(widths):
            widths[c] = max(widths[c], len(text))
        if found:
            comments.add(r, c, found, header)


def _write_report_figures(
    ws: Any,
    st: _ReportStyles,
    header: list[str],
    rows: Iterable[ReportRow],
    by_row: _RowMarks,
    blank_rows: set[int],
    comments: _Comments,
) -> list[TemplateRow | None]:
    """Write the header and every upload row in order; return each sheet row's template rule, for the validations."""
    if len(header) > MAX_COLS:
        raise ValueError(f"An upload wider than Excel's {MAX_COLS:,} columns cannot be rewritten as a workbook")
    widths = [len(name) for name in header]
    header_marks = _cells_of(by_row.take(1), header)
    for c, name in enumerate(header):
        ws.write_string(0, c, name, st.header)
        if c in header_marks:
            comments.add(0, c, header_marks[c], header)
    numeric = {c for c, name in enumerate(header) if name.strip().lower() in _NUMBER_COLUMNS}
    value_col = next((c for c, name in enumerate(header) if name.strip().lower() == "value"), 0)
    blank_note = ProblemCell(
        None,
        "value",
        None,
        "blank-row",
        "information",
        "This row was left blank: give the figure, or a symbol such as x when it is not available.",
    )
    rules: list[TemplateRow | None] = []
    for item in rows:
        _check_row_number(item.row, 2, "Data")
        if len(item.cells) > MAX_COLS:
            raise ValueError(f"An upload wider than Excel's {MAX_COLS:,} columns cannot be rewritten as a workbook")
        marks = _cells_of(by_row.take(item.row), header)
        if item.row in blank_rows:
            marks.setdefault(value_col, []).append(blank_note)
        _write_report_row(ws, st, item.row - 1, item.cells, numeric, marks, header, widths, comments)
        rules.extend([None] * (item.row - 2 - len(rules)))
        rules.append(item.rule)
    for c, width in enumerate(widths):
        ws.set_column(c, c, min(max(width + 2, MIN_WIDTH), MAX_WIDTH))
    ws.freeze_panes(1, 0)
    return rules


def _write_problems(ws: Any, st: _ReportStyles, problems: Iterable[ProblemCell]) -> Counter[str]:
    """List every problem, one a row; return how many there are of each severity."""
    columns = ("row", "column", "value", "rule", "severity", "message")
    widths = (6, 16, 20, 28, 12, 80)
    for c, width in enumerate(widths):
        ws.set_column(c, c, width, st.wrap if columns[c] == "message" else None)
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, columns, st.header)
    counts: Counter[str] = Counter()
    i = 0
    for i, p in enumerate(problems, start=1):
        counts[p.severity] += 1
        if p.row is not None:
            ws.write_number(i, 0, p.row)
        for c, text in enumerate((p.column, p.value, p.rule), start=1):
            if text is not None:
                ws.write_string(i, c, text)
        ws.write_string(i, 4, p.severity, st.by_severity.get(p.severity))
        ws.write_string(i, 5, p.message)
    ws.autofilter(0, 0, max(i, 1), len(columns) - 1)
    return counts


def _write_report_instructions(ws: Any, st: _ReportStyles, counts: Counter[str], comments: _Comments) -> None:
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 100)
    ws.write_string(0, 0, "Upload report: what was found, and how to send the figures again", st.title)
    commented = 'Every marked cell has a comment saying what is wrong; the "Problems" sheet lists them all.'
    if comments.left_out:
        commented = (
            f"The first {comments.written:,} marked cells have a comment saying what is wrong; the other "
            f'{comments.left_out:,} are coloured only. The "Problems" sheet lists every problem with its row.'
        )
    steps = [
        f"{counts['error']} error(s): a data rule is broken, so the row was not stored (red). Correct the marked cells.",
        f"{counts['query']} query(ies): the figure is unusual or unexpected (amber). It is stored once explained: "
        'write why in the "note" column, or answer the query through the API.',
        f"{counts['information']} information notice(s) (blue): nothing to do; blank rows are marked blue too.",
        commented,
        'Correct the "Figures" sheet in place, keep its columns, and upload this workbook again. Rows already '
        "accepted are recognised and not stored twice.",
        'Put each figure in the "value" column; Excel checks it as you type, as in the template.',
        'Add " u" after a value of low reliability, e.g. 12.5 u; set "status" to provisional or estimated when not final.',
    ]
    r = 2
    ws.write_string(r, 0, "What to do", st.heading)
    for i, step in enumerate(steps, start=1):
        ws.write_string(r + i, 0, f"{i}.", st.label)
        ws.write_string(r + i, 1, step, st.wrap)
    r += len(steps) + 2
    ws.write_string(r, 0, "Symbols", st.heading)
    for i, (symbol, meaning) in enumerate(SYMBOLS.items(), start=1):
        ws.write_string(r + i, 0, symbol, st.label)
        ws.write_string(r + i, 1, meaning, st.wrap)


def _write_lists_rowwise(ws: Any, wb: Any, codelists: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    """Write the code lists (codes, then the symbols) and the statuses one row at a time, as constant memory needs."""
    columns = [(list_id, [code for code, _ in entries]) for list_id, entries in codelists.items()]
    taken = {"statuses"}
    sources: dict[str, str] = {}
    body = [[*codes, *NO_FIGURE_ALONE] for _, codes in columns] + [list(STATUSES)]
    names = [list_id for list_id, _ in columns] + ["status"]
    ws.write_row(0, 0, names)
    for i in range(max((len(b) for b in body), default=0)):
        for c, values in enumerate(body):
            if i < len(values):
                ws.write_string(i + 1, c, values[i])
    for c, (list_id, codes) in enumerate(columns):
        letter = xl_col_to_name(c)
        sources[list_id] = defined_name(f"list_{list_id}_or_symbol", taken)
        wb.define_name(sources[list_id], f"=Lists!${letter}$2:${letter}${len(codes) + len(NO_FIGURE_ALONE) + 1}")
    letter = xl_col_to_name(len(columns))
    wb.define_name("statuses", f"=Lists!${letter}$2:${letter}${len(STATUSES) + 1}")
    ws.hide()
    return sources


def report_workbook(
    header: list[str],
    rows: Iterable[ReportRow | tuple[int, list[str | None]]],
    problems: Sequence[ProblemCell] | ProblemSource,
    *,
    codelists: dict[str, list[tuple[str, str]]] | None = None,
    blank_rows: Iterable[int] = (),
) -> bytes:
    """Build the report on an upload: its rows on their own row numbers, problems marked, the template's validation and instructions.

    Written in constant-memory mode, row by row, so a million-row upload's report never holds the
    whole sheet in memory. Numbers go back as numbers; blank rows are marked; the "Figures" sheet
    can be corrected and uploaded again as it is.
    """
    codelists = codelists or {}
    source = ProblemList(problems) if isinstance(problems, Sequence) else problems
    buf = io.BytesIO()
    options = {"constant_memory": True, "strings_to_numbers": False}
    with SafeWorkbook(buf, options) as wb:
        st = _ReportStyles(wb)
        wb.set_properties({"title": "onereturn upload report", "author": "onereturn"})
        # Named like the template's sheet, so a corrected report can be uploaded again.
        figures = wb.add_worksheet("Figures")
        problem_sheet = wb.add_worksheet("Problems")
        instructions = wb.add_worksheet("Instructions")
        lists = wb.add_worksheet("Lists")
        items = (r if isinstance(r, ReportRow) else ReportRow(r[0], r[1]) for r in rows)
        comments = _Comments(figures)
        by_row = _RowMarks(source.by_row())
        try:
            rules = _write_report_figures(figures, st, header, items, by_row, set(blank_rows), comments)
        finally:
            by_row.close()
        counts = _write_problems(problem_sheet, st, source.listed())
        _write_report_instructions(instructions, st, counts, comments)
        sources = _write_lists_rowwise(lists, wb, codelists)
        cols = {name.strip().lower(): c for c, name in enumerate(header)}
        # Decided row by row, not by looking each row up in a list of the usable ones (quadratic in the rows).
        usable = [
            r if r is not None and (r.judgement_codelist is None or r.judgement_codelist in codelists) else None
            for r in rules
        ]
        known = any(r is not None for r in usable)
        if known and "value" in cols:
            validate_values(figures, usable, _allowed_column_sparse(usable, codelists), sources, col=cols["value"])
        if known and "numerator" in cols and "denominator" in cols:
            validate_ratio_parts(figures, usable, cols=(cols["numerator"], cols["denominator"]))
    return buf.getvalue()


def _allowed_column_sparse(
    rows: list[TemplateRow | None], codelists: dict[str, list[tuple[str, str]]]
) -> list[str | None]:
    cache: dict[tuple[ValueRule, bool], str] = {}
    out: list[str | None] = []
    for row in rows:
        if row is None:
            out.append(None)
            continue
        key = (value_rule(row), row.ratio)
        if key not in cache:
            cache[key] = allowed_text(row, codelists)
        out.append(cache[key])
    return out
