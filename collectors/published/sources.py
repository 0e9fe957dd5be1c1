"""Published sources as data: one file per publisher data set under ``mappings/published/``, checked
against the catalogue like a return's file."""

from __future__ import annotations

import threading
import tomllib
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from indicators.symbols import LOW_RELIABILITY, NO_FIGURE
from indicators.tomlfile import Problem
from mappings.catalogue import PUBLISHED_DIR

if TYPE_CHECKING:
    from mappings.catalogue import Catalogue

#: The data sets declared, in the folder the mappings package names for them (never reached by a relative path).
SOURCES_DIR = PUBLISHED_DIR
#: The bundled publishers' files the demo and the tests read (each folder says where its files came from).
FILES_DIR = Path(__file__).resolve().parent / "files"
#: DfE's Education, health and care plans release (reporting year 2025) as the SEN2 collector ships it, whole: its
#: data files are read from it in place rather than copied under ``files/`` (collectors/sen2/dfe/SOURCE.md). Named by
#: its folder, not imported: publishers' files know nothing of children's records.
EHCP_RELEASE = Path(__file__).resolve().parents[1] / "sen2" / "dfe" / "education-health-and-care-plans_2025.zip"
EHCP_RELEASE_FILES = frozenset(
    f"{name}.csv"
    for name in (
        "annual_reviews",
        "assessments",
        "caseload",
        "ceased_plans",
        "newplans",
        "personal_budgets",
        "requests",
        "residential_settings",
        "sen_need_newplans",
        "sen_needs_all_plans",
        "timeliness_20_week",
        "work_based_placements",
    )
)

#: How a publisher's year becomes a catalogue period, and the period type each rule gives.
#: ``calendar_year``: ``2024`` is the mid-2024 estimate (CY2024); ``march_snapshot``: ``2024`` is the count on
#: 31 March 2024; ``financial_year_ending``: ``2024`` is the year April 2023 to March 2024 (FY2023-24);
#: ``september_snapshot``: ``2024`` is the count on 30 September 2024 (DfE's social work workforce: "Each reporting
#: year covers the period 1 October to 30 September", https://explore-education-statistics.service.gov.uk/
#: find-statistics/children-s-social-work-workforce/2024/explore).
#: Fingertips writes a year as its own ``Time period`` text: ``financial_year_span``: ``2013/14`` is FY2013-14;
#: ``academic_year_span``: ``2019/20`` is AY2019-20 (``calendar_year`` reads ``2012`` as CY2012 there too).
#: EES writes an academic year as its two years run together: ``academic_year``: ``202425`` is AY2024-25 (DfE's EHC
#: plan caseload "as at January each year ... on an academic year basis").
#: DfE's compendium (LAIT) labels a figure by the end year of its academic year: ``academic_year_ending``: ``2025``
#: is AY2024-25 ("A Years label is the end year of an academic year", its data dictionary's ``Year_Type``).
#: DfE's NEET and not known estimates are "an average of December/January/February data ... for an estimate around
#: the end of the calendar year" (LAIT's data dictionary, 16-17 NEET): ``winter_average``: ``2025`` is the average of
#: December 2024 to February 2025, dated the last day it covers, 28 February 2025 (the service's own reading).
PERIOD_RULES: dict[str, str] = {
    "calendar_year": "calendar_year",
    "march_snapshot": "snapshot_date",
    "september_snapshot": "snapshot_date",
    "financial_year_ending": "financial_year",
    "financial_year_span": "financial_year",
    "academic_year_span": "academic_year",
    "academic_year": "academic_year",
    "academic_year_ending": "academic_year",
    "winter_average": "snapshot_date",
}
#: The columns a format's reader adds to the file's own, by format (``lait.py``: each row's level and area code,
#: worked out from DfE's council number).
READER_COLUMNS: dict[str, set[str]] = {"lait_parquet": {"geographic_level", "area_code"}}
PeriodRule = Literal[
    "calendar_year",
    "march_snapshot",
    "september_snapshot",
    "financial_year_ending",
    "financial_year_span",
    "academic_year_span",
    "academic_year",
    "academic_year_ending",
    "winter_average",
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BreakdownSpec(_Spec):
    """How one of the file's columns gives a catalogue breakdown: the dimension, and each publisher's value's code
    (``""``: the total, no breakdown)."""

    dimension: str = Field(min_length=1)
    codes: dict[str, str] = Field(min_length=1)


class FigureSpec(_Spec):
    """One indicator read from one of the file's columns, on the rows the filters select."""

    indicator: str
    value: str = Field(description="The column holding the figure.")
    numerator: str | None = None
    denominator: str | None = None
    #: Filter columns and the one value each must hold on the rows this indicator is read from.
    where: dict[str, str] = Field(default_factory=dict)
    #: Columns giving the figure's breakdown; a row whose value is not listed is refused, naming it.
    breakdown: dict[str, BreakdownSpec] = Field(default_factory=dict)
    period: PeriodRule


class SourceSpec(_Spec):
    """A publisher data set: who publishes it, where, in what layout, and how its columns map onto the catalogue."""

    id: str = Field(pattern=r"^[a-z0-9_]{3,64}$")
    publisher: str = Field(
        pattern=r"^[a-z0-9_]{2,64}$",
        description="The publisher's agency code (its figures are stored as that agency's).",
    )
    #: The publisher's name, for its agency when the deployment has none of that code yet.
    publisher_name: str = Field(min_length=3)
    #: Why the publisher's figures need no sign-off: it publishes them itself as official statistics (cited).
    published: str = Field(min_length=10)
    #: The body that publishes the data set, named as a return names its recipient: a return sent to it never takes
    #: its figures into the cells a body leaves empty (``from_publishers``), whose publishers must all name one.
    body: str = ""
    title: str = Field(min_length=3)
    #: ``ees_csv``: EES tidy CSV, or an EES API ``/query`` result (JSON) of the same data set; ``fingertips``:
    #: Fingertips' "all data" CSV, or a FingertipsNext API ``/indicators/{id}/data`` response (JSON);
    #: ``ndtms_viewit``: an NDTMS ViewIt "download data" CSV, its areas named, not coded (``viewit.py``). The
    #: formats there are, each with its reader, are the rows of ``formats.READERS``.
    format: str = Field(min_length=2)
    #: Where the data set is published (cited): the publisher's page or the repository it is kept in.
    page: str = Field(min_length=8)
    licence: str = Field(min_length=3)
    #: The data set's file name as the publisher gives it; the bundled copy, if any, is under ``files/``.
    file: str
    #: The EES API data set id the scheduled fetch asks for (empty: upload only).
    ees_data_set: str = ""
    #: Every column of the file, in order: a release whose columns differ is refused.
    columns: list[str] = Field(min_length=3)
    #: The Fingertips indicator ids and FingertipsNext area type keys the scheduled fetch asks for (empty: upload only).
    fingertips_indicators: list[int] = Field(default_factory=list)
    fingertips_area_types: list[str] = Field(default_factory=list)
    #: The first year the publisher publishes the data set for, as its own file or page states it (the year its
    #: ``period_column`` gives): a release with an earlier year is refused, as no release of the publisher has one.
    first_year: int | None = Field(default=None, ge=1900, le=2100)
    #: The ``time_identifier`` values the file may carry (EES only).
    time_identifiers: list[str] = Field(default_factory=list)
    #: The column naming each row's geographic level (``Area Type`` in Fingertips' CSV).
    level_column: str = "geographic_level"
    #: The column holding each row's period.
    period_column: str = "time_period"
    #: Geographic level -> the column holding that level's area code.
    levels: dict[str, str] = Field(min_length=1)
    #: The publisher's symbols for a value withheld -> the catalogue's symbol (or ``u``, the low-reliability flag).
    symbols: dict[str, str] = Field(default_factory=dict)
    #: Fingertips' ``Value note`` texts -> the catalogue's symbol for a row with no value (a row with no value and
    #: a note not listed here is stored as not available, ``x``, its note kept).
    value_notes: dict[str, str] = Field(default_factory=dict)
    figure: list[FigureSpec] = Field(min_length=1)
    #: The publisher rounds every count to a multiple of this (0: not rounded); a value that is not is refused,
    #: and each figure notes the rounding as the publisher's.
    rounded_to: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _ees_needs_time_identifiers(self) -> SourceSpec:
        if self.format == "ees_csv" and not self.time_identifiers:
            raise ValueError("an EES source names the time_identifier values its file may carry")
        return self

    @property
    def bundled(self) -> Path:
        """Return where the bundled copy of the publisher's file is."""
        return FILES_DIR / self.file

    def bundled_bytes(self) -> bytes | None:
        """The bundled copy of the publisher's file: under ``files/``, or a data file of DfE's EHC plan release as
        the SEN2 collector ships it (the release's own ZIP, read in place); None when neither holds it."""
        if self.bundled.is_file():
            return self.bundled.read_bytes()
        if self.publisher == "dfe_statistics" and self.file in EHCP_RELEASE_FILES:
            with zipfile.ZipFile(EHCP_RELEASE) as archive:
                return archive.read(f"data/{self.file}")
        return None


@dataclass
class SourceSet:
    """The published sources declared, and every problem found in them."""

    sources: dict[str, SourceSpec] = field(default_factory=dict)
    #: Each source's file, as problems name it.
    labels: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


#: The sources last read from each folder, with each of its files' name and content then.
_READ: OrderedDict[Path, tuple[tuple[tuple[str, bytes], ...], SourceSet]] = OrderedDict()
_READ_LOCK = threading.Lock()
#: Folders whose reading is kept (the bundled one, and a few others as tests and checks of a new folder give).
_READ_KEEP = 4


def load_sources(folder: Path = SOURCES_DIR) -> SourceSet:
    """Read every published source file in ``folder``; problems are listed, not raised.

    Parsed again only where a file was added, removed or changed since the last reading (parsing and checking the 26
    bundled files took 15 ms, a call that finds them unchanged 0.35 ms, and every published page, intake and fetch
    asks for them); the caller gets lists and dicts of its own, the sources themselves are frozen."""
    paths = sorted(folder.glob("*.toml"))
    signature = tuple((p.name, p.read_bytes()) for p in paths)
    with _READ_LOCK:
        held = _READ.get(folder)
        if held is not None and held[0] == signature:
            _READ.move_to_end(folder)
    if held is None or held[0] != signature:
        held = (signature, _read_sources(signature))
        with _READ_LOCK:
            _READ[folder] = held
            _READ.move_to_end(folder)
            while len(_READ) > _READ_KEEP:
                _READ.popitem(last=False)
    found = held[1]
    return SourceSet(dict(found.sources), dict(found.labels), list(found.problems))


def _read_sources(files: tuple[tuple[str, bytes], ...]) -> SourceSet:
    result = SourceSet()
    for name, data in files:
        label = f"mappings/published/{name}"
        try:
            spec = SourceSpec.model_validate(tomllib.loads(data.decode("utf-8")).get("source", {}))
        except tomllib.TOMLDecodeError as exc:
            result.problems.append(Problem(label, 1, "syntax", str(exc)))
            continue
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                result.problems.append(Problem(label, 1, "invalid", f"{where}: {err['msg']}"))
            continue
        if spec.id in result.sources:
            result.problems.append(Problem(label, 1, "duplicate", f"source {spec.id!r} is declared twice"))
            continue
        result.sources[spec.id] = spec
        result.labels[spec.id] = label
    return result


def check_sources(
    sources: SourceSet,
    period_types: dict[str, str],
    agencies: dict[str, bool],
    breakdowns: dict[str, dict[str, set[str]]] | None = None,
    derived: set[str] | None = None,
) -> list[Problem]:
    """Problems of the declared sources against the catalogue: unknown indicators, symbols, columns, period
    types or breakdowns (``period_types``: each catalogue indicator's period type; ``agencies``: each bundled
    agency's code and whether it publishes its figures itself; ``breakdowns``: each indicator's dimensions and
    their codes; ``derived``: the indicators the service works out from others, never stored from a file)."""
    problems = list(sources.problems)
    allowed_symbols = {*NO_FIGURE, LOW_RELIABILITY}
    for spec in sources.sources.values():
        label = sources.labels[spec.id]
        if agencies.get(spec.publisher) is False:
            problems.append(
                Problem(
                    label,
                    1,
                    "unpublished-publisher",
                    f"publisher {spec.publisher!r} is an agency whose figures an approver signs off, not a publisher",
                )
            )
        for theirs, ours in [*spec.symbols.items(), *spec.value_notes.items()]:
            if ours not in allowed_symbols:
                problems.append(
                    Problem(label, 1, "unknown-symbol", f"symbol {theirs!r} maps to {ours!r}, not a catalogue symbol")
                )
        # A format may give columns of its own beside the file's (LAIT's area codes and levels from its numbers).
        named = {spec.period_column, spec.level_column, *spec.levels.values()} - READER_COLUMNS.get(spec.format, set())
        if spec.format == "ees_csv":
            named.add("time_identifier")
        for column in sorted(named - set(spec.columns)):
            problems.append(Problem(label, 1, "unknown-column", f"column {column!r} is not in the declared columns"))
        for fig in spec.figure:
            wanted = period_types.get(fig.indicator)
            if wanted is None:
                problems.append(Problem(label, 1, "unknown-indicator", f"{fig.indicator!r} is not in the catalogue"))
            elif fig.indicator in (derived or set()):
                problems.append(
                    Problem(
                        label,
                        1,
                        "derived-indicator",
                        f"{fig.indicator} is worked out from its terms by the service; map its numerator and "
                        "denominator columns onto those indicators instead",
                    )
                )
            elif PERIOD_RULES[fig.period] != wanted:
                problems.append(
                    Problem(
                        label,
                        1,
                        "period-type",
                        f"{fig.indicator} is a {wanted} indicator; period rule {fig.period!r} gives {PERIOD_RULES[fig.period]}",
                    )
                )
            problems += _breakdown_problems(label, fig, (breakdowns or {}).get(fig.indicator))
            named_columns = [
                c for c in (fig.value, fig.numerator, fig.denominator, *fig.where, *fig.breakdown) if c is not None
            ]
            for name in named_columns:
                if name not in spec.columns:
                    problems.append(
                        Problem(label, 1, "unknown-column", f"{fig.indicator}: column {name!r} is not in the file")
                    )
    return sorted(problems)


def _breakdown_problems(label: str, fig: FigureSpec, dims: dict[str, set[str]] | None) -> list[Problem]:
    """Breakdowns a figure declares that its catalogue indicator does not have, or codes not in the code list."""
    problems: list[Problem] = []
    if dims is None:
        return problems
    for column, split in fig.breakdown.items():
        if split.dimension not in dims:
            problems.append(
                Problem(
                    label,
                    1,
                    "unknown-breakdown",
                    f"{fig.indicator} has no breakdown by {split.dimension!r} (its breakdowns: "
                    f"{', '.join(sorted(dims)) or 'none'})",
                )
            )
            continue
        for theirs, code in split.codes.items():
            if code and code not in dims[split.dimension]:
                problems.append(
                    Problem(
                        label,
                        1,
                        "unknown-code",
                        f"{fig.indicator}: {column} {theirs!r} maps to {code!r}, not a {split.dimension} code",
                    )
                )
    return problems


def check_against(cat: Catalogue, folder: Path | None = None) -> list[Problem]:
    """Problems of the published sources in ``folder`` (default: bundled) against catalogue ``cat``."""
    from mappings.agencies import AGENCIES_DIR

    period_types = {i: str(loc.spec.period_type) for i, loc in cat.indicators.indicators.items()}
    codelists = cat.indicators.codelists
    breakdowns = {
        i: {dim: set(codelists[dim].spec.codes) if dim in codelists else set() for dim in loc.spec.breakdowns}
        for i, loc in cat.indicators.indicators.items()
    }
    agencies: dict[str, bool] = {}
    for path in AGENCIES_DIR.glob("*.toml"):
        agency = tomllib.loads(path.read_text(encoding="utf-8")).get("agency", {})
        if isinstance(agency.get("code"), str):
            agencies[agency["code"]] = bool(agency.get("published"))
    derived = {i for i, loc in cat.indicators.indicators.items() if loc.spec.formula}
    sources = load_sources(folder or SOURCES_DIR)
    problems = check_sources(sources, period_types, agencies, breakdowns, derived)
    return sorted(problems + _from_publishers_problems(cat, sources))


def _from_publishers_problems(cat: Catalogue, sources: SourceSet) -> list[Problem]:
    """A return's ``from_publishers`` naming a publisher no source declares, one whose sources do not say which body
    publishes them, or the very body the return is sent to (or read by): it would send a publisher its own figures."""
    bodies: dict[str, set[str]] = {}
    for spec in sources.sources.values():
        bodies.setdefault(spec.publisher, set()).add(spec.body)
    problems: list[Problem] = []
    for return_id, loc in cat.returns.items():
        ret = loc.spec
        for publisher in ret.from_publishers:
            line = loc.line_of("from_publishers")
            found = bodies.get(publisher)
            if found is None:
                problems.append(
                    Problem(
                        loc.file,
                        line,
                        "unknown-publisher",
                        f"{return_id}: from_publishers names {publisher!r}, which no source in mappings/published/ "
                        f"publishes ({', '.join(sorted(bodies))})",
                    )
                )
            elif "" in found:
                problems.append(
                    Problem(
                        loc.file,
                        line,
                        "invalid-definition",
                        f"{return_id}: from_publishers names {publisher!r}, but not every one of its sources names "
                        "the body that publishes it (body)",
                    )
                )
            elif found & {ret.recipient, *ret.readers}:
                problems.append(
                    Problem(
                        loc.file,
                        line,
                        "own-figures",
                        f"{return_id} is sent to {', '.join(sorted(found & {ret.recipient, *ret.readers}))}, which "
                        f"publishes {publisher!r}'s figures: a return never takes its recipient's own published figures",
                    )
                )
    return problems
