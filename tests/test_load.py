"""The load test's small form: the real service under concurrent uploads and pulls loses, duplicates and fails nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import load
from tests.demo_store import demo_copy


def test_concurrent_uploads_and_pulls_lose_nothing_and_never_fail(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # On a copy of the store a first start loaded the demo into: loading it is the first start's work, which
    # tests/test_demo_first_start.py checks; this start, like any later one, loads the catalogue and keys again.
    result = load.run(uploaders=3, regulators=3, seconds=4, figures=300, folder=demo_copy(tmp_path_factory, tmp_path))
    uploads, pulls = result["rows"]
    assert uploads["requests"] > 0
    assert pulls["requests"] > 0
    assert uploads["5xx"] == 0, uploads["status"]
    assert pulls["5xx"] == 0, pulls["status"]
    assert uploads["client_errors"] == pulls["client_errors"] == 0
    assert set(uploads["status"]) <= {200, 201}
    assert set(pulls["status"]) == {200}
    store = result["store"]
    assert store["expected"] > 0, "at least one upload was accepted"
    assert store["current"] == store["expected"]
    assert store["lost"] == store["duplicated"] == store["unexpected"] == 0
    # Each upload's answer said how long it waited for a slot and how long it was processed.
    assert set(uploads["parts"]) == {"slot", "process"}
    assert uploads["parts"]["process"][0] > 0
    assert pulls["parts"] == {}


def test_server_timing_is_read_by_name_in_seconds() -> None:
    header = 'slot;dur=12.5;desc="Waiting for an upload slot", process;dur=480.0;desc="Processing"'
    assert load.server_timing(header) == {"slot": 0.0125, "process": 0.48}
    assert load.server_timing("") == {}
    assert load.server_timing("cache;desc=hit") == {}
