"""Record-level uploads through POST /api/submissions: 202 at once, DfE's own findings, nothing of a child in clear."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect
from sqlmodel import Session, col, select

from collectors.records.contract import run_rules
from collectors.records.models import RecordChild, RecordLineage
from indicators.models import Observation

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "records"
TABLES_903 = sorted((FIXTURES / "ssda903_subset").glob("*.csv"))
CIN_2024 = FIXTURES / "cin" / "CIN_Census_2024.xml"
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
NOTTS_LA = "E10000024"


def upload(client: TestClient, paths: list[Path], year: str = "2024-25", headers: dict[str, str] = NOTTS) -> Any:
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    return client.post("/api/submissions", headers=headers, data={"collection_year": year}, files=files)


def findings(client: TestClient, sid: int) -> list[dict[str, Any]]:
    """Every finding of the council's own record-level report, page by page."""
    items: list[dict[str, Any]] = []
    while True:
        page = client.get(f"/api/submissions/{sid}/records", headers=NOTTS, params={"offset": len(items)}).json()
        items += page["items"]
        if not page["items"] or len(items) >= page["total"]:
            return items


def child_ids(paths: list[Path]) -> set[str]:
    """Every CHILD (or LAchildID) value in the files, read as plain text."""
    import csv
    import re

    found: set[str] = set()
    for path in paths:
        if path.suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                found |= {r["CHILD"] for r in csv.DictReader(handle) if r.get("CHILD")}
        else:
            found |= set(re.findall(r"<(?:LAchildID|CHILDID)>([^<]+)<", path.read_text(errors="replace")))
    return found


def every_text(engine: Engine) -> Iterator[str]:
    """Every text value in every table of the store."""
    tables = inspect(engine).get_table_names()
    with engine.connect() as connection:
        for table in tables:
            for row in connection.exec_driver_sql(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, str | bytes):
                        yield value if isinstance(value, str) else value.decode("latin-1")


def assert_no_child_in_clear(engine: Engine, data_dir: Path, ids: set[str]) -> None:
    # Long enough to be a child's id and not a code or count that happens to match.
    ids = {i for i in ids if len(i) >= 5}
    assert ids
    leaks = {i for text in every_text(engine) for i in ids if i in text}
    assert not leaks, f"child ids in clear in the store: {sorted(leaks)[:5]}"
    for path in data_dir.rglob("*"):
        if path.is_file() and not path.name.endswith(".sqlite3") and "sqlite3-" not in path.name:
            content = path.read_bytes().decode("latin-1")
            assert not [i for i in ids if i in content], f"child ids in clear in {path}"


def test_the_fake_903_tables_report_exactly_what_dfes_rules_find(
    store: Engine, store_client: TestClient, store_settings: Any
) -> None:
    answer = upload(store_client, TABLES_903)
    assert answer.status_code == 202, answer.text
    sid = answer.json()["id"]
    assert answer.headers["location"] == f"/api/submissions/{sid}"
    assert answer.json()["stage"] == "received"
    report = store_client.get(f"/api/submissions/{sid}", headers=NOTTS).json()
    assert (report["status"], report["stage"], report["kind"]) == ("rejected", "rejected", "records")
    direct = run_rules("903", "lac2024_25", [(p.name, p) for p in TABLES_903], local_authority=NOTTS_LA)
    expected = {(f"dfe:{f.rule}", f.child, f.table, f.row) for f in direct.findings}
    items = findings(store_client, sid)
    assert len(items) == len(direct.findings)
    assert {(f["rule"], f["child"], f["table"], f["row"]) for f in items} == expected
    assert report["error_count"] == len(direct.findings)
    named = {p["rule"] for p in report["problems"]}
    assert {f"dfe:{n.rule}" for n in (*direct.rules_raised, *direct.rules_skipped)} <= named
    with Session(store) as session:
        assert session.exec(select(Observation).where(col(Observation.submission_id) == sid)).first() is None
        assert session.exec(select(RecordLineage).where(col(RecordLineage.submission_id) == sid)).first() is None
        sealed = session.exec(select(RecordChild).where(col(RecordChild.submission_id) == sid)).all()
    assert len(sealed) == len({f.child for f in direct.findings if f.child})
    assert_no_child_in_clear(store, store_settings.data_dir, child_ids(TABLES_903))


def test_only_the_uploading_council_reads_its_findings_by_child(store_client: TestClient) -> None:
    sid = upload(store_client, TABLES_903).json()["id"]
    assert store_client.get(f"/api/submissions/{sid}/records", headers=NOTTS).status_code == 200
    assert store_client.get(f"/api/submissions/{sid}/records", headers=OFFICER).status_code == 403
    assert store_client.get(f"/api/submissions/{sid}/records", headers=DFE).status_code == 403
    assert store_client.get(f"/api/submissions/{sid}/records", headers=LEWISHAM).status_code == 404
    # The officer sees the counts and the report without any child.
    seen = store_client.get(f"/api/submissions/{sid}", headers=OFFICER).json()
    assert seen["error_count"] > 0
    assert not child_ids(TABLES_903) & {str(v) for p in seen["problems"] for v in p.values()}
    trail = store_client.get("/api/audit", headers=OFFICER, params={"action": "records.read"}).json()
    assert any(e["object"].endswith(str(sid)) for e in trail["items"]), trail


def test_a_repeat_is_answered_as_the_earlier_upload(store_client: TestClient) -> None:
    first = upload(store_client, TABLES_903).json()["id"]
    again = upload(store_client, list(reversed(TABLES_903)))
    assert again.status_code == 200
    assert (again.json()["id"], again.json()["duplicate"]) == (first, True)
