"""When a return is in force, and which periods it can be built for.

A return collects a period only while it is in force: the period ends on or after the return's
first day and starts on or before its last (the National Indicator Set and NHS Vital Signs stopped
in March 2011, the Carbon Reduction Commitment in March 2019). A period that has not started yet
has no figures to build from. Templates, the calendar, reminders, the burden report and builds
all ask this module, so they never disagree about which returns exist in a period.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session

from indicators.periods import Period, parse_period
from mappings.models import Return
from onereturn.errors import InvalidInput, NotFound


def in_force(ret: Return, period: Period) -> bool:
    """Say whether a return is in force for any part of a period (and not abolished)."""
    if ret.status == "abolished":
        return False
    starts_ok = ret.valid_from is None or period.end >= ret.valid_from
    ends_ok = ret.valid_to is None or period.start <= ret.valid_to
    return starts_ok and ends_ok


def _span(ret: Return) -> str:
    first = ret.valid_from.isoformat() if ret.valid_from else "the start"
    last = ret.valid_to.isoformat() if ret.valid_to else "now"
    return f"from {first} to {last}"


def check_buildable(ret: Return, period: Period, *, today: date) -> None:
    """Raise NotFound when the return was not in force in the period, InvalidInput when the period has not started."""
    if ret.status == "abolished":
        raise NotFound(f"{ret.title} ({ret.id}) is abolished; it has no period {period.code}")
    if not in_force(ret, period):
        raise NotFound(f"{ret.title} ({ret.id}) was not in force in {period.code}: it is collected {_span(ret)}")
    if period.start > today:
        raise InvalidInput(
            f"{period.code} starts on {period.start.isoformat()}, after today ({today.isoformat()}): "
            "a return can be built only for a period that has begun"
        )


def check_period(session: Session, return_id: str, period: str) -> None:
    """Raise NotFound or InvalidInput, before anything is built or stored, when the return has no such period."""
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"Return {return_id!r} is not defined; see GET /api/returns")
    parsed = parse_period(period, ret.period_type)  # type: ignore[arg-type]
    check_buildable(ret, parsed, today=datetime.now(UTC).date())
