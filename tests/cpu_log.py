"""Where a run's CPU goes, test by test: with ``ONERETURN_TEST_CPU_LOG=FOLDER`` each pytest process writes one CSV
there (test, wall seconds, its own CPU seconds, and the CPU of the processes it started and waited for).

The suite is bound by the CPU of a 2-core machine, so its length follows the CPU its tests spend, not their wall
time (a test that waits lets another run). A server's own processes count once they are waited for, which every
test's stop does; a PostgreSQL server's work for the tests is not counted (it is no child of the test's process).
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

FOLDER = os.environ.get("ONERETURN_TEST_CPU_LOG", "")


def _cpu() -> tuple[float, float]:
    now = os.times()
    return now.user + now.system, now.children_user + now.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Time one test's setup, call and teardown together, by the wall and by the CPU."""
    wall, (own, children) = time.perf_counter(), _cpu()
    yield
    after = _cpu()
    row = [item.nodeid, f"{time.perf_counter() - wall:.3f}", f"{after[0] - own:.3f}", f"{after[1] - children:.3f}"]
    folder = Path(FOLDER)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"cpu-{os.getpid()}.csv").open("a", newline="") as out:
        csv.writer(out).writerow(row)
