"""A bounded load test on loopback: N uploaders and M regulators against the real service for T seconds.

The service runs as `onereturn serve` in a child process on 127.0.0.1 (SQLite with the scheduler
embedded, or PostgreSQL with several workers and `onereturn scheduler` beside them), with the
bundled catalogue and demo. Each uploader sends the ONS population figures for its own calendar
years again and again through the officer's key: the first upload new figures, most later ones
a revision of every figure, every third an identical repeat. Each regulator pulls its return's
CSV and JSON over and over. Afterwards the store is read directly: every figure the service
said it accepted must be current exactly once with the last accepted value (no figure lost, none
duplicated), and every accepted revision must be in the history. Everything stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.stores import empty_postgres

OFFICER = "demo-officer-5e0b9c2a4f"
REGULATORS = [
    ("demo-regulator-dfe-7a3c18e2", "/api/returns/dfe_ssda903/FY2024-25.csv"),
    ("demo-regulator-dfe-7a3c18e2", "/api/returns/dfe_cin_census/FY2024-25.json"),
    ("demo-regulator-ohid-c4d91f60", "/api/returns/ndtms_adult_monthly/2024-03.csv"),
]


def _ports() -> range | None:
    """The loopback ports the service may take when ONERETURN_BENCH_PORTS ("8190-8199") names them."""
    named = os.environ.get("ONERETURN_BENCH_PORTS", "")
    if not named:
        return None
    first, _, last = named.partition("-")
    return range(int(first), int(last or first) + 1)


ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Tally:
    """What one kind of request saw: latencies of answered requests and counts by outcome."""

    seconds: list[float] = field(default_factory=list)
    status: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: The service's own account of each answered request (its Server-Timing header), in seconds by part.
    parts: dict[str, list[float]] = field(default_factory=dict)

    def add(self, status: int, seconds: float, timing: str = "") -> None:
        """Record one answered request (with its Server-Timing header, if it had one)."""
        with self.lock:
            self.status[status] = self.status.get(status, 0) + 1
            self.seconds.append(seconds)
            for name, taken in server_timing(timing).items():
                self.parts.setdefault(name, []).append(taken)

    def row(self, name: str, wall: float) -> dict[str, Any]:
        """Summarise as one table row."""
        count = len(self.seconds)
        p50, p99 = _percentiles(self.seconds)
        return {
            "kind": name,
            "requests": count,
            "per_second": count / wall if wall else 0.0,
            "p50_ms": p50 * 1000,
            "p99_ms": p99 * 1000,
            "parts": {part: [p * 1000 for p in _percentiles(taken)] for part, taken in self.parts.items()},
            "5xx": sum(n for s, n in self.status.items() if s >= 500),
            "503": self.status.get(503, 0),
            "client_errors": self.errors,
            "status": dict(sorted(self.status.items())),
        }


def _percentiles(seconds: list[float]) -> tuple[float, float]:
    ordered = sorted(seconds)
    if not ordered:
        return float("nan"), float("nan")
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def server_timing(header: str) -> dict[str, float]:
    """The durations a Server-Timing header gives, in seconds by name (``slot;dur=1.5;desc="…", process;dur=…``)."""
    parts: dict[str, float] = {}
    for metric in filter(None, (m.strip() for m in header.split(","))):
        name, *params = (p.strip() for p in metric.split(";"))
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "dur":
                parts[name] = float(value) / 1000
    return parts


def free_port() -> int:
    """Return a loopback port nothing is bound to: the first free one of ONERETURN_BENCH_PORTS, or one the system picks.

    Probed by binding rather than connecting, so a port bound by a service not yet listening counts as taken;
    without a named range, concurrent runs (the test suite's workers) get different ports from the system.
    """
    ports = _ports()
    for port in ports if ports is not None else [0]:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            chosen: int = probe.getsockname()[1]
            return chosen
    assert ports is not None
    raise SystemExit(f"no free port in {ports.start}-{ports.stop - 1} (ONERETURN_BENCH_PORTS)")


def _population_keys(env: dict[str, str]) -> tuple[list[str], list[str]]:
    code = (
        "import json\n"
        "from onereturn import db\n"
        "from sqlalchemy import text\n"
        "e = db.get_engine()\n"
        "with e.connect() as c:\n"
        "    orgs = [r[0] for r in c.execute(text(\"SELECT org_code FROM agency_org WHERE agency_code = 'ons' ORDER BY 1\"))]\n"
        "    inds = [r[0] for r in c.execute(text(\"SELECT indicator_id FROM agency_indicator WHERE agency_code = 'ons' "
        "AND indicator_id LIKE 'pop.%' ORDER BY 1\"))]\n"
        "print(json.dumps([inds, orgs]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    inds, orgs = json.loads(out.stdout.strip().splitlines()[-1])
    return inds, orgs


def _csv(keys: list[tuple[str, str, str]], step: int) -> bytes:
    lines = ["indicator,org,period,value"]
    lines += [f"{ind},{org},{period},{100_000 + 10 * i + step}" for i, (ind, org, period) in enumerate(keys)]
    return ("\n".join(lines) + "\n").encode()


def _uploader(
    url: str,
    keys: list[tuple[str, str, str]],
    stop: float,
    tally: Tally,
    accepted: dict[tuple[str, str, str], set[int]],
    every: float = 0.0,
) -> None:
    """Upload again and again (back to back, or one upload started every ``every`` seconds); ``accepted`` keeps, per
    figure, the values it may now hold (the last acknowledged, and any sent since whose answer never came back)."""
    step = 0
    sent = 0
    # Paced senders start at different instants, as agencies do, not all in the same second.
    due = time.monotonic() + random.uniform(0, every)
    with httpx.Client(base_url=url, timeout=300, headers={"X-API-Key": OFFICER}) as client:
        while time.monotonic() < stop:
            if every:
                if due >= stop:
                    return
                time.sleep(max(0.0, due - time.monotonic()))
                due += every
            # Every third upload repeats the one before it exactly; the others revise every figure.
            send = step if sent % 3 == 2 else step + 1
            data = _csv(keys, send)
            start = time.perf_counter()
            try:
                answer = client.post(
                    "/api/submissions", files={"file": ("population.csv", data, "text/csv")}, data={"agency": "ons"}
                )
            except httpx.HTTPError:
                tally.errors += 1
                for key in keys:
                    accepted.setdefault(key, set()).add(send)
                continue
            tally.add(answer.status_code, time.perf_counter() - start, answer.headers.get("server-timing", ""))
            if answer.status_code >= 500 and answer.status_code != 503:
                for key in keys:
                    accepted.setdefault(key, set()).add(send)
            if answer.status_code == 503:
                time.sleep(float(answer.headers.get("retry-after", "1")))
                continue
            if answer.status_code in (200, 201):
                body = answer.json()
                if body.get("status") == "accepted":
                    for key in keys:
                        accepted[key] = {send}
                step = send
            sent += 1


def _regulator(url: str, key: str, path: str, stop: float, tally: Tally) -> None:
    with httpx.Client(base_url=url, timeout=60, headers={"X-API-Key": key}) as client:
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                answer = client.get(path)
            except httpx.HTTPError:
                tally.errors += 1
                continue
            tally.add(answer.status_code, time.perf_counter() - start)


def _check_store(env: dict[str, str], accepted: dict[tuple[str, str, str], set[int]]) -> dict[str, int]:
    """Read the store directly: each accepted figure current exactly once, with the last accepted value."""
    expected = [
        [ind, org, period, [100_000 + 10 * i + step for step in steps]]
        for (ind, org, period, i), steps in _indexed(accepted)
    ]
    code = (
        "import json, sys\n"
        "from onereturn import db\n"
        "from sqlalchemy import text\n"
        "expected = json.load(sys.stdin)\n"
        "e = db.get_engine()\n"
        "with e.connect() as c:\n"
        '    rows = c.execute(text("SELECT indicator_id, org_code, period, value, version FROM observation "\n'
        "        \"WHERE is_current AND indicator_id LIKE 'pop.%' AND submission_id IN \"\n"
        "        \"(SELECT id FROM submission WHERE filename = 'population.csv')\")).all()\n"
        '    versions = c.execute(text("SELECT count(*) FROM observation o JOIN submission s ON s.id = o.submission_id "\n'
        "        \"WHERE s.filename = 'population.csv'\")).scalar_one()\n"
        "current = {}\n"
        "duplicated = 0\n"
        "for ind, org, period, value, version in rows:\n"
        "    k = (ind, org, period)\n"
        "    duplicated += k in current\n"
        "    current[k] = value\n"
        "lost = sum(1 for ind, org, period, values in expected if current.get((ind, org, period)) not in values)\n"
        "unexpected = len(set(current) - {(i, o, p) for i, o, p, _ in expected})\n"
        "print(json.dumps({'expected': len(expected), 'current': len(current), 'lost': lost, "
        "'duplicated': duplicated, 'unexpected': unexpected, 'versions': versions}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
        input=json.dumps(expected),
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


_ORDER: dict[tuple[str, str, str], int] = {}


def _indexed(accepted: dict[tuple[str, str, str], set[int]]) -> list[tuple[tuple[str, str, str, int], set[int]]]:
    return [((*key, _ORDER[key]), step) for key, step in accepted.items()]


def _start(
    env: dict[str, str], port: int, workers: int, log: Path, within: float = 180
) -> list[subprocess.Popen[bytes]]:
    command = [sys.executable, "-c", "import cli; cli.main()"]
    out = log.open("ab")
    procs = [
        subprocess.Popen(
            [*command, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    ]
    if env.get("ONERETURN_SCHEDULER_EMBEDDED") == "false":
        procs.append(
            subprocess.Popen([*command, "scheduler"], env=env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True)
        )
    deadline = time.monotonic() + within
    # One client for every poll: each new one makes an SSL context, CPU taken from the start it waits for.
    with httpx.Client(timeout=2, limits=httpx.Limits(max_keepalive_connections=0)) as poll:
        while time.monotonic() < deadline:
            if procs[0].poll() is not None:
                raise SystemExit(f"the service stopped while starting; see {log}:\n{log.read_text()[-2000:]}")
            try:
                if poll.get(f"http://127.0.0.1:{port}/api/indicators?limit=1").status_code == 200:
                    return procs
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    _stop(procs)
    raise SystemExit(f"the service did not start within {within:.0f} s")


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    import signal

    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run(
    *,
    uploaders: int,
    regulators: int,
    seconds: float,
    figures: int,
    database_url: str = "",
    workers: int = 1,
    folder: Path | None = None,
    every: float = 0.0,
) -> dict[str, Any]:
    """Run the load test and return its table rows and the store check; ``every`` paces each uploader to one
    upload started every so many seconds (0: back to back)."""
    if database_url.startswith("postgresql"):
        # The store check reads back what this run's uploads were answered; figures a run before left
        # (the same keys, the same files) would be taken as repeats and answered without storing.
        empty_postgres(database_url)
    with tempfile.TemporaryDirectory(prefix="onereturn-load-") as tmp:
        data_dir = Path(folder or tmp)
        env = _service_env(data_dir, database_url, workers)
        port = free_port()
        log = data_dir / "service.log"
        started = time.monotonic()
        procs = _start(env, port, workers, log)
        try:
            startup = time.monotonic() - started
            inds, orgs = _population_keys(env)
            per_year = len(inds) * len(orgs)
            years = -(-figures // per_year)
            url = f"http://127.0.0.1:{port}"
            upload_tally, pull_tally = Tally(), Tally()
            accepted: dict[tuple[str, str, str], set[int]] = {}
            threads = []
            stop = time.monotonic() + seconds
            for u in range(uploaders):
                # Years no bundled or demo figure has, inside the years a period may cover (from 1900).
                first = 1900 + u * years
                keys = [(ind, org, f"CY{first + y}") for y in range(years) for ind in inds for org in orgs][:figures]
                for i, key in enumerate(keys):
                    _ORDER[key] = i
                threads.append(
                    threading.Thread(target=_uploader, args=(url, keys, stop, upload_tally, accepted, every))
                )
            for r in range(regulators):
                api_key, path = REGULATORS[r % len(REGULATORS)]
                threads.append(threading.Thread(target=_regulator, args=(url, api_key, path, stop, pull_tally)))
            begun = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - begun
        finally:
            _stop(procs)
        store = _check_store(env, accepted)
        return {
            "engine": "PostgreSQL" if database_url.startswith("postgresql") else "SQLite",
            "workers": workers,
            "uploaders": uploaders,
            "regulators": regulators,
            "seconds": round(wall, 1),
            "figures_per_upload": figures,
            "every": every,
            "startup_seconds": round(startup, 1),
            "rows": [upload_tally.row(f"upload ({figures:,} figures)", wall), pull_tally.row("pull (snapshot)", wall)],
            "store": store,
        }


def _service_env(data_dir: Path, database_url: str, workers: int) -> dict[str, str]:
    """The environment the service under load runs in: its own folder and store, the demo's keys and agencies."""
    return {
        **os.environ,
        "ONERETURN_DATA_DIR": str(data_dir),
        "ONERETURN_DATABASE_URL": database_url,
        "ONERETURN_LOAD_DEMO": "true",
        "ONERETURN_HOST": "127.0.0.1",
        # Uploads queue for a slot rather than being turned away, so the test measures work, not refusals.
        "ONERETURN_UPLOAD_WAIT_SECONDS": "120",
        "ONERETURN_SCHEDULER_EMBEDDED": "true" if workers == 1 else "false",
    }


#: The service's names for the parts of an upload's time (its Server-Timing header), as the table shows them.
_PARTS = {"slot": "waiting for a slot", "process": "processing"}


def main(argv: list[str]) -> None:
    """Run the load test from the command line and print its tables."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks load", description=__doc__)
    parser.add_argument("--uploaders", type=int, default=8)
    parser.add_argument("--regulators", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--figures", type=int, default=5000, help="figures per upload (default 5,000)")
    parser.add_argument(
        "--database-url", default="", help="PostgreSQL URL, emptied first (default: SQLite in a temporary folder)"
    )
    parser.add_argument("--workers", type=int, default=1, help="API workers (more than 1 runs `onereturn scheduler`)")
    parser.add_argument(
        "--every",
        type=float,
        default=0.0,
        help="paced: each uploader starts one upload every N seconds (default: back to back)",
    )
    args = parser.parse_args(argv)
    result = run(
        uploaders=args.uploaders,
        regulators=args.regulators,
        seconds=args.seconds,
        figures=args.figures,
        database_url=args.database_url,
        workers=args.workers,
        every=args.every,
    )
    pace = f"one upload each every {args.every:g} s" if args.every else "back to back"
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())} at the end; uploads {pace}")
    print(
        f"{result['engine']}, {result['workers']} worker(s): {result['uploaders']} uploaders and "
        f"{result['regulators']} regulators for {result['seconds']} s (service started in {result['startup_seconds']} s)"
    )
    print(f"{'kind':<24}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'5xx':>5}{'503':>5}  statuses")
    for row in result["rows"]:
        print(
            f"{row['kind']:<24}{row['requests']:>9}{row['per_second']:>8.1f}{row['p50_ms']:>9.0f}{row['p99_ms']:>9.0f}"
            f"{row['5xx']:>5}{row['503']:>5}  {row['status']}"
        )
        for part, (p50, p99) in row["parts"].items():
            print(f"{'  ' + _PARTS.get(part, part):<24}{'':>9}{'':>8}{p50:>9.0f}{p99:>9.0f}")
    store = result["store"]
    print(
        f"store: {store['expected']:,} figures accepted, {store['current']:,} current, lost {store['lost']}, "
        f"duplicated {store['duplicated']}, unexpected {store['unexpected']}, {store['versions']:,} versions kept"
    )
    upload, pull = result["rows"]
    print(
        f"targets: pull p99 < 250 ms: {pull['p99_ms']:.0f} ms (ratio {pull['p99_ms'] / 250:.2f}); "
        f"upload p99 < 3,000 ms: {upload['p99_ms']:.0f} ms (ratio {upload['p99_ms'] / 3000:.2f})"
    )
