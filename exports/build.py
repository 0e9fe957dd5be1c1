"""Build one return for one period from stored figures: every field, every org unit, every cell.

Each field is resolved through its typed relation: ``identical`` and ``aggregate_of`` fields are
filled from the indicator's figures (rolled up, converted, derived as needed); a
``different_method`` field is never filled: the cell stays empty with the other method's figure
beside it; ``subset_of`` and ``derived_from`` are filled only where the catalogue says how.
Then scale, rounding and the return's small-number suppression; missing cells say who owes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from exports.built import CELL_SCHEMA, LINEAGE_SCHEMA, BuiltReturn, FieldInfo, empty_lineage
from exports.disclosure import suppress_cells
from exports.symbols import display_symbol
from indicators.models import Indicator
from indicators.periods import parse_period
from indicators.published import PublishedFigure, PublishedRelease
from indicators.service import current_catalogue_version
from indicators.sources import definition_sources_text
from indicators.store.models import Observation, Submission
from indicators.symbols import LOW_RELIABILITY
from mappings.agencies import agency_names, publications
from mappings.areas import Geography, GeographyRows
from mappings.filling import Filler, shows_newest
from mappings.levels import covered_orgs
from mappings.models import AgencyIndicator, AgencyOrg, FieldMapping, Return
from mappings.resolve import FACT_SCHEMA, Resolver
from mappings.signoff.states import published_sources
from mappings.transforms import PART_SCHEMA, RATIO_STATISTICS, recode, scaled_rounded
from onereturn.db import rows_frame
from onereturn.errors import InvalidInput, NotFound

#: Stored figures read per statement when tracing cells to them, well under every engine's bind limit.
_IDS_PER_QUERY = 10_000
#: What lineage says of each stored figure behind a cell: the resolver's facts and the figure's upload.
_FACTS = pl.Schema({**FACT_SCHEMA, "agency_code": pl.String(), "filename": pl.String()})


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}"


@dataclass(frozen=True)
class Owners:
    """Who owes which figures: each agency's indicators, and the agencies answering for each org unit."""

    indicators: dict[str, frozenset[str]]
    by_org: dict[str, list[str]]

    def owing(self, terms: list[str]) -> frozenset[str]:
        """Return the agencies owing any of ``terms``, for whichever org units they answer for."""
        return frozenset(a for a, owed in self.indicators.items() if not owed.isdisjoint(terms))

    def of(self, owing: frozenset[str], org: str) -> set[str]:
        """Return the agencies among ``owing`` (:meth:`owing`) that answer for ``org``."""
        return {a for a in self.by_org.get(org, ()) if a in owing}


def owners(session: Session) -> Owners:
    """Read who owes which figures (agencies x indicators and agencies x org units, not their product)."""
    connection = session.connection()
    indicators: dict[str, set[str]] = {}
    for agency, indicator in connection.execute(select(AgencyIndicator.agency_code, AgencyIndicator.indicator_id)):
        indicators.setdefault(agency, set()).add(indicator)
    by_org: dict[str, list[str]] = {}
    for agency, org in connection.execute(select(AgencyOrg.agency_code, AgencyOrg.org_code)):
        by_org.setdefault(org, []).append(agency)
    return Owners({a: frozenset(i) for a, i in indicators.items()}, by_org)


def with_display(cells: pl.DataFrame, suppressed_symbol: str) -> pl.DataFrame:
    """Add what each cell shows: its number with the field's decimals, or the symbol for why there is none."""
    rows = []
    # Only the columns it reads: a row of every column (lists of figure ids among them) costs far more.
    symbols = cells["symbol"].to_list() if "symbol" in cells.columns else [None] * cells.height
    for status, value, decimals, symbol in zip(
        cells["status"].to_list(), cells["value"].to_list(), cells["decimals"].to_list(), symbols, strict=True
    ):
        if status == "present" and value is not None:
            display = _fmt(value, decimals)
        elif status == "suppressed":
            display = suppressed_symbol
        else:
            display = display_symbol(status, symbol)
        rows.append(display)
    return cells.with_columns(pl.Series("display", rows, pl.String))


def _is_date(code: str) -> bool:
    try:
        return parse_period(code).type == "snapshot_date"
    except InvalidInput:
        return False


def _terms(resolver: Resolver, indicator_id: str) -> list[str]:
    from indicators.formula import parse_formula, references

    ind = resolver.indicators[indicator_id]
    if not ind.formula:
        return [indicator_id]
    return [t for term in references(parse_formula(ind.formula)) for t in _terms(resolver, term)]


@dataclass
class _Lent:
    """What builders of one session share, read when first needed."""

    owed_by: Owners | None = None
    agency_names: dict[str, str] | None = None
    publications: dict[str, str] | None = None
    published_by: dict[str, set[tuple[str, str]]] | None = None
    geography: GeographyRows | None = None
    filler: Filler | None = None
    catalogue_version: str | None = None
    published_sources: frozenset[str] | None = None


#: A field's own columns beside each of its cells (``_field_row``).
FIELD_ROW = {
    "_f": pl.Int32,
    "indicator_id": pl.String,
    "field_code": pl.String,
    "decimals": pl.Int64,
    "unit": pl.String,
    "statistic": pl.String,
    "_rel": pl.String,
    "_method": pl.String,
    "_unpublished": pl.String,
}


def _field_row(at: int, field: FieldMapping, ind: Indicator, decimals: int, ret: Return) -> dict[str, Any]:
    """The field's own columns, its relation kept where it leaves the cells unfilled from the catalogue."""
    # The relations that leave a field's cells unfilled (see ``Builder._relations``).
    unfilled = (
        field.relation == "different_method"
        or (field.relation == "subset_of" and not field.breakdown)
        or (field.relation == "derived_from" and not ind.formula)
    )
    return {
        "_f": at,
        "indicator_id": ind.id,
        "field_code": field.code,
        "decimals": decimals,
        "unit": field.unit or ind.unit,
        "statistic": ind.statistic,
        "_rel": field.relation if unfilled else "",
        "_method": ind.method,
        # Why no publisher's figure fills the field's empty cells, said where the return takes publishers' figures.
        "_unpublished": field.unpublished if ret.from_publishers and field.from_publishers else "",
    }


def _field_info(field: FieldMapping, ind: Indicator, decimals: int) -> FieldInfo:
    """What a return's field is, as its export's notes and definitions say: its code and label, its indicator's
    definition and method, its unit and decimals, and the sources of both."""
    return FieldInfo(
        code=field.code,
        label=field.label,
        indicator_id=ind.id,
        indicator_title=ind.title,
        definition=ind.definition,
        statistic=ind.statistic,
        unit=field.unit or ind.unit,
        decimals=decimals,
        multiplier=ind.multiplier,
        method=ind.method,
        relation=field.relation,
        breakdown=field.breakdown,
        source=definition_sources_text(field.sources, ind.sources),
        sources=[{"of": "field", **c} for c in field.sources] + [{"of": "indicator", **c} for c in ind.sources],
    )


class Builder:
    """Builds returns for one period, sharing what it has read across returns."""

    def __init__(self, session: Session, period_text: str, period_type: str, *, sharing: Builder | None = None) -> None:
        """Read what building needs; ``sharing``, a builder of the same session, lends what no period changes."""
        self.session = session
        self.period = parse_period(period_text, period_type)  # type: ignore[arg-type]
        shared = sharing if sharing is not None and sharing.session is session else None
        # Who owes a figure is read only when a cell is missing, once for every builder sharing it.
        self._lent: _Lent = shared._lent if shared else _Lent()
        if self._lent.geography is None:
            self._lent.geography = GeographyRows.read(session)
        self.resolver: Resolver = Resolver(
            session,
            self.period,
            Geography.load(session, self.period, self._lent.geography),
            indicators=shared.resolver.indicators if shared else None,
            # A figure read for one period's returns is not read again for another's (a year-end snapshot is both
            # the quarter's and the year's).
            reads=shared.resolver.reads if shared else None,
        )
        rows = self._lent.geography
        lent = self._lent.filler
        # Figures of other periods (an item's newest) and publishers' figures, what is read of them shared too.
        self.filler = (
            lent.sharing(self.resolver)
            if lent is not None
            else Filler(
                session, self.resolver, lambda p: Geography.load(session, p, rows), names=lambda: self.agency_names
            )
        )
        self._lent.filler = self.filler

    @property
    def owed_by(self) -> Owners:
        """Who owes which figures, read on first use."""
        if self._lent.owed_by is None:
            self._lent.owed_by = owners(self.session)
        return self._lent.owed_by

    @property
    def agency_names(self) -> dict[str, str]:
        """Map each agency code to its name, read on first use."""
        if self._lent.agency_names is None:
            self._lent.agency_names = agency_names(self.session)
        return self._lent.agency_names

    @property
    def published_by(self) -> dict[str, set[tuple[str, str]]]:
        """Map each indicator a publisher's release has given to its (publisher, source) pairs, read on first use."""
        if self._lent.published_by is None:
            rows = self.session.execute(
                select(PublishedFigure.indicator_id, PublishedRelease.publisher, PublishedRelease.source_id)
                .join(PublishedRelease, col(PublishedRelease.id) == col(PublishedFigure.release_id))
                .distinct()
            ).all()
            found: dict[str, set[tuple[str, str]]] = {}
            for indicator_id, publisher, source_id in rows:
                found.setdefault(indicator_id, set()).add((publisher, source_id))
            self._lent.published_by = found
        return self._lent.published_by

    @property
    def publications(self) -> dict[str, str]:
        """Map each publisher's code to the publication its figures come from, read on first use."""
        if self._lent.publications is None:
            self._lent.publications = publications(self.session)
        return self._lent.publications

    @property
    def catalogue_version(self) -> str:
        """The catalogue's version as a build names it (the start of its content hash), read on first use."""
        if self._lent.catalogue_version is None:
            version = current_catalogue_version(self.session)
            self._lent.catalogue_version = version.content_hash[:12] if version else ""
        return self._lent.catalogue_version

    @property
    def published_sources(self) -> frozenset[str]:
        """The agencies whose figures nobody signs off (``published_sources``), read on first use."""
        if self._lent.published_sources is None:
            self._lent.published_sources = published_sources(self.session)
        return self._lent.published_sources

    def build(self, ret: Return, fields: list[FieldMapping], generated_at: datetime) -> BuiltReturn:
        """Build every cell of a return for the builder's period."""
        geo = self.resolver.geo
        orgs = covered_orgs(self.session, geo, ret)
        infos: list[FieldInfo] = []
        wanted: list[tuple[FieldMapping, Indicator, int, pl.DataFrame | None]] = []
        self._read_ahead(ret, fields, orgs)
        for field in fields:
            ind = self.resolver.indicators[field.indicator_id]
            decimals = field.decimals if field.decimals is not None else ind.decimals
            infos.append(_field_info(field, ind, decimals))
            publishers = tuple(ret.from_publishers) if field.from_publishers else ()
            wanted.append((field, ind, decimals, self._figures(field, ind, orgs, publishers)))
        cells = self._cells(wanted, orgs, ret) if wanted else pl.DataFrame(schema=PART_SCHEMA)
        cells = self._one_period(cells)
        cells = self._suppress(cells, ret)
        cells = self._finish(cells, geo, ret.suppression["symbol"] if ret.suppression else "c")
        lineage, marks = self._lineage(cells)
        cells = cells.join(marks, on="cell_id", how="left").with_columns(
            pl.when(pl.col("status") == "present").then(pl.col("flag")).otherwise(None).alias("flag")
        )
        completeness = {str(k): int(v) for k, v in cells.group_by("status").len().iter_rows()}
        rule = ret.suppression
        sentence = (
            f"values {rule['low']:g} to {rule['high']:g} shown as {rule['symbol']}; secondary suppression {'on' if rule.get('secondary', True) else 'off'}"
            if rule
            else "no small-number suppression"
        )
        return BuiltReturn(
            return_id=ret.id,
            title=ret.title,
            recipient=ret.recipient,
            period=self.period.code,
            geography_level=ret.geography_level,
            layout=ret.layout,
            generated_at=generated_at,
            catalogue_version=self.catalogue_version,
            suppression=sentence,
            fields=infos,
            cells=cells.select(list(CELL_SCHEMA)),
            lineage=lineage,
            completeness=completeness,
        )

    def _read_ahead(self, ret: Return, fields: list[FieldMapping], orgs: list[str]) -> None:
        """Read what the fields will ask in few queries: every stored figure, every derived one (a query for each depth
        of formula, not one each), and the earlier periods' and publishers' figures the fields may show."""
        # A field shown as its item's newest figure is resolved by the resolvers of its candidate periods, never by
        # the period's own (``Filler.figures``): its terms are read for every period once, by the filler.
        own = [f for f in fields if not shows_newest(self.period, self.resolver.indicators[f.indicator_id])]
        self.resolver.prefetch(t for field in own for t in _terms(self.resolver, field.indicator_id))
        self.resolver.resolve_many((f.indicator_id for f in own if f.relation != "subset_of" or f.breakdown), orgs)
        shown = [f for f in fields if f.relation != "subset_of" or f.breakdown]
        asked = [
            (self.resolver.indicators[f.indicator_id], tuple(ret.from_publishers) if f.from_publishers else ())
            for f in shown
        ]
        self.filler.ahead(asked, orgs)

    def _figures(
        self, field: FieldMapping, ind: Indicator, orgs: list[str], publishers: tuple[str, ...]
    ) -> pl.DataFrame | None:
        """A field's figures for the org units (the body's own, its newest where the period shows it, else the first
        of ``publishers`` to give one), recoded (scaled and rounded in ``_cells``); None when the field is not
        filled from them."""
        if field.relation == "subset_of" and not field.breakdown:
            return None
        figures = self.filler.figures(ind, orgs, publishers)
        if not figures.height:
            # Half a return's fields find no figure in a typical year: four frame steps would only say so again.
            return figures
        if field.recode:
            figures = recode(
                figures,
                field.recode["dim"],
                field.recode["map"],
                aggregation=ind.aggregation,
                multiplier=ind.multiplier,
            )
        if field.breakdown:
            figures = figures.filter(pl.col("breakdown") == field.breakdown)
        return figures

    def _cells(
        self, wanted: list[tuple[FieldMapping, Indicator, int, pl.DataFrame | None]], orgs: list[str], ret: Return
    ) -> pl.DataFrame:
        """Every field's cells in one frame: a row per org unit and breakdown, in field order, whatever is known.

        Built for all fields at once (a field at a time cost about twenty small frame operations each).
        """
        grid: dict[str, list[Any]] = {"_f": [], "org_code": [], "breakdown": []}
        # Each field's figures scaled and rounded in one query for all fields: three frame steps a field cost more.
        found: list[pl.LazyFrame] = []
        info: list[dict[str, Any]] = []
        for at, (field, ind, decimals, figures) in enumerate(wanted):
            total = field.breakdown or ""
            breakdowns = (
                sorted(set(figures["breakdown"].to_list())) if figures is not None and figures.height else [total]
            )
            if total not in breakdowns:
                breakdowns = [total, *breakdowns]
            if figures is not None and figures.height:
                found.append(
                    figures.lazy()
                    .drop("indicator_id")
                    .with_columns(
                        scaled_rounded(field.scale, decimals, ret.rounding),
                        pl.lit(at, pl.Int32).alias("_f"),
                    )
                )
            grid["_f"] += [at] * (len(orgs) * len(breakdowns))
            grid["org_code"] += [org for org in orgs for _ in breakdowns]
            grid["breakdown"] += breakdowns * len(orgs)
            info.append(_field_row(at, field, ind, decimals, ret))
        fields = pl.DataFrame(info, schema=FIELD_ROW)
        figures = (
            pl.concat(found, how="vertical_relaxed").collect(engine="in-memory")
            if found
            else pl.DataFrame(schema=PART_SCHEMA).drop("indicator_id").with_columns(pl.lit(0, pl.Int32).alias("_f"))
        )
        joined = (
            pl.DataFrame(grid, schema={"_f": pl.Int32, "org_code": pl.String, "breakdown": pl.String})
            .join(fields, on="_f", how="left", maintain_order="left")
            .join(figures, on=["_f", "org_code", "breakdown"], how="left", maintain_order="left")
            .with_columns(
                pl.col("status").fill_null("missing"),
                pl.col("parts").fill_null(0),
                pl.col("missing_parts").fill_null(0),
                pl.col("period").fill_null(self.period.code),
            )
        )
        return (
            self._relations(self._missing_reasons(joined, wanted), ret)
            .with_columns(
                pl.concat_str([pl.col("field_code"), pl.col("org_code"), pl.col("breakdown")], separator="|").alias(
                    "cell_id"
                )
            )
            .drop("_f", "_rel", "_method", "_unpublished")
        )

    def _missing_reasons(
        self, cells: pl.DataFrame, wanted: list[tuple[FieldMapping, Indicator, int, pl.DataFrame | None]]
    ) -> pl.DataFrame:
        """Say in words whose figure a missing cell awaits; a derived one adds which parts it needs."""
        # A field its relation leaves unfilled says why instead (``_relations``).
        missing = (
            cells.filter((pl.col("status") == "missing") & (pl.col("_rel") == ""))
            .select("_f", "org_code")
            .unique(maintain_order=True)
        )
        if missing.is_empty():
            return cells
        texts: dict[str, list[Any]] = {"_f": [], "org_code": [], "_owed": []}
        terms: dict[int, list[str]] = {}
        # Who owes a field's terms is worked out once a field, and its words once a field and set of agencies:
        # a return's missing cells are thousands, their fields and owing agencies a few dozen.
        owing: dict[int, frozenset[str]] = {}
        said: dict[tuple[int, tuple[str, ...]], str] = {}
        for at, org in missing.iter_rows():
            if at not in terms:
                terms[at] = _terms(self.resolver, wanted[at][1].id)
                owing[at] = self.owed_by.owing(terms[at])
            agencies = self._owed_at(owing[at], org)
            key = (at, tuple(agencies))
            if key not in said:
                said[key] = self._owed_text(agencies, terms[at])
            texts["_f"].append(at)
            texts["org_code"].append(org)
            texts["_owed"].append(said[key])
        owed = pl.DataFrame(texts, schema={"_f": pl.Int32, "org_code": pl.String, "_owed": pl.String})
        return (
            cells.join(owed, on=["_f", "org_code"], how="left", maintain_order="left")
            .with_columns(
                pl.when((pl.col("status") == "missing") & pl.col("reason").is_null())
                .then(pl.col("_owed"))
                .when((pl.col("status") == "missing") & pl.col("reason").str.starts_with("needs "))
                .then(pl.format("{} ({})", pl.col("_owed"), pl.col("reason")))
                .otherwise(pl.col("reason"))
                .alias("reason")
            )
            .with_columns(
                pl.when((pl.col("status") == "missing") & (pl.col("_unpublished") != ""))
                .then(pl.format("{}; no publisher's figure fills it: {}", pl.col("reason"), pl.col("_unpublished")))
                .otherwise(pl.col("reason"))
                .alias("reason")
            )
            .drop("_owed")
        )

    def _relations(self, cells: pl.DataFrame, ret: Return) -> pl.DataFrame:
        """Empty the cells a field's relation does not fill from the catalogue, saying why."""
        rel = pl.col("_rel")
        other = pl.format(
            "measured by another method ({}); the catalogue's figure {} is not copied: the cell is left to the submitting body's own figure",
            pl.col("_method"),
            pl.col("value").cast(pl.String),
        )
        if ret.suppression:
            # The other method's figure is a number like any other: a small one is not spelled out.
            low, high = ret.suppression["low"], ret.suppression["high"]
            small = (
                pl.when(pl.col("statistic").is_in(RATIO_STATISTICS))
                .then(pl.col("numerator").is_between(low, high))
                .otherwise(pl.col("value").is_between(low, high))
            )
            other = (
                pl.when(small)
                .then(
                    pl.format(
                        "measured by another method ({}); the catalogue's figure is a small number, suppressed and not copied",
                        pl.col("_method"),
                    )
                )
                .otherwise(other)
            )
        unfilled = pl.format(
            "measured by another method ({}); not filled from it: the cell is left to the submitting body's own figure",
            pl.col("_method"),
        )
        reason = (
            pl.when(rel == "different_method")
            .then(pl.when(pl.col("value").is_not_null()).then(other).otherwise(unfilled))
            .when(rel == "subset_of")
            .then(
                pl.format("the field is a subset of {}; the catalogue has no breakdown that selects it", "indicator_id")
            )
            .when(rel == "derived_from")
            .then(pl.format("the field is calculated from {} in a way the catalogue does not define", "indicator_id"))
            .otherwise(pl.col("reason"))
        )
        status = (
            pl.when(rel == "different_method")
            .then(pl.lit("different_method"))
            .when(rel != "")
            .then(pl.lit("not_derivable"))
            .otherwise(pl.col("status"))
        )
        return cells.with_columns(
            reason.alias("reason"),
            status.alias("status"),
            pl.when(rel == "").then(pl.col("value")).otherwise(None).alias("value"),
        )

    def _one_period(self, cells: pl.DataFrame) -> pl.DataFrame:
        """Spell every cell's period as the return's; a figure for a date keeps the date as its reference date."""
        if cells.is_empty():
            return cells.with_columns(pl.lit(None, pl.String).alias("ref_date"))
        dates = {code: code for code in cells["period"].unique().to_list() if code and _is_date(code)}
        return cells.with_columns(
            pl.col("period").replace_strict(dates, default=None, return_dtype=pl.String).alias("ref_date"),
            pl.lit(self.period.code).alias("period"),
        )

    def _owed_at(self, owing: frozenset[str], org: str, depth: int = 0) -> list[str]:
        """Name the agencies owing a cell's figures (among ``owing``): for the org itself, else for the areas it is
        rolled up from."""
        found = self.owed_by.of(owing, org)
        if found or depth > 3:
            return sorted(found)
        # A PCT's cell is rolled up from the borough it covered, whose agencies key the figures.
        return sorted({a for child in self.resolver.geo.nested(org) for a in self._owed_at(owing, child, depth + 1)})

    def _owed_text(self, agencies: list[str], terms: list[str]) -> str:
        if not agencies:
            # No body answers for it, but a publisher's files give it: it waits for that publisher's next release.
            given = sorted({pair for t in terms for pair in self.published_by.get(t, ())})
            if given:
                named = "; ".join(f"{self.agency_names.get(p, p)} publishes it (source {s})" for p, s in given)
                return f"not yet published: {named}; no stored source says when it next publishes"
            return "no agency is the designated source of this figure"
        published = [a for a in agencies if a in self.publications]
        if published and len(published) == len(agencies):
            # Nobody keys it: the figure comes with the publisher's next publication (the label comparisons use).
            return "not yet published: " + "; ".join(
                f"{self.agency_names.get(a, a)} gives it in {self.publications[a]}" for a in published
            )
        return "not yet submitted by " + " and ".join(self.agency_names.get(a, a) for a in agencies)

    def _suppress(self, cells: pl.DataFrame, ret: Return) -> pl.DataFrame:
        return suppress_cells(cells, ret.suppression)

    def _finish(self, cells: pl.DataFrame, geo: Geography, suppressed_symbol: str) -> pl.DataFrame:
        return with_display(cells, suppressed_symbol).with_columns(
            pl.col("org_code").replace_strict(geo.names, default="", return_dtype=pl.String).alias("org_name"),
        )

    def _lineage(self, cells: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Return the lineage rows, and each cell's flag from its figures ("u" low reliability, else "p" provisional)."""
        no_marks = pl.DataFrame(schema={"cell_id": pl.String, "flag": pl.String})
        pairs = (
            cells.select("cell_id", "field_code", "org_code", "obs_ids", "weights")
            .explode("obs_ids", "weights")
            .drop_nulls("obs_ids")
        )
        if pairs.is_empty():
            return empty_lineage(), no_marks
        ids = pairs["obs_ids"].unique()
        # The resolvers read every figure behind the cells, and what lineage says of each with it (a publisher's
        # figure under its id made negative).
        facts_read = pl.concat([self.resolver.facts(), self.filler.published_facts()])
        known = facts_read.filter(pl.col("observation_id").is_in(ids.implode()))
        unread = sorted(i for i in set(ids.to_list()) - set(known["observation_id"].to_list()) if i > 0)
        names = self._submissions(known["submission_id"].drop_nulls().unique().sort().to_list())
        facts = known.join(names, on="submission_id", how="left").select(list(_FACTS))
        if unread:
            facts = pl.concat([facts, self._read_facts(unread)])
        joined = (
            pairs.rename({"obs_ids": "observation_id", "weights": "weight"})
            .join(facts, on="observation_id", how="left")
            .with_columns(
                pl.when(pl.col("observation_id") < 0).then(-pl.col("observation_id")).alias("published_figure_id"),
                pl.when(pl.col("observation_id") > 0).then(pl.col("observation_id")).alias("observation_id"),
            )
        )
        # A cell made from any low-reliability figure is low reliability; from any provisional one, provisional.
        marks = joined.group_by("cell_id").agg(
            pl.when((pl.col("obs_flag") == LOW_RELIABILITY).any())
            .then(pl.lit(LOW_RELIABILITY))
            .when((pl.col("obs_status") == "provisional").any())
            .then(pl.lit("p"))
            .otherwise(None)
            .alias("flag")
        )
        return joined.select(list(LINEAGE_SCHEMA)).cast(LINEAGE_SCHEMA), marks  # type: ignore[arg-type]

    def _submissions(self, ids: list[int]) -> pl.DataFrame:
        """The agency and file name of each of these submissions."""
        stmt = sa_select(col(Submission.id), col(Submission.agency_code), col(Submission.filename))
        rows = self._by_ids(stmt, col(Submission.id), ids)
        return rows_frame(rows, {"submission_id": pl.Int64, "agency_code": pl.String, "filename": pl.String})

    def _read_facts(self, ids: list[int]) -> pl.DataFrame:
        """What lineage says of stored figures the resolver did not read, from the store by id."""
        picked = [
            col(getattr(Observation, c))
            for c in (
                "id",
                "indicator_id",
                "org_code",
                "period",
                "breakdown",
                "version",
                "submission_id",
                "file_row",
                "flag",
                "status",
            )
        ]
        stmt = sa_select(*picked, col(Submission.agency_code), col(Submission.filename)).join(
            Submission, col(Submission.id) == col(Observation.submission_id), isouter=True
        )
        return rows_frame(self._by_ids(stmt, col(Observation.id), ids), _FACTS)

    def _by_ids(self, stmt: Any, column: Any, ids: list[int]) -> list[Any]:
        """The rows of ``stmt`` whose ``column`` is one of ``ids``."""
        # In slices: a large return reads more ids than one statement may bind (SQLite 32,766, PostgreSQL 65,535).
        connection = self.session.connection()
        return [
            row
            for at in range(0, len(ids), _IDS_PER_QUERY)
            for row in connection.execute(stmt.where(column.in_(ids[at : at + _IDS_PER_QUERY]))).all()
        ]


def return_with_fields(session: Session, return_id: str) -> tuple[Return, list[FieldMapping]]:
    """Read a return and its fields in order, or raise NotFound."""
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"Return {return_id!r} is not defined; see GET /api/returns")
    fields = list(
        session.execute(
            select(FieldMapping).where(FieldMapping.return_id == return_id).order_by(col(FieldMapping.position))
        ).scalars()
    )
    return ret, fields
