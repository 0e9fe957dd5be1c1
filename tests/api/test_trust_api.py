"""Trust in what is accepted, over HTTP: the rules listed, queries answered, reports safe and re-uploadable."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from typing import Any

import polars as pl
from fastapi.testclient import TestClient

from tests.helpers import HEADER, NOTTS, post_figures

DEMO = Path(__file__).resolve().parents[2] / "collectors" / "demo" / "notts_cyp" / "FY2024-25.csv"


def test_rules_are_listed_on_the_catalogue(store_client: TestClient) -> None:
    body = store_client.get("/api/rules", params={"limit": 1000}).json()
    # 65 before NDTMS's counts were held to their wholes (52 rules: parts of the people in treatment, breakdowns
    # of their totals, numerators of their denominators).
    assert body["total"] == 117
    kinds = {r["kind"] for r in body["items"]}
    assert "part_of_whole" in kinds
    about = store_client.get("/api/rules", params={"indicator": "cyp.lac_12_months_aged_10_plus"}).json()
    ids = [r["id"] for r in about["items"]]
    assert "part.lac_12_months_aged_10_plus_within_lac_12_months" in ids
    assert "ratio.lac_convicted" in ids
    assert "plausible.children" in ids
    part = next(r for r in about["items"] if r["id"] == "part.lac_12_months_aged_10_plus_within_lac_12_months")
    assert part["severity"] == "error"
    assert part["indicators"] == ["cyp.lac_12_months", "cyp.lac_12_months_aged_10_plus"]
    queries = store_client.get("/api/rules", params={"severity": "query"}).json()
    assert {r["severity"] for r in queries["items"]} == {"query"}


def test_a_query_is_answered_through_the_api(store_client: TestClient) -> None:
    status, _ = post_figures(store_client, NOTTS, "cyp.lac_count,E10000024,2025-03-31,,901,,,,\n")
    assert status == 201
    status, body = post_figures(store_client, NOTTS, "cyp.lac_count,E10000024,2026-03-31,,2000,,,,\n")
    assert status == 201
    assert (body["status"], body["error_count"], body["query_count"], body["queries_open"]) == ("queried", 0, 1, 1)
    sub = body["id"]
    (queried,) = store_client.get(f"/api/submissions/{sub}/queries", headers=NOTTS).json()["items"]
    assert (queried["row"], queried["state"], queried["value"]) == (2, "open", 2000.0)
    assert queried["queries"][0]["rule"] == "change.since_previous_period"
    empty = store_client.post(f"/api/submissions/{sub}/queries/{queried['id']}", headers=NOTTS, json={"note": " "})
    assert empty.status_code == 422
    answered = store_client.post(
        f"/api/submissions/{sub}/queries/{queried['id']}",
        headers=NOTTS,
        json={"note": "Two new children's homes opened"},
    )
    assert answered.status_code == 200, answered.json()
    assert (answered.json()["state"], answered.json()["note"]) == ("answered", "Two new children's homes opened")
    again = store_client.post(f"/api/submissions/{sub}/queries/{queried['id']}", headers=NOTTS, json={"note": "x"})
    assert again.status_code == 422
    report = store_client.get(f"/api/submissions/{sub}", headers=NOTTS).json()
    assert (report["status"], report["queries_open"], report["rows_accepted"]) == ("accepted", 0, 1)
    figures = store_client.get(
        "/api/figures", params={"indicator": "cyp.lac_count", "period": "2026-03-31"}, headers=NOTTS
    ).json()
    assert [(f["value"], f["note"], f["submission_id"], f["file_row"]) for f in figures["items"]] == [
        (2000.0, "Two new children's homes opened", sub, 2)
    ]


def test_a_blank_template_is_refused_saying_it_is_blank(store_client: TestClient) -> None:
    status, body = post_figures(store_client, NOTTS, "cyp.cin_count,E10000024,2026-03-31,,,,,,\n")
    assert status == 422
    assert body["error_count"] == 1
    assert [p["rule"] for p in body["problems"]] == ["blank-upload"]
    assert "blank" in body["message"]


def test_report_csv_neutralises_formulas(store_client: TestClient) -> None:
    status, body = post_figures(store_client, NOTTS, "cyp.cin_count,E10000024,2026-03-31,,=1+1,,,,\n")
    assert status == 422
    csv = store_client.get(f"/api/submissions/{body['id']}/report.csv", headers=NOTTS).content.decode("utf-8-sig")
    assert "'=1+1" in csv
    assert not re.search(r"(^|,)=1\+1", csv, re.MULTILINE)


def _replace_cell(book: bytes, ref: str, number: float) -> bytes:
    """Overwrite one cell of the Figures sheet with a number, as a person correcting it in Excel would."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(book)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = data.decode()
                text, n = re.subn(rf'<c r="{ref}"[^>]*?(/>|>.*?</c>)', f'<c r="{ref}"><v>{number:g}</v></c>', text)
                assert n == 1
                data = text.encode()
            dst.writestr(item, data)
    return out.getvalue()


def test_the_corrected_marked_report_uploads_again(store_client: TestClient) -> None:
    rows = "cyp.cin_count,E10000024,2026-03-31,,4014,,,,\ncyp.cpp_count,E10000024,2026-03-31,,five hundred,,,,\n"
    status, body = post_figures(store_client, NOTTS, rows)
    assert (status, body["status"]) == (201, "partially_accepted")
    book = store_client.get(f"/api/submissions/{body['id']}/report.xlsx", headers=NOTTS).content
    sheet = zipfile.ZipFile(io.BytesIO(book)).read("xl/worksheets/sheet1.xml").decode()
    assert re.search(r'<c r="E2"[^>]*><v>4014</v>', sheet)  # the number went back as a number
    assert "<dataValidation " in sheet  # the template's validation is kept
    names = zipfile.ZipFile(io.BytesIO(book)).read("xl/workbook.xml").decode()
    assert 'name="Instructions"' in names
    fixed = _replace_cell(book, "E3", 577)
    again = store_client.post(
        "/api/submissions", headers=NOTTS, files={"file": ("report.xlsx", fixed, "application/octet-stream")}
    )
    assert again.status_code == 201, again.json()
    result: dict[str, Any] = again.json()
    assert (result["status"], result["rows_new"], result["rows_unchanged"], result["error_count"]) == (
        "accepted",
        1,
        1,
        0,
    )


def test_the_demo_template_filled_with_the_issues_mistakes(store_client: TestClient) -> None:
    """The mistakes that used to pass unnoticed, made in the agency's own template: each now gets its answer."""
    status, _ = post_figures(store_client, NOTTS, DEMO.read_text().split("\n", 1)[1])
    assert status == 201
    template = store_client.get("/api/agencies/notts_cyp/template", params={"period": "FY2025-26"}, headers=NOTTS)
    sheet = pl.read_excel(io.BytesIO(template.content), sheet_name="Figures", infer_schema_length=0)
    values = {
        ("cyp.lac_count", "2026-03-31"): "999999",
        ("cyp.lac_12_months", "2026-03-31"): "640",
        ("cyp.lac_12_months_aged_10_plus", "2026-03-31"): "700",
        ("cyp.lac_health_assessment_n", "2026-03-31"): "980",
        ("cyp.lac_iro_consultation", "FY2025-26-Q1"): "0.8",
        ("cyp.lac_iro_consultation", "FY2025-26-Q2"): "0.46",
        ("cyp.csw_in_post_fte", "2026-03-31"): "312.5",
        ("cyp.cin_count", "2026-03-31"): "4014",
    }
    filled = sheet.with_columns(
        pl.struct("indicator", "period")
        .map_elements(lambda r: values.get((r["indicator"], r["period"])), return_dtype=pl.String)
        .alias("value")
    )
    duplicate = filled.filter(pl.col("indicator") == "cyp.cin_count").with_columns(pl.lit("4100").alias("value"))
    buffer = io.BytesIO()
    pl.concat([filled, duplicate]).write_excel(buffer, worksheet="Figures")
    response = store_client.post(
        "/api/submissions",
        headers=NOTTS,
        files={"file": ("filled.xlsx", buffer.getvalue(), "application/octet-stream")},
    )
    report = response.json()
    got = {(p["rule"], p["severity"]) for p in report["problems"]}
    assert ("part.lac_12_months_aged_10_plus_within_lac_12_months", "error") in got
    assert ("ratio.lac_health_assessment", "error") in got
    assert ("change.since_previous_period", "query") in got
    assert ("percentage.scale", "query") in got
    assert ("percentage.parts_given", "query") in got
    assert ("conflicting-figure", "error") in got
    assert ("blank-rows", "information") in got
    assert report["status"] == "partially_accepted"
    conflicting = [p["row"] for p in report["problems"] if p["rule"] == "conflicting-figure"]
    assert len(conflicting) == 2
    fte = store_client.get("/api/figures", params={"indicator": "cyp.csw_in_post_fte"}, headers=NOTTS).json()
    assert [f["value"] for f in fte["items"]] == [312.5]  # the catalogue keeps FTE to one decimal; so does the template
    assert HEADER.startswith("indicator")


def test_a_json_upload_gets_its_marked_report(store_client: TestClient) -> None:
    body = b'[{"indicator": "cyp.cin_count", "org": "E10000024", "period": "2026-03-31", "value": -4}]'
    response = store_client.post(
        "/api/submissions", headers=NOTTS, files={"file": ("f.json", body, "application/json")}
    )
    assert response.status_code == 422
    book = store_client.get(f"/api/submissions/{response.json()['id']}/report.xlsx", headers=NOTTS)
    assert book.status_code == 200
    df = pl.read_excel(io.BytesIO(book.content), sheet_name="Figures")
    assert df["value"].to_list() == [-4]
    notes = zipfile.ZipFile(io.BytesIO(book.content)).read("xl/comments1.xml").decode()
    assert "negative" in notes
