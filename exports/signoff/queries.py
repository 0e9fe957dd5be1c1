"""Who is behind, what is in the way and how many: the sign-off's queries, asked by the API and by the pages.

Each takes what the reader may see as a ``Scope`` (the API's read scope answers it), so a page shows exactly what
the API lists for the same key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import func
from sqlmodel import Session, col, select

from exports.signoff.behind import agencies_behind, standings
from indicators.periods import Period, parse_period, utc
from indicators.store.models import Observation, Submission
from mappings.agencies import agency_names
from mappings.calendar import agency_returns
from mappings.deadlines import periods_between
from mappings.models import AgencyReturn, Return
from mappings.revisions import feeds
from mappings.signoff.models import SignOff
from mappings.signoff.rules import blockers
from mappings.signoff.schemas import SignOffPublic, open_public, public
from mappings.signoff.states import (
    MEANINGS,
    OPEN,
    REOPENED,
    RETURNED,
    SIGNABLE,
    SIGNED_OFF,
    canonical_period,
    list_signoffs,
    published_sources,
    releasing_states,
)
from mappings.validity import check_period
from onereturn.errors import InvalidInput, NotFound, OneReturnError


class Scope(Protocol):
    """What a reader may see of sign-offs: an agency its own, a regulator the returns addressed to it."""

    @property
    def agency(self) -> str | None:
        """The reader's own agency, if it is one (it sees only that agency's)."""
        ...

    def reads_return(self, recipient: str, readers: Iterable[str] = ()) -> bool:
        """Whether a return addressed to this recipient (and read by ``readers`` besides) is the reader's."""
        ...

    def owns_agency(self, code: str | None) -> bool:
        """Whether this agency's objects are the reader's."""
        ...


@dataclass(frozen=True)
class Filters:
    """What a list of sign-offs is narrowed to: one return, one period, one state (None for any)."""

    return_id: str | None = None
    period: str | None = None
    state: str | None = None


def listed(session: Session, scope: Scope, filters: Filters, *, full: bool) -> list[SignOffPublic]:
    """Every sign-off the reader may see matching the filters; for one return and period, the agencies with figures
    in it that have done nothing yet are listed as open too. Without ``full`` (a regulator), states only."""
    return_id, period, state = filters.return_id, filters.period, filters.state
    every = session.execute(select(Return).order_by(col(Return.id))).scalars()
    returns = {r.id: r for r in every if scope.agency or scope.reads_return(r.recipient, r.readers)}
    if return_id is not None and return_id not in returns:
        raise NotFound(f"Return {return_id!r} is not defined (or not addressed to you); see GET /api/returns")
    canonical = canonical_period(session, return_id, period) if return_id and period else period
    rows = list_signoffs(
        session, return_id=return_id, period=canonical, state=state, agency_code=scope.agency, return_ids=list(returns)
    )
    found = [public(row, returns[row.return_id], full=full) for row in rows]
    if return_id and canonical and state in (None, OPEN):
        check_period(session, return_id, canonical)
        known = {row.agency_code for row in rows} | {
            r.agency_code for r in list_signoffs(session, return_id=return_id, period=canonical)
        }
        waiting = [a for a in agencies_behind(session, return_id, canonical) if a not in known]
        found += [open_public(a, returns[return_id], canonical) for a in waiting if scope.owns_agency(a)]
        found.sort(key=lambda s: s.agency_code)
    return found


@dataclass(frozen=True)
class Waiting:
    """One agency's sign-off of one return for one period, as the officer's queue shows it."""

    agency_code: str
    agency_name: str
    return_id: str
    period: str
    state: str
    signed_by: str | None
    signed_at: datetime | None
    in_the_way: list[str]
    awaiting_acceptance: bool
    releases: bool
    #: Signed off, but figures added since are held back until its approver signs off again.
    signs_again: bool = False


def period_start(period: str) -> str:
    """When a period starts (ISO), for ordering periods newest first; empty for a code that is not a period."""
    try:
        return parse_period(period).start.isoformat()
    except InvalidInput:
        return ""


def in_the_way(
    session: Session, row: SignOffPublic, ret: Return, *, has_figures: bool, owed: int | None
) -> tuple[list[str], bool]:
    """What still stands between a sign-off and release, in words; and whether it waits for the officer."""
    if row.state in releasing_states(ret):
        return [f"Nothing: released to {ret.recipient}"], False
    if row.state == SIGNED_OFF:
        return ["Waiting for your acceptance"], True
    found: list[str] = []
    if row.state == RETURNED and row.reason:
        found.append(f"Sent back: {row.reason}")
    elif row.state == REOPENED and row.reason:
        found.append(f"Reopened: {row.reason}")
    obstacles: list[str] = []
    figures = f"{owed:,} figure{'' if owed == 1 else 's'}" if owed else ""
    if not has_figures:
        obstacles.append("Nothing sent yet" + (f": {figures} owed" if figures else ""))
    elif figures:
        obstacles.append(f"{figures} still owed")
    standing = blockers(session, row.agency_code, row.return_id, row.period)
    obstacles += [str(b["msg"]) for b in standing[:3]]
    if len(standing) > 3:
        obstacles.append(f"and {len(standing) - 3} more errors or unanswered queries")
    if not obstacles:
        again = " again" if row.state in (REOPENED, RETURNED) else ""
        obstacles.append(f"Waiting for its approver to sign off{again}")
    return found + obstacles, False


def _pairs(
    session: Session, return_id: str | None, period: str | None, now: dict[str, dict[str, Any]]
) -> list[tuple[str, str]]:
    """The returns and periods whose agencies are listed even before they do anything: the one asked for, or each
    return's period being collected now (or every return's given period)."""
    ids = list(session.execute(select(Return.id).order_by(col(Return.id))).scalars())
    if return_id and period:
        return [(return_id, canonical_period(session, return_id, period))]
    pairs = []
    for ret_id in ids:
        if return_id and ret_id != return_id:
            continue
        if period:
            try:
                pairs.append((ret_id, canonical_period(session, ret_id, period)))
            except InvalidInput:
                continue  # a period of another kind than the return's
        elif ret_id in now:
            pairs.append((ret_id, str(now[ret_id]["period"])))
    return pairs


def approvals_queue(
    session: Session, scope: Scope, filters: Filters, *, full: bool, now: dict[str, dict[str, Any]]
) -> list[Waiting]:
    """Every agency's sign-off matching the filters (as ``listed``), with the agencies that owe a return and have
    not signed it off yet for the period asked for or being collected now (``now``: return id to its period and
    the figures each agency owes), and what is in the way of each."""
    found = {(s.agency_code, s.return_id, s.period): s for s in listed(session, scope, filters, full=full)}
    owed: dict[tuple[str, str, str], int] = {}
    #: Agencies that owe a return and have no figure in it yet (the list names only those with figures).
    nothing: set[tuple[str, str, str]] = set()
    if filters.state in (None, OPEN):
        owed, nothing = _owing(session, scope, filters, full=full, now=now, found=found)
        if not filters.period:
            # Figures waiting for their approver in any period are listed, whichever period is collected now;
            # only the periods collected now (or asked for) list the agencies that have sent nothing.
            _waiting(session, scope, filters.return_id, found)
    returns = {r.id: r for r in session.execute(select(Return)).scalars()}
    names = agency_names(session)
    since = _added_since_signoff(session, list(found.values()), returns)
    rows = []
    for key, s in found.items():
        ret = returns[s.return_id]
        added = since.get(key)
        if added:
            figures = f"{added:,} figure{'' if added == 1 else 's'}"
            words, awaiting = [f"{figures} added since its sign-off: waiting for its approver to sign off again"], False
        else:
            words, awaiting = in_the_way(session, s, ret, has_figures=key not in nothing, owed=owed.get(key))
        rows.append(
            Waiting(
                agency_code=s.agency_code,
                agency_name=names.get(s.agency_code, s.agency_code),
                return_id=s.return_id,
                period=s.period,
                state=s.state,
                signed_by=s.signed_by,
                signed_at=s.signed_at,
                in_the_way=words,
                awaiting_acceptance=awaiting,
                releases=s.releases and not added,
                signs_again=bool(added),
            )
        )
    titles = {r.id: r.title for r in returns.values()}
    # Newest period first within each return, agencies by name: sorted in passes, the last one the main key.
    rows.sort(key=lambda w: w.agency_name)
    rows.sort(key=lambda w: (period_start(w.period), w.period), reverse=True)
    rows.sort(key=lambda w: titles[w.return_id])
    return rows


def _owing(
    session: Session,
    scope: Scope,
    filters: Filters,
    *,
    full: bool,
    now: dict[str, dict[str, Any]],
    found: dict[tuple[str, str, str], SignOffPublic],
) -> tuple[dict[tuple[str, str, str], int], set[tuple[str, str, str]]]:
    """Add to ``found`` the open sign-offs of the periods being collected and the agencies that owe a return and have
    nothing in it yet; give the figures each still owes and which of them have nothing yet."""
    owed: dict[tuple[str, str, str], int] = {}
    nothing: set[tuple[str, str, str]] = set()
    designated: dict[str, list[str]] = {}
    for agency, rets in agency_returns(session).items():
        for ret_id in rets:
            designated.setdefault(ret_id, []).append(agency)
    return_id, period = filters.return_id, filters.period
    pairs = _pairs(session, return_id, period, now)
    # Which agencies have a sign-off row at all, read once rather than once for each agency that owes a return.
    made = _made(session, {ret_id for ret_id, _ in pairs})
    for ret_id, at in pairs:
        if not (return_id and period):
            try:
                more = listed(session, scope, Filters(ret_id, at, OPEN), full=full)
            except OneReturnError:
                continue  # not collected for that period (outside the return's validity, or not begun)
            for s in more:
                found.setdefault((s.agency_code, s.return_id, s.period), s)
        entry = now.get(ret_id)
        if entry is not None and entry["period"] == at:
            owed.update({(a, ret_id, at): int(n) for a, n in entry["owed"].items()})
        for agency in designated.get(ret_id, []):
            if (agency, ret_id, at) not in found and (agency, ret_id, at) not in made:
                nothing.add((agency, ret_id, at))
                found[(agency, ret_id, at)] = SignOffPublic(
                    agency_code=agency,
                    return_id=ret_id,
                    period=at,
                    state=OPEN,
                    meaning=MEANINGS[OPEN],
                    releases=False,
                )
    return owed, nothing


def _made(session: Session, return_ids: set[str]) -> set[tuple[str, str, str]]:
    """The (agency, return, period) of every sign-off row of the returns, whatever its state."""
    rows = select(SignOff.agency_code, SignOff.return_id, SignOff.period).where(col(SignOff.return_id).in_(return_ids))
    return {(str(a), str(r), str(p)) for a, r, p in session.execute(rows)}


def _waiting(
    session: Session,
    scope: Scope,
    return_id: str | None,
    found: dict[tuple[str, str, str], SignOffPublic],
) -> None:
    """Add to ``found`` every agency whose figures make cells of a return for a period it has never signed off."""
    wanted: dict[str, list[str]] = {}
    for ret_id, at in waiting_pairs(session, return_id):
        try:
            check_period(session, ret_id, at)
        except OneReturnError:
            continue  # not collected for that period (outside the return's validity, or not begun)
        wanted.setdefault(ret_id, []).append(at)
    returns = {r.id: r for r in session.execute(select(Return).where(col(Return.id).in_(list(wanted)))).scalars()}
    made = _made(session, set(wanted))
    for (ret_id, at), standing in standings(session, wanted).items():
        ret = returns[ret_id]
        if not scope.agency and not scope.reads_return(ret.recipient, ret.readers):
            continue
        for agency in standing.waiting:
            if (agency, ret_id, at) not in made and scope.owns_agency(agency):
                found.setdefault((agency, ret_id, at), open_public(agency, ret, at))


def _uploads_since_signed(
    session: Session,
    linked: set[tuple[str, str]],
    last_signed: dict[tuple[str, str], datetime],
    published: frozenset[str],
) -> list[int]:
    """The uploads that may hold figures no sign-off has seen: of an agency with a return it never signed off, or
    finished after the oldest of its returns' last sign-offs (once all is signed off, none, and no figure is read)."""
    never = {a for a, r in linked if (a, r) not in last_signed}
    floor: dict[str, datetime] = {}
    for (agency, _ret), signed in last_signed.items():
        floor[agency] = min(signed, floor.get(agency, signed))
    uploads = session.execute(
        select(Submission.id, Submission.agency_code, Submission.finished_at).where(
            col(Submission.agency_code).in_({a for a, _ in linked}),
            col(Submission.agency_code).not_in(published),
            col(Submission.mode) != "dry_run",
        )
    )
    return [
        int(i)
        for i, agency, done in uploads
        if agency in never or agency not in floor or done is None or utc(done) > floor[agency]
    ]


def waiting_pairs(session: Session, return_id: str | None) -> list[tuple[str, str]]:
    """The returns and periods (of ``return_id`` when given) an agency contributes to, has never signed off, and has
    figures for recorded since it last signed off any period of that return: each may hold figures waiting for
    its approver. Publishers, whose figures nobody signs off, are left out; which agencies a return's cells read
    is the build's to say, so this only names where to look (the figures near each period, as
    ``periods_with_figures`` looks)."""
    reach, _context = feeds(session)
    rets = {r.id: r for r in session.execute(select(Return)).scalars() if not return_id or r.id == return_id}
    published = published_sources(session)
    made: set[tuple[str, str, str]] = set()
    last_signed: dict[tuple[str, str], datetime] = {}
    for agency, ret_id, at, signed in session.execute(
        select(SignOff.agency_code, SignOff.return_id, SignOff.period, SignOff.signed_at)
    ):
        made.add((agency, ret_id, at))
        if signed is not None:
            last_signed[(agency, ret_id)] = max(utc(signed), last_signed.get((agency, ret_id), utc(signed)))
    linked = {(str(a), str(r)) for a, r in session.execute(select(AgencyReturn.agency_code, AgencyReturn.return_id))}
    ids = _uploads_since_signed(session, linked, last_signed, published)
    if not ids:
        return []
    carried = session.execute(
        select(Submission.agency_code, Observation.indicator_id, Observation.period, func.max(Observation.recorded_at))
        .join(Submission, col(Submission.id) == col(Observation.submission_id))
        .where(col(Observation.is_current), col(Observation.submission_id).in_(ids))
        .group_by(col(Submission.agency_code), col(Observation.indicator_id), col(Observation.period))
    )
    spans: dict[tuple[str, str], list[tuple[date, date]]] = {}
    read: dict[str, Period | None] = {}
    for agency, indicator, code, recorded in carried:
        for ret_id in reach.get(indicator, ()):
            signed = last_signed.get((agency, ret_id))
            if ret_id not in rets or (agency, ret_id) not in linked or (signed is not None and utc(recorded) <= signed):
                continue
            if code not in read:
                try:
                    read[code] = parse_period(code)
                except InvalidInput:
                    read[code] = None
            figure = read[code]
            if figure is not None:
                spans.setdefault((agency, ret_id), []).append((figure.start, figure.end))
    found: set[tuple[str, str]] = set()
    for (agency, ret_id), dates in spans.items():
        first, last = min(s for s, _ in dates), max(e for _, e in dates)
        # Up to a year past the last figure, as ``periods_with_figures``: a return's period may end later.
        for p in periods_between(rets[ret_id].period_type, first, date(last.year + 1, last.month, min(last.day, 28))):
            if (agency, ret_id, p.code) not in made and any(s <= p.end and e >= p.start for s, e in dates):
                found.add((ret_id, p.code))
    return sorted(found)


def _added_since_signoff(
    session: Session, found: list[SignOffPublic], returns: dict[str, Return]
) -> dict[tuple[str, str, str], int]:
    """How many figures each signed-off (or accepted) agency has added since, by (agency, return, period), as the
    cached standings know them: the gate holds those back, so the sign-off no longer releases everything."""
    wanted: dict[str, list[str]] = {}
    for s in found:
        if s.state in releasing_states(returns[s.return_id]) or s.state == SIGNED_OFF:
            periods = wanted.setdefault(s.return_id, [])
            if s.period not in periods:
                periods.append(s.period)
    return {
        (agency, return_id, period): n
        for (return_id, period), standing in standings(session, wanted).items()
        for agency, n in standing.since_signoff.items()
    }


def tally(rows: list[Waiting]) -> dict[str, int]:
    """How many sign-offs wait for the officer, how many are not signed off (and why), and how many are released."""
    signable = [w for w in rows if w.state in SIGNABLE or w.signs_again]
    return {
        "awaiting": sum(w.awaiting_acceptance for w in rows),
        "not_signed": len(signable),
        "returned": sum(w.state == RETURNED for w in signable),
        "reopened": sum(w.state == REOPENED for w in signable),
        "released": sum(w.releases for w in rows),
    }


def periods_known(session: Session, now: dict[str, dict[str, Any]], rows: list[Waiting]) -> list[str]:
    """The periods a queue's filter offers, newest first: those signed off so far, collected now or listed."""
    known = {r.period for r in list_signoffs(session)} | {str(e["period"]) for e in now.values()}
    known |= {w.period for w in rows}
    return sorted(known, key=lambda p: (period_start(p), p), reverse=True)


def returns_by_title(session: Session) -> list[Return]:
    """Every return, by title: what a queue's filter offers."""
    return list(session.execute(select(Return).order_by(col(Return.title))).scalars())
