"""`bench pages` in small: the demo's store made, the service started, every officer page and "where to look"
viewed cold and warm, each answered (a page that is not fails the run) and given its quantiles on one row."""

from __future__ import annotations

import pytest

from benchmarks import pages


def test_bench_pages_views_every_page_cold_and_warm(capsys: pytest.CaptureFixture[str]) -> None:
    pages.main(["--scale", "1", "--rounds", "1", "--views", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["x1:", "page"]
    assert lines[0].split()[-2:] == ["warm", "p95"]
    rows = {line.split()[1]: line.split()[2:] for line in lines[1:]}
    assert list(rows) == ["sign-in", *pages.PAGES, pages.FLAGS]
    # Sign-in is asked once a start (cold alone); every other page once cold and once warm.
    assert rows["sign-in"][2:] == ["-", "-"]
    for page, cells in rows.items():
        timed = [c for c in cells if c != "-"]
        assert len(timed) == (2 if page == "sign-in" else 4), (page, cells)
        assert all(c.endswith("s") and float(c[:-1]) >= 0 for c in timed)
        # One view of each: its p50 and p95 are that view.
        assert timed[0] == timed[1]
