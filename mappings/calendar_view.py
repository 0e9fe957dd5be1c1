"""The collection calendar as the API and the pages list it: each entry in a window with who still owes what.

At an agency deadline, the figures each agency still owes; at a sign-off date, its figures missing or its
sign-off; past either, each agency late for it and why (``figures_missing`` or ``not_signed_off``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlmodel import Session

from mappings.calendar import agency_returns, calendar_entries, owed_for_entry, return_indicators
from mappings.deadlines import CalendarEntry, period_words
from mappings.signoff.standing import OverdueReason, signoff_standing

Status = Literal["upcoming", "done", "owed", "overdue"]


def entries_between(
    session: Session, start: date, end: date, return_id: str | None, agency: str | None
) -> list[CalendarEntry]:
    """The calendar's entries from ``start`` to ``end``, of one return or all, of one agency's returns or all."""
    entries = calendar_entries(session, start - timedelta(days=400), end)
    keep = [e for e in entries if start <= e.at.date() <= end and (return_id is None or e.return_id == return_id)]
    if agency is not None:
        mine = set(agency_returns(session).get(agency, []))
        keep = [e for e in keep if e.return_id in mine]
    return keep


def calendar_rows(
    session: Session,
    *,
    first: date,
    last: date,
    now: datetime,
    agency: str | None = None,
    return_id: str | None = None,
    status: Status | None = None,
) -> list[dict[str, Any]]:
    """Every entry from ``first`` to ``last`` with the agencies it concerns and what each owes, by ``status``."""
    owners = agency_returns(session)
    needed: dict[str, set[str]] = {}
    rows = []
    for e in entries_between(session, first, last, return_id, agency):
        agencies = [a for a, rets in owners.items() if e.return_id in rets and (agency is None or a == agency)]
        owed: dict[str, int] = {}
        unsigned: dict[str, str] = {}
        late: dict[str, OverdueReason] = {}
        if e.kind in ("agency_deadline", "signoff_deadline") and e.return_id not in needed:
            needed[e.return_id] = return_indicators(session, e.return_id)
        if e.kind == "agency_deadline":
            owed = {a: len(owed_for_entry(session, a, e.return_id, e.period, needed[e.return_id])) for a in agencies}
            late = {a: "figures_missing" for a, n in owed.items() if n}
        elif e.kind == "signoff_deadline":
            for a in agencies:
                standing = signoff_standing(session, a, e.return_id, e.period, needed[e.return_id])
                if standing is not None:
                    owed[a] = standing.missing
                    if standing.reason is not None:
                        unsigned[a] = standing.state
                        late[a] = standing.reason
        state: Status = "upcoming" if e.at > now else "done"
        if late:
            state = "overdue" if e.at <= now else "owed"
        if status is not None and state != status:
            continue
        rows.append(
            {
                "uid": e.uid,
                "title": e.summary,
                "return_id": e.return_id,
                "period": e.period,
                "period_words": period_words(e.period),
                "kind": e.kind,
                "label": e.label,
                "at": e.at.isoformat(),
                "start": e.at.isoformat(),
                "end": e.end.isoformat(),
                "status": state,
                "agencies": agencies,
                "owed": owed,
                "unsigned": unsigned,
                "overdue": late if e.at <= now else {},
            }
        )
    return rows
