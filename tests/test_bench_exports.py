"""`bench exports` in small: a year of figures of three councils and three health areas uploaded, every return built in
every format against the floor writing the same cells, a snapshot served, and every dataflow's SDMX data query."""

from __future__ import annotations

import pytest

from benchmarks import exports


def test_bench_exports_builds_every_return_beside_its_floor(capsys: pytest.CaptureFixture[str]) -> None:
    exports.main(["--councils", "3", "--scale", "1", "--rounds", "1", "--repeat", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("SQLite: every bundled return for FY2024-25, every format"), lines
    assert lines[1].split()[:3] == ["scale", "figures", "cells"]
    row = lines[2].split()
    scale, figures, cells = (int(c.replace(",", "")) for c in row[:3])
    # Each council and health area owes figures of its returns, and each stored figure fills at least one cell.
    assert scale == 1
    assert 0 < figures <= cells, row
    assert all(c.endswith("s") and float(c[:-1]) >= 0 for c in (row[3], row[4], row[6], row[-3], row[-2])), row
    assert lines[3].startswith("ratio build/floor: worst ")
    assert lines[3].endswith("(target <= 2.0)")
    assert lines[4].startswith("snapshot served: median ")
    # Every dataflow with figures queried over every period, beside the same periods' snapshots pulled as stored.
    assert lines[5].startswith("sdmx data served: "), lines
    assert int(lines[5].split()[3]) > 0, lines[5]
    assert "from the snapshots" in lines[5]
    assert "floor (the snapshots pulled)" in lines[5]
    assert lines[5].endswith("(target < 1 s)"), lines[5]
    assert lines[-1] in ("PASS", "MISS")
