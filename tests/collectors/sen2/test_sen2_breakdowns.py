"""Every breakdown of DfE's 2025 EHC plan release for a council, against made-up children worked by hand, with the
register of establishments loaded (the six hand-made establishments of ``tests/mappings/test_establishments.py``);
and the layout itself against DfE's release as shipped: every label DfE gives a council is one the service makes,
each "Type of placement" row is DfE's own column, rows in DfE's order.

The children (the January 2025 survey, census 16 January 2025; calendar year 2024), all placements rank 1:
1. M, born 2014-03-01, WNIR (an inferred code: White British). Historical plan from 2019-06-01 (started aged 5, 5
   years in place). Placed at URN 100001, a community school, in its resourced provision.
2. F, born 2010-09-10, CHNE (Asian - Chinese). Historical plan from 2012-01-01 (aged 1: "age 2 and under"; 13
   years: "12 or more"). Placed at URN 100002, a foundation special school closed in 2021, succeeded by 100003, a
   special academy.
3. M, born 2007-01-20, REFU (Unclassified). Historical plan from 2023-02-01 (aged 16; 1 year). Placed by UKPRN
   10000001, an FE college on the register.
4. F, born 2012-05-05, ABRI (inferred: Asian - Any other Asian background). Request received 2023-11-01 (aged 11),
   assessed, plan issued 2024-03-15 (less than a year; aged 11) naming URN 100006, an academy, in its SEN unit;
   placed there in its SEN unit (and flagged resourced provision too: counted in the SEN unit).
5. M, born 2015-07-07, MWBC. Historical plan from 2020-01-01 (aged 4; 5 years). Placed at URN 999999, on no register.
6. F, born 2006-02-02, BAFR. Historical plan from 2016-04-01 ceased 2024-07-31 (8 years held, aged 18), last placed
   at URN 100005, a Welsh school.
7. M, born 2009-09-09, WBRI. Historical plan from 2021-09-01 (aged 11; 3 years). Placed by UKPRN 10009999, on no
   register: a UKRLP provider.
8. F, born 2011-11-11, WBRI. A historical request (H: the decision to assess made before the period) whose
   assessment was completed on 2024-05-01, the plan issued 2024-05-20 naming elective home education.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import polars as pl
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collectors.sen2.breakdowns import GROUPS, PLACE_ROWS, ethnicity_labels, inferred_codes
from collectors.sen2.measures import tables
from collectors.sen2.placing import placements_register
from collectors.sen2.records import read_records
from collectors.sen2.schema import parse
from collectors.sen2.tables import layout, render
from mappings.establishments.service import load_register
from onereturn.settings import Settings
from tests.collectors.sen2.builder import Active, Plan, Request, person, sen2_xml
from tests.collectors.sen2.test_sen2_tables import IDENTITY, REFERENCE
from tests.mappings.test_establishments import LINKS, NAME, links_file, register_file

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
H: dict[str, object] = {"RequestOutcome": "H"}
ASSESSED_H: dict[str, object] = {"AssessmentOutcome": "H"}
Rows = dict[tuple[str, str], dict[str, str]]


def _placed(start: date, *placement: dict[str, object]) -> Request:
    """A historical plan from ``start`` in force, placed as given (rank 1, entered when the plan started)."""
    return Request(
        H,
        ASSESSED_H,
        Plan({"StartDate": start}),
        Active([{"PlacementRank": 1, "EntryDate": start, **p} for p in placement]),
    )


def hand_worked() -> bytes:
    """The eight children of the module's docstring."""
    d = date
    people = [
        person("B100000000001", d(2014, 3, 1), "M", _placed(d(2019, 6, 1), {"URN": 100001, "ResourcedProvisionIndicator": 1}), Ethnicity="WNIR"),
        person("B100000000002", d(2010, 9, 10), "F", _placed(d(2012, 1, 1), {"URN": 100002}), Ethnicity="CHNE"),
        person("B100000000003", d(2007, 1, 20), "M", _placed(d(2023, 2, 1), {"UKPRN": 10000001}), Ethnicity="REFU"),
        person("B100000000004", d(2012, 5, 5), "F", Request(
            {"ReceivedDate": d(2023, 11, 1), "RequestSource": 1, "RequestOutcomeDate": d(2023, 12, 10), "RequestOutcome": "Y"},
            {"AssessmentOutcome": "Y", "AssessmentOutcomeDate": d(2024, 3, 15), "Week20": 0},
            Plan({"StartDate": d(2024, 3, 15)}, [{"URN": 100006, "PlacementRank": 1, "SENunitIndicator": 1}]),
            Active([{"URN": 100006, "PlacementRank": 1, "EntryDate": d(2024, 4, 1), "SENunitIndicator": 1,
                     "ResourcedProvisionIndicator": 1}])), Ethnicity="ABRI"),
        person("B100000000005", d(2015, 7, 7), "M", _placed(d(2020, 1, 1), {"URN": 999999}), Ethnicity="MWBC"),
        person("B100000000006", d(2006, 2, 2), "F", Request(H, ASSESSED_H,
            Plan({"StartDate": d(2016, 4, 1), "CeaseDate": d(2024, 7, 31), "CeaseReason": 4}),
            Active([{"URN": 100005, "PlacementRank": 1, "EntryDate": d(2018, 9, 1)}])), Ethnicity="BAFR"),
        person("B100000000007", d(2009, 9, 9), "M", _placed(d(2021, 9, 1), {"UKPRN": 10009999})),
        person("B100000000008", d(2011, 11, 11), "F", Request(H,
            {"AssessmentOutcome": "Y", "AssessmentOutcomeDate": d(2024, 5, 1), "Week20": 0},
            Plan({"StartDate": d(2024, 5, 20)}, [{"SENSetting": "EHE", "PlacementRank": 1}]))),
    ]  # fmt: skip
    return sen2_xml(people, 2025)


def _made(engine: Engine | None) -> dict[str, tuple[Rows, list[str]]]:
    """Every table's rows by (topic, breakdown), and its notes; placements typed by the store's register."""
    records = read_records(parse(hand_worked(), max_bytes=10**7), 2025)
    register = placements_register(engine, records) if engine is not None else None
    out = {}
    for name, (table, units) in tables(records, 2025, register).items():
        rows = csv.DictReader(io.StringIO(render(table, units, IDENTITY, 2025)))
        out[name] = ({(r["breakdown_topic"], r["breakdown"]): r for r in rows}, table.notes())
    return out


def _column(rows: Rows, topic: str, column: str) -> dict[str, str]:
    return {b: r[column] for (t, b), r in rows.items() if t == topic}


def test_every_breakdown_by_hand(store: Engine) -> None:
    load_register(store, Settings(), register_file(), NAME, links=links_file(), links_name=LINKS, by="test")
    made = _made(store)
    caseload, notes = made["caseload"]
    total = caseload[("All EHC plans", "All EHC plans")]
    assert {c: total[c] for c in total if total[c] not in ("0", "x") and c in layout()["caseload"][12:]} == {
        "ehcplans": "6", "mainstream_la_maintained_resourced_provision": "1", "mainstream_academy_senunit": "1",
        "mainstream_total": "2", "mainstream_total_pc": "33.3", "special_academy_free": "1", "special_total": "1",
        "special_total_pc": "16.7", "general_fe_tertiary_colleges": "1", "ukrlp_provider": "1", "fe_total": "2",
        "fe_total_pc": "33.3", "placement_unknown": "1", "placement_unknown_pc": "16.7",
    }  # fmt: skip
    assert (total["ed_elsewhere"], total["ap_pru_total"], total["await_prov_2022"]) == ("0", "0", "x")
    assert any("URN 999999 not on the register of establishments published by GIAS 2025-04-22" in n for n in notes)
    assert any("WNIR (White - Northern Irish) as WBRI" in n for n in notes)
    assert _column(caseload, "Ethnicity", "ehcplans") == {
        "White - White British": "2", "Asian - Chinese": "1", "Unclassified": "1",
        "Asian - Any other Asian background": "1", "Mixed - White and Black Caribbean": "1",
    }  # fmt: skip
    assert _column(caseload, "Years EHC plan in place", "ehcplans") == {
        "Less than a year": "1", "1": "1", "3": "1", "5": "2", "12 or more": "1"
    }  # fmt: skip
    assert _column(caseload, "Age when plan started", "ehcplans") == {
        "age 2 and under": "1", "age 4": "1", "age 5": "1", "age 11": "2", "age 16": "1"
    }  # fmt: skip
    placed = _column(made["sen_needs_all_plans"][0], "Type of placement", "ehc_plans")
    assert placed == {
        "Mainstream - LA maintained (resourced provision)": "1", "Mainstream - academy (SEN unit)": "1",
        "Mainstream - total": "2", "Special - Academy/free schools": "1", "Special - total": "1",
        "FE - general FE and tertiary colleges": "1", "FE - UKRLP provider": "1", "FE - total": "2",
        "Placement not recorded": "1",
    }  # fmt: skip
    # The same plans in the personal budgets table, whose special academies row DfE words otherwise.
    assert "Special - academy/free school" in _column(
        made["personal_budgets"][0], "Type of placement", "personal_budget"
    )
    new = made["newplans"][0][("New EHC plans", "New EHC plans")]
    assert (new["new_ehc_plans"], new["mainstream_academy_senunit"], new["elective_home_education"]) == ("2", "1", "1")
    assert (new["mainstream_total_pc"], new["ed_elsewhere_pc"]) == ("50", "50")
    ceased = made["ceased_plans"][0]
    assert _column(ceased, "Years plan held", "total_ceased") == {"8 years": "1"}
    assert _column(ceased, "Type of placement", "total_ceased") == {
        "Educated elsewhere - Welsh establishment": "1", "Educated elsewhere - total": "1"
    }  # fmt: skip
    assert _column(ceased, "Ethnicity", "employ") == {"Black - Black African": "1"}
    assert _column(made["annual_reviews"][0], "Years EHC plan in place", "total_ehc_plans")["5"] == "2"


def test_a_historical_request_assessed_in_the_year_is_counted() -> None:
    # Request outcome H is "Historical – Decision to assess was made before the latest collection period": child 8's
    # assessment, completed in 2024, is one of the year's, its age at the request unknown.
    rows = _made(None)["assessments"][0]
    total = rows[("All EHC needs assessments", "All EHC needs assessments")]
    assert (total["assess_in_year"], total["assess_issued"], total["assess_issued_pc"]) == ("2", "2", "100")
    assert _column(rows, "Child or young persons age", "assess_in_year") == {"Aged 11": "1", "Age unknown": "1"}


def test_without_a_register_the_establishment_columns_say_x_and_placements_make_no_rows() -> None:
    made = _made(None)
    caseload, notes = made["caseload"]
    total = caseload[("All EHC plans", "All EHC plans")]
    assert (total["mainstream_total"], total["ukrlp_provider"], total["placement_unknown"]) == ("x", "x", "0")
    assert any("none is loaded" in n for n in notes)
    assert not _column(made["sen_needs_all_plans"][0], "Type of placement", "ehc_plans")
    assert _column(made["residential_settings"][0], "Ethnicity", "Res_tot") == {}


def _release(table: str) -> list[dict[str, str]]:
    with zipfile.ZipFile(REFERENCE) as archive, archive.open(f"data/{table}.csv") as f:
        rows = list(csv.DictReader(io.TextIOWrapper(f, encoding="utf-8-sig")))
    councils = [r for r in rows if r["geographic_level"] == "Local authority"]
    latest = max(r["time_period"] for r in councils)
    return [r for r in councils if r["time_period"] == latest]


def test_each_type_of_placement_row_is_dfes_own_column() -> None:
    # In DfE's release, the plans in force in January 2025 by type of placement (sen_needs_all_plans rows) equal the
    # caseload table's columns, council by council: the pairing of row and column the service uses is DfE's.
    caseload = {r["new_la_code"]: r for r in _release("caseload") if r["breakdown_topic"] == "All EHC plans"}
    rows = {(r["new_la_code"], r["breakdown"]): r["ehc_plans"] for r in _release("sen_needs_all_plans")
            if r["breakdown_topic"] == "Type of placement"}  # fmt: skip
    pairs = {**PLACE_ROWS, **{total: label for total, (_, _, label) in GROUPS.items()}}
    assert {b for _, b in rows} <= set(pairs.values())
    compared = 0
    for code, row in caseload.items():
        for column, label in pairs.items():
            if row[column] != "x":
                # DfE publishes no row with no plan in it.
                assert rows.get((code, label), "0") == row[column], (code, column)
                compared += 1
    assert compared > 5_000


def test_every_label_dfe_gives_a_council_is_one_the_service_makes() -> None:
    records = read_records(parse(hand_worked(), max_bytes=10**7), 2025)
    every = tables(records, 2025)
    for name, (table, _) in every.items():
        dfe: dict[str, set[str]] = {}
        for r in _release(name):
            dfe.setdefault(r["breakdown_topic"], set()).add(r["breakdown"])
        ours = _vocabulary(table)
        assert set(ours) | {"Type of placement"} >= set(dfe), name
        for topic, labels in dfe.items():
            assert labels <= ours.get(
                topic, set(PLACE_ROWS.values()) | _totals() | {"Special - academy/free school"}
            ), (
                name,
                topic,
                labels - ours.get(topic, set()),
            )


def _totals() -> set[str]:
    return {label for _, _, label in GROUPS.values()}


def _vocabulary(table: object) -> dict[str, set[str]]:
    """Every row label the table's labellers can give, by topic."""
    from collectors.sen2.tables import Table, _ages

    assert isinstance(table, Table)
    ours: dict[str, set[str]] = {table.all_topic: {table.all_topic}, "Sex": {"Female", "Male", "Unknown"}}
    ages = _ages(table)
    ours[ages.topic] = {label for v in [None, *range(0, 40)] for label in ages.labels(v)}
    ours["Ethnicity"] = set(ethnicity_labels().values())
    for b in table.breakdowns:
        ours[b.topic] = {label for v in [None, *range(0, 40)] for label in b.labels(v)}
    return ours


def test_rows_come_in_dfes_order() -> None:
    rows = list(_made(None)["caseload"][0])
    assert rows == sorted(rows, key=lambda k: (k[0].lower(), k[1].lower()))
    assert rows[0] == ("Age when plan started", "age 11")
    assert len(inferred_codes()) == 6


def test_a_new_user_loads_a_register_sends_sen2_and_opens_the_caseload_and_list1(store_client: TestClient) -> None:
    files = {"file": (NAME, register_file(), "text/csv"), "links": (LINKS, links_file(), "text/csv")}
    assert store_client.post("/api/establishments", headers=OFFICER, files=files).status_code == 201
    sent = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                             files=[("files", ("sen2.xml", hand_worked(), "application/xml"))])  # fmt: skip
    assert sent.status_code == 201, sent.text
    answer = store_client.get("/api/agencies/notts_cyp/sen2/2024-25/tables/caseload.csv", headers=NOTTS)
    rows = {(r["breakdown_topic"], r["breakdown"]): r for r in csv.DictReader(io.StringIO(answer.text))}
    assert rows[("All EHC plans", "All EHC plans")]["special_academy_free"] == "1"
    listed = store_client.get("/api/agencies/notts_cyp/annex-a-send?inspection_date=2025-03-31", headers=NOTTS)
    by_id = {r["Unique ID"]: r for r in listed.json()["rows"]}
    assert by_id["B100000000001"]["Main education establishment – URN"] == "100001"
    assert by_id["B100000000001"]["Main education establishment – phase"] == "Primary"
    assert pl.DataFrame(listed.json()["rows"]).height == 6
