"""A comparison assembled from the store and kept: its inputs checked, its figures read (a derived indicator's worked
out from its terms'), the council's indicators listed and flagged, each kept until the store changes.

Every kept answer is keyed by ``state``, what the store's figures, catalogue and agencies are
(``mappings.signoff.lineage.store_key``), which the caller reads and hands in.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from indicators.formula import collected_inputs
from indicators.models import Indicator as IndicatorRow
from indicators.periods import parse_period
from indicators.published import PublishedFigure
from indicators.published_query import PublishedTotal, published_totals
from indicators.store.models import Observation, Submission
from mappings.areas import GeographyRows
from mappings.comparison.figures import Geo, geography, load_figures, periods_of, seen_figures, with_published
from mappings.comparison.groups import group_for
from mappings.comparison.kept_groups import group_mark
from mappings.comparison.rates import TermParts, catalogue_of, derived_history, owes_itself, with_stored
from mappings.comparison.service import Comparison, Figure, IndicatorInfo, compare
from mappings.signoff.states import published_sources
from onereturn.errors import InvalidInput, NotFound

#: Comparisons by what they depend on: the store's state, who reads (an agency sees less) and what was asked;
#: beside them what every comparison of the same state reads, the geography and an indicator's figures.
_CACHE: OrderedDict[tuple[Any, ...], Comparison] = OrderedDict()
_FIGURES: OrderedDict[tuple[Any, ...], dict[str, dict[str, Figure]]] = OrderedDict()
_GEO: OrderedDict[tuple[Any, ...], Geo] = OrderedDict()
#: The geography's rows (each period's geography kept with them) and the catalogue.
_BASIS: OrderedDict[tuple[Any, ...], tuple[GeographyRows, dict[str, IndicatorRow]]] = OrderedDict()
_LISTS: OrderedDict[tuple[Any, ...], list[tuple[str, str, str]]] = OrderedDict()
_TERMS: OrderedDict[tuple[Any, ...], tuple[dict[str, str], dict[str, tuple[list[str], list[str]]]]] = OrderedDict()
#: What "where to look" reads of a derived indicator at one period, worked out for that period alone, by the same
#: key as the comparisons: the compare page's comparison works out every period for its trend.
_FLAGGED: OrderedDict[tuple[Any, ...], Comparison] = OrderedDict()
_KEPT = 1024
_lock = threading.Lock()


def comparison_for(
    session: Session,
    indicator_id: str,
    org_code: str,
    period: str,
    *,
    agency: str | None = None,
    group_id: str = "statistical_neighbours",
    history: Mapping[str, Mapping[str, Figure]] | None = None,
    geo: Geo | None = None,
) -> Comparison:
    """Read the store and compare one council's figure; KeyError names an unknown indicator, council or group.

    ``history`` (the indicator's figures by period, as :func:`load_figures` gives them for the same reader)
    and ``geo`` (as :func:`geography` gives it) may be handed in by a caller that keeps them between calls.
    """
    ind = session.get(IndicatorRow, indicator_id)
    if ind is None:
        raise KeyError(f"No indicator {indicator_id!r} in the catalogue")
    group = group_for(org_code, group_id, session, officers_groups=agency is None)
    if history is None:
        history = load_figures(session, indicator_id, periods_of(session, indicator_id), agency=agency)
        if ind.formula:

            def term(t: str) -> Mapping[str, Mapping[str, Figure]]:
                return load_figures(session, t, periods_of(session, t), agency=agency)

            history = with_stored(derived_history(session, ind, term), history)
    names, peers, region = geo if geo is not None else geography(session)
    return compare(
        IndicatorInfo.of(ind),
        period,
        org_code,
        history.get(period, {}),
        group=group,
        names=names,
        peers=peers,
        region_code=region.get(org_code),
        history=history,
    )


def _kept(cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...], make: Callable[[], Any], most: int) -> Any:
    with _lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with _lock:
        cache[key] = value
        while len(cache) > most:
            cache.popitem(last=False)
    return value


def _read(session: Session, indicator: str, agency: str | None) -> dict[str, dict[str, Figure]]:
    """The indicator's own figures a reader sees, with the publishers' figures kept beside a body's own (every
    reader may see a published figure) standing in where the reader sees no figure of the cell."""
    return _reads(session, {indicator: None}, agency)[indicator]


#: An indicator's stored columns a comparison reads, before the agency that sent each figure.
_SEEN = ("indicator_id", "period", "org_code", "value", "symbol", "numerator", "denominator")


def _reads(
    session: Session, wanted: Mapping[str, Collection[str] | None], agency: str | None
) -> dict[str, dict[str, dict[str, Figure]]]:
    """What :func:`_read` gives of each indicator wanted, of the periods wanted of it (None: every period), in
    two queries for those read whole and two for the rest (a query each cost more than the rows read)."""
    every = sorted(i for i, periods in wanted.items() if periods is None)
    some = sorted(i for i, periods in wanted.items() if periods is not None)
    union = sorted({p for i in some for p in wanted[i] or ()})
    stored: dict[str, list[Any]] = {i: [] for i in wanted}
    published: dict[str, list[PublishedTotal]] = {i: [] for i in wanted}
    for ids, periods in ((every, None), (some, union)):
        if not ids:
            continue
        for ind, *row in session.execute(_stored_rows(ids, periods)):
            stored[ind].append(row)
        for figure in published_totals(session, ids, periods):
            published[figure[0]].append(figure)
    sources = published_sources(session)

    def read(i: str) -> dict[str, dict[str, Figure]]:
        # The union of periods may hold another indicator's period: keep each indicator's own.
        own = wanted[i]
        rows = stored[i] if own is None else [r for r in stored[i] if r[0] in own]
        beside = (f[1:] for f in published[i] if own is None or f[1] in own)
        return with_published(seen_figures(rows, sources, agency), beside)

    return {i: read(i) for i in sorted(wanted)}


def _stored_rows(ids: list[str], periods: list[str] | None) -> Any:
    """The current stored totals of the indicators (of ``periods`` only, when given), with who sent each, oldest
    first."""
    where = [
        col(Observation.indicator_id).in_(ids),
        col(Observation.breakdown) == "",
        col(Observation.is_current).is_(True),
    ]
    if periods is not None:
        where.append(col(Observation.period).in_(periods))
    return (
        sa_select(*(col(getattr(Observation, c)) for c in _SEEN), col(Submission.agency_code))
        .join(Submission, col(Submission.id) == col(Observation.submission_id), isouter=True)
        .where(*where)
        .order_by(col(Observation.id))
    )


History = dict[str, dict[str, Figure]]


def _figures(
    session: Session,
    indicator: str,
    agency: str | None,
    state: Any,
    periods: set[str] | None = None,
    read: Callable[[str], History] | None = None,
    parts: TermParts | None = None,
) -> History:
    """The figures a reader sees; a derived indicator's worked out from its terms' (a rate of the indicator
    itself, a publisher's with its counts, stands in only where its terms give no figure), for ``periods`` only
    when given. ``read`` gives an indicator's own figures as :func:`_read` does (a caller reading many at once),
    and ``parts`` the terms' parts made from the same reader's figures (a caller working out many rates)."""
    own: Callable[[str], History] = read or (lambda t: _read(session, t, agency))

    def stored() -> History:
        history = own(indicator)
        return history if periods is None else {p: figs for p, figs in history.items() if p in periods}

    ind = session.get(IndicatorRow, indicator)
    if ind is None or not ind.formula:
        return stored()
    rows, catalogue = _basis(session, state)
    made = parts or TermParts(_terms(agency, state, own), catalogue)
    derived = derived_history(session, ind, made.history, rows=rows, indicators=catalogue, periods=periods, parts=made)
    return with_stored(derived, stored())


def _terms(agency: str | None, state: Any, read: Callable[[str], History]) -> Callable[[str], History]:
    """A term's figures for a rate: each kept until the store changes, as a comparison of the term keeps them."""

    def term(t: str) -> History:
        kept: History = _kept(_FIGURES, (state, agency, t), lambda: read(t), 64)
        return kept

    return term


def _basis(session: Session, state: Any) -> tuple[GeographyRows, dict[str, IndicatorRow]]:
    """The geography's rows (each period's geography kept with them) and the catalogue, kept."""
    basis: tuple[GeographyRows, dict[str, IndicatorRow]] = _kept(
        _BASIS, state, lambda: (GeographyRows.read(session), catalogue_of(session)), 4
    )
    return basis


class _ReadAtOnce:
    """Indicators' own figures (as :func:`_read` gives them, of the periods wanted of each) read when first needed,
    together with every other indicator a caller said it will need: one read where a read each cost more than the
    rows. An indicator not said is read whole."""

    def __init__(self, session: Session, agency: str | None, wanted: Mapping[str, Collection[str] | None]) -> None:
        self._session, self._agency, self._wanted = session, agency, dict(wanted)
        self._read: dict[str, History] = {}

    def __call__(self, indicator: str) -> History:
        """The indicator's figures, reading them with the others still wanted if not read yet."""
        if indicator not in self._read:
            wanted = {i: p for i, p in self._wanted.items() if i not in self._read}
            self._read.update(_reads(self._session, {**wanted, indicator: self._wanted.get(indicator)}, self._agency))
        return self._read[indicator]


_INDICATOR_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")
_GSS_CODE = re.compile(r"[A-Z][0-9]{8}")
_GROUP_ID = re.compile(r"[A-Za-z0-9_-]+")


def _check_names(
    session: Session, indicator: str, org: str, group: str, names: dict[str, str], *, agency: str | None = None
) -> None:
    """Refuse a malformed indicator, org or group (422) and an unknown one (404), saying what is accepted."""
    if not _INDICATOR_ID.fullmatch(indicator):
        raise InvalidInput(
            f"indicator {indicator!r} is not a catalogue indicator id: ids are lower-case words joined by dots, "
            "such as cyp.cin_rereferrals (GET /api/indicators lists them)"
        )
    if session.get(IndicatorRow, indicator) is None:
        raise NotFound(f"No indicator {indicator!r} in the catalogue; GET /api/indicators lists the ids accepted")
    if not _GSS_CODE.fullmatch(org):
        raise InvalidInput(
            f"org {org!r} is not a GSS code: a capital letter and eight digits, such as E10000024 (Nottinghamshire)"
        )
    if org not in names:
        raise NotFound(f"No organisation {org!r} in the geography; give a council's GSS code, such as E10000024")
    if not _GROUP_ID.fullmatch(group):
        raise InvalidInput(
            f"group {group!r} is not a group id: statistical_neighbours, or an officer's group's id "
            "(letters, digits, _ and -)"
        )
    try:
        group_for(org, group, session, officers_groups=agency is None)
    except KeyError as exc:
        raise NotFound(str(exc.args[0])) from None


def _check_period(period: str, indicator: str, history: dict[str, dict[str, Figure]], *, strict: bool) -> None:
    """Refuse a period not written as figures' periods are, not yet begun or (``strict``) with no figure to see."""
    try:
        parsed = parse_period(period)
    except InvalidInput as exc:
        raise InvalidInput(f"period {period!r}: {exc}") from None
    if parsed.code != period:
        raise InvalidInput(f"period {period!r} is not written as figures' periods are: write {parsed.code}")
    if parsed.start > datetime.now(UTC).date():
        raise InvalidInput(f"period {period!r} has not begun, so no figure can be compared for it")
    if strict and period not in history:
        seen = sorted(history)
        accepted = ", ".join(seen[-12:]) if seen else "none yet"
        raise InvalidInput(
            f"period {period!r}: {indicator} has no figure you may see for it; periods with figures: {accepted}"
        )


def cached_comparison(
    session: Session,
    indicator: str,
    org: str,
    period: str,
    *,
    state: tuple[Any, ...],
    agency: str | None,
    group: str,
    strict_period: bool = True,
) -> Comparison:
    """One comparison, built once until the store changes, of checked inputs: a malformed indicator, org, group
    or period is refused (InvalidInput, 422) and an unknown one is NotFound (404), each saying what is accepted.

    ``strict_period`` False (a workbook of indicators of several period types) takes a period no indicator
    has a figure for and gives its sheet no figures.
    """
    geo: Geo = _kept(_GEO, state, lambda: geography(session), 4)
    _check_names(session, indicator, org, group, geo[0], agency=agency)
    history: History = _kept(
        _FIGURES, (state, agency, indicator), lambda: _figures(session, indicator, agency, state), 64
    )
    _check_period(period, indicator, history, strict=strict_period)

    def build() -> Comparison:
        try:
            return comparison_for(
                session, indicator, org, period, agency=agency, group_id=group, history=history, geo=geo
            )
        except KeyError as exc:
            raise NotFound(str(exc.args[0])) from None

    # An officer's group changed (renamed, members changed) is a new key: its kept comparisons are not reused.
    mark = group_mark(session, group)
    result: Comparison = _kept(_CACHE, (state, agency, indicator, org, period, group, mark), build, _KEPT)
    return result


def council_name(session: Session, org: str, *, state: tuple[Any, ...]) -> str:
    """The council's name in the geography; a malformed GSS code is refused (422) and an unknown one NotFound (404)."""
    geo: Geo = _kept(_GEO, state, lambda: geography(session), 4)
    if not _GSS_CODE.fullmatch(org):
        raise InvalidInput(f"org {org!r} is not a GSS code: a capital letter and eight digits, such as E10000024")
    if org not in geo[0]:
        raise NotFound(f"No organisation {org!r} in the geography; give a council's GSS code, such as E10000024")
    return geo[0].get(org, org)


def clear_caches() -> None:
    """Forget every kept comparison, figure and geography (a benchmark's cold start)."""
    with _lock:
        for cache in (_CACHE, _FIGURES, _GEO, _TERMS, _BASIS, _LISTS, _FLAGGED):
            cache.clear()


def indicators_with_figures(
    session: Session, org: str, agency: str | None = None, *, state: tuple[Any, ...]
) -> list[tuple[str, str, str]]:
    """Each indicator with a total figure for the council that the reader may see, with its latest period (id,
    title, period): its own figures, the publishers', and each rate or percentage whose terms it has figures of.

    An agency's list names only indicators with figures it may read (its own or a publisher's). Kept until the
    store changes.
    """
    listed: list[tuple[str, str, str]] = _kept(
        _LISTS, (state, org, agency), lambda: _with_figures(session, org, agency, state), 256
    )
    return listed


def _with_figures(session: Session, org: str, agency: str | None, state: Any) -> list[tuple[str, str, str]]:
    published = published_sources(session)
    latest: dict[str, str] = {}
    stmt = (
        select(Observation.indicator_id, Observation.period, Submission.agency_code)
        .join(Submission, col(Submission.id) == col(Observation.submission_id), isouter=True)
        .where(Observation.org_code == org, Observation.breakdown == "", col(Observation.is_current).is_(True))
        .distinct()
    )
    for ind, period, by in session.execute(stmt):
        if agency is None or by == agency or by in published:
            latest[str(ind)] = max(latest.get(str(ind), ""), str(period))
    beside = (
        select(PublishedFigure.indicator_id, PublishedFigure.period)
        .where(PublishedFigure.org_code == org, PublishedFigure.breakdown == "", col(PublishedFigure.is_current))
        .distinct()
    )
    for ind, period in session.execute(beside):
        latest[str(ind)] = max(latest.get(str(ind), ""), str(period))
    titles, derived = _kept(_TERMS, state, lambda: _derived_terms(session), 4)
    for ind_id, (own, every) in derived.items():
        if all(t in latest for t in every):
            latest[ind_id] = min(latest[t] for t in own)
    return sorted(((i, titles.get(i, i), p) for i, p in latest.items()), key=lambda t: t[1])


def _derived_terms(session: Session) -> tuple[dict[str, str], dict[str, tuple[list[str], list[str]]]]:
    """Every indicator's title, and each derived indicator's terms: those that decide its latest period (of its own
    period type: a population's year does not), and all its collected terms (each needs a figure)."""
    catalogue = {i.id: i for i in session.execute(select(IndicatorRow)).scalars()}
    derived: dict[str, tuple[list[str], list[str]]] = {}
    for ind in catalogue.values():
        if ind.formula:
            inputs = sorted(collected_inputs(catalogue, ind.id))
            own = [t for t in inputs if catalogue[t].period_type == ind.period_type] or inputs
            derived[ind.id] = (own, inputs)
    return {i: c.title for i, c in catalogue.items()}, derived


def flags_for(session: Session, org: str, agency: str | None, *, state: tuple[Any, ...]) -> list[dict[str, Any]]:
    """The council's indicators where it is in the bottom quartile or differs from England beyond chance."""
    out: list[dict[str, Any]] = []
    listed = indicators_with_figures(session, org, agency, state=state)
    _, derived = _kept(_TERMS, state, lambda: _derived_terms(session), 4)
    catalogue = _basis(session, state)[1]
    terms = {ind: derived[ind][1] for ind, _, _ in listed if ind in derived}
    read = _ReadAtOnce(session, agency, _wanted(listed, terms, catalogue))
    parts = TermParts(read, catalogue)
    parts.ask({t: {period} for ind, _, period in listed for t in terms.get(ind, ())})
    # The listed indicators' rows read at once and held while the flags are worked out: the session keeps a row
    # only while something refers to it, so each flag's three look-ups of its indicator read it again otherwise.
    held = session.execute(select(IndicatorRow).where(col(IndicatorRow.id).in_([i for i, _, _ in listed]))).all()
    for ind, title, period in listed:
        try:
            c = _flagged(session, ind, org, period, state=state, agency=agency, read=read, parts=parts)
        except InvalidInput:
            # A rate listed from its terms' periods that its terms still give no figure for: nothing to flag.
            continue
        if c.bottom_quartile or c.differs:
            out.append({"indicator": ind, "title": title, "period": period, "c": c})
    del held
    return out


def _wanted(
    listed: list[tuple[str, str, str]], terms: Mapping[str, list[str]], catalogue: Mapping[str, IndicatorRow]
) -> dict[str, set[str] | None]:
    """The periods of each indicator the flags read (None: every period): each listed indicator's of its flag, and
    a rate's terms' of the rate's period where that period owes just its own figure, else every period (a
    population's latest estimate, a year's months)."""
    wanted: dict[str, set[str] | None] = {}
    for ind, _, period in listed:
        for i, whole in ((ind, False), *((t, not owes_itself(catalogue[t], period)) for t in terms.get(ind, ()))):
            had = wanted.get(i, set())
            wanted[i] = None if whole or had is None else had | {period}
    return wanted


def _flagged(
    session: Session,
    indicator: str,
    org: str,
    period: str,
    *,
    state: Any,
    agency: str | None,
    read: Callable[[str], History] | None = None,
    parts: TermParts | None = None,
) -> Comparison:
    """The comparison a flag reads, checked as ``cached_comparison``'s and kept: of the figures of ``period`` alone,
    its trend that period's only (a flag reads no trend; reading and working out every period's figures, a rate's
    above all, was most of a first "where to look")."""
    group = "statistical_neighbours"
    geo: Geo = _kept(_GEO, state, lambda: geography(session), 4)
    _check_names(session, indicator, org, group, geo[0], agency=agency)

    def build() -> Comparison:
        history = _figures(session, indicator, agency, state, periods={period}, read=read, parts=parts)
        _check_period(period, indicator, history, strict=True)
        try:
            return comparison_for(
                session, indicator, org, period, agency=agency, group_id=group, history=history, geo=geo
            )
        except KeyError as exc:
            raise NotFound(str(exc.args[0])) from None

    result: Comparison = _kept(
        _FLAGGED, (state, agency, indicator, org, period, group, group_mark(session, group)), build, _KEPT
    )
    return result
