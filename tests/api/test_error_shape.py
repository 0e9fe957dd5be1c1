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
