"""`bench ssd` in small: the extract made, read, checked and turned into the CIN census and SSDA903 tables, with
DfE's payloads, each step measured on one line."""

from __future__ import annotations

import re

import pytest

from benchmarks import ssd


def test_bench_ssd_measures_every_step_of_the_extract(capsys: pytest.CaptureFixture[str]) -> None:
    ssd.main(["--lac", "20", "--cin", "50", "--repeat", "1"])
    lines = capsys.readouterr().out.splitlines()
    head = re.fullmatch(
        r"SSD extract: 50 children in need, 20 looked after; ([\d,]+) rows in (\d+) tables, ([\d,]+) bytes zipped",
        lines[0],
    )
    assert head is not None, lines[0]
    rows, tables, size = (int(g.replace(",", "")) for g in head.groups())
    assert rows >= 70
    assert tables > 1
    assert size > 0
    steps = [re.fullmatch(r"  (.+?)\s+(\d+\.\d\d) s(?:  \((.*)\))?", line) for line in lines[1:]]
    assert all(steps), lines
    assert [s.group(1) for s in steps if s] == [
        "polars reads the CSVs",
        "unpack",
        "read and check (pandera)",
        "make the CIN census XML",
        "make the SSDA903 tables",
        "DfE's payloads and hashes",
        "the extract's own part",
    ]
    payloads = next(s for s in steps if s and s.group(1) == "DfE's payloads and hashes")
    # Every child in need and every child looked after has DfE's payload.
    assert 0 < int(payloads.group(3).split()[0].replace(",", "")) <= 70
