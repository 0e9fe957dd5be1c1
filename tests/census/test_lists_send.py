"""The school census on the area SEND inspection's lists and in the checks across returns, from a SEN2 file and
censuses made by hand: List 1's four school columns and the census's school where SEN2 has none, each cell traced;
List 2's rows and Data to Insight's rules for it; the workbook holding both; the census against SEN2 and the SSDA903."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import polars as pl

from collectors.census.lists import NOT_HELD
from collectors.census.looked_after import school_figures
from collectors.sen2.crosscheck import census_checks
from collectors.sen2.list1 import COLUMNS, assemble_list1
from collectors.sen2.list1_rules import check_list2
from collectors.sen2.list1_workbook import list1_workbook
from collectors.sen2.list2 import COLUMNS as LIST2
from collectors.sen2.list2 import assemble_list2
from collectors.sen2.records import Sen2Records, read_records
from collectors.sen2.schema import parse
from tests.census.census_builder import SPRING, census, pupil
from tests.collectors.sen2.builder import Active, Plan, Request, person, sen2_xml

ON = date(2025, 3, 31)
A, B, C, K1, K2 = "A801200001001", "B801200001001", "C801200001001", "K801200001001", "L801200001001"


def _plan(urn: int | None) -> Request:
    placement: dict[str, object] = {"PlacementRank": 1, "EntryDate": date(2023, 9, 1)}
    placement |= {"URN": urn} if urn else {"SENSetting": "OTH"}
    return Request({"RequestOutcome": "H"}, {"AssessmentOutcome": "H"}, Plan({"StartDate": date(2022, 1, 1)}),
                   Active([placement], [("ASD", 1)]))  # fmt: skip


def _sen2() -> Sen2Records:
    """A at school 112233 as SEN2 says; B with no school in SEN2; C at a school the census does not hold."""
    people = [person(A, date(2014, 3, 1), "F", _plan(112233)), person(B, date(2013, 5, 5), "M", _plan(None)),
              person(C, date(2012, 7, 7), "M", _plan(999001))]  # fmt: skip
    return read_records(parse(sen2_xml(people), max_bytes=10**7), 2025)


def _censuses() -> list:  # type: ignore[type-arg]
    spring = census(
        SPRING,
        pupils=[
            pupil(1, A, laestab="8302001", urn="112233"),
            pupil(2, B, urn="112299", enrolstatus="M"),
            pupil(3, B, urn="112244", enrolstatus="S"),
            pupil(4, K1, senprovision="K", primary_need="SLCN", ethnicity="WIRI", sex="M"),
            pupil(5, K2, senprovision="K", born=None, ethnicity=None),
        ],
        possible=[{"pupil": 1, "period": "autumn", "sessions": 100}, {"pupil": 4, "period": "autumn", "sessions": 50}],
        sessions=[
            {"pupil": 1, "period": "autumn", "code": "I", "sessions": 5},
            {"pupil": 4, "period": "autumn", "code": "O", "sessions": 10},
        ],
        exclusions=[{"pupil": 4, "category": "SUSP", "started": date(2024, 10, 1), "sessions": 2, "reason": "PA"}],
        fsm=[{"pupil": 4, "started": date(2023, 1, 1), "ended": None}],
    )
    return [spring]


def test_list_1s_school_columns_come_from_the_census_each_cell_traced() -> None:
    built = assemble_list1(_sen2(), None, None, ON, None, _censuses())
    rows = {r["UPN"]: r for r in built.rows.iter_rows(named=True)}
    assert (rows[A]["Absence"], rows[A]["Suspensions"], rows[A]["Pupil Premium"]) == (5.0, 0, "No")
    # B: no school in SEN2, so the census's main school (its dual registration's phase has no register to read).
    assert rows[B]["Main education establishment – URN"] == "112299"
    assert rows[C]["Main education establishment – URN"] == "999001"
    assert all(rows[C][c] is None for c in ("Suspensions", "Permanent exclusions", "Absence", "Pupil Premium"))
    traces = built.traces
    row_c = list(rows).index(C) + 1
    assert set(traces.filter(pl.col("row") == row_c)["source"]) == {NOT_HELD}
    row_b = list(rows).index(B) + 1
    b_urn = traces.filter((pl.col("row") == row_b) & (pl.col("column") == "Main education establishment – URN"))
    assert b_urn["source"].to_list() == ["school census of 2025-01-16 (council schools), pupil 2"]
    assert built.from_census["Main education establishment – URN"] == 1
    assert built.from_census["Absence"] == 1  # B has no sessions possible; C is not held
    assert any("left blank for 1 child(ren)" in n for n in built.notes)
    assert any(n.startswith("Absence: the percentage of possible sessions missed") for n in built.notes)


def test_list_1_without_a_census_says_why_its_school_columns_are_blank() -> None:
    built = assemble_list1(_sen2(), None, None, ON)
    assert built.rows["Absence"].null_count() == built.rows.height
    assert any("keeps no school census" in n for n in built.notes)
    assert built.traces.is_empty()
    assert list(built.rows.columns) == list(COLUMNS)


def test_list_2_holds_the_pupils_on_sen_support_checked_by_data_to_insights_rules() -> None:
    built = assemble_list2(_censuses(), None, None, ON)
    assert list(built.rows.columns) == list(LIST2)
    rows = {r["UPN"]: r for r in built.rows.iter_rows(named=True)}
    assert set(rows) == {K1, K2}
    k1 = rows[K1]
    assert (k1["Gender"], k1["Ethnicity"], k1["SEN primary need"]) == ("M", "WIRI", "SLCN")
    assert (k1["Absence"], k1["Suspensions"], k1["Pupil Premium"]) == (20.0, 1, "Yes")
    assert k1["Main education establishment – URN"] == "112233"
    findings = {(f["rule"], f["row"]) for f in check_list2(built.rows, ON)}
    row_k2 = list(rows).index(K2) + 1
    # K2: no birth date, ethnicity or need; nobody has a disability status (no CIN census read).
    assert {("d2i:201a", row_k2), ("d2i:201c", row_k2), ("d2i:201d", row_k2)} <= findings
    assert ("d2i:203", 1) in findings
    assert not {f for f in findings if f[0] in {"d2i:209", "d2i:208a", "d2i:201b"}}
    assert built.from_census["UPN"] == 2
    traced = built.traces.filter(pl.col("row") == 1)
    assert "school census of 2025-01-16 (council schools), pupil" in traced["source"][0]


def test_list_2s_duplicated_upn_and_school_age_without_a_school_are_found() -> None:
    rows = assemble_list2(_censuses(), None, None, ON).rows
    doubled = pl.concat([rows, rows.head(1).with_columns(pl.lit(None, pl.String).alias(LIST2[7]))])
    found = {(f["rule"], f["row"]) for f in check_list2(doubled, ON)}
    assert {("d2i:209", 1), ("d2i:209", 3), ("d2i:208a", 3)} <= found


def test_the_workbook_holds_both_lists() -> None:
    list1 = assemble_list1(_sen2(), None, None, ON, None, _censuses())
    list2 = assemble_list2(_censuses(), None, None, ON)
    book = openpyxl.load_workbook(io.BytesIO(list1_workbook(list1, [], list2, check_list2(list2.rows, ON))))
    assert book.sheetnames == ["List_1", "List_2", "Notes"]
    sheet = book["List_2"]
    assert [c.value for c in sheet[1]] == list(LIST2)
    assert sheet.max_row == 3
    heading = [c.value for c in sheet[1]]
    absences = [r[heading.index("Absence")] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert 20.0 in absences  # a number, not text
    notes = [r[0] for r in book["Notes"].iter_rows(values_only=True)]
    assert any(str(n).startswith("List 2 (SEN support) read from: school census of 2025-01-16") for n in notes)


def test_the_census_against_sen2_and_the_ssda903() -> None:
    censuses = _censuses()
    censuses[0] = census(
        SPRING,
        pupils=[
            pupil(1, A, urn="112233", senprovision="K"),  # a plan in SEN2, SEN support in the census
            pupil(2, B, urn="112299"),  # SEN2 places B nowhere: no URN to compare
            pupil(3, C, urn="112200"),  # SEN2's school 999001 is not the census's
            pupil(4, K1, urn="112233", senprovision="E"),  # a plan in the census, none in SEN2
        ],
    )
    ssda903 = {
        "Header": pl.DataFrame({"CHILD": ["L1", "L2"], "UPN": [A.lower(), C]}),
        "Episodes": pl.DataFrame(
            {"CHILD": ["L1", "L2"], "DECOM": [date(2024, 6, 1)] * 2, "DEC": pl.Series([None, None], dtype=pl.Date),
             "PLACE": ["S1", "S1"], "URN": ["112233", "999001"]}
        ),
    }  # fmt: skip
    found = {(q.check, q.upn, q.child) for q in census_checks(_sen2(), censuses, ssda903)}
    assert found == {
        ("plan_not_in_census", A, "pupil 1"),
        ("census_plan_not_in_sen2", K1, "pupil 4"),
        ("placement_not_census_school", C, "pupil 3"),
        ("looked_after_school", C, "L2"),
    }
    assert census_checks(_sen2(), [], ssda903) == []


def test_looked_after_childrens_school_figures_are_an_estimate_with_their_coverage() -> None:
    ssda903 = {
        # L1 and L2 looked after since 2023 (12 months at 31 March 2025); L3 only since 2024-10; L4 in respite; L5
        # looked after 12 months but in no census of the council's (placed out of area).
        "Header": pl.DataFrame({"CHILD": ["L1", "L2", "L3", "L4", "L5"], "UPN": [A, K1.lower(), B, C, "Q801200001001"]}),
        "Episodes": pl.DataFrame(
            {"CHILD": ["L1", "L2", "L3", "L4", "L5"],
             "DECOM": [date(2023, 1, 1), date(2023, 5, 1), date(2024, 10, 1), date(2023, 1, 1), date(2022, 1, 1)],
             "DEC": pl.Series([None] * 5, dtype=pl.Date), "RNE": ["S"] * 5, "LS": ["C2", "C2", "C2", "V3", "C2"]}
        ),
    }  # fmt: skip
    figures = {f.item: f for f in school_figures(_censuses(), ssda903, ON)}
    # Matched: A (5% absent, no exclusion) and K1 (20% absent, one suspension), of three looked after 12 months.
    assert {f.matched for f in figures.values()} == {2}
    assert {f.looked_after_12_months for f in figures.values()} == {3}
    assert (figures["3.02"].counted, figures["3.02"].of, figures["3.02"].value) == (0, 2, 0.0)
    assert (figures["3.03"].counted, figures["3.03"].value) == (1, 50.0)
    assert (figures["3.04"].counted, figures["3.04"].value) == (1, 50.0)
    assert figures["3.04"].period == "AY2024-25"
    assert figures["3.04"].coverage.startswith("2 of 3 children looked after for 12 months")
    assert school_figures([], ssda903, ON) == []


def test_every_cell_the_census_fills_on_either_list_is_traced_to_its_census_row() -> None:
    """Each value a census wrote in List 1's and List 2's school columns, and each school it gave, has one trace; the
    counts, absence and school name the census's day and the pupil's enrolment in it, pupil premium the route."""
    from collectors.census.lists import SCHOOL_COLUMNS

    built = [assemble_list1(_sen2(), None, None, ON, None, _censuses()), assemble_list2(_censuses(), None, None, ON)]
    for one in built:
        for column in SCHOOL_COLUMNS:
            filled = one.rows.with_row_index("row", offset=1).filter(pl.col(column).is_not_null())["row"].to_list()
            traced = one.traces.filter(pl.col("column") == column)
            assert sorted(traced.filter(pl.col("row").is_in(filled))["row"].to_list()) == filled, column
            sources = traced.filter(pl.col("row").is_in(filled))["source"].to_list()
            if column != "Pupil Premium":
                assert all("school census of 2025-01-16 (council schools)" in s for s in sources), sources
            assert all(s for s in sources)
        assert sum(one.from_census[c] for c in SCHOOL_COLUMNS) <= one.traces.height
