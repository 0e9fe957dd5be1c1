"""The catalogue's indicators and the geography are made into objects once per content of their rows, and made
again as soon as any value of those rows differs, whoever changed it."""

from __future__ import annotations

import math
from datetime import date

from sqlalchemy.orm import object_session
from sqlmodel import Session, select

from indicators.models import Indicator
from indicators.periods import parse_period
from indicators.service import indicators_by_id
from mappings.areas import Geography, GeographyRows
from mappings.models import Crosswalk, OrgUnit
from onereturn.readings import Kept

NOTTS = "E10000024"
LAC = "cyp.lac_count"


def test_indicators_are_shared_until_one_changes_and_each_caller_has_its_own_dict(session: Session) -> None:
    first = indicators_by_id(session)
    again = indicators_by_id(session)
    assert again is not first, "a caller may change its dict without reaching another's"
    assert all(again[i] is first[i] for i in first), "the same rows are not made into objects again"
    assert object_session(first[LAC]) is None, "a shared indicator belongs to no session"
    stored = session.get(Indicator, LAC)
    assert stored is not None
    assert stored is not first[LAC]
    # A change not yet flushed is read, as a query of the session would read it.
    stored.decimals += 1
    changed = indicators_by_id(session)
    assert changed[LAC].decimals == first[LAC].decimals + 1
    assert changed[LAC] is not first[LAC]
    # Read again from the store as it now is, and still shared after the caller's session lets go of its objects.
    session.expunge_all()
    assert indicators_by_id(session)[LAC] is changed[LAC]
    assert changed[LAC].title == first[LAC].title


def test_the_geography_is_read_again_when_a_date_or_a_link_changes(session: Session) -> None:
    before = GeographyRows.read(session)
    assert GeographyRows.read(session) is before
    unit = session.get(OrgUnit, NOTTS)
    assert unit is not None
    assert unit.valid_to is None
    unit.valid_to = date(2020, 3, 31)
    ended = GeographyRows.read(session)
    assert ended is not before
    assert (NOTTS, unit.type, unit.name, None, date(2020, 3, 31)) in ended.units
    # The council is gone from a later year's geography, as it would be read without the kept rows.
    later = Geography.load(session, parse_period("FY2024-25"), ended)
    assert NOTTS not in later.types
    session.add(Crosswalk(from_code="E09000023", to_code=NOTTS, weight=0.5, basis="test"))
    linked = GeographyRows.read(session)
    assert ("E09000023", NOTTS, 0.5, "test") in linked.crosswalk
    assert ("E09000023", NOTTS, 0.5, "test") not in ended.crosswalk
    # A weight changed past the fifteenth digit (what SQLite keeps when it writes a number as text) is read too.
    link = session.execute(select(Crosswalk).where(Crosswalk.basis == "test")).scalar_one()
    link.weight = math.nextafter(0.5, 1.0)
    assert ("E09000023", NOTTS, math.nextafter(0.5, 1.0), "test") in GeographyRows.read(session).crosswalk


def test_what_is_kept_is_made_again_for_a_reading_that_differs_in_any_row_or_order() -> None:
    kept: Kept[list[str]] = Kept(keep=2)
    made: list[str] = []

    def make(name: str) -> list[str]:
        made.append(name)
        return [name]

    a = kept.get((("1", "x"), ("2", "y")), lambda: make("a"))
    assert kept.get((("1", "x"), ("2", "y")), lambda: make("again")) is a
    kept.get((("2", "y"), ("1", "x")), lambda: make("reordered"))
    kept.get((("1", "x"), ("2", None)), lambda: make("a value gone"))
    # Two kept at most: the first reading, least recently used, was let go of.
    kept.get((("1", "x"), ("2", "y")), lambda: make("a after it was let go"))
    assert made == ["a", "reordered", "a value gone", "a after it was let go"]


def test_a_periods_geography_is_made_once_for_its_rows_and_again_when_they_change(session: Session) -> None:
    """Periods between the same dates of change share one geography made from the kept rows (a year and its last
    day alike); a period across a date of change gets its own; and changed rows make every period's geography
    again, so a council ended is gone from the next geography asked for."""
    rows = GeographyRows.read(session)
    year = Geography.load(session, parse_period("FY2024-25"))
    assert Geography.load(session, parse_period("2025-03-31")) is year
    assert rows.geography(parse_period("FY2024-25")) is year
    # The day Buckinghamshire's districts gave way to one council: the years either side differ.
    before, after = rows.geography(parse_period("FY2019-20")), rows.geography(parse_period("FY2020-21"))
    assert before is not after
    assert Geography.made(parse_period("FY2019-20"), rows).types == before.types
    assert Geography.made(parse_period("FY2024-25"), rows).children == year.children
    unit = session.get(OrgUnit, NOTTS)
    assert unit is not None
    unit.valid_to = date(2020, 3, 31)
    ended = Geography.load(session, parse_period("FY2024-25"))
    assert ended is not year
    assert NOTTS in year.types
    assert NOTTS not in ended.types
