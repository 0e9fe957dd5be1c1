"""DfE's twelve EHC plan tables from a council's SEN2 file: DfE's columns in DfE's order, and every figure against a
file of eight made-up children worked by hand (the January 2025 survey: calendar year 2024, census 16 January 2025).

The children, and what each is counted in (ages in full years):
1. M, born 2015-05-01. Request received 2024-01-10 (aged 8), decided 2024-02-15 (36 days), assess, mediation.
   Plan issued 2024-05-20 (131 days: within 20 weeks; aged 9), named setting EHE, personal budget (social care).
   In force: placed by URN, need ASD.
2. F, born 2010-03-03. Request received 2024-02-01 (13), decided 2024-04-01 (60 days), mediation and tribunal.
   Plan issued 2024-08-30 (211 days: 20 to 52 weeks; 14), exceptions apply (Week20 1), named setting OTH.
   In force: NIEO (aged 14: compulsory school age), need SEMH.
3. M, born 2006-09-09. Historical plan from 2019, personal budget (integrated) with organised arrangements.
   In force (18): placed by URN, residential 52 weeks, need DS (counted as other); review meeting 2024-10-01,
   decision 2024-10-20 (19 days), maintain.
4. F, born 2004-01-20. Historical plan from 2018. In force (20): placed by UKPRN, supported internship, no need
   given; review meeting 2025-01-10 (6 days before the census), no decision and no outcome yet.
5. M, born 2012-12-12. Request received 2024-03-01 (11), decided 2024-04-05 (35 days), not assessed, tribunal.
   Request received 2024-09-01 (11), decided 2024-10-01 (30 days), assessed, no plan: notified 2024-11-15
   (75 days: within 16 weeks), other mediation.
6. F, born 2008-07-07. Historical plan from 2015 ceased 2024-06-30 (aged 15), paid employment (reason 4).
   Request received 2024-11-01 (16), decision not yet made.
7. M, born 2016-01-01. Request received 2024-12-01 (8), withdrawn.
8. F, born 2013-04-04. Historical plan from 2020. In force (11): NIEO (compulsory school age), need PMLD; review
   meeting 2023-11-01, decision 2024-01-10 (70 days), amend.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
from fastapi.testclient import TestClient

from collectors import sen2
from collectors.sen2.measures import tables
from collectors.sen2.records import read_records
from collectors.sen2.schema import parse
from collectors.sen2.tables import layout, render
from tests.collectors.sen2.builder import Active, Plan, Request, person, sen2_xml

#: DfE's 2025 release as shipped (collectors/sen2/dfe/SOURCE.md).
REFERENCE = Path(sen2.__file__).parent / "dfe" / "education-health-and-care-plans_2025.zip"
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
IDENTITY = {"new_la_code": "E10000024", "old_la_code": "891", "la_name": "Nottinghamshire", "region_code": "E12000004",
            "region_name": "East Midlands"}  # fmt: skip
H: dict[str, object] = {"RequestOutcome": "H"}
ASSESSED_H: dict[str, object] = {"AssessmentOutcome": "H"}


def hand_worked() -> bytes:
    """The eight children of the module's docstring."""
    d = date
    people = [
        person("A100000000001", d(2015, 5, 1), "M", Request(
            {"ReceivedDate": d(2024, 1, 10), "RequestSource": 1, "RYA": 0, "RequestOutcomeDate": d(2024, 2, 15),
             "RequestOutcome": "Y", "RequestMediation": 1, "RequestTribunal": 0},
            {"AssessmentOutcome": "Y", "AssessmentOutcomeDate": d(2024, 5, 20), "Week20": 0},
            Plan({"StartDate": d(2024, 5, 20), "PB": 1, "OA": 0, "DP": "S"}, [{"SENSetting": "EHE", "PlacementRank": 1}]),
            Active([{"URN": 100001, "PlacementRank": 1, "EntryDate": d(2024, 6, 1)}], [("ASD", 1), ("SLCN", 2)]))),
        person("A100000000002", d(2010, 3, 3), "F", Request(
            {"ReceivedDate": d(2024, 2, 1), "RequestSource": 2, "RequestOutcomeDate": d(2024, 4, 1),
             "RequestOutcome": "Y", "RequestMediation": 1, "RequestTribunal": 1},
            {"AssessmentOutcome": "Y", "AssessmentOutcomeDate": d(2024, 8, 30), "Week20": 1},
            Plan({"StartDate": d(2024, 8, 30), "PB": 0}, [{"SENSetting": "OTH", "PlacementRank": 1}]),
            Active([{"SENSetting": "NIEO", "PlacementRank": 1, "EntryDate": d(2024, 9, 1)}], [("SEMH", 1)]))),
        person("A100000000003", d(2006, 9, 9), "M", Request(H, ASSESSED_H,
            Plan({"StartDate": d(2019, 9, 1), "PB": 1, "OA": 1, "DP": "I"}),
            Active([{"URN": 100002, "PlacementRank": 1, "EntryDate": d(2019, 9, 1), "Res": "B"}], [("DS", 1)],
                   {"ReviewMeeting": d(2024, 10, 1), "LastReview": d(2024, 10, 20), "ReviewOutcome": "M"}))),
        person("A100000000004", d(2004, 1, 20), "F", Request(H, ASSESSED_H, Plan({"StartDate": d(2018, 1, 1)}),
            Active([{"UKPRN": 10000001, "PlacementRank": 1, "EntryDate": d(2022, 9, 1), "WBP": "S"}], [],
                   {"ReviewMeeting": d(2025, 1, 10)}))),
        person("A100000000005", d(2012, 12, 12), "M",
            Request({"ReceivedDate": d(2024, 3, 1), "RequestSource": 1, "RequestOutcomeDate": d(2024, 4, 5),
                     "RequestOutcome": "N", "RequestTribunal": 1}),
            Request({"ReceivedDate": d(2024, 9, 1), "RequestSource": 1, "RequestOutcomeDate": d(2024, 10, 1),
                     "RequestOutcome": "Y"},
                    {"AssessmentOutcome": "N", "AssessmentOutcomeDate": d(2024, 11, 15), "OtherMediation": 1})),
        person("A100000000006", d(2008, 7, 7), "F",
            Request(H, ASSESSED_H, Plan({"StartDate": d(2015, 1, 1), "CeaseDate": d(2024, 6, 30), "CeaseReason": 4})),
            Request({"ReceivedDate": d(2024, 11, 1), "RequestSource": 3, "RequestOutcome": "A"})),
        person("A100000000007", d(2016, 1, 1), "M",
            Request({"ReceivedDate": d(2024, 12, 1), "RequestSource": 1, "RequestOutcome": "W"})),
        person("A100000000008", d(2013, 4, 4), "F", Request(H, ASSESSED_H, Plan({"StartDate": d(2020, 1, 1)}),
            Active([{"SENSetting": "NIEO", "PlacementRank": 1, "EntryDate": d(2023, 9, 1)}], [("PMLD", 1)],
                   {"ReviewMeeting": d(2023, 11, 1), "LastReview": d(2024, 1, 10), "ReviewOutcome": "A"}))),
    ]  # fmt: skip
    return sen2_xml(people, 2025)


def made(table: str) -> dict[tuple[str, str], dict[str, str]]:
    """The table's rows by (topic, breakdown), as its CSV gives them."""
    records = read_records(parse(hand_worked(), max_bytes=10**7), 2025)
    t, units = tables(records, 2025)[table]
    rows = csv.DictReader(io.StringIO(render(t, units, IDENTITY, 2025)))
    return {(r["breakdown_topic"], r["breakdown"]): r for r in rows}


def _all(table: str, topic: str) -> dict[str, str]:
    return made(table)[(topic, topic)]


def test_every_table_has_dfes_columns_in_dfes_order() -> None:
    records = read_records(parse(hand_worked(), max_bytes=10**7), 2025)
    made_tables = tables(records, 2025)
    assert sorted(made_tables) == sorted(layout())
    assert len(made_tables) == 12
    for name, (t, units) in made_tables.items():
        header = next(csv.reader(io.StringIO(render(t, units, IDENTITY, 2025))))
        assert tuple(header) == layout()[name]


def test_the_shipped_layout_is_dfes_2025_release() -> None:
    with zipfile.ZipFile(REFERENCE) as archive:
        for name, columns in layout().items():
            with archive.open(f"data/{name}.csv") as f:
                header = next(csv.reader(io.TextIOWrapper(f, encoding="utf-8-sig")))
            assert tuple(header) == columns


def _check(row: dict[str, str], expected: dict[str, str]) -> None:
    assert {k: row[k] for k in expected} == expected


def test_requests_by_hand() -> None:
    rows = made("requests")
    _check(rows[("All requests for EHC needs assessments",) * 2], {
        "time_period": "2024", "time_identifier": "Calendar year", "geographic_level": "Local authority",
        "new_la_code": "E10000024", "old_la_code": "891", "requests_received_in_year": "6", "requests_rya": "0",
        "requests_decided_to_assess": "3", "requests_decided_not_to_assess": "1", "requests_decision_not_made": "1",
        "requests_withdrawn": "1", "request_assess_pc": "50", "request_not_assess_pc": "16.7",
        "request_outstanding_pc": "16.7", "request_withdrawn_pc": "16.7", "request_outcome_six_weeks": "3",
        "request_outcome_over_6_weeks": "1", "request_outcome_six_weeks_pc": "75", "request_outcome_over_6_weeks_pc": "25",
        "mediation_related_request": "2", "tribunal_related_request": "2", "tribunal_after_mediation_request": "1",
    })  # fmt: skip
    assert rows[("Sex", "Female")]["requests_received_in_year"] == "2"
    assert rows[("Sex", "Male")]["requests_received_in_year"] == "4"
    ages = {b: r["requests_received_in_year"] for (t, b), r in rows.items() if t == "Child or young persons age"}
    assert ages == {"Aged 8": "2", "Aged 11": "2", "Aged 13": "1", "Aged 16": "1"}


def test_every_age_of_a_shared_label_is_counted_in_it() -> None:
    # "Aged 20 and over" gathers several ages; each must be added in, whatever order polars groups them in.
    records = read_records(parse(hand_worked(), max_bytes=10**7), 2025)
    t, units = tables(records, 2025)["requests"]
    aged = units.with_columns(age=pl.int_range(20, 20 + units.height, eager=True).cast(units.schema["age"]))
    for _ in range(5):
        rows = {
            (r["breakdown_topic"], r["breakdown"]): r
            for r in csv.DictReader(io.StringIO(render(t, aged, IDENTITY, 2025)))
        }
        assert rows[("Child or young persons age", "Aged 20 and over")]["requests_received_in_year"] == "6"


def test_assessments_by_hand() -> None:
    _check(_all("assessments", "All EHC needs assessments"), {
        "assess_in_year": "3", "assess_issued": "2", "assess_issued_pc": "66.7", "assess_not_issued": "1",
        "assess_not_issued_pc": "33.3", "assess_not_made": "0", "assess_not_made_pc": "0", "assess_withdrawn": "0",
        "assess_withdrawn_pc": "0", "outcome_decision_within_time": "1", "outcome_decision_over_time": "0",
        "outcome_decision_within_time_pc": "100", "outcome_decision_over_time_pc": "0", "number_assess_mediation": "0",
        "number_assess_tribunal": "0", "number_asssess_mediation_tribunal": "0", "number_other_mediation": "1",
        "number_other_tribunal": "0", "number_other_mediation_tribunal": "0",
    })  # fmt: skip


def test_timeliness_with_and_without_exceptions_by_hand() -> None:
    rows = made("timeliness_20_week")
    _check(rows[("All EHC plans issued",) * 2], {
        "plans_issued_den": "2", "plans_issued_den_ex": "1", "plans_issued_within_20_weeks": "1",
        "plans_issued_20_weeks_ex": "1", "pc_plans_issued_within_20_weeks": "50", "PC_plans_issued_20_weeks_ex": "100",
        "plans_issued_gt20weeks_ltYear": "1", "plans_issued_gt20weeks_ltYear_ex": "0",
        "pc_plans_issued_gt20weeks_ltYear": "50", "PC_plans_issued_gt20weeks_ltYear_ex": "0",
        "plans_issued_gt_1_year": "0", "plans_issued_gt_1_year_ex": "0", "pc_plans_issued_gt_1_year": "0",
        "PC_plans_issued_gt_1_year_ex": "0",
    })  # fmt: skip
    assert rows[("Child or young persons age", "age 9")]["plans_issued_den"] == "1"
    # A percentage of nothing, written x as DfE's release writes it (never z).
    assert rows[("Child or young persons age", "age 14")]["PC_plans_issued_20_weeks_ex"] == "x"


def test_new_plans_and_caseload_settings_by_hand() -> None:
    new = _all("newplans", "New EHC plans")
    _check(new, {"new_ehc_plans": "2", "elective_home_education": "1", "other_placement_settings": "1",
                 "placement_unknown": "0", "placement_unknown_pc": "0", "nm_early_years_pc": "0",
                 "mainstream_total": "x", "ed_elsewhere": "x", "await_prov_2022": "x"})  # fmt: skip
    caseload = made("caseload")
    _check(caseload[("All EHC plans",) * 2], {"time_period": "202425", "time_identifier": "Academic year",
           "ehcplans": "5", "neet_other_csa": "2", "neet_other": "0", "placement_unknown": "0",
           "special_total": "x"})  # fmt: skip
    ages = {b for (t, b) in caseload if t == "Child or young persons age"}
    assert ages == {"age 9", "age 11", "age 14", "age 18", "age 20"}


def test_primary_needs_by_hand() -> None:
    _check(_all("sen_needs_all_plans", "All EHC plans"), {
        "ehc_plans": "5", "number_asd": "1", "number_semh": "1", "number_oth": "1", "number_pmld": "1",
        "number_need_unknown": "1", "number_slcn": "0", "asd_pc": "20", "unknown_pc": "20", "slcn_pc": "0",
    })  # fmt: skip
    _check(_all("sen_need_newplans", "All EHC plans"),
           {"ehc_plans": "2", "number_asd": "1", "number_semh": "1", "asd_pc": "50", "semh_pc": "50"})  # fmt: skip


def test_budgets_residential_work_and_ceased_by_hand() -> None:
    _check(_all("personal_budgets", "All personal budgets"), {"time_period": "202425", "personal_budget": "2",
           "org_arrangments": "1", "pb_health": "0", "pb_education": "0", "pb_social": "1", "pb_integrated": "1"})  # fmt: skip
    _check(_all("residential_settings", "All residential placements"), {"Res_3851": "0", "Res_52": "1", "Res_tot": "1"})
    work = made("work_based_placements")
    _check(
        work[("All work based placements",) * 2],
        {"open_supp_intern": "1", "open_apprentice": "0", "open_trainee": "0", "open_wbp": "1"},
    )
    assert work[("Young persons age", "age 20")]["open_wbp"] == "1"
    ceased = made("ceased_plans")
    _check(ceased[("All ceased EHC plans",) * 2], {"employ": "1", "total_ceased": "1", "other": "0", "not_rec": "0"})
    assert ceased[("Age plan ceased", "age 15")]["total_ceased"] == "1"


def test_annual_reviews_by_hand() -> None:
    rows = made("annual_reviews")
    _check(rows[("All annual reviews",) * 2], {
        "total_ehc_plans": "5", "review_expected": "3", "review_not_expected": "2", "review_meeting_25": "1",
        "review_meeting_24": "1", "review_meeting_prior_24": "1", "total_review_meeting": "3", "no_review_meeting": "0",
        "review_decision25": "0", "review_decision24": "2", "review_decision_prior24": "0",
        "review_decision_not_due": "1", "review_decision_outstanding": "0", "outcome_amend": "1", "outcome_cease": "0",
        "outcome_maintan": "1", "no_outcome": "1", "number_decsion_4weeks": "1", "number_decision_gt_4weeks": "1",
        "pc_decsion_4weeks": "50", "pc_decision_gt_4weeks": "50",
    })  # fmt: skip
    assert rows[("Child or young persons age", "Aged 20 and over")]["review_meeting_25"] == "1"


def test_a_council_downloads_its_tables_through_the_api(store_client: TestClient) -> None:
    sent = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                             files=[("files", ("sen2.xml", hand_worked(), "application/xml"))])  # fmt: skip
    assert sent.status_code == 201, sent.text
    answer = store_client.get("/api/agencies/notts_cyp/sen2/2024-25/tables/timeliness_20_week.csv", headers=NOTTS)
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert tuple(rows[0]) == layout()["timeliness_20_week"]
    assert (rows[0]["la_name"], rows[0]["region_name"], rows[0]["pc_plans_issued_within_20_weeks"]) == (
        "Nottinghamshire",
        "East Midlands",
        "50",
    )
    listed = store_client.get("/api/agencies/notts_cyp/sen2/2024-25/tables", headers=OFFICER).json()
    assert len(listed["items"]) == 12
    caseload = next(i for i in listed["items"] if i["table"] == "caseload")
    assert any("Get Information About Schools" in note for note in caseload["notes"])
    assert (
        store_client.get("/api/agencies/notts_cyp/sen2/2024-25/tables/caseload.csv", headers=LEWISHAM).status_code
        == 404
    )
    assert (
        store_client.get("/api/agencies/notts_cyp/sen2/2023-24/tables/caseload.csv", headers=NOTTS).status_code == 404
    )
    assert store_client.get("/api/agencies/notts_cyp/sen2/2024-25/tables/nothing.csv", headers=NOTTS).status_code == 404
