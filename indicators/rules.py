"""Plausibility rules as catalogue data: what each kind means, how a rule file is read and checked.

A rule is declared in a catalogue file (``[[rule]]`` tables, bundled in ``catalogue/rules.toml``)
with an id, a kind, a severity and a plain-English message. The kinds are fixed here; which
indicators they bind, their bounds and thresholds, and their words are data. Uploads are checked
against them (``collectors/crosscheck.py``) together with the figures already stored.

Severities follow the tiers of DfE's COLLECT: an *error* breaks a data rule and the figure is
not stored; a *query* marks data that is unusual or unexpected and is stored once explained with
a note; *information* needs no action.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from indicators.tomlfile import Problem, TomlFile

if TYPE_CHECKING:
    from indicators.catalogue import IndicatorCatalogue, Located

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


def read_rules(doc: TomlFile, cat: IndicatorCatalogue) -> None:
    """Read the ``[[rule]]`` tables of one file into the catalogue."""
    from indicators.catalogue import Located, validation_problems

    items = doc.data.get("rule", [])
    if not isinstance(items, list):
        cat.problems.append(Problem(doc.label, 1, "invalid-definition", "rule must be an array of tables ([[rule]])"))
        return
    for index, body in enumerate(items):
        block = doc.array_block("rule", index)
        try:
            spec = RuleSpec.model_validate(body)
        except ValidationError as exc:
            cat.problems += validation_problems(exc, doc.label, block.keys, block.line)
            continue
        if spec.id in cat.rules:
            first = cat.rules[spec.id]
            cat.problems.append(
                Problem(
                    doc.label,
                    block.line_of("id"),
                    "duplicate-id",
                    f"rule {spec.id!r} is also defined at {first.file}:{first.line}",
                )
            )
            continue
        cat.rules[spec.id] = Located(spec, doc.label, block.line, block.keys)


def check_rules(cat: IndicatorCatalogue) -> None:
    """Check that every rule's references resolve and can ever fire."""
    from indicators.catalogue import suggest

    units = {loc.spec.unit for loc in cat.indicators.values()}
    for rule_id, loc in cat.rules.items():
        spec: RuleSpec = loc.spec

        def problem(key: str, message: str, loc: Located[RuleSpec] = loc, rule_id: str = rule_id) -> None:
            cat.problems.append(Problem(loc.file, loc.line_of(key), "broken-rule", f"{rule_id}: {message}"))

        for key in ("part", "whole", "indicator"):
            ref = getattr(spec, key)
            if ref is not None and not cat.known(ref):
                problem(key, f"{key} {ref!r} is not an indicator{suggest(ref, cat.indicators)}")
        for ref in spec.indicators:
            if not cat.known(ref):
                problem("indicators", f"indicator {ref!r} is not an indicator{suggest(ref, cat.indicators)}")
        for unit in spec.units:
            if unit not in units:
                problem("units", f"no indicator has the unit {unit!r}{suggest(unit, units)}")
        _check_kind(cat, spec, problem)


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


def _check_kind(cat: IndicatorCatalogue, spec: RuleSpec, problem: Any) -> None:
    from indicators.catalogue import suggest

    inds = cat.indicators
    if spec.kind == "part_of_whole" and spec.part in inds and spec.whole in inds:
        part, whole = inds[spec.part].spec, inds[spec.whole].spec
        if part.period_type != whole.period_type:
            problem(
                "whole",
                f"{spec.part} is given per {part.period_type} and {spec.whole} per {whole.period_type}, so they never meet",
            )
        if part.unit != whole.unit and part.statistic == whole.statistic == "count":
            problem("whole", f"{spec.part} counts {part.unit!r} but {spec.whole} counts {whole.unit!r}")
        if spec.part == spec.whole:
            problem("whole", "part and whole are the same indicator")
    if spec.kind == "numerator_of_denominator" and spec.indicator in inds:
        ind = inds[spec.indicator].spec
        if not (ind.numerator and ind.denominator):
            problem("indicator", f"{spec.indicator} has no numerator and denominator indicators to compare")
        elif ind.numerator in inds and ind.denominator in inds:
            num, den = inds[ind.numerator].spec, inds[ind.denominator].spec
            if num.period_type != den.period_type:
                problem("indicator", f"{ind.numerator} and {ind.denominator} are given for different kinds of period")
    if spec.kind == "breakdown_sum":
        if spec.dimension not in cat.codelists:
            problem(
                "dimension",
                f"breakdown {spec.dimension!r} is not a code list{suggest(str(spec.dimension), cat.codelists)}",
            )
        elif not breakdown_sum_targets(spec, {i: loc.spec for i, loc in inds.items()}):
            problem("dimension", f"no collected count it covers is broken down by {spec.dimension!r}")
    selectors = bool(spec.units or spec.statistics or spec.indicators)
    if spec.kind in ("plausible_range", "change", "breakdown_sum") and not selectors:
        problem("kind", f"a {spec.kind} rule must say which indicators it covers (units, statistics or indicators)")
    units = {loc.spec.unit for loc in inds.values()}
    resolved = all(u in units for u in spec.units) and all(i in inds for i in spec.indicators)
    selecting = ("plausible_range", "usual_range", "change", "ratio_parts_given", "percentage_scale")
    if (
        spec.kind in selecting
        and resolved
        and not any(
            spec.covers(i, loc.spec.statistic, loc.spec.unit) for i, loc in inds.items() if loc.spec.formula is None
        )
    ):
        problem("kind", "covers no collected indicator")


def _covers(rule: Rule, indicator_id: str, ind: Any) -> bool:
    for key, have in (("indicators", indicator_id), ("statistics", ind.statistic), ("units", ind.unit)):
        wanted = rule.param(key)
        if wanted and have not in wanted:
            return False
    return True


def bound_indicators(rule: Rule, indicators: dict[str, Any]) -> list[str]:
    """List the indicators a rule checks (the collected ones whose figures it reads), in id order.

    ``indicators`` maps ids to stored indicators or specs (anything with statistic, unit, formula,
    breakdowns, aggregation, numerator and denominator).
    """
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


_KIND_WORDS = {
    "part_of_whole": "part not greater than whole",
    "numerator_of_denominator": "numerator not greater than denominator",
    "breakdown_sum": "breakdown parts sum to the total",
    "plausible_range": "plausible range per unit",
    "usual_range": "usual range of the indicator",
    "change": "change beyond a threshold",
    "ratio_parts_given": "percentage given with its numerator and denominator",
    "percentage_scale": "percentage written out of 100",
}


def _what(spec: RuleSpec) -> str:
    if spec.kind == "part_of_whole":
        return f"`{spec.part}` ≤ `{spec.whole}`"
    if spec.kind == "numerator_of_denominator":
        return f"numerator ≤ denominator of `{spec.indicator}`"
    picked = [f"units {', '.join(spec.units)}" if spec.units else "", f"statistics {', '.join(spec.statistics)}" if spec.statistics else "",
              f"indicators {', '.join(spec.indicators)}" if spec.indicators else ""]  # fmt: skip
    scope = "; ".join(p for p in picked if p) or "every collected indicator with a range"
    if spec.kind == "breakdown_sum":
        return f"parts by `{spec.dimension}` = total ({scope})"
    if spec.kind == "plausible_range":
        return f"{spec.min:g} to {spec.max:g} ({scope})" if spec.min is not None and spec.max is not None else scope
    if spec.kind == "change":
        return f"more than {spec.threshold * 100:g}% from the {str(spec.against).replace('_', ' ')} ({scope})"  # type: ignore[operator]
    if spec.kind == "percentage_scale":
        return f"above 0 and at most {spec.max:g} ({scope})"
    return scope


def rules_markdown(cat: IndicatorCatalogue) -> str:
    """Render the catalogue's rules as the Markdown page docs/rules.md."""
    counts: dict[tuple[str, str], int] = {}
    for loc in cat.rules.values():
        counts[(loc.spec.kind, loc.spec.severity)] = counts.get((loc.spec.kind, loc.spec.severity), 0) + 1
    lines = [
        "# Plausibility rules",
        "",
        "Generated from `indicators/catalogue/rules.toml` by `onereturn catalogue rules`; a test keeps it in step.",
        "Every upload is checked against these rules together with the figures already stored. Severities follow",
        "DfE COLLECT: an **error** breaks a data rule and the row is not stored; a **query** marks an unusual or",
        "unexpected figure, stored once explained with a note (in the file, or through",
        "`POST /api/submissions/{id}/queries/{figure}`); **information** needs no action. The same list is served at",
        "`GET /api/rules`.",
        "",
        "The tiers' names and meaning are DfE's: \"You'll get an error when data rules are broken ... You must correct",
        "all errors. You'll get a query where the data is unusual or unexpected ... either amend the data [or] provide",
        'suitable notepad explanations in COLLECT" (DfE, *Check your data*, school census guidance on COLLECT, 21 October',
        "2024, as republished at http://govwire.co.uk/news/department-for-education/check-your-data-106262).",
        "",
        f"{len(cat.rules)} rules:",
        "",
        "| kind | severity | rules |",
        "|---|---|---|",
        *[f"| {_KIND_WORDS[k]} | {sev} | {n} |" for (k, sev), n in sorted(counts.items())],
        "",
        "| id | kind | severity | checks | message |",
        "|---|---|---|---|---|",
    ]
    for rule_id, loc in cat.rules.items():
        spec = loc.spec
        message = spec.message.replace("|", "\\|")
        lines.append(f"| `{rule_id}` | {spec.kind} | {spec.severity} | {_what(spec)} | {message} |")
    return "\n".join(lines) + "\n"
