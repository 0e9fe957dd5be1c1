"""Sign-off's states and its rows: each (agency, return, period) has one state, and every move is kept.

``open`` (nothing vouched for yet), ``signed_off`` (an approver of the agency has declared the figures right),
``accepted`` (the officer accepted the sign-off, where the return asks for that), ``reopened`` (a figure signed
off was revised since) or ``returned`` (the officer sent it back with a reason). Only ``signed_off`` (when the
return needs no acceptance) and ``accepted`` release figures. Every transition is kept in ``signoff_event`` and
never changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from indicators.periods import parse_period
from mappings.models import Agency, Return
from mappings.signoff.models import SignOff, SignOffEvent
from onereturn.errors import Conflict, InvalidInput, NotFound

OPEN, SIGNED_OFF, ACCEPTED, REOPENED, RETURNED = "open", "signed_off", "accepted", "reopened", "returned"

STATES: tuple[str, ...] = (OPEN, SIGNED_OFF, ACCEPTED, REOPENED, RETURNED)

#: The states from which an approver may sign off.
SIGNABLE = frozenset({OPEN, REOPENED, RETURNED})
#: The states in which an agency has vouched for its figures: nothing left to remind it of.
SIGNED = frozenset({SIGNED_OFF, ACCEPTED})
#: The states from which an approver may withdraw, the officer accept, and the officer send back.
WITHDRAWABLE = frozenset({SIGNED_OFF})
ACCEPTABLE = frozenset({SIGNED_OFF})
RETURNABLE = frozenset({SIGNED_OFF, ACCEPTED})

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


def published_sources(session: Session) -> frozenset[str]:
    """The agencies whose figures are official statistics they have published already: nobody signs them off again."""
    rows = session.execute(select(Agency.code, Agency.definition)).all()
    return frozenset(code for code, definition in rows if (definition or {}).get("published"))


def releasing_states(ret: Return) -> frozenset[str]:
    """The states that release a return's figures: accepted, and signed off when the return needs no acceptance."""
    return frozenset({ACCEPTED}) if ret.needs_acceptance else frozenset({SIGNED_OFF, ACCEPTED})


def return_of(session: Session, return_id: str) -> Return:
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"Return {return_id!r} is not defined; see GET /api/returns")
    return ret


def canonical_period(session: Session, return_id: str, period: str) -> str:
    """The period spelled as the return's builds spell it, or InvalidInput naming the return's period type."""
    ret = return_of(session, return_id)
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


def row_of(session: Session, agency_code: str, return_id: str, period: str) -> SignOff:
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


def move(session: Session, row: SignOff, to: str, actor: Actor, *, detail: str = "") -> SignOffEvent:
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


def existing(session: Session, agency_code: str, return_id: str, period: str) -> SignOff:
    period = canonical_period(session, return_id, period)
    row = find(session, agency_code, return_id, period)
    if row is None:
        if session.get(Agency, agency_code) is None:
            raise NotFound(f"Agency {agency_code!r} is not known")
        raise Conflict(f"{agency_code}'s {return_id} for {period} is open: nothing has been signed off")
    return row


def releasing(session: Session, return_id: str, period: str) -> list[SignOff]:
    """The sign-offs whose figures a build of the return for the period may"""
    ret = return_of(session, return_id)
    stmt = select(SignOff).where(
        SignOff.return_id == return_id, SignOff.period == period, col(SignOff.state).in_(releasing_states(ret))
    )
    return list(session.execute(stmt.order_by(col(SignOff.agency_code))).scalars())


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
