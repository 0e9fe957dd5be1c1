"""Figures for any indicator, org unit and period: stored, converted, rolled up or derived.

A figure asked for at a level where none is stored is made from stored ones: its period from
the sub-periods inside it (as the time basis allows), its area from the units nesting in it
(one family of units, so nothing is counted twice) or, where areas do not nest, through the
weighted crosswalk; a derived indicator from its formula. Every result keeps the ids and
weights of the stored figures behind it, which become the lineage of exported cells.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from indicators.formula import ARITHMETIC, Neg, Node, Num, Ref, parse_formula, references
from indicators.models import Indicator
from indicators.periods import Period
from indicators.service import indicators_by_id
from indicators.store.figures import FIGURE_KEY, FIGURE_NUMBERS
from indicators.store.models import Observation
from mappings.areas import Geography
from mappings.obligations import owed_periods
from mappings.transforms import FIGURE_SCHEMA, PART_SCHEMA, as_parts, convert_period, roll_up
from onereturn.db import rows_frame

#: What lineage says of each stored figure read, beside its value: kept by :meth:`Resolver.facts`.
FACT_SCHEMA = pl.Schema(
    {
        "observation_id": pl.Int64(),
        "indicator_id": pl.String(),
        "figure_org": pl.String(),
        "figure_period": pl.String(),
        "figure_breakdown": pl.String(),
        "version": pl.Int64(),
        "submission_id": pl.Int64(),
        "file_row": pl.Int64(),
        "obs_flag": pl.String(),
        "obs_status": pl.String(),
    }
)
#: The store's columns read beside each figure for its lineage, and their names among the facts.
_FACT_COLUMNS = {
    "version": "version",
    "submission_id": "submission_id",
    "file_row": "file_row",
    "flag": "obs_flag",
    "status": "obs_status",
}


def facts_of(read: pl.DataFrame, *lineage: pl.Expr | str) -> pl.DataFrame:
    """The facts lineage keeps of figures ``read``: each one's id and key by the facts' names, then ``lineage``."""
    return read.select(
        pl.col("obs_id").alias("observation_id"),
        "indicator_id",
        pl.col("org_code").alias("figure_org"),
        pl.col("period").alias("figure_period"),
        pl.col("breakdown").alias("figure_breakdown"),
        *lineage,
    )


_MAX_DEPTH = 4
#: The crosswalk basis of a made-up council from the real council whose population it is given
#: (``mappings.illustrative``).
STANDS_IN = "illustrative_stands_in_for"
#: The method of ONS's mid-year population estimates, the only figures that reach a made-up council that way.
POPULATION_METHOD = "ons.mid_year_estimates"


#: The part table with no rows that :func:`empty_parts` copies: making one from the schema costs a hundred times more,
#: and a build asks for thousands.
_NO_PARTS = pl.DataFrame(schema=PART_SCHEMA)


def empty_parts() -> pl.DataFrame:
    """Return a part table with no rows."""
    return _NO_PARTS.clear()


#: The figure table with no rows (FIGURE_SCHEMA) that a read finding nothing gives.
_NO_FIGURES = pl.DataFrame(schema=FIGURE_SCHEMA)


def _parts_by(figures: pl.DataFrame, *keys: str) -> list[tuple[tuple[Any, ...], pl.DataFrame]]:
    """The figures read as parts (:func:`as_parts`), a frame for each indicator (and ``keys``); none when none were
    read (the frame steps would only say so)."""
    if figures.is_empty():
        return []
    return list(as_parts(figures).partition_by("indicator_id", *keys, as_dict=True).items())


@dataclass
class Reads:
    """Stored figures as read from the store, for every resolver of one session that is given them, whatever its period.

    Returns of several periods built in one go (the demo's sign-offs, ``onereturn export``) need many of the same
    figures: a year-end snapshot figure is the quarter's and the year's; a population's every estimate is read for
    each period's latest. Each is read once. Like the geography the builders share, they are never changed once read:
    a figure stored later is seen by the next session's resolvers.
    """

    #: The parts (:func:`as_parts`, not yet converted) of each (indicator, period) read; empty where none is stored.
    parts: dict[tuple[str, str], pl.DataFrame] = field(default_factory=dict)
    #: The parts of every period of an indicator (a context figure's latest estimate is picked from them).
    every: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: The lineage facts of every figure read, by read, until :meth:`Resolver.facts` joins them into one.
    facts: list[pl.DataFrame] = field(default_factory=list)
    #: Whether the first of ``facts`` is those of every earlier read joined, each figure once (:meth:`Resolver.facts`).
    joined: bool = False


class Resolver:
    """Resolves indicators to figures for one period, remembering what it has read."""

    def __init__(
        self,
        session: Session,
        period: Period,
        geo: Geography | None = None,
        *,
        indicators: dict[str, Indicator] | None = None,
        reads: Reads | None = None,
    ) -> None:
        """``indicators`` and ``reads``: another resolver's of the same session, to share (see :class:`Reads`)."""
        self.session = session
        self.period = period
        self.geo = geo or Geography.load(session, period)
        self.indicators: dict[str, Indicator] = indicators if indicators is not None else indicators_by_id(session)
        self._stored: dict[str, pl.DataFrame] = {}
        #: Figures read ahead by :meth:`prefetch`, as parts, per indicator, until :meth:`stored` takes them.
        self._read: dict[str, pl.DataFrame] = {}
        #: Results by (indicator, org units): returns and formulas of one period ask for the same ones again.
        self._resolved: dict[tuple[str, tuple[str, ...]], pl.DataFrame] = {}
        #: What this resolver, and any sharing them, have read from the store.
        self.reads = reads if reads is not None else Reads()
        #: The org units of each frame of stored figures (:meth:`_orgs_of`), by the frame's id, with the frame.
        self._orgs: dict[int, tuple[pl.DataFrame, frozenset[str]]] = {}

    def _wanted_periods(self, indicator: Indicator) -> list[str] | None:
        """The periods of an indicator's figures the period needs, or None for "every period" (a context figure's latest)."""
        periods = [p.code for p in owed_periods(indicator.period_type, self.period)]  # type: ignore[arg-type]
        return None if not periods and indicator.purpose == "context" else periods

    def prefetch(self, indicator_ids: Iterable[str]) -> None:
        """Read the current figures of many indicators for the period in one query, instead of one query each."""
        wanted: dict[str, list[str] | None] = {}
        for ind_id in sorted(set(indicator_ids)):
            indicator = self.indicators.get(ind_id)
            if indicator is None or indicator.formula or ind_id in self._stored or ind_id in self._read:
                continue
            wanted[ind_id] = self._wanted_periods(indicator)
        if not wanted:
            return
        self._read_ahead(wanted)
        alike: dict[tuple[str, str, str, int, tuple[str, ...]], list[str]] = {}
        for ind_id, periods in wanted.items():
            if periods is None:
                self._read[ind_id] = self.reads.every[ind_id]
                continue
            ind = self.indicators[ind_id]
            key = (ind.period_type, ind.time_basis, ind.aggregation, ind.multiplier, tuple(periods))
            alike.setdefault(key, []).append(ind_id)
        # Indicators converted the same way are converted together: conversion works per
        # (indicator, org unit, breakdown), so one call answers each as a call of its own would.
        # One empty frame for every indicator with no figure (frames are never changed; making one costs a millisecond).
        nothing = empty_parts()
        for (period_type, time_basis, aggregation, multiplier, codes), ids in alike.items():
            # Figures read for every period are taken whole and the group's periods picked in one filter, not one
            # an indicator (the group wants the same periods): the same rows in the same order.
            held = [f for f in (self._held(i, list(codes)) for i in ids) if f.height]
            found = pl.concat(held).filter(pl.col("period").is_in(list(codes))) if held else empty_parts()
            by_id: dict[str, pl.DataFrame] = {}
            if found.height:
                converted = convert_period(
                    found,
                    self.period,
                    period_type=period_type,  # type: ignore[arg-type]
                    time_basis=time_basis,
                    aggregation=aggregation,
                    multiplier=multiplier,
                )
                by_id = {str(k[0]): f for k, f in converted.partition_by("indicator_id", as_dict=True).items()}
            for ind_id in ids:
                # An indicator with no figures stays empty, as :meth:`stored` leaves it.
                self._stored[ind_id] = by_id.get(ind_id, nothing)

    def _read_ahead(self, wanted: dict[str, list[str] | None]) -> None:
        """Read the figures of ``wanted`` (each indicator's periods, or None for every period) not read before."""
        reads, nothing = self.reads, empty_parts()
        every = [i for i, periods in wanted.items() if periods is None and i not in reads.every]
        some = [
            i
            for i, periods in wanted.items()
            if periods and i not in reads.every and any((i, p) not in reads.parts for p in periods)
        ]
        # Two queries, each answered by the figure key's index on the indicator (an OR of both is not).
        if some:
            union = sorted({p for i in some for p in wanted[i] or ()})
            found = {(str(i), str(p)): f for (i, p), f in _parts_by(self._select_figures(some, union), "period")}
            # Every (indicator, period) the query asked for was read whole, those of another indicator's periods too.
            for i in some:
                for p in union:
                    reads.parts[(i, p)] = found.get((i, p), nothing)
        if every:
            found_every = {str(k[0]): f for k, f in _parts_by(self._select_figures(every, None))}
            for i in every:
                reads.every[i] = found_every.get(i, nothing)

    def _held(self, indicator_id: str, periods: list[str]) -> pl.DataFrame:
        """The parts read of an indicator: of every period where it was read so, else of ``periods``."""
        every = self.reads.every.get(indicator_id)
        return every if every is not None else self._parts_of(indicator_id, periods)

    def _parts_of(self, indicator_id: str, periods: list[str]) -> pl.DataFrame:
        """The parts of an indicator's figures of ``periods``, from what :meth:`_read_ahead` read."""
        every = self.reads.every.get(indicator_id)
        if every is not None:
            return every.filter(pl.col("period").is_in(periods))
        frames = [self.reads.parts[(indicator_id, p)] for p in periods]
        held = [f for f in frames if f.height]
        if len(held) > 1:
            return pl.concat(held)
        if held:
            return held[0]
        # No figure in any of them: the empty frame already read for one, not a new one (a millisecond each).
        return frames[0] if frames else empty_parts()

    def use(self, indicator_id: str, parts: pl.DataFrame, *, converted: bool = False) -> None:
        """Take a collected indicator's figures (as parts, :func:`as_parts`; any periods) instead of reading the store.

        For a reader who may see only some figures (an agency) or figures kept beside the store (a publisher's):
        the figures are treated as stored ones would be, so a formula over them gives what a return would.
        ``converted`` says they are the period's already, as :meth:`stored` would make them (a caller working
        out many periods converts them all in one pass). Called before anything is resolved from the indicator.
        """
        if converted:
            self._read.pop(indicator_id, None)
            self._stored[indicator_id] = parts
            return
        periods = self._wanted_periods(self.indicators[indicator_id])
        if periods is not None:
            parts = parts.filter(pl.col("period").is_in(periods))
        self._stored.pop(indicator_id, None)
        self._read[indicator_id] = parts

    def stored(self, indicator: Indicator) -> pl.DataFrame:
        """Return the current stored figures of an indicator for the period, as parts.

        Figures of the sub-periods inside the period are converted to it. A context figure (a
        population) with no period inside it takes the latest estimate starting before the
        period ends, as published rates do.
        """
        if indicator.id not in self._stored:
            periods = self._wanted_periods(indicator)
            latest = periods is None
            parts = self._read.pop(indicator.id, None)
            if parts is None:
                self._read_ahead({indicator.id: periods})
                parts = self.reads.every[indicator.id] if periods is None else self._parts_of(indicator.id, periods)
            if latest:
                # No estimate at all: nothing to pick the latest of (the frame steps would only say so).
                if parts.height:
                    parts = self._latest(parts).with_columns(pl.lit("latest_estimate").alias("how"))
            else:
                if parts.height:
                    parts = convert_period(
                        parts,
                        self.period,
                        period_type=indicator.period_type,  # type: ignore[arg-type]
                        time_basis=indicator.time_basis,
                        aggregation=indicator.aggregation,
                        multiplier=indicator.multiplier,
                    )
            self._stored[indicator.id] = parts
        return self._stored[indicator.id]

    def _select_figures(self, indicator_ids: list[str], periods: list[str] | None) -> pl.DataFrame:
        """The current figures (FIGURE_SCHEMA) of the indicators in the periods (None: every period), their lineage
        facts kept beside them."""
        where: ColumnElement[bool] = col(Observation.indicator_id).in_(indicator_ids)
        if periods is not None:
            where = where & col(Observation.period).in_(periods)
        columns = (
            "id",
            *FIGURE_KEY,
            *FIGURE_NUMBERS,
            "symbol",
            *_FACT_COLUMNS,
        )
        # In the unique key's order, as a read of one indicator by that index gives them.
        stmt = (
            sa_select(*(col(getattr(Observation, c)) for c in columns))
            .where(where, col(Observation.is_current))
            .order_by(
                col(Observation.indicator_id),
                col(Observation.org_code),
                col(Observation.period),
                col(Observation.breakdown),
            )
        )
        rows = self.session.connection().execute(stmt).all()
        if not rows:
            # Nothing stored: no facts to keep, and no frame steps to say so.
            return _NO_FIGURES.clear()
        read = rows_frame(rows, {**FIGURE_SCHEMA, **{f"_{c}": FACT_SCHEMA[name] for c, name in _FACT_COLUMNS.items()}})
        # What lineage needs of these figures is read with them, not asked of the store again by id.
        self.reads.facts.append(facts_of(read, *(pl.col(f"_{c}").alias(name) for c, name in _FACT_COLUMNS.items())))
        return read.select(list(FIGURE_SCHEMA))

    def facts(self) -> pl.DataFrame:
        """The lineage facts (FACT_SCHEMA) of every stored figure this resolver has read, one row per figure."""
        facts = self.reads.facts
        if len(facts) != 1:
            if self.reads.joined:
                # Only the reads since are joined and added: the figures joined before keep their first place, and
                # a build of each period would otherwise join every figure read for the periods before it again.
                since = pl.concat(facts[1:]).unique("observation_id", keep="first", maintain_order=True)
                new = since.filter(~pl.col("observation_id").is_in(facts[0]["observation_id"].implode()))
                facts[:] = [pl.concat([facts[0], new])]
            else:
                joined = pl.concat(facts) if facts else pl.DataFrame(schema=FACT_SCHEMA)
                facts[:] = [joined.unique("observation_id", keep="first", maintain_order=True)]
            self.reads.joined = True
        return facts[0]

    def _latest(self, figures: pl.DataFrame) -> pl.DataFrame:
        """Keep each series' figure of the latest period ending by the period's end (figures or parts alike)."""
        from indicators.periods import parse_period

        spans = {code: parse_period(code) for code in figures["period"].unique().to_list()}
        usable = [code for code, span in spans.items() if span.end <= self.period.end]
        if not usable:
            return figures.clear()
        ranked = figures.filter(pl.col("period").is_in(usable)).with_columns(
            pl.col("period")
            .replace_strict({c: spans[c].end.toordinal() for c in usable}, return_dtype=pl.Int64)
            .alias("_start")
        )
        return ranked.filter(pl.col("_start") == pl.col("_start").max().over("org_code", "breakdown")).drop("_start")

    def resolve(self, indicator_id: str, orgs: list[str]) -> pl.DataFrame:
        """Return figures of an indicator for the given org units (rows only where something is known)."""
        key = (indicator_id, tuple(orgs))
        if key not in self._resolved:
            indicator = self.indicators[indicator_id]
            self._resolved[key] = (
                self._derive(indicator, orgs) if indicator.formula else self._collected(indicator, orgs, 0)
            )
        return self._resolved[key]

    def _collected(self, indicator: Indicator, orgs: list[str], depth: int) -> pl.DataFrame:
        stored = self.stored(indicator)
        if not stored.height:
            # Nothing stored, nothing to find or roll up: a filter would cost a query (0.2 ms) to say so.
            return stored
        stored_orgs = self._orgs_of(stored)
        have = stored_orgs.intersection(orgs)
        # Every stored figure is for one of the units asked for (a return asks for every unit of its level): the
        # figures are the answer as they are, without a query to filter them.
        direct = stored if have == stored_orgs else stored.filter(pl.col("org_code").is_in(orgs))
        wanting = [o for o in orgs if o not in have]
        if not wanting or depth >= _MAX_DEPTH or not stored.height:
            return direct
        frames = [direct]
        links: list[tuple[str, str, float]] = []
        for org in wanting:
            links += [(child, org, 1.0) for child in self.geo.nested(org)]
        nested_to = {to for _, to, _ in links}
        if links:
            children = self._collected(indicator, sorted({c for c, _, _ in links}), depth + 1)
            if children.height:
                frames.append(self._roll(indicator, children, links))
        cross: list[tuple[str, str, float]] = []
        for org in wanting:
            if org in nested_to:
                continue
            for basis, pairs in self.geo.crosswalk.get(org, {}).items():
                # A made-up council takes only ONS's population estimates from the real council it stands in for,
                # never that council's own figures.
                if basis == STANDS_IN and indicator.method != POPULATION_METHOD:
                    continue
                if stored_orgs.intersection(frm for frm, _ in pairs):
                    cross += [(frm, org, w) for frm, w in pairs]
                    break
        if cross:
            sources = self._collected(indicator, sorted({c for c, _, _ in cross}), depth + 1)
            frames.append(self._roll(indicator, sources, cross))
        return pl.concat(frames, how="vertical_relaxed")

    def _orgs_of(self, stored: pl.DataFrame) -> frozenset[str]:
        """The org units a frame of stored figures has, read once for each frame (frames are never changed)."""
        known = self._orgs.get(id(stored))
        if known is None or known[0] is not stored:
            known = (stored, frozenset(stored["org_code"].to_list()))
            self._orgs[id(stored)] = known
        return known[1]

    def _roll(self, indicator: Indicator, parts: pl.DataFrame, links: list[tuple[str, str, float]]) -> pl.DataFrame:
        frame = pl.DataFrame(
            links, schema={"from_code": pl.String, "to_code": pl.String, "weight": pl.Float64}, orient="row"
        )
        return roll_up(parts, frame, aggregation=indicator.aggregation, multiplier=indicator.multiplier)

    def resolve_many(self, indicator_ids: Iterable[str], orgs: list[str]) -> None:
        """Resolve many indicators for the same org units ahead of :meth:`resolve`, which then finds them: the derived
        ones (and those their formulas use) in one query for each depth of formula, not one query each."""
        key = tuple(orgs)
        depth: dict[str, int] = {}

        def depth_of(ind_id: str) -> int:
            if ind_id not in depth:
                formula = self.indicators[ind_id].formula
                done = not formula or (ind_id, key) in self._resolved
                terms = [] if done else references(parse_formula(formula or ""))
                depth[ind_id] = 0 if done else 1 + max((depth_of(t) for t in terms), default=0)
            return depth[ind_id]

        for ind_id in indicator_ids:
            depth_of(ind_id)
        for level in sorted({d for d in depth.values() if d}):
            wave = [self.indicators[i] for i, d in depth.items() if d == level]
            for indicator, parts in zip(wave, self._derive_all(wave, orgs), strict=True):
                self._resolved[(indicator.id, key)] = parts

    def _derive(self, indicator: Indicator, orgs: list[str]) -> pl.DataFrame:
        return self._derive_all([indicator], orgs)[0]

    def _derive_all(self, indicators: list[Indicator], orgs: list[str]) -> list[pl.DataFrame]:
        """Derive each indicator from its formula's terms, resolved first (see :func:`derive_frames`)."""
        items = []
        for indicator in indicators:
            assert indicator.formula is not None
            items.append((indicator, {t: self.resolve(t, orgs) for t in references(parse_formula(indicator.formula))}))
        # Reasons name each part by its title, the words a reader knows, not the catalogue id.
        titles = {t: self.indicators[t].title if t in self.indicators else t for _, frames in items for t in frames}
        return derive_frames(items, titles, self.period.code)


#: A formula term's columns carried into a derivation, beside the derived indicator's and the term's place.
_TERM_COLUMNS = ["org_code", "breakdown", "value", "status", "reason", "obs_ids", "weights", "parts"]
#: The statuses of a term that make its formula's figure not available.
_UNAVAILABLE = ("not_available", "not_derivable", "suppressed")


def derive_frames(
    items: list[tuple[Indicator, dict[str, pl.DataFrame]]], titles: dict[str, str], period: str
) -> list[pl.DataFrame]:
    """Each indicator's figures (parts) from its formula and its terms' figures (in the formula's order), all in one
    query: a query costs polars about a millisecond however small it is, and a return derives dozens.

    A row for each org and breakdown any term has: missing if a term is (naming the terms), not available if a term
    is not (naming them with why), not derivable without a value (a zero denominator, or a percentage's part above its
    whole); its figures' ids and weights are the terms', in the formula's order.
    """
    live = [i for i, (_, frames) in enumerate(items) if any(f.height for f in frames.values())]
    if not live:
        return [empty_parts() for _ in items]
    per_place = _terms_per_place(items, live, titles)
    chosen = _per_indicator(items, live, titles)
    value, beyond = chosen["value"], chosen["beyond"]
    any_missing, any_unavailable = pl.col("_any_missing"), pl.col("_any_unavailable")
    status = (
        pl.when(any_missing)
        .then(pl.lit("missing"))
        .when(any_unavailable)
        .then(pl.lit("not_available"))
        .when(value.is_null() | beyond)
        .then(pl.lit("not_derivable"))
        .otherwise(pl.lit("present"))
    )
    reason = (
        pl.when(any_missing)
        .then(pl.lit("needs ") + pl.col("_needs"))
        .when(any_unavailable)
        .then(pl.col("_unavailable"))
        .when(beyond)
        .then(chosen["beyond_reason"])
        .when(value.is_null())
        .then(chosen["formula"] + pl.lit(" has no value (a zero denominator?)"))
    )
    out = (
        per_place.with_columns(status.alias("status"), reason.alias("reason"))
        .select(
            "_i",
            chosen["indicator_id"].alias("indicator_id"),
            "org_code",
            pl.lit(period).alias("period"),
            "breakdown",
            pl.when(pl.col("status") == "present").then(value).otherwise(None).cast(pl.Float64).alias("value"),
            chosen["numerator"].alias("numerator"),
            chosen["denominator"].alias("denominator"),
            pl.lit(None, pl.String).alias("symbol"),
            "status",
            "reason",
            pl.lit("derived").alias("how"),
            "parts",
            "missing_parts",
            "obs_ids",
            "weights",
        )
        .cast(PART_SCHEMA)
        .sort("_i", "org_code", "breakdown")
        .collect(engine="in-memory")
    )
    found = {k[0]: f for k, f in out.partition_by("_i", as_dict=True, maintain_order=True, include_key=False).items()}
    return [found[i] if i in found else empty_parts() for i in range(len(items))]


def _terms_per_place(
    items: list[tuple[Indicator, dict[str, pl.DataFrame]]], live: list[int], titles: dict[str, str]
) -> pl.LazyFrame:
    """For each derived indicator (``_i``) and org and breakdown any of its terms has, its terms taken together: which
    are missing or not available (and their titles), their parts, figure ids and weights, and each term's value
    (``_v0``, ``_v1``... in the formula's order)."""
    found: list[pl.DataFrame] = []
    at_i: list[int] = []
    at_j: list[int] = []
    places: dict[str, list[Any]] = {"_i": [], "_j": [], "_title": []}
    for i in live:
        for j, (term, frame) in enumerate(items[i][1].items()):
            places["_i"].append(i)
            places["_j"].append(j)
            places["_title"].append(titles[term])
            if frame.height:
                # Columns taken as they are and stacked, not selected: each frame step would be a query of its own.
                found.append(frame[_TERM_COLUMNS])
                at_i += [i] * frame.height
                at_j += [j] * frame.height
    figures = (
        pl.concat(found, rechunk=False)
        .hstack([pl.Series("_i", at_i, pl.Int32), pl.Series("_j", at_j, pl.Int32)])
        .lazy()
    )
    terms = pl.DataFrame(places, schema={"_i": pl.Int32, "_j": pl.Int32, "_title": pl.String}).lazy()
    status = pl.col("status")
    missing = status.is_null() | (status == "missing")
    unavailable = status.is_in(list(_UNAVAILABLE))
    width = max(len(items[i][1]) for i in live)
    return (
        figures.select("_i", "org_code", "breakdown")
        .unique()
        .join(terms, on="_i")
        .join(figures, on=["_i", "_j", "org_code", "breakdown"], how="left")
        .sort("_i", "org_code", "breakdown", "_j")
        .group_by("_i", "org_code", "breakdown", maintain_order=True)
        .agg(
            missing.any().alias("_any_missing"),
            unavailable.any().alias("_any_unavailable"),
            pl.col("_title").filter(missing).str.join(", ").alias("_needs"),
            pl.format("{} ({})", "_title", pl.col("reason").fill_null(status))
            .filter(unavailable)
            .str.join(", ")
            .alias("_unavailable"),
            pl.col("parts").fill_null(0).sum().alias("parts"),
            missing.cast(pl.Int64).sum().alias("missing_parts"),
            pl.col("obs_ids").list.explode(keep_nulls=False, empty_as_null=False).alias("obs_ids"),
            pl.col("weights").list.explode(keep_nulls=False, empty_as_null=False).alias("weights"),
            *(pl.col("value").get(j, null_on_oob=True).alias(f"_v{j}") for j in range(width)),
        )
    )


def _per_indicator(
    items: list[tuple[Indicator, dict[str, pl.DataFrame]]], live: list[int], titles: dict[str, str]
) -> dict[str, pl.Expr]:
    """What differs from one derived indicator to the next, each chosen by the row's ``_i``: its value by its formula,
    its id, its formula's text, its numerator and denominator, and whether (and why) a percentage's part is above
    its whole (a percentage the catalogue bounds at 100 is part of its whole, so over 100% is never worked out)."""
    chains: dict[str, Any] = {}

    def choose(name: str, here: pl.Expr, expr: pl.Expr) -> None:
        chain = chains.get(name)
        chains[name] = pl.when(here).then(expr) if chain is None else chain.when(here).then(expr)

    for i in live:
        indicator, frames = items[i]
        here = pl.col("_i") == i
        columns = {t: pl.col(f"_v{j}") for j, t in enumerate(frames)}
        choose("value", here, _expression(parse_formula(indicator.formula or ""), columns))
        choose("indicator_id", here, pl.lit(indicator.id))
        choose("formula", here, pl.lit(indicator.formula))
        num, den = indicator.numerator, indicator.denominator
        for name, term in (("numerator", num), ("denominator", den)):
            if term in columns:
                choose(name, here, columns[term])
        if indicator.statistic == "percentage" and indicator.range_max == 100 and num in columns and den in columns:
            n, d = columns[num], columns[den]
            choose("beyond", here, (n > d).fill_null(False))
            reason = pl.format(
                "{} ({}) is above {} ({}): a part cannot be more than its whole, so no percentage over 100 is given",
                pl.lit(titles[num]),
                n,
                pl.lit(titles[den]),
                d,
            )
            choose("beyond_reason", here, reason)
    kinds = {
        "value": pl.Float64,
        "indicator_id": pl.String,
        "formula": pl.String,
        "numerator": pl.Float64,
        "denominator": pl.Float64,
        "beyond_reason": pl.String,
    }
    otherwise = {name: pl.lit(None, dtype) for name, dtype in kinds.items()} | {"beyond": pl.lit(False)}
    return {name: chains[name].otherwise(last) if name in chains else last for name, last in otherwise.items()}


def _expression(node: Node, columns: dict[str, pl.Expr]) -> pl.Expr:
    """Turn a parsed formula into a polars expression; division by zero gives no figure."""
    if isinstance(node, Num):
        return pl.lit(node.value, pl.Float64)
    if isinstance(node, Ref):
        return columns[node.indicator]
    if isinstance(node, Neg):
        return -_expression(node.operand, columns)
    left, right = _expression(node.left, columns), _expression(node.right, columns)
    if node.op in ARITHMETIC:
        return ARITHMETIC[node.op](left, right)  # type: ignore[no-any-return]
    return pl.when(right != 0).then(left / right).otherwise(None)
