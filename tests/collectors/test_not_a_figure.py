"""NaN, infinity and negative zero are refused in value, numerator and denominator, in every format."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator

import polars as pl
import pytest
import xlsxwriter
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.checks.context import build_context
from collectors.figures.service import submit
from collectors.figures.validate import validate
from onereturn.settings import Settings
from tests.stores import copied_store

COLUMNS = ("indicator", "org", "period", "value", "numerator", "denominator")
#: A percentage, so value, numerator and denominator are all read.
GOOD: dict[str, object] = {
    "indicator": "cyp.lac_iro_consultation",
    "org": "E10000024",
    "period": "FY2024-25-Q2",
    "value": "50",
    "numerator": "5",
    "denominator": "10",
}
CASES = [
    ("NaN", "is NaN (not a number)"),
    ("nan", "is NaN (not a number)"),
    ("inf", "is infinite"),
    ("-Infinity", "is infinite"),
    ("1e999", "is infinite"),
    ("-0", "is negative zero"),
    ("-0.00", "is negative zero"),
]


@pytest.fixture(scope="module")
def store(store_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One private store for the module's dry runs, which store nothing, per engine, not one copy a test."""
    with copied_store(store_template, tmp_path_factory.mktemp("store")) as engine:
        yield engine


def _csv(row: dict[str, object]) -> bytes:
    return (",".join(COLUMNS) + "\n" + ",".join(str(row[c]) for c in COLUMNS) + "\n").encode()


def _xlsx(row: dict[str, object]) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet("Figures")
    sheet.write_row(0, 0, COLUMNS)
    for i, column in enumerate(COLUMNS):
        cell = row[column]
        if isinstance(cell, float):
            sheet.write_number(1, i, cell)
        else:
            sheet.write_string(1, i, str(cell))
    book.close()
    return buffer.getvalue()


def _json(row: dict[str, object]) -> bytes:
    return json.dumps([row]).encode()


def _problems(store: Engine, settings: Settings, name: str, data: bytes) -> list[dict[str, object]]:
    outcome = submit(store, settings, agency_code="notts_cyp", filename=name, data=data, mode="dry_run")
    assert outcome.problems is not None
    return [p for p in outcome.problems.to_dicts() if p["severity"] == "error"]


def test_the_good_row_is_accepted(store: Engine, store_settings: Settings) -> None:
    for name, data in (("f.csv", _csv(GOOD)), ("f.xlsx", _xlsx(GOOD)), ("f.json", _json(GOOD))):
        assert _problems(store, store_settings, name, data) == []


@pytest.mark.parametrize("column", ["value", "numerator", "denominator"])
@pytest.mark.parametrize(("text", "says"), CASES)
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_not_a_figure_is_refused_with_a_precise_message(
    store: Engine, store_settings: Settings, fmt: str, column: str, text: str, says: str
) -> None:
    row = {**GOOD, column: text}
    data = {"csv": _csv, "xlsx": _xlsx, "json": _json}[fmt](row)
    problems = _problems(store, store_settings, f"f.{fmt}", data)
    assert [(p["column"], p["value"]) for p in problems if p["rule"] == "type-error"] == [(column, text)]
    message = str(next(p["message"] for p in problems if p["rule"] == "type-error"))
    assert message.startswith(f"{text} {says}")


@pytest.mark.parametrize("column", ["value", "numerator", "denominator"])
def test_negative_zero_as_a_number_is_refused_in_json_and_xlsx(
    store: Engine, store_settings: Settings, column: str
) -> None:
    as_json = json.dumps([{**GOOD, column: 0}]).replace(f'"{column}": 0', f'"{column}": -0').encode()
    for name, data in (("f.json", as_json), ("f.xlsx", _xlsx({**GOOD, column: -0.0}))):
        problems = _problems(store, store_settings, name, data)
        assert [(p["column"], p["value"]) for p in problems] == [(column, "-0")], name
        assert "negative zero" in str(problems[0]["message"])


def _given(value: object, numerator: object, denominator: object) -> pl.DataFrame:
    typed = pl.String if isinstance(value, str) else pl.Float64
    return pl.DataFrame(
        {
            "row": [1],
            **{c: [GOOD[c]] for c in ("indicator", "org", "period")},
            "breakdown": [""],
            "value": [value],
            "numerator": [numerator],
            "denominator": [denominator],
        },
        schema_overrides=dict.fromkeys(("value", "numerator", "denominator"), typed),
    )


def test_figures_given_as_numbers_are_taken_as_they_are_and_checked_as_text_is(store: Engine) -> None:
    """The figures the service derives reach validation as numbers: stored as the same figures their text gives,
    and NaN, infinity and negative zero refused as they are in a file's text (numbers were refused outright)."""
    with Session(store) as session:
        ctx = build_context(session, "notts_cyp")
    as_text = validate(_given("50", "5", "10"), ctx)
    as_numbers = validate(_given(50.0, 5.0, 10.0), ctx)
    assert as_numbers.error_count == 0
    assert as_numbers.accepted.to_dicts() == as_text.accepted.to_dicts()
    for column, bad, says in (
        ("value", math.nan, "is NaN"),
        ("numerator", math.inf, "is infinite"),
        ("denominator", -0.0, "is negative zero"),
    ):
        cells: dict[str, object] = {"value": 50.0, "numerator": 5.0, "denominator": 10.0, column: bad}
        result = validate(_given(cells["value"], cells["numerator"], cells["denominator"]), ctx)
        errors = [p for p in result.problems.to_dicts() if p["rule"] == "type-error"]
        assert [p["column"] for p in errors] == [column]
        assert says in str(errors[0]["message"])
        assert result.accepted.is_empty()
