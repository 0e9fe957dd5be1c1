"""Annex A from what only the SSD holds, on a tiny extract written here: Lists 1 and 2, the allocated team and worker
and the visit columns, each checked by hand, read at the inspection date (not the extract's); bad rows refused by
the intake; the rows kept packed and read back alike."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from cli.synthetic.ssd import synthetic_ssd
from collectors.annex_a.build import present
from collectors.annex_a.columns import CHILD
from collectors.annex_a.extract_rows import pack, unpack_kept
from collectors.annex_a.from_ssd import allocated, columns_at, contact_rows
from collectors.ssd.intake import ExtractRefused
from collectors.ssd.service import make_returns
from mappings.annex_a import load_layout
from tests.collectors.ssd.ssd_samples import EPISODES, extract_zip

LAYOUT = load_layout()
LIMIT = 50 * 1024 * 1024
INSPECTION = date(2025, 3, 31)
# C1 has an open referral; C2 a closed one; C3 only contacts and early help (in neither DfE file).
PEOPLE = (
    "pers_person_id,pers_sex,pers_dob,pers_ethnicity\n"
    "C1,F,2015-06-01,WBRI\nC2,M,2012-02-03,BAFR\nC3,M,2020-01-15,AIND\n"
)
CONTACTS = (
    "cont_contact_id,cont_person_id,cont_contact_date,cont_contact_source_code\n"
    "K1,C1,2024-05-08,1A\n"  # before the six months of 31 March 2025 (from 30 September 2024): not listed
    "K2,C3,2024-12-01,6\n"
    "K3,C3,2025-02-10 09:15:00,2A\n"
    "K4,C1,2025-04-02,3A\n"  # after the inspection: not listed
)
EARLY_HELP = (
    "earl_episode_id,earl_person_id,earl_episode_start_date,earl_episode_end_date,earl_episode_organisation\n"
    "E1,C3,2024-11-01,,School\n"  # open: listed, no end
    "E2,C1,2023-01-01,2024-05-10,Health visiting\n"  # ended before the six months: not listed
    "E3,C2,2024-08-01,2025-05-01,Family support\n"  # ends after the inspection: listed, no end yet
)
INVOLVEMENTS = (
    "invo_involvements_id,invo_person_id,invo_professional_id,invo_professional_team,invo_involvement_start_date,"
    "invo_involvement_end_date\n"
    "I1,C1,W1,T1,2024-05-10,2024-08-01\n"
    "I2,C1,W2,T2,2024-08-02,\n"
    "I3,C2,W1,T1,2024-06-11,2024-06-20\n"  # a closed case: its last involvement
    "I4,C2,W3,,2023-01-01,2023-02-01\n"
)
PROFESSIONALS = "prof_professional_id,prof_professional_name\nW1,Ann Able\nW2,Bob Brook\nW3,Cat Cole\n"
TEAMS = "dept_team_id,dept_team_name\nT1,Front door\nT2,Children in need\n"
CIN_VISITS = (
    "cinv_cin_visit_id,cinv_person_id,cinv_cin_visit_date,cinv_cin_visit_seen,cinv_cin_visit_seen_alone\n"
    "V1,C1,2024-06-01,Y,N\nV2,C1,2025-02-01,N,N\nV3,C1,2025-05-01,Y,Y\n"
)
CP_VISITS = (
    "cppv_cp_visit_id,cppv_person_id,cppv_cp_visit_date,cppv_cp_visit_seen,cppv_cp_visit_seen_alone\n"
    "P1,C1,2025-01-10,Y,Y\nP2,C1,2025-03-01,N,\n"
)


def _extract(tmp_path: Path, **changed: str) -> dict[str, pl.DataFrame]:
    members: dict[str, str | bytes] = {
        "ssd_person.csv": PEOPLE, "ssd_cin_episodes.csv": EPISODES, "ssd_contacts.csv": CONTACTS,
        "ssd_early_help_episodes.csv": EARLY_HELP, "ssd_involvements.csv": INVOLVEMENTS,
        "ssd_professionals.csv": PROFESSIONALS, "ssd_department.csv": TEAMS, "ssd_cin_visits.csv": CIN_VISITS,
        "ssd_cp_visits.csv": CP_VISITS,
    }  # fmt: skip
    members.update({f"{name}.csv": text for name, text in changed.items()})
    path = extract_zip(tmp_path / "ssd.zip", members)
    return make_returns(path, path.name, "2024-25", "830", max_unpacked=LIMIT).annex_a


def _cells(frame: pl.DataFrame, number: int) -> list[dict[str, object]]:
    headings = [c.heading for c in LAYOUT.list(number).columns]
    return [dict(zip(headings, row, strict=True)) for row in frame.iter_rows()]


def test_lists_1_and_2_are_the_contacts_and_early_help_of_the_six_months(tmp_path: Path) -> None:
    tables = _extract(tmp_path)
    found = {
        n: _cells(present(rows, item, LAYOUT), n)
        for n, (item, rows) in contact_rows(tables, LAYOUT, INSPECTION).items()
    }
    assert found[1] == [
        {"Child Unique ID": "C3", "Gender": "a) Male", "Ethnicity": "j) AIND", "Date of Birth": date(2020, 1, 15),
         "Age": 5, "Date of Contact": date(2024, 12, 1), "Contact Source": "q) 6: Police"},
        {"Child Unique ID": "C3", "Gender": "a) Male", "Ethnicity": "j) AIND", "Date of Birth": date(2020, 1, 15),
         "Age": 5, "Date of Contact": date(2025, 2, 10), "Contact Source": "e) 2A: Schools"},
    ]  # fmt: skip
    assert [(r["Child Unique ID"], r["Assessment start date"], r["Assessment completion date"],
             r["Organisation completing assessment"]) for r in found[2]] == [
        ("C2", date(2024, 8, 1), None, "Family support"), ("C3", date(2024, 11, 1), None, "School"),
    ]  # fmt: skip
    # A year earlier, the contact of May 2024 is in and the later ones are not.
    earlier = contact_rows(tables, LAYOUT, date(2024, 6, 30))[1][1]
    assert earlier.select("child", "date").rows() == [("C1", date(2024, 5, 8))]


def test_the_allocated_worker_is_the_involvement_open_at_the_inspection_or_the_last_one(tmp_path: Path) -> None:
    tables = _extract(tmp_path)
    at = {r[0]: r[1:] for r in allocated(tables, INSPECTION).rows()}  # type: ignore[union-attr]
    assert at == {"C1": ("Children in need", "Bob Brook"), "C2": ("Front door", "Ann Able")}
    # Built for an inspection in June 2024, the first involvement was the open one.
    earlier = {r[0]: r[1:] for r in allocated(tables, date(2024, 6, 1)).rows()}  # type: ignore[union-attr]
    assert earlier["C1"] == ("Front door", "Ann Able")
    assert earlier["C2"] == (None, "Cat Cole")  # the team named nowhere is blank, the worker by name


def test_the_visit_columns_are_read_at_the_inspection_date(tmp_path: Path) -> None:
    tables = _extract(tmp_path)
    frame = columns_at(tables, LAYOUT, INSPECTION)
    assert frame is not None
    c1 = frame.filter(pl.col(CHILD) == "C1").row(0, named=True)
    # Last seen at the protection visit of 10 January: the CIN visit of February and the protection visit of March did
    # not see the child, and the CIN visit of May 2025 is after the inspection.
    assert c1["List 6: Date Child Was Last Seen"] == date(2025, 1, 10)
    assert c1["List 7: Date of the Last Statutory Visit"] == date(2025, 3, 1)
    assert c1["List 7: Was the Child Seen Alone?"] == "c) Unknown"
    assert c1["List 3: Allocated Worker"] == "Bob Brook"
    assert c1["List 8: Allocated Team"] == "Children in need"
    earlier = columns_at(tables, LAYOUT, date(2025, 2, 1))
    assert earlier is not None
    c1 = earlier.filter(pl.col(CHILD) == "C1").row(0, named=True)
    assert (c1["List 7: Date of the Last Statutory Visit"], c1["List 7: Was the Child Seen Alone?"]) == (
        date(2025, 1, 10), "a) Yes")  # fmt: skip
    # Every heading is one the council's columns file could give: the same fill reads both.
    headings = {f"{i.sheet}: {c.heading}" for i in LAYOUT.lists for c in i.blank}
    assert set(frame.columns) - {CHILD} <= headings


def test_the_rows_kept_read_back_alike(tmp_path: Path) -> None:
    tables = _extract(tmp_path)
    back = unpack_kept(pack(tables))
    assert set(back) == set(tables) >= {"contacts", "early_help", "involvements", "visits", "people"}
    for name, frame in tables.items():
        assert back[name].equals(frame), name


def test_an_extract_with_nothing_annex_a_reads_keeps_nothing(tmp_path: Path) -> None:
    path = extract_zip(tmp_path / "ssd.zip", {"ssd_person.csv": PEOPLE, "ssd_cin_episodes.csv": EPISODES})
    assert make_returns(path, path.name, "2024-25", "830", max_unpacked=LIMIT).annex_a == {}


@pytest.mark.parametrize(
    ("table", "text", "loc"),
    [
        ("ssd_involvements", INVOLVEMENTS.replace("I3,C2,", "I3,,"), ["ssd_involvements", 3, "invo_person_id"]),
        ("ssd_involvements", INVOLVEMENTS.replace("I3,C2,", "I3,C9,"), ["ssd_involvements", 3, "invo_person_id"]),
        ("ssd_contacts", CONTACTS.replace("2024-12-01", "01/12/2024"), ["ssd_contacts", 2, "cont_contact_date"]),
        ("ssd_involvements", INVOLVEMENTS.replace(",W3,", ",W9,"), ["ssd_involvements", 4, "invo_professional_id"]),
    ],
)
def test_a_bad_row_annex_a_reads_is_refused_by_table_row_and_column(
    tmp_path: Path, table: str, text: str, loc: list[object]
) -> None:
    with pytest.raises(ExtractRefused) as caught:
        _extract(tmp_path, **{table: text})
    assert [e["loc"] for e in caught.value.errors] == [loc]
    said = json.dumps([caught.value.message, caught.value.errors])
    for value in ("C2", "C9", "01/12/2024", "W9"):
        assert value not in said


def test_the_synthetic_extract_fills_lists_1_and_2_and_the_worker_and_visit_columns(tmp_path: Path) -> None:
    extract = synthetic_ssd(5, 40, "2024-25", tmp_path / "ssd", looked_after=20, la="E10000007")
    tables = make_returns(extract, extract.name, "2024-25", "830", max_unpacked=LIMIT).annex_a
    lists = contact_rows(tables, LAYOUT, INSPECTION)
    assert lists[1][1].height > 0
    assert lists[2][1].height > 0
    frame = columns_at(tables, LAYOUT, INSPECTION)
    assert frame is not None
    for heading in (
        "List 3: Allocated Worker", "List 6: Allocated Team", "List 8: Allocated Worker", "List 9: Allocated Personal Advisor",
        "List 6: Date Child Was Last Seen", "List 7: Date of the Last Statutory Visit", "List 8: Date of Last Social Work Visit",
        "List 8: What is the permanence plan for this child?",
    ):  # fmt: skip
        assert frame[heading].drop_nulls().len() > 0, heading
    # Contact-only children are on List 1 and in neither DfE file.
    assert lists[1][1].filter(pl.col("child").str.starts_with("SSDK")).height > 0
