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


def parse_line(line: str) -> Figure:
    """The figure a canonical line (``figure_line``) stands for: the inverse, for showing a line to a person."""
    indicator_id, org_code, period, breakdown, value, figure_id = line.split("\t")
    return Figure(int(figure_id), indicator_id, org_code, period, breakdown, value)


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
        signoff_id=row.id, agency_code=row.agency_code, return_id=row.return_id, period=row.period,
        from_state=row.state, to_state=to, at=now, actor=actor.name[:300], key_prefix=actor.key_prefix,
        client=actor.client[:64], detail=detail, digest=row.digest,
    )  # fmt: skip
    row.state = to
    row.updated_at = now
    session.add(row)
    session.add(event)
    session.flush()
    return event


def blockers(session: Session, agency_code: str, return_id: str, period: str) -> list[dict[str, Any]]:
    """What stops an agency signing off a return for a period: errors in its latest upload for the period, and open queries.

    The upload that counts is the agency's latest among those that carry figures (stored or held) for a
    period overlapping this one, so an upload for another period neither blocks nor clears it. A row in
    error is not stored, so its figure's return is not known: an upload's errors count for every return
    of the periods its other figures are for, and an upload that stored and held nothing counts for every
    period (a wholly rejected file blocks until a later upload supersedes it). Open queries count where
    their figure reaches the return and overlaps the period, whichever upload came later.
    """
    ret = _return(session, return_id)
    span = parse_period(period, ret.period_type)  # type: ignore[arg-type]
    stmt = select(Submission).where(Submission.agency_code == agency_code, Submission.mode != "dry_run")
    uploads = {int(sub.id): sub for sub in session.execute(stmt).scalars() if sub.id is not None}
    placed: set[int] = set()
    relevant: set[int] = set()
    carried = [
        select(Observation.submission_id, Observation.period)
        .join(Submission, col(Submission.id) == col(Observation.submission_id))
        .where(Submission.agency_code == agency_code)
        .distinct(),
        select(HeldFigure.submission_id, HeldFigure.period)
        .join(Submission, col(Submission.id) == col(HeldFigure.submission_id))
        .where(Submission.agency_code == agency_code)
        .distinct(),
    ]
    for query in carried:
        for submission_id, figure_period in session.execute(query).all():
            placed.add(int(submission_id))
            if _overlaps(figure_period, span.start, span.end):
                relevant.add(int(submission_id))
    counted = (relevant & uploads.keys()) | {i for i in uploads if i not in placed}
    found: list[dict[str, Any]] = []
    latest = uploads[max(counted)] if counted else None
    if latest is not None and latest.error_count:
        found.append(
            {"type": "errors", "loc": ["submission", latest.id], "input": latest.error_count,
             "msg": f"Upload {latest.id} ({latest.filename}) has {latest.error_count} error(s): correct them and upload again"}
        )  # fmt: skip
    reach, _context = feeds(session)
    open_rows = session.execute(
        select(HeldFigure.id, HeldFigure.indicator_id, HeldFigure.period, HeldFigure.submission_id)
        .join(Submission, col(Submission.id) == col(HeldFigure.submission_id))
        .where(Submission.agency_code == agency_code, HeldFigure.state == "open")
    ).all()
    for held_id, indicator_id, held_period, submission_id in open_rows:
        if return_id not in reach.get(indicator_id, ()) or not _overlaps(held_period, span.start, span.end):
            continue
        found.append(
            {"type": "query", "loc": ["submission", submission_id, "queries", held_id], "input": indicator_id,
             "msg": f"The query on {indicator_id} for {held_period} (upload {submission_id}) is not answered"}
        )  # fmt: skip
    return found


def _overlaps(code: str, start: date, end: date) -> bool:
    try:
        span = parse_period(code)
    except InvalidInput:
        return False
    return span.start <= end and span.end >= start


def sign_off(
    session: Session,
    *,
    agency_code: str,
    return_id: str,
    period: str,
    figures: list[Figure],
    declaration: str,
    actor: Actor,
    check: bool = True,
) -> SignOff:
    """Sign off an agency's figures for a return and period with the return's declaration, word for word.

    Refused (409, every reason listed) while the agency's latest upload for the return and period has
    errors or a query on the return's figures is unanswered (see ``blockers``), when there is nothing to vouch for, or when the state is not one
    that may be signed. ``check=False`` skips the errors and queries, for an operator's ``sign-all``.
    """
    ret = _return(session, return_id)
    period = canonical_period(session, return_id, period)
    if " ".join(declaration.split()) != " ".join(ret.declaration.split()):
        raise InvalidInput(
            f"The declaration must be the return's own, word for word: {ret.declaration!r} (see GET /api/signoffs/"
            f"{agency_code}/{return_id}/{period})"
        )
    row = _row(session, agency_code, return_id, period)
    if row.state not in SIGNABLE:
        raise Conflict(
            f"{agency_code}'s {return_id} for {period} is {row.state.replace('_', ' ')}; {MEANINGS[row.state]}"
        )
    reasons = blockers(session, agency_code, return_id, period) if check else []
    if not figures:
        reasons.append(
            {"type": "nothing", "loc": [], "input": None,
             "msg": f"{agency_code} has no figure in {return_id} for {period} to sign off"}
        )  # fmt: skip
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
    """Reopen the agency's signed-off (or accepted) returns a change of its figures reaches; return how many.

    Only that agency and only the returns whose fields read a changed indicator, for the periods the
    change overlaps: another agency's sign-off, or another return's, stands.
    """
    if not agency_code or changed.is_empty():
        return 0
    rows = list(
        session.execute(
            select(SignOff).where(SignOff.agency_code == agency_code, col(SignOff.state).in_((SIGNED_OFF, ACCEPTED)))
        ).scalars()
    )
    if not rows:
        return 0
    reach, _context = feeds(session)
    spans: dict[str, list[tuple[date, date]]] = {}
    for indicator_id, period in changed.select("indicator_id", "period").unique().iter_rows():
        try:
            span = parse_period(str(period))
        except InvalidInput:
            continue
        for return_id in reach.get(str(indicator_id), ()):
            spans.setdefault(return_id, []).append((span.start, span.end))
    reopened = 0
    for row in rows:
        found = spans.get(row.return_id)
        if not found:
            continue
        own = parse_period(row.period)
        if any(start <= own.end and end >= own.start for start, end in found):
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
