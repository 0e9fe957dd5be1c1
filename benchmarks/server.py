"""A running service for the benchmarks: ``onereturn serve`` in its own process on a fresh data directory, the
processes it started and their peak resident memory (``/proc``), and a free port to start it on.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

GIB = 1 << 30
MIB = 1 << 20


def processes_of(root: int) -> list[int]:
    """A process and every process it started, from any of its threads, recursively."""
    return list(family_of(root))


def family_of(root: int) -> dict[int, int]:
    """A process and every process it started, recursively, each with the process that started it (the root with 0)."""
    found = {root: 0}
    queue = [root]
    for pid in queue:
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            try:
                started = [int(c) for c in children.read_text().split()]
            except OSError:
                continue
            for child in started:
                found[child] = pid
                queue.append(child)
    return found


def statuses(pid: int, *fields: str) -> dict[str, int]:
    """Memory fields of a process's status in bytes, read at once (each 0 once the process has ended)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return dict.fromkeys(fields, 0)
    found = dict.fromkeys(fields, 0)
    for line in lines:
        name, _, rest = line.partition(":")
        if name in found:
            found[name] = int(rest.split()[0]) * 1024
    return found


def command_of(pid: int) -> str:
    """A process's command line, its arguments joined by spaces ("" once it has ended)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def status(pid: int, field: str) -> int:
    """A memory field of a process's status in bytes; 0 once the process has ended (an upload process renewed)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def reset_peak(pid: int) -> None:
    """Start the process's peak resident set (``VmHWM``) again from what it holds now."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _bare_store(data_dir: Path) -> None:
    """A SQLite store in ``data_dir`` with the catalogue, the demo's agencies and keys, and one upload.

    A first ``serve`` loads the demo's uploads only into a store that has none: the one upload here (another
    council's figure) is what keeps them out.
    """
    from collectors.figures.service import submit
    from mappings.service import load_bundled
    from onereturn import db
    from onereturn.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, database_url="")
    engine = db.make_engine(settings.effective_database_url)
    try:
        db.upgrade(engine)
        with db.session_scope(engine) as session:
            load_bundled(session, demo_keys=True)
        figure = b"indicator,org,period,value\ncyp.lac_count,E09000023,2025-03-31,480\n"
        submit(engine, settings, agency_code="lewisham_council", filename="lewisham.csv", data=figure)
    finally:
        engine.dispose()


@contextmanager
def sampling(every: float, sample: Callable[[], None]) -> Iterator[None]:
    """Call ``sample`` on a thread of its own every ``every`` seconds while the block runs, and once after it."""
    done = threading.Event()

    def run() -> None:
        while True:
            sample()
            if done.wait(every):
                return

    sampler = threading.Thread(target=run, daemon=True)
    sampler.start()
    try:
        yield
    finally:
        done.set()
        sampler.join()
        sample()


@contextmanager
def sampled_peaks(root: int) -> Iterator[dict[int, int]]:
    """The peak resident memory (VmHWM) of each process of ``root`` (itself and its children), sampled every 50 ms
    while the block runs and once after it: an upload process renewed after a large upload takes its high-water mark
    with it, so the end alone would miss it. Each is reset first."""
    for pid in processes_of(root):
        reset_peak(pid)
    peaks: dict[int, int] = {}

    def sample() -> None:
        for pid in processes_of(root):
            peaks[pid] = max(peaks.get(pid, 0), status(pid, "VmHWM"))

    with sampling(0.05, sample):
        yield peaks


class Server:
    """``onereturn serve`` in its own process on a fresh data directory.

    With ``demo`` (the default) the server loads the demo as a first start does; without, its store is made
    beforehand with the catalogue, the demo's keys and one upload of another council, so it starts without the
    demo's uploads.
    """

    def __init__(self, folder: Path, port: int, max_upload_bytes: int, *, demo: bool = True) -> None:
        self.folder = folder
        self.port = port
        self.tmp = folder / "tmp"
        self.tmp.mkdir()
        env = {
            **os.environ,
            "ONERETURN_DATA_DIR": str(folder / "data"),
            "ONERETURN_PORT": str(port),
            "ONERETURN_SCHEDULER_EMBEDDED": "false",
            "ONERETURN_MAX_UPLOAD_BYTES": str(max_upload_bytes),
            "ONERETURN_MAX_UPLOAD_ROWS": "2000000",
            "TMPDIR": str(self.tmp),
        }
        env.pop("ONERETURN_DATABASE_URL", None)
        if not demo:
            _bare_store(folder / "data")
        self.log = open(folder / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import cli; cli.main()", "serve"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=3600)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if self.client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.5)
        raise RuntimeError(f"the server did not start; see {folder / 'server.log'}")

    def _processes(self) -> list[int]:
        """The server and its upload processes (uploads are processed in processes of their own)."""
        return processes_of(self.proc.pid)

    def measure(self, name: str, call: Any) -> tuple[dict[str, Any], Any]:
        """Run one request; return the peak resident memory of the server's biggest process during it, with the response."""
        before = max(status(pid, "VmRSS") for pid in self._processes())
        with sampled_peaks(self.proc.pid) as peaks:
            started = time.monotonic()
            try:
                response = call()
            finally:
                seconds = time.monotonic() - started
        peak = max(peaks.values())
        row = {
            "phase": name,
            "status": response.status_code,
            "seconds": round(seconds, 1),
            "rss_before_mib": round(before / MIB),
            "peak_mib": round(peak / MIB),
            "under_1_gib": peak < GIB,
        }
        print(json.dumps(row), flush=True)
        return row, response

    def temp_bytes(self) -> int:
        """Bytes in the server's temporary files right now, open (even unlinked) or not."""
        total = 0
        fds = Path(f"/proc/{self.proc.pid}/fd")
        for fd in fds.iterdir():
            try:
                target = os.readlink(fd)
                if target.startswith(str(self.tmp)) or (target.startswith("/tmp/") and "(deleted)" in target):
                    total += os.stat(fd).st_size
            except OSError:
                continue
        return total

    def stop(self) -> None:
        """Stop the server."""
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def free_port() -> int:
    """A port free on the loopback now, for a server started next."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
