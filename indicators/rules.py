"""Plausibility rules as catalogue data: what each kind means and which indicators a rule binds.

A rule is declared in a catalogue file (``[[rule]]`` tables, bundled in ``catalogue/rules.toml``)
with an id, a kind, a severity and a plain-English message. The kinds are fixed here; which
indicators they bind, their bounds and thresholds, and their words are data. Uploads are checked
against them (``collectors/checks/crosscheck.py``) together with the figures already stored. The rule
files are read and checked with the rest of the catalogue, in ``indicators/catalogue.py``.

Severities follow the tiers of DfE's COLLECT: an *error* breaks a data rule and the figure is
not stored; a *query* marks data that is unusual or unexpected and is stored once explained with
a note; *information* needs no action.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

RuleKind = Literal[
    "part_of_whole",
    "numerator_of_denominator",
    "breakdown_sum",
    "plausible_range",
    "usual_range",
    "change",
    "ratio_parts_given",
    "percentage_scale",
]
Severity = Literal["error", "query", "information"]
SEVERITIES: tuple[Severity, ...] = ("error", "query", "information")
_ID = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"

#: The placeholders a message of each kind may use; every one is filled when the rule fires.
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "part_of_whole": frozenset({"part", "whole", "part_value", "whole_value", "whole_where", "part_where"}),
    "numerator_of_denominator": frozenset(
        {"indicator", "part", "whole", "part_value", "whole_value", "whole_where", "part_where"}
    ),
    "breakdown_sum": frozenset({"indicator", "dimension", "parts", "parts_sum", "total", "total_where"}),
    "plausible_range": frozenset({"indicator", "value", "unit", "min", "max"}),
    "usual_range": frozenset({"indicator", "value", "min", "max", "outcome"}),
    "change": frozenset({"indicator", "value", "last_value", "last_period", "threshold", "outcome"}),
    "ratio_parts_given": frozenset({"indicator", "value", "missing", "outcome"}),
    "percentage_scale": frozenset({"indicator", "value", "scaled", "outcome"}),
}
#: The keys each kind needs, beyond id, kind, severity, message and source.
NEEDS: dict[str, tuple[str, ...]] = {
    "part_of_whole": ("part", "whole"),
    "numerator_of_denominator": ("indicator",),
    "breakdown_sum": ("dimension",),
    "plausible_range": (),
    "usual_range": (),
    "change": ("against", "threshold"),
    "ratio_parts_given": (),
    "percentage_scale": ("max",),
}


class RuleSpec(BaseModel):
    """A plausibility rule as written in a catalogue file."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: str = Field(pattern=_ID, max_length=128)
    kind: RuleKind
    severity: Severity
    message: str = Field(min_length=10)
    source: str = Field(min_length=3)
    part: str | None = None
    whole: str | None = None
    indicator: str | None = None
    dimension: str | None = None
    #: plausible_range, usual_range, change, ratio_parts_given, percentage_scale: which indicators it covers.
    units: list[str] = Field(default_factory=list)
    statistics: list[str] = Field(default_factory=list)
    indicators: list[str] = Field(default_factory=list)
    min: float | None = None
    max: float | None = None
    against: Literal["previous_period", "previous_version"] | None = None
    threshold: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _complete(self) -> RuleSpec:
        missing = [k for k in NEEDS[self.kind] if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a {self.kind} rule needs {', '.join(missing)}")
        if self.kind == "plausible_range" and self.min is None and self.max is None:
            raise ValueError("a plausible_range rule needs min or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is larger than max")
        return self

    @field_validator("message")
    @classmethod
    def _placeholders(cls, message: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind not in PLACEHOLDERS:
            return message
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(message) if name}
        except ValueError as exc:
            raise ValueError(f"message is not a valid template: {exc}") from exc
        unknown = sorted(used - PLACEHOLDERS[kind])
        if unknown:
            allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS[kind]))
            raise ValueError(f"message uses {', '.join(unknown)}, which a {kind} rule does not fill ({allowed})")
        return message

    def covers(self, indicator_id: str, statistic: str, unit: str) -> bool:
        """Say whether a rule that selects indicators (by id, statistic or unit) covers this one."""
        if self.indicators and indicator_id not in self.indicators:
            return False
        if self.statistics and statistic not in self.statistics:
            return False
        return not self.units or unit in self.units


@dataclass(frozen=True)
class Rule:
    """A checked rule, as stored and as the upload checks read it."""

    id: str
    kind: str
    severity: str
    message: str
    source: str
    params: dict[str, Any]

    def param(self, key: str) -> Any:
        """Return one of the rule's kind-specific settings (None when not set)."""
        return self.params.get(key)


def to_rule(spec: RuleSpec) -> Rule:
    """Turn a parsed rule into the stored form."""
    params = spec.model_dump(exclude={"id", "kind", "severity", "message", "source"}, exclude_defaults=True)
    return Rule(spec.id, spec.kind, spec.severity, spec.message, spec.source, params)


def breakdown_sum_targets(spec: RuleSpec, indicators: dict[str, Any]) -> list[str]:
    """List the collected, summable indicators a breakdown_sum rule applies to."""
    return [
        i
        for i, ind in indicators.items()
        if spec.dimension in ind.breakdowns
        and ind.aggregation == "sum"
        and ind.formula is None
        and spec.covers(i, ind.statistic, ind.unit)
    ]


def _covers(rule: Rule, indicator_id: str, ind: Any) -> bool:
    for key, have in (("indicators", indicator_id), ("statistics", ind.statistic), ("units", ind.unit)):
        wanted = rule.param(key)
        if wanted and have not in wanted:
            return False
    return True


class FixedCatalogue(dict[str, Any]):
    """Indicators by id that are never changed once made (validation's, read once per catalogue version), so each
    rule's indicators among them are worked out once (:func:`bound_indicators`), not at every upload."""

    def __init__(self, indicators: dict[str, Any]) -> None:
        super().__init__(indicators)
        self.bindings: dict[tuple[str, str, str], tuple[str, ...]] = {}


def bound_indicators(rule: Rule, indicators: dict[str, Any]) -> list[str]:
    """List the indicators a rule checks (the collected ones whose figures it reads), in id order.

    ``indicators`` maps ids to stored indicators or specs (anything with statistic, unit, formula,
    breakdowns, aggregation, numerator and denominator); a :class:`FixedCatalogue` remembers the answer.
    """
    if not isinstance(indicators, FixedCatalogue):
        return _bound(rule, indicators)
    # The rule whole: a catalogue version's rules keep their ids, but another's may bind the same id otherwise.
    key = (rule.id, rule.kind, repr(sorted(rule.params.items())))
    found = indicators.bindings.get(key)
    if found is None:
        found = indicators.bindings.setdefault(key, tuple(_bound(rule, indicators)))
    return list(found)


def _bound(rule: Rule, indicators: dict[str, Any]) -> list[str]:
    collected = {i: ind for i, ind in indicators.items() if ind.formula is None}
    if rule.kind == "part_of_whole":
        found = [rule.param("part"), rule.param("whole")]
    elif rule.kind == "numerator_of_denominator":
        ind = indicators.get(rule.param("indicator"))
        found = [] if ind is None else [ind.numerator, ind.denominator]
    elif rule.kind == "breakdown_sum":
        found = [
            i
            for i, ind in collected.items()
            if rule.param("dimension") in ind.breakdowns and ind.aggregation == "sum" and _covers(rule, i, ind)
        ]
    elif rule.kind == "usual_range":
        found = [i for i, ind in collected.items() if _range_of(ind) != (None, None) and _covers(rule, i, ind)]
    else:
        found = [i for i, ind in collected.items() if _covers(rule, i, ind)]
    return sorted({i for i in found if i in indicators})


def _range_of(ind: Any) -> tuple[float | None, float | None]:
    if hasattr(ind, "range_min"):
        return ind.range_min, ind.range_max
    return (ind.range[0], ind.range[1]) if ind.range else (None, None)


def first_binding(rules: list[Rule], kind: str, indicators: dict[str, Any], **match: Any) -> dict[str, Rule]:
    """For a kind where one rule applies per indicator (plausible_range, change), map each indicator to its first rule."""
    out: dict[str, Rule] = {}
    for rule in rules:
        if rule.kind != kind or any(rule.param(k) != v for k, v in match.items()):
            continue
        for ind_id in bound_indicators(rule, indicators):
            out.setdefault(ind_id, rule)
    return out
