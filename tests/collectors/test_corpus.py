"""Every file in the bad-input corpus gets its expected answer: stored, or a clean 4xx report naming why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_file() and not p.name.endswith((".expected.json", ".md")))
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}


def test_every_case_has_its_expected_answer() -> None:
    assert CASES
    for case in CASES:
        assert case.with_name(case.name + ".expected.json").is_file(), case.name


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(store_client: TestClient, case: Path) -> None:
    expected = json.loads(case.with_name(case.name + ".expected.json").read_text())
    response = store_client.post(
        "/api/submissions",
        headers=OFFICER,
        files={"file": (case.name, case.read_bytes(), "application/octet-stream")},
        data={"agency": "notts_cyp"},
    )
    body = response.json()
    assert response.status_code == expected["status"], body
    if "rule" in expected:
        assert body["problems"][0]["rule"] == expected["rule"], body
        assert expected["message_contains"] in body["problems"][0]["message"], body
    else:
        assert body["status"] == "accepted", body
