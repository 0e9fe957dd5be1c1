"""Returns built from uploaded figures: derived, converted, rolled up, apportioned, never guessed."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest
from sqlalchemy import Engine, insert
from sqlmodel import Session, select

from exports.build import Builder, return_with_fields
from exports.built import BuiltReturn
from exports.burden.report import burden
from mappings.levels import figures_at_level
from mappings.models import AgencyOrg, Crosswalk
from onereturn.settings import Settings
from tests.helpers import upload_clean

NOTTS_DISTRICTS = [f"E0700017{i}" for i in range(7)]


def answer_for(engine: Engine, agency: str, orgs: list[str]) -> None:
    with Session(engine) as session:
        session.execute(insert(AgencyOrg), [{"agency_code": agency, "org_code": o} for o in orgs])
        session.commit()


def built(engine: Engine, return_id: str, period: str) -> BuiltReturn:
    with Session(engine) as session:
        ret, fields = return_with_fields(session, return_id)
        return Builder(session, period, ret.period_type).build(ret, fields, datetime(2026, 1, 1, tzinfo=UTC))


def cell(b: BuiltReturn, indicator: str, org: str, breakdown: str = "") -> dict[str, object]:
    rows = b.cells.filter(
        (pl.col("indicator_id") == indicator) & (pl.col("org_code") == org) & (pl.col("breakdown") == breakdown)
    )
    assert rows.height >= 1, f"no cell for {indicator} {org} {breakdown!r}"
    return rows.row(0, named=True)


def test_derived_rate_uses_the_latest_population_and_traces_to_file_rows(
    store: Engine, store_settings: Settings
) -> None:
    pop = upload_clean(
        store,
        store_settings,
        "ons",
        "pop.resident_0_17,E10000024,CY2022,,166000,,,,",
        "pop.resident_0_17,E10000024,CY2023,,170000,,,,",
    )
    notts = upload_clean(store, store_settings, "notts_cyp", "cyp.cpp_count,E10000024,2024-03-31,,301,,,,")
    b = built(store, "county_cyp_core", "FY2023-24-Q4")
    assert b.cells["org_code"].unique().to_list() == ["E10000024"]
    rate = cell(b, "cyp.cpp_rate_per_10k", "E10000024")
    assert rate["status"] == "present"
    assert rate["value"] == pytest.approx(round(10000 * 301 / 170000, 1))
    assert rate["display"] == "17.7"
    lineage = b.lineage.filter(pl.col("cell_id") == rate["cell_id"]).sort("indicator_id")
    assert lineage.select("indicator_id", "submission_id", "file_row", "figure_period").rows() == [
        ("cyp.cpp_count", notts, 2, "2024-03-31"),
        ("pop.resident_0_17", pop, 3, "CY2023"),
    ]


def test_missing_cells_say_who_owes_them(store: Engine) -> None:
    b = built(store, "county_cyp_core", "FY2023-24-Q4")
    assert set(b.cells["status"].unique().to_list()) == {"missing"}
    reasons = set(b.cells["reason"].to_list())
    assert "not yet submitted by Nottinghamshire County Council, Children and Young People's Services" in reasons
    assert any(r.startswith("not yet submitted by") and "Department for Education" in r for r in reasons)
    # Plain words: no agency code or indicator id in any reason.
    assert not any("notts_cyp" in r or "cyp." in r or "owed by" in r for r in reasons)
    assert set(b.cells["display"].to_list()) == {".."}
    assert b.cells.height == 67
    assert b.completeness == {"missing": 67}


def test_different_method_is_never_filled(store: Engine, store_settings: Settings) -> None:
    upload_clean(
        store,
        store_settings,
        "lewisham_council",
        "env.la_operations_co2_ni185_tonnes,E09000023,FY2010-11,,41000,,,,",
        "env.crc_electricity_co2_tonnes,E09000023,FY2010-11,,20000,,,,",
        "env.crc_gas_co2_tonnes,E09000023,FY2010-11,,15000,,,,",
    )
    b = built(store, "crc", "FY2010-11")
    ni185 = b.cells.filter((pl.col("field_code") == "NI 185 tCO2") & (pl.col("org_code") == "E09000023")).row(
        0, named=True
    )
    assert (ni185["status"], ni185["value"], ni185["display"]) == ("different_method", None, "x")
    assert "41000" in ni185["reason"]
    total = b.cells.filter((pl.col("field_code") == "CRC TOTAL") & (pl.col("org_code") == "E09000023")).row(
        0, named=True
    )
    assert (total["status"], total["value"]) == ("present", 35000.0)
    with Session(store) as session:
        report = burden(session, "FY2010-11")
    pairs = [(c.org_code, c.value, c.counterpart_value) for c in report.consistency]
    assert ("E09000023", 41000.0, 35000.0) in pairs


def test_county_rolls_up_from_districts_as_a_ratio_of_sums(store: Engine, store_settings: Settings) -> None:
    answer_for(store, "notts_cyp", NOTTS_DISTRICTS)
    nums = [1, 2, 3, 4, 5, 6, 90]
    dens = [10, 10, 10, 10, 10, 10, 100]
    rows = [
        f"cyp.return_interviews_in_timescale,{d},FY2023-24-Q4,,{100 * n / m:.1f},{n},{m},,"
        for d, n, m in zip(NOTTS_DISTRICTS, nums, dens, strict=True)
    ]
    ids = upload_clean(store, store_settings, "notts_cyp", *rows)
    with Session(store) as session:
        period, data = figures_at_level(
            session, "cyp.return_interviews_in_timescale", "FY2023-24-Q4", "county", "E10000024"
        )
    assert period == "FY2023-24-Q4"
    (row,) = data
    assert row["value"] == pytest.approx(100 * sum(nums) / sum(dens))  # 66.25, not the mean of percentages (32.14)
    assert (row["numerator"], row["denominator"], row["parts"], row["status"]) == (111.0, 160.0, 7, "present")
    assert "rolled_up" in str(row["how"])
    assert ids


def test_a_missing_district_makes_the_county_missing_not_smaller(store: Engine, store_settings: Settings) -> None:
    answer_for(store, "notts_cyp", NOTTS_DISTRICTS)
    upload_clean(
        store, store_settings, "notts_cyp", *(f"cyp.cin_count,{d},2024-03-31,,10,,,," for d in NOTTS_DISTRICTS[:-1])
    )
    with Session(store) as session:
        _, (row,) = figures_at_level(session, "cyp.cin_count", "2024-03-31", "county", "E10000024")
    assert (row["status"], row["value"], row["missing_parts"]) == ("missing", None, 1)
    assert NOTTS_DISTRICTS[-1] in str(row["reason"])


def test_health_area_is_apportioned_through_the_crosswalk(store: Engine, store_settings: Settings) -> None:
    answer_for(store, "notts_cyp", ["E08000014"])
    upload_clean(
        store,
        store_settings,
        "notts_cyp",
        "cyp.cin_count,E08000014,2024-03-31,,1000,,,,",
        "cyp.return_interviews_in_timescale,E08000014,FY2023-24-Q4,,50.0,30,60,,",
    )
    with Session(store) as session:
        weight = session.execute(
            select(Crosswalk.weight).where(
                Crosswalk.from_code == "E08000014",
                Crosswalk.to_code == "E38000161",
                Crosswalk.basis == "lsoa11_share_of_lad",
            )
        ).scalar_one()
        _, (count,) = figures_at_level(session, "cyp.cin_count", "2024-03-31", "ccg", "E38000161")
        _, (rate,) = figures_at_level(session, "cyp.return_interviews_in_timescale", "FY2023-24-Q4", "ccg", "E38000161")
    assert 0 < weight < 1
    assert count["value"] == pytest.approx(1000 * weight)
    assert "apportioned" in str(count["how"])
    assert (rate["numerator"], rate["denominator"]) == (pytest.approx(30 * weight), pytest.approx(60 * weight))
    assert rate["value"] == pytest.approx(50.0)  # recomputed from weighted parts, never 50 x weight


def test_quarters_sum_to_the_year_for_cumulative_counts(store: Engine, store_settings: Settings) -> None:
    upload_clean(
        store,
        store_settings,
        "notts_cyp",
        *(
            f"cyp.lac_iro_consultation,E10000024,FY2023-24-Q{q},,{p},{n},{d},,"
            for q, p, n, d in ((1, 50.0, 5, 10), (2, 40.0, 4, 10), (3, 60.0, 6, 10), (4, 90.0, 18, 20))
        ),
    )
    with Session(store) as session:
        _, (year,) = figures_at_level(session, "cyp.lac_iro_consultation", "FY2023-24", "county", "E10000024")
    assert (year["numerator"], year["denominator"]) == (33.0, 50.0)
    assert year["value"] == pytest.approx(66.0)


def test_small_numbers_are_suppressed_with_a_secondary_cell(store: Engine, store_settings: Settings) -> None:
    upload_clean(
        store,
        store_settings,
        "lewisham_drugs",
        "drugs.new_presentations,PRV-LEW-01,2024-03,,20,,,,",
        "drugs.new_presentations,PRV-LEW-01,2024-03,sex=F,3,,,,",
        "drugs.new_presentations,PRV-LEW-01,2024-03,sex=M,17,,,,",
    )
    b = built(store, "ndtms_adult_monthly", "2024-03")
    female = cell(b, "drugs.new_presentations", "PRV-LEW-01", "sex=F")
    male = cell(b, "drugs.new_presentations", "PRV-LEW-01", "sex=M")
    total = cell(b, "drugs.new_presentations", "PRV-LEW-01")
    assert (female["status"], female["display"], female["value"]) == ("suppressed", "c", None)
    assert (male["status"], male["display"]) == ("suppressed", "c")
    assert (total["status"], total["display"]) == ("present", "20")


def test_definitions_cite_the_field_and_the_definition(store: Engine) -> None:
    from io import BytesIO

    from exports.writers.xlsx import write_xlsx

    b = built(store, "dfe_ssda903", "FY2024-25")
    info = next(f for f in b.fields if f.code == "EPI.CLA_31MAR")
    assert {s["of"] for s in info.sources} == {"field", "indicator"}
    sheet = pl.read_excel(BytesIO(write_xlsx(b)), sheet_name="Definitions", infer_schema_length=0)
    assert isinstance(sheet, pl.DataFrame)
    text = sheet.filter(pl.col("Field code") == "EPI.CLA_31MAR")["Sources"][0]
    assert text.startswith("Field: ")
    assert "|| Definition: " in text
    assert "https://github.com/SocialFinanceDigitalLabs/liia-tools" in text


def test_burden_names_the_figures_two_bodies_each_sent(store: Engine) -> None:
    with Session(store) as session:
        report = burden(session, "FY2009-10")
    twice = {t.indicator_id: t for t in report.sent_twice}
    # NHS Vital Signs and the National Indicators asked the PCT and the council for the same figure;
    # the council keys it once for both.
    quits = twice["health.smoking_quitters_4wk"]
    assert quits.keyed_by == "lewisham_council"
    assert quits.needed_by == {"lewisham_council": ["nis"], "lewisham_pct": ["vital_signs"]}
    assert quits.figures == 4  # one a quarter
    # Two councils needing the same measure for their own areas is not one figure sent twice.
    assert "cyp.lac_count" not in twice
    # A Vital Signs field measured another way (an annual NI) is never counted as the same figure.
    assert "drugs.ni40_ocu_in_effective_treatment" not in twice
