"""A SEN2 file's figures as a stage of the door, and a council that owes only SEN2: on SQLite and PostgreSQL.

The fault is injected at the database: a trigger refuses every new row of the figure store, as a full disk or a
broken constraint would, while the SEN2 file itself is read, checked and kept as ever.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from collectors import ways_in
from collectors.records.receiving import Received
from indicators.store.models import Observation, Submission
from onereturn.settings import Settings, get_settings
from tests.collectors.sen2.test_sen2_figures import BY_HAND, NOTTS, _send
from tests.collectors.sen2.test_sen2_tables import hand_worked

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}


def _refuse_figures(store: Engine) -> None:
    """Make the store refuse every new figure (a row of ``observation``) until :func:`_mend` drops the trigger."""
    with store.begin() as connection:
        if store.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_figures() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'the figure store is refusing rows'; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_figures BEFORE INSERT ON observation "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_figures()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_figures BEFORE INSERT ON observation "
                    "BEGIN SELECT RAISE(ABORT, 'the figure store is refusing rows'); END"
                )
            )


def _mend(store: Engine) -> None:
    with store.begin() as connection:
        on = " ON observation" if store.dialect.name == "postgresql" else ""
        connection.execute(text(f"DROP TRIGGER refuse_figures{on}"))


def _sen2_figures(store: Engine) -> dict[tuple[str, str], float | None]:
    with Session(store) as session:
        return {
            (o.indicator_id, o.period): o.value
            for o in session.exec(
                select(Observation).where(
                    col(Observation.org_code) == "E10000024",
                    col(Observation.indicator_id).startswith("send."),
                    col(Observation.is_current),
                )
            )
        }


def test_a_sen2_file_whose_figures_fail_to_store_ends_failed_and_reprocess_stores_them(
    store_client: TestClient, store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_figures(store)
    sent = _send(store_client, NOTTS)
    # The file is kept; its figures are not: the answer is the failed upload, not a server error.
    assert sent.status_code == 202, sent.text
    body = sent.json()
    number = body["id"]
    assert body["status"] == "failed", body
    assert f"onereturn submissions reprocess {number}" in body["message"]
    assert "8 child(ren) checked against its schema and rules and kept" in body["message"]
    assert "its figures could not be stored (the database refused the figures" in body["message"]
    assert sent.headers["Location"] == f"/api/submissions/{number}"
    assert _sen2_figures(store) == {}
    # Sending it again is no repeat of a failed upload: it fails again while the store still refuses.
    again = _send(store_client, NOTTS)
    assert (again.status_code, again.json()["status"]) == (202, "failed")
    assert again.json()["id"] != number
    _mend(store)
    monkeypatch.setenv("ONERETURN_DATABASE_URL", store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(store_settings.data_dir))
    get_settings.cache_clear()
    try:
        from cli import commands as cli

        result = CliRunner().invoke(cli.app, ["submissions", "reprocess", str(number)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"Submission {number}: accepted" in result.output
    assert _sen2_figures(store) == {(i, p): float(v) for i, (v, p) in BY_HAND.items()}
    with Session(store) as session:
        done = session.get(Submission, number)
        assert done is not None
        assert (done.status, done.rows_read, done.rows_accepted) == ("accepted", 8, 8)
        assert done.finished_at is not None
        assert "7 figure(s) derived from it and stored as the council's" in done.message
    # The same file sent again now repeats the upload that stored its figures.
    repeat = _send(store_client, NOTTS)
    assert (repeat.status_code, repeat.json()["id"]) == (200, number)


def test_a_sen2_upload_cut_off_in_its_stage_is_resumed(store: Engine, store_settings: Settings) -> None:
    """An upload whose stage a stop cut off (its lease run out, still ``received``) is taken up by the resume job."""
    path = store_settings.data_dir / "sen2.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(hand_worked())
    _refuse_figures(store)
    received = ways_in.take(
        store,
        store_settings,
        ways_in.RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[("sen2.xml", path)]),
    )
    assert isinstance(received, Received)
    failed = received.submission
    assert failed.status == "failed"
    _mend(store)
    with store.begin() as connection:
        # As a stop leaves it: unfinished, its lease run out.
        connection.execute(
            text("UPDATE submission SET status = 'received', lease_until = NULL WHERE id = :id"), {"id": failed.id}
        )
    assert ways_in.resume_all(store, store_settings) == {"sen2": [failed.id]}
    with Session(store) as session:
        assert session.get(Submission, failed.id).status == "accepted"  # type: ignore[union-attr]
    assert _sen2_figures(store) == {(i, p): float(v) for i, (v, p) in BY_HAND.items()}


def test_a_council_owing_only_sen2_sends_its_file_and_gets_its_tables(store_client: TestClient) -> None:
    made = store_client.post(
        "/api/agencies",
        headers=OFFICER,
        json={
            "code": "kent_send",
            "name": "Kent SEND team",
            "body_type": "local_authority",
            "orgs": ["E10000016"],
            "returns": ["dfe_sen2"],
        },
    )
    assert made.status_code == 201, made.text
    issued = store_client.post(
        "/api/keys", headers=OFFICER, json={"role": "agency", "agency": "kent_send", "label": "SEND", "approver": True}
    )
    assert issued.status_code == 201, issued.text
    key = {"X-API-Key": issued.json()["key"]}
    sent = _send(store_client, key, b"886")
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "accepted"
    tables = store_client.get("/api/agencies/kent_send/sen2/2024-25/tables", headers=key)
    assert tables.status_code == 200, tables.text
    caseload = store_client.get("/api/agencies/kent_send/sen2/2024-25/tables/caseload.csv", headers=key)
    assert caseload.status_code == 200, caseload.text
