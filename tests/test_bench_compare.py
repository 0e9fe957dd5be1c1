"""`bench compare` in small: DfE's published figures of every council stored, then one council's comparisons, its
page (first and after) and its workbook, each answered and counted on one row."""

from __future__ import annotations

import pytest

from benchmarks import compare


def test_bench_compare_answers_one_councils_comparisons_page_and_workbook(capsys: pytest.CaptureFixture[str]) -> None:
    compare.main(["--council", "E08000009", "--repeat", "1"])
    lines = capsys.readouterr().out.splitlines()
    stored = int(lines[0].split("store: ")[1].split(" published figures")[0].replace(",", ""))
    # Two measures of each of about 150 councils, the regions and England, over several years.
    assert stored > 1_000, lines[0]
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in lines[1:] if line.startswith("| ")]
    assert rows[0] == [
        "council",
        "indicators",
        "all comparisons, cold (s)",
        "page, first (ms)",
        "page, after (median ms)",
        "workbook of all (ms)",
    ]
    assert len(rows) == 2, rows
    assert rows[1][0] == "E08000009"
    # Trafford has figures of every indicator the files give (counts, rates, percentages): at least one.
    assert 1 <= int(rows[1][1]) <= 10
    assert all(float(c) >= 0 for c in rows[1][2:])
