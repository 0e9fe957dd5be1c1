"""The census benchmark's reading part in small: each row measured and printed."""

from __future__ import annotations

import pytest

from benchmarks import census


def test_bench_census_prints_each_reading_row(capsys: pytest.CaptureFixture[str]) -> None:
    census.main(["--pupils", "200", "--repeat", "1"])
    out = capsys.readouterr().out
    assert "200 pupils" in out
    for row in ("polars alone: every blade read as text", "the census read and checked"):
        assert f"| {row} |" in out
