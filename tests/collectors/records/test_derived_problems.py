"""A problem the catalogue's rules find on a figure derived from a council's records names that figure (indicator,
area, period), not a row: no row of the council's files holds a derived figure."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from collectors.checks.crosscheck import PROBLEM_SCHEMA
from collectors.checks.typed import named_by_figure
from indicators.store.models import Observation
from tests.collectors.records.samples import PASSING, upload

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}


def test_a_query_on_a_derived_figure_names_the_figure_and_no_row(
    store: Engine, store_client: TestClient, tmp_path: Path
) -> None:
    first = upload(store_client, PASSING)
    assert first.status_code == 202, first.text
    assert store_client.get(f"/api/submissions/{first.json()['id']}", headers=NOTTS).json()["status"] == "accepted"
    # The council's count of looked-after children stood at 100 before: the files' 2 is a jump the rules query.
    with Session(store) as session:
        session.execute(
            update(Observation)
            .where(col(Observation.indicator_id) == "cyp.lac_count", col(Observation.is_current))
            .values(value=100.0)
        )
        session.commit()
    # The same records sent again with Windows line ends: other bytes, so a new upload, with the same figures.
    again = []
    for path in PASSING:
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
        again.append(copy)
    answer = upload(store_client, again)
    assert answer.status_code == 202, answer.text
    report = store_client.get(f"/api/submissions/{answer.json()['id']}", headers=NOTTS).json()
    queries = [p for p in report["problems"] if p["severity"] == "query"]
    assert queries, report["problems"]
    (jump,) = [p for p in queries if p["message"].startswith("cyp.lac_count for E10000024, 2025-03-31, total: ")]
    assert jump["row"] is None
    assert "100" in jump["message"]


def test_a_derived_figure_is_stored_with_no_file_row(store: Engine, store_client: TestClient) -> None:
    answer = upload(store_client, PASSING)
    assert answer.status_code == 202, answer.text
    sid = answer.json()["id"]
    assert store_client.get(f"/api/submissions/{sid}", headers=NOTTS).json()["status"] == "accepted"
    with Session(store) as session:
        rows = session.exec(select(Observation.file_row).where(col(Observation.submission_id) == sid)).all()
    # Its provenance names the upload alone: no row of the council's files holds a count of its children.
    assert rows
    assert set(rows) == {None}


def test_another_figure_a_message_names_is_named_too() -> None:
    figures = pl.DataFrame(
        {
            "file_row": [1, 2],
            "indicator_id": ["cyp.part", "cyp.whole"],
            "org_code": ["E1", "E1"],
            "period": ["FY2024-25", "FY2024-25"],
            "breakdown": ["", "sex:F"],
        }
    )
    problems = pl.DataFrame(
        {
            "row": [1, None],
            "column": ["value", None],
            "value": ["9", None],
            "rule": ["part-within-whole", "note"],
            "severity": ["error", "information"],
            "message": ["9 is above the whole 5 (row 2)", "a note on the upload"],
        },
        schema=PROBLEM_SCHEMA,
    )
    named = named_by_figure(problems, figures).to_dicts()
    assert named[0]["row"] is None
    assert named[0]["message"] == (
        "cyp.part for E1, FY2024-25, total: 9 is above the whole 5 (cyp.whole for E1, FY2024-25, sex:F)"
    )
    assert named[1] == problems.to_dicts()[1]
