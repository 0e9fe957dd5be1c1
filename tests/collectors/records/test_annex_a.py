"""Ofsted's Annex A from a council's CIN census and SSDA903: each list's membership and columns by hand-worked cases,
the synthetic county's files, and the workbook read back with the 2024 layout's sheet names and headings."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import fastexcel
import polars as pl
import pytest

from cli.synthetic import synthetic_903, synthetic_cin
from collectors.annex_a.build import AnnexA, assemble, summary
from collectors.annex_a.common import Window, months_before
from collectors.annex_a.workbook import workbook
from collectors.records.cin_tables import read_cin_tables
from collectors.records.ssda903_tables import prepare, read_csv_tables
from mappings.annex_a import load_layout
from tests.collectors.records.annex_a_cases import CIN_XML, INSPECTION, write_903

LAYOUT_SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "annex_a" / "Annex_A_2024_Jan.xlsx"


def built(cin_xml: bytes, folder_903: Path | None, on: date) -> AnnexA:
    """Annex A from the files, as the service builds it once it has read them."""
    cin = read_cin_tables(cin_xml)
    ssda903 = prepare(read_csv_tables(folder_903)) if folder_903 is not None else None
    return assemble(cin, ssda903, on, load_layout(), [])


def rows(annex: AnnexA, number: int) -> list[dict[str, Any]]:
    """A list's rows by the layout's headings."""
    item = annex.layout.list(number)
    frame = annex.lists[number]
    return [dict(zip([c.heading for c in item.columns], row, strict=True)) for row in frame.iter_rows()]


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> AnnexA:
    folder = tmp_path_factory.mktemp("annex-903")
    write_903(folder)
    return built(CIN_XML.encode(), folder, INSPECTION)


def test_windows_are_calendar_months_both_ends_included() -> None:
    assert months_before(date(2025, 11, 15), 6) == date(2025, 5, 15)
    assert months_before(date(2025, 8, 31), 6) == date(2025, 2, 28)
    assert months_before(date(2024, 2, 29), 12) == date(2023, 2, 28)
    window = Window(INSPECTION)
    assert (window.six, window.twelve) == (date(2025, 5, 15), date(2024, 11, 15))


def test_list_3_a_referral_a_day_outside_is_out_and_counts_as_a_second_within_12_months(hand: AnnexA) -> None:
    listed = rows(hand, 3)
    ref1 = [r for r in listed if r["Child Unique ID"] == "REF1"]
    # 14 May 2025 is the day before the six months: only the 1 June referral is listed, and it follows one within 12.
    assert [r["Date of Referral"] for r in ref1] == [date(2025, 6, 1)]
    assert ref1[0]["Number of Referrals in Last 12 Months"] == 1
    ref2 = [r for r in listed if r["Child Unique ID"] == "REF2"]
    # The June 2024 referral is more than 12 months before the July 2025 one.
    assert [(r["Date of Referral"], r["Number of Referrals in Last 12 Months"]) for r in ref2] == [
        (date(2025, 7, 1), 0)
    ]
    assert ref2[0]["Referral Source"] == "a) 1A: Individual"
    assert ref2[0]["Referral NFA?"] == "b) No"
    assert ref2[0]["Gender"] == "a) Male"
    assert ref2[0]["Ethnicity"] == "a) WBRI"
    # Born 16 November 2012: 12 on the inspection date, 13 the day after.
    assert ref2[0]["Age"] == 12
    assert {r["Child Unique ID"] for r in listed} == {"REF1", "REF2", "UNBORN", "CLOSED8"}


def test_an_unborn_child_is_aged_minus_one_with_the_expected_date(hand: AnnexA) -> None:
    (unborn,) = [r for r in rows(hand, 3) if r["Child Unique ID"] == "UNBORN"]
    assert unborn["Age"] == -1
    assert unborn["Date of Birth"] == date(2026, 1, 10)
    assert unborn["Gender"] == "c) Not stated/recorded"


def test_list_4_and_6_an_assessment_closed_rc8_is_listed_as_not_needing_support_and_is_not_a_child_in_need(
    hand: AnnexA,
) -> None:
    (assessment,) = rows(hand, 4)
    assert assessment["Child Unique ID"] == "CLOSED8"
    assert assessment["Was the child assessed as requiring LA children's social care support?"] == "b) No"
    assert assessment["Continuous Assessment Date of Authorisation"] == date(2025, 7, 30)
    assert assessment["Does the Child have a Disability"] == "b) No"
    in_need = {r["Child Unique ID"]: r for r in rows(hand, 6)}
    # REF1's closed May episode is older than its open June one; the RC8 child is not in List 6.
    assert set(in_need) == {"REF1", "REF2", "UNBORN"}
    assert in_need["REF1"]["CIN Start Date"] == date(2025, 6, 1)
    assert in_need["REF1"]["CIN Closure Date"] is None
    assert in_need["REF2"]["Case Status"] == "b) Child Protection plan"
    assert in_need["REF2"]["Primary Need Code"] == "N1 - Abuse or neglect"


def test_list_5_and_7_an_icpc_that_starts_a_plan(hand: AnnexA) -> None:
    (enquiry,) = rows(hand, 5)
    assert enquiry["Child Unique ID"] == "REF2"
    assert enquiry["Was an Initial Child Protection Conference deemed unnecessary?"] == "b) No"
    assert enquiry["Date of Initial Child Protection Conference"] == date(2025, 7, 20)
    assert enquiry["Did the Initial Child Protection Conference Result in a Child Protection Plan"] == "a) Yes"
    assert enquiry["Number of Section 47 Enquiries in the last 12 months"] == 0
    assert enquiry["Number of ICPCs in the last 12 months"] == 0
    (plan,) = rows(hand, 7)
    assert plan["Initial Category of Abuse"] == "a) Neglect"
    assert plan["Latest Category of Abuse"] == "d) Emotional abuse"
    # The December review is after the inspection: the latest one by then is October's.
    assert plan["Date of latest review conference"] == date(2025, 10, 1)
    assert plan["Number of Previous Child Protection Plans"] == 1
    assert (
        plan["Subject to Emergency Protection Order or Protected Under Police Powers in Last Six Months (Y/N)"]
        == "b) No"
    )


def test_list_8_a_child_who_left_care_seven_months_ago_is_out(hand: AnnexA) -> None:
    in_care = {r["Child Unique ID"]: r for r in rows(hand, 8)}
    assert "LEFT7" not in in_care
    # ADOPT3 was adopted in August 2025: it ceased in the six months, so it is listed too.
    assert set(in_care) == {"INCARE", "CEASED5", "ADOPT3"}
    child = in_care["INCARE"]
    assert child["Date Started to be Looked After"] == date(2024, 1, 1)
    assert child["Child's Legal Status"] == "C2: FCO"
    assert child["Start date of current legal status"] == date(2025, 6, 1)
    # Two placements held in the twelve months: the one until March 2025 and the children's home since.
    assert child["Number of Placements in the Last 12 months"] == 2
    assert child["Start Date of Most Recent Placement"] == date(2025, 3, 1)
    assert child["Placement Type"] == "p) K2: Children’s Homes"
    assert child["Placement Provider"] == "e) PR4: Private provision"
    assert child["Date Ceased to be Looked After"] is None
    assert (
        child["Is this a second or subsequent period of being a Looked After Child within the last 12 months (Y/N)"]
        == "b) No"
    )
    assert child["Does the Child have a Disability"] == "c) Unknown"
    ceased = in_care["CEASED5"]
    assert ceased["Date Ceased to be Looked After"] == date(2025, 6, 1)
    assert (
        ceased["Reason Ceased to be Looked After"]
        == "e) E4A: Returned home to live with parents or relatives - part of planning"
    )


def test_list_10_a_child_adopted_13_months_ago_is_out(hand: AnnexA) -> None:
    adopted = {r["Child Unique ID"]: r for r in rows(hand, 10)}
    assert set(adopted) == {"ADOPT3"}
    assert adopted["ADOPT3"]["Date of Adoption Order"] == date(2025, 8, 15)
    assert adopted["ADOPT3"]["Date of Decision that Child Should be Placed for Adoption"] == date(2025, 3, 1)
    assert adopted["ADOPT3"]["Date of Placement Order"] == date(2024, 1, 1)


def test_lists_1_2_and_11_are_empty_and_say_why(hand: AnnexA) -> None:
    facts = summary(hand)
    by_number = {item["list"]: item for item in facts["lists"]}
    for number in (1, 2, 11):
        assert by_number[number]["rows"] == 0
        assert by_number[number]["filled"] == []
    assert any("Contacts are in neither return" in note for note in facts["notes"])
    blank_3 = {b["column"] for b in by_number[3]["blank"]}
    assert blank_3 == {"Allocated Team", "Allocated Worker"}


def test_the_workbook_opens_with_the_layouts_sheet_names_and_headings_in_order(hand: AnnexA) -> None:
    data = workbook(hand)
    ours = fastexcel.read_excel(io.BytesIO(data).getvalue())
    theirs = fastexcel.read_excel(LAYOUT_SAMPLE.read_bytes())
    assert ours.sheet_names == ["Front_Sheet", *theirs.sheet_names]
    for name in theirs.sheet_names:
        wanted = [c.name for c in theirs.load_sheet_by_name(name, n_rows=0).available_columns()]
        got = ours.load_sheet_by_name(name).to_polars()
        assert got.columns == wanted, name
    list_3 = ours.load_sheet_by_name("List 3").to_polars()
    assert list_3.height == 4
    # Dates are dates shown as DD/MM/YYYY, read back as dates.
    assert list_3.schema["Date of Referral"] in (pl.Date, pl.Datetime("ms"))


def test_a_formula_in_a_child_id_is_written_as_text() -> None:
    annex = built(CIN_XML.replace("REF1", "=HYPERLINK(1)").encode(), None, INSPECTION)
    data = workbook(annex)
    ids = fastexcel.read_excel(data).load_sheet_by_name("List 3").to_polars()["Child Unique ID"].to_list()
    assert "'=HYPERLINK(1)" in ids


def test_the_synthetic_county_builds_every_list_by_its_definition(tmp_path: Path) -> None:
    census = synthetic_cin(7, 400, "2024-25", tmp_path / "cin")
    synthetic_903(7, 150, "2024-25", tmp_path / "903")
    on = date(2025, 3, 31)
    annex = built(census.read_bytes(), tmp_path / "903", on)
    window = Window(on)
    counts = {item["list"]: item["rows"] for item in summary(annex)["lists"]}
    for number in (3, 4, 6, 7, 8, 9):
        assert counts[number] > 0, (number, counts)
    referral_dates = [r["Date of Referral"] for r in rows(annex, 3)]
    assert all(window.six <= d <= on for d in referral_dates)
    for number in (6, 7, 8, 10):
        ids = annex.lists[number]["c0"]
        assert ids.n_unique() == ids.len(), f"List {number} lists a child twice"
    for record in rows(annex, 8):
        assert record["Number of Placements in the Last 12 months"] >= 1
        assert (
            record["Date Ceased to be Looked After"] is None or record["Date Ceased to be Looked After"] >= window.six
        )
    assert all(r["Age"] is None or r["Age"] >= -1 for r in rows(annex, 6))
