"""An attacker's pass: the edge values of periods, dates, numbers and search text in every parameter of every route
the OpenAPI document lists, one at a time, the others plausible: no 5xx, and no traceback in the log."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.throttle import KeyPace

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}

#: What an ordinary mistake or a small script sends: years past either end, a negative, a number too big for any
#: column, LIKE's wildcards, and far more text than any field takes.
#: (Every way of writing a period at every edge, in the period and date parameters alone: test_period_edges.py.)
EDGES = (
    "FY9999-00",
    "0000-01",
    "9999-12-31",
    "0001-01-01T00:00:00",
    "-1",
    "99999999999999999999",
    "%",
    "x" * 60_000,
)

#: A plausible value for each parameter, so each request reaches past the others to the one being varied.
PLAUSIBLE = {
    "return_id": "dfe_ssda903",
    "period": "FY2024-25",
    "period_file": "FY2024-25.csv",
    "code": "notts_cyp",
    "agency": "notts_cyp",
    "indicator_id": "cyp.lac_count",
    "indicator": "cyp.lac_count",
    "org": "E10000024",
    "flow_ref": "DF_DFE_SSDA903",
    "agency_id": "ONERETURN",
    "resource_id": "all",
    "version": "latest",
    "key": "all",
    "provider_ref": "all",
    "collection_year": "2024-25",
    "file": "cin_census.xml",
    "inspection_date": "2025-03-31",
    "since": "2025-01-01T00:00:00",
    "as_of": "2025-03-31",
    "prefix": "demo-lewisham-co",
}


def _default(param: dict[str, Any]) -> str:
    if param["name"] in PLAUSIBLE:
        return PLAUSIBLE[param["name"]]
    return "1" if param.get("schema", {}).get("type") == "integer" else "x"


def _requests(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """Each (method, url, query, what) of the pass: every parameter of every operation at every edge."""
    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            params = [p for p in op.get("parameters", []) if p["in"] in ("path", "query")]
            required = {p["name"]: _default(p) for p in params if p.get("required")}
            for param in params:
                for edge in EDGES:
                    values = {**required, param["name"]: edge}
                    url = path
                    for p in params:
                        if p["in"] == "path":
                            url = url.replace("{" + p["name"] + "}", quote(values[p["name"]], safe=""))
                    query = {p["name"]: values[p["name"]] for p in params if p["in"] == "query" and p["name"] in values}
                    out.append((method.upper(), url, query, f"{method.upper()} {path} {param['name']}={edge[:20]!r}"))
    return out


def test_no_edge_value_in_any_parameter_of_any_route_is_a_5xx_or_a_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.app.state.key_pace = KeyPace(limit=10**9)  # type: ignore[attr-defined]
    sent = _requests(client.get("/openapi.json").json())
    assert len(sent) > 1000, "every route's parameters"
    failed = []
    with caplog.at_level(logging.WARNING):
        for method, url, query, what in sent:
            response = client.request(method, url, params=query, headers=OFFICER)
            if response.status_code >= 500 or "Traceback" in response.text:
                failed.append(f"{what}: {response.status_code} {response.text[:200]}")
    assert not failed, "\n".join(failed[:30])
    tracebacks = [f"{r.name}: {r.getMessage()[:200]}" for r in caplog.records if r.exc_info]
    assert not tracebacks, tracebacks[:10]
