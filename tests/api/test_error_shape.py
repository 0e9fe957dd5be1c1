"""Every JSON error has one shape: {ok: false, status, error, errors: [{type, loc, msg, input}], request_id}."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.helpers import assert_canonical_error


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/indicators/nope.nothing", {}, 404),  # domain error
        ("/api/orgs/E99999999", {}, 404),  # domain error
        ("/api/indicators", {"limit": "many"}, 422),  # request validation
        ("/api/indicators", {"statistic": "median"}, 422),  # request validation (enum)
        ("/api/orgs", {"type": "parish"}, 422),  # domain validation
        ("/api/no/such/route", {}, 404),  # routing
    ],
)
def test_error_shape(client: TestClient, path: str, params: dict[str, str], status: int) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    assert_canonical_error(response.json(), status)


def test_method_not_allowed_has_the_shape(client: TestClient) -> None:
    response = client.delete("/api/indicators")
    assert response.status_code == 405
    assert_canonical_error(response.json(), 405)


def test_validation_error_keeps_fastapi_items(client: TestClient) -> None:
    body = client.get("/api/indicators", params={"limit": "many"}).json()
    assert body["errors"][0]["loc"] == ["query", "limit"]
    assert body["errors"][0]["input"] == "many"


OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}


def test_a_2_mb_field_is_not_echoed_back(client: TestClient) -> None:
    reason = "R" * 2_000_000
    response = client.post(
        "/api/signoffs/notts_cyp/dfe_ssda903/FY2024-25/return", headers=OFFICER, json={"reason": reason}
    )
    assert response.status_code == 422
    assert_canonical_error(response.json(), 422)
    assert len(response.content) < 5_000
    (item,) = response.json()["errors"]
    assert item["loc"] == ["body", "reason"]
    assert item["input"].endswith("(2,000,000 characters in all)")


def test_a_huge_body_of_the_wrong_shape_is_not_echoed_back(client: TestClient) -> None:
    # A JSON array of 50,000 objects where one object is wanted: its input would be megabytes.
    response = client.post(
        "/api/signoffs/notts_cyp/dfe_ssda903/FY2024-25/return", headers=OFFICER, json=[{"reason": "x" * 50}] * 50_000
    )
    assert response.status_code == 422
    assert_canonical_error(response.json(), 422)
    assert len(response.content) < 5_000


def test_many_validation_errors_name_a_few_and_count_the_rest() -> None:
    import asyncio
    import json

    from fastapi.exceptions import RequestValidationError

    from api.errors import ITEMS, _validation

    errors = [
        {"type": "missing", "loc": ("body", f"field{i}"), "msg": "Field required", "input": None} for i in range(50_000)
    ]
    response = asyncio.run(_validation(None, RequestValidationError(errors)))  # type: ignore[arg-type]
    body = json.loads(bytes(response.body))
    assert len(response.body) < 10_000
    assert len(body["errors"]) == ITEMS
    assert body["error"].startswith("body.field0: Field required; body.field1: Field required;")
    assert "; and 49,995 more (50,000 errors; the first 20 are listed)" in body["error"]
