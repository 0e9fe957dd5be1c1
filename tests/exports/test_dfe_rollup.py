"""DfE's published local authority figures, loaded into the SSDA903 and CIN census measures, roll up
to DfE's published regional and England figures (which DfE rounds to the nearest 10)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert
from sqlmodel import Session

from collectors.figures.service import submit
from mappings.levels import figures_at_level
from mappings.models import AgencyOrg
from onereturn.settings import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dfe"
HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"

Row = dict[str, str]


def _every(_: Row) -> bool:
    return True


# Laid out by hand, the formatter told to leave it: a table, one measure and its row filter to a row.
#: indicator, period, file, value column, row filter
MEASURES: list[tuple[str, str, str, str, Callable[[Row], bool]]] = [
    ("cyp.lac_count", "2025-03-31", "cla_number_and_rate_per_10k_children.csv", "children_count",
     lambda r: r["population_type"] == "Children looked after on 31 March each year"),
    ("cyp.lac_started", "FY2024-25", "cla_number_and_rate_per_10k_children.csv", "children_count",
     lambda r: r["population_type"] == "Children starting to be looked after each year"),
    ("cyp.lac_ceased", "FY2024-25", "cla_number_and_rate_per_10k_children.csv", "children_count",
     lambda r: r["population_type"] == "Children ceasing to be looked after each year"),
    ("cyp.cin_count", "2025-03-31", "b1_children_in_need_2013_to_2025.csv", "At31_episodes", _every),
    ("cyp.cin_episodes_started", "FY2024-25", "b1_children_in_need_2013_to_2025.csv", "Started_episodes", _every),
    ("cyp.cin_episodes_ended", "FY2024-25", "b1_children_in_need_2013_to_2025.csv", "Ended_episodes", _every),
    ("cyp.cin_referrals", "FY2024-25", "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv", "referral_count", _every),
    ("cyp.cin_referrals_nfa_n", "FY2024-25", "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
     "no_further_action_count", _every),
    ("cyp.lac_2_years_on_31mar", "2025-03-31", "la_cla_placement_stability.csv", "children_count",
     lambda r: r["placement_stability"] == "Total children"),
    ("cyp.lac_3plus_placements_2yr_n", "2025-03-31", "la_cla_placement_stability.csv", "children_count",
     lambda r: r["placement_stability"] == "With 3 or more placements during the previous 2 years"),
    ("cyp.lac_sw_cohort", "2024-03-31", "la_cla_swcount.csv", "number",
     lambda r: r["time_period"] == "2024" and r["sw_stability"] == "Total children"),
    ("cyp.lac_3plus_social_workers_n", "2024-03-31", "la_cla_swcount.csv", "number",
     lambda r: r["time_period"] == "2024" and r["sw_stability"] == "3 or more social workers during the year"),
]  # fmt: skip


def _rows(name: str, keep: Callable[[Row], bool]) -> list[Row]:
    with (FIXTURES / name).open(encoding="utf-8", newline="") as fh:
        return [r for r in csv.DictReader(fh) if keep(r)]


def _published(rows: list[Row], column: str) -> tuple[dict[str, str], dict[str, str], str]:
    las = {r["new_la_code"]: r[column] for r in rows if r["geographic_level"] == "Local authority"}
    # DfE also publishes Inner and Outer London (E13) under "Regional"; the regions are the E12 codes.
    regions = {
        r["region_code"]: r[column]
        for r in rows
        if r["geographic_level"] == "Regional" and r["region_code"].startswith("E12")
    }
    (england,) = [r[column] for r in rows if r["geographic_level"] == "National"]
    return las, regions, england


@pytest.fixture
def loaded(store: Engine, store_settings: Settings) -> Engine:
    """Upload every measure's published LA figures (symbols for suppressed or absent ones) in one file."""
    lines: list[str] = []
    orgs: set[str] = set()
    for indicator, period, name, column, keep in MEASURES:
        las, _, _ = _published(_rows(name, keep), column)
        for org, value in las.items():
            orgs.add(org)
            lines.append(f"{indicator},{org},{period},,{value if value.isdigit() else value or 'x'},,,,")
    with Session(store) as session:
        session.execute(
            insert(AgencyOrg), [{"agency_code": "notts_cyp", "org_code": o} for o in sorted(orgs) if o != "E10000024"]
        )
        session.commit()
    outcome = submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="dfe.csv",
        data=(HEADER + "\n".join(lines) + "\n").encode(),
    )
    assert outcome.problems is not None
    assert outcome.problems.height == 0, outcome.problems.head(5).to_dicts()
    return store


@pytest.mark.parametrize(("indicator", "period", "name", "column", "keep"), MEASURES, ids=[m[0] for m in MEASURES])
def test_la_figures_roll_up_to_dfe_regional_and_england_figures(
    loaded: Engine, indicator: str, period: str, name: str, column: str, keep: Callable[[Row], bool]
) -> None:
    las, regions, england = _published(_rows(name, keep), column)
    with Session(loaded) as session:
        _, by_region = figures_at_level(session, indicator, period, "region")
        _, nation = figures_at_level(session, indicator, period, "england")
    got = {str(r["org"]): r for r in by_region}
    checked = 0
    for region, published in regions.items():
        row = got[region]
        if row["missing_parts"]:
            # A suppressed or absent authority makes the region's total missing, never smaller.
            assert row["value"] is None, (region, row)
            continue
        assert published.isdigit()
        assert abs(float(str(row["value"])) - int(published)) <= 5, (indicator, region, row["value"], published)
        checked += 1
    assert checked >= 5, "most regions have every authority's figure"
    (total,) = nation
    if all(v.isdigit() for v in las.values()):
        assert abs(float(str(total["value"])) - int(england)) <= 5, (indicator, total["value"], england)
    else:
        assert total["value"] is None
