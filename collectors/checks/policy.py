"""What a way in's figures are checked against, and which checks hold them: the context read once per upload (the
catalogue, the agency's duties, the figures compared with) and the way in's policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import polars as pl

from indicators.rules import Rule


@dataclass(frozen=True)
class Context:
    """What validation needs to know, read once per upload."""

    agency_code: str
    #: One row per indicator: id, statistic, multiplier, decimals, period_type, derived, source_body,
    #: range_min, range_max, judgement_codelist, breakdowns (list of dimension ids).
    indicators: pl.DataFrame
    known_orgs: frozenset[str]
    agency_orgs: frozenset[str]
    agency_indicators: frozenset[str]
    codelists: dict[str, frozenset[str]]
    #: Current figures for keys in the upload: indicator_id, org_code, period, breakdown, obs_id,
    #: version, value, numerator, denominator, symbol, flag, status, note.
    current: pl.DataFrame
    #: The catalogue's plausibility rules, in catalogue order.
    rules: tuple[Rule, ...] = ()
    #: Figures for periods that begin after this day are refused.
    today: date = field(default_factory=lambda: datetime.now(UTC).date())
    #: Every indicator's definition, for the rules (id -> Facts).
    catalogue: dict[str, Facts] = field(default_factory=dict)
    #: Reads what the rules compare an upload with, by the upload's keys (the store's reader): the same
    #: org units and periods of its indicators and their partners, and each series' latest earlier
    #: figure for the indicators given. ``current`` is used without it.
    stored_for: Callable[[pl.DataFrame, dict[str, frozenset[str]], frozenset[str]], pl.DataFrame] | None = None


@dataclass(frozen=True)
class Policy:
    """Which checks a way in's figures are held to; the defaults are an agency's upload, held to them all."""

    #: Only the indicators and org units the agency answers for (its duties); off for a publisher, who publishes
    #: its figures for every area.
    designated: bool = True
    #: An indicator the catalogue works out from other figures may be given (a publisher publishes its rates).
    derived_given: bool = False
    #: A figure's note explains it and so answers a query; a publisher's value note never does.
    notes_explain: bool = True
    #: Which of the catalogue's plausibility rules apply (None: every one).
    rule: Callable[[Rule], bool] | None = None

    def rules(self, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        """The rules of ``rules`` this policy applies."""
        return rules if self.rule is None else tuple(r for r in rules if self.rule(r))


#: An agency's upload (a template or a file of figures, or figures derived from its records): every check.
EVERY_CHECK = Policy()


@dataclass(frozen=True)
class Facts:
    """What the rules read of an indicator's definition."""

    statistic: str
    unit: str
    formula: str | None
    breakdowns: tuple[str, ...]
    aggregation: str
    numerator: str | None
    denominator: str | None
    range_min: float | None
    range_max: float | None
