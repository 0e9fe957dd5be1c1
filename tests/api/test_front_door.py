"""The front door: read scopes, strict and bounded requests, HTTP hygiene, request ids and clean logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from api.main import create_app
from api.principal import Principal
from api.scopes import READERS, read_scope
from collectors.figures.service import submit
from indicators.store.models import Submission
from onereturn.errors import Forbidden, NotFound
from onereturn.settings import Settings
from tests.helpers import assert_canonical_error

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
NDTMS = {"X-API-Key": "demo-regulator-ohid-c4d91f60"}
HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"


def principal(kind: str, agency: str | None = None, recipient: str | None = None) -> Principal:
    """Make a principal as a key would give it."""
    return Principal(1, kind, agency, recipient, frozenset(), "test")


def plant(engine: Engine, settings: Settings, agency: str, row: str) -> int:
    """Upload one row for an agency and return the submission id."""
    outcome = submit(
        engine, settings, agency_code=agency, filename=f"{agency}.csv", data=(HEADER + row + "\n").encode()
    )
    assert outcome.submission is not None
    assert outcome.submission.id is not None
    return outcome.submission.id


# ---- read scopes ---------------------------------------------------------------------------


def test_read_scope_table() -> None:
    officer = read_scope(principal("officer"))
    agency = read_scope(principal("agency", "notts_cyp"))
    regulator = read_scope(principal("regulator", recipient="Department for Education"))
    assert officer.resources == frozenset(READERS)
    assert agency.resources == {"figures", "submissions", "agencies", "templates", "calendar", "outbox", "signoffs"}
    assert regulator.resources == {"returns", "signoffs"}
    assert agency.agency == "notts_cyp"
    assert officer.agency is None
    assert regulator.reads_return("Department for Education")
    assert not regulator.reads_return("Public Health England / OHID (NDTMS)")
    assert officer.reads_return("anyone")
    assert not agency.reads_return("Department for Education")
    with pytest.raises(Forbidden, match="cannot read figures"):
        regulator.require("figures")
    with pytest.raises(Forbidden, match="cannot read burden"):
        regulator.require("burden")
    with pytest.raises(NotFound):
        agency.check_agency("lewisham_council")
    agency.check_agency("notts_cyp")


def test_keys_without_their_body_read_nothing() -> None:
    # A regulator key naming no recipient reads no return, rather than every return.
    assert not read_scope(principal("regulator")).reads_return("Department for Education")
    # An agency key naming no agency reads nothing, rather than every agency's objects.
    assert read_scope(principal("agency")).resources == frozenset()
    assert read_scope(principal("stranger")).resources == frozenset()


@pytest.mark.parametrize("headers", [DFE, NDTMS])
@pytest.mark.parametrize(
    "path",
    [
        "/api/figures",
        "/api/figures?indicator=cyp.lac_count&period=FY2024-25&level=region",
        "/api/burden?period=FY2024-25",
    ],
)
def test_regulators_read_no_raw_figures_and_no_burden(
    store_client: TestClient, headers: dict[str, str], path: str
) -> None:
    response = store_client.get(path, headers=headers)
    assert response.status_code == 403
    assert_canonical_error(response.json(), 403)


def test_agency_reads_only_the_figures_it_uploaded(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    own = plant(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    # A reference figure about the agency's own area, uploaded by another body: not the agency's to read.
    plant(store, store_settings, "ons", "pop.resident_0_17,E10000024,CY2023,,170000,,,,")
    plant(store, store_settings, "lewisham_council", "cyp.lac_count,E09000023,2025-03-31,,480,,,,")
    mine = store_client.get("/api/figures", headers=NOTTS).json()
    assert [(f["indicator"], f["submission_id"], f["agency_code"]) for f in mine["items"]] == [
        ("cyp.lac_count", own, "notts_cyp")
    ]
    assert mine["total"] == 1
    assert store_client.get("/api/figures", params={"agency": "notts_cyp"}, headers=NOTTS).json()["total"] == 1
    other = store_client.get("/api/figures", params={"agency": "lewisham_council"}, headers=NOTTS)
    assert other.status_code == 404
    assert_canonical_error(other.json(), 404)


def test_the_agency_filter_works(store: Engine, store_settings: Settings, store_client: TestClient) -> None:
    plant(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,1100,,,,")
    plant(store, store_settings, "lewisham_council", "cyp.lac_count,E09000023,2025-03-31,,480,,,,")
    everyone = store_client.get("/api/figures", headers=OFFICER).json()
    assert {f["agency_code"] for f in everyone["items"]} == {"notts_cyp", "lewisham_council"}
    lewisham = store_client.get("/api/figures", params={"agency": "lewisham_council"}, headers=OFFICER).json()
    assert [(f["org"], f["agency_code"]) for f in lewisham["items"]] == [("E09000023", "lewisham_council")]
    spelled = store_client.get("/api/figures", params={"period": "31/03/2025"}, headers=OFFICER).json()
    assert spelled["total"] == 2, "a period filter reads any spelling of the period"
    assert store_client.get("/api/figures", params={"period": "someday"}, headers=OFFICER).status_code == 422
    refused = store_client.get(
        "/api/figures",
        params={"agency": "notts_cyp", "indicator": "x", "period": "CY2023", "level": "region"},
        headers=OFFICER,
    )
    assert refused.status_code == 422


def test_an_agency_asking_for_another_agencys_calendar_is_refused(store_client: TestClient) -> None:
    window = {"from": "2025-04-01", "to": "2025-06-30"}
    assert store_client.get("/api/calendar", params=window | {"agency": "notts_cyp"}, headers=NOTTS).status_code == 200
    other = store_client.get("/api/calendar", params=window | {"agency": "lewisham_council"}, headers=NOTTS)
    assert other.status_code == 404
    own = store_client.get("/api/calendar", params=window, headers=NOTTS).json()
    assert {a for row in own["items"] for a in row["agencies"]} <= {"notts_cyp"}


# ---- strict and bounded requests -----------------------------------------------------------


def submissions(engine: Engine) -> int:
    """Count stored submissions."""
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(Submission)).scalar_one())


def test_mode_in_the_query_instead_of_the_form_stores_nothing(store: Engine, store_client: TestClient) -> None:
    files = {"file": ("f.csv", (HEADER + "cyp.lac_count,E10000024,2025-03-31,,1100,,,,\n").encode(), "text/csv")}
    response = store_client.post("/api/submissions?mode=dry_run", headers=NOTTS, files=files)
    assert response.status_code == 422
    body = response.json()
    assert_canonical_error(body, 422)
    assert body["errors"][0]["loc"] == ["query", "mode"]
    assert "'mode'" in body["error"]
    assert "form field" in body["error"]
    assert submissions(store) == 0


def test_an_unknown_form_field_is_refused(store: Engine, store_client: TestClient) -> None:
    files = {"file": ("f.csv", (HEADER + "cyp.lac_count,E10000024,2025-03-31,,1100,,,,\n").encode(), "text/csv")}
    response = store_client.post("/api/submissions", headers=NOTTS, files=files, data={"mdoe": "dry_run"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "mdoe"]
    assert "mode" in response.json()["error"], "names what was expected"
    assert submissions(store) == 0
    ok = store_client.post("/api/submissions", headers=NOTTS, files=files, data={"mode": "dry_run"})
    assert ok.status_code == 200
    assert submissions(store) == 0


def test_every_route_refuses_a_parameter_it_does_not_declare(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    tried = 0
    for path, item in paths.items():
        url = path.replace("{", "").replace("}", "")  # any value: the parameter is refused first
        for method in item:
            if method != "get":
                continue
            response = client.get(url, params={"updated_since": "2030-01-01"}, headers=OFFICER)
            assert response.status_code == 422, (path, response.text)
            assert "updated_since" in response.json()["error"]
            tried += 1
    assert tried == sum(1 for item in paths.values() if "get" in item)


def test_a_missing_key_is_still_401_before_an_unknown_parameter(client: TestClient) -> None:
    assert client.get("/api/figures", params={"updated_since": "2030-01-01"}).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/api/exports/69551772009011531384619008",
        "/api/exports/2147483648/lineage",
        "/api/submissions/2147483648",
        "/api/submissions/0/report.csv",
        "/api/figures?offset=80286855940797087744",
        "/api/indicators?offset=2147483648",
        "/api/orgs?offset=-1",
        "/api/exports/1/lineage?offset=99999999999999999999",
    ],
)
def test_huge_numbers_are_422_not_500(client: TestClient, path: str) -> None:
    response = client.get(path, headers=OFFICER)
    assert response.status_code == 422
    assert_canonical_error(response.json(), 422)


def test_the_largest_id_is_a_plain_404(client: TestClient) -> None:
    assert client.get("/api/submissions/2147483647", headers=OFFICER).status_code == 404
    assert client.get("/api/exports/2147483647", headers=OFFICER).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        {"to": "6514-12-14"},
        {"from": "6514-12-14"},
        {"from": "2025-01-01", "to": "2031-01-02"},
        {"from": "2025-06-01", "to": "2025-01-01"},
        {"from": "0001-01-01", "to": "0002-01-01"},
        {"from": "1"},  # a bare number is not a date
    ],
)
@pytest.mark.parametrize("path", ["/api/calendar", "/api/calendar.ics", "/api/calendar/clashes"])
def test_calendar_windows_are_bounded(client: TestClient, path: str, query: dict[str, str]) -> None:
    response = client.get(path, params=query, headers=OFFICER)
    assert response.status_code == 422
    assert_canonical_error(response.json(), 422)


def test_a_five_year_window_is_served(client: TestClient) -> None:
    response = client.get("/api/calendar.ics", params={"from": "2025-01-01", "to": "2029-12-31"})
    assert response.status_code == 200
    assert response.text.count("BEGIN:VEVENT") > 100


def test_a_number_is_not_read_as_a_date(client: TestClient) -> None:
    assert client.get("/api/orgs", params={"on": "0.0"}).status_code == 422
    assert client.get("/api/figures", params={"updated_after": "0.5"}, headers=OFFICER).status_code == 422
    assert client.get("/api/figures", params={"as_of": "2025-04-01T09:00:00Z"}, headers=OFFICER).status_code == 200
    assert client.get("/api/orgs", params={"on": "2024-04-01", "limit": 1}).status_code == 200


# ---- OpenAPI: every status, one error shape ------------------------------------------------


def test_openapi_documents_every_error_in_the_one_shape(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert "422" in responses, (method, path)
            if operation.get("security"):
                assert {"401", "403", "429"} <= set(responses), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            for code, entry in responses.items():
                if int(code) >= 400:
                    content = json.dumps(entry["content"]["application/json"]["schema"])
                    assert "#/components/schemas/Error" in content, (method, path, code)
    upload = schema["paths"]["/api/submissions"]["post"]["responses"]
    assert {"400", "401", "403", "404", "413", "415", "422"} <= set(upload)


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    response = client.delete("/api/submissions", headers=OFFICER)
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}


# ---- HTTP hygiene --------------------------------------------------------------------------


def test_security_headers_on_every_kind_of_response(client: TestClient) -> None:
    for response in (
        client.get("/health"),
        client.get("/api/no/such/route"),
        client.get("/api/figures"),
        client.get("/api/calendar.ics"),
        client.get("/openapi.json"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers
        assert response.headers["x-request-id"]


def test_keyed_responses_are_not_stored(client: TestClient) -> None:
    assert client.get("/api/submissions", headers=NOTTS).headers["cache-control"] == "no-store"
    assert client.get("/api/indicators", headers=NOTTS).headers["cache-control"] == "no-store"
    assert (
        client.get("/api/figures", headers={"X-API-Key": "wrong-key-000000000"}).headers["cache-control"] == "no-store"
    )
    assert "cache-control" not in client.get("/api/indicators").headers


def test_hsts_only_behind_tls(engine: Engine, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, behind_tls=True), engine=engine)
    with TestClient(app) as tls:
        assert tls.get("/health").headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"


def test_error_bodies_carry_the_request_id(client: TestClient) -> None:
    response = client.get("/api/submissions/1", headers={"X-Request-Id": "abc-123-def-456"})
    assert response.status_code == 401
    assert response.json()["request_id"] == "abc-123-def-456" == response.headers["x-request-id"]
    unsafe = client.get("/api/submissions/1", headers={"X-Request-Id": "<script>"})
    assert unsafe.json()["request_id"] == unsafe.headers["x-request-id"] != "<script>"
    first, second = client.get("/api/nowhere"), client.get("/api/nowhere")
    assert first.json()["request_id"] != second.json()["request_id"]


@pytest.fixture
def json_logs() -> Iterator[Any]:
    """Configure the service's JSON logging for the test, and give back a reader of its lines."""
    from onereturn.logs import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging(as_json=True)
    buffer = io.StringIO()
    (handler,) = [h for h in root.handlers if type(h) is logging.StreamHandler]
    handler.setStream(buffer)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line.startswith("{")]

    yield lines
    root.handlers, root.level = saved[0], saved[1]


def test_logs_carry_the_request_id_and_never_the_key(engine: Engine, tmp_path: Path, json_logs: Any) -> None:
    app = create_app(Settings(data_dir=tmp_path), engine=engine)
    key = NOTTS["X-API-Key"]

    @app.get("/api/careless")
    def careless() -> None:
        logging.getLogger("careless").info("called with %s", key)
        raise RuntimeError(f"failed for key {key}")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/api/careless", headers=NOTTS | {"X-Request-Id": "req-0000-1111"})
    assert response.status_code == 500
    assert response.json()["request_id"] == "req-0000-1111"
    assert response.headers["x-content-type-options"] == "nosniff"
    logged = json_logs()
    mine = [line for line in logged if line["request_id"] == "req-0000-1111"]
    assert {line["logger"] for line in mine} >= {"careless", "api.errors"}
    text = json.dumps(logged)
    assert key not in text
    assert "called with [redacted]" in text
    assert "failed for key [redacted]" in text, "the traceback is logged, cleaned"


def test_405_on_a_concrete_path_lists_only_its_methods(client: TestClient) -> None:
    # /api/agencies/import also matches /api/agencies/{code}; the concrete path's methods are the answer.
    response = client.delete("/api/agencies/import", headers=OFFICER)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_an_empty_agency_or_recipient_on_a_new_key_means_none(store_client: TestClient) -> None:
    # Found by schemathesis: "" was stored as an agency code and broke the foreign key (500).
    body = {"role": "officer", "label": "second officer", "agency": "", "recipient": ""}
    response = store_client.post("/api/keys", json=body, headers=OFFICER)
    assert response.status_code == 201, response.text
    issued = response.json()
    assert store_client.get("/api/figures", headers={"X-API-Key": issued["key"]}).status_code == 200
