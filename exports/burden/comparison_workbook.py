"""The comparison workbook: one sheet per indicator, the council beside its group, region and England."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

from mappings.comparison.service import Comparison, Row
from onereturn.spreadsheet import SafeWorkbook

HEADERS = (
    "Area",
    "Code",
    "Role",
    "Closeness (DfE)",
    "Value",
    "Withheld",
    "Published",
    "Rank",
    "Lower 95% limit",
    "Upper 95% limit",
    "Against England",
)


def _sheet_name(text: str, used: set[str]) -> str:
    # Excel forbids []:*?/\ in a sheet name and caps it at 31 characters; names must be unique.
    base = re.sub(r"[\[\]:*?/\\]", " ", text)[:28].strip() or "Indicator"
    name, n = base, 2
    while name.lower() in used:
        name, n = f"{base[:26]} {n}", n + 1
    used.add(name.lower())
    return name


def _row_cells(r: Row) -> list[Any]:
    return [
        r.name,
        r.code,
        r.role,
        r.closeness,
        r.value,
        r.symbol or "",
        r.label,
        r.rank,
        r.interval.lower if r.interval else None,
        r.interval.upper if r.interval else None,
        r.outcome or "",
    ]


def write_comparisons(comparisons: Sequence[Comparison]) -> bytes:
    """Write one sheet per comparison: what is compared and with which group (and its source), the table, the trend."""
    buffer = io.BytesIO()
    used: set[str] = set()
    with SafeWorkbook(buffer, {"in_memory": True}) as wb:
        bold = wb.add_format({"bold": True})
        for c in comparisons:
            ws = wb.add_worksheet(_sheet_name(c.indicator.title, used))
            facts = [
                ("Indicator", f"{c.indicator.title} ({c.indicator.id})"),
                ("Unit", c.indicator.unit),
                ("Which way is better", c.indicator.polarity_words),
                ("Source of which way is better", c.indicator.polarity_source or "none found"),
                ("Indicator's sources", c.indicator.source or "none given"),
                ("Council", f"{c.org_name} ({c.org_code})"),
                ("Period", c.period),
                ("Compared with", c.group.title),
                ("Group source", c.group.source),
                *((("Why no neighbours", c.group.note),) if c.group.note else ()),
                ("Neighbours' mean", c.neighbours_mean),
                ("Neighbours with a value", c.neighbours_counted),
                ("Quartile among upper-tier councils", c.quartile if c.quartile is not None else c.quartile_note),
                ("Which end quartile 1 is", c.quartile_end),
                ("Rank among them", c.peer_rank),
                ("Councils with a value", c.peers_counted),
                ("Interval method", c.method or "none: the figure's counts or statistic do not allow one"),
            ]
            for i, (label, value) in enumerate(facts):
                ws.write(i, 0, label, bold)
                ws.write(i, 1, value)
            top = len(facts) + 1
            ws.write_row(top, 0, HEADERS, bold)
            rows = [*c.rows, *(r for r in (c.region, c.england) if r is not None)]
            for j, r in enumerate(rows, start=top + 1):
                ws.write_row(j, 0, _row_cells(r))
            trend_top = top + len(rows) + 3
            ws.write_row(trend_top, 0, ("Period", "Council", "Withheld", "Neighbours' mean", "England"), bold)
            for j, t in enumerate(c.trend, start=trend_top + 1):
                ws.write_row(j, 0, (t.period, t.value, t.symbol or "", t.neighbours_mean, t.england))
            ws.set_column(0, 0, 42)
            ws.set_column(1, 10, 16)
    return buffer.getvalue()
