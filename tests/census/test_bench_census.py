"""The census benchmark in small: each row of its reading part and its storing part measured and printed."""

from __future__ import annotations

import pytest

from benchmarks import census


def test_bench_census_prints_each_reading_row(capsys: pytest.CaptureFixture[str]) -> None:
    census.main(["--pupils", "200", "--repeat", "1", "--list-children", "60"])
    out = capsys.readouterr().out
    assert "200 pupils" in out
    for row in ("polars alone: every blade read as text", "the census read and checked"):
        assert f"| {row} |" in out
    stored = next(line for line in out.splitlines() if line.startswith("| read, checked, minimised and stored"))
    assert "200 pupils read" in stored
    seconds, _, peak, _ = (float(cell.replace(",", "")) for cell in stored.split("|")[2:6])
    assert seconds > 0
    assert peak > 0
    assert "Targets: under 60 s and under 1.5 GB" in out
    listed = next(line for line in out.splitlines() if line.startswith("| List 1 ("))
    assert "on SEN support) made and checked" in listed
    assert float(listed.split("|")[2]) > 0
    assert "Target: under 10 s" in out
