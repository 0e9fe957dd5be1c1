"""Sign-off: nothing reaches a regulator until the body that owns it has vouched for it.

Each (agency, return, period) has one state: ``open`` (nothing vouched for yet), ``signed_off``
(an approver of the agency has declared the figures right), ``accepted`` (the officer accepted the
sign-off, where the return asks for that), ``reopened`` (a figure signed off was revised since) or
``returned`` (the officer sent it back with a reason). Only ``signed_off`` (when the return needs no
acceptance) and ``accepted`` release figures, and then only the figures vouched for: their ids are
kept with the SHA-256 digest of their canonical list, so what was released can be shown to be
exactly what was signed. Every transition is kept in ``signoff_event`` and never changed.

The states mirror the collections the service stands in for: DfE COLLECT returns are approved by
the council's approver before DfE accepts them; DHIS2 data approval has approve, unapprove and
accept per data set, period and organisation unit. Which figures an agency vouches for is decided
by the builder (the figures behind a return's cells), so these functions take them as given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import func
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from indicators.models import HeldFigure, Observation, Submission
from indicators.periods import Period, parse_period
from mappings.models import Agency, Return, SignOff, SignOffEvent
from mappings.revisions import feeds
from onereturn.errors import Conflict, InvalidInput, NotFound

OPEN, SIGNED_OFF, ACCEPTED, REOPENED, RETURNED = "open", "signed_off", "accepted", "reopened", "returned"
STATES: tuple[str, ...] = (OPEN, SIGNED_OFF, ACCEPTED, REOPENED, RETURNED)
#: The states from which an approver may sign off.
SIGNABLE = frozenset({OPEN, REOPENED, RETURNED})
#: What each state means, in the words the pages and the API give.
MEANINGS: dict[str, str] = {
    OPEN: "not yet signed off",
    SIGNED_OFF: "signed off by the agency's approver",
    ACCEPTED: "signed off and accepted by the performance officer",
    REOPENED: "a figure signed off was revised since; it needs signing off again",
    RETURNED: "sent back by the performance officer; it needs signing off again",
}


@dataclass(frozen=True)
class Actor:
    """Who makes a transition: a name for the record, the key's visible prefix and the client address."""

    name: str
    key_prefix: str | None = None
    client: str = ""


@dataclass(frozen=True)
class Figure:
    """One stored figure vouched for: the parts of its line in the digest."""

    id: int
    indicator_id: str
    org_code: str
    period: str
    breakdown: str
    value: str


def figure_line(figure: Figure) -> str:
    """The canonical line of one figure in a digest: indicator, org, period, breakdown, value or status, figure id."""
    return "\t".join(
        (figure.indicator_id, figure.org_code, figure.period, figure.breakdown, figure.value, str(figure.id))
    )


def digest_of(figures: Iterable[Figure]) -> str:
    """SHA-256 of the figures' canonical lines, sorted, one per line: the same figures always give the same digest."""
    text = "\n".join(sorted(figure_line(f) for f in figures))
    return hashlib.sha256(text.encode()).hexdigest()


def value_text(value: float | None, symbol: str | None, status: str | None) -> str:
    """A figure's value as a digest line gives it: the number's shortest exact spelling, else its symbol; and its status."""
    shown = repr(float(value)) if value is not None else f"[{symbol or ''}]"
    return f"{shown} {status or 'final'}"


def published_sources(session: Session) -> frozenset[str]:
    """The agencies whose figures are official statistics they have published already: nobody signs them off again."""
    rows = session.execute(select(Agency.code, Agency.definition)).all()
    return frozenset(code for code, definition in rows if (definition or {}).get("published"))


def releasing_states(ret: Return) -> frozenset[str]:
    """The states that release a return's figures: accepted, and signed off when the return needs no acceptance."""
    return frozenset({ACCEPTED}) if ret.needs_acceptance else frozenset({SIGNED_OFF, ACCEPTED})


def _return(session: Session, return_id: str) -> Return:
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"Return {return_id!r} is not defined; see GET /api/returns")
    return ret


def canonical_period(session: Session, return_id: str, period: str) -> str:
    """The period spelled as the return's builds spell it, or InvalidInput naming the return's period type."""
    ret = _return(session, return_id)
    return parse_period(period, ret.period_type).code  # type: ignore[arg-type]


def find(session: Session, agency_code: str, return_id: str, period: str) -> SignOff | None:
    """The sign-off row of an (agency, return, period), if one was ever made."""
    stmt = select(SignOff).where(
        SignOff.agency_code == agency_code, SignOff.return_id == return_id, SignOff.period == period
    )
    return session.execute(stmt).scalars().first()


def state_of(session: Session, agency_code: str, return_id: str, period: str) -> str:
    """The state of an (agency, return, period): ``open`` until something happens to it."""
    row = find(session, agency_code, return_id, period)
    return row.state if row is not None else OPEN


def _row(session: Session, agency_code: str, return_id: str, period: str) -> SignOff:
    if session.get(Agency, agency_code) is None:
        raise NotFound(f"Agency {agency_code!r} is not known")
    row = find(session, agency_code, return_id, period)
    if row is None:
        row = SignOff(
            agency_code=agency_code, return_id=return_id, period=period, state=OPEN, updated_at=datetime.now(UTC)
        )
        session.add(row)
        session.flush()
    return row


def _move(session: Session, row: SignOff, to: str, actor: Actor, *, detail: str = "") -> SignOffEvent:
    """Move a sign-off to a state and keep the transition in the history."""
    assert row.id is not None
    now = datetime.now(UTC)
    event = SignOffEvent(
        signoff_id=row.id,
        agency_code=row.agency_code,
        return_id=row.return_id,
        period=row.period,
        from_state=row.state,
        to_state=to,
        at=now,
        actor=actor.name[:300],
        key_prefix=actor.key_prefix,
        client=actor.client[:64],
        detail=detail,
        digest=row.digest,
    )
    row.state = to
    row.updated_at = now
    session.add(row)
    session.add(event)
    session.flush()
    return event


#: ``Submission.kind`` of a council's record-level upload.
RECORDS_KIND = "records"
#: The return a record-level upload is for, by the library its files were read with (``Submission.source_format``).
RECORD_RETURNS: dict[str, str] = {"903": "dfe_ssda903", "cin": "dfe_cin_census"}


def _records_for(sub: Submission, return_id: str, start: date, end: date) -> bool:
    """Whether a record-level upload is for the return and overlaps the period: its return and collection year.

    An upload refused before its files were read names no return, so it is for none: a rejected file of one
    record-level return never stands in the way of another.
    """
    if RECORD_RETURNS.get(sub.source_format) != return_id:
        return False
    return _overlaps(f"FY{sub.collection_year.strip()}", start, end)


def _errors_reach(sub: Submission, return_id: str, span: Period, reach: dict[str, frozenset[str]]) -> bool:
    """Whether a figures upload's rows in error were for the return and period: their indicator reaches the
    return and their period overlaps it."""
    return any(
        return_id in reach.get(indicator, ()) and _overlaps(period, span.start, span.end)
        for indicator, period in sub.error_scope or ()
    )


def blockers(session: Session, agency_code: str, return_id: str, period: str) -> list[dict[str, Any]]:
    """What stops an agency signing off a return for a period: errors in its latest upload for them, and open queries.

    An upload is for a return and period as what it carried says: a record-level upload for its return and
    collection year; a figures upload for each return its figures (stored or held) reach, in their periods, and
    for each its rows in error were for (their indicator and period). Errors stand in the way only of those:
    a file refused whole (blank, columns missing, unreadable) is for nothing, so it neither blocks nor clears;
    an upload made before the rows in error were kept counts its errors for every return of its figures'
    periods. Only the latest upload for the return and period counts, so an upload for another return or
    period neither blocks nor clears it. Open queries count where their figure reaches the return and overlaps
    the period, whichever upload came later.
    """
    ret = _return(session, return_id)
    span = parse_period(period, ret.period_type)  # type: ignore[arg-type]
    stmt = select(Submission).where(Submission.agency_code == agency_code, Submission.mode != "dry_run")
    uploads = {int(sub.id): sub for sub in session.execute(stmt).scalars() if sub.id is not None}
    reach, _context = feeds(session)
    relevant: set[int] = set()
    overlapping: set[int] = set()
    carried = [
        select(Observation.submission_id, Observation.indicator_id, Observation.period)
        .join(Submission, col(Submission.id) == col(Observation.submission_id))
        .where(Submission.agency_code == agency_code, Submission.kind != RECORDS_KIND)
        .distinct(),
        select(HeldFigure.submission_id, HeldFigure.indicator_id, HeldFigure.period)
        .join(Submission, col(Submission.id) == col(HeldFigure.submission_id))
        .where(Submission.agency_code == agency_code, Submission.kind != RECORDS_KIND)
        .distinct(),
    ]
    for query in carried:
        for submission_id, indicator_id, figure_period in session.execute(query).all():
            if _overlaps(figure_period, span.start, span.end):
                overlapping.add(int(submission_id))
                if return_id in reach.get(indicator_id, ()):
                    relevant.add(int(submission_id))
    counted: set[int] = set()
    erring: set[int] = set()
    for i, sub in uploads.items():
        if sub.kind == RECORDS_KIND:
            if _records_for(sub, return_id, span.start, span.end):
                counted.add(i)
                if sub.error_count:
                    erring.add(i)
            continue
        if sub.error_scope is None:
            errs = bool(sub.error_count) and i in overlapping
        else:
            errs = bool(sub.error_count) and _errors_reach(sub, return_id, span, reach)
        if errs:
            erring.add(i)
        if i in relevant or errs:
            counted.add(i)
    found: list[dict[str, Any]] = []
    latest = uploads[max(counted)] if counted else None
    if latest is not None and latest.id in erring:
        found.append(
            {
                "type": "errors",
                "loc": ["submission", latest.id],
                "input": latest.error_count,
                "msg": f"Upload {latest.id} ({latest.filename}) has {latest.error_count} error(s): correct them and upload again",
            }
        )
    open_rows = session.execute(
        select(HeldFigure.id, HeldFigure.indicator_id, HeldFigure.period, HeldFigure.submission_id)
        .join(Submission, col(Submission.id) == col(HeldFigure.submission_id))
        .where(Submission.agency_code == agency_code, HeldFigure.state == "open")
    ).all()
    for held_id, indicator_id, held_period, submission_id in open_rows:
        if return_id not in reach.get(indicator_id, ()) or not _overlaps(held_period, span.start, span.end):
            continue
        found.append(
            {
                "type": "query",
                "loc": ["submission", submission_id, "queries", held_id],
                "input": indicator_id,
                "msg": f"The query on {indicator_id} for {held_period} (upload {submission_id}) is not answered",
            }
        )
    return found


def _overlaps(code: str, start: date, end: date) -> bool:
    try:
        span = parse_period(code)
    except InvalidInput:
        return False
    return span.start <= end and span.end >= start


#: How many changed figures a refusal names; the rest are counted.
CHANGES_NAMED = 20
#: How many of the agency's latest uploads are undone, one at a time, to find the figures a digest was read from.
_UNDO_UPLOADS = 25


def _key(figure: Figure) -> tuple[str, str, str, str]:
    return (figure.indicator_id, figure.org_code, figure.period, figure.breakdown)


def figures_read(session: Session, figures: list[Figure], digest: str) -> list[Figure] | None:
    """The figures a reader saw when shown ``digest``, found by undoing the latest uploads behind ``figures`` one at a
    time (each figure back to the version it replaced, a new one gone); None if no recent state gives the digest."""
    if digest_of(figures) == digest:
        return figures
    by_id = {f.id: f for f in figures}
    if not by_id:
        return None
    rows = session.execute(
        select(Observation.id, Observation.submission_id, Observation.version).where(
            col(Observation.id).in_(list(by_id))
        )
    ).all()
    made_by = {int(i): (int(s) if s is not None else 0, int(v)) for i, s, v in rows}
    state = dict(by_id)
    for upload in sorted({s for s, _v in made_by.values() if s}, reverse=True)[:_UNDO_UPLOADS]:
        for figure_id, figure in list(state.items()):
            submission_id, version = made_by.get(figure_id, (0, 0))
            if submission_id != upload:
                continue
            del state[figure_id]
            if version > 1:
                before = (
                    session.execute(
                        select(Observation).where(
                            Observation.indicator_id == figure.indicator_id,
                            Observation.org_code == figure.org_code,
                            Observation.period == figure.period,
                            Observation.breakdown == figure.breakdown,
                            Observation.version == version - 1,
                        )
                    )
                    .scalars()
                    .first()
                )
                if before is not None and before.id is not None:
                    state[before.id] = Figure(
                        before.id,
                        before.indicator_id,
                        before.org_code,
                        before.period,
                        before.breakdown,
                        value_text(before.value, before.symbol, before.status),
                    )
                    made_by[before.id] = (int(before.submission_id or 0), before.version)
        if digest_of(state.values()) == digest:
            return list(state.values())
    return None


def changes(old: Iterable[Figure], new: Iterable[Figure]) -> list[dict[str, Any]]:
    """Each figure that differs between two lists: indicator, org, period, breakdown, and its old and new value."""
    before = {_key(f): f for f in old}
    after = {_key(f): f for f in new}
    found = []
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key), after.get(key)
        if was is not None and now is not None and was.value == now.value:
            continue
        indicator_id, org_code, period, breakdown = key
        found.append(
            {
                "indicator_id": indicator_id,
                "org_code": org_code,
                "period": period,
                "breakdown": breakdown,
                "old": was.value if was is not None else None,
                "new": now.value if now is not None else None,
            }
        )
    return found


def _changed_reasons(session: Session, figures: list[Figure], read: str) -> list[dict[str, Any]]:
    """The refusal's reasons when the figures are no longer those read: each change named, up to a bound."""
    old = figures_read(session, figures, read)
    if old is None:
        return [
            {
                "type": "changed",
                "loc": ["body", "digest"],
                "input": read[:64],
                "msg": "The figures have changed since you read them (no recent state of them gives the digest you "
                "sent): read the return again before signing off",
            }
        ]
    found = changes(old, figures)
    reasons: list[dict[str, Any]] = []
    for change in found[:CHANGES_NAMED]:
        where = f"{change['indicator_id']} for {change['org_code']}, {change['period']}" + (
            f" ({change['breakdown']})" if change["breakdown"] else ""
        )
        if change["old"] is None:
            words = f"{where} was added since you read it: {change['new']}"
        elif change["new"] is None:
            words = f"{where} is no longer given (it was {change['old']} when you read it)"
        else:
            words = f"{where} changed from {change['old']} to {change['new']} since you read it"
        reasons.append({"type": "changed", "loc": ["figures", *_key_of(change)], "input": change, "msg": words})
    if len(found) > CHANGES_NAMED:
        more = len(found) - CHANGES_NAMED
        reasons.append(
            {
                "type": "changed",
                "loc": ["figures"],
                "input": more,
                "msg": f"and {more:,} more figure{'' if more == 1 else 's'} changed since you read them",
            }
        )
    return reasons


def _key_of(change: dict[str, Any]) -> list[str]:
    return [change["indicator_id"], change["org_code"], change["period"], change["breakdown"]]


def sign_off(
    session: Session,
    *,
    agency_code: str,
    return_id: str,
    period: str,
    figures: list[Figure],
    declaration: str,
    actor: Actor,
    read: str | None = None,
    check: bool = True,
) -> SignOff:
    """Sign off an agency's figures for a return and period with the return's declaration, word for word.

    ``read`` is the digest of the figures the approver read: when the figures are no longer those, it is
    refused (409) naming each figure changed since, and nothing is signed. Refused too (409, every reason
    listed) while the agency's latest upload for the return and period has errors or a query on the
    return's figures is unanswered (see ``blockers``), when there is nothing to vouch for, or when the state
    is not one that may be signed: a sign-off stands until a figure it vouched for is revised, but figures
    added since it (held back until signed) may be signed off over it. ``check=False`` skips the errors and
    queries, for an operator's ``sign-all``.
    """
    ret = _return(session, return_id)
    period = canonical_period(session, return_id, period)
    if " ".join(declaration.split()) != " ".join(ret.declaration.split()):
        raise InvalidInput(
            f"The declaration must be the return's own, word for word: {ret.declaration!r} (see GET /api/signoffs/"
            f"{agency_code}/{return_id}/{period})"
        )
    row = _row(session, agency_code, return_id, period)
    added_since = bool(figures) and row.signed_at is not None and not {f.id for f in figures} <= set(row.figure_ids)
    if row.state not in SIGNABLE and not added_since:
        raise Conflict(
            f"{agency_code}'s {return_id} for {period} is {row.state.replace('_', ' ')}; {MEANINGS[row.state]}"
        )
    if read is not None and digest_of(figures) != read:
        reasons = _changed_reasons(session, figures, read)
        raise Conflict(
            f"Cannot sign off {return_id} for {period}: the figures changed since you read them; "
            + "; ".join(r["msg"] for r in reasons),
            errors=reasons,
        )
    reasons = blockers(session, agency_code, return_id, period) if check else []
    if not figures:
        reasons.append(
            {
                "type": "nothing",
                "loc": [],
                "input": None,
                "msg": f"{agency_code} has no figure in {return_id} for {period} to sign off",
            }
        )
    if reasons:
        raise Conflict(
            f"Cannot sign off {return_id} for {period}: " + "; ".join(r["msg"] for r in reasons), errors=reasons
        )
    now = datetime.now(UTC)
    row.declaration = ret.declaration
    row.signed_by = actor.name[:300]
    row.key_prefix = actor.key_prefix
    row.signed_at = now
    row.client = actor.client[:64]
    row.digest = digest_of(figures)
    row.figure_ids = sorted(f.id for f in figures)
    row.reason = ""
    _move(session, row, SIGNED_OFF, actor, detail=ret.declaration)
    return row


def _existing(session: Session, agency_code: str, return_id: str, period: str) -> SignOff:
    period = canonical_period(session, return_id, period)
    row = find(session, agency_code, return_id, period)
    if row is None:
        if session.get(Agency, agency_code) is None:
            raise NotFound(f"Agency {agency_code!r} is not known")
        raise Conflict(f"{agency_code}'s {return_id} for {period} is open: nothing has been signed off")
    return row


def unapprove(session: Session, *, agency_code: str, return_id: str, period: str, actor: Actor) -> SignOff:
    """Withdraw a sign-off before the officer accepts it; the figures are held back again."""
    row = _existing(session, agency_code, return_id, period)
    if row.state != SIGNED_OFF:
        raise Conflict(
            f"Only a sign-off not yet accepted can be withdrawn; {agency_code}'s {return_id} for {row.period} is "
            f"{row.state.replace('_', ' ')}"
        )
    _move(session, row, OPEN, actor, detail="sign-off withdrawn by the approver")
    return row


def accept(session: Session, *, return_id: str, period: str, agency_code: str, actor: Actor) -> SignOff:
    """The officer accepts an agency's sign-off."""
    row = _existing(session, agency_code, return_id, period)
    if row.state != SIGNED_OFF:
        raise Conflict(
            f"Only a signed-off return can be accepted; {agency_code}'s {return_id} for {row.period} is "
            f"{row.state.replace('_', ' ')}"
        )
    _move(session, row, ACCEPTED, actor, detail="accepted")
    return row


def send_back(session: Session, *, return_id: str, period: str, agency_code: str, reason: str, actor: Actor) -> SignOff:
    """The officer sends a sign-off (accepted or not) back to the agency with a reason."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why the return is sent back ('reason')")
    row = _existing(session, agency_code, return_id, period)
    if row.state not in (SIGNED_OFF, ACCEPTED):
        raise Conflict(
            f"Only a signed-off or accepted return can be sent back; {agency_code}'s {return_id} for {row.period} is "
            f"{row.state.replace('_', ' ')}"
        )
    row.reason = reason
    _move(session, row, RETURNED, actor, detail=reason)
    return row


def reopen_for(session: Session, changed: pl.DataFrame, agency_code: str | None, cause: str) -> int:
    """Reopen the agency's signed-off (or accepted) returns whose vouched-for figures a change revises; return how many.

    ``changed`` holds the figures stored, each with ``obs_id``, the version it replaces (null for a new
    figure). Only a sign-off that vouched for a replaced version is reopened: a figure added since a
    sign-off is held back until signed off (``exports.release.gate``) and leaves the sign-off standing, as
    does a change to another agency's, or another return's, figures.
    """
    if not agency_code or changed.is_empty() or "obs_id" not in changed.columns:
        return 0
    replaced = {int(i) for i in changed["obs_id"].drop_nulls().to_list()}
    if not replaced:
        return 0
    rows = session.execute(
        select(SignOff).where(SignOff.agency_code == agency_code, col(SignOff.state).in_((SIGNED_OFF, ACCEPTED)))
    ).scalars()
    reopened = 0
    for row in list(rows):
        if replaced.isdisjoint(row.figure_ids):
            continue
        row.reason = cause
        _move(session, row, REOPENED, Actor(cause), detail=cause)
        reopened += 1
    return reopened


def releasing(session: Session, return_id: str, period: str) -> list[SignOff]:
    """The sign-offs whose figures a build of the return for the period may release."""
    ret = _return(session, return_id)
    stmt = select(SignOff).where(
        SignOff.return_id == return_id, SignOff.period == period, col(SignOff.state).in_(releasing_states(ret))
    )
    return list(session.execute(stmt.order_by(col(SignOff.agency_code))).scalars())


def last_event_id(session: Session, return_id: str, period: str) -> int:
    """The newest transition of any sign-off of a return for a period (0 if none): a build's source mark includes it."""
    found = session.execute(
        columns(func.max(SignOffEvent.id)).where(
            col(SignOffEvent.return_id) == return_id, col(SignOffEvent.period) == period
        )
    ).scalar_one_or_none()
    return int(found or 0)


def history(session: Session, signoff_id: int) -> list[SignOffEvent]:
    """Every transition of one sign-off, oldest first."""
    stmt = select(SignOffEvent).where(SignOffEvent.signoff_id == signoff_id).order_by(col(SignOffEvent.id))
    return list(session.execute(stmt).scalars())


def list_signoffs(
    session: Session,
    *,
    return_id: str | None = None,
    period: str | None = None,
    state: str | None = None,
    agency_code: str | None = None,
    return_ids: Iterable[str] | None = None,
) -> list[SignOff]:
    """The sign-offs made so far, by return, period and agency (only of ``return_ids`` when given)."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"Unknown state {state!r}; expected one of {', '.join(STATES)}")
    stmt = select(SignOff)
    if return_id:
        stmt = stmt.where(SignOff.return_id == return_id)
    if period:
        stmt = stmt.where(SignOff.period == period)
    if state:
        stmt = stmt.where(SignOff.state == state)
    if agency_code:
        stmt = stmt.where(SignOff.agency_code == agency_code)
    if return_ids is not None:
        stmt = stmt.where(col(SignOff.return_id).in_(list(return_ids)))
    order = (col(SignOff.return_id), col(SignOff.period), col(SignOff.agency_code))
    return list(session.execute(stmt.order_by(*order)).scalars())


def periods_with_figures(session: Session, ret: Return, *, uploaded: bool = False) -> list[Period]:
    """The periods of a return that stored figures reach, in order: those a figure of one of its indicators overlaps.

    ``uploaded``: only figures an agency uploaded (not reference figures loaded with the catalogue).
    """
    from mappings.deadlines import periods_between

    reach, _context = feeds(session)
    indicators = [i for i, returns in reach.items() if ret.id in returns]
    if not indicators:
        return []
    stmt = select(Observation.period).where(col(Observation.indicator_id).in_(indicators), col(Observation.is_current))
    if uploaded:
        stmt = stmt.where(col(Observation.submission_id).is_not(None))
    codes = session.execute(stmt.distinct()).scalars()
    spans = []
    for code in codes:
        try:
            span = parse_period(code)
        except InvalidInput:
            continue
        spans.append((span.start, span.end))
    if not spans:
        return []
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    # Up to a year past the last figure: a snapshot taken on 31 March falls in a return whose period ends later.
    candidates = periods_between(ret.period_type, first, date(last.year + 1, last.month, min(last.day, 28)))
    return [p for p in candidates if any(s <= p.end and e >= p.start for s, e in spans)]
