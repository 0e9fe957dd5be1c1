"""Which builds of returns a change of figures makes stale: one revision counter per built (return, period).

Checking whether a build is current costs one primary-key read of its counter, never a
resolution of the return. A figure write adds one to the counter of every built (return, period)
the figure can reach: the returns whose fields read its indicator (directly, or through a
formula, numerator or denominator), for the periods its own period overlaps (or, for a context
figure such as a population, any period ending after it, since the latest estimate is used).
"""

from __future__ import annotations

import re
import threading
from datetime import date, timedelta

import polars as pl
from sqlalchemy import ColumnElement, and_, or_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from indicators.models import Indicator
from indicators.periods import Period, parse_period
from indicators.service import current_catalogue_version
from mappings.filling import LONGER, SHOWS_NEWEST
from mappings.models import BuildRevision, FieldMapping, Return

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_feeds_cache: dict[tuple[str, str], tuple[dict[str, frozenset[str]], frozenset[str]]] = {}
#: What changed figures reach (``reached``): per set of returns, the date ranges and the end after which all is reached.
Reach = tuple[dict[tuple[str, ...], list[tuple[date, date]]], dict[tuple[str, ...], date]]
_cache_lock = threading.Lock()


def _catalogue_key(session: Session) -> tuple[str, str]:
    version = current_catalogue_version(session)
    bind = session.get_bind()
    return str(bind.engine.url if hasattr(bind, "engine") else bind), version.content_hash if version else ""


def feeds(session: Session) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """Map each indicator to the returns it can reach, and name the context indicators; cached per catalogue version."""
    key = _catalogue_key(session)
    with _cache_lock:
        cached = _feeds_cache.get(key)
    if cached is not None:
        return cached
    # The five columns it reads, not whole indicators: made into objects (their JSON citations decoded), the
    # catalogue took longer to read than all the rest of this, on every store it had not seen.
    indicators = {
        ind_id: (formula, numerator, denominator, purpose)
        for ind_id, formula, numerator, denominator, purpose in session.execute(
            sa_select(
                col(Indicator.id),
                col(Indicator.formula),
                col(Indicator.numerator),
                col(Indicator.denominator),
                col(Indicator.purpose),
            )
        ).all()
    }
    uses: dict[str, set[str]] = {}
    for ind_id, (formula, numerator, denominator, _purpose) in indicators.items():
        text = " ".join(t for t in (formula, numerator, denominator) if t)
        uses[ind_id] = {t for t in _TOKEN.findall(text) if t in indicators and t != ind_id}
    reach: dict[str, set[str]] = {}
    for return_id, indicator_id, counterpart in session.execute(
        select(FieldMapping.return_id, FieldMapping.indicator_id, FieldMapping.counterpart)
    ).all():
        seen: set[str] = set()
        todo = [i for i in (indicator_id, counterpart) if i]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(uses.get(current, ()))
        for ind_id in seen:
            reach.setdefault(ind_id, set()).add(return_id)
    result = (
        {k: frozenset(v) for k, v in reach.items()},
        frozenset(ind_id for ind_id, (*_terms, purpose) in indicators.items() if purpose == "context"),
    )
    with _cache_lock:
        _feeds_cache.clear()
        _feeds_cache[key] = result
    return result


def reached(session: Session, changed: pl.DataFrame) -> Reach:
    """Which builds of returns the changed figures (indicator, period) can reach: per set of returns, the date ranges
    a period overlapping one is reached by, and the end after which every period starting is reached."""
    reach, context = feeds(session)
    # A return showing each item's newest figure (a quarterly return) shows a year's or a date's figure in the
    # periods after it too.
    newest = frozenset(session.execute(select(Return.id).where(col(Return.period_type).in_(SHOWS_NEWEST))).scalars())
    # Per set of returns reached: the figures' periods as date spans, and the earliest end of a
    # context figure's period. A statement per set rather than per period: an upload spanning
    # hundreds of periods reaches only a handful of distinct sets of returns.
    spans: dict[tuple[str, ...], list[tuple[date, date]]] = {}
    earliest_end: dict[tuple[str, ...], date] = {}
    for (period_code,), group in changed.select("indicator_id", "period").unique().group_by(["period"]):
        span = parse_period(str(period_code))
        indicators = group["indicator_id"].to_list()
        overlapping = tuple(sorted({r for i in indicators for r in reach.get(i, ())}))
        later = tuple(
            sorted(
                {r for i in indicators if i in context for r in reach.get(i, ())}
                | ({r for i in indicators for r in reach.get(i, ()) if r in newest} if span.type in LONGER else set())
            )
        )
        if overlapping:
            spans.setdefault(overlapping, []).append((span.start, span.end))
        if later:
            earliest_end[later] = min(span.end, earliest_end.get(later, span.end))
    return {returns: _merged(found) for returns, found in spans.items()}, earliest_end


def reaches(found: Reach, ret: str, at: Period) -> bool:
    """Whether changes (``reached``) reach the build of a return for a period, as ``mark_stale`` counts them."""
    return any(
        ret in rs and any(s <= at.end and e >= at.start for s, e in spans) for rs, spans in found[0].items()
    ) or any(ret in rs and at.start > end for rs, end in found[1].items())


def mark_stale(session: Session, changed: pl.DataFrame) -> int:
    """Add one to the revision of every built (return, period) the changed figures can reach; return how many rows."""
    if changed.is_empty():
        return 0
    spans, earliest_end = reached(session, changed)
    touched = 0
    for returns, ranges in spans.items():
        for start in range(0, len(ranges), _RANGES_PER_STATEMENT):
            overlaps = [
                and_(col(BuildRevision.starts) <= end, col(BuildRevision.ends) >= begin)
                for begin, end in ranges[start : start + _RANGES_PER_STATEMENT]
            ]
            touched += _bump(session, returns, or_(*overlaps))
    for returns, end in earliest_end.items():
        # The latest context figure is used by any build starting after its period ends, and a quarterly return's
        # newest figure by any quarter after it.
        touched += _bump(session, returns, col(BuildRevision.starts) > end)
    return touched


#: Date ranges OR-ed in one statement; SQLite parses a chain of ORs as a tree as deep as the chain.
_RANGES_PER_STATEMENT = 200


def _merged(spans: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """Join overlapping or adjacent date spans: a build overlaps the union exactly when it overlaps one of them."""
    merged: list[tuple[date, date]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1] + timedelta(days=1):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((begin, end))
    return merged


def _bump(session: Session, returns: tuple[str, ...], where: ColumnElement[bool]) -> int:
    stmt = (
        update(BuildRevision)
        .where(col(BuildRevision.return_id).in_(returns), where)
        .values(revision=BuildRevision.revision + 1)
        # Nothing in the session holds these rows; skipping the in-Python match saves most of the statement's cost.
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def revision(session: Session, return_id: str, period: str) -> int | None:
    """Return the revision counter of a (return, period), or None if it was never built through a pull."""
    return session.execute(
        select(BuildRevision.revision).where(BuildRevision.return_id == return_id, BuildRevision.period == period)
    ).scalar_one_or_none()


def track(session: Session, return_id: str, period: Period) -> None:
    """Start counting changes for a (return, period); the caller commits before building, so no change slips past."""
    if revision(session, return_id, period.code) is not None:
        return
    values = {"return_id": return_id, "period": period.code, "starts": period.start, "ends": period.end, "revision": 0}
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(BuildRevision).values(**values).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        # Another request may start counting it first; its row serves.
        session.execute(sqlite_insert(BuildRevision).values(**values).on_conflict_do_nothing())
