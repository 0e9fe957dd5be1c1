"""Cells beyond the period's own figures: the newest figure an item has, and a publisher's figure where a body has none.

A quarterly (or monthly) return reading an item measured over a longer period (a financial, academic or calendar
year) or at a date (a 31 March count, a 30 September census) shows the item's newest figure: the one of the latest
such period ended by the end of the return's period, its own period kept with it, never a blank because the periods
differ in kind. Each candidate period is resolved whole, as a return of that period would resolve it, so a figure
derived from several terms is made from terms of one period, never of two.

A return may name the publishers whose figure fills a cell no figure of the body's own fills
(``Return.from_publishers``, each field free to refuse them): the publisher's current figure for the org unit, read
from the published figures (``indicators.published``), with its release and file row as the cell's lineage. The
body's own figure always wins where it has one; the publisher's cell says whose it is in its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import polars as pl
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from indicators.formula import parse_formula, references
from indicators.models import Indicator
from indicators.periods import Period, academic_year, calendar_year, financial_year, parse_period
from indicators.published import PublishedFigure, PublishedRelease
from mappings.areas import Geography
from mappings.resolve import FACT_SCHEMA, Reads, Resolver, empty_parts, facts_of
from mappings.transforms import FIGURE_SCHEMA
from onereturn.db import rows_frame

#: The period types of a return that shows each item's newest figure, rather than only one of its own period.
SHOWS_NEWEST = ("quarter", "month")
#: The period types of an item whose figures such a return shows as the newest (longer than its period, or dated).
LONGER = ("financial_year", "academic_year", "calendar_year", "snapshot_date")
#: The step a cell's ``how`` records for a figure of an earlier period, and for a publisher's figure.
NEWEST_STEP = "newest"
PUBLISHED_STEP = "published"
#: The statuses that answer for a cell: a figure, or a symbol saying why there is none.
ANSWERED = ("present", "not_available", "suppressed")


def shows_newest(period: Period, indicator: Indicator) -> bool:
    """Whether a return of ``period`` shows the indicator's newest figure rather than one of the period itself."""
    return period.type in SHOWS_NEWEST and indicator.period_type in LONGER


# Every cell of every quarter asks again for the years of the same few periods' figures (periods are frozen).
@lru_cache(maxsize=4096)
def enclosing(code: str, period_type: str) -> Period | None:
    """The period of ``period_type`` holding the figure's period ``code`` whole (a date is its own), else None."""
    figure = parse_period(code)
    if period_type == "snapshot_date":
        return figure if figure.type == "snapshot_date" else None
    start = figure.start
    if period_type == "financial_year":
        found = financial_year(start.year if start.month >= 4 else start.year - 1)
    elif period_type == "academic_year":
        found = academic_year(start.year if start.month >= 9 else start.year - 1)
    elif period_type == "calendar_year":
        found = calendar_year(start.year)
    else:
        return None
    return found if found.contains(figure) else None


def collected_terms(indicators: dict[str, Indicator], indicator_id: str) -> list[str]:
    """The collected indicators a figure of ``indicator_id`` is made from (itself, when it has no formula)."""
    ind = indicators.get(indicator_id)
    if ind is None or not ind.formula:
        return [indicator_id]
    return [t for term in references(parse_formula(ind.formula)) for t in collected_terms(indicators, term)]


#: What the cell's reason says of each publisher's figure behind it: publisher, source, release, file, row, period.
_ABOUT = {
    "id": pl.Int64,
    "publisher": pl.String,
    "source_id": pl.String,
    "release_id": pl.Int64,
    "filename": pl.String,
    "file_row": pl.Int64,
}


class PublishedResolver(Resolver):
    """A resolver reading the publishers' current figures (of ``publishers``, the first named winning a cell two
    give) in place of the store's: each figure's id is its published figure's id made negative, so it never meets
    a stored figure's id in a cell's lineage."""

    def __init__(
        self,
        session: Session,
        period: Period,
        geo: Geography,
        *,
        publishers: tuple[str, ...],
        orgs: tuple[str, ...],
        indicators: dict[str, Indicator],
        reads: Reads,
        about: dict[int, dict[str, Any]],
    ) -> None:
        """``orgs``: the org units whose figures are read (a return's, not every council's); ``about``: what is known
        of each published figure read, by its (negative) id, shared by its sharers."""
        super().__init__(session, period, geo, indicators=indicators, reads=reads)
        self.publishers = publishers
        self.orgs = orgs
        self.about = about

    def _select_figures(self, indicator_ids: list[str], periods: list[str] | None) -> pl.DataFrame:
        pub, release = PublishedFigure, PublishedRelease
        where = [
            col(pub.is_current),
            col(pub.publisher).in_(self.publishers),
            col(pub.indicator_id).in_(indicator_ids),
            col(pub.org_code).in_(self.orgs),
        ]
        if periods is not None:
            where.append(col(pub.period).in_(periods))
        stmt = (
            sa_select(
                col(pub.id),
                col(pub.indicator_id),
                col(pub.org_code),
                col(pub.period),
                col(pub.breakdown),
                col(pub.value),
                col(pub.numerator),
                col(pub.denominator),
                col(pub.symbol),
                col(pub.version),
                col(release.submission_id),
                col(pub.file_row),
                col(pub.flag),
                col(pub.status),
                col(pub.publisher),
                col(release.source_id),
                col(release.id),
                col(release.filename),
            )
            .join(release, col(release.id) == col(pub.release_id))
            .where(*where)
            .order_by(col(pub.indicator_id), col(pub.org_code), col(pub.period), col(pub.breakdown))
        )
        schema = {
            **FIGURE_SCHEMA,
            "version": pl.Int64,
            "submission_id": pl.Int64,
            "file_row": pl.Int64,
            "obs_flag": pl.String,
            "obs_status": pl.String,
            "publisher": pl.String,
            "source_id": pl.String,
            "release_id": pl.Int64,
            "filename": pl.String,
        }
        rows = self.session.connection().execute(stmt).all()
        if not rows:
            # No publisher's figure: nothing to know of them, and no frame steps to say so.
            return pl.DataFrame(schema=FIGURE_SCHEMA)
        read = rows_frame(rows, schema)
        rank = {name: at for at, name in enumerate(self.publishers)}
        read = (
            read.with_columns(
                (-pl.col("obs_id")).alias("obs_id"),
                pl.col("publisher").replace_strict(rank, return_dtype=pl.Int64).alias("_rank"),
            )
            .sort("_rank", maintain_order=True)
            .unique(["indicator_id", "org_code", "period", "breakdown"], keep="first", maintain_order=True)
            .drop("_rank")
        )
        for row in read.select("obs_id", *list(_ABOUT)[1:]).iter_rows():
            self.about[row[0]] = dict(zip(_ABOUT, row, strict=True))
        self.reads.facts.append(facts_of(read, *list(FACT_SCHEMA)[5:]).cast(FACT_SCHEMA))
        return read.select(list(FIGURE_SCHEMA))


@dataclass
class Filler:
    """A period's fields filled beyond the period's own figures (see the module), for one builder and its sharers."""

    session: Session
    main: Resolver
    #: The geography of any period (the builder's rows, read once).
    geo_for: Callable[[Period], Geography]
    #: What the publishers' resolvers of every period have read, by the publishers and org units they read, shared
    #: by sharers.
    published_reads: dict[tuple[tuple[str, ...], tuple[str, ...]], Reads] = field(default_factory=dict)
    #: What is known of each publisher's figure read, by its (negative) id.
    about: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Each agency's name by its code (read when a cell first names a publisher).
    names: Callable[[], dict[str, str]] = dict
    #: The resolvers of candidate periods, by period, shared by sharers: the quarters of a year (and of the years
    #: after it) all take its figures as their newest, which a resolver of its own works out once.
    _own: dict[str, Resolver] = field(default_factory=dict)
    _published: dict[tuple[tuple[str, ...], tuple[str, ...], str], PublishedResolver] = field(default_factory=dict)
    #: The periods of each org unit's figures in a frame of every period's figures (``Reads.every``), by the frame's
    #: id with the frame: worked out once for every cell and period asking, not once a cell (frames never change).
    _periods: dict[int, tuple[pl.DataFrame, dict[str, frozenset[str]]]] = field(default_factory=dict)
    #: The org units whose figures can reach a return's (``_reaching``), by its geography's id (with it) and units.
    _reach: dict[tuple[int, tuple[str, ...]], tuple[Geography, frozenset[str]]] = field(default_factory=dict)
    #: Each item's newest figures (``_newest``), by whose they are, item, org units and candidate periods.
    _found: dict[tuple[Any, ...], pl.DataFrame] = field(default_factory=dict)
    #: The publishers' figures with their reasons (``_said``), by the id of the frame they were made from, with it.
    _saids: dict[int, tuple[pl.DataFrame, pl.DataFrame]] = field(default_factory=dict)

    def sharing(self, main: Resolver) -> Filler:
        """A filler for another period's builder, sharing what this one's resolvers of other periods have read and
        worked out."""
        return Filler(
            self.session,
            main,
            self.geo_for,
            self.published_reads,
            self.about,
            self.names,
            _own=self._own,
            _published=self._published,
            _periods=self._periods,
            _reach=self._reach,
            _found=self._found,
            _saids=self._saids,
        )

    def figures(self, indicator: Indicator, orgs: list[str], publishers: tuple[str, ...]) -> pl.DataFrame:
        """The indicator's figures for the org units (a return's, in code order): the body's own (its newest where
        the period shows it), then, for an org unit and breakdown the body's own leave unanswered, the first of
        ``publishers`` to give one."""
        own = self._own_figures(indicator, orgs)
        if not publishers:
            return own
        # Read from the columns as lists: a frame step costs polars a query, and most cells are answered.
        statuses = own["status"].to_list()
        done = {org for org, status in zip(own["org_code"].to_list(), statuses, strict=True) if status in ANSWERED}
        lacking = sorted(set(orgs) - done)
        if not lacking:
            return own
        covered = tuple(orgs)
        theirs = self._newest(
            indicator, lacking, lambda p: self._publisher_resolver(publishers, covered, p), (publishers, covered)
        )
        theirs = _answered(theirs)[0]
        if theirs.is_empty():
            return own
        # Each join is skipped where the columns' lists show it would drop nothing (a query costs more than the lists).
        if not done.isdisjoint(theirs["org_code"].to_list()):
            answered = own.filter(pl.col("status").is_in(ANSWERED)).select("org_code", "breakdown")
            theirs = theirs.join(answered, on=["org_code", "breakdown"], how="anti")
            if theirs.is_empty():
                return own
        theirs = self._said(theirs)
        filled = set(zip(theirs["org_code"].to_list(), theirs["breakdown"].to_list(), strict=True))
        if filled.isdisjoint(zip(own["org_code"].to_list(), own["breakdown"].to_list(), strict=True)):
            kept = own
        else:
            kept = own.join(theirs.select("org_code", "breakdown"), on=["org_code", "breakdown"], how="anti")
        return pl.concat([kept, theirs], how="vertical_relaxed")

    def _own_figures(self, indicator: Indicator, orgs: list[str]) -> pl.DataFrame:
        if not shows_newest(self.main.period, indicator):
            return self.main.resolve(indicator.id, orgs)
        return self._newest(indicator, orgs, self._own_resolver, None)

    def _newest(
        self,
        indicator: Indicator,
        orgs: list[str],
        resolver_for: Callable[[Period], Resolver],
        source: tuple[tuple[str, ...], tuple[str, ...]] | None,
    ) -> pl.DataFrame:
        """For each org unit, the indicator's figures of the latest candidate period answering for it: the main
        period itself where the item is not shown as its newest, else each period of the item's type that holds a
        figure of its terms and ended by the end of the main period, latest first. ``source``: whose resolvers
        ``resolver_for`` gives (None: the body's own; else the publishers and the org units they read)."""
        period = self.main.period
        if not shows_newest(period, indicator):
            return resolver_for(period).resolve(indicator.id, orgs)
        candidates = self._candidates(indicator, orgs, resolver_for(period))
        # The quarters of a year ask the same candidates of the same (shared) resolvers: the answer is the same.
        key = (source, indicator.id, tuple(orgs), tuple(c.code for c in candidates))
        known = self._found.get(key)
        if known is None:
            known = self._newest_of(indicator, orgs, resolver_for, candidates)
            self._found[key] = known
        return known

    def _newest_of(
        self,
        indicator: Indicator,
        orgs: list[str],
        resolver_for: Callable[[Period], Resolver],
        candidates: list[Period],
    ) -> pl.DataFrame:
        """For each org unit, the indicator's figures of the first of ``candidates`` answering for it."""
        found: list[pl.DataFrame] = []
        wanting = list(orgs)
        #: The latest candidate's unanswered rows (a rate whose denominator is missing, say): the cell of an org unit
        #: no candidate answers for says what the latest lacks, with the figures it has as its lineage.
        latest: pl.DataFrame | None = None
        for candidate in candidates:
            if not wanting:
                break
            figures = resolver_for(candidate).resolve(indicator.id, wanting)
            answered, unanswered = _answered(figures)
            if latest is None:
                latest = unanswered
            if answered.is_empty():
                continue
            done = set(answered["org_code"].to_list())
            # A figure of an earlier period says whose period it is, beside its value.
            said = pl.format("the newest figure, for {}", pl.col("period"))
            found.append(
                answered.with_columns(
                    _NEWEST,
                    pl.when(pl.col("reason").is_null() & (pl.col("status") == "present"))
                    .then(said)
                    .otherwise(pl.col("reason"))
                    .alias("reason"),
                )
            )
            wanting = [o for o in wanting if o not in done]
        if wanting and latest is not None:
            found.append(latest.filter(pl.col("org_code").is_in(wanting)).with_columns(_NEWEST))
        if not found:
            return empty_parts()
        return pl.concat(found, how="vertical_relaxed")

    def ahead(self, wanted: list[tuple[Indicator, tuple[str, ...]]], orgs: list[str]) -> None:
        """Resolve ahead, for the org units, what the items (each with the publishers that may fill it) first ask of
        the resolvers beside the main one: the body's own of their latest candidate period where an item is shown as
        its newest, and the publishers' of that period or the main period's: each resolver's in one query a depth of
        formula rather than one query an item, as :meth:`figures` would find them one by one."""
        period = self.main.period
        covered = tuple(orgs)
        sources: dict[tuple[str, ...] | None, Callable[[Period], Resolver]] = {None: self._own_resolver}
        items: dict[tuple[str, ...] | None, list[Indicator]] = {None: []}
        for indicator, publishers in wanted:
            # The main resolver has the body's own figures of the period itself already.
            if shows_newest(period, indicator):
                items[None].append(indicator)
            if publishers:
                if publishers not in sources:
                    sources[publishers] = partial(self._publisher_resolver, publishers, covered)
                items.setdefault(publishers, []).append(indicator)
        asked: dict[int, tuple[Resolver, list[str]]] = {}
        for key, resolver_for in sources.items():
            if not items[key]:
                continue
            base = resolver_for(period)
            newest = [ind for ind in items[key] if shows_newest(period, ind)]
            for indicator in items[key]:
                if not shows_newest(period, indicator):
                    asked.setdefault(id(base), (base, []))[1].append(indicator.id)
            # Every period's figures of all the items' terms in one read, not one read an item.
            terms = {t for ind in newest for t in collected_terms(base.indicators, ind.id) if t in base.indicators}
            unread: dict[str, list[str] | None] = {t: None for t in sorted(terms) if t not in base.reads.every}
            if unread:
                base._read_ahead(unread)
            for indicator in newest:
                candidates = self._candidates(indicator, orgs, base)
                if candidates:
                    first = resolver_for(candidates[0])
                    asked.setdefault(id(first), (first, []))[1].append(indicator.id)
        for resolver, ids in asked.values():
            resolver.prefetch(t for i in ids for t in collected_terms(resolver.indicators, i))
            resolver.resolve_many(ids, orgs)

    def _candidates(self, indicator: Indicator, orgs: list[str], base: Resolver) -> list[Period]:
        """The periods of the item's type that hold a figure of its terms (as ``base`` reads them) reaching the org
        units and ended by the end of the main period, latest first."""
        # A population's estimates are of calendar years, which no year of another kind or date holds whole: they
        # give no candidate of their own.
        terms = [t for t in collected_terms(base.indicators, indicator.id) if t in base.indicators]
        unread: dict[str, list[str] | None] = {t: None for t in terms if t not in base.reads.every}
        if unread:
            base._read_ahead(unread)
        # Only the periods of figures that can reach these org units: another council's year is no candidate.
        reach = self._reach_of(base.geo, orgs)
        codes: set[str] = set()
        for t in terms:
            by_org = self._periods_by_org(base.reads.every[t])
            for org in by_org.keys() & reach:
                codes.update(by_org[org])
        end = self.main.period.end
        return sorted(
            {c for c in (enclosing(code, indicator.period_type) for code in codes) if c and c.end <= end},
            key=lambda c: (c.end, c.start),
            reverse=True,
        )

    def _reach_of(self, geo: Geography, orgs: list[str]) -> frozenset[str]:
        """The org units whose figures can make these units' figures (``_reaching``), worked out once a geography."""
        key = (id(geo), tuple(orgs))
        known = self._reach.get(key)
        if known is None or known[0] is not geo:
            known = (geo, frozenset(_reaching(geo, orgs)))
            self._reach[key] = known
        return known[1]

    def _periods_by_org(self, every: pl.DataFrame) -> dict[str, frozenset[str]]:
        """The periods of each org unit's figures in a frame of figures of every period."""
        known = self._periods.get(id(every))
        if known is None or known[0] is not every:
            found: dict[str, set[str]] = {}
            for org, period in zip(every["org_code"].to_list(), every["period"].to_list(), strict=True):
                found.setdefault(org, set()).add(str(period))
            known = (every, {org: frozenset(periods) for org, periods in found.items()})
            self._periods[id(every)] = known
        return known[1]

    def _own_resolver(self, period: Period) -> Resolver:
        if period.code == self.main.period.code:
            return self.main
        made = self._own.get(period.code)
        if made is None:
            made = Resolver(
                self.session, period, self.geo_for(period), indicators=self.main.indicators, reads=self.main.reads
            )
            self._own[period.code] = made
        return made

    def _publisher_resolver(
        self, publishers: tuple[str, ...], orgs: tuple[str, ...], period: Period
    ) -> PublishedResolver:
        made = self._published.get((publishers, orgs, period.code))
        if made is None:
            made = PublishedResolver(
                self.session,
                period,
                self.geo_for(period),
                publishers=publishers,
                orgs=orgs,
                indicators=self.main.indicators,
                reads=self.published_reads.setdefault((publishers, orgs), Reads()),
                about=self.about,
            )
            self._published[(publishers, orgs, period.code)] = made
        return made

    def _said(self, theirs: pl.DataFrame) -> pl.DataFrame:
        """The publishers' figures marked as theirs, each cell's reason naming the publisher, source, release, file
        and row of the figures behind it, and their period."""
        # The quarters of a year are given the same frame of the publishers' newest figures: it is said once.
        known = self._saids.get(id(theirs))
        if known is None or known[0] is not theirs:
            known = (theirs, self._say(theirs))
            self._saids[id(theirs)] = known
        return known[1]

    def _say(self, theirs: pl.DataFrame) -> pl.DataFrame:
        reasons = []
        names = self.names()
        for ids, period in theirs.select("obs_ids", "period").iter_rows():
            behind = [self.about[i] for i in ids if i in self.about]
            reasons.append(published_reason(behind, str(period), names))
        return theirs.with_columns(pl.Series("reason", reasons, pl.String), _PUBLISHED)

    def published_facts(self) -> pl.DataFrame:
        """The lineage facts (FACT_SCHEMA) of every publisher's figure read, their ids negative."""
        facts = [f for reads in self.published_reads.values() for f in reads.facts]
        if not facts:
            return pl.DataFrame(schema=FACT_SCHEMA)
        return pl.concat(facts).unique("observation_id", keep="first", maintain_order=True)


def _reaching(geo: Geography, orgs: list[str], depth: int = 0) -> set[str]:
    """The org units whose figures can make these units' figures: themselves, the units nested in them and the
    units their crosswalks apportion from, as deep as a resolver rolls up."""
    found = set(orgs)
    if depth >= 4:
        return found
    below = [c for org in orgs for c in geo.nested(org)]
    below += [frm for org in orgs for pairs in geo.crosswalk.get(org, {}).values() for frm, _ in pairs]
    return found | (_reaching(geo, below, depth + 1) if below else set())


def published_reason(behind: list[dict[str, Any]], period: str, names: dict[str, str]) -> str:
    """What a cell filled from publishers' figures says: whose figures, their period, from which source, release,
    file and row; and that no figure of the body's own fills the cell."""
    named: dict[tuple[str, str, int, str], list[int]] = {}
    for about in behind:
        key = (about["publisher"], about["source_id"], about["release_id"], about["filename"])
        named.setdefault(key, []).append(about["file_row"])
    publishers = sorted({names.get(p, p) for p, *_ in named})
    sources = "; ".join(
        f"source {source}, release {release}, {filename} row{'s' if len(set(rows)) > 1 else ''} "
        + ", ".join(str(r) for r in sorted(set(rows)))
        for (_publisher, source, release, filename), rows in sorted(named.items())
    )
    return (
        f"published by {' and '.join(publishers)}, for {period} ({sources}): no figure of the body's own fills the cell"
    )


def _answered(figures: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The figures that answer for their cells, and those that do not (each as the one filter would give it)."""
    # Most candidates' figures are all of one kind or none: telling so from the column costs no query.
    statuses = set(figures["status"].to_list())
    if statuses.issubset(ANSWERED):
        return figures, figures.clear()
    # A row of no status is in neither (the filters drop it).
    if statuses.isdisjoint(ANSWERED) and None not in statuses:
        return figures.clear(), figures
    answering = pl.col("status").is_in(ANSWERED)
    return figures.filter(answering), figures.filter(~answering)


def _step(step: str) -> pl.Expr:
    """The cell's ``how`` with the step added."""
    return (
        pl.when(pl.col("how").fill_null("") == "")
        .then(pl.lit(step))
        .otherwise(pl.col("how") + pl.lit(f"+{step}"))
        .alias("how")
    )


#: The steps as expressions, made once (expressions are never changed; making one costs about as much as using it).
_NEWEST = _step(NEWEST_STEP)
_PUBLISHED = _step(PUBLISHED_STEP)
