"""`bench soak` in small: one API worker, a scheduler and a standby on PostgreSQL for two seconds while the service's
connections are ended, then every answer read against the store and every count printed."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from benchmarks import soak

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
def test_bench_soak_checks_every_answer_against_the_store(store: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    url = store.url.render_as_string(hide_password=False)
    store.dispose()
    soak.main(["--database-url", url, "--seconds", "2", "--workers", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("soak: 1 API workers, a scheduler and a standby, 2 s on PostgreSQL"), lines[0]
    assert lines[-2] == "every answer matches the store"
    result = json.loads(lines[-1])
    counts = result["counts"]
    assert [line.split()[0] for line in lines[1:-2]] == [name.split()[0] for name in counts]
    assert all(n == 0 for name, n in counts.items() if "(wrong)" in name), counts
    # Uploads and imports start at once (a sign-off waits for its review), and one scheduler beats.
    assert counts["upload sent"] >= 1, counts
    assert counts["import sent"] >= 1, counts
    assert counts["schedulers that heartbeat"] >= 1
    assert counts["heartbeats seen"] >= 1
    assert counts["schedulers still running at the end"] == 2
