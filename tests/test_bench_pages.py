"""`bench pages` in small: one round at ×1 on the real service, every officer page and "where to look" viewed once
cold and once warm, on the store a first ``onereturn serve`` loads the demo into (the store ``prepare`` makes at ×1,
made once per run and copied here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import pages
from tests.demo_store import demo_copy

pytestmark = pytest.mark.slow


def test_bench_pages_times_every_officer_page_cold_and_warm(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def prepared(folder: Path, scale: int, database_url: str) -> dict[str, str]:
        assert (scale, database_url) == (1, "")
        # One upload process, as the tests' other servers start, not the two a user's server starts.
        return {**pages.service_env(demo_copy(tmp_path_factory, folder), ""), "ONERETURN_UPLOAD_SLOTS": "1"}

    monkeypatch.setattr(pages, "prepare", prepared)
    pages.main(["--scale", "1", "--rounds", "1", "--views", "1"])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[0] == ["x1:", "page", "cold", "p50", "cold", "p95", "warm", "p50", "warm", "p95"]
    assert [row[1] for row in rows[1:]] == ["sign-in", *pages.PAGES, pages.FLAGS]
    # Sign-in is timed cold alone; every page and "where to look" cold and warm, each in seconds.
    assert rows[1][2:] == [rows[1][2], rows[1][2], "-", "-"]
    for row in rows[1:]:
        timed = [cell for cell in row[2:] if cell != "-"]
        assert all(cell.endswith("s") and float(cell[:-1]) > 0 for cell in timed), row
        assert len(timed) == (2 if row[1] == "sign-in" else 4), row
