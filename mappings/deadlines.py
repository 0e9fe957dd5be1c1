"""The collection calendar: when each return's window opens, when agencies must submit, when the
return is built and when the recipient must have it, over English working days.

Every return has its own timetable (a deadline rule in its return file, see ``DEADLINE_RULE``), so
the performance officer needs them laid side by side. For one return and one period:

* the window opens at 00:00 local time on the day after the period ends;
* the recipient's deadline (hard) is the return's rule applied to the period, at 17:00;
* the agency deadline (soft) is ``lead_working_days`` working days before that, at 17:00, so the
  office has time to chase, check and build;
* the return is built at 18:00 on the agency deadline day, once the day's submissions are in.

Working days are Monday to Friday except the bank holidays of England and Wales, taken from the
maintained ``holidays`` package (which includes substitute days and one-off holidays). All of this
is pure: no database, and the same inputs always give the same calendar and the same ``.ics`` bytes.
"""

from __future__ import annotations

import calendar as _calendar
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from indicators.periods import (
    PERIOD_TYPES,
    Period,
    academic_year,
    calendar_year,
    financial_year,
    month,
    parse_period,
    quarter,
    snapshot,
)
from mappings.catalogue import DEADLINE_RULE
from onereturn.errors import InvalidInput

if TYPE_CHECKING:
    import holidays

Kind = Literal["window_opens", "agency_deadline", "build", "milestone", "signoff_deadline", "recipient_deadline"]
KINDS: tuple[Kind, ...] = get_args(Kind)

#: The deadline rules a return file may use, for error messages.
ACCEPTED_RULES = (
    "working_days_after_period_end:N, days_after_period_end:N, last_working_day_of_month_after "
    "or fixed_after_period_end:MM-DD (with ;PERIOD=MM-DD for a period whose date differs)"
)
#: Local wall-clock times of each kind of entry.
TIMES: dict[Kind, time] = {
    "window_opens": time(0, 0),
    "agency_deadline": time(17, 0),
    "build": time(18, 0),
    "milestone": time(17, 0),
    "signoff_deadline": time(17, 0),
    "recipient_deadline": time(17, 0),
}
DEFAULT_TZ = "Europe/London"

#: Each kind of entry in words, as a calendar shows it.
KIND_WORDS: dict[Kind, str] = {
    "window_opens": "collection window opens",
    "agency_deadline": "agencies' deadline",
    "build": "return built",
    "milestone": "dated step",
    "signoff_deadline": "sign-off due",
    "recipient_deadline": "due to the recipient",
}
#: The sign-off rules that put a return's sign-off at its agency deadline: none of the recipient's own
#: was found, so approvers vouch for the figures when they are due.
SIGNOFF_AT_AGENCY = frozenset({"", "agency_deadline"})
#: How long an entry lasts on a calendar (a deadline is a moment; calendar programs need an end).
EVENT_LENGTH = timedelta(minutes=30)


def period_words(code: str) -> str:
    """Say a period the way people write it: ``FY2024-25`` -> ``2024 to 2025 financial year``."""
    try:
        period = parse_period(code)
    except InvalidInput:
        return code
    first, last = period.start, period.end
    if period.type == "financial_year":
        return f"{first.year} to {last.year} financial year"
    if period.type == "academic_year":
        return f"{first.year} to {last.year} academic year"
    if period.type == "calendar_year":
        return str(first.year)
    if period.type == "month":
        return first.strftime("%B %Y")
    if period.type == "quarter":
        return f"{first.strftime('%B')} to {last.strftime('%B %Y')}"
    return f"{last.day} {last.strftime('%B %Y')}"


_DESCRIPTIONS: dict[Kind, str] = {
    "window_opens": "The collection window for {r} {p} opens: agencies may submit their figures from now.",
    "agency_deadline": "Agencies must have submitted their figures for {r} {p} by now (soft deadline, "
    "set ahead of the recipient's so there is time to chase, check and build).",
    "build": "The {r} return for {p} is built from the figures received by the agency deadline.",
    "milestone": "The {r} return for {p}: {m} by now (a dated step before the final deadline).",
    "signoff_deadline": "Each agency's approver must have signed off its figures for {r} {p} by now: "
    "nothing reaches the recipient until it is signed off.",
    "recipient_deadline": "The {r} return for {p} is due to its recipient (hard deadline).",
}


class WorkingCalendar:
    """Working days: Monday to Friday, less the bank holidays of one UK nation (England by default)."""

    def __init__(self, subdiv: str = "ENG") -> None:
        self._subdiv = subdiv

    @cached_property
    def _holidays(self) -> holidays.HolidayBase:
        # Made when first asked, with the package imported then: every process of the service imports this module
        # (and makes ``ENGLAND``), and only those that count working days pay the package's import (about 0.1 s of
        # CPU). expand=True (the default) computes each year's holidays the first time a date in it is asked about,
        # so the calendar works for any year without listing years up front.
        import holidays

        return holidays.country_holidays("GB", subdiv=self._subdiv)

    def is_holiday(self, day: date) -> bool:
        """Say whether ``day`` is a bank holiday (including substitute days)."""
        return day in self._holidays

    def is_working_day(self, day: date) -> bool:
        """Say whether ``day`` is a weekday that is not a bank holiday."""
        return day.weekday() < 5 and not self.is_holiday(day)

    def add_working_days(self, day: date, n: int) -> date:
        """Return the ``n``-th working day after ``day`` (before it if ``n`` < 0; ``day`` itself if 0)."""
        step = 1 if n >= 0 else -1
        remaining = abs(n)
        while remaining:
            day += timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def on_or_after(self, day: date) -> date:
        """Return ``day`` if it is a working day, else the next working day."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def on_or_before(self, day: date) -> date:
        """Return ``day`` if it is a working day, else the previous working day."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def last_working_day_of_month(self, year: int, month_no: int) -> date:
        """Return the last working day of a month."""
        return self.on_or_before(date(year, month_no, _calendar.monthrange(year, month_no)[1]))


#: England's working calendar, shared because building a holiday table per call would be wasteful.
ENGLAND = WorkingCalendar("ENG")


def is_working_day(day: date) -> bool:
    """Say whether ``day`` is an English working day."""
    return ENGLAND.is_working_day(day)


def add_working_days(day: date, n: int) -> date:
    """Return the ``n``-th English working day after ``day`` (before it if ``n`` < 0; ``day`` if 0)."""
    return ENGLAND.add_working_days(day, n)


def last_working_day_of_month(year: int, month_no: int) -> date:
    """Return the last English working day of a month."""
    return ENGLAND.last_working_day_of_month(year, month_no)


def _fixed_after(month_no: int, day_no: int, after: date) -> date:
    # 29 February may be eight years away (across a century that is not a leap year).
    for year in range(after.year, after.year + 9):
        try:
            candidate = date(year, month_no, day_no)
        except ValueError:
            continue
        if candidate > after:
            return candidate
    raise InvalidInput(
        f"Deadline rule fixed_after_period_end:{month_no:02d}-{day_no:02d} names a date that never occurs"
    )


def recipient_deadline(rule: str, period: Period, *, working: WorkingCalendar = ENGLAND) -> date:
    """Return the recipient's (hard) deadline for ``period`` under a return's deadline rule.

    * ``working_days_after_period_end:N`` - the N-th working day after the period's last day
      (N = 0: the last day itself, or the next working day if it is not one);
    * ``days_after_period_end:N`` - N calendar days after; a weekend or bank holiday moves it to the
      next working day, as offices read "within N days" to allow a full last working day;
    * ``last_working_day_of_month_after`` - the last working day of the month after the period's
      last month;
    * ``fixed_after_period_end:MM-DD`` - the first such date strictly after the period ends. On a
      weekend or bank holiday it moves back to the previous working day, because statutory dates
      mean "by": the recipient's system may close on the day, so the last safe day is the working
      day before. Only if that would fall on or before the period end does it move forward instead.
      ``;PERIOD=MM-DD`` after it (any number) gives the date the recipient set for that period instead.
    """
    if not DEADLINE_RULE.fullmatch(rule):
        raise InvalidInput(f"Deadline rule {rule!r} is not recognised; write {ACCEPTED_RULES}")
    name, _, arg = rule.partition(":")
    if name == "working_days_after_period_end":
        return working.on_or_after(working.add_working_days(period.end, int(arg)))
    if name == "days_after_period_end":
        return working.on_or_after(period.end + timedelta(days=int(arg)))
    if name == "last_working_day_of_month_after":
        year, month_no = (period.end.year + 1, 1) if period.end.month == 12 else (period.end.year, period.end.month + 1)
        return working.last_working_day_of_month(year, month_no)
    usual, *moved = arg.split(";")
    month_text, day_text = dict(m.split("=") for m in moved).get(period.code, usual).split("-")
    fixed = _fixed_after(int(month_text), int(day_text), period.end)
    earlier = working.on_or_before(fixed)
    return earlier if earlier > period.end else working.on_or_after(fixed)


@dataclass(frozen=True)
class CalendarEntry:
    """One moment in a return's timetable for one period, as a timezone-aware instant."""

    return_id: str
    period: str
    kind: Kind
    at: datetime
    #: The return's title, for a summary in words; the id stands in when it is not known.
    title: str = ""
    #: The milestone's name (e.g. "data loaded"); empty for the other kinds.
    label: str = ""

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise InvalidInput(f"Calendar entry {self.uid}: the time {self.at.isoformat()} has no timezone")

    @property
    def uid(self) -> str:
        """Return the identifier calendar programs use to update this entry rather than duplicate it."""
        suffix = "-" + "-".join(self.label.lower().split()) if self.label else ""
        return f"{self.return_id}.{self.period}.{self.kind}{suffix}@onereturn"

    @property
    def summary(self) -> str:
        """Return the one-line title in words, e.g. ``National Indicator Set, 2024 to 2025 financial year: agencies' deadline``."""
        return f"{self.title or self.return_id}, {period_words(self.period)}: {self.label or KIND_WORDS[self.kind]}"

    @property
    def end(self) -> datetime:
        """Return when the entry ends: a moment in a timetable is shown as a short event from ``at``."""
        return self.at + EVENT_LENGTH

    @property
    def description(self) -> str:
        """Return the sentence saying what the entry means."""
        return _DESCRIPTIONS[self.kind].format(
            r=self.title or self.return_id, p=period_words(self.period), m=self.label
        )


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"Time zone {tz!r} is not known; use an IANA name such as {DEFAULT_TZ}") from None


def entries_for(
    return_id: str,
    period_type: str,
    rule: str,
    period: Period,
    *,
    lead_working_days: int = 5,
    tz: str = DEFAULT_TZ,
    working: WorkingCalendar = ENGLAND,
    milestones: Sequence[tuple[str, str]] = (),
    signoff: str = "",
) -> list[CalendarEntry]:
    """Return the entries of one return for one period, in time order.

    ``milestones`` are (name, rule) steps before the final deadline, such as "data loaded" by 31 May
    ahead of the return finished by 30 June: each is an entry of its own, and the agency deadline is
    set ahead of the earliest of them, since figures must be in before the first date falls due.
    The agency deadline is ``lead_working_days`` working days before that date, but never before
    the first working day on or after the window opens (a long lead on a short timetable would
    otherwise ask for figures before they may be sent), and never after the recipient's deadline.

    ``signoff`` is the rule of the date by which each agency's approver must have signed its figures
    off, where the recipient publishes one; empty (or ``agency_deadline``), the sign-off falls due
    with the figures, at the agency deadline. It is never later than the recipient's deadline.
    """
    if period.type != period_type:
        raise InvalidInput(
            f"Return {return_id} is collected by {period_type}, but period {period.code} is a {period.type}"
        )
    if lead_working_days < 0:
        raise InvalidInput(f"The agency lead time must be zero or more working days, not {lead_working_days}")
    zone = _zone(tz)
    opens = period.end + timedelta(days=1)
    due = recipient_deadline(rule, period, working=working)
    steps = [(name, recipient_deadline(step, period, working=working)) for name, step in milestones]
    signed = (
        min(recipient_deadline(signoff, period, working=working), due) if signoff not in SIGNOFF_AT_AGENCY else None
    )
    # Figures must be in before they can be signed off, so a sign-off date counts as a step here.
    first_due = min([due, *(day for _, day in steps), *([signed] if signed else [])])
    agency = working.add_working_days(first_due, -lead_working_days)
    agency = min(max(agency, working.on_or_after(opens)), first_due)
    days: dict[Kind, date] = {
        "window_opens": opens,
        "agency_deadline": agency,
        "build": agency,
        "signoff_deadline": signed or agency,
        "recipient_deadline": due,
    }
    # Building the datetime from the wall time with the zone attached (not adding an offset) is what
    # makes 17:00 in summer 16:00 UTC and in winter 17:00 UTC; none of these times falls in the
    # 01:00-02:00 hour the clocks skip or repeat.
    entries = [
        CalendarEntry(return_id, period.code, kind, datetime.combine(days[kind], TIMES[kind], tzinfo=zone))
        for kind in KINDS
        if kind != "milestone"
    ]
    entries += [
        CalendarEntry(
            return_id, period.code, "milestone", datetime.combine(day, TIMES["milestone"], tzinfo=zone), label=name
        )
        for name, day in steps
    ]
    return sorted(entries, key=lambda e: e.at)


def _financial_years(year: int) -> list[Period]:
    return [financial_year(year)]


def _snapshots(year: int) -> list[Period]:
    # Snapshot returns are taken at each financial year end, 31 March.
    return [snapshot(date(year + 1, 3, 31))]


#: The periods of each type that start in a given year (for snapshots: the one ending the financial
#: year that starts then).
_PERIODS_FROM: dict[str, Callable[[int], list[Period]]] = {
    "month": lambda year: [month(year, m) for m in range(1, 13)],
    "quarter": lambda year: [quarter(year, q) for q in range(1, 5)],
    "financial_year": _financial_years,
    "academic_year": lambda year: [academic_year(year)],
    "calendar_year": lambda year: [calendar_year(year)],
    "snapshot_date": _snapshots,
}


def periods_between(period_type: str, start: date, end: date) -> list[Period]:
    """List every period of ``period_type`` whose last day falls within [start, end], in order.

    ``snapshot_date`` returns are annual at 31 March, so they get one snapshot per financial year end,
    coded as the date (``2025-03-31``) as the return's periods are.
    """
    if period_type not in _PERIODS_FROM:
        raise InvalidInput(f"Period type {period_type!r} is not known; use one of {', '.join(PERIOD_TYPES)}")
    # Periods starting in the year before ``start`` (e.g. FY2024-25) can still end inside the range.
    candidates = (p for year in range(start.year - 1, end.year + 1) for p in _PERIODS_FROM[period_type](year))
    return sorted((p for p in candidates if start <= p.end <= end), key=lambda p: p.end)


def calendar(
    returns: list[tuple[str, str, str]],
    start: date,
    end: date,
    *,
    lead_working_days: int = 5,
    tz: str = DEFAULT_TZ,
    milestones: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    signoffs: Mapping[str, str] | None = None,
) -> list[CalendarEntry]:
    """Return the entries of every (return_id, period_type, rule) for the periods ending in [start, end].

    ``milestones`` maps a return to its (name, rule) steps before the final deadline; ``signoffs`` maps a
    return to the rule of its sign-off date (a return not in it is signed off by the agency deadline).

    Entries are sorted by (time, return, kind, period); deadlines of a period ending near ``end`` may
    fall after ``end``. A return with an empty rule has no deadline to schedule and is left out.
    """
    seen: set[str] = set()
    entries: list[CalendarEntry] = []
    for return_id, period_type, rule in returns:
        # One return twice would give two events with one UID, which calendar programs merge.
        if return_id in seen:
            raise InvalidInput(f"Return {return_id} is listed twice in the calendar")
        seen.add(return_id)
        if not rule:
            continue
        for period in periods_between(period_type, start, end):
            entries += entries_for(
                return_id,
                period_type,
                rule,
                period,
                lead_working_days=lead_working_days,
                tz=tz,
                milestones=(milestones or {}).get(return_id, ()),
                signoff=(signoffs or {}).get(return_id, ""),
            )
    return sorted(entries, key=lambda e: (e.at, e.return_id, e.kind, e.period))


@dataclass(frozen=True)
class Clash:
    """An ISO week in which one agency has two or more agency deadlines."""

    agency: str
    week: str
    entries: tuple[CalendarEntry, ...]


def iso_week(at: datetime) -> str:
    """Return the ISO week of an instant's local date, e.g. ``2025-W17``."""
    year, week, _ = at.isocalendar()
    return f"{year}-W{week:02d}"


def clashes(entries: Iterable[CalendarEntry], agency_returns: dict[str, list[str]]) -> list[Clash]:
    """List the weeks where one agency owes two or more agency deadlines, by week then agency."""
    deadlines = [e for e in entries if e.kind == "agency_deadline"]
    out: list[Clash] = []
    for agency, return_ids in agency_returns.items():
        wanted = set(return_ids)
        by_week: defaultdict[str, list[CalendarEntry]] = defaultdict(list)
        for entry in deadlines:
            if entry.return_id in wanted:
                by_week[iso_week(entry.at)].append(entry)
        out += [
            Clash(agency, week, tuple(sorted(found, key=lambda e: (e.at, e.return_id, e.period))))
            for week, found in by_week.items()
            if len(found) >= 2
        ]
    return sorted(out, key=lambda c: (c.week, c.agency))


def to_ics(
    entries: Iterable[CalendarEntry],
    *,
    name: str = "onereturn collection calendar",
    prod_id: str = "-//onereturn//calendar//EN",
    now: datetime,
) -> bytes:
    """Render entries as an iCalendar feed (RFC 5545); the same entries and ``now`` give the same bytes."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInput("The calendar's timestamp must have a timezone")
    stamp = now.astimezone(UTC)
    # Imported here: only this export needs it, and it was a tenth of a second of every process's start.
    import icalendar

    cal = icalendar.Calendar()
    cal.add("prodid", prod_id)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    items = list(entries)
    for entry in items:
        event = icalendar.Event()
        event.add("uid", entry.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", entry.at)
        event.add("dtend", entry.end)
        event.add("summary", entry.summary)
        event.add("description", entry.description)
        event.add("categories", [entry.kind])
        # Deadlines are reminders, not meetings: they should not show the officer as busy.
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    if items:
        # The VTIMEZONE spans only the calendar's own years, keeping the feed small; the bounds come
        # from the entries, so the output stays deterministic.
        cal.add_missing_timezones(
            first_date=min(e.at for e in items).date() - timedelta(days=366),
            last_date=max(e.at for e in items).date() + timedelta(days=366),
        )
    # icalendar declares to_ical loosely (Any); the calendar's form is always bytes.
    ics: bytes = cal.to_ical()
    return ics
