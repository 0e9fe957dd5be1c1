"""`bench annex-a` in small: the service's workbook and polars' read of the same files are both measured, every list
is counted, and --write puts the table in the document."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from benchmarks import annex_a


def test_bench_annex_a_measures_both_paths_and_counts_every_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "annex-a-benchmark.md"
    monkeypatch.setattr(annex_a, "DOC", doc)
    annex_a.main(["--lac-children", "20", "--cin-children", "50", "--repeat", "1", "--write"])
    out = capsys.readouterr().out
    assert out.startswith("Annex A for 20 looked-after children (SSDA903) and 50 children in need (CIN census)")
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    assert [r.split("|")[1].strip().split(":")[0] for r in rows] == [
        "path",
        "the service",
        "of which",
        "polars alone",
        "CPU s",
        "median",
    ]
    counted = ast.literal_eval(out.split("Rows per list: ")[1].split("; workbook")[0])
    assert sorted(counted, key=int) == [str(n) for n in range(1, 12)]
    # Every child is looked after or in need, so the lists of the children (CIN's and the 903's) are not empty.
    assert all(n >= 0 for n in counted.values())
    assert sum(counted.values()) > 0
    assert doc.read_text(encoding="utf-8").startswith("# Annex A benchmark")
