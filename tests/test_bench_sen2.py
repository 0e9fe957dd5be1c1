"""`bench sen2` in small: every row of its table is measured (the door against lxml, the whole path, the file taken
into a store, List 1) and --write puts the table in the document."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import sen2


def test_bench_sen2_prints_and_writes_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "sen2-benchmark.md"
    monkeypatch.setattr(sen2, "DOC", doc)
    sen2.main(["--children", "40", "--list-children", "40", "--repeat", "1", "--write"])
    out = capsys.readouterr().out
    rows = {
        line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("| ") and "---" not in line
    }
    for row in (
        "lxml alone: parse and schema",
        "the door's read and schema check",
        "the door's whole check (and tables, rules, keys)",
        "the whole path (check, seal, pseudonyms, 12 tables)",
        "through the door into a store (SQLite)",
    ):
        assert row in rows, out
        seconds, unit = rows[row].split("|")[2].split()[:2]
        assert float(seconds) >= 0
        assert unit == "s", rows[row]
    assert any(name.startswith("List 1, ") for name in rows), out
    assert "<= 2x lxml: **" in rows["the door's read and schema check"]
    assert doc.read_text(encoding="utf-8").startswith("# SEN2 benchmark")
