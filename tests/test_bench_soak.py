"""`bench soak` in small: one API worker, a scheduler and a standby for a few seconds on PostgreSQL while the
service's connections are ended, then every answer checked against the store; on a copy of the tests' store, which
holds the demo's agencies and keys (the demo's own uploads, loaded by a first start, are not needed by its load)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from benchmarks import soak

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
def test_bench_soak_matches_every_answer_to_the_store(store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    # One upload process a worker, as the tests' other servers start.
    monkeypatch.setenv("ONERETURN_UPLOAD_SLOTS", "1")
    url = store.url.render_as_string(hide_password=False)
    store.dispose()
    result = soak.soak(url, 4, workers=1, fresh=False)
    counts = result["counts"]
    assert (result["seconds"], result["workers"]) == (4, 1)
    # Each kind of change was sent, the connections were ended while it was, and the schedulers heartbeat.
    assert all(counts[f"{kind} sent"] > 0 for kind in ("upload", "import")), counts
    assert counts["connections ended"] > 0, counts
    assert counts["heartbeats seen"] > 0, counts
    assert counts["schedulers that heartbeat"] >= 1, counts
    assert {name: n for name, n in counts.items() if "(wrong)" in name and n} == {}
