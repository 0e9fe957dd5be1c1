"""Geography loaded from the shipped ONS lookups: units, dated hierarchy, crosswalk, storage."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import date
from functools import cache

import pytest
import sqlalchemy
from sqlalchemy import event, func, select
from sqlmodel import Session, SQLModel

import indicators.models  # noqa: F401  (registers the tables mapping rows refer to)
import mappings.models  # noqa: F401
from mappings.geography import (
    BASIS_SHARE_OF_CCG,
    BASIS_SHARE_OF_LAD,
    GEOGRAPHY_FOLDER,
    Geography,
    Row,
    load_geography,
    store_geography,
)
from mappings.models import Crosswalk, OrgParent, OrgUnit

LA_TYPES = {"unitary", "metropolitan_district", "london_borough", "non_metropolitan_district"}
ALL_TYPES = LA_TYPES | {
    "england",
    "region",
    "county",
    "nuts1",
    "nuts2",
    "nuts3",
    "ccg",
    "stp",
    "nhs_region",
    "phe_centre",
    "pct",
}


@cache
def geo() -> Geography:
    return load_geography()


def units() -> dict[str, Row]:
    return {str(u["code"]): u for u in geo().org_units}


def day_of(row: Row, key: str) -> date | None:
    value = row[key]
    assert value is None or isinstance(value, date)
    return value


def weight_of(row: Row) -> float:
    value = row["weight"]
    assert isinstance(value, float)
    return value


def valid_on(row: Row, day: date) -> bool:
    start, end = day_of(row, "valid_from"), day_of(row, "valid_to")
    return (start is None or start <= day) and (end is None or day <= end)


def parents_on(child: str, day: date) -> list[str]:
    return [str(e["parent_code"]) for e in geo().org_parents if e["child_code"] == child and valid_on(e, day)]


def test_types_are_the_agreed_ones_and_codes_are_unique() -> None:
    codes = [u["code"] for u in geo().org_units]
    assert len(codes) == len(set(codes))
    types = Counter(u["type"] for u in geo().org_units)
    assert set(types) == ALL_TYPES
    assert types["england"] == 1
    assert types["region"] == 9
    assert types["nuts1"] == 9
    prefixes = {"county": "E10", "unitary": "E06", "metropolitan_district": "E08", "london_borough": "E09"}
    prefixes |= {"non_metropolitan_district": "E07", "region": "E12", "ccg": "E38", "stp": "E54"}
    prefixes |= {"nhs_region": "E40", "phe_centre": "E45", "nuts1": "UK", "nuts2": "UK", "nuts3": "UK", "pct": "PCT-"}
    for unit in geo().org_units:
        if unit["type"] != "england":
            assert str(unit["code"]).startswith(prefixes[str(unit["type"])]), unit
        assert unit["name"], unit
        assert unit["source"], unit


def test_at_least_300_english_las() -> None:
    las = [u for u in geo().org_units if u["type"] in LA_TYPES]
    assert len(las) >= 300
    assert all(str(u["code"]).startswith("E") for u in las)
    # Each vintage's LA count is reproduced: 326 (2018), 317 (2019), 314 (2020), 296 (2023).
    for day, expected in [
        (date(2018, 12, 1), 326),
        (date(2019, 12, 1), 317),
        (date(2020, 4, 1), 314),
        (date(2023, 4, 1), 296),
    ]:
        assert sum(valid_on(u, day) for u in las) == expected, day


def test_buckinghamshire_2020() -> None:
    u = units()
    assert u["E07000004"]["name"] == "Aylesbury Vale"
    for district in ("E07000004", "E07000005", "E07000006", "E07000007"):
        assert u[district]["valid_to"] == date(2020, 3, 31)
        assert u[district]["valid_from"] is None
    assert u["E10000002"]["valid_to"] == date(2020, 3, 31)
    assert u["E06000060"]["valid_from"] == date(2020, 4, 1)
    assert u["E06000060"]["valid_to"] is None
    assert "E10000002" in parents_on("E07000004", date(2020, 3, 31))
    assert parents_on("E07000004", date(2020, 4, 1)) == []
    assert "E12000008" in parents_on("E06000060", date(2020, 4, 1))


def test_northamptonshire_2021_and_2023_reorganisations() -> None:
    u = units()
    for district in ("E07000150", "E07000151", "E07000152", "E07000153", "E07000154", "E07000155", "E07000156"):
        assert u[district]["valid_to"] == date(2021, 3, 31), district
    assert u["E10000021"]["valid_to"] == date(2021, 3, 31)
    assert u["E06000061"]["valid_from"] == u["E06000062"]["valid_from"] == date(2021, 4, 1)
    for new in ("E06000063", "E06000064", "E06000065", "E06000066"):
        assert u[new]["valid_from"] == date(2023, 4, 1)
    for old in ("E10000006", "E10000023", "E10000027", "E07000026", "E07000169", "E07000246"):
        assert u[old]["valid_to"] == date(2023, 3, 31)
    assert u["E07000246"]["valid_from"] == date(2019, 4, 1)
    for new, old in [("E06000058", "E06000028"), ("E06000059", "E07000052"), ("E07000244", "E07000206")]:
        assert u[new]["valid_from"] == date(2019, 4, 1)
        assert u[old]["valid_to"] == date(2019, 3, 31)


def test_every_dated_council_is_in_reorganisations_csv() -> None:
    # The lookups only bracket a change between two vintages; council dates must be real.
    with (GEOGRAPHY_FOLDER / "reorganisations.csv").open(newline="") as f:
        listed = {row["code"]: row for row in csv.DictReader(f)}
    u = units()
    for code, unit in u.items():
        if unit["type"] in LA_TYPES | {"county"} and (unit["valid_from"] or unit["valid_to"]):
            assert code in listed, code
    for code, row in listed.items():
        assert u[code]["name"] == row["name"], code
        assert str(u[code]["valid_from"] or "") == row["valid_from"], code
        assert str(u[code]["valid_to"] or "") == row["valid_to"], code
        if row["successor_code"]:
            starts, ended = day_of(u[row["successor_code"]], "valid_from"), day_of(u[code], "valid_to")
            assert starts is not None
            assert ended is not None
            assert (starts - ended).days == 1, code


@pytest.mark.parametrize("day", [date(2019, 6, 30), date(2020, 6, 30), date(2021, 6, 30), date(2023, 6, 30)])
def test_each_lower_tier_district_has_a_county_while_valid(day: date) -> None:
    u = units()
    districts = [c for c, x in u.items() if x["type"] == "non_metropolitan_district" and valid_on(x, day)]
    assert districts
    for district in districts:
        counties = [p for p in parents_on(district, day) if u[p]["type"] == "county"]
        assert len(counties) == 1, (district, counties)
        assert valid_on(u[counties[0]], day)


@pytest.mark.parametrize("day", [date(2018, 6, 30), date(2019, 6, 30), date(2020, 6, 30), date(2023, 6, 30)])
def test_every_valid_la_rolls_up_to_one_region_and_england(day: date) -> None:
    u = units()
    for code, unit in u.items():
        if unit["type"] not in LA_TYPES or not valid_on(unit, day):
            continue
        regions: set[str] = set()
        frontier = [code]
        while frontier:
            node = frontier.pop()
            for parent in parents_on(node, day):
                if u[parent]["type"] == "region":
                    regions.add(parent)
                elif u[parent]["type"] == "county":
                    frontier.append(parent)
        assert len(regions) == 1, (code, regions)
        assert parents_on(regions.pop(), day) == ["E92000001"]


def test_edges_join_known_units_within_their_lifetimes() -> None:
    u = units()
    keys = [(e["child_code"], e["parent_code"], e["valid_from"]) for e in geo().org_parents]
    assert len(keys) == len(set(keys))
    by_child_type: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for edge in geo().org_parents:
        child, parent = u[str(edge["child_code"])], u[str(edge["parent_code"])]
        for end in (child, parent):
            end_from, edge_from = day_of(end, "valid_from"), day_of(edge, "valid_from")
            if end_from is not None:
                assert edge_from is not None, edge
                assert edge_from >= end_from, edge
            end_to, edge_to = day_of(end, "valid_to"), day_of(edge, "valid_to")
            if end_to is not None:
                assert edge_to is not None, edge
                assert edge_to <= end_to, edge
        by_child_type[(str(edge["child_code"]), str(parent["type"]))].append(edge)
    # Never two parents of one type at once: a district in two counties would double count.
    for (child_code, parent_type), siblings in by_child_type.items():
        if len(siblings) > 1:
            days = [date(2018, 6, 30), date(2019, 6, 30), date(2020, 6, 30), date(2021, 6, 30), date(2023, 6, 30)]
            for day in days:
                assert sum(valid_on(e, day) for e in siblings) <= 1, (child_code, parent_type, day)


def test_health_hierarchy_and_ccg_dates() -> None:
    u = units()
    assert u["E38000108"]["valid_to"] == date(2020, 3, 31)  # NHS Nene CCG, merged by Apr 2020
    assert u["E38000230"]["valid_from"] == date(2020, 4, 1)  # NHS Devon CCG, first seen Apr 2020
    ccgs = [c for c, x in u.items() if x["type"] == "ccg"]
    assert len([c for c in ccgs if valid_on(u[c], date(2020, 4, 1))]) == 135
    assert len([c for c in ccgs if valid_on(u[c], date(2018, 4, 1))]) == 195
    for ccg in ccgs:
        first_day = date(2020, 4, 1) if u[ccg]["valid_from"] else date(2018, 4, 1)
        assert "E92000001" in parents_on(ccg, first_day), ccg
    assert {u[p]["type"] for p in parents_on("E38000230", date(2020, 4, 1))} == {"stp", "england"}
    assert {u[p]["type"] for p in parents_on("E38000048", date(2018, 4, 1))} >= {"nhs_region", "england"}


def test_crosswalk_weights_sum_to_one_per_direction() -> None:
    u = units()
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for row in geo().crosswalks:
        assert 0 < weight_of(row) <= 1
        totals[(str(row["basis"]), str(row["from_code"]))] += weight_of(row)
        assert row["from_code"] in u
        assert row["to_code"] in u
    las = {code for basis, code in totals if basis == BASIS_SHARE_OF_LAD}
    ccgs = {code for basis, code in totals if basis == BASIS_SHARE_OF_CCG}
    assert len(las) == 314
    assert len(ccgs) == 135
    assert all(u[c]["type"] in LA_TYPES for c in las)
    assert all(u[c]["type"] == "ccg" for c in ccgs)
    for key, total in totals.items():
        assert total == pytest.approx(1.0, abs=1e-9), key


def test_split_la_apportions_counts_by_lsoa_share() -> None:
    # Buckinghamshire (E06000060): 315 of its 319 LSOAs in Buckinghamshire CCG, 4 in Milton Keynes.
    weights = {
        str(r["to_code"]): weight_of(r)
        for r in geo().crosswalks
        if r["from_code"] == "E06000060" and r["basis"] == BASIS_SHARE_OF_LAD
    }
    assert weights == pytest.approx({"E38000223": 315 / 319, "E38000107": 4 / 319})
    children_in_care = 638
    apportioned = {ccg: children_in_care * w for ccg, w in weights.items()}
    assert apportioned["E38000107"] == pytest.approx(8.0)
    assert sum(apportioned.values()) == pytest.approx(children_in_care)
    # The other direction: Ryedale is half in Vale of York CCG, half in North Yorkshire CCG.
    ryedale = {
        str(r["to_code"]): weight_of(r)
        for r in geo().crosswalks
        if r["from_code"] == "E07000167" and r["basis"] == BASIS_SHARE_OF_LAD
    }
    assert ryedale == pytest.approx({"E38000188": 0.5, "E38000241": 0.5})
    back = [
        r
        for r in geo().crosswalks
        if r["from_code"] == "E38000188" and r["to_code"] == "E07000167" and r["basis"] == BASIS_SHARE_OF_CCG
    ]
    assert len(back) == 1
    assert 0 < weight_of(back[0]) < 1


def test_store_round_trip_on_sqlite() -> None:
    engine = sqlalchemy.create_engine("sqlite://")

    @event.listens_for(engine, "connect")
    def _foreign_keys_on(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    SQLModel.metadata.create_all(engine)
    g = geo()
    with Session(engine) as session:
        first = store_geography(session, g)
        # A second load replaces rather than duplicates.
        counts = store_geography(session, g)
        session.commit()
    assert (
        counts
        == first
        == {
            "org_unit": len(g.org_units),
            "org_parent": len(g.org_parents),
            "crosswalk": len(g.crosswalks),
        }
    )
    with Session(engine) as session:
        for model, expected in [(OrgUnit, counts["org_unit"]), (OrgParent, counts["org_parent"])]:
            assert session.execute(select(func.count()).select_from(model)).scalar_one() == expected
        assert session.execute(select(func.count()).select_from(Crosswalk)).scalar_one() == counts["crosswalk"]
        bucks = session.get(OrgUnit, "E06000060")
        assert bucks is not None
        assert bucks.valid_from == date(2020, 4, 1)
        assert bucks.type == "unitary"
        aylesbury = session.get(OrgUnit, "E07000004")
        assert aylesbury is not None
        assert aylesbury.valid_to == date(2020, 3, 31)


def test_lewisham_pct_holds_the_borough_until_ccgs_replaced_pcts() -> None:
    (pct,) = [u for u in geo().org_units if u["type"] == "pct"]
    assert (pct["code"], pct["valid_to"]) == ("PCT-LEWISHAM", date(2013, 3, 31))
    assert "own reading" in str(pct["source"])
    assert parents_on("E09000023", date(2010, 3, 31)).count("PCT-LEWISHAM") == 1
    assert "PCT-LEWISHAM" not in parents_on("E09000023", date(2013, 4, 1))
