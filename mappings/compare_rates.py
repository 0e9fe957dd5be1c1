"""A derived indicator's figures for the comparison (rates, percentages), worked out from their terms.

The comparison works a rate out as every return does: :class:`mappings.resolve.Resolver` evaluates the
catalogue's formula over the terms' figures, and where an area (a region, England) has no figure of a term
of its own, sums its councils' (a ratio of sums, never a mean of rates). The terms' figures are the ones the
reader may see (:func:`mappings.compare.load_figures`, with publishers' figures standing in), handed to the
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
from indicators.periods import parse_period
from mappings.agencies import owed_periods
from mappings.compare import Figure
from mappings.geography import ENGLAND
from mappings.resolve import Geography, GeographyRows, Resolver
from mappings.transforms import FIGURE_SCHEMA, as_parts, own_periods

History = Mapping[str, Mapping[str, Figure]]

#: From the most to the least published: a derived figure takes the last its terms have.
PROVENANCE = ("publisher", "as_published", "differs", "unpublished")


def _periods(indicator: Indicator, indicators: Mapping[str, Indicator], terms: Mapping[str, History]) -> list[str]:
    """The periods to work the indicator out for: those its terms of its own period type have figures for."""
    same = [t for t in terms if indicators[t].period_type == indicator.period_type]
    chosen = same or [t for t in terms if indicators[t].purpose != "context"] or list(terms)
    return sorted({p for t in chosen for p in terms[t]})


def _given(terms: Mapping[str, History]) -> tuple[list[Figure], dict[str, pl.DataFrame]]:
    """Every term's figures as parts of stored figures, each with an id that leads back to the figure."""
    given: list[Figure] = []
    frames: dict[str, pl.DataFrame] = {}
    for term, history in terms.items():
        rows = []
        for period, figures in history.items():
            for org, f in figures.items():
                rows.append((len(given), term, org, period, "", f.value, f.numerator, f.denominator, f.symbol))
                given.append(f)
        frames[term] = as_parts(pl.DataFrame(rows, schema=FIGURE_SCHEMA, orient="row"))
    return given, frames


def _converted(term: Indicator, frame: pl.DataFrame, periods: list[str]) -> dict[str, pl.DataFrame] | None:
    """A term's parts for each period, converted in one pass, where each period owes just its own figure (a
    term of the rate's period type); None where some period is made of others (months of a year, the latest
    population), which the resolver converts a period at a time."""
    for code in periods:
        if [p.code for p in owed_periods(term.period_type, parse_period(code))] != [code]:  # type: ignore[arg-type]
            return None
    return own_periods(frame.filter(pl.col("period").is_in(periods)))


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
    geos: dict[tuple[bool, ...], Geography] | None = None,
    periods: Collection[str] | None = None,
) -> dict[str, dict[str, Figure]]:
    """A derived indicator's figures by period and org, worked out from its terms' figures as ``read`` gives them.

    Every council with a figure of a term is worked out, and every region and England, from their own terms
    where the publisher gives them, else from their councils'. ``rows`` (the geography) and ``indicators`` (the
    catalogue) may be handed in by a caller that keeps them, and ``geos`` (each period's geography, made from
    ``rows``) kept with them: it is filled here. ``periods`` limits the work to those periods (each period is
    worked out on its own, so its figures are the same either way).
    """
    catalogue = dict(indicators) if indicators is not None else catalogue_of(session)
    terms = {t: read(t) for t in sorted(collected_inputs(catalogue, indicator.id))}
    if not all(terms.values()):
        # A term with no figure anywhere leaves every cell missing, as a return's would be: nothing to work out.
        return {}
    given, frames = _given(terms)
    rows = rows or GeographyRows.read(session)
    # Periods between the same changes of the geography share one: loading it is a third of a period's work.
    changes = sorted(
        {d for u in rows.units for d in u[3:] if d is not None}
        | {d for e in rows.edges for d in e[2:] if d is not None}
    )
    geos = {} if geos is None else geos
    out: dict[str, dict[str, Figure]] = {}
    codes = [c for c in _periods(indicator, catalogue, terms) if periods is None or c in periods]
    # Converting a term a period at a time cost a third of a period's work; most terms are converted at once.
    ready = {term: _converted(catalogue[term], frame, codes) for term, frame in frames.items()}
    for code in codes:
        period = parse_period(code)
        span = tuple(b for d in changes for b in (d <= period.end, d >= period.start))
        geo = geos.get(span) or geos.setdefault(span, Geography.load(session, period, rows))
        resolver = Resolver(session, period, geo, indicators=catalogue)
        for term, frame in frames.items():
            own = ready[term]
            if own is None:
                resolver.use(term, frame)
            else:
                resolver.use(term, own.get(code, frame.clear()), converted=True)
        have = {org for history in terms.values() for org in history.get(code, {})}
        orgs = sorted(have | set(geo.of_types(("region",))) | {ENGLAND})
        for row in resolver.resolve(indicator.id, orgs).filter(pl.col("breakdown") == "").iter_rows(named=True):
            figure = _figure(row, given)
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
