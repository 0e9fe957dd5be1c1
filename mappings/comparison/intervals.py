"""Confidence intervals and the test against England, by the methods OHID documents for Fingertips.

Methods (OHID, "PHEindicatormethods" R package, the methods Fingertips indicators are produced by,
https://cran.r-project.org/package=PHEindicatormethods, and the Fingertips Public Health Technical
Guide, https://fingertips.phe.org.uk/profile/guidance/supporting-information/PH-methods):

- proportions: Wilson score interval (``phe_proportion``; Wilson 1927, Newcombe and Altman 2000);
- crude rates: Byar's method for a numerator of 10 or more, the exact Poisson interval below 10
  (``phe_rate``: "For numerators >= 10 Byar's method is applied ... for small numerators ... exact");
- the comparison with England: Fingertips' "confidence intervals overlapping reference value (95.0)"
  (the benchmark method in FingertipsNext's indicator list): a council differs from England when its
  95% interval leaves out England's value.

The distributions come from SciPy (``binomtest(...).proportion_ci(method="wilson")``, ``norm``,
``chi2``); only Byar's closed form, which no library carries, is written out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

#: Below this numerator a rate's interval is the exact Poisson one, as phe_rate does.
BYARS_FROM = 10


def _stats() -> Any:
    """SciPy's distributions (scipy.stats, which ships no types), imported on first use."""
    # scipy.stats takes a second or more to import; every process the service starts (the upload pool's,
    # the build process, each CLI command) imports this module, and only comparisons need it.
    from scipy import stats

    return stats


def preload() -> None:
    """Import SciPy's distributions now: a service process calls it as it starts, before its first comparison."""
    _stats()


Method = Literal["wilson", "byars", "exact_poisson"]
Outcome = Literal["better", "worse", "higher", "lower", "similar"]

METHOD_NAMES: dict[str, str] = {
    "wilson": "Wilson score interval (OHID PHEindicatormethods phe_proportion)",
    "byars": "Byar's method (OHID PHEindicatormethods phe_rate, numerator 10 or more)",
    "exact_poisson": "Exact Poisson interval (OHID PHEindicatormethods phe_rate, numerator under 10)",
}


@dataclass(frozen=True)
class Interval:
    """A value's confidence interval, on the indicator's own scale, and how it was worked out."""

    lower: float
    upper: float
    confidence: float
    method: str


def wilson(count: float, denominator: float, multiplier: float = 100.0, confidence: float = 0.95) -> Interval:
    """Wilson score interval of a proportion ``count / denominator``, times ``multiplier``."""
    k, n = round(count), round(denominator)
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(
            f"a proportion needs 0 <= numerator <= denominator and a denominator above 0 (got {count}/{denominator})"
        )
    # Each limit is the one-sided Wilson limit at (1 + confidence) / 2, which is the two-sided interval's: a
    # one-sided test's p-value is one tail sum, where the two-sided test searches the distribution (20x slower).
    one_side = (1 + confidence) / 2
    low = _stats().binomtest(k, n, alternative="greater").proportion_ci(confidence_level=one_side, method="wilson").low
    high = _stats().binomtest(k, n, alternative="less").proportion_ci(confidence_level=one_side, method="wilson").high
    return Interval(float(low) * multiplier, float(high) * multiplier, confidence, "wilson")


def poisson_count(count: float, confidence: float = 0.95) -> tuple[float, float, str]:
    """Interval of an observed count of events: Byar's from 10 events, exact Poisson below."""
    if count < 0:
        raise ValueError(f"a count of events cannot be negative (got {count})")
    alpha = 1 - confidence
    if count >= BYARS_FROM:
        z = float(_stats().norm.ppf(1 - alpha / 2))
        lower = count * (1 - 1 / (9 * count) - z / (3 * math.sqrt(count))) ** 3
        upper_n = count + 1
        upper = upper_n * (1 - 1 / (9 * upper_n) + z / (3 * math.sqrt(upper_n))) ** 3
        return lower, upper, "byars"
    lower = 0.0 if count == 0 else float(_stats().chi2.ppf(alpha / 2, 2 * count)) / 2
    upper = float(_stats().chi2.ppf(1 - alpha / 2, 2 * count + 2)) / 2
    return lower, upper, "exact_poisson"


def rate(count: float, denominator: float, multiplier: float, confidence: float = 0.95) -> Interval:
    """Interval of a crude rate ``multiplier * count / denominator`` (Byar's, or exact for few events)."""
    if denominator <= 0:
        raise ValueError(f"a rate needs a denominator above 0 (got {denominator})")
    lower, upper, method = poisson_count(count, confidence)
    return Interval(lower * multiplier / denominator, upper * multiplier / denominator, confidence, method)


def against_england(interval: Interval, england: float, polarity: str) -> Outcome:
    """Fingertips' test: the council differs from England when its interval leaves England's value out."""
    if interval.lower <= england <= interval.upper:
        return "similar"
    higher = interval.lower > england
    if polarity == "higher_is_better":
        return "better" if higher else "worse"
    if polarity == "lower_is_better":
        return "worse" if higher else "better"
    return "higher" if higher else "lower"
