"""`bench records` in small: the service's path and DfE's library alone run on the same synthetic files, the table
has the county, national (said to be extrapolated, one set after another and on two processes at once) and CIN rows,
each set is uploaded to a running service, and --write puts the table in the document."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks import records
from tests.served_rules import SERVED


def test_bench_records_prints_and_writes_the_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "records-benchmark.md"
    monkeypatch.setattr(records, "DOC", doc)
    # The service's path and uploads run DfE's rules through the run's remembered answers (tests/served_rules.py): the
    # first path over each set, and the national round's fresh uploads, run them for real, the same files again
    # (each set's upload, the national path's second and third runs of the sample) answer from what they said. DfE's
    # library alone always runs. No timing is asserted here; what is checked is that every row and way is there.
    if SERVED in os.environ:
        monkeypatch.setenv("ONERETURN_VALIDATORS_PYTHON", os.environ[SERVED])
    # The service's store without the demo's uploads: loading them is a first start's work, not the uploads'.
    records.main(
        [
            *("--county-children", "40", "--cin-children", "40", "--national-sample", "1", "--repeat", "1"),
            *("--bare-store", "--processes", "2", "--write"),
        ]
    )
    out = capsys.readouterr().out
    assert "| SSDA903 county | 40 children," in out
    assert "| CIN census county | 40 children |" in out
    assert "EXTRAPOLATED from 1 set(s) (mean x 150)" in out
    # Each set went through a running service's upload too, to its last stage.
    assert out.count("through the service's upload: stage stored") == 3
    assert "| national sample 1 |" in out
    # The national round at once on two processes: the sample's set twice, by path, library and upload.
    assert "| national: 150 councils on 2 processes at once, EXTRAPOLATED from 2 set(s) |" in out
    assert "national round on 2 processes against one (1 set(s) one after another): the service's path " in out
    assert "; through the service's uploads " in out
    assert "; cores kept busy: the path " in out
    written = doc.read_text()
    assert "- Date: " in written
    assert "- Machine: " in written
    assert "--county-children 40" in written
    rows = [line for line in written.splitlines() if line.startswith("| SSDA903 county")]
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    service, library, ratio = float(cells[2]), float(cells[3]), float(cells[4])
    assert service > 0
    assert library > 0
    assert ratio == pytest.approx(service / library, abs=0.02)
