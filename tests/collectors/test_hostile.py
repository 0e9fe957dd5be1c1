"""The hostile and broken files corpus: each file in hostile/ is uploaded and must get exactly its expected answer.

One small file per case, beside it ``<file>.expected.toml`` with the agency, the upload's status, how
many figures are stored and every problem (row, column, rule, severity), plus words its messages
must contain. Add a case by adding the two files; the corpus grows with every case found.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from collectors.figures.service import submission_problems, submit
from indicators.store.models import Observation
from onereturn.settings import Settings

CORPUS = Path(__file__).parent / "hostile"
CASES = sorted(
    p for p in CORPUS.iterdir() if p.is_file() and not p.name.endswith(".expected.toml") and p.name != "README.md"
)


def test_every_case_has_its_expected_answer() -> None:
    assert CASES
    missing = [p.name for p in CASES if not p.with_name(p.name + ".expected.toml").exists()]
    assert missing == []


@pytest.mark.parametrize("case", CASES, ids=[p.name for p in CASES])
def test_hostile_file_gets_its_expected_answer(store: Engine, store_settings: Settings, case: Path) -> None:
    expected: dict[str, Any] = tomllib.loads(case.with_name(case.name + ".expected.toml").read_text())
    outcome = submit(store, store_settings, agency_code=expected["agency"], filename=case.name, data=case.read_bytes())
    assert outcome.submission is not None
    assert outcome.submission.id is not None
    with Session(store) as session:
        report = submission_problems(session, outcome.submission.id)
        stored = session.execute(select(func.count()).select_from(Observation)).scalar_one()
    got = [
        {"row": r["row"] or 0, "column": r["column"] or "", "rule": r["rule"], "severity": r["severity"]}
        for r in report.iter_rows(named=True)
    ]
    want = [
        {"row": p.get("row", 0), "column": p.get("column", ""), "rule": p["rule"], "severity": p["severity"]}
        for p in expected["problems"]
    ]
    assert sorted(got, key=str) == sorted(want, key=str), report["message"].to_list()
    assert outcome.submission.status == expected["status"]
    assert stored == expected["stored"]
    messages = " ".join(report["message"].to_list())
    for words in expected.get("says", []):
        assert words in messages
