"""The marked report workbook of an upload: the agency's own file back, problems marked, ready to correct and send again."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
from sqlmodel import Session, col

from collectors.figures.rawtable import RawTable
from collectors.figures.reportworkbook import ProblemCell, ReportRow, report_workbook
from collectors.figures.template import codelists_for, value_rules_for
from collectors.figures.workbooks import TemplateRow
from collectors.problems import BATCH, FIELDS, ordered_problems
from indicators.store.models import SubmissionProblem


def _rows(raw: RawTable, header: list[str], rules: dict[str, TemplateRow], shift: int) -> Iterator[ReportRow]:
    at = header.index("indicator") if "indicator" in header else None
    for values in raw.frame.select("row", *header).iter_rows():
        cells = list(values[1:])
        indicator = cells[at] if at is not None else None
        rule = rules.get(indicator.strip().lower()) if isinstance(indicator, str) else None
        yield ReportRow(values[0] + shift, cells, rule)


def blank_rows(frame: pl.DataFrame) -> list[int]:
    """List the rows of an upload with no value, numerator or denominator (the rows validation skips)."""
    present = [c for c in ("value", "numerator", "denominator") if c in frame.columns]
    if not present or "indicator" not in frame.columns:
        return []
    return frame.filter(pl.all_horizontal(pl.col(c).is_null() for c in present))["row"].to_list()


class StoredProblems:
    """An upload's problems streamed from the database a batch at a time, as the report reads them."""

    def __init__(self, session: Session, submission_id: int, shift: int = 0) -> None:
        self.session = session
        self.submission_id = submission_id
        self.shift = shift

    def _stream(self, *, rows_only: bool) -> Iterator[ProblemCell]:
        query = ordered_problems(self.submission_id)
        if rows_only:
            query = query.where(col(SubmissionProblem.row).is_not(None))
        result = self.session.execute(query.execution_options(yield_per=BATCH))
        try:
            for row in result:
                cell = dict(zip(FIELDS, row, strict=True))
                yield ProblemCell(**(cell | {"row": None if cell["row"] is None else cell["row"] + self.shift}))
        finally:
            result.close()

    def by_row(self) -> Iterator[ProblemCell]:
        """Yield the problems that have a row, in row order."""
        return self._stream(rows_only=True)

    def listed(self) -> Iterator[ProblemCell]:
        """Yield every problem in row order (as the JSON report and report.csv list them)."""
        return self._stream(rows_only=False)


def build_report(session: Session, raw: RawTable | None, submission_id: int) -> bytes:
    """Build the marked report workbook of an upload from its kept file and its stored problems."""
    # A JSON item is numbered by its place in the list; in the workbook it sits under the header row.
    shift = 1 if raw is not None and raw.source_format == "json" else 0
    problems = StoredProblems(session, submission_id, shift)
    if raw is None:
        return report_workbook([], [], problems, codelists=codelists_for(session))
    header = [c for c in raw.frame.columns if c != "row"]
    ids = []
    if "indicator" in header:
        ids = raw.frame["indicator"].drop_nulls().str.strip_chars().str.to_lowercase().unique().to_list()
    rules = value_rules_for(session, ids)
    blanks = [r + shift for r in blank_rows(raw.frame)]
    return report_workbook(
        header, _rows(raw, header, rules, shift), problems, codelists=codelists_for(session), blank_rows=blanks
    )
