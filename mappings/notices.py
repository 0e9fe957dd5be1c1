"""The calendar's notices in words: a window open, the reminders of figures owed and of returns to sign off, the
overdue notices, and a re-opened build; and whom they go to.

The scheduler's jobs decide when each is sent and record that it was (``scheduler.py``); this says what each
says, and which figures a reminder lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlmodel import Session

from mappings.calendar import (
    REMIND_WORKING_DAYS,
    owed_for_entry,
    return_words,
    timetable_lines,
)
from mappings.deadlines import ENGLAND, CalendarEntry
from mappings.models import Agency
from mappings.obligations import Obligation
from mappings.signoff.standing import OVERDUE_WORDS, SignoffStanding, signoff_standing
from mappings.signoff.states import MEANINGS
from onereturn import outbox
from onereturn.outbox import Kind

#: The officer's notices go to this recipient.
OFFICER = "performance-officer"


@dataclass(frozen=True)
class Notice:
    """What a message says: its subject and its body."""

    subject: str
    body: str


def queue(session: Session, kind: Kind, to: str, notice: Notice, dedupe_key: str, *, agency: bool) -> None:
    """Queue a notice in the outbox, to an agency (``to`` its code: its address) or to a recipient named outright."""
    outbox.queue(
        session,
        kind=kind,
        recipient=address(session, to) if agency else to,
        agency_code=to if agency else None,
        subject=notice.subject,
        body=notice.body,
        dedupe_key=dedupe_key,
        now=datetime.now(UTC),
    )


def address(session: Session, agency_code: str) -> str:
    """Where an agency's notices go: its email when it has one, else its code."""
    agency = session.get(Agency, agency_code)
    return agency.email if agency is not None and agency.email else agency_code


def signoff_path(return_id: str, period: str) -> str:
    """The page where an agency's approver reviews and signs off a return for a period."""
    return f"/signoffs/{quote(return_id, safe='')}/{quote(period, safe='')}"


def window_open(words: str, return_id: str, period: str, owed: int) -> Notice:
    """Tell an agency that its window for a return and period is open, and how many figures it owes for it."""
    return Notice(
        f"onereturn: {words} is open for figures",
        f"The collection window for {words} ({return_id} {period}) is open. You owe {owed} figure(s) for it.",
    )


def reminder_days(
    entries: list[CalendarEntry], owners: dict[str, list[str]], kind: str
) -> list[tuple[str, date, datetime, list[list[str]]]]:
    """One reminder per agency and day of ``kind`` (an agency deadline, a sign-off date) among ``entries``: the
    agency, the day, when the reminder goes (09:00 London time, working days before) and the (return, period)
    pairs it covers."""
    zone = ZoneInfo("Europe/London")
    by_agency: dict[tuple[str, date], list[list[str]]] = {}
    for e in entries:
        if e.kind != kind:
            continue
        for agency, rets in owners.items():
            if e.return_id in rets:
                by_agency.setdefault((agency, e.at.astimezone(zone).date()), []).append([e.return_id, e.period])
    return [
        (
            agency,
            day,
            datetime.combine(ENGLAND.add_working_days(day, -REMIND_WORKING_DAYS), time(9, 0), tzinfo=zone),
            items,
        )
        for (agency, day), items in sorted(by_agency.items())
    ]


def owed_figures(session: Session, agency_code: str, entries: list[list[str]]) -> dict[Obligation, list[str]]:
    """Each figure an agency still owes for the (return, period) ``entries``, once, with the returns that need it."""
    owed: dict[Obligation, list[str]] = {}
    for return_id, period in entries:
        for o in owed_for_entry(session, agency_code, return_id, period):
            owed.setdefault(o, []).append(return_id)
    return owed


def _dates(session: Session, entries: list[list[str]]) -> str:
    dates = timetable_lines(session, entries)
    return "\n\nDates to meet:\n" + "\n".join(dates) if dates else ""


def figures_reminder(
    session: Session, deadline: str, entries: list[list[str]], owed: dict[Obligation, list[str]]
) -> Notice:
    """Remind an agency of every figure it still owes by ``deadline``, each asked for once, across its returns."""
    dates = _dates(session, entries)
    lines = [
        f"- {o.indicator_id} for {o.org_code}, {o.period}{(' (' + o.breakdown + ')') if o.breakdown else ''}: needed by {', '.join(sorted(set(r)))}"
        for o, r in sorted(owed.items())
    ]
    return Notice(
        f"onereturn: {len(owed)} figure(s) due by {deadline} for "
        + "; ".join(sorted({return_words(session, r) for rets in owed.values() for r in rets})),
        "Figures still owed, each asked for once:\n" + "\n".join(lines) + dates,
    )


def not_signed_off(session: Session, agency_code: str, entries: list[list[str]]) -> list[SignoffStanding]:
    """The (return, period) ``entries`` an agency owes and has not signed off (open, reopened or sent back)."""
    return [
        standing
        for return_id, period in entries
        if (standing := signoff_standing(session, agency_code, return_id, period)) is not None and not standing.signed
    ]


def _waiting_line(session: Session, standing: SignoffStanding) -> str:
    missing = f"; {standing.missing} figure(s) still to send first" if standing.missing else ""
    return (
        f"- {return_words(session, standing.return_id, standing.period)} ({standing.return_id} {standing.period}): "
        f"{MEANINGS[standing.state]}{missing}. Review and sign off at {signoff_path(standing.return_id, standing.period)}"
    )


def signoff_reminder(session: Session, deadline: str, waiting: list[SignoffStanding]) -> Notice:
    """Remind an agency's approvers of every return and period to sign off by ``deadline`` not yet signed off."""
    dates = _dates(session, [[w.return_id, w.period] for w in waiting])
    return Notice(
        f"onereturn: {len(waiting)} return(s) to sign off by {deadline}: "
        + "; ".join(return_words(session, w.return_id, w.period) for w in waiting),
        "Not yet signed off by your approver (nothing reaches the recipient until it is):\n"
        + "\n".join(_waiting_line(session, w) for w in waiting)
        + dates,
    )


def figures_overdue(words: str, return_id: str, period: str, missing: int) -> Notice:
    """Tell an agency that a return's deadline has passed with figures of its missing."""
    return Notice(
        f"onereturn: {missing} figure(s) for {words} are overdue",
        f"The deadline for {words} ({return_id} {period}) has passed with {missing} figure(s) missing.",
    )


def signoff_overdue(words: str, return_id: str, period: str, standing: SignoffStanding) -> Notice:
    """Tell an agency whose figures are all in that a return's sign-off date has passed without its sign-off."""
    return Notice(
        f"onereturn: {words} is not signed off and its sign-off date has passed",
        f"Your figures for {words} ({return_id} {period}) are all in, but {MEANINGS[standing.state]}: "
        f"nothing reaches the recipient until your approver signs them off at {signoff_path(return_id, period)}.",
    )


def late_signoffs(words: str, return_id: str, period: str, late: dict[str, SignoffStanding]) -> Notice:
    """Tell the officer which agencies are late signing off a return for a period, and why."""
    return Notice(
        f"onereturn: {len(late)} agency(ies) late signing off {words}",
        f"The sign-off date for {words} ({return_id} {period}) has passed:\n"
        + "\n".join(f"- {a}: {OVERDUE_WORDS[s.reason]} ({MEANINGS[s.state]})" for a, s in late.items() if s.reason),
    )


def late_words(late: dict[str, SignoffStanding]) -> str:
    """Each late agency and why, on one line."""
    return ", ".join(f"{a}: {OVERDUE_WORDS[s.reason]}" for a, s in late.items() if s.reason)


def reopened(words: str, return_id: str, period: str, build_id: int | None, revised: list[str]) -> Notice:
    """Tell the officer that figures revised after a build re-open it."""
    return Notice(
        f"onereturn: a revised figure re-opens {words}",
        f"{len(revised)} figure(s) behind build {build_id} of {return_id} {period} were revised after it was built: "
        + ", ".join(sorted(revised)[:20]),
    )
