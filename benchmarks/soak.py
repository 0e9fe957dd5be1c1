"""A bounded soak on loopback: uploads, publisher imports and sign-offs on two API workers, with a scheduler and a
standby, while the service's PostgreSQL connections are ended; then every answer is checked against the store.

`onereturn serve --workers 2` and two `onereturn scheduler` processes run on the PostgreSQL database given (emptied
first), with the demo. While the load runs, every connection of the service is ended every 0.4-0.8 s, and the
active scheduler's lock connection every few seconds. A request answered 503 is sent again (as its Retry-After
asks), up to a bound. Afterwards the store is read: a 2xx is stored; a change is never stored twice; a 503 is not
stored, or its repeat is answered as one; every stored change has its audit event; and at most one scheduler
heartbeats at any time. Everything stops by itself after ``--seconds``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks.load import ROOT, _start, _stop, free_port
from benchmarks.stores import empty_postgres

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
SIGNOFF = "/api/signoffs/notts_cyp/dfe_ssda903/FY2024-25"
SOURCE = "ons_population_0_17"
ONS = ROOT / "collectors" / "published" / "files" / "ons_mid-year_population_estimates_2012_to_2024.csv"
#: The scheduler lock's key (onereturn.locks.LOCK_KEY), as pg_locks shows it.
LOCK_OBJID = 0x0E7E7A11 & 0xFFFFFFFF
#: Times a request answered 503 is sent again before the soak gives up on it.
RESENDS = 30
#: Names this process's own connections, which the ending spares.
ME = "onereturn-soak"


@dataclass
class Sent:
    """One change sent, and every answer it got, in order."""

    kind: str
    key: str
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


@dataclass
class Run:
    """What the soak did and saw."""

    sent: list[Sent] = field(default_factory=list)
    ended: int = 0
    lock_ended: int = 0
    beats: set[tuple[str, float]] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: Seconds between two rounds of ending the service's connections, at least and at most.
    every: tuple[float, float] = (0.4, 0.8)

    def new(self, kind: str, key: str) -> Sent:
        """Keep a change about to be sent."""
        sent = Sent(kind, key)
        with self.lock:
            self.sent.append(sent)
        return sent


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _send(sent: Sent, stop: threading.Event, call: Any) -> tuple[int, dict[str, Any]]:
    """Send a change, and again after each 503 (its Retry-After), up to RESENDS times; return the last answer."""
    status, body = 0, {}
    for _ in range(RESENDS):
        try:
            answer = call()
        except httpx.HTTPError as exc:
            status, body = 0, {"error": type(exc).__name__}
        else:
            status = answer.status_code
            try:
                body = answer.json()
            except ValueError:
                body = {"text": answer.text[:200]}
            if isinstance(body, list):
                body = {"items": body}
        sent.answers.append((status, body))
        if status not in (0, 503):
            break
        retry = float(answer.headers.get("retry-after", "1")) if status == 503 else 1.0
        if stop.wait(min(retry, 2.0)) and len(sent.answers) > 3:
            break
    return status, body


def _uploads(base: str, run: Run, stop: threading.Event, who: int) -> None:
    with httpx.Client(base_url=base, timeout=120, headers=NOTTS) as client:
        n = 0
        while not stop.is_set():
            n += 1
            # Values close together (no query holds them); each file told apart by its note.
            name = f"soak-{who}-{n}.csv"
            data = f"indicator,org,period,value,note\ncyp.lac_count,E10000024,2025-03-31,{1200 + n % 5},{name}\n"
            sent = run.new("upload", name)
            _send(sent, stop, partial(client.post, "/api/submissions", files={"file": (name, data, "text/csv")}))


def _imports(base: str, run: Run, stop: threading.Event) -> None:
    original = ONS.read_bytes()
    with httpx.Client(base_url=base, timeout=120, headers=OFFICER) as client:
        n = 0
        while not stop.is_set():
            n += 1
            # A release of its own each time: one figure revised.
            data = original.replace(b",62744\n", f",{62744 + n}\n".encode())
            sent = run.new("import", hashlib.sha256(data).hexdigest())
            path = f"/api/published/sources/{SOURCE}/releases"
            _send(sent, stop, partial(client.post, path, files={"file": ("ons.csv", data, "text/csv")}))
            stop.wait(0.5)


def _sign_offs(base: str, run: Run, stop: threading.Event) -> None:
    from mappings.catalogue import DEFAULT_DECLARATION

    with httpx.Client(base_url=base, timeout=120, headers=NOTTS) as client:
        while not stop.is_set():
            try:
                review = client.get(SIGNOFF)
            except httpx.HTTPError:
                continue
            if review.status_code != 200:
                stop.wait(0.5)
                continue
            digest = review.json()["digest"]
            sent = run.new("sign-off", digest)
            body = {"declaration": DEFAULT_DECLARATION, "digest": digest}
            _send(sent, stop, partial(client.post, f"{SIGNOFF}/sign-off", json=body))
            stop.wait(0.3)


def _end_connections(url: str, database: str, run: Run, stop: threading.Event) -> None:
    """End the service's connections every ``run.every`` seconds, and the active scheduler's lock connection every
    4-6 s (the standby's, waiting for the lock, is left waiting, as it would be)."""
    pace = random.Random(20261125)
    lock_due = time.monotonic() + pace.uniform(4, 6)
    with psycopg.connect(_dsn(url), autocommit=True, application_name=ME) as admin:
        while not stop.wait(pace.uniform(*run.every)):
            holders = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s AND granted"
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid() AND application_name <> %s AND pid NOT IN "
                "(SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = %s)",
                (database, ME, LOCK_OBJID),
            ).fetchone()
            run.ended += int(ended[0]) if ended else 0
            if time.monotonic() >= lock_due:
                lock_due = time.monotonic() + pace.uniform(4, 6)
                lost = admin.execute(
                    f"SELECT count(pg_terminate_backend(pid)) FROM ({holders} AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = %s)) AS held",
                    (LOCK_OBJID, database),
                ).fetchone()
                run.lock_ended += int(lost[0]) if lost else 0


def _watch_beats(url: str, run: Run, stop: threading.Event) -> None:
    """Read the schedulers' heartbeats every 0.2 s (each is written once a second by the active one)."""
    while not stop.is_set():
        try:
            with psycopg.connect(_dsn(url), autocommit=True, application_name=ME) as conn:
                while not stop.wait(0.2):
                    for holder, at in conn.execute("SELECT holder, beat_at FROM scheduler_heartbeat"):
                        run.beats.add((str(holder), at.timestamp()))
        except psycopg.Error:
            stop.wait(0.2)


def two_at_once(beats: set[tuple[str, float]], gap: float = 2.5) -> int:
    """Beats of one scheduler that fall between two beats of another less than ``gap`` s apart: both active."""
    by_holder: dict[str, list[float]] = {}
    for holder, at in beats:
        by_holder.setdefault(holder, []).append(at)
    found = 0
    for holder, ats in by_holder.items():
        ats.sort()
        spans = [(a, b) for a, b in pairwise(ats) if b - a <= gap]
        others = [at for h, at in beats if h != holder]
        found += sum(1 for at in others if any(a < at < b for a, b in spans))
    return found


def check(url: str, run: Run) -> dict[str, Any]:
    """Read the store: each answer against what is stored, each stored change against its audit event."""
    with psycopg.connect(_dsn(url), autocommit=True, application_name=ME) as conn:
        uploads: dict[str, list[tuple[int, str]]] = {}
        for sub_id, filename, status in conn.execute(
            "SELECT id, filename, status FROM submission WHERE filename LIKE 'soak-%%'"
        ):
            uploads.setdefault(str(filename), []).append((int(sub_id), str(status)))
        audited_uploads = {
            int(obj.split()[1])
            for (obj,) in conn.execute(
                "SELECT object FROM audit_event WHERE action = 'submission.upload' AND status IN (201, 415, 422)"
            )
        }
        releases = {str(h): int(i) for i, h in conn.execute("SELECT id, content_hash FROM published_release")}
        audited_releases = {
            str(obj)
            for (obj,) in conn.execute(
                "SELECT object FROM audit_event WHERE action = 'upload.release' AND status = 201 "
                "AND detail NOT LIKE 'a repeat%%'"
            )
        }
        # The soak's own, not the demo's.
        signed = Counter(
            str(d)[:16]
            for (d,) in conn.execute(
                "SELECT digest FROM signoff_event WHERE to_state = 'signed_off' AND at >= %s", (run.started,)
            )
        )
        audited_signed = Counter(
            str(d).removeprefix("digest ")
            for (d,) in conn.execute(
                "SELECT detail FROM audit_event WHERE action = 'signoff.sign_off' AND status = 200 AND at >= %s",
                (run.started,),
            )
        )
    tally = _answer_tally(run, uploads, releases, signed)
    upload_ids = [i for subs in uploads.values() for i, s in subs if s in _STORED]
    tally["uploads stored"] = len(upload_ids)
    tally["uploads stored without their audit event (wrong)"] = len(set(upload_ids) - audited_uploads)
    soak_hashes = {s.key for s in run.sent if s.kind == "import"}
    soak_releases = [i for h, i in releases.items() if h in soak_hashes]
    tally["releases stored"] = len(soak_releases)
    tally["releases stored without their audit event (wrong)"] = sum(
        1 for i in soak_releases if not any(o.endswith(f"(release {i})") for o in audited_releases)
    )
    tally["sign-offs stored"] = sum(signed.values())
    tally["sign-offs stored without their audit event (wrong)"] = sum(
        max(0, n - audited_signed[d]) for d, n in signed.items()
    )
    tally.update(_scheduler_tally(run))
    return dict(sorted(tally.items()))


#: The statuses of an upload whose figures were stored.
_STORED = ("accepted", "queried", "partially_accepted", "rejected")


def _answer_tally(
    run: Run, uploads: dict[str, list[tuple[int, str]]], releases: dict[str, int], signed: Counter[str]
) -> Counter[str]:
    """Each request sent, its last answer set against what the store holds of it."""
    tally: Counter[str] = Counter()
    for sent in run.sent:
        statuses = [s for s, _ in sent.answers]
        last, body = sent.answers[-1] if sent.answers else (0, {})
        tally[f"{sent.kind} sent"] += 1
        tally[f"{sent.kind} answers 503"] += statuses.count(503)
        if sent.kind == "upload":
            kept = [i for i, s in uploads.get(sent.key, []) if s in _STORED]
            is_stored = bool(kept)
            tally["upload stored twice"] += len(kept) > 1
            repeat = last == 200 and bool(body.get("duplicate"))
        elif sent.kind == "import":
            is_stored = sent.key in releases
            repeat = last == 201 and bool(body.get("duplicate"))
        else:
            is_stored = signed[sent.key[:16]] > 0
            repeat = last == 409 and "is signed off" in str(body.get("error", ""))
        if 200 <= last < 300 and not is_stored:
            tally[f"{sent.kind} answered 2xx, not stored (wrong)"] += 1
        if 503 in statuses and repeat:
            tally[f"{sent.kind} 503 then answered as a repeat"] += 1
        if last == 503 and is_stored:
            tally[f"{sent.kind} last answered 503 yet stored (wrong)"] += 1
        if 200 <= last < 300 or repeat:
            tally[f"{sent.kind} done"] += 1
    return tally


def _scheduler_tally(run: Run) -> dict[str, int]:
    """The schedulers' heartbeats seen, their take-overs and any beat while another was active; connections ended."""
    ordered = [h for h, _ in sorted(run.beats, key=lambda b: b[1])]
    return {
        "heartbeats seen": len(run.beats),
        "schedulers that heartbeat": len({h for h, _ in run.beats}),
        "take-overs seen": sum(1 for a, b in pairwise(ordered) if a != b),
        "heartbeats while another scheduler was active (wrong)": two_at_once(run.beats),
        "connections ended": run.ended,
        "scheduler lock connections ended": run.lock_ended,
    }


def soak(
    database_url: str, seconds: float, workers: int = 2, every: tuple[float, float] = (0.4, 0.8), *, fresh: bool = True
) -> dict[str, Any]:
    """Run the soak and return its counts: on the database emptied and the demo loaded by the service's first start
    (``fresh``), or on the database as it is, holding the demo's agencies and keys already."""
    if fresh:
        empty_postgres(database_url)
    database = database_url.rsplit("/", 1)[-1].split("?")[0]
    with tempfile.TemporaryDirectory(prefix="onereturn-soak-") as tmp:
        env = {
            **os.environ,
            "ONERETURN_DATA_DIR": tmp,
            "ONERETURN_DATABASE_URL": database_url,
            "ONERETURN_LOAD_DEMO": str(fresh).lower(),
            "ONERETURN_HOST": "127.0.0.1",
            "ONERETURN_LOG_JSON": "false",
            "ONERETURN_UPLOAD_WAIT_SECONDS": "60",
            "ONERETURN_SCHEDULER_EMBEDDED": "false",
            # A heartbeat a second, so which scheduler is active shows within a second.
            "ONERETURN_SCHEDULER_INTERVALS": "heartbeat=1",
        }
        port = free_port()
        log = Path(tmp) / "service.log"
        # Two workers, each with its upload processes, take minutes to start on a busy 2-core host.
        procs = _start(env, port, workers, log, within=600)
        with log.open("ab") as out:
            command = [sys.executable, "-c", "import cli; cli.main()", "scheduler"]
            procs.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True))
        # The standby must be waiting for the lock before connections are ended: one ended while it starts up
        # stops it, and there is then no standby to take over.
        _standing_by(database_url, procs[-1], within=600)
        run, stop, watching = Run(every=every), threading.Event(), threading.Event()
        base = f"http://127.0.0.1:{port}"
        watcher = threading.Thread(target=_watch_beats, args=(database_url, run, watching))
        workers_ = [
            threading.Thread(target=_end_connections, args=(database_url, database, run, stop)),
            threading.Thread(target=_uploads, args=(base, run, stop, 1)),
            threading.Thread(target=_uploads, args=(base, run, stop, 2)),
            threading.Thread(target=_imports, args=(base, run, stop)),
            threading.Thread(target=_sign_offs, args=(base, run, stop)),
        ]
        try:
            watcher.start()
            for thread in workers_:
                thread.start()
            stop.wait(seconds)
        finally:
            stop.set()
            for thread in workers_:
                thread.join(180)
            # The schedulers' heartbeats once the ending stopped: still one at a time.
            time.sleep(3)
            watching.set()
            watcher.join(30)
            running = sum(1 for proc in procs[1:] if proc.poll() is None)
            _stop(procs)
        counts = check(database_url, run)
        counts["schedulers still running at the end"] = running
        return {"seconds": seconds, "workers": workers, "counts": counts}


def _standing_by(url: str, standby: subprocess.Popen[bytes], within: float) -> None:
    """Wait until one scheduler holds the lock and another waits for it."""
    deadline = time.monotonic() + within
    with psycopg.connect(_dsn(url), autocommit=True, application_name=ME) as conn:
        while time.monotonic() < deadline:
            if standby.poll() is not None:
                raise SystemExit("the standby scheduler stopped as it started")
            found = conn.execute(
                "SELECT count(*) FILTER (WHERE granted), count(*) FILTER (WHERE NOT granted) FROM pg_locks "
                "WHERE locktype = 'advisory' AND objid = %s AND database = "
                "(SELECT oid FROM pg_database WHERE datname = current_database())",
                (LOCK_OBJID,),
            ).fetchone()
            if found is not None and found[0] == 1 and found[1] >= 1:
                return
            time.sleep(0.5)
    raise SystemExit(f"no scheduler was waiting for the lock within {within:.0f} s")


def main(argv: list[str]) -> None:
    """Run the soak from the command line and print its counts."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks soak", description=__doc__)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database, emptied first")
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--end-every", default="0.4-0.8", help="seconds between two rounds of ending connections, at least-at most"
    )
    args = parser.parse_args(argv)
    low, _, high = args.end_every.partition("-")
    every = (float(low), float(high or low))
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("the soak ends PostgreSQL connections: give --database-url postgresql+psycopg://…")
    result = soak(args.database_url, args.seconds, args.workers, every)
    print(
        f"soak: {result['workers']} API workers, a scheduler and a standby, {result['seconds']:.0f} s on PostgreSQL, "
        f"connections ended every {args.end_every} s; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    width = max(len(k) for k in result["counts"])
    for name, count in result["counts"].items():
        print(f"  {name:<{width}}  {count:>7,}")
    wrong = sum(n for k, n in result["counts"].items() if "(wrong)" in k)
    print("every answer matches the store" if not wrong else f"{wrong} answer(s) or change(s) do not match")
    print(json.dumps(result))
    if wrong:
        raise SystemExit(1)
