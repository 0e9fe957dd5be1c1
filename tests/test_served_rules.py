"""The remembered DfE answers of the services the tests start (``tests/served_rules.py``): the same input is answered
again without running the rules, anything else runs them, an error is never kept, and an input is named as the tests'
own process names it (``tests/rules_cache.py``), so the two share their answers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from collectors.records import contract
from tests.rules_cache import _key
from tests.served_rules import key, script

#: A stand-in for the validators' interpreter: it counts its runs, then answers as the rules' runner does (or, given
#: anything but the runner, says what it was given).
FAKE = """#!/bin/sh
echo run >> "{count}"
case "$1" in
  *dfe_runner.py) ;;
  *) echo "other $*"; exit 0 ;;
esac
[ -n "$FAKE_SLEEP" ] && {{ echo $$ > "{count}.pid"; exec sleep "$FAKE_SLEEP"; }}
cat > /dev/null
if [ -n "$FAKE_FAIL" ]; then echo '{{"ok": false, "error": {{"kind": "library", "message": "x"}}}}'; exit 2; fi
echo '{{"ok": true, "findings": []}}'
"""


def _setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    count = tmp_path / "runs"
    real = tmp_path / "real"
    real.write_text(FAKE.format(count=count))
    real.chmod(0o755)
    runner = tmp_path / "dfe_runner.py"
    runner.write_text("")
    return script(tmp_path / "wrapper", tmp_path / "answers", real, 300.0), runner, count


def _request(tmp_path: Path, folder: str, content: bytes) -> bytes:
    where = tmp_path / folder
    where.mkdir(exist_ok=True)
    (where / "episodes.csv").write_bytes(content)
    files = [{"name": "episodes.csv", "path": str(where / "episodes.csv")}]
    return json.dumps({"contract": 1, "library": "903", "ruleset": "lac2024_25", "files": files}).encode()


def _ask(python: Path, runner: Path, request: bytes, **env: str) -> subprocess.CompletedProcess[bytes]:
    command = [str(python), str(runner), "--memory-mib", "900"]
    return subprocess.run(
        command, input=request, capture_output=True, env={**os.environ, **env}, timeout=30, check=False
    )


def _runs(count: Path) -> int:
    return len(count.read_text().splitlines()) if count.exists() else 0


def test_the_same_files_anywhere_are_answered_again_and_other_files_run_the_rules(tmp_path: Path) -> None:
    python, runner, count = _setup(tmp_path)
    first = _ask(python, runner, _request(tmp_path, "upload-1", b"CHILD\n1\n"))
    assert first.returncode == 0
    assert json.loads(first.stdout)["ok"]
    # The same bytes in another upload's folder: answered from the first, the rules not run.
    again = _ask(python, runner, _request(tmp_path, "upload-2", b"CHILD\n1\n"))
    assert (again.returncode, again.stdout) == (0, first.stdout)
    assert _runs(count) == 1
    # Other bytes, or the same under another time limit: each runs the rules.
    assert _ask(python, runner, _request(tmp_path, "upload-3", b"CHILD\n2\n")).returncode == 0
    later = _request(tmp_path, "upload-1", b"CHILD\n1\n")
    assert _ask(python, runner, later, ONERETURN_RECORDS_TIMEOUT_S="9").returncode == 0
    assert _runs(count) == 3


def test_an_error_is_passed_on_and_never_kept(tmp_path: Path) -> None:
    python, runner, count = _setup(tmp_path)
    request = _request(tmp_path, "upload", b"CHILD\n1\n")
    failed = _ask(python, runner, request, FAKE_FAIL="1")
    assert failed.returncode == 2
    assert not json.loads(failed.stdout)["ok"]
    assert _ask(python, runner, request).returncode == 0
    assert _runs(count) == 2


def test_anything_but_the_runner_is_the_real_interpreter(tmp_path: Path) -> None:
    python, _runner, count = _setup(tmp_path)
    done = subprocess.run([str(python), "-c", "pass"], capture_output=True, timeout=30, check=False)
    assert done.stdout.decode().strip() == "other -c pass"
    assert _runs(count) == 1


def test_the_rules_end_when_their_caller_kills_them(tmp_path: Path) -> None:
    """A caller's time limit or stop kills the process it started: the rules' own process ends with it."""
    python, runner, count = _setup(tmp_path)
    command = [str(python), str(runner), "--memory-mib", "900"]
    env = {**os.environ, "FAKE_SLEEP": "60"}
    caller = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
    assert caller.stdin is not None
    caller.stdin.write(_request(tmp_path, "upload", b"CHILD\n1\n"))
    caller.stdin.close()
    pid_file = count.with_name("runs.pid")
    deadline = time.monotonic() + 20
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    rules = int(pid_file.read_text())
    caller.kill()
    caller.wait(10)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{rules}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    gone = not Path(f"/proc/{rules}").exists() or "Z" in Path(f"/proc/{rules}/stat").read_text().split()[2]
    if not gone:
        os.kill(rules, signal.SIGKILL)
    assert gone, "the rules' process outlived its caller"


def test_an_input_is_named_as_the_tests_own_process_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ONERETURN_RECORDS_TIMEOUT_S", raising=False)
    monkeypatch.delenv("ONERETURN_RECORDS_MEMORY_MIB", raising=False)
    monkeypatch.delenv("ONERETURN_VALIDATORS_PYTHON", raising=False)
    request = json.loads(_request(tmp_path, "upload", b"CHILD\n1\n"))
    memory = contract._limits(None, None)[1]
    runner = [str(contract.RUNNER), "--memory-mib", str(memory)]
    real = str(contract.validators_python())
    served = key(json.dumps(request).encode(), real, runner, contract.DEFAULT_TIMEOUT_S)
    assert served == _key(request, None, None)
    monkeypatch.setenv("ONERETURN_RECORDS_TIMEOUT_S", "9")
    assert key(json.dumps(request).encode(), real, runner, contract.DEFAULT_TIMEOUT_S) == _key(request, None, None)
    assert key(json.dumps(request).encode(), real, runner, contract.DEFAULT_TIMEOUT_S) != served
