"""The demo's synthetic county sends its school censuses (autumn 2024 and spring 2025) holding its SEN2 file's
children and its SSDA903's looked-after children by UPN among other made-up pupils: each kept minimised, every child
its other records name among the pupils kept."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from cli.demo import (
    RECORDS_AGENCY,
    RECORDS_CENSUS_DISAGREES,
    RECORDS_YEAR,
    demo_census_children,
    load_census_demo,
    load_records_demo,
    load_sen2_demo,
)
from collectors.census.kept import newest_censuses
from collectors.sen2.crosscheck import council_cross_checks
from collectors.sen2.list2 import checked_list2
from mappings.establishments.service import register_held
from onereturn.settings import Settings
from tests.demo_store import demo_store_fixture

store = demo_store_fixture("store", "records")
ON = date(2025, 3, 31)


def test_the_demo_county_keeps_its_sen2_and_looked_after_children_of_two_censuses(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    load_sen2_demo(store, store_settings)
    loaded = load_census_demo(store, store_settings)
    assert [one.status for one in loaded] == ["accepted", "accepted"], [one.message for one in loaded]
    spring, autumn = newest_censuses(store, store_settings, RECORDS_AGENCY, date(2025, 3, 31))
    assert (spring.census_day, autumn.census_day) == (date(2025, 1, 16), date(2024, 10, 3))
    children = demo_census_children(tmp_path)
    looked_after = {c.upn for c in children if c.provision == "N"}
    assert looked_after
    for census in (spring, autumn):
        kept = set(census.pupils.get_column("upn"))
        assert {c.upn for c in children} <= kept
        assert census.pupils.height < 1_500 + len(children)
    # Sent again, each census is the upload that kept it.
    assert [one.status for one in load_census_demo(store, store_settings)] == ["accepted", "accepted"]
    assert len(newest_censuses(store, store_settings, RECORDS_AGENCY, date(2025, 3, 31))) == 2


def test_the_demo_census_agrees_with_its_sen2_but_for_the_few_disagreements_made_on_purpose_and_fills_the_phases(
    store: Engine, store_settings: Settings
) -> None:
    load_records_demo(store, store_settings)
    load_sen2_demo(store, store_settings)
    load_census_demo(store, store_settings)
    queries, _, _ = council_cross_checks(store, store_settings, RECORDS_AGENCY, RECORDS_YEAR)
    counted = {c: sum(q.check == c for q in queries) for c in ("placement_not_census_school", "census_plan_not_in_sen2",
                                                             "plan_not_in_census")}  # fmt: skip
    # A school moved to since SEN2's census and a ceased plan the census still records, each made on purpose.
    assert counted == {"placement_not_census_school": RECORDS_CENSUS_DISAGREES,
                       "census_plan_not_in_sen2": RECORDS_CENSUS_DISAGREES, "plan_not_in_census": 0}  # fmt: skip
    # The demo's made-up register of its schools is loaded: List 2's phases fill from it.
    held = register_held(store)
    assert held is not None
    assert held.file_name == "edubasealldata20250110.csv"
    built, _ = checked_list2(store, store_settings, RECORDS_AGENCY, ON)
    phases = built.rows["Main education establishment – phase"]
    assert phases.null_count() == 0
    assert set(phases) <= {"Primary", "Secondary", "16 plus", "All-through"}
