"""Load the indicator catalogue files and check them: references, formulas, code lists, rules, duplicates."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from indicators.formula import parse_formula, references
from indicators.rules import RuleSpec, breakdown_sum_targets
from indicators.sources import (
    OWN_READING,
    Citation,
    SourceSpec,
    citation_problems,
    names_internal_document,
    text_problems,
)
from indicators.tomlfile import Problem, TomlFile, defined_twice, read_toml
from onereturn.errors import InvalidInput

#: The folder of the bundled indicator files.
CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"
#: The folder of the bundled specifications the record-level returns are read by (DfE's schemas, the SSD's).
SPECIFICATIONS_DIR = Path(__file__).resolve().parent / "specifications"

Statistic = Literal["count", "percentage", "rate", "mean", "score", "duration", "judgement", "gap"]
PeriodType = Literal["month", "quarter", "financial_year", "academic_year", "calendar_year", "snapshot_date"]
RATIO_STATISTICS = ("percentage", "rate")
_ID = r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class CodeListSpec(_Spec):
    """A code list as written in a catalogue file."""

    title: str = Field(min_length=1)
    sources: list[Citation] = Field(default_factory=list)
    codes: dict[str, str] = Field(min_length=1)


class IndicatorSpec(_Spec):
    """An indicator definition as written in a catalogue file."""

    id: str = Field(pattern=_ID, max_length=128)
    title: str = Field(min_length=3)
    plain_title: str = Field(min_length=3)
    definition: str = Field(min_length=10)
    statistic: Statistic
    numerator: str | None = Field(default=None, pattern=_ID)
    denominator: str | None = Field(default=None, pattern=_ID)
    numerator_label: str | None = None
    denominator_label: str | None = None
    multiplier: Literal[1, 100, 1000, 10000, 100000] = 1
    unit: str = Field(min_length=1)
    decimals: int = Field(default=0, ge=0, le=6)
    polarity: Literal["higher_is_better", "lower_is_better", "no_judgement"]
    #: The publisher's own statement of which way is better (or that neither is): without it, no polarity is shown.
    polarity_source: Citation | None = None
    period_type: PeriodType
    time_basis: Literal["snapshot", "cumulative", "rolling_12_months"]
    breakdowns: list[str] = Field(default_factory=list)
    aggregation: Literal["sum", "ratio_of_sums", "weighted_mean", "none"]
    purpose: Literal["process", "output", "outcome", "context"]
    method: str = Field(min_length=1, max_length=128)
    source_body: str = Field(min_length=1)
    formula: str | None = None
    range: tuple[float, float] | None = None
    judgement_codelist: str | None = None
    aliases: list[str] = Field(default_factory=list)
    status: Literal["active", "legacy", "abolished"] = "active"
    valid_from: date | None = None
    valid_to: date | None = None
    #: Locally keyed by ``source_body``, or derived centrally from a national data set (not keyed locally).
    collection: Literal["local", "central"] = "local"
    sources: list[Citation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> IndicatorSpec:
        if self.statistic in RATIO_STATISTICS:
            if not (self.numerator or self.numerator_label) or not (self.denominator or self.denominator_label):
                raise ValueError(f"a {self.statistic} needs a numerator and a denominator (an indicator id or a label)")
            if self.multiplier == 1 and self.statistic == "percentage":
                raise ValueError("a percentage needs multiplier = 100")
            if self.aggregation not in ("ratio_of_sums", "none"):
                raise ValueError(
                    f"a {self.statistic} rolls up as ratio_of_sums (or none when it cannot, e.g. an age-standardised rate), never {self.aggregation}"
                )
        if self.statistic == "count" and self.multiplier != 1:
            raise ValueError("a count has multiplier = 1")
        if self.statistic == "count" and self.aggregation not in ("sum", "none"):
            raise ValueError("a count aggregates by sum (or none)")
        if self.statistic == "judgement" and not self.judgement_codelist:
            raise ValueError("a judgement needs judgement_codelist")
        if self.range is not None and self.range[0] > self.range[1]:
            raise ValueError("range must be [low, high]")
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError("valid_from is after valid_to")
        return self

    @property
    def refs(self) -> list[str]:
        """List every indicator id this definition refers to."""
        found = [r for r in (self.numerator, self.denominator) if r]
        if self.formula:
            with contextlib.suppress(InvalidInput):
                found += references(parse_formula(self.formula))
        return found


T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Located(Generic[T]):
    """A parsed spec with the file and line it came from, and the line of each key."""

    spec: T
    file: str
    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        """Return the line of ``key``, or of the table when the key is absent."""
        return self.key_lines.get(key, self.line)


@dataclass
class IndicatorCatalogue:
    """Every code list and indicator in the catalogue files, and what is wrong with them."""

    codelists: dict[str, Located[CodeListSpec]] = field(default_factory=dict)
    #: The register of public documents cited, by id.
    sources: dict[str, Located[SourceSpec]] = field(default_factory=dict)
    indicators: dict[str, Located[IndicatorSpec]] = field(default_factory=dict)
    rules: dict[str, Located[RuleSpec]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    digest: Any = field(default_factory=hashlib.sha256)
    #: Indicators whose definitions are invalid, by id, with the ids they refer to: references to
    #: them are not reported again as broken.
    invalid: dict[str, list[str]] = field(default_factory=dict)
    #: A file could not be parsed, so cross-file checks would only repeat that problem.
    incomplete: bool = False

    def known(self, ind_id: str) -> bool:
        """Say whether ``ind_id`` is defined (validly or not), or cannot be judged yet."""
        return ind_id in self.indicators or ind_id in self.invalid or self.incomplete

    @property
    def content_hash(self) -> str:
        """Return the hash of every file read, in order (the catalogue version)."""
        return str(self.digest.hexdigest())


def validation_problems(exc: ValidationError, label: str, key_line: dict[str, int], line: int) -> list[Problem]:
    """Turn a pydantic error into problems located at the line of the offending key."""
    out = []
    for err in exc.errors():
        key = str(err["loc"][0]) if err["loc"] else ""
        # A key of a table inside the block (``ssd.read.at``) is named whole; its line is its outer key's.
        path = ".".join(str(part) for part in err["loc"])
        where = key_line.get(key, line)
        what = f"{path}: {err['msg']}" if path else err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            what = f"unknown key {path!r}"
        elif err["type"] == "missing":
            what = f"missing key {path!r}"
        out.append(Problem(label, where, "invalid-definition", what))
    return out


def relative_label(path: Path) -> str:
    """Name a file relative to the project, as users see it."""
    root = Path(__file__).resolve().parent.parent
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def read_files(folder: Path) -> tuple[list[TomlFile], list[Problem], bytes]:
    """Read every ``*.toml`` in ``folder`` (sorted), returning parsed files, syntax problems and raw bytes."""
    files: list[TomlFile] = []
    problems: list[Problem] = []
    raw = b""
    for path in sorted(folder.glob("*.toml")):
        raw += path.name.encode() + b"\0" + path.read_bytes()
        parsed = read_toml(path, relative_label(path))
        if isinstance(parsed, Problem):
            problems.append(parsed)
        else:
            files.append(parsed)
    return files, problems, raw


def load_indicator_files(folder: Path = CATALOGUE_DIR) -> IndicatorCatalogue:
    """Parse the indicator and code list files of ``folder`` and check them on their own."""
    cat = IndicatorCatalogue()
    files, cat.problems, raw = read_files(folder)
    cat.incomplete = bool(cat.problems)
    cat.digest.update(raw)
    for doc in files:
        _read_tables(doc, cat, "source", "source", SourceSpec, cat.sources)
        _read_tables(doc, cat, "codelist", "code list", CodeListSpec, cat.codelists)
    for doc in files:
        _read_indicators(doc, cat)
    for doc in files:
        read_rules(doc, cat)
    check_indicators(cat)
    check_sources(cat)
    check_rules(cat)
    return cat


def _read_tables(
    doc: TomlFile, cat: IndicatorCatalogue, name: str, kind: str, model: type[M], into: dict[str, Located[M]]
) -> None:
    """Read each ``[name.<id>]`` table of the file into ``into`` as a ``model``, refusing an id defined before (a
    ``kind`` named twice) and a table the model refuses."""
    entries = doc.data.get(name, {})
    if not isinstance(entries, dict):
        cat.problems.append(Problem(doc.label, 1, "invalid-definition", f"{name} must be a table of tables"))
        return
    for ident, body in entries.items():
        block = doc.table_block(f"{name}.{ident}")
        if twice := defined_twice(into, ident, kind, doc.label, block.line):
            cat.problems.append(twice)
            continue
        try:
            spec = model.model_validate(body)
        except ValidationError as exc:
            cat.problems += validation_problems(exc, doc.label, block.keys, block.line)
            continue
        into[ident] = Located(spec, doc.label, block.line, block.keys)


def register(cat: IndicatorCatalogue) -> dict[str, SourceSpec]:
    """Return the source register as specs by id."""
    return {ref: loc.spec for ref, loc in cat.sources.items()}


def check_sources(cat: IndicatorCatalogue) -> None:
    """Add a problem for every code list or indicator without a public source, and every internal citation."""
    reg = register(cat)
    for ref, loc in cat.sources.items():
        if names_internal_document(loc.spec):
            cat.problems.append(
                Problem(loc.file, loc.line, "internal-source", f"source {ref!r} names an internal document")
            )
    if (cat.codelists or cat.indicators) and OWN_READING not in reg and not cat.incomplete:
        first = next(iter(cat.sources.values()), None) or next(iter(cat.indicators.values()), None)
        where = first.file if first else "indicators/catalogue"
        cat.problems.append(Problem(where, 1, "missing-source", f"the source register needs its {OWN_READING!r} entry"))
    for list_id, cl in cat.codelists.items():
        cat.problems += citation_problems(f"code list {list_id}", cl.spec.sources, reg, cl.file, cl.line_of("sources"))
    for ind_id, ind in cat.indicators.items():
        cat.problems += citation_problems(ind_id, ind.spec.sources, reg, ind.file, ind.line_of("sources"))
        spec = ind.spec
        if spec.polarity_source is None and spec.polarity != "no_judgement":
            cat.problems.append(
                Problem(
                    ind.file,
                    ind.line_of("polarity"),
                    "uncited-polarity",
                    f"{ind_id}: polarity {spec.polarity!r} has no polarity_source; cite the publisher's statement of "
                    'which way is better, or write polarity = "no_judgement" (no direction is served without a source)',
                )
            )
        cat.problems += polarity_problems(ind_id, spec.polarity_source, reg, ind.file, ind.line_of("polarity_source"))
        texts = {"title": spec.title, "plain_title": spec.plain_title, "definition": spec.definition}
        texts |= {"numerator_label": spec.numerator_label or "", "denominator_label": spec.denominator_label or ""}
        cat.problems += text_problems(ind_id, texts, ind.file, ind.line_of)


def polarity_problems(
    label: str, cite: Citation | None, reg: dict[str, SourceSpec], file: str, line: int
) -> list[Problem]:
    """List what is wrong with an indicator's polarity source: it must be a publisher's statement, not own reading."""
    if cite is None:
        return []
    if cite.ref in reg and reg[cite.ref].own_reading:
        return [
            Problem(
                file,
                line,
                "uncited-polarity",
                f"{label}: polarity_source cites the service's own reading; cite the publisher's statement of "
                "which way is better, or leave polarity_source out so that no polarity is shown",
            )
        ]
    return citation_problems(f"{label} polarity", [cite], reg, file, line)


def _read_indicators(doc: TomlFile, cat: IndicatorCatalogue) -> None:
    known_top = {"file", "indicator", "codelist", "source", "rule"}
    for key in doc.data:
        if key not in known_top:
            line = doc.table_block(key).line if key in doc.tables else doc.tables[""].line_of(key)
            cat.problems.append(Problem(doc.label, line, "invalid-definition", f"unknown top-level key {key!r}"))
    items = doc.data.get("indicator", [])
    if "indicator" in doc.data and "file" not in doc.data:
        cat.problems.append(Problem(doc.label, 1, "invalid-definition", "missing [file] table with its provenance"))
    for index, body in enumerate(items if isinstance(items, list) else []):
        block = doc.array_block("indicator", index)
        try:
            spec = IndicatorSpec.model_validate(body)
        except ValidationError as exc:
            cat.problems += validation_problems(exc, doc.label, block.keys, block.line)
            if isinstance(body, dict) and isinstance(body.get("id"), str):
                cat.invalid[body["id"]] = _raw_refs(body)
            continue
        if twice := defined_twice(cat.indicators, spec.id, "indicator", doc.label, block.line_of("id")):
            cat.problems.append(twice)
            continue
        cat.indicators[spec.id] = Located(spec, doc.label, block.line, block.keys)


def _raw_refs(body: dict[str, Any]) -> list[str]:
    refs = [body[k] for k in ("numerator", "denominator") if isinstance(body.get(k), str)]
    if isinstance(body.get("formula"), str):
        with contextlib.suppress(InvalidInput):
            refs += references(parse_formula(body["formula"]))
    return refs


def normalise_title(title: str) -> str:
    """Reduce a title to lower-case words, so spelling variants of one title compare equal."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", title.lower()).split())


def check_indicators(cat: IndicatorCatalogue) -> None:
    """Add every cross-indicator problem: references, code lists, formulas, cycles, duplicates."""
    body_types = cat.codelists.get("body_type")
    for ind_id, loc in cat.indicators.items():
        spec = loc.spec
        for key in ("numerator", "denominator"):
            ref = getattr(spec, key)
            if ref and not cat.known(ref):
                cat.problems.append(
                    Problem(
                        loc.file,
                        loc.line_of(key),
                        "broken-reference",
                        f"{ind_id}: {key} {ref!r} is not an indicator{suggest(ref, cat.indicators)}",
                    )
                )
        if spec.formula:
            try:
                terms = references(parse_formula(spec.formula))
            except InvalidInput as exc:
                cat.problems.append(
                    Problem(loc.file, loc.line_of("formula"), "formula-syntax", f"{ind_id}: {exc.message}")
                )
                terms = []
            for term in terms:
                if not cat.known(term):
                    cat.problems.append(
                        Problem(
                            loc.file,
                            loc.line_of("formula"),
                            "broken-reference",
                            f"{ind_id}: formula term {term!r} is not an indicator{suggest(term, cat.indicators)}",
                        )
                    )
        for dim in spec.breakdowns:
            if dim not in cat.codelists:
                cat.problems.append(
                    Problem(
                        loc.file,
                        loc.line_of("breakdowns"),
                        "unknown-codelist",
                        f"{ind_id}: breakdown {dim!r} is not a code list{suggest(dim, cat.codelists)}",
                    )
                )
        if spec.judgement_codelist and spec.judgement_codelist not in cat.codelists:
            cat.problems.append(
                Problem(
                    loc.file,
                    loc.line_of("judgement_codelist"),
                    "unknown-codelist",
                    f"{ind_id}: judgement_codelist {spec.judgement_codelist!r} is not a code list",
                )
            )
        if body_types is None or spec.source_body not in body_types.spec.codes:
            known = ", ".join(sorted(body_types.spec.codes)) if body_types else "(no body_type code list)"
            cat.problems.append(
                Problem(
                    loc.file,
                    loc.line_of("source_body"),
                    "unknown-code",
                    f"{ind_id}: source_body {spec.source_body!r} is not a body_type; expected one of {known}",
                )
            )
    _check_cycles(cat)
    _check_same_measure(cat)


def suggest(name: str, known: Iterable[str]) -> str:
    """Return a "did you mean" hint for a misspelt name, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_cycles(cat: IndicatorCatalogue) -> None:
    graph = {ind_id: [r for r in loc.spec.refs if r in cat.indicators] for ind_id, loc in cat.indicators.items()}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    reported: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt) :]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    loc = cat.indicators[cycle[0]]
                    key = "formula" if loc.spec.formula else "numerator"
                    cat.problems.append(
                        Problem(loc.file, loc.line_of(key), "formula-cycle", " -> ".join([*cycle, cycle[0]]))
                    )
            elif nxt not in state:
                visit(nxt, path)
        path.pop()
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def _check_same_measure(cat: IndicatorCatalogue) -> None:
    by_ratio: dict[tuple[str, str, str], str] = {}
    by_title: dict[str, str] = {}
    for ind_id, loc in cat.indicators.items():
        spec = loc.spec
        if spec.numerator and spec.denominator:
            key = (spec.numerator, spec.denominator, spec.method)
            if key in by_ratio:
                other = cat.indicators[by_ratio[key]]
                cat.problems.append(
                    Problem(
                        loc.file,
                        loc.line,
                        "duplicate-measure",
                        f"{ind_id} has the same numerator, denominator and method as {other.spec.id} ({other.file}:{other.line})",
                    )
                )
            else:
                by_ratio[key] = ind_id
        title = normalise_title(spec.title)
        if title in by_title:
            other = cat.indicators[by_title[title]]
            cat.problems.append(
                Problem(
                    loc.file,
                    loc.line_of("title"),
                    "duplicate-measure",
                    f"{ind_id} has the same title as {other.spec.id} ({other.file}:{other.line}): {spec.title!r}",
                )
            )
        else:
            by_title[title] = ind_id


def read_rules(doc: TomlFile, cat: IndicatorCatalogue) -> None:
    """Read the ``[[rule]]`` tables of one file into the catalogue."""
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
        if twice := defined_twice(cat.rules, spec.id, "rule", doc.label, block.line_of("id")):
            cat.problems.append(twice)
            continue
        cat.rules[spec.id] = Located(spec, doc.label, block.line, block.keys)


def check_rules(cat: IndicatorCatalogue) -> None:
    """Check that every rule's references resolve and can ever fire."""
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


def _check_kind(cat: IndicatorCatalogue, spec: RuleSpec, problem: Any) -> None:
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
    picked = [
        f"units {', '.join(spec.units)}" if spec.units else "",
        f"statistics {', '.join(spec.statistics)}" if spec.statistics else "",
        f"indicators {', '.join(spec.indicators)}" if spec.indicators else "",
    ]
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
        "A publisher's release (`/api/published`) is checked against the error rules and the change from the",
        "previous version in the same way: any error refuses the whole release, naming the file, row and rule; a",
        "figure that moves from the publisher's previous release beyond the threshold is held until an officer",
        "confirms it (`POST /api/published/queries/{id}`).",
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
