"""DfE's rules' process started ahead for the next record-level upload: taken when it still fits, never stale, and
gone by itself when no upload comes. These run DfE's libraries for real in ``.venv-validators``."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.records import contract
from collectors.records.contract import RUNNER, Findings, run_rules, validators_python

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "records"
CIN_2024 = FIXTURES / "cin" / "CIN_Census_2024.xml"
FILES = [("census.xml", CIN_2024)]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Every rules process started, by its command, with processes kept ready as an upload process keeps them."""
    ready = contract._Ready()
    ready.enabled = True
    monkeypatch.setattr(contract, "_READY", ready)
    # Past the test run's memory of DfE's answers (tests/rules_cache.py): every call here starts a process.
    monkeypatch.setattr(contract, "_call", getattr(contract._call, "__wrapped__", contract._call))
    commands: list[list[str]] = []
    start = contract._start

    def recording(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        commands.append(argv)
        return start(argv, env)

    monkeypatch.setattr(contract, "_start", recording)
    yield commands
    # The one left waiting is ended with the test.
    assert ready.take([], {}) is None


def _same(a: Findings, b: Findings) -> None:
    assert (a.findings, a.rules_run, a.tables, a.rules_raised, a.rules_skipped) == (
        b.findings,
        b.rules_run,
        b.tables,
        b.rules_raised,
        b.rules_skipped,
    )


def test_a_call_after_another_takes_the_process_started_ahead_and_finds_the_same(started: list[list[str]]) -> None:
    cold = run_rules("cin", "cin2024_25", FILES)
    assert len(started) == 2
    assert "--ready-s" not in started[0]
    assert started[1][-2:] == ["--ready-s", f"{contract.READY_S:g}"]
    warm = run_rules("cin", "cin2024_25", FILES)
    # The second call started no process of its own: only the next one ahead.
    assert len(started) == 3
    assert started[2] == started[1]
    _same(cold, warm)
    assert warm.findings


def test_a_process_started_ahead_that_has_ended_is_not_used(started: list[list[str]]) -> None:
    run_rules("cin", "cin2024_25", FILES)
    waiting = contract._READY._proc
    assert waiting is not None
    waiting.kill()
    waiting.wait(timeout=10)
    again = run_rules("cin", "cin2024_25", FILES)
    assert "--ready-s" not in started[2]
    assert again.findings


def test_a_process_started_under_other_limits_is_ended_not_used(started: list[list[str]]) -> None:
    run_rules("cin", "cin2024_25", FILES, memory_mib=2048)
    waiting = contract._READY._proc
    assert waiting is not None
    run_rules("cin", "cin2024_25", FILES, memory_mib=3072)
    assert started[2][-2:] == ["--memory-mib", "3072"]
    assert waiting.poll() is not None


def test_one_started_ahead_under_too_little_memory_ends_and_the_call_that_takes_it_says_so(
    started: list[list[str]],
) -> None:
    for _ in range(2):
        with pytest.raises(contract.RecordsMemoryLimit, match="memory limit of 64 MiB"):
            run_rules("cin", "cin2024_25", FILES, memory_mib=64)
    assert started[1][-2:] == ["--ready-s", f"{contract.READY_S:g}"]
    # The one waiting now cannot import DfE's libraries under the limit either: it ends, saying why by its status.
    waiting = contract._READY._proc
    assert waiting is not None
    assert waiting.wait(timeout=60) == contract.EXIT_MEMORY


def test_calls_stay_one_at_a_time_without_keep_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract, "_READY", contract._Ready())
    monkeypatch.setattr(contract, "_call", getattr(contract._call, "__wrapped__", contract._call))
    run_rules("cin", "cin2024_25", FILES)
    assert contract._READY._proc is None


def test_a_process_started_ahead_ends_by_itself_when_no_upload_comes() -> None:
    waiting = subprocess.Popen(
        [str(validators_python()), str(RUNNER), "--memory-mib", "2048", "--ready-s", "0.5"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Its request pipe is left open: only its own wait can end it.
    assert waiting.wait(timeout=60) == 0
    assert waiting.stdout is not None
    assert waiting.stderr is not None
    assert waiting.stdout.read() == b""
    assert b"Traceback" not in waiting.stderr.read()
    for pipe in (waiting.stdin, waiting.stdout, waiting.stderr):
        assert pipe is not None
        pipe.close()
