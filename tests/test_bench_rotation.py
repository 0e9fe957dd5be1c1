"""`bench rotate` in small: the store made, the floor and the rotation timed in the same run, the ratio printed."""

from __future__ import annotations

import pytest

from benchmarks import rotation


def test_bench_rotate_prints_the_rotation_against_its_floor(capsys: pytest.CaptureFixture[str]) -> None:
    rotation.main(["--children", "30", "--lineage", "2", "--repeat", "2"])
    out = capsys.readouterr().out
    assert "store: 30 children, 60 lineage rows, 30 findings on sqlite" in out
    assert "| floor (cryptography on one core + one UPDATE a table) |" in out
    assert "| onereturn records rotate-keys |" in out
    assert "rotation over the floor: " in out
