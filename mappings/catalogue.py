"""Load the return files onto the indicator catalogue and check the whole: fields, usage, lifecycle."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from indicators.breakdown import parse_breakdown
from indicators.catalogue import (
    CATALOGUE_DIR,
    IndicatorCatalogue,
    Located,
    PeriodType,
    load_indicator_files,
    read_files,
    register,
    suggest,
    validation_problems,
)
from indicators.sources import Citation, citation_problems, text_problems
from indicators.tomlfile import Problem, TomlFile, defined_twice
from onereturn.errors import InvalidInput

#: The folder of the bundled return files.
RETURNS_DIR = Path(__file__).resolve().parent / "returns"
#: The folder of the publishers' data sets declared (``collectors.published.sources`` reads them).
PUBLISHED_DIR = Path(__file__).resolve().parent / "published"

ORG_TYPES = (
    "england",
    "region",
    "county",
    "unitary",
    "metropolitan_district",
    "london_borough",
    "non_metropolitan_district",
    "nuts1",
    "nuts2",
    "nuts3",
    "ccg",
    "stp",
    "nhs_region",
    "phe_centre",
    "provider",
    "pct",
    # A council whose children are made up, and the tree of its own it hangs from (mappings/illustrative.py).
    "illustrative_council",
    "illustrative_area",
)
#: Named groups of org types a return may be collected at.
LEVEL_GROUPS: dict[str, tuple[str, ...]] = {
    "upper_tier_la": ("county", "unitary", "metropolitan_district", "london_borough"),
    "lower_tier_la": ("unitary", "metropolitan_district", "london_borough", "non_metropolitan_district"),
    "health_area": ("ccg",),
}
DEADLINE_RULE = re.compile(
    r"^(working_days_after_period_end:\d{1,3}|days_after_period_end:\d{1,3}"
    r"|last_working_day_of_month_after|fixed_after_period_end:(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    # A recipient that moves its date for some periods: ";CY2025=03-12" (that period's date instead).
    r"(;[A-Z]{2}\d{4}(-\d{2})?(-Q[1-4])?=(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))*)$"
)
#: A sign-off rule: a deadline rule, or the agency deadline.
SIGNOFF_RULE = re.compile(DEADLINE_RULE.pattern.removesuffix(")$") + "|agency_deadline)$")
ExportFormat = Literal["xlsx", "csv", "json", "sdmx-csv"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("xlsx", "csv", "json", "sdmx-csv")


def _all_formats() -> list[ExportFormat]:
    return list(EXPORT_FORMATS)


Relation = Literal["identical", "aggregate_of", "subset_of", "derived_from", "different_method"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SuppressionSpec(_Spec):
    """A return's small-number rule: values from ``low`` to ``high`` are shown as ``symbol``."""

    low: float = 1
    high: float = 5
    symbol: str = Field(default="c", min_length=1, max_length=3)
    secondary: bool = True


class RecodeSpec(_Spec):
    """A breakdown recode: codes of ``dim`` folded into the return's own codes (e.g. five age bands into two)."""

    dim: str
    map: dict[str, str] = Field(min_length=1)


class MilestoneSpec(_Spec):
    """A dated step of a return before its final deadline (e.g. data loaded), with its rule and sources."""

    name: str = Field(min_length=3, max_length=64)
    rule: str = Field(pattern=DEADLINE_RULE.pattern)
    sources: list[Citation] = Field(default_factory=list)


class SignoffSpec(_Spec):
    """The date by which each agency's approver must sign its figures off, with where it is documented.

    ``rule`` is a deadline rule, or ``agency_deadline`` where the recipient publishes no sign-off date of
    its own (its sources then say what was searched): the figures are signed off when they are due.
    """

    rule: str = Field(pattern=SIGNOFF_RULE.pattern)
    sources: list[Citation] = Field(default_factory=list)


#: The declaration of a return that names none: the project's own wording, after the approver's
#: confirmation that DfE COLLECT asks of a local authority's return before DfE accepts it.
DEFAULT_DECLARATION = (
    "I confirm that the figures listed are complete and accurate to the best of my knowledge, "
    "that every query on them has been answered, and that I am authorised to sign them off for release."
)


class ReturnSpec(_Spec):
    """A return's header as written in a return file."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    title: str = Field(min_length=3)
    recipient: str = Field(min_length=2)
    submitter: str
    geography_level: str
    period_type: PeriodType
    deadline: str = Field(default="", pattern=DEADLINE_RULE.pattern + "|^$")
    formats: list[ExportFormat] = Field(default_factory=_all_formats)
    legal_basis: str = ""
    status: Literal["active", "legacy", "abolished"] = "active"
    valid_from: date | None = None
    valid_to: date | None = None
    provenance: str = ""
    #: Where the return itself (its existence, recipient, period, legal basis) is documented.
    sources: list[Citation] = Field(default_factory=list)
    #: Where the final ``deadline`` rule is documented.
    deadline_sources: list[Citation] = Field(default_factory=list)
    #: Dated steps before the final deadline, each with its rule and sources.
    milestones: list[MilestoneSpec] = Field(default_factory=list)
    #: When approvers must have signed off (absent: at the agency deadline).
    signoff: SignoffSpec | None = None
    layout: Literal["list", "grid"] = "list"
    #: Org units the return covers; empty means every unit of its geography level.
    orgs: list[str] = Field(default_factory=list)
    suppression: SuppressionSpec | None = None
    rounding: Literal["half_up", "half_even"] = "half_up"
    #: With acceptance on, a sign-off releases the figures only once the officer accepts it.
    needs_acceptance: bool = False
    #: The declaration an approver signs off with, word for word.
    declaration: str = Field(default=DEFAULT_DECLARATION, min_length=20, max_length=2000)
    #: Recipients besides ``recipient`` whose regulator keys read the return, as its file says why.
    readers: list[str] = Field(default_factory=list)
    #: The publishers (agency codes of ``mappings/published/`` sources) whose figure for an org unit fills a cell
    #: no figure of the body's own fills: never the body the return is sent to.
    from_publishers: list[str] = Field(default_factory=list)


class FieldSpec(_Spec):
    """One field of a return as written in a return file."""

    code: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=2)
    indicator: str
    relation: Relation = "identical"
    breakdown: str = ""
    note: str = ""
    decimals: int | None = Field(default=None, ge=0, le=6)
    scale: float = Field(default=1, gt=0)
    unit: str | None = None
    recode: RecodeSpec | None = None
    #: For a different_method field: the indicator measuring the same concept the return's own way.
    counterpart: str | None = None
    #: Whether the return's publishers may fill the field's cells the body leaves empty (the field's own figure may
    #: be measured in a way no publisher's is).
    from_publishers: bool = True
    #: Why no publisher's figure fills the field's cells where the return takes them (the cell says so).
    unpublished: str = ""
    #: Where the field (its code, label and what it counts) is documented.
    sources: list[Citation] = Field(default_factory=list)


@dataclass
class Catalogue:
    """The whole catalogue: indicators, code lists, returns and their fields, with every problem."""

    indicators: IndicatorCatalogue
    returns: dict[str, Located[ReturnSpec]] = field(default_factory=dict)
    fields: dict[str, list[Located[FieldSpec]]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        """Return the catalogue version: the hash of every indicator and return file."""
        return self.indicators.content_hash

    @property
    def all_problems(self) -> list[Problem]:
        """List every problem, indicator files first, in file and line order."""
        return sorted(self.indicators.problems + self.problems)


def load_catalogue(indicator_dir: Path = CATALOGUE_DIR, returns_dir: Path = RETURNS_DIR) -> Catalogue:
    """Read and check every catalogue file; the result lists problems rather than raising."""
    cat = Catalogue(indicators=load_indicator_files(indicator_dir))
    files, cat.problems, raw = read_files(returns_dir)
    cat.indicators.incomplete = cat.indicators.incomplete or bool(cat.problems)
    cat.indicators.digest.update(raw)
    parts: list[TomlFile] = []
    for doc in files:
        if "part_of" in doc.data:
            parts.append(doc)
        else:
            _read_return(doc, cat)
    for doc in parts:
        target = doc.data["part_of"]
        if target not in cat.returns:
            cat.problems.append(
                Problem(
                    doc.label,
                    doc.tables[""].line_of("part_of"),
                    "broken-reference",
                    f"part_of {target!r} is not a return",
                )
            )
            continue
        _read_fields(doc, target, cat)
    _check_fields(cat)
    _check_usage(cat)
    _check_sources(cat)
    return cat


def _check_sources(cat: Catalogue) -> None:
    reg = register(cat.indicators)
    for ret_id, ret in cat.returns.items():
        spec = ret.spec
        cat.problems += citation_problems(f"return {ret_id}", spec.sources, reg, ret.file, ret.line_of("sources"))
        if spec.deadline:
            cat.problems += citation_problems(
                f"return {ret_id} deadline", spec.deadline_sources, reg, ret.file, ret.line_of("deadline")
            )
        for milestone in spec.milestones:
            cat.problems += citation_problems(
                f"return {ret_id} milestone {milestone.name!r}",
                milestone.sources,
                reg,
                ret.file,
                ret.line_of("milestones"),
            )
        if spec.signoff is not None:
            cat.problems += citation_problems(
                f"return {ret_id} sign-off", spec.signoff.sources, reg, ret.file, ret.line_of("signoff")
            )
            if not spec.deadline:
                cat.problems.append(
                    Problem(
                        ret.file,
                        ret.line_of("signoff"),
                        "invalid-definition",
                        f"return {ret_id}: a sign-off date needs a final deadline",
                    )
                )
        if spec.milestones and not spec.deadline:
            cat.problems.append(
                Problem(
                    ret.file,
                    ret.line_of("milestones"),
                    "invalid-definition",
                    f"return {ret_id}: milestones need a final deadline",
                )
            )
        for loc in cat.fields.get(ret_id, []):
            cat.problems += citation_problems(
                f"{ret_id} field {loc.spec.code}", loc.spec.sources, reg, loc.file, loc.line_of("sources")
            )
            cat.problems += text_problems(
                f"{ret_id} field {loc.spec.code}",
                {"label": loc.spec.label, "note": loc.spec.note},
                loc.file,
                loc.line_of,
            )
        cat.problems += text_problems(
            f"return {ret_id}",
            {"title": spec.title, "provenance": spec.provenance, "legal_basis": spec.legal_basis},
            ret.file,
            ret.line_of,
        )


def _read_return(doc: TomlFile, cat: Catalogue) -> None:
    for key in doc.data:
        if key not in ("return", "field"):
            cat.problems.append(
                Problem(doc.label, doc.tables[""].line_of(key), "invalid-definition", f"unknown top-level key {key!r}")
            )
    block = doc.table_block("return")
    if "return" not in doc.data:
        cat.problems.append(
            Problem(doc.label, 1, "invalid-definition", "a return file needs a [return] table or part_of")
        )
        return
    try:
        spec = ReturnSpec.model_validate(doc.data["return"])
    except ValidationError as exc:
        cat.problems += validation_problems(exc, doc.label, block.keys, block.line)
        return
    if twice := defined_twice(cat.returns, spec.id, "return", doc.label, block.line_of("id")):
        cat.problems.append(twice)
        return
    known_levels = (*ORG_TYPES, *LEVEL_GROUPS)
    if spec.geography_level not in known_levels:
        cat.problems.append(
            Problem(
                doc.label,
                block.line_of("geography_level"),
                "unknown-code",
                f"geography_level {spec.geography_level!r}; expected one of {', '.join(known_levels)}",
            )
        )
    body_types = cat.indicators.codelists.get("body_type")
    if body_types is None or spec.submitter not in body_types.spec.codes:
        cat.problems.append(
            Problem(
                doc.label,
                block.line_of("submitter"),
                "unknown-code",
                f"submitter {spec.submitter!r} is not a body_type",
            )
        )
    cat.returns[spec.id] = Located(spec, doc.label, block.line, block.keys)
    cat.fields[spec.id] = []
    _read_fields(doc, spec.id, cat)


def _read_fields(doc: TomlFile, return_id: str, cat: Catalogue) -> None:
    items = doc.data.get("field", [])
    seen = {f.spec.code: f for f in cat.fields[return_id]}
    for index, body in enumerate(items if isinstance(items, list) else []):
        block = doc.array_block("field", index)
        try:
            spec = FieldSpec.model_validate(body)
        except ValidationError as exc:
            cat.problems += validation_problems(exc, doc.label, block.keys, block.line)
            continue
        if spec.code in seen:
            first = seen[spec.code]
            cat.problems.append(
                Problem(
                    doc.label,
                    block.line_of("code"),
                    "duplicate-id",
                    f"field {spec.code!r} of return {return_id!r} is also at {first.file}:{first.line}",
                )
            )
            continue
        located = Located(spec, doc.label, block.line, block.keys)
        seen[spec.code] = located
        cat.fields[return_id].append(located)


def _check_fields(cat: Catalogue) -> None:
    """Each return's fields name indicators the catalogue has, in force while the return is, by breakdowns they have."""
    indicators = cat.indicators.indicators
    for return_id, fields in cat.fields.items():
        ret = cat.returns[return_id].spec
        for loc in fields:
            spec = loc.spec
            target = indicators.get(spec.indicator)
            if target is None:
                if cat.indicators.known(spec.indicator):
                    continue
                cat.problems.append(
                    Problem(
                        loc.file,
                        loc.line_of("indicator"),
                        "broken-reference",
                        f"{return_id} field {spec.code}: indicator {spec.indicator!r} is not in the catalogue{suggest(spec.indicator, indicators)}",
                    )
                )
                continue
            if spec.counterpart is not None and spec.counterpart not in indicators:
                cat.problems.append(
                    Problem(
                        loc.file,
                        loc.line_of("counterpart"),
                        "broken-reference",
                        f"{return_id} field {spec.code}: counterpart {spec.counterpart!r} is not in the catalogue",
                    )
                )
            if spec.counterpart is not None and spec.relation != "different_method":
                cat.problems.append(
                    Problem(
                        loc.file,
                        loc.line_of("counterpart"),
                        "invalid-definition",
                        f"{return_id} field {spec.code}: only a different_method field has a counterpart",
                    )
                )
            if target.spec.status == "abolished" and ret.status != "abolished":
                cat.problems.append(
                    Problem(
                        loc.file,
                        loc.line_of("indicator"),
                        "abolished-indicator",
                        f"{return_id} field {spec.code}: indicator {spec.indicator!r} is abolished (valid to {target.spec.valid_to}) but the return is {ret.status}",
                    )
                )
            _check_breakdown(cat, return_id, loc, target.spec.breakdowns)


def _check_breakdown(cat: Catalogue, return_id: str, loc: Located[FieldSpec], breakdowns: list[str]) -> None:
    """A field's breakdown is well formed, and each of its parts a breakdown of its indicator and a code of its list."""
    codelists = cat.indicators.codelists
    spec = loc.spec
    try:
        parts = parse_breakdown(spec.breakdown)
    except InvalidInput as exc:
        cat.problems.append(Problem(loc.file, loc.line_of("breakdown"), "invalid-definition", exc.message))
        return
    for dim, code in parts.items():
        if dim not in breakdowns:
            cat.problems.append(
                Problem(
                    loc.file,
                    loc.line_of("breakdown"),
                    "unknown-code",
                    f"{return_id} field {spec.code}: {spec.indicator} has no breakdown {dim!r} (it has {breakdowns or 'none'})",
                )
            )
        elif dim in codelists and code not in codelists[dim].spec.codes:
            cat.problems.append(
                Problem(
                    loc.file,
                    loc.line_of("breakdown"),
                    "unknown-code",
                    f"{return_id} field {spec.code}: {code!r} is not a code of {dim!r}",
                )
            )


def _check_usage(cat: Catalogue) -> None:
    if cat.indicators.incomplete:
        return
    indicators = cat.indicators.indicators
    used: set[str] = set()
    stack = [f.spec.indicator for fields in cat.fields.values() for f in fields if f.spec.indicator in indicators]
    stack += [ref for refs in cat.indicators.invalid.values() for ref in refs if ref in indicators]
    while stack:
        ind_id = stack.pop()
        if ind_id in used:
            continue
        used.add(ind_id)
        stack += [r for r in indicators[ind_id].spec.refs if r in indicators]
    for ind_id, loc in indicators.items():
        if ind_id not in used and loc.spec.status != "abolished":
            cat.problems.append(
                Problem(
                    loc.file,
                    loc.line_of("id"),
                    "unused-indicator",
                    f"{ind_id} is used by no return field (directly or as a numerator, denominator or formula term)",
                )
            )
