"""A deployment without the demo, from an empty store, as an operator runs it (README and docs/operations.md: Running your own deployment)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sdmx
import sdmx.source
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from api.main import create_app
from cli.commands import app as cli_app
from onereturn import db
from onereturn.settings import Settings, get_settings
from tests.live import live_server
from tests.stores import BACKENDS, PG_URL, pg_admin_url

AGENCIES_CSV = (
    "code,name,body_type,email,orgs,returns\n"
    "kent_cyp,Kent County Council Children's Services,local_authority,cyp.performance@kent.example,E10000016,"
    "county_cyp_core;dfe_ssda903;dfe_cin_census\n"
    "ons,Office for National Statistics,ons,,type:upper_tier_la,county_cyp_core\n"
)
HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"


@pytest.fixture(params=BACKENDS)
def empty_store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Environment for a fresh deployment with ONERETURN_LOAD_DEMO=false; yields its database URL."""
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("ONERETURN_LOAD_DEMO", "false")
    name = f"onereturn_{PG_URL.rsplit('/', 1)[-1] or 'test'}_deploy_{os.getpid()}"
    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'var' / 'onereturn.sqlite3'}"
        monkeypatch.delenv("ONERETURN_DATABASE_URL", raising=False)
    else:
        admin = db.make_engine(pg_admin_url("postgres")).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {name}"))
        url = pg_admin_url(name)
        monkeypatch.setenv("ONERETURN_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        yield url
    finally:
        get_settings.cache_clear()
        engine = db._engines.pop(url, None)
        if engine is not None:
            engine.dispose()
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()


def cli(*args: str) -> str:
    """Run one command as an operator would; return what it printed on stdout."""
    result = CliRunner().invoke(cli_app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


@pytest.mark.usefixtures("empty_store")
def test_a_deployment_without_the_demo(tmp_path: Path) -> None:
    # 1. The operator imports the agencies from one spreadsheet.
    sheet = tmp_path / "agencies.csv"
    sheet.write_text(AGENCIES_CSV, encoding="utf-8")
    cli("agencies", "import", str(sheet))
    assert "kent_cyp" in cli("agencies", "list")
    # 2. ... and creates the officer's key with the command line: printed once, on its own line.
    officer_key = cli("keys", "create", "--role", "officer", "--label", "Kent performance officer").strip()
    assert officer_key.startswith("or_")
    assert len(officer_key) > 40

    engine: Engine = db.get_engine()
    api = TestClient(create_app(Settings(), engine=engine))
    officer = {"X-API-Key": officer_key}
    # No demo: the published demo keys do not exist here.
    assert api.get("/api/agencies", headers={"X-API-Key": "demo-officer-5e0b9c2a4f"}).status_code == 401
    assert [a["code"] for a in api.get("/api/agencies", headers=officer).json()["items"]] == ["kent_cyp", "ons"]

    # 3. The officer issues the agency's key and the regulator's key over the API.
    issued = api.post("/api/keys", headers=officer, json={"role": "agency", "agency": "kent_cyp", "label": "Kent CYP"})
    assert issued.status_code == 201, issued.text
    agency = {"X-API-Key": issued.json()["key"]}
    agency_prefix = issued.json()["prefix"]
    regulator_key = api.post(
        "/api/keys",
        headers=officer,
        json={"role": "regulator", "recipient": "Department for Education", "label": "DfE statistics"},
    ).json()["key"]
    regulator = {"X-API-Key": regulator_key}
    assert all("key" not in k for k in api.get("/api/keys", headers=officer).json()["items"])

    # 4. The agency uploads a figure with its key.
    row = "cyp.cin_count,E10000016,2025-03-31,,4321,,,,\n"
    files = {"file": ("kent.csv", (HEADER + row).encode(), "text/csv")}
    upload = api.post("/api/submissions", headers=agency, files=files)
    assert upload.status_code == 201, upload.text
    submission_id = upload.json()["id"]

    # 5. Until the council signs it off, the regulator's pull holds the figure back and says why.
    held = api.get("/api/returns/dfe_cin_census/FY2024-25.json", headers=regulator)
    assert held.status_code == 200, held.text
    assert "4321" not in held.text
    assert "not yet signed off by Kent County Council" in held.text
    # 6. The operator signs off the figures collected so far, naming who vouches for them.
    signed = cli("signoffs", "sign-all", "--as", "Kent CYP performance lead")
    assert ["kent_cyp", "dfe_cin_census", "FY2024-25"] in [line.split() for line in signed.splitlines()]
    listed = cli("signoffs", "list", "--return", "dfe_cin_census", "--state", "signed_off")
    assert "kent_cyp" in listed
    assert "Kent CYP performance lead" in listed
    # 7. The regulator pulls its return and finds the figure in it.
    pulled = api.get("/api/returns/dfe_cin_census/FY2024-25.json", params={"fresh": "true"}, headers=regulator)
    assert pulled.status_code == 200, pulled.text
    assert "4321" in pulled.text
    # ... and its statistical software reads the same figure over SDMX REST with sdmx1, no custom code.
    with live_server(create_app(Settings(), engine=engine)) as url:
        sdmx.add_source({"id": "ONERETURN", "url": f"{url}/sdmx", "name": "onereturn"}, override=True)
        try:
            client = sdmx.Client("ONERETURN")
            client.session.headers.update(regulator)
            assert "DF_DFE_CIN_CENSUS" in client.dataflow().dataflow
            data = client.data(
                "DF_DFE_CIN_CENSUS", key=".E10000016.", params={"startPeriod": "FY2024-25", "endPeriod": "FY2024-25"}
            )
            assert 4321.0 in {float(o.value) for o in data.data[0].obs}
        finally:
            sdmx.source.sources.pop("ONERETURN", None)

    # 8. The agency's key is revoked and is refused at once.
    assert api.post(f"/api/keys/{agency_prefix}/revoke", headers=officer).status_code == 200
    files = {"file": ("kent.csv", (HEADER + row).encode(), "text/csv")}
    refused = api.post("/api/submissions", headers=agency, files=files)
    assert refused.status_code == 401

    # 9. All of it is in the audit trail, over the API and on the command line.
    trail = api.get("/api/audit", headers=officer, params={"limit": 1000}).json()["items"]
    seen = [(e["action"], e["outcome"]) for e in reversed(trail)]
    expected = [
        ("agency.import", "ok"),
        ("key.create", "ok"),
        ("key.create", "ok"),
        ("key.create", "ok"),
        ("submission.upload", "ok"),
        ("return.pull", "ok"),  # held back: not yet signed off
        ("signoff.sign_all", "ok"),
        ("return.pull", "ok"),
        ("return.pull", "ok"),  # the same return over SDMX REST
        ("key.revoke", "ok"),
        ("submission.upload", "refused"),
    ]
    assert [s for s in seen if s in expected] == expected
    uploads = [e for e in trail if e["action"] == "submission.upload"]
    assert uploads[-1]["key_prefix"] == agency_prefix
    assert f"submission {submission_id}" in uploads[-1]["object"]
    assert uploads[-1]["principal"].startswith("agency kent_cyp")
    assert uploads[0]["principal"].startswith("revoked key")
    assert uploads[0]["key_prefix"] == agency_prefix
    printed = cli("audit", "--action", "submission", "--limit", "10")
    assert "refused" in printed
    assert f"submission {submission_id}" in printed
