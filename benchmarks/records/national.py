"""The national round of ``bench records`` on every core: the councils' sets run at once, as many as processes.

Each council's files are a separate upload, and the service processes uploads in processes of their own (an API
worker's upload slots, ``ONERETURN_UPLOAD_SLOTS``), each starting DfE's rules in a process of its own: a round of
150 councils is work for every core. Here the national sample's sets (taken again in turn to make whole waves, one
set per process) are run at once on ``--processes`` processes (default: the cores this process may use), three
ways: the service's path (each set by one of as many worker processes started beforehand with the service
imported, as the service's upload processes are, and as the one-after-another path of ``bench records`` is timed
once the service is imported), DfE's library alone (each set in a fresh process of its environment, from its start,
as one after another), and uploads to the running service, all sent at once (fresh sets, so none is answered as an
earlier upload), to the last stage of each. The round's time on N processes is the wall-clock time of the whole
over its sets, times 150: an extrapolation, printed beside the one-process round of the same sample. The cores each
way kept busy (the processor time of its processes over the round's wall-clock time) say how much of the machine it
had: on a machine busy with other work, fewer than N.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.records.path import COUNCIL_KEY, FINAL_STAGES, library_run, one

COUNCILS = 150
#: The national round on N processes against the same round on one: issue 65's target.
TARGET_SHARE = 0.6


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass
class Round:
    """The sample's sets run at once on ``processes`` processes: the wall-clock seconds of each way, for ``jobs``."""

    processes: int
    jobs: int
    path: float
    library: float
    upload: float | None = None
    #: Processor seconds over wall-clock seconds of the path's and the library's rounds: the cores they kept busy.
    path_cores: float = 0.0
    library_cores: float = 0.0


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _at_once(run: Callable[[list[Path]], Any], jobs: list[list[Path]], processes: int) -> tuple[float, float]:
    """Seconds from the first start to the last end, each job run in a process of its own, ``processes`` at once;
    and the cores kept busy meanwhile (the processor time of the processes that ended, over those seconds)."""
    started, cpu = time.perf_counter(), _children_cpu()
    with ThreadPoolExecutor(processes) as pool:
        list(pool.map(run, jobs))
    seconds = time.perf_counter() - started
    return seconds, (_children_cpu() - cpu) / seconds


def _import_service() -> None:
    """A worker's start: the service's path imported before any set, as an upload process imports it."""
    for module in (
        "benchmarks.records.path",
        "collectors.records.contract",
        "collectors.records.inputs",
        "collectors.records.ssda903_tables",
        "collectors.records.ssda903_figures",
    ):
        importlib.import_module(module)


def _started(_: int) -> None:
    # Long enough that each of the workers takes one, so every worker has started before the clock does.
    time.sleep(0.5)


def _cpu_with_children() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _path_job(job: tuple[list[Path], str, str]) -> float:
    """One set's path in a worker; the processor seconds it took there and in its DfE's rules' process."""
    files, year, la = job
    before = _cpu_with_children()
    one("903", files, year, la)
    return _cpu_with_children() - before


def _in_workers(jobs: list[list[Path]], processes: int, year: str, la: str) -> tuple[float, float]:
    """Seconds from the first set to the last, each run by one of ``processes`` workers started beforehand with the
    service imported; and the cores kept busy meanwhile (the sets' processor time over those seconds)."""
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=spawn, initializer=_import_service) as pool:
        list(pool.map(_started, range(processes)))
        started = time.perf_counter()
        cpu = sum(pool.map(_path_job, [(files, year, la) for files in jobs]))
        seconds = time.perf_counter() - started
    return seconds, cpu / seconds


def _upload_one(server: Any, files: list[Path], year: str) -> str:
    """Upload one council's files and wait for the submission's last stage; return that stage."""
    body = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in files]
    answer = server.client.post("/api/submissions", headers=COUNCIL_KEY, data={"collection_year": year}, files=body)
    if answer.status_code != 202:
        raise SystemExit(f"the upload was answered {answer.status_code}, not 202: {answer.text[:500]}")
    while True:
        stage = str(server.client.get(f"/api/submissions/{answer.json()['id']}", headers=COUNCIL_KEY).json()["stage"])
        if stage in FINAL_STAGES:
            return stage
        time.sleep(0.05)


def national_round(
    sets: list[list[Path]], processes: int, year: str, la: str, server: Any, fresh: Callable[[int], list[Path]]
) -> Round:
    """Run the sample's sets at once on ``processes`` processes (path, library alone, uploads)."""
    count = -(-len(sets) // processes) * processes
    jobs = [sets[i % len(sets)] for i in range(count)]
    path, path_cores = _in_workers(jobs, processes, year, la)
    library, library_cores = _at_once(lambda files: library_run("903", files, year, la), jobs, processes)
    found = Round(processes, count, path, library, path_cores=path_cores, library_cores=library_cores)
    if server is not None:
        uploads = [fresh(k) for k in range(count)]
        found.upload = _at_once(lambda files: _upload_one(server, files, year), uploads, count)[0]
    return found


def round_lines(found: Round, one: tuple[int, float, float, float | None]) -> list[str]:
    """The round on N processes as a row of the records table, and its verdict against the one-process round."""
    sample, path_one, library_one, upload_one = one
    path, library = found.path / found.jobs * COUNCILS, found.library / found.jobs * COUNCILS
    upload = found.upload / found.jobs * COUNCILS if found.upload is not None else None
    via = f"{upload:.0f} | {upload / library:.2f} |" if upload is not None else "| |"
    row = (
        f"| national: 150 councils on {found.processes} processes at once, EXTRAPOLATED from {found.jobs} set(s) "
        f"| 150 x county | {path:.0f} | {library:.0f} | {path / library:.2f} | | {via} | | | | |"
    )
    shares = [("the service's path", path / path_one), ("DfE's library alone", library / library_one)]
    if upload is not None and upload_one is not None:
        shares.append(("through the service's uploads", upload / upload_one))
    verdict = f"national round on {found.processes} processes against one ({sample} set(s) one after another): " + (
        "; ".join(
            f"{name} {share:.2f}x ({'within' if share <= TARGET_SHARE else 'OVER'} the {TARGET_SHARE}x target)"
            for name, share in shares
        )
        + f"; cores kept busy: the path {found.path_cores:.2f}, the library alone {found.library_cores:.2f}"
    )
    return [row, verdict]
