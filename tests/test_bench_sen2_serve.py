"""`bench sen2-serve` in small: a SEN2 file sent to a running service, then each of DfE's tables, List 1 (first
answer, every page, the workbook) and the cross-checks asked of it, each request one line with its memory."""

from __future__ import annotations

import json

import pytest

from benchmarks import sen2_serve


def test_bench_sen2_serve_asks_every_table_and_list_1(capsys: pytest.CaptureFixture[str]) -> None:
    sen2_serve.main(["--children", "30", "--page", "10"])
    said = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert said[0]["children"] == 30
    assert said[0]["file_mib"] >= 0
    rows = said[1:-1]
    names = [r["phase"] for r in rows]
    assert names[:2] == ["upload", "tables listed"]
    assert names[-4:] == [
        "List 1 JSON, first answer",
        "List 1 JSON, every page of 10",
        "List 1 workbook",
        "cross-checks",
    ]
    tables = [n for n in names if n.startswith("table ")]
    assert len(tables) == len(names) - 6 > 1
    # The file is taken (a new upload, its figures stored before the answer or after it), and every table, page and
    # check answered.
    assert rows[0]["status"] in (201, 202), rows[0]
    assert all(r["status"] == 200 and r["bytes"] > 0 for r in rows[1:]), rows
    summary = said[-1]
    assert summary["serving_peak_mib_of_every_phase"] == max(r["serving_peak_mib"] for r in rows) > 0
