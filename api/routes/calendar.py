"""The performance officer's view of time: one calendar across every return, reminders and notices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.auth import CalendarRead, OutboxRead
from api.deps import SessionDep
from api.paging import Limit, Offset, Page, page, page_of
from api.params import IsoDate, bounded_window
from api.scopes import read_scope
from mappings.calendar import agency_returns
from mappings.calendar_view import Status, calendar_rows, entries_between
from mappings.deadlines import clashes, to_ics
from onereturn import clock, outbox

router = APIRouter(prefix="/api", tags=["calendar"])


def _window(start: date | None, end: date | None) -> tuple[date, date]:
    first = start or clock.now().date()
    return bounded_window(first, end or first + timedelta(weeks=13))


@router.get(
    "/calendar",
    summary="The collection calendar with what is still owed",
    responses={404: {"description": "Another agency (with an agency key)"}},
)
def get_calendar(
    request: Request,
    session: SessionDep,
    principal: CalendarRead,
    agency: Annotated[str | None, Query(description="Only this agency's returns (an agency key: its own)")] = None,
    return_id: Annotated[str | None, Query(alias="return")] = None,
    start: Annotated[IsoDate | None, Query(alias="from", description="First day (default today)")] = None,
    end: Annotated[IsoDate | None, Query(alias="to", description="Last day (default 13 weeks on)")] = None,
    status: Status | None = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> dict[str, Any]:
    """List window openings, agency deadlines, sign-off dates, builds and recipient deadlines, with what each agency
    still owes: the figures missing at an agency deadline; at a sign-off date, its figures missing or its sign-off.

    Past a deadline, ``overdue`` names each agency late for it and why: ``figures_missing`` or, its figures all in,
    ``not_signed_off``."""
    scope = read_scope(principal)
    if agency is not None:
        scope.check_agency(agency)
    agency = scope.agency or agency
    first, last = _window(start, end)
    rows = calendar_rows(
        session, first=first, last=last, now=clock.now(), agency=agency, return_id=return_id, status=status
    )
    listed = page_of(request, rows, limit=limit, offset=offset).model_dump()
    return {"from": first.isoformat(), "to": last.isoformat(), **listed}


@router.get(
    "/calendar.ics",
    summary="The collection calendar as an iCalendar feed",
    responses={200: {"content": {"text/calendar": {}}}},
)
def get_calendar_ics(
    session: SessionDep,
    agency: str | None = None,
    return_id: Annotated[str | None, Query(alias="return")] = None,
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to")] = None,
) -> Response:
    """Subscribe to deadlines from Outlook or any calendar program (public: it lists deadlines, never figures)."""
    first = start or datetime.now(UTC).date() - timedelta(days=31)
    first, last = bounded_window(first, end or first + timedelta(days=400))
    entries = entries_between(session, first, last, return_id, agency)
    data = to_ics(entries, name="onereturn collection calendar", now=datetime.now(UTC).replace(microsecond=0))
    return Response(
        data,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": 'inline; filename="onereturn.ics"'},
    )


@router.get("/calendar/clashes", summary="Weeks where one agency has several deadlines")
def get_clashes(
    request: Request,
    session: SessionDep,
    principal: CalendarRead,
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[dict[str, Any]]:
    """List weeks in which an agency has two or more deadlines (an agency sees its own)."""
    own = read_scope(principal).agency
    first, last = _window(start, end)
    entries = entries_between(session, first, last, None, own)
    found = [
        {
            "agency": c.agency,
            "week": c.week,
            "deadlines": [{"return_id": e.return_id, "period": e.period, "at": e.at.isoformat()} for e in c.entries],
        }
        for c in clashes(entries, agency_returns(session))
        if own is None or c.agency == own
    ]
    return page_of(request, found, limit=limit, offset=offset)


@router.get("/outbox", summary="Reminders and notices")
def get_outbox(
    request: Request, session: SessionDep, principal: OutboxRead, limit: Limit = 100, offset: Offset = 0
) -> Page[dict[str, Any]]:
    """List reminders and notices, newest first (an agency sees its own)."""
    items, total = outbox.listed(session, agency_code=read_scope(principal).agency, limit=limit, offset=offset)
    return page(request, items, total=total, limit=limit, offset=offset)
