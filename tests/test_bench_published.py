"""`bench published` in small: one publisher's file through the intake and as a plain upload, each row of the table
counting the file's rows and the figures stored, and --write puts the table in the document."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import published


def test_bench_published_measures_a_file_both_ways(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "published-benchmark.md"
    monkeypatch.setattr(published, "DOC", doc)
    published.main(["--repeat", "1", "--file", "unmet_opiates", "--write"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    cells = [c.strip() for c in lines[0].split("|")[1:-1]]
    assert len(cells) == 9, cells
    assert cells[0] == "`unmet_opiates.csv`"
    rows, stored = (int(c.replace(",", "")) for c in cells[1:3])
    # The file's rows are read and figures of them stored (a row may give more than one figure).
    assert rows > 0
    assert stored >= rows
    assert cells[7].endswith("x")
    assert float(cells[7][:-1]) > 0
    assert lines[1].startswith("Measured ")
    assert "SQLite, best of 1;" in lines[1]
    written = doc.read_text(encoding="utf-8")
    assert written.startswith("# Published-figures intake: benchmark")
    assert lines[0] in written
