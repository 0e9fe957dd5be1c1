"""DfE's rules for the services the tests start, run once per distinct input in a test run, as ``tests/rules_cache.py``
runs them for the tests' own process.

A server, a benchmark's worker or a command the tests start calls DfE's rules in a process of the validators'
environment (``collectors.records.contract``); it is pointed (``ONERETURN_VALIDATORS_PYTHON``) at a script that runs
this file with the real interpreter: a call of the rules' runner whose input was answered before in this run is
answered the same again, and any other call runs the real interpreter. An input is what ``tests/rules_cache.py`` keys
it by (its files' bytes, not their paths; the request's other fields; the limits; the real interpreter), and the
answers are kept in the same folder, so the tests' process and the services share them; only answers are kept, never
errors, and the rules' own process ends with this one (a caller that stops the rules kills this process). The time
limit is read as the service reads it, from the environment: no service passes one of its own.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

#: Set by the tests' conftest to the script (``script``) that services the tests start are pointed at.
SERVED = "ONERETURN_TEST_SERVED_VALIDATORS"
#: prctl's option that sends the child a signal when its parent ends (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def script(folder: Path, answers: Path, real: Path, default_timeout: float) -> Path:
    """Write the interpreter the services are pointed at, in ``folder``; answers kept in ``answers``; the rules' time
    limit where the environment sets none is ``default_timeout``."""
    folder.mkdir(parents=True, exist_ok=True)
    answers.mkdir(parents=True, exist_ok=True)
    path = folder / "python"
    command = f'"{sys.executable}" -I -S "{__file__}" "{real}" "{answers}" "{default_timeout!r}"'
    path.write_text(f'#!/bin/sh\nexec {command} "$@"\n')
    path.chmod(0o755)
    return path


def key(request: bytes, real: str, args: list[str], default_timeout: float) -> str | None:
    """The input's identity, as ``tests.rules_cache`` spells it, or None when it is no request this can read (the
    real runner reports that)."""
    try:
        asked = json.loads(request)
        files = [(f["name"], hashlib.sha256(Path(f["path"]).read_bytes()).hexdigest()) for f in asked.pop("files", [])]
        memory = int(args[args.index("--memory-mib") + 1])
        timeout = float(os.environ.get("ONERETURN_RECORDS_TIMEOUT_S", default_timeout))
    except (ValueError, KeyError, TypeError, AttributeError, OSError, IndexError):
        return None
    return json.dumps([asked, files, (timeout, memory), real], sort_keys=True, default=str)


def _ends_with_parent() -> None:
    # The real runner is killed when this process is: a caller's stop or time limit reaches it too.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _ok(answer: bytes) -> bool:
    try:
        return bool(json.loads(answer).get("ok"))
    except (ValueError, AttributeError):
        return False


def main(argv: list[str]) -> int:
    """Answer a runner's request from the run's answers, or run the real interpreter (and keep a good answer)."""
    real, answers, default_timeout, args = argv[0], Path(argv[1]), float(argv[2]), argv[3:]
    if not args or Path(args[0]).name != "dfe_runner.py":
        os.execv(real, [real, *args])
    request = sys.stdin.buffer.read()
    found = key(request, real, args, default_timeout)
    kept = answers / f"{hashlib.sha256(found.encode()).hexdigest()}.json" if found is not None else None
    if kept is not None and kept.exists():
        sys.stdout.buffer.write(kept.read_bytes())
        return 0
    # preexec_fn is safe here: this process has no threads of its own.
    done = subprocess.run([real, *args], input=request, stdout=subprocess.PIPE, preexec_fn=_ends_with_parent)
    sys.stdout.buffer.write(done.stdout)
    if kept is not None and done.returncode == 0 and _ok(done.stdout):
        aside = kept.with_name(f"{kept.stem}.{os.getpid()}.tmp")
        aside.write_bytes(done.stdout)
        aside.replace(kept)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
