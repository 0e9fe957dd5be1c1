"""`bench scale` in small: both engines fill a full store, time the same uploads into it and into an empty one,
and PostgreSQL's databases are dropped afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from benchmarks import scale
from benchmarks.collect import pg_beside
from tests.stores import PG_URL


def _uploads(inds: list[str], orgs: list[str]) -> dict[str, bytes]:
    return {"1 row": scale._upload(inds, orgs, 1, 2024), "20 rows": scale._upload(inds, orgs, 20, 2025)}


def _check(stored: int, best: dict[str, dict[str, float]], names: list[str]) -> None:
    assert 0 < stored <= 3000
    assert names == ["1 row", "20 rows"]
    assert set(best) == {"empty", "full"}
    for store in best.values():
        assert set(store) == set(names)
        assert all(seconds > 0 for seconds in store.values())


def test_best_of_alternates_the_stores_and_keeps_each_uploads_fastest() -> None:
    times = iter([3.0, 5.0, 2.0, 7.0, 4.0, 1.0])
    calls: list[tuple[str, str, int]] = []

    def time_in(source: str, store: str, run: int) -> dict[str, float]:
        calls.append((source, store, run))
        return {"upload": next(times)}

    best = scale._best_of(3, {"empty": "a", "full": "b"}, time_in)
    assert calls == [(source, store, run) for run in range(3) for source, store in (("a", "empty"), ("b", "full"))]
    assert best == {"empty": {"upload": 2.0}, "full": {"upload": 1.0}}


def test_sqlite_fills_the_full_store_and_times_every_upload_in_both(tmp_path: Path) -> None:
    stored, best, names = scale._measure_sqlite(tmp_path, 3000, 1, _uploads)
    _check(stored, best, names)
    with sqlite3.connect(tmp_path / "full.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM observation").fetchone() == (stored,)
    # Each run's copy of a store is removed once timed.
    assert not list(tmp_path.glob("empty-*.sqlite3"))
    assert not list(tmp_path.glob("full-*.sqlite3"))


@pytest.mark.postgres
def test_postgres_fills_the_full_store_times_every_upload_and_drops_its_databases(tmp_path: Path) -> None:
    stored, best, names = scale._measure_postgres(tmp_path, PG_URL, 3000, 1, _uploads)
    _check(stored, best, names)
    made = [pg_beside(PG_URL, suffix).rsplit("/", 1)[1] for suffix in ("template", "full", "run")]
    admin = create_engine(PG_URL)
    try:
        with admin.connect() as conn:
            left = conn.execute(text("SELECT datname FROM pg_database WHERE datname = ANY(:n)"), {"n": made}).all()
    finally:
        admin.dispose()
    assert left == []
