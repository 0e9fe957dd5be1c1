"""England from records: every council's SSDA903, CIN census and SEN2 sent as the councils would, on PostgreSQL with
two hosts and the scheduler, then the returns built and DfE's pull of every council's return.

``./run bench england --database-url postgresql+psycopg://…/NAME [--scale 0.02] [--councils 4,33,153]`` writes a
synthetic England at ``--scale`` of each council's counts in DfE's releases (:mod:`cli.synthetic.england`,
docs/england.md) once, then for each size N takes the first N councils in DfE's order (its EHC plan release's, by
ONS code) and, in a database made beside the one given (``NAME_england``):

- makes the store (schema, catalogue, geography; no demo), each council an agency owing the SSDA903, the CIN census
  and SEN2 with a key of its own, and a regulator key for DfE;
- starts two hosts as docs/scaling.md deploys them: ``onereturn serve`` on each (its own data folder and port, the
  same store and records keys), each with ``onereturn scheduler`` beside it (one active, the other waiting on the
  lock);
- sends every council's three uploads with its own key, ``--at-once`` councils at a time, each council to one host
  in turn; DfE's rules run for every file as for any upload. It times each council from its first send to its last
  upload stored, the whole year in, and samples each host's processes' peak memory (``VmHWM``); an upload not
  stored is a failure;
- signs off every council's figures (the operator's ``signoffs sign-all``), then times each return's build as DfE's
  first pull with ``?fresh=true`` waits for it, and DfE's pull of the built return in each format.

Per-council costs are the totals over N; ``--write`` puts the page into docs/england-benchmark.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from benchmarks.collect import pg_admin, pg_beside
from benchmarks.load import _start, _stop, free_port
from benchmarks.records.path import FINAL_STAGES
from benchmarks.server import MIB, command_of, family_of, processes_of, reset_peak, sampling, statuses
from cli.synthetic.england import IN_NEED, LOOKED_AFTER, PLANS, REFERRALS, YEAR, Council, write_england

DOC = Path(__file__).resolve().parent.parent / "docs" / "england-benchmark.md"
#: The returns DfE pulls from the records, and the period each is built for from a 2024-25 collection.
RETURNS = {"dfe_ssda903": "FY2024-25", "dfe_cin_census": "FY2024-25", "dfe_sen2": "CY2025"}
FORMATS = ("csv", "json", "xlsx")
#: Seconds a council's uploads may take before the run gives up on them.
PATIENCE = 3600.0


@dataclass
class Sent:
    """One council's uploads: seconds from its first send to its last stored, and each upload's final stage."""

    council: str
    host: str
    seconds: float
    stages: list[str] = field(default_factory=list)


@dataclass
class Size:
    """What one size of England measured."""

    councils: int
    children: dict[str, int]
    files_mib: float
    sent: list[Sent]
    year_in: float
    peaks: dict[str, Held]
    signoff: float
    builds: dict[str, tuple[float, int, int]]
    pulls: dict[str, dict[str, tuple[float, int]]]
    #: Each count: England's row made from the records (as DfE's rows round it), what the councils' files hold, and
    #: DfE's published count of the same councils.
    england: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        """Uploads not stored."""
        return len(self.failed)

    @property
    def failed(self) -> list[str]:
        """Each upload not stored: its council and how it ended."""
        return [f"{s.council}: {stage}" for s in self.sent for stage in s.stages if stage != "stored"]


def agency(council: Council) -> str:
    """The council's agency code: DfE's three-digit number after ``la_``."""
    return f"la_{council.lea}"


def current_code(council: Council) -> str:
    """The council's ONS code today, as its agency would hold it: DfE's 2025 EHC plan release still lists three
    councils under codes retired since (North Yorkshire's E10000023 is E06000065), so the newest code of its DfE
    number."""
    from mappings.geography import la_codes

    return la_codes()[0].get(council.lea, (council.code,))[0]


def make_store(url: str, councils: list[Council]) -> tuple[dict[str, str], str]:
    """The schema, catalogue and geography, every council an agency with its own key, and DfE's regulator key."""
    from mappings.service import load_bundled
    from onereturn import db

    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session, demo_keys=False)
    try:
        return onboard(engine, councils)
    finally:
        engine.dispose()


def onboard(engine: Engine, councils: list[Council]) -> tuple[dict[str, str], str]:
    """Each council an agency owing the three returns under the code it holds today, with a key of its own (by ONS
    code, as DfE's release lists it), and a regulator key for DfE."""
    from sqlmodel import Session

    from mappings import registry
    from mappings.keys import create_key

    sheet = io.StringIO()
    # Written by the csv module: some councils' names hold a comma ("Bristol, City of").
    writer = csv.writer(sheet, lineterminator="\n")
    writer.writerow(["code", "name", "body_type", "orgs", "returns"])
    writer.writerows([agency(c), c.name, "local_authority", current_code(c), ";".join(RETURNS)] for c in councils)
    keys: dict[str, str] = {}
    with Session(engine) as session:
        registry.import_agencies(session, sheet.getvalue().encode(), "england.csv")
        for c in councils:
            keys[c.code] = create_key(session, role="agency", label=f"{c.name} data team", agency_code=agency(c))[1]
        regulator = create_key(session, role="regulator", label="DfE", recipient="Department for Education")[1]
        session.commit()
    return keys, regulator


def _host_env(folder: Path, url: str) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "ONERETURN_DATA_DIR": str(folder),
        "ONERETURN_DATABASE_URL": url,
        "ONERETURN_RECORDS_KEYS_FILE": str(folder.parent / "records-keys.json"),
        "ONERETURN_LOAD_DEMO": "false",
        "ONERETURN_HOST": "127.0.0.1",
        "ONERETURN_SCHEDULER_EMBEDDED": "false",
        # Uploads wait for a slot rather than being turned away: the run measures the work, not refusals.
        "ONERETURN_UPLOAD_WAIT_SECONDS": str(int(PATIENCE)),
        # Two hosts and two schedulers within a stock server's 100 connections (docs/scaling.md, Connections).
        "ONERETURN_REQUEST_THREADS": "8",
    }


def _send(url: str, key: str, paths: list[list[Path]], name: str, host: str) -> Sent:
    """One council's uploads, sent one after another, then followed until each has ended."""
    started = time.perf_counter()
    header = {"X-API-Key": key}
    ids = []
    with httpx.Client(base_url=url, timeout=PATIENCE) as client:
        for files in paths:
            body = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in files]
            answer = client.post("/api/submissions", headers=header, data={"collection_year": YEAR}, files=body)
            # A record-level upload is answered 202 and processed after; a SEN2 file 201, checked and stored at once.
            if answer.status_code not in (201, 202):
                return Sent(name, host, time.perf_counter() - started, [f"answered {answer.status_code}"])
            ids.append(answer.json()["id"])
        stages: dict[int, str] = {}
        deadline = time.monotonic() + PATIENCE
        while len(stages) < len(ids) and time.monotonic() < deadline:
            for sid in ids:
                if sid not in stages:
                    seen = client.get(f"/api/submissions/{sid}", headers=header).json()
                    if seen["stage"] in FINAL_STAGES:
                        said = "" if seen["stage"] == "stored" else f": {str(seen.get('message'))[:200]}"
                        stages[sid] = seen["stage"] + said
            time.sleep(0.2)
    return Sent(name, host, time.perf_counter() - started, [stages.get(i, "unfinished") for i in ids])


def _uploads(folder: Path, council: Council) -> list[list[Path]]:
    """The council's three uploads: the 903's CSV tables together, the CIN census, the SEN2 file."""
    home = folder / f"{council.code}-{council.lea}"
    return [
        sorted((home / "ssda903").glob("*.csv")),
        sorted((home / "cin").glob("*.xml")),
        sorted((home / "sen2").glob("*.xml")),
    ]


#: The kinds of a host's processes, in the order the page names them.
KINDS = ("server", "upload process", "DfE's rules", "scheduler", "build process", "resource tracker")


@dataclass
class Held:
    """A host's processes' memory while the uploads ran: the most they held at once (the sum of their resident
    sets), what each held at that moment, and each kind's own peak (its largest ``VmHWM``) with the processes of that
    kind seen."""

    most: int = 0
    at_most: list[tuple[str, int]] = field(default_factory=list)
    own: dict[str, int] = field(default_factory=dict)
    seen: dict[str, set[int]] = field(default_factory=dict)

    @property
    def largest(self) -> int:
        """The largest peak of any one process."""
        return max(self.own.values(), default=0)

    def note(self, kinds: dict[int, str], held: dict[int, dict[str, int]]) -> None:
        """One sample: each process's kind and its ``VmRSS`` and ``VmHWM``."""
        for pid, kind in kinds.items():
            self.seen.setdefault(kind, set()).add(pid)
            self.own[kind] = max(self.own.get(kind, 0), held[pid]["VmHWM"])
        together = sum(h["VmRSS"] for h in held.values())
        if together > self.most:
            self.most = together
            self.at_most = sorted(((kinds[p], h["VmRSS"]) for p, h in held.items()), key=_by_kind)


def _by_kind(item: tuple[str, int]) -> tuple[int, int]:
    kind, held = item
    return (KINDS.index(kind) if kind in KINDS else len(KINDS), -held)


def kind_of(pid: int, parent: int, kinds: dict[int, str]) -> str:
    """What a host's process is, from its command and the kind of the process that started it (``kinds`` holds the
    roots', ``server`` and ``scheduler``, and those told before it)."""
    if pid in kinds:
        return kinds[pid]
    command = command_of(pid)
    above = kinds.get(parent, "")
    # An upload process starts no process but DfE's rules' (told by its parent too, between its fork and its exec).
    if "dfe_runner" in command or above == "upload process":
        return "DfE's rules"
    if "resource_tracker" in command:
        return "resource tracker"
    if "spawn_main" in command and above in ("server", "scheduler"):
        return "upload process" if above == "server" else "build process"
    return f"other ({Path(command.split(' ', 1)[0]).name or pid})"


@contextmanager
def host_memory(server: int, scheduler: int) -> Iterator[Held]:
    """A host's processes (the server, its upload processes and DfE's rules' processes they start, the scheduler and
    its build process) sampled every 0.1 s while the block runs: one read of each process's status a sample. Each
    process's peak is reset first; one that ends between two samples takes what it held after the first with it."""
    for root in (server, scheduler):
        for pid in processes_of(root):
            reset_peak(pid)
    held = Held()

    def sample() -> None:
        kinds: dict[int, str] = {server: "server", scheduler: "scheduler"}
        memory: dict[int, dict[str, int]] = {}
        for root in (server, scheduler):
            for pid, parent in family_of(root).items():
                kinds[pid] = kind_of(pid, parent, kinds)
                memory[pid] = statuses(pid, "VmRSS", "VmHWM")
        # A process that ended as it was read holds nothing, and is no process of the host's.
        live = {pid: m for pid, m in memory.items() if m["VmRSS"]}
        held.note({pid: kinds[pid] for pid in live}, live)

    with sampling(0.1, sample):
        yield held


def send_all(
    hosts: dict[str, tuple[int, list[int]]],
    folder: Path,
    councils: list[Council],
    keys: dict[str, str],
    at_once: int,
) -> tuple[list[Sent], float, dict[str, Held]]:
    """Every council's uploads, ``at_once`` councils at a time, alternately to each host; what each host's processes
    held (:func:`host_memory`)."""
    names = sorted(hosts)
    with ExitStack() as stack:
        held = {name: stack.enter_context(host_memory(*hosts[name][1])) for name in names}
        started = time.perf_counter()
        with ThreadPoolExecutor(at_once) as pool:
            jobs = [
                pool.submit(
                    _send,
                    f"http://127.0.0.1:{hosts[names[i % 2]][0]}",
                    keys[c.code],
                    _uploads(folder, c),
                    c.name,
                    names[i % 2],
                )
                for i, c in enumerate(councils)
            ]
            sent = [job.result() for job in jobs]
        took = time.perf_counter() - started
    return sent, took, held


def sign_off(url: str) -> float:
    """Every council's figures signed off, as the operator's ``signoffs sign-all`` does; the seconds taken."""
    from sqlalchemy.exc import OperationalError

    from exports.signoff.acts import sign_off_all
    from mappings.signoff.states import Actor
    from onereturn import db

    engine = db.make_engine(url)
    for attempt in range(3):
        started = time.perf_counter()
        try:
            with db.session_scope(engine) as session:
                sign_off_all(session, Actor("bench england (operator)", client="local"), return_ids=list(RETURNS))
            break
        except OperationalError:
            # A shared server busy past the connect timeout: tried again, three times at most.
            if attempt == 2:
                raise
            time.sleep(5)
    took = time.perf_counter() - started
    engine.dispose()
    return took


def _councils_in(body: bytes) -> int:
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    column = next((c for c in ("org", "org_code", "area_code", "la_code") if rows and c in rows[0]), None)
    return len({r[column] for r in rows}) if column else len(rows)


def build_and_pull(
    port: int, regulator: str
) -> tuple[dict[str, tuple[float, int, int]], dict[str, dict[str, tuple[float, int]]]]:
    """Each return built (DfE's first pull waiting for it: seconds, councils in its CSV, bytes), then DfE's pull of
    it in each format (seconds, bytes)."""
    builds: dict[str, tuple[float, int, int]] = {}
    pulls: dict[str, dict[str, tuple[float, int]]] = {}
    header = {"X-API-Key": regulator}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=PATIENCE) as client:
        for ret, period in RETURNS.items():
            started = time.perf_counter()
            answer = client.get(f"/api/returns/{ret}/{period}.csv", headers=header, params={"fresh": "true"})
            took = time.perf_counter() - started
            if answer.status_code != 200:
                raise SystemExit(f"DfE's pull of {ret} {period} was answered {answer.status_code}: {answer.text[:300]}")
            builds[ret] = (took, _councils_in(answer.content), len(answer.content))
            pulls[ret] = {}
            for fmt in FORMATS:
                started = time.perf_counter()
                answer = client.get(f"/api/returns/{ret}/{period}.{fmt}", headers=header)
                pulls[ret][fmt] = (time.perf_counter() - started, len(answer.content))
    return builds, pulls


#: Each count DfE publishes for the councils: where England's row of it is made from the records (the return's rows,
#: their route, the indicator or column, and the row's filter).
ENGLAND_ROWS = {
    LOOKED_AFTER: ("dfe_ssda903", f"/api/england/dfe_ssda903/{YEAR}.csv", "cyp.lac_count"),
    IN_NEED: ("dfe_cin_census", f"/api/england/dfe_cin_census/{YEAR}.csv", "cyp.cin_count"),
    REFERRALS: ("dfe_cin_census", f"/api/england/dfe_cin_census/{YEAR}.csv", "cyp.cin_referrals"),
    PLANS: ("dfe_sen2", f"/api/sen2/{YEAR}/england/caseload.csv", "All EHC plans"),
}


def england_rows(port: int, regulator: str) -> dict[str, str]:
    """England's row of each count as DfE's key reads it, made from every council's records (the SSDA903's and CIN
    census's rounded to the nearest 10 as DfE's are; the EHC plans neither rounded nor withheld, as DfE's)."""
    found: dict[str, str] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=PATIENCE) as client:
        for kind, (_, route, figure) in ENGLAND_ROWS.items():
            answer = client.get(route, headers={"X-API-Key": regulator})
            rows = csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))) if answer.status_code == 200 else []
            for row in rows:
                if row["geographic_level"] != "National":
                    continue
                if row.get("indicator") == figure:
                    found[kind] = row["value"]
                elif row.get("breakdown_topic") == figure:
                    found[kind] = row["ehcplans"]
    return found


def measure(database_url: str, work: Path, england: Path, councils: list[Council], at_once: int) -> Size:
    """One size of England: the store, two hosts, every council's uploads, the sign-off, the builds and the pulls."""
    url = pg_beside(database_url, "england")
    name = url.rsplit("/", 1)[1]
    pg_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    run = work / f"run-{len(councils)}"
    keys, regulator = make_store(url, councils)
    procs: dict[str, list[Any]] = {}
    ports: dict[str, tuple[int, list[int]]] = {}
    try:
        for host in ("A", "B"):
            port = free_port()
            procs[host] = _start(_host_env(run / host, url), port, 1, run / f"{host}.log")
            ports[host] = (port, [p.pid for p in procs[host]])
        sent, year_in, peaks = send_all(ports, england, councils, keys, at_once)
        signoff = sign_off(url)
        builds, pulls = build_and_pull(ports["A"][0], regulator)
        rows = england_rows(ports["A"][0], regulator)
    finally:
        for started in procs.values():
            _stop(started)
        pg_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    size = sum(p.stat().st_size for c in councils for paths in _uploads(england, c) for p in paths)
    children = {k: sum(c.counts[k] for c in councils) for k in (LOOKED_AFTER, IN_NEED, PLANS)}
    against = {
        kind: (
            rows.get(kind, "none"),
            sum(c.counts[kind] for c in councils),
            sum(c.published[kind] or 0 for c in councils),
        )
        for kind in ENGLAND_ROWS
    }
    return Size(len(councils), children, size / MIB, sent, year_in, peaks, signoff, builds, pulls, against)


def _per_council(s: Size) -> tuple[float, float, float]:
    """Seconds per council: the year in, the builds, the pulls."""
    built = sum(b[0] for b in s.builds.values())
    pulled = sum(t for formats in s.pulls.values() for t, _ in formats.values())
    return s.year_in / s.councils, built / s.councils, pulled / s.councils


def _size_lines(s: Size) -> list[str]:
    slowest = max(s.sent, key=lambda x: x.seconds)
    waits = [x.seconds for x in s.sent]
    peaks = " · ".join(f"{n} {h.largest / MIB:,.0f} / {h.most / MIB:,.0f} MiB" for n, h in sorted(s.peaks.items()))
    kids = f"{s.children[LOOKED_AFTER]:,} / {s.children[IN_NEED]:,} / {s.children[PLANS]:,}"
    return [
        f"| {s.councils} | {kids} | {s.files_mib:.1f} MiB | {s.year_in:.1f} s | {statistics.median(waits):.1f} s | "
        f"{slowest.seconds:.1f} s ({slowest.council}) | {peaks} | {s.failures} |"
    ]


def _memory_line(councils: int, host: str, held: Held) -> str:
    """Which of a host's processes held what at the host's peak, and each kind's own peak."""
    at_most = " · ".join(f"{kind} {rss / MIB:,.0f}" for kind, rss in held.at_most)
    kinds = sorted(held.own, key=lambda kind: _by_kind((kind, 0)))
    own = " · ".join(f"{kind} {held.own[kind] / MIB:,.0f} ({len(held.seen[kind])})" for kind in kinds)
    return f"| {councils} | {host} | {held.most / MIB:,.0f} MiB | {at_most} MiB | {own} MiB |"


def _how(sizes: list[Size], scale: str, at_once: int) -> str:
    """What was run, on what, under what load."""
    ran = f"--scale {scale} --councils {','.join(str(s.councils) for s in sizes)} --at-once {at_once}"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    machine = f"{platform.machine()} ({os.cpu_count()} cores), CPython {platform.python_version()}"
    return (
        f"`./run bench england {ran}` on PostgreSQL, two hosts each with a scheduler beside it; made-up children "
        f"sized to each council's counts in DfE's releases times {scale}; measured {date.today().isoformat()} on "
        f"{machine}, load {load:.1f} as it ended (benchmarks/england.py says what each column times)."
    )


def report(sizes: list[Size], scale: str, at_once: int) -> str:
    """The measurements as the benchmark's page."""
    lines = [
        "# England from records benchmark",
        "",
        _how(sizes, scale, at_once),
        "",
        "| councils | looked after / in need / EHC plans | files | year in | a council, median | slowest council | "
        "peak memory per host (largest process / all at once) | uploads not stored |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in sizes:
        lines += _size_lines(s)
    lines += [f"- not stored, {s.councils} councils: {failed}" for s in sizes for failed in s.failed]
    lines += [
        "",
        "| councils | host | all at once | held at that moment, each process | each kind's own peak (processes seen) |",
        "|---|---|---|---|---|",
    ]
    lines += [_memory_line(s.councils, name, held) for s in sizes for name, held in sorted(s.peaks.items())]
    lines += [
        "",
        "| councils | return | build (DfE's first pull) | councils in it | "
        + " | ".join(f"pull .{f}" for f in FORMATS)
        + " |",
        "|---|---|---|---|" + "---|" * len(FORMATS),
    ]
    for s in sizes:
        for ret, (took, found, _) in s.builds.items():
            pulled = " | ".join(f"{t:.2f} s ({n / MIB:.1f} MiB)" for t, n in s.pulls[ret].values())
            lines.append(f"| {s.councils} | {ret} | {took:.1f} s | {found} | {pulled} |")
    lines += [
        "",
        "England's row of each count made from the records (DfE's key, `/api/england/...` and "
        "`/api/sen2/.../england`; looked after, in need and referrals rounded to the nearest 10 as DfE's rows are), "
        "what the councils' files hold, and DfE's published count of the same councils. At scale 1 the files hold "
        "DfE's counts (a count DfE withholds written as 1 child) and England's row is DfE's, rounded as DfE's is:",
        "",
        "| councils | count | return | England's row from the records | in the councils' files | DfE's published |",
        "|---|---|---|---|---|---|",
    ]
    for s in sizes:
        for kind, (row, held, said) in s.england.items():
            lines.append(f"| {s.councils} | {kind} | {ENGLAND_ROWS[kind][0]} | {row} | {held:,} | {said:,} |")
    lines += [
        "",
        "| councils | in, per council | built, per council | pulled, per council | signed off |",
        "|---|---|---|---|---|",
    ]
    for s in sizes:
        per = _per_council(s)
        lines.append(f"| {s.councils} | {per[0]:.2f} s | {per[1]:.3f} s | {per[2]:.3f} s | {s.signoff:.1f} s |")
    by = {s.councils: s for s in sizes}
    if 33 in by and max(by) > 33:
        big, mid = _per_council(by[max(by)]), _per_council(by[33])
        ratios = ", ".join(
            f"{what} {b / m:.2f}x" for what, b, m in zip(("in", "built", "pulled"), big, mid, strict=True)
        )
        lines += ["", f"Per council, {max(by)} councils against 33: {ratios}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    """Write England once, measure each size in turn, print the page, and write it with ``--write``."""
    parser = argparse.ArgumentParser(prog="bench england", description=__doc__)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database; NAME_england is made beside it")
    parser.add_argument("--scale", default="0.02", help="the share of each council's published counts (default 0.02)")
    parser.add_argument("--councils", default="4,33", help="sizes: the first N councils in DfE's order (4,33,153)")
    parser.add_argument("--at-once", type=int, default=4, help="councils sending at the same time (default 4)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true", help=f"write the page into {DOC.name}")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.councils.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-england-") as tmp:
        work = Path(tmp)
        councils = write_england(work / "england", scale=float(args.scale), seed=args.seed, councils=max(counts))
        sizes: list[Size] = []
        for n in counts:
            sizes.append(measure(args.database_url, work, work / "england", councils[:n], args.at_once))
            if len(sizes) < len(counts):
                # What is measured so far, in case a larger size does not end in the time a shared machine gives.
                print(report(sizes, args.scale, args.at_once), file=sys.stderr, flush=True)
    text = report(sizes, args.scale, args.at_once)
    print(text)
    if args.write:
        DOC.write_text(text)
