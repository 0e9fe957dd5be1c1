"""The collection calendar on hand-checked dates: English working days, each deadline rule on real
periods, clock changes, agency lead time, periods in a range, clashes and the .ics feed."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indicators.periods import Period, financial_year, month, parse_period, quarter, snapshot
from mappings.catalogue import RETURNS_DIR
from mappings.deadlines import (
    CalendarEntry,
    Clash,
    add_working_days,
    calendar,
    clashes,
    entries_for,
    is_working_day,
    iso_week,
    last_working_day_of_month,
    periods_between,
    recipient_deadline,
    to_ics,
)
from onereturn.errors import InvalidInput

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2025, 1, 6, 9, 30, tzinfo=UTC)


def utc(year: int, month_no: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month_no, day, hour, tzinfo=UTC)


def by_kind(entries: list[CalendarEntry]) -> dict[str, CalendarEntry]:
    return {e.kind: e for e in entries}


# --- working days -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2025, 4, 17), True),  # Maundy Thursday is an ordinary day
        (date(2025, 4, 18), False),  # Good Friday
        (date(2025, 4, 19), False),  # Saturday
        (date(2025, 4, 21), False),  # Easter Monday
        (date(2025, 4, 22), True),
        (date(2025, 5, 5), False),  # early May bank holiday
        (date(2025, 5, 26), False),  # spring bank holiday
        (date(2025, 8, 25), False),  # late summer bank holiday
        (date(2025, 12, 25), False),
        (date(2025, 12, 26), False),
        (date(2026, 1, 1), False),
        (date(2026, 1, 2), True),
        (date(2026, 12, 28), False),  # substitute for Boxing Day on a Saturday
        (date(2026, 12, 29), True),
        (date(2026, 8, 31), False),
    ],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert is_working_day(day) is working


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2025, 4, 17), 1, date(2025, 4, 22)),  # over Good Friday, the weekend and Easter Monday
        (date(2025, 4, 22), -1, date(2025, 4, 17)),
        (date(2025, 4, 16), 3, date(2025, 4, 23)),
        (date(2025, 12, 24), 1, date(2025, 12, 29)),  # Christmas Thursday, Boxing Day Friday
        (date(2025, 12, 31), 1, date(2026, 1, 2)),  # New Year's Day
        (date(2026, 12, 24), 1, date(2026, 12, 29)),  # 25 Fri, 26 Sat, substitute Mon 28
        (date(2026, 12, 29), -1, date(2026, 12, 24)),
        (date(2025, 5, 2), 1, date(2025, 5, 6)),  # early May
        (date(2025, 5, 23), 1, date(2025, 5, 27)),  # spring
        (date(2025, 8, 22), 1, date(2025, 8, 26)),  # late summer
        (date(2025, 8, 23), 0, date(2025, 8, 23)),  # zero moves nothing, even on a Saturday
        (date(2025, 3, 31), 20, date(2025, 4, 30)),
    ],
)
def test_add_working_days(day: date, n: int, expected: date) -> None:
    assert add_working_days(day, n) == expected


@pytest.mark.parametrize(
    ("year", "month_no", "expected"),
    [
        (2025, 8, date(2025, 8, 29)),  # 31st a Sunday
        (2025, 12, date(2025, 12, 31)),
        (2026, 1, date(2026, 1, 30)),  # 31st a Saturday
        (2026, 8, date(2026, 8, 28)),  # 31st the late summer bank holiday
        (2027, 5, date(2027, 5, 28)),  # 31st the spring bank holiday
    ],
)
def test_last_working_day_of_month(year: int, month_no: int, expected: date) -> None:
    assert last_working_day_of_month(year, month_no) == expected


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)), st.integers(min_value=-60, max_value=60))
def test_add_working_days_lands_on_working_days_and_is_monotone(day: date, n: int) -> None:
    result = add_working_days(day, n)
    if n != 0:
        assert is_working_day(result)
    assert result < add_working_days(day, n + 1)
    if is_working_day(day):
        assert add_working_days(result, -n) == day


# --- recipient deadlines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "period", "expected"),
    [
        # 20 working days after 31 March 2025, skipping Good Friday and Easter Monday.
        ("working_days_after_period_end:20", quarter(2024, 4), date(2025, 4, 30)),
        # 1 January 2026 is a holiday: 2 Jan, then 5-9, then 12-15.
        ("working_days_after_period_end:10", month(2025, 12), date(2026, 1, 15)),
        # N = 0 on a Saturday period end moves to Monday.
        ("working_days_after_period_end:0", month(2025, 5), date(2025, 6, 2)),
        ("days_after_period_end:30", month(2025, 3), date(2025, 4, 30)),
        # 31 March + 18 days is Good Friday: moved forward over Easter to Tuesday.
        ("days_after_period_end:18", month(2025, 3), date(2025, 4, 22)),
        # 30 November + 26 days is Boxing Day (a Friday): moved to Monday 29 December.
        ("days_after_period_end:26", month(2025, 11), date(2025, 12, 29)),
        ("last_working_day_of_month_after", month(2025, 11), date(2025, 12, 31)),
        ("last_working_day_of_month_after", month(2025, 12), date(2026, 1, 30)),
        ("last_working_day_of_month_after", quarter(2025, 1), date(2025, 7, 31)),
        ("last_working_day_of_month_after", month(2026, 7), date(2026, 8, 28)),
        ("fixed_after_period_end:07-31", financial_year(2024), date(2025, 7, 31)),
        ("fixed_after_period_end:06-30", financial_year(2024), date(2025, 6, 30)),
        # 31 July 2027 is a Saturday: moved back to Friday.
        ("fixed_after_period_end:07-31", financial_year(2026), date(2027, 7, 30)),
        # Strictly after: a period ending on 31 July waits a year.
        ("fixed_after_period_end:07-31", snapshot(date(2025, 7, 31)), date(2026, 7, 31)),
        # Moving back would land on the period end itself (Friday 30 July 2027), so it moves forward.
        ("fixed_after_period_end:07-31", snapshot(date(2027, 7, 30)), date(2027, 8, 2)),
        ("fixed_after_period_end:02-29", financial_year(2024), date(2028, 2, 29)),
        # DfE sets the SEN2 survey's date each year: the period named takes its own, the others the usual one.
        ("fixed_after_period_end:03-14;CY2025=03-12;CY2026=03-11", parse_period("CY2024"), date(2025, 3, 14)),
        ("fixed_after_period_end:03-14;CY2025=03-12;CY2026=03-11", parse_period("CY2025"), date(2026, 3, 12)),
        ("fixed_after_period_end:03-14;CY2025=03-12;CY2026=03-11", parse_period("CY2026"), date(2027, 3, 11)),
        ("fixed_after_period_end:07-31;FY2024-25=06-30", financial_year(2024), date(2025, 6, 30)),
    ],
)
def test_recipient_deadline(rule: str, period: Period, expected: date) -> None:
    assert recipient_deadline(rule, period) == expected


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "weekly",
        "working_days_after_period_end",
        "days_after_period_end:x",
        "fixed_after_period_end:13-01",
        "fixed_after_period_end:03-14;CY2025",
        "fixed_after_period_end:03-14;CY2025=13-01",
        "days_after_period_end:30;CY2025=03-12",
    ],
)
def test_recipient_deadline_rejects_unknown_rules(rule: str) -> None:
    with pytest.raises(InvalidInput) as info:
        recipient_deadline(rule, month(2025, 1))
    assert repr(rule) in info.value.message
    assert "last_working_day_of_month_after" in info.value.message
    assert "fixed_after_period_end:MM-DD" in info.value.message


def test_recipient_deadline_rejects_a_date_that_never_occurs() -> None:
    with pytest.raises(InvalidInput, match="never occurs"):
        recipient_deadline("fixed_after_period_end:02-30", financial_year(2024))


def test_every_bundled_return_deadline_is_understood() -> None:
    for path in sorted(RETURNS_DIR.glob("*.toml")):
        spec = tomllib.loads(path.read_text()).get("return", {})
        if not spec.get("deadline"):
            continue
        period = periods_between(spec["period_type"], date(2025, 1, 1), date(2025, 12, 31))[0]
        due = recipient_deadline(spec["deadline"], period)
        assert due > period.end, path.name
        assert is_working_day(due), path.name


@pytest.mark.parametrize(
    ("start_year", "published"),
    [
        (2012, date(2013, 7, 31)),  # "between 1 April and 31 July 2013"
        (2018, date(2019, 7, 31)),  # "Wednesday 31 July 2019"
        (2019, date(2020, 7, 31)),  # "Friday 31 July 2020"
        (2020, date(2021, 7, 30)),  # "Friday 30 July 2021": 31 July 2021 was a Saturday
        (2024, date(2025, 7, 31)),  # "Thursday 31 July 2025"
    ],
)
def test_children_in_need_census_rule_gives_the_published_submission_deadlines(
    start_year: int, published: date
) -> None:
    spec = tomllib.loads((RETURNS_DIR / "dfe_cin_census.toml").read_text())["return"]
    assert recipient_deadline(spec["deadline"], financial_year(start_year)) == published


# --- entries and clock changes ------------------------------------------------------------------


def test_entries_for_a_quarter() -> None:
    entries = entries_for("county_cyp_core", "quarter", "working_days_after_period_end:20", quarter(2024, 4))
    # With no sign-off date of the recipient's own, figures are signed off when they are due, before the build.
    assert [e.kind for e in entries] == [
        "window_opens",
        "agency_deadline",
        "signoff_deadline",
        "build",
        "recipient_deadline",
    ]
    got = by_kind(entries)
    assert got["signoff_deadline"].at == got["agency_deadline"].at
    # Window opens at midnight BST on 1 April: 23:00 UTC on 31 March.
    assert got["window_opens"].at == utc(2025, 3, 31, 23)
    # Five working days before 30 April: 29, 28, 25, 24, 23 April.
    assert got["agency_deadline"].at == datetime(2025, 4, 23, 17, tzinfo=LONDON) == utc(2025, 4, 23, 16)
    assert got["build"].at == utc(2025, 4, 23, 17)
    assert got["recipient_deadline"].at == utc(2025, 4, 30, 16)
    assert got["agency_deadline"].uid == "county_cyp_core.FY2024-25-Q4.agency_deadline@onereturn"
    assert got["agency_deadline"].summary == "county_cyp_core, January to March 2025: agencies' deadline"
    titled = replace(got["agency_deadline"], title="County children's core data set")
    assert titled.summary == "County children's core data set, January to March 2025: agencies' deadline"
    assert titled.end - titled.at == timedelta(minutes=30)
    assert all(e.at.tzinfo == LONDON for e in entries)


def test_clock_change_in_spring() -> None:
    # BST starts on 30 March 2025: Friday 28th is GMT, Monday 31st is BST.
    entries = entries_for("m", "month", "last_working_day_of_month_after", month(2025, 2), lead_working_days=1)
    got = by_kind(entries)
    assert got["recipient_deadline"].at.date() == date(2025, 3, 31)
    assert got["recipient_deadline"].at.astimezone(UTC) == utc(2025, 3, 31, 16)
    assert got["agency_deadline"].at.date() == date(2025, 3, 28)
    assert got["agency_deadline"].at.astimezone(UTC) == utc(2025, 3, 28, 17)
    assert got["build"].at.astimezone(UTC) == utc(2025, 3, 28, 18)


def test_clock_change_in_autumn() -> None:
    # BST ends on 26 October 2025: Friday 24th is BST, Monday 27th is GMT.
    entries = entries_for("q", "quarter", "working_days_after_period_end:19", quarter(2025, 2), lead_working_days=1)
    got = by_kind(entries)
    assert got["window_opens"].at.astimezone(UTC) == utc(2025, 9, 30, 23)
    assert got["recipient_deadline"].at.date() == date(2025, 10, 27)
    assert got["recipient_deadline"].at.astimezone(UTC) == utc(2025, 10, 27, 17)
    assert got["agency_deadline"].at.astimezone(UTC) == utc(2025, 10, 24, 16)


def test_window_opens_in_winter_is_midnight_utc() -> None:
    got = by_kind(entries_for("q", "quarter", "working_days_after_period_end:20", quarter(2025, 3)))
    assert got["window_opens"].at.astimezone(UTC) == utc(2026, 1, 1)


@pytest.mark.parametrize(
    ("lead", "expected"),
    [
        (0, date(2025, 4, 30)),
        (5, date(2025, 4, 23)),
        (10, date(2025, 4, 14)),  # back over Easter Monday and Good Friday
        (25, date(2025, 4, 1)),  # would be before the window opens: held at the opening day
    ],
)
def test_agency_lead_time(lead: int, expected: date) -> None:
    entries = entries_for("q", "quarter", "working_days_after_period_end:20", quarter(2024, 4), lead_working_days=lead)
    got = by_kind(entries)
    assert got["agency_deadline"].at.date() == expected
    assert got["build"].at.date() == expected
    assert got["agency_deadline"].at <= got["recipient_deadline"].at


def test_agency_deadline_clamped_to_first_working_day_of_window() -> None:
    # May 2025 ends on a Saturday; the window opens on Sunday 1 June; the recipient wants 4 June.
    got = by_kind(entries_for("m", "month", "working_days_after_period_end:3", month(2025, 5)))
    assert got["recipient_deadline"].at.date() == date(2025, 6, 4)
    assert got["agency_deadline"].at.date() == date(2025, 6, 2)


def test_entries_for_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="lead time"):
        entries_for("q", "quarter", "working_days_after_period_end:20", quarter(2024, 4), lead_working_days=-1)
    with pytest.raises(InvalidInput, match="collected by quarter"):
        entries_for("q", "quarter", "working_days_after_period_end:20", month(2025, 1))
    with pytest.raises(InvalidInput, match="Time zone"):
        entries_for("q", "quarter", "working_days_after_period_end:20", quarter(2024, 4), tz="Mars/Olympus")


def test_entry_needs_a_timezone() -> None:
    with pytest.raises(InvalidInput, match="no timezone"):
        CalendarEntry("q", "FY2024-25-Q4", "build", datetime(2025, 4, 23, 18))


# --- periods in a range -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period_type", "start", "end", "codes"),
    [
        ("month", date(2025, 1, 15), date(2025, 4, 30), ["2025-01", "2025-02", "2025-03", "2025-04"]),
        ("month", date(2025, 2, 1), date(2025, 3, 30), ["2025-02"]),
        (
            "quarter",
            date(2025, 1, 1),
            date(2025, 12, 31),
            ["FY2024-25-Q4", "FY2025-26-Q1", "FY2025-26-Q2", "FY2025-26-Q3"],
        ),
        ("quarter", date(2025, 3, 31), date(2025, 3, 31), ["FY2024-25-Q4"]),
        ("financial_year", date(2024, 1, 1), date(2026, 3, 31), ["FY2023-24", "FY2024-25", "FY2025-26"]),
        ("academic_year", date(2024, 1, 1), date(2025, 12, 31), ["AY2023-24", "AY2024-25"]),
        ("calendar_year", date(2024, 6, 1), date(2025, 12, 31), ["CY2024", "CY2025"]),
        ("snapshot_date", date(2024, 4, 1), date(2026, 3, 31), ["2025-03-31", "2026-03-31"]),
        ("month", date(2025, 5, 1), date(2025, 4, 1), []),
    ],
)
def test_periods_between(period_type: str, start: date, end: date, codes: list[str]) -> None:
    periods = periods_between(period_type, start, end)
    assert [p.code for p in periods] == codes
    for period in periods:
        assert period.type == period_type
        assert parse_period(period.code, expected=period.type) == period


def test_periods_between_rejects_unknown_types() -> None:
    with pytest.raises(InvalidInput, match="fortnight"):
        periods_between("fortnight", date(2025, 1, 1), date(2025, 12, 31))


# --- the calendar and clashes -------------------------------------------------------------------

RETURNS = [
    ("nis", "financial_year", "fixed_after_period_end:06-30"),
    ("county_cyp_core", "quarter", "working_days_after_period_end:20"),
    ("vital_signs", "quarter", ""),
    ("dfe_ssda903", "financial_year", "fixed_after_period_end:06-30"),
    ("ndtms_adult_monthly", "month", "working_days_after_period_end:10"),
    ("adhoc", "quarter", "days_after_period_end:30"),
]


def test_calendar_sorted_and_complete() -> None:
    entries = calendar(RETURNS, date(2025, 3, 1), date(2025, 3, 31))
    # Periods ending in March 2025: FY2024-25 (x2), FY2024-25-Q4 (x2), 2025-03; vital_signs has no rule.
    assert len(entries) == 5 * 5
    assert entries == sorted(entries, key=lambda e: (e.at, e.return_id, e.kind, e.period))
    assert {e.return_id for e in entries} == {"nis", "county_cyp_core", "dfe_ssda903", "ndtms_adult_monthly", "adhoc"}
    # Every window opens at the same instant; ties go by return id.
    assert [e.return_id for e in entries[:5]] == [
        "adhoc",
        "county_cyp_core",
        "dfe_ssda903",
        "ndtms_adult_monthly",
        "nis",
    ]
    assert len({e.uid for e in entries}) == len(entries)
    # The lead time reaches every return.
    late = calendar(RETURNS, date(2025, 3, 1), date(2025, 3, 31), lead_working_days=0)
    assert {e.at for e in late if e.kind == "agency_deadline"} == {e.at for e in late if e.kind == "recipient_deadline"}


def test_calendar_rejects_a_return_listed_twice() -> None:
    with pytest.raises(InvalidInput, match="listed twice"):
        calendar([RETURNS[0], RETURNS[0]], date(2025, 1, 1), date(2025, 12, 31))


def test_clashes() -> None:
    entries = calendar(RETURNS, date(2025, 3, 1), date(2025, 3, 31))
    agencies = {
        "council": ["county_cyp_core", "adhoc", "ndtms_adult_monthly"],
        "children_services": ["nis", "dfe_ssda903"],
        "nhs": ["ndtms_adult_monthly", "nis"],
    }
    found = clashes(entries, agencies)
    assert [(c.agency, c.week) for c in found] == [("council", "2025-W17"), ("children_services", "2025-W26")]
    council, children = found
    assert isinstance(council, Clash)
    # county_cyp_core: 20 working days after 31 March is 30 April; adhoc: 30 days after is 30 April.
    assert [(e.return_id, e.at.date()) for e in council.entries] == [
        ("adhoc", date(2025, 4, 23)),
        ("county_cyp_core", date(2025, 4, 23)),
    ]
    assert {e.return_id for e in children.entries} == {"nis", "dfe_ssda903"}
    assert all(e.kind == "agency_deadline" and e.at.date() == date(2025, 6, 23) for e in children.entries)
    assert clashes(entries, {"nhs": agencies["nhs"]}) == []


def test_iso_week_uses_local_date() -> None:
    # Monday 1 September 2025 00:00 BST is still Sunday in UTC, but the officer's week is W36.
    got = by_kind(entries_for("m", "month", "working_days_after_period_end:10", month(2025, 8)))
    assert got["window_opens"].at.astimezone(UTC).date() == date(2025, 8, 31)
    assert iso_week(got["window_opens"].at) == "2025-W36"
    assert iso_week(datetime(2025, 12, 29, 17, tzinfo=LONDON)) == "2026-W01"


# --- the .ics feed ------------------------------------------------------------------------------


def test_ics_round_trip() -> None:
    entries = calendar(RETURNS, date(2025, 1, 1), date(2025, 12, 31))
    ics = to_ics(entries, now=NOW)
    assert to_ics(entries, now=NOW) == ics
    parsed = icalendar.Calendar.from_ical(ics)
    assert str(parsed["X-WR-CALNAME"]) == "onereturn collection calendar"
    assert str(parsed["PRODID"]) == "-//onereturn//calendar//EN"
    events = parsed.events
    assert len(events) == len(entries)
    assert [str(ev["UID"]) for ev in events] == [e.uid for e in entries]
    assert [tz.tz_name for tz in parsed.timezones] == ["Europe/London"]
    for event, entry in zip(events, entries, strict=True):
        assert event["DTSTART"].params["TZID"] == "Europe/London"
        assert event.decoded("DTSTART") == entry.at
        assert event.decoded("DTEND") == entry.end > entry.at
        assert event.decoded("DTSTAMP") == NOW
        assert str(event["SUMMARY"]) == entry.summary
        assert event.categories == [entry.kind]
        assert entry.return_id in str(event["DESCRIPTION"])


def test_ics_dtstart_wall_time_and_summary() -> None:
    entries = entries_for("nis", "financial_year", "fixed_after_period_end:06-30", financial_year(2024))
    ics = to_ics(entries, now=NOW).decode()
    assert "SUMMARY:nis\\, 2024 to 2025 financial year: agencies' deadline" in ics
    assert "DTSTART;TZID=Europe/London:20250623T170000" in ics
    assert "DTEND;TZID=Europe/London:20250623T173000" in ics
    assert "UID:nis.FY2024-25.agency_deadline@onereturn" in ics
    assert "DTSTAMP:20250106T093000Z" in ics


def test_ics_uids_stable_and_stamp_follows_now() -> None:
    entries = calendar(RETURNS[:2], date(2025, 1, 1), date(2025, 6, 30))
    first = icalendar.Calendar.from_ical(to_ics(entries, now=NOW))
    later = icalendar.Calendar.from_ical(to_ics(entries, now=NOW + timedelta(days=1)))
    assert [str(e["UID"]) for e in first.events] == [str(e["UID"]) for e in later.events]
    assert {e.decoded("DTSTAMP") for e in later.events} == {NOW + timedelta(days=1)}


def test_ics_needs_an_aware_now_and_allows_no_entries() -> None:
    with pytest.raises(InvalidInput, match="timezone"):
        to_ics([], now=datetime(2025, 1, 1))
    empty = icalendar.Calendar.from_ical(to_ics([], now=NOW, name="empty"))
    assert str(empty["X-WR-CALNAME"]) == "empty"
    assert empty.events == []


# --- milestones: a return with several dated steps (SSDA903: data loaded, then return finished) ---

SSDA903_MILESTONES = [("data loaded", "fixed_after_period_end:05-31")]


@pytest.mark.parametrize(
    ("year", "loaded", "finished"),
    [
        # DfE, Children Looked After return 2012-13: "data should be loaded by Friday 31 May 2013",
        # open "for cleaning of data until Friday 28 June 2013".
        (2012, date(2013, 5, 31), date(2013, 6, 28)),
        # DfE, guide to submitting data, 2021 to 2022 return: loaded by 31 May 2022, submitted by 30 June 2022.
        (2021, date(2022, 5, 31), date(2022, 6, 30)),
    ],
)
def test_ssda903_milestones_match_the_published_dates(year: int, loaded: date, finished: date) -> None:
    entries = entries_for(
        "dfe_ssda903",
        "financial_year",
        "fixed_after_period_end:06-30",
        financial_year(year),
        milestones=SSDA903_MILESTONES,
    )
    got = {(e.kind, e.label): e.at.date() for e in entries}
    assert got[("milestone", "data loaded")] == loaded
    assert got[("recipient_deadline", "")] == finished
    # Agencies are asked ahead of the first date, not the last: the load date is the one to meet.
    assert got[("agency_deadline", "")] < loaded


def test_milestones_are_entries_of_their_own_in_the_calendar_and_feed() -> None:
    entries = calendar(
        [("dfe_ssda903", "financial_year", "fixed_after_period_end:06-30")],
        date(2025, 3, 1),
        date(2025, 3, 31),
        milestones={"dfe_ssda903": SSDA903_MILESTONES},
    )
    milestone = next(e for e in entries if e.kind == "milestone")
    assert milestone.uid == "dfe_ssda903.FY2024-25.milestone-data-loaded@onereturn"
    assert milestone.summary == "dfe_ssda903, 2024 to 2025 financial year: data loaded"
    assert milestone.at.date() == date(2025, 5, 30)  # 31 May 2025 is a Saturday
    feed = to_ics(entries, now=datetime(2025, 3, 1, tzinfo=UTC)).decode()
    assert r"dfe_ssda903\, 2024 to 2025 financial year: data loaded" in feed.replace("\r\n ", "")
    assert "data loaded by now" in feed.replace("\r\n ", "")


def test_a_recipients_signoff_date_is_an_entry_of_its_own() -> None:
    """SSDA903: data loaded by 31 May, submitted (the council's sign-off) by 30 June 2022, as DfE's guide gives them."""
    entries = entries_for(
        "dfe_ssda903",
        "financial_year",
        "fixed_after_period_end:06-30",
        financial_year(2021),
        milestones=SSDA903_MILESTONES,
        signoff="fixed_after_period_end:06-30",
    )
    got = {(e.kind, e.label): e.at for e in entries}
    assert got[("signoff_deadline", "")] == datetime(2022, 6, 30, 17, tzinfo=LONDON)
    # Figures are still asked for ahead of the first date, the data loaded by 31 May.
    assert got[("agency_deadline", "")].date() < date(2022, 5, 31)
    signoff = next(e for e in entries if e.kind == "signoff_deadline")
    assert signoff.uid == "dfe_ssda903.FY2021-22.signoff_deadline@onereturn"
    assert signoff.summary == "dfe_ssda903, 2021 to 2022 financial year: sign-off due"
    assert "signed off" in signoff.description
    feed = to_ics(entries, now=datetime(2022, 3, 1, tzinfo=UTC)).decode().replace("\r\n ", "")
    assert "UID:dfe_ssda903.FY2021-22.signoff_deadline@onereturn" in feed
    assert "CATEGORIES:signoff_deadline" in feed


def test_a_signoff_date_earlier_than_the_milestones_brings_the_agency_deadline_forward() -> None:
    """Figures must be in before they can be signed off, so the agencies are asked ahead of an early sign-off date."""
    entries = entries_for(
        "q", "quarter", "working_days_after_period_end:20", quarter(2024, 4), signoff="working_days_after_period_end:10"
    )
    got = by_kind(entries)
    assert got["signoff_deadline"].at.date() == date(2025, 4, 14)  # the tenth working day after 31 March 2025
    assert got["agency_deadline"].at.date() == date(2025, 4, 7)  # five working days before it
    assert got["agency_deadline"].at < got["signoff_deadline"].at < got["recipient_deadline"].at


def test_a_signoff_date_never_falls_after_the_recipients_deadline() -> None:
    entries = entries_for(
        "q", "quarter", "working_days_after_period_end:5", quarter(2024, 4), signoff="working_days_after_period_end:20"
    )
    got = by_kind(entries)
    assert got["signoff_deadline"].at == got["recipient_deadline"].at
    assert (
        by_kind(
            entries_for("q", "quarter", "working_days_after_period_end:5", quarter(2024, 4), signoff="agency_deadline")
        )["signoff_deadline"].at
        == got["agency_deadline"].at
    )
