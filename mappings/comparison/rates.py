"""A derived indicator's figures for the comparison (rates, percentages), worked out from their terms.

The comparison works a rate out as every return does: :class:`mappings.resolve.Resolver` evaluates the
catalogue's formula over the terms' figures, and where an area (a region, England) has no figure of a term
of its own, sums its councils' (a ratio of sums, never a mean of rates). The terms' figures are the ones the
reader may see (:func:`mappings.comparison.figures.load_figures`, with publishers' figures standing in), handed to the
resolver rather than read from the store again, so an agency's rate is made only of figures it may read.

A derived figure is as published as the least published of the figures it is made of; a withheld term
withholds the rate (with the term's symbol), and a missing term or a zero denominator gives no figure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

import polars as pl
from sqlmodel import Session, select

from indicators.formula import collected_inputs
from indicators.models import Indicator
from indicators.periods import Period, parse_period
from mappings.areas import Geography, GeographyRows
from mappings.comparison.service import Figure
from mappings.geography import ENGLAND
from mappings.obligations import owed_periods
from mappings.resolve import Resolver
from mappings.transforms import FIGURE_SCHEMA, as_parts, own_periods

History = Mapping[str, Mapping[str, Figure]]

#: From the most to the least published: a derived figure takes the last its terms have.
PROVENANCE = ("publisher", "as_published", "differs", "unpublished")


def _periods(indicator: Indicator, indicators: Mapping[str, Indicator], terms: Mapping[str, History]) -> list[str]:
    """The periods to work the indicator out for: those its terms of its own period type have figures for."""
    same = [t for t in terms if indicators[t].period_type == indicator.period_type]
    chosen = same or [t for t in terms if indicators[t].purpose != "context"] or list(terms)
    return sorted({p for t in chosen for p in terms[t]})


def _given(
    terms: Mapping[str, History], given: list[Figure] | None = None
) -> tuple[list[Figure], dict[str, pl.DataFrame]]:
    """Every term's figures as parts of stored figures, each with an id that leads back to the figure (its place
    in ``given``, added to when handed in): one frame made into parts for all the terms (as_parts works row by
    row, so each term's parts are what a call of its own would give)."""
    given = [] if given is None else given
    rows = []
    for term, history in terms.items():
        for period, figures in history.items():
            for org, f in figures.items():
                rows.append((len(given), term, org, period, "", f.value, f.numerator, f.denominator, f.symbol))
                given.append(f)
    parts = as_parts(pl.DataFrame(rows, schema=FIGURE_SCHEMA, orient="row"))
    split = {str(k[0]): f for k, f in parts.partition_by("indicator_id", as_dict=True, maintain_order=True).items()}
    return given, {term: split.get(term, parts.clear()) for term in terms}


def owes_itself(term: Indicator, code: str) -> bool:
    """Whether a figure of ``code`` for the term is owed just its own figure (a term of the rate's period type)."""
    return [p.code for p in owed_periods(term.period_type, parse_period(code))] == [code]  # type: ignore[arg-type]


class TermParts:
    """Terms' figures as parts, and converted to the periods they are asked for, made once for every derived
    indicator worked out from the same reader's figures: all the terms asked for made into parts in one pass,
    and converted in one pass, where a query each cost more than the rows."""

    def __init__(self, read: Callable[[str], History], catalogue: Mapping[str, Indicator]) -> None:
        self._read, self._catalogue = read, dict(catalogue)
        #: The figures behind the parts, by the id each part carries.
        self.given: list[Figure] = []
        self._histories: dict[str, History] = {}
        self._frames: dict[str, pl.DataFrame] = {}
        #: Each term's parts of a period that owes just its own figure, by term and period, once converted.
        self._own: dict[str, dict[str, pl.DataFrame]] = {}
        self._done: set[tuple[str, str]] = set()
        #: Each period's resolver, with the terms it has been given.
        self._resolvers: dict[str, tuple[Resolver, set[str]]] = {}
        self._asked: dict[str, set[str]] = {}

    def ask(self, wanted: Mapping[str, Collection[str]]) -> None:
        """Say which terms will be wanted, each for which periods: they are made together when one is first used."""
        for term, periods in wanted.items():
            self._asked.setdefault(term, set()).update(periods)

    def history(self, term: str) -> History:
        """The term's figures, as the reader sees them."""
        if term not in self._histories:
            self._histories[term] = self._read(term)
        return self._histories[term]

    def frame(self, term: str) -> pl.DataFrame:
        """The term's figures as parts, made with every term asked for and not made yet."""
        if term not in self._frames:
            making = [t for t in sorted({*self._asked, term}) if t not in self._frames]
            _, made = _given({t: self.history(t) for t in making}, self.given)
            self._frames.update(made)
        return self._frames[term]

    def converted(self, term: str, codes: list[str]) -> dict[str, pl.DataFrame] | None:
        """The term's parts for each period, as a resolver converts them; None where some period is made of others
        (months of a year, the latest population), which the resolver converts a period at a time."""
        ind = self._catalogue[term]
        if not all(owes_itself(ind, code) for code in codes):
            return None
        needed = {(term, c) for c in codes} - self._done
        if needed:
            asked = {(t, c) for t, cs in self._asked.items() for c in cs} - self._done
            self._convert(needed | {(t, c) for t, c in asked if owes_itself(self._catalogue[t], c)})
        own = self._own.get(term, {})
        return {c: own[c] for c in codes if c in own}

    def resolver(self, session: Session, period: Period, geo: Geography) -> tuple[Resolver, set[str]]:
        """The period's resolver and the terms given it: one for every derived indicator worked out with these
        parts, so a term two of them share (a population) is resolved once for the same areas."""
        if period.code not in self._resolvers:
            resolver = Resolver(session, period, geo, indicators=self._catalogue)
            self._resolvers[period.code] = (resolver, set())
        return self._resolvers[period.code]

    def _convert(self, pairs: set[tuple[str, str]]) -> None:
        """Convert each term's parts of each period in one pass (each period owes just its own figure)."""
        terms = sorted({t for t, _ in pairs})
        frames = [self.frame(t) for t in terms]
        keys = [f"{t}\x1f{c}" for t, c in pairs]
        parts = pl.concat(frames).filter(pl.concat_str("indicator_id", "period", separator="\x1f").is_in(keys))
        self._done |= pairs
        # own_periods sorts by indicator, org and breakdown, unique within a period: each term's rows of a
        # period come out as a conversion of that term alone would give them.
        for code, frame in own_periods(parts).items():
            for key, one in frame.partition_by("indicator_id", as_dict=True, maintain_order=True).items():
                self._own.setdefault(str(key[0]), {})[code] = one


def _figure(row: dict[str, object], given: list[Figure]) -> Figure | None:
    """The comparison's figure of one derived row; None where a term is missing or the formula has no value."""
    behind = [given[i] for i in row["obs_ids"] or []]  # type: ignore[attr-defined]
    provenance = max((f.provenance for f in behind), key=PROVENANCE.index, default="publisher")
    published = provenance in {"publisher", "as_published"}
    org = str(row["org_code"])
    if row["status"] == "present":
        value = row["value"]
        num, den = row["numerator"], row["denominator"]
        return Figure(org, value, None, num, den, published, provenance)  # type: ignore[arg-type]
    if row["status"] == "not_available":
        symbol = next((f.symbol for f in behind if f.symbol), None) or "x"
        return Figure(org, None, symbol, None, None, published, provenance)
    return None


def derived_history(
    session: Session,
    indicator: Indicator,
    read: Callable[[str], History],
    *,
    rows: GeographyRows | None = None,
    indicators: Mapping[str, Indicator] | None = None,
    periods: Collection[str] | None = None,
    parts: TermParts | None = None,
) -> dict[str, dict[str, Figure]]:
    """A derived indicator's figures by period and org, worked out from its terms' figures as ``read`` gives them.

    Every council with a figure of a term is worked out, and every region and England, from their own terms
    where the publisher gives them, else from their councils'. ``rows`` (the geography) and ``indicators`` (the
    catalogue) may be handed in by a caller that keeps them (each period's geography is kept with ``rows``).
    ``periods`` limits the work to those periods (each period is worked out on its own, so its figures are the same
    either way). ``parts`` (made with the same ``read`` and catalogue) may be handed in by a caller working out many
    derived indicators, which it makes once for all.
    """
    catalogue = dict(indicators) if indicators is not None else catalogue_of(session)
    made = parts or TermParts(read, catalogue)
    terms = {t: made.history(t) for t in sorted(collected_inputs(catalogue, indicator.id))}
    if not all(terms.values()):
        # A term with no figure anywhere leaves every cell missing, as a return's would be: nothing to work out.
        return {}
    rows = rows or GeographyRows.read(session)
    out: dict[str, dict[str, Figure]] = {}
    codes = [c for c in _periods(indicator, catalogue, terms) if periods is None or c in periods]
    made.ask(dict.fromkeys(terms, codes))
    frames = {t: made.frame(t) for t in terms}
    # Converting a term a period at a time cost a third of a period's work; most terms are converted at once.
    ready = {term: made.converted(term, codes) for term in terms}
    for code in codes:
        period = parse_period(code)
        # Periods between the same changes of the geography share one: loading it is a third of a period's work.
        geo = rows.geography(period)
        resolver, given = made.resolver(session, period, geo)
        for term, frame in frames.items():
            if term in given:
                continue
            given.add(term)
            own = ready[term]
            if own is None:
                resolver.use(term, frame)
            else:
                resolver.use(term, own.get(code, frame.clear()), converted=True)
        have = {org for history in terms.values() for org in history.get(code, {})}
        orgs = sorted(have | set(geo.of_types(("region",))) | {ENGLAND})
        for row in resolver.resolve(indicator.id, orgs).filter(pl.col("breakdown") == "").iter_rows(named=True):
            figure = _figure(row, made.given)
            if figure is not None:
                out.setdefault(code, {})[figure.org_code] = figure
    return out


def catalogue_of(session: Session) -> dict[str, Indicator]:
    """Every catalogue indicator by id, as copies that outlive the session (a caller may keep them)."""
    return {
        # Constructed without validation: the store's rows were validated when the catalogue was loaded.
        i.id: Indicator.model_construct(**{name: getattr(i, name) for name in Indicator.model_fields})
        for i in session.execute(select(Indicator)).scalars()
    }


def with_stored(derived: History, stored: History) -> dict[str, dict[str, Figure]]:
    """The derived figures, with a figure of the indicator itself (a publisher's rate with its counts) standing
    in only for a cell its terms give no figure of."""
    out = {p: dict(figs) for p, figs in derived.items()}
    for period, figures in stored.items():
        cells = out.setdefault(period, {})
        for org, figure in figures.items():
            cells.setdefault(org, figure)
    return out
