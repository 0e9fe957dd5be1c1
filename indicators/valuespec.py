"""What one value of an indicator may be: the single rule the template's Excel validation and the upload's checks share.

The template (collectors/figures/workbooks.py) turns a ValueSpec into an Excel data validation; the upload's checks
(collectors/checks/__init__.py) check the same bounds, so a value Excel refuses is the value the server
refuses, and the other way round. Only error-tier bounds belong here: a query (a usual range, a
change) is a question to the person, never a value the template refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from indicators.rules import Rule, first_binding

#: Statistics that can never be negative.
NON_NEGATIVE = frozenset({"count", "percentage", "rate", "mean", "duration", "score"})
#: Statistics the template asks numerator and denominator for (when the service does not derive them).
RATIO = frozenset({"percentage", "rate"})


@dataclass(frozen=True)
class ValueSpec:
    """The bounds and kind of one indicator's value, as both the template and the upload check them."""

    statistic: str
    decimals: int
    min_value: float | None
    max_value: float | None
    whole: bool
    judgement_codelist: str | None
    ratio: bool
    #: The plausible_range rule that sets max_value (None when no rule bounds it).
    plausible_rule: Rule | None


def value_spec(ind: Any, plausible: Rule | None) -> ValueSpec:
    """Work out an indicator's ValueSpec from its definition and the plausible_range rule that covers it."""
    statistic = ind.statistic
    lo: float | None = 0.0 if statistic in NON_NEGATIVE else None
    hi: float | None = 100.0 if statistic == "percentage" else None
    rule = plausible if plausible is not None and plausible.severity == "error" else None
    if rule is not None and statistic != "percentage":
        low, high = rule.param("min"), rule.param("max")
        if low is not None:
            lo = float(low) if lo is None else max(lo, float(low))
        if high is not None:
            hi = float(high)
    return ValueSpec(
        statistic=statistic,
        decimals=ind.decimals,
        min_value=lo,
        max_value=hi,
        # A count kept to decimals (full-time equivalents, tonnes) takes fractions; the catalogue says which.
        whole=statistic == "count" and ind.decimals == 0,
        judgement_codelist=ind.judgement_codelist,
        ratio=statistic in RATIO and ind.formula is None,
        plausible_rule=rule,
    )


def value_specs(indicators: dict[str, Any], rules: list[Rule]) -> dict[str, ValueSpec]:
    """Work out the ValueSpec of every indicator, each bounded by the first plausible_range rule covering it."""
    plausible = first_binding(rules, "plausible_range", indicators)
    return {i: value_spec(ind, plausible.get(i)) for i, ind in indicators.items()}
