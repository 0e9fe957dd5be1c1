"""The agency's journey over HTTP: keys and scopes, template, upload, report, figures."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from onereturn.settings import Settings
from tests.helpers import HEADER, assert_canonical_error, kept_names, post_figures

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
REGULATOR = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/agencies"),
        ("get", "/api/agencies/notts_cyp"),
        ("get", "/api/agencies/notts_cyp/template?period=FY2024-25-Q1"),
        ("get", "/api/submissions"),
        ("get", "/api/submissions/1"),
        ("get", "/api/submissions/1/report.csv"),
        ("get", "/api/submissions/1/report.xlsx"),
        ("get", "/api/figures"),
        ("post", "/api/submissions"),
    ],
)
def test_anonymous_and_unknown_keys_get_401(store_client: TestClient, method: str, path: str) -> None:
    for headers in ({}, {"X-API-Key": "demo-not-a-real-key-000000"}):
        response = store_client.request(method, path, headers=headers)
        assert response.status_code == 401
        assert_canonical_error(response.json(), 401)


@pytest.mark.parametrize("path", ["/api/agencies/notts_cyp/template?period=FY2024-25-Q1", "/api/submissions"])
def test_regulators_cannot_use_agency_endpoints(store_client: TestClient, path: str) -> None:
    response = store_client.get(path, headers=REGULATOR)
    assert response.status_code == 403
    assert_canonical_error(response.json(), 403)


def test_upload_needs_the_submit_scope(store_client: TestClient) -> None:
    status, body = post_figures(store_client, REGULATOR, "cyp.cin_count,E10000024,2024-06-30,,5,,,,\n")
    assert status == 403
    assert "agency or officer" in str(body["error"])


def test_agency_sees_only_itself(store_client: TestClient) -> None:
    assert [a["code"] for a in store_client.get("/api/agencies", headers=NOTTS).json()["items"]] == ["notts_cyp"]
    # The nine bundled agencies (NDTMS as a publisher and Barnet's partnership among them), the synthetic county
    # whose record-level files the demo uploads, and the region it is a member of.
    assert store_client.get("/api/agencies", headers=OFFICER).json()["total"] == 11
    response = store_client.get("/api/agencies/lewisham_council", headers=NOTTS)
    assert response.status_code == 404
    assert (
        store_client.get("/api/agencies/lewisham_council/template?period=FY2024-25", headers=NOTTS).status_code == 404
    )
    detail = store_client.get("/api/agencies/notts_cyp", headers=NOTTS).json()
    assert detail["orgs"] == ["E10000024"]
    assert "cyp.cin_count" in detail["indicators"]


def test_template_downloads(store_client: TestClient) -> None:
    xlsx = store_client.get("/api/agencies/notts_cyp/template", params={"period": "2024/25 Q1"}, headers=NOTTS)
    assert xlsx.status_code == 200
    assert 'filename="onereturn-notts_cyp-FY2024-25-Q1.xlsx"' in xlsx.headers["content-disposition"]
    assert zipfile.ZipFile(io.BytesIO(xlsx.content)).testzip() is None
    csv = store_client.get(
        "/api/agencies/notts_cyp/template", params={"period": "FY2024-25-Q1", "format": "csv"}, headers=NOTTS
    )
    frame = pl.read_csv(io.BytesIO(csv.content), infer_schema=False)
    assert frame.columns[:5] == ["indicator", "title", "org", "org_name", "period"]
    assert frame.height > 10
    bad = store_client.get("/api/agencies/notts_cyp/template", params={"period": "someday"}, headers=NOTTS)
    assert bad.status_code == 422
    assert "not recognised" in bad.json()["error"]


def test_upload_report_and_figures(store_client: TestClient) -> None:
    status, body = post_figures(
        store_client, NOTTS, "cyp.cin_count,E10000024,2024-06-30,,512,,,,\ncyp.cpp_count,E10000024,2024-06-30,,-3,,,,\n"
    )
    assert status == 201
    assert body["status"] == "partially_accepted"
    assert body["problems"] == [
        {
            "row": 3,
            "column": "value",
            "value": "-3",
            "rule": "not-negative",
            "severity": "error",
            "message": "-3 is negative; a count cannot be",
        }
    ]
    sub_id = body["id"]
    report = store_client.get(f"/api/submissions/{sub_id}", headers=NOTTS).json()
    assert report["problems"] == body["problems"]
    assert report["rows_accepted"] == 1
    csv = store_client.get(f"/api/submissions/{sub_id}/report.csv", headers=NOTTS)
    # A message starting with "-" is not a number, so it gets the leading ' that stops a spreadsheet running it.
    assert pl.read_csv(io.BytesIO(csv.content)).rows() == [
        (3, "value", -3, "not-negative", "error", "'-3 is negative; a count cannot be")
    ]
    xlsx = store_client.get(f"/api/submissions/{sub_id}/report.xlsx", headers=NOTTS)
    comments = zipfile.ZipFile(io.BytesIO(xlsx.content)).read("xl/comments1.xml").decode()
    assert 'ref="E3"' in comments
    assert "negative" in comments
    figures = store_client.get("/api/figures", params={"indicator": "cyp.cin_count"}, headers=NOTTS).json()
    assert figures["total"] == 1
    assert figures["items"][0] | {"recorded_at": None} == figures["items"][0] | {
        "indicator": "cyp.cin_count",
        "org": "E10000024",
        "period": "2024-06-30",
        "value": 512.0,
        "version": 1,
        "submission_id": sub_id,
        "agency_code": "notts_cyp",
        "file_row": 2,
        "recorded_at": None,
    }


def test_other_agencies_submissions_are_404(store_client: TestClient) -> None:
    _, body = post_figures(store_client, NOTTS, "cyp.cin_count,E10000024,2024-06-30,,512,,,,\n")
    for path in (
        f"/api/submissions/{body['id']}",
        f"/api/submissions/{body['id']}/report.csv",
        "/api/submissions/99999",
    ):
        response = store_client.get(path, headers=LEWISHAM)
        assert response.status_code == 404
        assert_canonical_error(response.json(), 404)
    assert store_client.get("/api/submissions", headers=LEWISHAM).json()["total"] == 0
    assert store_client.get("/api/submissions", headers=OFFICER).json()["total"] == 1
    assert store_client.get("/api/figures", headers=LEWISHAM).json()["total"] == 0


def test_rejected_upload_is_422_with_its_report(store_client: TestClient) -> None:
    status, body = post_figures(store_client, NOTTS, "cyp.cin_count,E10000024,2024-06-30,,lots,,,,\n")
    assert status == 422
    assert body["status"] == "rejected"
    assert body["problems"][0]["rule"] == "type-error"


def test_repeat_upload_is_200_and_the_same_submission(store_client: TestClient) -> None:
    first_status, first = post_figures(store_client, NOTTS, "cyp.cin_count,E10000024,2024-06-30,,512,,,,\n")
    again_status, again = post_figures(store_client, NOTTS, "cyp.cin_count,E10000024,2024-06-30,,512,,,,\n")
    assert (first_status, again_status) == (201, 200)
    assert again["id"] == first["id"]
    assert again["duplicate"] is True


def test_dry_run_over_http(store_client: TestClient) -> None:
    status, body = post_figures(store_client, NOTTS, "cyp.cin_count,E10000024,2024-06-30,,512,,,,\n", mode="dry_run")
    assert status == 200
    assert body["id"] is None
    assert body["status"] == "checked"
    assert store_client.get("/api/figures", headers=NOTTS).json()["total"] == 0


def test_officer_uploads_for_a_named_agency(store_client: TestClient) -> None:
    status, body = post_figures(store_client, OFFICER, "cyp.cin_count,E10000024,2024-06-30,,512,,,,\n")
    assert status == 422
    assert "agency" in str(body["error"])
    status, body = post_figures(
        store_client, OFFICER, "cyp.cin_count,E10000024,2024-06-30,,512,,,,\n", agency="notts_cyp"
    )
    assert status == 201
    assert body["agency_code"] == "notts_cyp"
    status, body = post_figures(
        store_client, NOTTS, "cyp.cin_count,E10000024,2024-06-30,,512,,,,\n", agency="lewisham_council"
    )
    assert status == 403


def test_oversized_upload_is_413_before_parsing(store: Engine, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, max_upload_bytes=1000), engine=store)
    with TestClient(app) as client:
        body = HEADER + "cyp.cin_count,E10000024,2024-06-30,,512,,,,\n" * 2000
        response = client.post("/api/submissions", headers=NOTTS, files={"file": ("f.csv", body.encode(), "text/csv")})
    assert response.status_code == 413
    assert_canonical_error(response.json(), 413)
    assert kept_names(store, Settings(data_dir=tmp_path), "uploads") == []


def test_macro_workbook_is_refused_and_kept(store_client: TestClient) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/vbaProject.bin", b"\x00" * 64)
    response = store_client.post(
        "/api/submissions", headers=NOTTS, files={"file": ("f.xlsm", buffer.getvalue(), "application/octet-stream")}
    )
    assert response.status_code == 415
    assert response.json()["problems"][0]["rule"] == "unsupported_file"
    assert "macro" in response.json()["problems"][0]["message"]
    assert response.json()["status"] == "rejected", "kept, with its report"


@pytest.mark.parametrize(
    ("name", "data"),
    [("figures.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"), ("notes.txt", "\ufeffhello".encode("utf-16"))],
)
def test_unsupported_file_types_are_415_with_their_report(store_client: TestClient, name: str, data: bytes) -> None:
    response = store_client.post("/api/submissions", headers=NOTTS, files={"file": (name, data, "text/plain")})
    assert response.status_code == 415
    body = response.json()
    assert [p["rule"] for p in body["problems"]] == ["unsupported_file"]
    assert store_client.get(body["links"]["self"], headers=NOTTS).json()["status"] == "rejected"


def test_a_text_file_that_is_a_table_is_read_by_its_content(store_client: TestClient) -> None:
    # Excel's "Text (Tab delimited) (*.txt)" is a table: it is read, whatever its name says.
    text = "indicator\torg\tperiod\tvalue\ncyp.cin_count\tE10000024\t2024-06-30\t512\n"
    response = store_client.post(
        "/api/submissions", headers=NOTTS, files={"file": ("figures.txt", text.encode(), "text/plain")}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("mode", ["default", "dry_run"])
@pytest.mark.parametrize(
    ("name", "data"),
    [("notes.txt", b"Figures for the committee as discussed\n"), ("f.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 64)],
)
def test_an_unsupported_file_type_is_415(store_client: TestClient, mode: str, name: str, data: bytes) -> None:
    response = store_client.post(
        "/api/submissions", headers=NOTTS, files={"file": (name, data, "application/octet-stream")}, data={"mode": mode}
    )
    assert response.status_code == 415
    assert response.json()["problems"][0]["rule"] == "unsupported_file"
    assert response.json()["problems"][0]["message"].startswith(f'"{name}" is ')


def test_deeply_nested_json_is_a_clean_422_and_the_upload_ends(store_client: TestClient) -> None:
    data = b"[" * 100_000 + b"]" * 100_000
    response = store_client.post(
        "/api/submissions", headers=NOTTS, files={"file": ("f.json", data, "application/json")}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == "rejected"
    assert "nests brackets deeper than the limit of 32" in body["problems"][0]["message"]


def test_a_response_lists_the_first_1000_problems_and_report_csv_every_one(store_client: TestClient) -> None:
    # 1,500 distinct past days, so each row breaks one rule only (a future period would be a second problem).
    days = [date(2019, 1, 1) + timedelta(days=i) for i in range(1500)]
    rows = "".join(f"cyp.cin_count,E10000024,{d.isoformat()},,=HYPERLINK({i}),,,,\n" for i, d in enumerate(days))
    status, body = post_figures(store_client, NOTTS, rows)
    assert status == 422
    assert (len(body["problems"]), body["problem_count"], body["problems_truncated"]) == (1000, 1500, True)
    assert body["problems"][0]["row"] == 2
    again = store_client.get(f"/api/submissions/{body['id']}", headers=NOTTS).json()
    assert (len(again["problems"]), again["problem_count"]) == (1000, 1500)
    csv = store_client.get(f"/api/submissions/{body['id']}/report.csv", headers=NOTTS)
    assert csv.content.startswith(b"\xef\xbb\xbfrow,column,value,rule,severity,message\n")
    table = pl.read_csv(io.BytesIO(csv.content))
    assert table.height == 1500
    assert table["row"].to_list() == list(range(2, 1502))
    assert table["value"][0] == "'=HYPERLINK(0)"
