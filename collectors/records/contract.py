"""The service's side of the contract with DfE's validation rules, run in their own environment.

DfE's rules for the SSDA903 return and the CIN census are published as the CSC validator libraries
(``csc-validator-be-903``, ``csc-validator-be-cin``). They pin pandas<2 and numpy<1.25, so ``./run`` builds them
an environment of their own (``.venv-validators`` from ``validators.lock``) and the service runs
``dfe_runner.py`` with that environment's interpreter, in a subprocess with a time and a memory limit.

Request (stdin, JSON)::

    {"contract": 1, "action": "validate", "library": "903" | "cin", "ruleset": "lac2024_25",
     "local_authority": "E10000024", "files": [{"name": "header.csv", "path": "/tmp/.../header.csv"}]}

Answer (stdout, JSON): ``{"contract": 1, "ok": true, ...}`` with the fields of :class:`Findings`, or
``{"contract": 1, "ok": false, "error": {"kind": "input" | "ruleset" | "library", "message": ...}}``. Exit
status 3 means the memory limit was reached.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from indicators.periods import read_collection_year
from onereturn.errors import InvalidInput, OneReturnError

Library = Literal["903", "cin"]

RUNNER = Path(__file__).with_name("dfe_runner.py")
CONTRACT = 1
EXIT_ERROR = 2
EXIT_MEMORY = 3
#: DfE's library loads the postcode table of every first letter among the return's postcodes (to work out
#: placement distances): DfE's fake 903 set, whose postcodes start with E and W, ran in 400 MiB of address space;
#: its XML, whose postcodes start with 18 letters, needed about 1 GiB.
DEFAULT_MEMORY_MIB = 2048
DEFAULT_TIMEOUT_S = 300.0
#: Each library's prefix for its rule sets, one a collection year (``lac2024_25``, ``cin2024_25``).
PREFIXES: dict[Library, str] = {"903": "lac", "cin": "cin"}
PACKAGES: dict[Library, str] = {"903": "csc-validator-be-903", "cin": "csc-validator-be-cin"}

logger = logging.getLogger(__name__)


class RecordsError(OneReturnError):
    """A record-level file could not be checked by DfE's rules; the message says why."""

    status_code = 422
    error_type = "records_error"


class NoRuleSet(RecordsError):
    """DfE's library has no rule set for the collection year asked for."""


class RecordsTimeout(RecordsError):
    """DfE's rules ran past the time limit."""


class RecordsMemoryLimit(RecordsError):
    """DfE's rules needed more memory than the limit."""


class RulesStopped(RecordsError):
    """DfE's rules were stopped because their findings were no longer wanted (the upload was refused first)."""


class ValidatorUnavailable(RecordsError):
    """The validators' environment is missing or broke without an answer."""

    status_code = 500


@dataclass(frozen=True)
class Finding:
    """One place where one of DfE's rules fails: the rule, its message, and the table, child, row and fields."""

    rule: str
    message: str
    table: str | None
    child: str | None
    row: int | None
    fields: tuple[str, ...]
    #: error, or query where DfE's library marks the rule a query (the CIN rules do; the 903 rules do not).
    severity: str = "error"


@dataclass(frozen=True)
class RuleNote:
    """A rule that did not run to its end (it raised, or a table it needs was not given): never a pass."""

    rule: str
    message: str
    reason: str


@dataclass(frozen=True)
class Findings:
    """Everything DfE's rules said about one return's files."""

    library: str
    library_version: str
    ruleset: str
    rules_run: int
    seconds: float
    tables: dict[str, int]
    tables_missing: tuple[str, ...]
    findings: tuple[Finding, ...]
    rules_raised: tuple[RuleNote, ...]
    rules_skipped: tuple[RuleNote, ...]
    #: SSDA903: each Episodes row's distance in miles from home to placement, as DfE's library works it out
    #: from the two postcodes (None where a postcode is missing or unknown); empty for the CIN census.
    episode_distances: tuple[float | None, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The findings as plain JSON values, in the contract's field names."""
        return {
            "library": self.library,
            "library_version": self.library_version,
            "ruleset": self.ruleset,
            "rules_run": self.rules_run,
            "seconds": self.seconds,
            "tables": self.tables,
            "tables_missing": list(self.tables_missing),
            "findings": [{**f.__dict__, "fields": list(f.fields)} for f in self.findings],
            "rules_raised": [n.__dict__ for n in self.rules_raised],
            "rules_skipped": [n.__dict__ for n in self.rules_skipped],
            "episode_distances": list(self.episode_distances),
        }


def validators_lock() -> Path:
    """The hash-locked requirements of DfE's rules' environment, as the checkout and the wheel both hold them."""
    return Path(__file__).with_name("validators.lock")


def validators_python() -> Path:
    """The interpreter of DfE's validators' environment (``ONERETURN_VALIDATORS_PYTHON`` overrides it)."""
    configured = os.environ.get("ONERETURN_VALIDATORS_PYTHON")
    python = (
        Path(configured) if configured else Path(__file__).resolve().parents[2] / ".venv-validators" / "bin" / "python"
    )
    if not python.exists():
        raise ValidatorUnavailable(
            f"DfE's validation rules are not installed ({python} is missing): `./run setup` builds "
            f".venv-validators from validators.lock ({validators_lock()} where installed from the wheel), or set "
            "ONERETURN_VALIDATORS_PYTHON"
        )
    return python


def ruleset_for(library: Library, year: str) -> str:
    """The rule set of a collection year written ``2024-25``, ``FY2024-25`` or ``2024/25`` (``lac2024_25``)."""
    try:
        start, end = read_collection_year(year).split("-")
    except InvalidInput as exc:
        raise NoRuleSet(exc.message) from None
    return f"{PREFIXES[library]}{start}_{end}"


def year_of(ruleset: str) -> str:
    """The collection year a rule set is for, as a user writes it (``lac2024_25`` -> ``2024-25``)."""
    return f"{ruleset[3:7]}-{ruleset[8:10]}"


def run_rules(
    library: Library,
    ruleset: str,
    files: list[tuple[str, Path]],
    *,
    local_authority: str | None = None,
    timeout_s: float | None = None,
    memory_mib: int | None = None,
    stop: threading.Event | None = None,
) -> Findings:
    """Run DfE's rule set over ``files`` (name, path) in the validators' environment and return what it found.

    Setting ``stop`` ends the rules' process within a tenth of a second and raises :class:`RulesStopped`.
    """
    request = {
        "contract": CONTRACT,
        "action": "validate",
        "library": library,
        "ruleset": ruleset,
        "local_authority": local_authority,
        "files": [{"name": name, "path": str(path)} for name, path in files],
    }
    answer = _call(request, timeout_s=timeout_s, memory_mib=memory_mib, stop=stop)
    return _findings(answer)


def _limits(timeout_s: float | None, memory_mib: int | None) -> tuple[float, int]:
    timeout = (
        timeout_s if timeout_s is not None else float(os.environ.get("ONERETURN_RECORDS_TIMEOUT_S", DEFAULT_TIMEOUT_S))
    )
    memory = (
        memory_mib
        if memory_mib is not None
        else int(os.environ.get("ONERETURN_RECORDS_MEMORY_MIB", DEFAULT_MEMORY_MIB))
    )
    return timeout, memory


#: A line of a traceback that names where the error was raised, or what kind of error it was.
_LOCATION = re.compile(r"^(Traceback \(most recent call last\):|  File .*)$")
_KIND = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))\b")


def without_values(text: str, *, lines: int = 60) -> str:
    """A traceback's places and kinds of error, without the errors' own words, which may quote a child's value."""
    kept = []
    for line in text.splitlines():
        if _LOCATION.match(line):
            kept.append(line)
        elif kind := _KIND.match(line):
            kept.append(kind.group(1))
    return "\n".join(kept[-lines:])


def _call(
    request: dict[str, Any], *, timeout_s: float | None, memory_mib: int | None, stop: threading.Event | None = None
) -> dict[str, Any]:
    timeout, memory = _limits(timeout_s, memory_mib)
    # One thread each: every BLAS thread reserves address space, which the memory limit counts.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if folders := {str(Path(f["path"]).parent) for f in request.get("files", [])}:
        # Anything DfE's library writes for itself goes into the caller's private folder, removed with the files.
        env["TMPDIR"] = min(folders)
    proc = subprocess.Popen(
        [str(validators_python()), str(RUNNER), "--memory-mib", str(memory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        out, err = _answer(proc, json.dumps(request).encode(), timeout, stop)
    except subprocess.TimeoutExpired:
        # The setting is the operator's to change: the log names it, the council is told what happened.
        logger.warning("DfE's rules ran past ONERETURN_RECORDS_TIMEOUT_S (%g s) and were stopped", timeout)
        raise RecordsTimeout(
            f"DfE's rules did not finish within the time limit of {timeout:g} s; nothing was checked. "
            "The service's operator can raise the limit; a smaller file may pass"
        ) from None
    finally:
        # Whatever stops the caller (a time limit, Ctrl-C, an error) stops the rules too.
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    if proc.returncode == EXIT_MEMORY:
        logger.warning("DfE's rules needed more than ONERETURN_RECORDS_MEMORY_MIB (%d MiB) and were stopped", memory)
        raise RecordsMemoryLimit(
            f"DfE's rules needed more than the memory limit of {memory} MiB; nothing was checked. "
            "The service's operator can raise the limit"
        )
    try:
        answer: dict[str, Any] = json.loads(out)
    except ValueError:
        logger.warning("DfE's rules stopped without an answer:\n%s", without_values(err.decode(errors="replace")))
        raise ValidatorUnavailable(
            f"DfE's rules stopped without an answer (exit status {proc.returncode}); the service's log has more"
        ) from None
    if not answer.get("ok"):
        error = answer.get("error", {})
        kind, message = error.get("kind"), str(error.get("message"))
        if kind == "ruleset":
            library: Library = request["library"]
            years = ", ".join(year_of(name) for name in error.get("available", []))
            raise NoRuleSet(
                f"{PACKAGES[library]} has no rule set for {year_of(request['ruleset'])}; years available: {years}"
            )
        if kind == "input":
            raise RecordsError(message)
        logger.warning("DfE's library failed:\n%s", without_values(err.decode(errors="replace")))
        raise ValidatorUnavailable(f"DfE's library failed ({message.split(':', 1)[0]}); the service's log has more")
    return answer


def _answer(
    proc: subprocess.Popen[bytes], request: bytes, timeout: float, stop: threading.Event | None
) -> tuple[bytes, bytes]:
    """The rules' output and error, read to their end within ``timeout``; looked in on every tenth of a second
    while ``stop`` may be set, so that an upload refused by its own read does not wait for findings it will not use."""
    if stop is None:
        return proc.communicate(request, timeout=timeout)
    deadline = time.monotonic() + timeout
    sent: bytes | None = request
    while True:
        try:
            return proc.communicate(sent, timeout=max(0.0, min(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            # What was written stays written: the input goes with the first call alone.
            sent = None
            if stop.is_set():
                raise RulesStopped("DfE's rules were stopped: the upload was refused before they finished") from None
            if time.monotonic() >= deadline:
                raise


def _findings(answer: dict[str, Any]) -> Findings:
    def notes(key: str) -> tuple[RuleNote, ...]:
        return tuple(RuleNote(n["rule"], n["message"] or "", n["reason"]) for n in answer[key])

    return Findings(
        library=answer["library"],
        library_version=answer["library_version"],
        ruleset=answer["ruleset"],
        rules_run=answer["rules_run"],
        seconds=answer["seconds"],
        tables=dict(answer["tables"]),
        tables_missing=tuple(answer["tables_missing"]),
        findings=tuple(
            Finding(
                f["rule"],
                f["message"] or "",
                f["table"],
                f["child"],
                f["row"],
                tuple(f["fields"]),
                f.get("severity", "error"),
            )
            for f in answer["findings"]
        ),
        rules_raised=notes("rules_raised"),
        rules_skipped=notes("rules_skipped"),
        episode_distances=tuple(answer.get("episode_distances", [])),
    )
