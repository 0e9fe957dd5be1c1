"""The marked report workbook of an upload: the agency's own file back, problems marked, ready to correct and send again."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
from sqlmodel import Session

from collectors.read import RawTable
from collectors.template import codelists_for, value_rules_for
from collectors.workbooks import ProblemCell, ReportRow, TemplateRow, report_workbook

_FIELDS = ("row", "column", "value", "rule", "severity", "message")


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


def build_report(session: Session, raw: RawTable | None, problems: pl.DataFrame) -> bytes:
    """Build the marked report workbook of an upload from its kept file and its problems."""
    # A JSON item is numbered by its place in the list; in the workbook it sits under the header row.
    shift = 1 if raw is not None and raw.source_format == "json" else 0
    cells = [
        ProblemCell(**({k: p[k] for k in _FIELDS} | {"row": None if p["row"] is None else p["row"] + shift}))
        for p in problems.iter_rows(named=True)
    ]
    if raw is None:
        return report_workbook([], [], cells, codelists=codelists_for(session))
    header = [c for c in raw.frame.columns if c != "row"]
    ids = []
    if "indicator" in header:
        ids = raw.frame["indicator"].drop_nulls().str.strip_chars().str.to_lowercase().unique().to_list()
    rules = value_rules_for(session, ids)
    blanks = [r + shift for r in blank_rows(raw.frame)]
    return report_workbook(
        header, _rows(raw, header, rules, shift), cells, codelists=codelists_for(session), blank_rows=blanks
    )
