"""The demo's synthetic county sends its school censuses (autumn 2024 and spring 2025) holding its SEN2 file's
children and its SSDA903's looked-after children by UPN among other made-up pupils: each kept minimised, every child
its other records name among the pupils kept."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from cli.demo import RECORDS_AGENCY, demo_census_children, load_census_demo, load_sen2_demo
from collectors.census.kept import newest_censuses
from onereturn.settings import Settings
from tests.demo_store import demo_store_fixture

store = demo_store_fixture("store", "records")


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
