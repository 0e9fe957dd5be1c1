"""Whose figures are behind a return's cells for a period, and where the return stands across those agencies.

Which figures an agency vouches for is what the ungated build of the return (``exports.release.build_ungated``)
reads of its uploads for the period (``vouched``); what builds found behind each (return, period) is kept until the
store changes, and past a change of figures only that (return, period)'s build cannot read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import delete, insert, or_, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from exports.release import build_ungated
from indicators.periods import parse_period, utc
from indicators.store.models import Observation
from mappings.models import Return
from mappings.revisions import reached, reaches
from mappings.signoff.figures import Figure, figures_of
from mappings.signoff.lineage import key_digest, store_key, to_sign
from mappings.signoff.models import SignOff, SignOffBehind
from mappings.signoff.states import SIGNED_OFF, list_signoffs, releasing_states, return_of


def vouched(session: Session, agency_code: str, return_id: str, period: str) -> list[Figure]:
    """The stored figures of an agency behind a return's cells for a period: what its approver vouches for."""
    built = build_ungated(session, return_of(session, return_id), period)
    ids = built.lineage.filter(pl.col("agency_code") == agency_code)["observation_id"].unique().sort().to_list()
    return figures_of(session, ids)


def agencies_behind(session: Session, return_id: str, period: str) -> list[str]:
    """The agencies whose stored figures make cells of a return for a period: those who have something to sign off.

    Read through ``standings``, so a page or list asking again builds the return only once the store has changed.
    """
    return_of(session, return_id)  # an unknown return is refused here, not passed over
    found = standings(session, {return_id: [period]}).get((return_id, period))
    return found.behind if found is not None else []


@dataclass(frozen=True)
class Standing:
    """Where a return stands for a period across the agencies whose figures make it: who has signed off, who not."""

    return_id: str
    period: str
    behind: list[str]
    waiting: list[str]
    unaccepted: list[str]
    last_signed_at: datetime | None
    #: Agencies whose sign-off (or acceptance) stands but vouches for only some of their figures behind the
    #: return, with how many came since: held back until their approver signs off again.
    since_signoff: dict[str, int]

    @property
    def released(self) -> bool:
        """Whether every agency whose figures make the return has signed them off (and, where asked, been accepted)."""
        return bool(self.behind) and not self.waiting and not self.unaccepted


#: What builds found behind each (return, period), by the state of the store they were made from: a page
#: asks again on every view, and only a new figure, catalogue or org link can change the answer.
_BEHIND: dict[tuple[str, str, tuple[Any, ...]], dict[str, frozenset[int]]] = {}
_BEHIND_KEPT = 512
_behind_lock = threading.Lock()
#: The newest store key answers were kept under, by store: what a change of the key is carried from.
_LAST: dict[str, tuple[Any, ...]] = {}


def _figures_behind(session: Session, ret: Return, period: str, shared: dict[str, Any]) -> dict[str, frozenset[int]]:
    lineage = to_sign(session, build_ungated(session, ret, period, shared).lineage)
    return {
        str(agency): frozenset(int(i) for i in ids)
        for agency, ids in lineage.group_by("agency_code").agg(pl.col("observation_id").unique()).iter_rows()
    }


def standings(session: Session, wanted: dict[str, list[str]]) -> dict[tuple[str, str], Standing]:
    """Where each of the returns stands for each of its periods (``wanted``: return id to periods), read at once.

    The sign-offs of every return are read in one statement; the agencies behind a (return, period) are
    what a build of it finds (as ``agencies_behind``), kept until the store's figures, catalogue or links
    change, so a page that shows many periods builds each once and then reads only the sign-offs.
    """
    if not wanted:
        return {}
    rets = {r.id: r for r in session.execute(select(Return).where(col(Return.id).in_(list(wanted)))).scalars()}
    rows = {(s.agency_code, s.return_id, s.period): s for s in list_signoffs(session, return_ids=list(rets))}
    key = store_key(session)
    pairs = [(r, p) for r, periods in wanted.items() if r in rets for p in periods]
    _carry(session, key)
    with _behind_lock:
        found = {pair: _BEHIND[(*pair, key)] for pair in pairs if (*pair, key) in _BEHIND}
    missing = [pair for pair in pairs if pair not in found]
    if missing:
        found |= _behind_kept(session, key, missing, rets)
    return {(r, p): _standing(rets[r], p, found[(r, p)], rows) for r, p in pairs}


def _carry(session: Session, key: tuple[Any, ...]) -> None:
    """Keep under the store's new key what builds found under the last, for each (return, period) the figures recorded
    since cannot reach (as ``mappings.revisions`` counts a build stale): an upload builds again only what it reaches."""
    with _behind_lock:
        last, _LAST[key[0]] = _LAST.get(key[0]), key
        kept = {(r, p): found for (r, p, k), found in _BEHIND.items() if k == last != key}
    # Only figures added: the catalogue, agencies, links, publishers' figures and the day are as they were.
    if not kept or last is None or last[4:] != key[4:]:
        return
    newer = [col(Observation.id) > (last[1] or 0), *([col(Observation.recorded_at) > last[3]] if last[3] else [])]
    since = session.execute(select(Observation.indicator_id, Observation.period).where(or_(*newer))).all()
    # A figure gone, or one recorded out of order, is not among these: then nothing is carried.
    if len(since) == key[2] - last[2]:
        found = reached(session, pl.DataFrame(since, schema=["indicator_id", "period"], orient="row"))
        types = dict(session.execute(select(Return.id, Return.period_type)).all())
        with _behind_lock:
            for r, p in kept:
                if not reaches(found, r, parse_period(p, types[r])):
                    _BEHIND[(r, p, key)] = _BEHIND.pop((r, p, last), kept[(r, p)])


def _behind_kept(
    session: Session,
    key: tuple[Any, ...],
    missing: list[tuple[str, str]],
    rets: dict[str, Return],
) -> dict[tuple[str, str], dict[str, frozenset[int]]]:
    """What builds found behind each (return, period) under this key: kept in the store by an earlier process (a
    service started again), else built now and kept there for the next."""
    digest = key_digest(key)
    stored = session.execute(
        select(SignOffBehind.return_id, SignOffBehind.period, SignOffBehind.behind).where(
            col(SignOffBehind.return_id).in_({r for r, _ in missing}), SignOffBehind.store_key == digest
        )
    )
    kept = {(str(r), str(p)): behind for r, p, behind in stored}
    shared: dict[str, Any] = {}
    found: dict[tuple[str, str], dict[str, frozenset[int]]] = {}
    made: list[dict[str, Any]] = []
    for return_id, period in missing:
        if (return_id, period) in kept:
            found[(return_id, period)] = {a: frozenset(ids) for a, ids in kept[(return_id, period)].items()}
            continue
        behind = found[(return_id, period)] = _figures_behind(session, rets[return_id], period, shared)
        ids = {a: sorted(figures) for a, figures in behind.items()}
        made.append({"return_id": return_id, "period": period, "store_key": digest, "behind": ids})
    with _behind_lock:
        if len(_BEHIND) + len(found) > _BEHIND_KEPT:
            _BEHIND.clear()
        _BEHIND.update({(*pair, key): behind for pair, behind in found.items()})
    if made:
        _keep(session, made)
    return found


def _keep(session: Session, made: list[dict[str, Any]]) -> None:
    """Store what builds found, on a connection of its own that waits at most a quarter of a second for a busy
    store: it only spares the next start some builds, and a page must not wait on an upload's write for it."""
    engine = session.get_bind().engine
    table = SignOffBehind.__table__  # type: ignore[attr-defined]
    pairs = [(m["return_id"], m["period"]) for m in made]
    if engine.dialect.name == "sqlite":
        if engine.url.database in (None, "", ":memory:"):
            return  # one connection a thread: committing on it would commit the caller's transaction too
        if getattr(session.connection().connection.dbapi_connection, "in_transaction", False):
            # The caller has written already (a page that built a return) and holds SQLite's only write lock
            # until it commits: a connection of its own would wait for it in vain. Kept with the caller's writes.
            session.execute(delete(table).where(tuple_(table.c.return_id, table.c.period).in_(pairs)))
            session.execute(insert(table), made)
            return
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            conn.exec_driver_sql("PRAGMA busy_timeout=250" if sqlite else "SET lock_timeout = '250ms'")
            conn.commit()
            try:
                conn.execute(delete(table).where(tuple_(table.c.return_id, table.c.period).in_(pairs)))
                conn.execute(insert(table), made)
                conn.commit()
            finally:
                conn.rollback()
                # The pool's connections wait for the store as long as ever again.
                conn.exec_driver_sql("PRAGMA busy_timeout=30000" if sqlite else "RESET lock_timeout")
                conn.commit()
    except SQLAlchemyError:
        # Busy, or another process kept the same answer first: this one is still in memory, and the next start
        # builds it again at worst.
        return


def _standing(
    ret: Return, period: str, behind: dict[str, frozenset[int]], rows: dict[tuple[str, str, str], SignOff]
) -> Standing:
    releasing = releasing_states(ret)
    waiting: list[str] = []
    unaccepted: list[str] = []
    signed: list[datetime] = []
    since: dict[str, int] = {}
    for agency, ids in sorted(behind.items()):
        row = rows.get((agency, ret.id, period))
        # As the gate decides: every figure behind the return vouched for, in a state that releases.
        vouched = row is not None and ids <= set(row.figure_ids)
        if row is not None and not vouched and (row.state in releasing or row.state == SIGNED_OFF):
            since[agency] = len(ids - set(row.figure_ids))
        if row is not None and vouched and row.state in releasing:
            if row.signed_at is not None:
                signed.append(utc(row.signed_at))
        elif row is not None and vouched and row.state == SIGNED_OFF:
            unaccepted.append(agency)
        else:
            waiting.append(agency)
    return Standing(
        return_id=ret.id,
        period=period,
        behind=sorted(behind),
        waiting=waiting,
        unaccepted=unaccepted,
        last_signed_at=max(signed) if signed else None,
        since_signoff=since,
    )
