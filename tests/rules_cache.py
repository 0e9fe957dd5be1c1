"""DfE's rules, run once per distinct input in a test run.

DfE's libraries are deterministic: the same files, rule set, local authority and limits give the same findings.
Many tests send the same fake files (DfE's own samples, the synthetic council's) only to check what the service
does with the findings; the run's first pytest process to meet an input runs the rules for real and keeps what
they said in the run's shared folder, and every process answers the same request again from it. An input is its
files' bytes (not their paths), the request's other fields, the limits in force and the interpreter that runs the
rules, so a test that changes any of these (a time or memory limit, a broken interpreter, a changed file) runs
them again; only answers are kept, never errors. Two processes meeting a new input at once both run the rules,
and each writes the same answer whole (written aside, then renamed).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from collectors.records import contract

Call = Callable[..., dict[str, Any]]


def _key(request: dict[str, Any], timeout_s: float | None, memory_mib: int | None) -> str | None:
    """The input's identity, or None when one of its files cannot be read (the real call reports that)."""
    files = []
    for entry in request.get("files", []):
        try:
            digest = hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
        except OSError:
            return None
        files.append((entry["name"], digest))
    limits = contract._limits(timeout_s, memory_mib)
    fields = {k: v for k, v in request.items() if k != "files"}
    return json.dumps([fields, files, limits, str(contract.validators_python())], sort_keys=True, default=str)


def remembering(real: Call, folder: Path) -> Call:
    """Wrap ``contract._call`` so that a request already answered in this run (its answers kept in ``folder``) is
    answered the same again."""
    folder.mkdir(parents=True, exist_ok=True)

    def call(
        request: dict[str, Any], *, timeout_s: float | None, memory_mib: int | None, **more: Any
    ) -> dict[str, Any]:
        key = _key(request, timeout_s, memory_mib)
        kept = folder / f"{hashlib.sha256(key.encode()).hexdigest()}.json" if key is not None else None
        if kept is not None and kept.exists():
            again: dict[str, Any] = json.loads(kept.read_text())
            return again
        answer = real(request, timeout_s=timeout_s, memory_mib=memory_mib, **more)
        if kept is not None:
            aside = kept.with_name(f"{kept.stem}.{os.getpid()}.tmp")
            aside.write_text(json.dumps(answer))
            aside.replace(kept)
        return answer

    return call
