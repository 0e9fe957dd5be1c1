"""Record-level returns end to end against DfE's library alone on the same files, in the same run.

``./run bench records`` writes seeded synthetic files (illustrative, :mod:`cli.synthetic`):

- a county-size SSDA903 set (``--county-children``, default 2,000 children);
- a national round of 150 such sets, one a council: every set is a separate upload, so ``--national-sample``
  sets (default 3, each with its own seed) are run and the national time is their mean times 150, an
  extrapolation the output says it is (``--national-sample 150`` runs them all), one set after another and then
  (``--processes``, default the cores) as many at once as processes: :mod:`benchmarks.records.national`;
- a county's CIN census (``--cin-children``, default 10,000 children).

For each it times the service's path (gather the files, read the tables, run DfE's rules through the JSON
contract in a process of the validators' environment started for the upload, derive every figure), measured
inside a fresh process once the service is imported, as in an upload worker; and DfE's library alone on the same
files through its own entry points, in a fresh process of the validators' environment, from its start (the
service's rules process starts the same way, so both pay one interpreter start and the library's import). The ratio of
the two is the overhead the service adds (target 1.3x or less); each is the best of ``--repeat`` runs, taken in
alternating order. Then each set is uploaded once to a running service (``onereturn serve`` on a fresh SQLite
store loaded with the demo, or with ``--bare-store`` holding the catalogue, the demo's keys and one upload of another
council, as the council whose org is the files' council): the time to the 202 answer (target
under 1 s) and to the submission's final stage (received, read, DfE's rules, derived, stored), and the peak of
every process of the server meanwhile (its upload workers and DfE's rules' process included). Only once: the same
files sent again are answered as the earlier upload. Peak memory is the peak resident set (``ru_maxrss``) of the path's process and, apart, of
DfE's rules' process (target under 1 GiB each). No timing here is asserted anywhere: the figures are measured
and printed, and ``--write`` puts them into ``docs/records-benchmark.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.records.national import Round, cores, national_round, round_lines
from benchmarks.records.path import COUNCIL_KEY, FINAL_STAGES, Run, library_run
from benchmarks.server import GIB, MIB, Server, free_port, sampled_peaks

COUNCILS = 150
TARGET_RATIO = 1.3
DOC = Path(__file__).resolve().parents[2] / "docs" / "records-benchmark.md"


def _service_run(kind: str, files: list[Path], year: str, la: str) -> Run:
    """The service's path in a fresh process (``python -m benchmarks.records --one``)."""
    command = [sys.executable, "-m", "benchmarks.records", "--one", kind, "--year", year, "--la", la]
    done = subprocess.run([*command, *map(str, files)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the service's path failed on the {kind} files:\n{done.stderr[-3000:]}")
    answer = json.loads(done.stdout.splitlines()[-1])
    # The upload worker that runs this is already started and has the service imported: its time is the
    # path's own, from the files to the figures (DfE's rules' process is started inside it, as for every upload).
    seconds = sum(answer["stages"].values())
    return Run(seconds, answer["findings"], answer["peak"], answer["rules_peak"], answer["stages"])


@dataclass
class Upload:
    """One record-level upload through the running service: to 202, to its final stage, and peak memory."""

    to_202: float
    to_final: float
    stage: str
    figures: int
    peak: int


def _upload(server: Any, files: list[Path], year: str) -> Upload:
    """POST the files to /api/submissions as the council, then follow the submission until it ends."""
    body = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in files]
    # Every process of the server, the upload workers and DfE's rules' process included, sampled as it runs.
    with sampled_peaks(server.proc.pid) as peaks:
        started = time.perf_counter()
        answer = server.client.post("/api/submissions", headers=COUNCIL_KEY, data={"collection_year": year}, files=body)
        to_202 = time.perf_counter() - started
        if answer.status_code != 202:
            raise SystemExit(f"the upload was answered {answer.status_code}, not 202: {answer.text[:500]}")
        sid = answer.json()["id"]
        while True:
            seen = server.client.get(f"/api/submissions/{sid}", headers=COUNCIL_KEY).json()
            if seen["stage"] in FINAL_STAGES:
                break
            time.sleep(0.05)
        to_final = time.perf_counter() - started
    peak = max(peaks.values(), default=0)
    return Upload(to_202, to_final, seen["stage"], int(seen.get("rows_accepted") or 0), peak)


@dataclass
class Measured:
    """The best service run and the best library run over one set of files, and its upload through the service."""

    name: str
    size: str
    service: Run
    library: Run
    upload: Upload | None = None

    @property
    def ratio(self) -> float:
        """The service's time over the library's."""
        return self.service.seconds / self.library.seconds


def _measure(name: str, size: str, kind: str, files: list[Path], year: str, la: str, repeat: int) -> Measured:
    services: list[Run] = []
    libraries: list[Run] = []
    for turn in range(repeat):
        # Alternate which goes first, so neither always meets a warm or a cold page cache.
        if turn % 2:
            services.append(_service_run(kind, files, year, la))
            libraries.append(library_run(kind, files, year, la))
        else:
            libraries.append(library_run(kind, files, year, la))
            services.append(_service_run(kind, files, year, la))
    best_service = min(services, key=lambda r: r.seconds)
    best_library = min(libraries, key=lambda r: r.seconds)
    best_service.peak = max(r.peak for r in services)
    best_service.rules_peak = max(r.rules_peak for r in services)
    best_library.peak = max(r.peak for r in libraries)
    if best_service.findings != best_library.findings and min(best_service.findings, best_library.findings) == 0:
        raise SystemExit(
            f"{name}: the service found {best_service.findings} problems, the library alone {best_library.findings}"
        )
    return Measured(name, size, best_service, best_library)


def _rows_of(path: Path) -> int:
    with path.open("rb") as handle:
        return max(0, sum(1 for _ in handle) - 1)


def _table(results: list[Measured], national: tuple[int, float, float, float | None] | None) -> list[str]:
    head = (
        "| set | size | path s | library alone s | ratio | read / rules / derive s | via upload s | "
        "upload ratio | to 202 s | path peak MiB | rules peak MiB | server peak MiB | library peak MiB |"
    )
    lines = [head, "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for m in results:
        stages = m.service.stages or {}
        split = " / ".join(f"{stages.get(k, 0.0):.2f}" for k in ("read", "rules", "derive"))
        up = m.upload
        via = (
            f"{up.to_final:.2f} | {up.to_final / m.library.seconds:.2f} | {up.to_202:.3f}"
            if up is not None
            else "not run | | "
        )
        server_peak = f"{up.peak / MIB:.0f}" if up is not None else ""
        lines.append(
            f"| {m.name} | {m.size} | {m.service.seconds:.2f} | {m.library.seconds:.2f} | {m.ratio:.2f} | {split} | "
            f"{via} | {m.service.peak / MIB:.0f} | {m.service.rules_peak / MIB:.0f} | {server_peak} | "
            f"{m.library.peak / MIB:.0f} |"
        )
    if national is not None:
        sample, service_total, library_total, upload_total = national
        via = f"{upload_total:.0f} | {upload_total / library_total:.2f} |" if upload_total is not None else "| |"
        lines.append(
            f"| national: 150 councils, EXTRAPOLATED from {sample} set(s) (mean x 150) | 150 x county | "
            f"{service_total:.0f} | {library_total:.0f} | {service_total / library_total:.2f} | | {via} | | | | |"
        )
    return lines


def _machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines() if Path("/proc/meminfo").exists() else []:
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
            break
    return f"{cpu}, {os.cpu_count()} cores visible, {memory} RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks records", description=__doc__)
    parser.add_argument("--county-children", type=int, default=2000)
    parser.add_argument("--cin-children", type=int, default=10000)
    parser.add_argument("--national-sample", type=int, default=3, help="county sets run for the national round")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    parser.add_argument("--year", default="2024-25")
    parser.add_argument("--no-upload", action="store_true", help="skip the uploads through a running service")
    parser.add_argument(
        "--bare-store",
        action="store_true",
        help="start the running service on a store with the catalogue, the demo's keys and one other council's "
        "upload, not the demo's uploads (it starts in seconds; the uploads take the same path)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=cores(),
        help="processes the national round is run on at once (default: the cores; 1 runs it one set after another only)",
    )
    parser.add_argument("--write", action="store_true", help="write the table into docs/records-benchmark.md")
    return parser


def main(argv: list[str]) -> None:
    """Run the records benchmark and print its table (``--write`` also updates docs/records-benchmark.md)."""
    args = _parser().parse_args(argv)
    from cli.synthetic import SYNTHETIC_LA, synthetic_903, synthetic_cin

    results: list[Measured] = []
    sample: list[Measured] = []
    sets: list[list[Path]] = []
    found: Round | None = None
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-records-") as tmp:
        root = Path(tmp)
        server = None
        if not args.no_upload:
            (root / "server").mkdir()
            # An upload slot for each process of the national round at once.
            os.environ["ONERETURN_UPLOAD_SLOTS"] = str(max(args.processes, 1))
            server = Server(root / "server", free_port(), 256 * MIB, demo=not args.bare_store)
        try:
            county = synthetic_903(1, args.county_children, args.year, root / "county")
            size = f"{args.county_children:,} children, {_rows_of(root / 'county' / 'episodes.csv'):,} episodes"
            results.append(_measure("SSDA903 county", size, "903", county, args.year, SYNTHETIC_LA, args.repeat))
            if server is not None:
                results[-1].upload = _upload(server, county, args.year)
            print(_table(results, None)[-1], flush=True)
            for seed in range(2, 2 + args.national_sample):
                files = synthetic_903(seed, args.county_children, args.year, root / f"council-{seed}")
                name = f"national sample {seed - 1}"
                episodes = _rows_of(root / f"council-{seed}" / "episodes.csv")
                size = f"{args.county_children:,} children, {episodes:,} episodes"
                sample.append(_measure(name, size, "903", files, args.year, SYNTHETIC_LA, args.repeat))
                if server is not None:
                    sample[-1].upload = _upload(server, files, args.year)
                print(_table(sample, None)[-1], flush=True)
                sets.append(files)
            if sets and args.processes > 1:
                fresh = lambda k: synthetic_903(1000 + k, args.county_children, args.year, root / f"fresh-{k}")  # noqa: E731
                found = national_round(sets, args.processes, args.year, SYNTHETIC_LA, server, fresh)
            census = synthetic_cin(1, args.cin_children, args.year, root / "cin")
            results.append(
                _measure(
                    "CIN census county",
                    f"{args.cin_children:,} children",
                    "cin",
                    [census],
                    args.year,
                    SYNTHETIC_LA,
                    args.repeat,
                )
            )
            if server is not None:
                results[-1].upload = _upload(server, [census], args.year)
        finally:
            if server is not None:
                server.stop()
    one = _national(sample)
    lines = _table(results + sample, one)
    verdicts = [_verdict(m) for m in results + sample]
    if found is not None and one is not None:
        row, verdict = round_lines(found, one)
        lines.append(row)
        verdicts.append(verdict)
    print("\n".join(lines))
    print("\n".join(verdicts))
    if args.write:
        _write(lines, verdicts, args)


def _national(sample: list[Measured]) -> tuple[int, float, float, float | None] | None:
    """The national round: the county sets' mean times, each for every council in England."""
    if not sample:
        return None

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    uploads = [m.upload.to_final for m in sample if m.upload is not None]
    return (
        len(sample),
        mean([m.service.seconds for m in sample]) * COUNCILS,
        mean([m.library.seconds for m in sample]) * COUNCILS,
        mean(uploads) * COUNCILS if uploads else None,
    )


def _verdict(m: Measured) -> str:
    """One line on a measured set: its ratio to DfE's library alone and its peak against the targets."""
    peak = max(m.service.peak, m.service.rules_peak, m.upload.peak if m.upload else 0)
    verdict = (
        f"{m.name}: ratio {m.ratio:.2f} ({'within' if m.ratio <= TARGET_RATIO else 'OVER'} the "
        f"{TARGET_RATIO}x target); peak {peak / MIB:.0f} MiB ({'under' if peak < GIB else 'OVER'} 1 GiB)"
    )
    if m.upload is not None:
        up_ratio = m.upload.to_final / m.library.seconds
        verdict += (
            f"; through the service's upload: stage {m.upload.stage}, {m.upload.figures} figure(s) stored, "
            f"{up_ratio:.2f}x the library alone ({'within' if up_ratio <= TARGET_RATIO else 'OVER'} the target), "
            f"202 in {m.upload.to_202:.3f} s ({'under' if m.upload.to_202 < 1 else 'OVER'} 1 s)"
        )
    return verdict


def _write(lines: list[str], verdicts: list[str], args: argparse.Namespace) -> None:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = (
        f"./run bench records --county-children {args.county_children} --cin-children {args.cin_children} "
        f"--national-sample {args.national_sample} --repeat {args.repeat} --year {args.year}"
        + (" --no-upload" if args.no_upload else "")
        + (" --bare-store" if args.bare_store else "")
        + f" --processes {args.processes}"
        + " --write"
    )
    text = "\n".join(
        [
            "# Record-level returns: benchmark",
            "",
            "Measured by `benchmarks/records/__init__.py` (its docstring says what each column is) on synthetic, "
            "illustrative files (`onereturn records synthetic`), never on a real council's data.",
            "",
            f"- Date: {now}",
            f"- Machine: {_machine()} (shared with other work while measuring)",
            f"- Command: `{command}`",
            "",
            *lines,
            "",
            *[f"- {v}" for v in verdicts],
            "",
        ]
    )
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
