"""The derived-indicator formula parser: safe, exact, and clear about mistakes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indicators.formula import evaluate, parse_formula, references
from onereturn.errors import InvalidInput


def test_references_in_order_of_first_use() -> None:
    node = parse_formula("100 * (cyp.a_n + cyp.b_n) / pop.resident_0_17 - cyp.a_n")
    assert references(node) == ["cyp.a_n", "cyp.b_n", "pop.resident_0_17"]


@pytest.mark.parametrize(
    ("formula", "values", "expected"),
    [
        ("100 * x.n / x.d", {"x.n": 3, "x.d": 12}, 25.0),
        ("10000 * x.n / x.d", {"x.n": 7, "x.d": 70000}, 1.0),
        ("x.a - x.b", {"x.a": 61.5, "x.b": 40.0}, 21.5),
        ("-(x.a) + 2 * 3", {"x.a": 1}, 5.0),
        ("1 + 2 * 3 - 4 / 2", {}, 5.0),
    ],
)
def test_evaluates_with_usual_precedence(formula: str, values: dict[str, float], expected: float) -> None:
    assert evaluate(parse_formula(formula), values) == pytest.approx(expected)


def test_missing_term_and_zero_denominator_give_no_figure() -> None:
    node = parse_formula("100 * x.n / x.d")
    assert evaluate(node, {"x.n": 3}) is None
    assert evaluate(node, {"x.n": 3, "x.d": 0}) is None


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("__import__('os').system('x')", "unexpected"),
        ("x.a ** 2", "unexpected"),
        ("(x.a + 1", "ends too early"),
        ("x.a x.b", "after a complete expression"),
        ("", "empty"),
        ("abs(x.a)", "unexpected"),
    ],
)
def test_rejects_anything_but_arithmetic_over_ids(formula: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_formula(formula)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=10**6))
def test_percentage_formula_matches_direct_arithmetic(n: int, d: int) -> None:
    assert evaluate(parse_formula("100 * a.n / a.d"), {"a.n": n, "a.d": d}) == pytest.approx(100 * n / d)
