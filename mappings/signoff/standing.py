"""Where one agency stands on signing off one return for one period, as the calendar and its notices ask it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session, select

from mappings.calendar import outstanding, return_indicators
from mappings.obligations import obligations
from mappings.signoff.models import SignOff
from mappings.signoff.states import OPEN, SIGNED
from onereturn.memo import within_transaction

#: Why an agency is overdue: figures it owes are not in, or they are all in and not signed off.
OverdueReason = Literal["figures_missing", "not_signed_off"]

#: Each reason in the words the pages and messages give.
OVERDUE_WORDS: dict[OverdueReason, str] = {"figures_missing": "figures missing", "not_signed_off": "not signed off"}


@dataclass(frozen=True)
class SignoffStanding:
    """Where one agency stands on signing off one return for one period: its state and the figures still missing."""

    agency: str
    return_id: str
    period: str
    #: ``open``, ``reopened``, ``returned``, ``signed_off`` or ``accepted``.
    state: str
    #: Figures the agency owes the return for the period and has not sent.
    missing: int

    @property
    def signed(self) -> bool:
        """Say whether the agency has vouched for its figures (signed off, or accepted by the officer)."""
        return self.state in SIGNED

    @property
    def reason(self) -> OverdueReason | None:
        """Why the agency would be overdue once the sign-off date passes (None: it has signed off)."""
        if self.signed:
            return None
        return "figures_missing" if self.missing else "not_signed_off"


def signoff_standing(
    session: Session, agency: str, return_id: str, period: str, needed: set[str] | None = None
) -> SignoffStanding | None:
    """Say where an agency stands on signing off a return for a period; None when it owes the return nothing."""
    wanted = return_indicators(session, return_id) if needed is None else needed
    owed = [o for o in obligations(session, agency, period) if o.indicator_id in wanted]
    if not owed:
        return None
    missing = len(outstanding(session, agency, period, wanted))
    state = _signoff_states(session).get((agency, return_id, period), OPEN)
    return SignoffStanding(agency, return_id, period, state, missing)


def _signoff_states(session: Session) -> dict[tuple[str, str, str], str]:
    """Every sign-off's state by (agency, return, period), read in one statement once per transaction (the calendar
    asks for each agency at each sign-off date)."""
    return within_transaction(
        session,
        "signoff_states",
        lambda: {
            (a, r, p): s
            for a, r, p, s in session.execute(
                select(SignOff.agency_code, SignOff.return_id, SignOff.period, SignOff.state)
            ).all()
        },
    )
