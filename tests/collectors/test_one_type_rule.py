"""One source of truth for what a value may be: the template's Excel validation and the upload's checks agree.

Every collected indicator of the bundled catalogue gets the same sample values, as a person would
type them in the template's value cell (numbers as numbers, everything else as text). Excel's
verdict comes from evaluating the validation formula the template writes; the server's from
validating the same values as an upload. A value Excel refuses must be an error on upload, and a
value Excel lets through must never be one.
"""

from __future__ import annotations

import dataclasses

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session, select

from collectors.checks.context import build_context
from collectors.figures.template import codelists_for, value_rules_for
from collectors.figures.validate import validate
from collectors.figures.workbooks import TemplateRow, _number_formula
from indicators.models import Indicator
from tests.collectors.excel_formula import evaluate

# Laid out by hand, the formatter told to leave it: the numbers on one line and the text on the next, as a person would type them.
#: What a person might type: numbers Excel keeps as numbers, and text.
SAMPLES: list[float | str] = [
    -1.0, 0.0, 0.46, 1.0, 12.0, 312.5, 100.0, 100.5, 101.0, 5000.0, 2.5e7, 1.2e29,
    "x", "X", "..", ":", "-", "z", "c", "12 u", "12.5 u", "abc", "1", "4", "9",
]  # fmt: skip
PERIODS = {
    "month": "2024-06",
    "quarter": "FY2024-25-Q1",
    "financial_year": "FY2024-25",
    "academic_year": "AY2023-24",
    "calendar_year": "CY2024",
    "snapshot_date": "2025-03-31",
}


def as_typed(rule: TemplateRow, value: float | str) -> float | str:
    """What Excel keeps when the value is typed in the cell: numerals become numbers, except in a text (judgement) cell."""
    if rule.statistic == "judgement":
        return _typed(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _excel(row: TemplateRow, value: float | str, codes: list[str]) -> bool:
    if row.statistic == "judgement":
        # A list validation compares text, ignoring case, with the codes and the symbols.
        allowed = {c.lower() for c in codes} | {"x", "z", "c", "..", ":", "-"}
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        return text.lower() in allowed
    formula = _number_formula("J2", row.min_value, row.max_value, row.whole)
    return evaluate(formula, value)


def _typed(value: float | str) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return value


def test_template_and_server_give_the_same_verdict_for_every_indicator(store: Engine) -> None:
    with Session(store) as session:
        ids = sorted(i.id for i in session.execute(select(Indicator)).scalars() if i.formula is None)
        indicators = {i.id: i for i in session.execute(select(Indicator)).scalars()}
        rules = value_rules_for(session, ids)
        codelists = codelists_for(session)
        ctx = build_context(session, "notts_cyp")
    # One org per sample, so no two rows are the same figure and cross-figure rules compare like with like.
    orgs = [f"T{i:04d}" for i in range(len(SAMPLES))]
    ctx = dataclasses.replace(
        ctx, agency_indicators=frozenset(ids), agency_orgs=frozenset(orgs), known_orgs=frozenset(orgs)
    )
    rows = []
    for ind_id in ids:
        period = PERIODS[indicators[ind_id].period_type]
        for org, value in zip(orgs, SAMPLES, strict=True):
            rows.append({"indicator": ind_id, "org": org, "period": period, "value": _typed(value)})
    frame = pl.DataFrame(rows).with_row_index("row", offset=2).with_columns(pl.col("row").cast(pl.Int64))
    result = validate(frame, ctx)
    refused = set(result.problems.filter(pl.col("severity") == "error")["row"].to_list())
    disagreements = []
    for r in frame.iter_rows(named=True):
        value = SAMPLES[orgs.index(r["org"])]
        rule = rules[r["indicator"]]
        codes = [c for c, _ in codelists.get(rule.judgement_codelist or "", [])]
        excel = _excel(rule, as_typed(rule, value), codes)
        server = r["row"] not in refused
        if excel != server:
            disagreements.append(
                (
                    r["indicator"],
                    value,
                    "Excel accepts" if excel else "Excel refuses",
                    "server accepts" if server else "server refuses",
                )
            )
    assert disagreements == [], sorted({d[1:] for d in disagreements}, key=str)
    assert len(ids) > 100
