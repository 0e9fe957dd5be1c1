"""`bench memory` in small: the service started, a clean upload, one with every row wrong and its reports, a JSON
upload and the chunked bodies, each phase one line with the peak memory of the processes serving it."""

from __future__ import annotations

import json

import pytest

from benchmarks import memory
from benchmarks.server import MIB, free_port


def test_bench_memory_measures_every_phase(capsys: pytest.CaptureFixture[str]) -> None:
    # The service's store without the demo's uploads: loading them is a first start's work, not the uploads'.
    memory.main(["--rows", "50", "--chunked-bytes", str(MIB), "--port", str(free_port()), "--bare-store"])
    said = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert said[0]["max_upload_bytes"] == 256 * MIB
    assert said[1]["phase"] == "idle"
    assert said[1]["rss_mib"] > 0
    phases = said[2:-1]
    assert [p["phase"].split(" (")[0] for p in phases[:6]] == [
        "upload 50 rows, clean",
        "  its report",
        "upload 50 rows, every row wrong",
        "  its report",
        "  its report/report.csv",
        "  its report/report.xlsx",
    ]
    assert phases[6]["phase"].startswith("upload 50 rows, JSON")
    # The uploads are answered (a clean one stored, one of wrong rows reported), none a server error.
    assert all(p["status"] < 500 for p in phases if "status" in p), phases
    assert all(0 < p["peak_mib"] < 1024 for p in phases if "peak_mib" in p), phases
    summary = said[-1]
    assert summary["summary"] == "peak resident memory of the worst phase"
    assert summary["under_1_gib"]
