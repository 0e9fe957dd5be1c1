"""Ofsted's Annex A at a county's size, against reading the same records with polars alone, in the same run.

``./run bench annex-a`` writes seeded synthetic files (illustrative, :mod:`cli.synthetic`): an SSDA903 set of
``--lac-children`` looked-after children (default 2,000) and a CIN census of ``--cin-children`` children in need
(default 10,000), keeps them encrypted as an upload is kept, then times in a fresh process each:

- the service's path, as ``GET /api/agencies/{code}/annex-a.xlsx`` runs it: decrypt the kept files, read the
  tables (our own read, as an upload's), type them, derive Lists 1 to 11 for the inspection date, write Ofsted's
  workbook; target under 10 s;
- polars alone: the same files read into tables and nothing more (the 903 CSVs with ``pl.read_csv``; the census,
  which polars cannot read as XML, with the standard library's parser into polars frames), the floor of any
  builder that reads these files.

Each is the best of ``--repeat`` runs (the two taken in turn), and the processor time of each (the whole process, every
thread) the median of them; the peak resident set (``ru_maxrss``) of each process is its memory. Nothing
here is asserted: the figures are printed, and ``--write`` puts them into ``docs/annex-a-benchmark.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

MIB = 1 << 20
TARGET_SECONDS = 10.0
DOC = Path(__file__).resolve().parent.parent / "docs" / "annex-a-benchmark.md"
YEAR = "2024-25"
INSPECTION = "2025-03-31"

#: The service's path in a fresh process: kept (encrypted) files to the workbook's bytes.
SERVICE = """
import json, resource, sys, tempfile, time
from datetime import date
from pathlib import Path
started = time.perf_counter()
cpu = time.process_time
from collectors.annex_a.build import assemble
from collectors.annex_a.workbook import workbook
from collectors.records.kept import kept_files
from collectors.records.reading import read_files
from collectors.records.ssda903_tables import prepare
from indicators.store.models import Submission
from mappings.annex_a import load_layout
from onereturn.settings import Settings
imported, cpu_imported = time.perf_counter(), cpu()
from sqlalchemy import create_engine
settings = Settings(data_dir=Path(sys.argv[1]))
# No store: kept files are read from the data folder, as on a SQLite store held in memory.
local = create_engine("sqlite://")
tables = {}
for library, raw in (("cin", sys.argv[2]), ("903", sys.argv[3])):
    with tempfile.TemporaryDirectory() as work:
        # Only where the upload is kept is read; the table model is not validated on construction.
        kept = kept_files(local, settings, Submission(raw_path=raw), Path(work))
        read = read_files(kept, Path(work), "2024-25", max_unpacked=1 << 30)
        tables[library] = read.tables if read.library == "cin" else prepare(read.tables)
read_at, cpu_read = time.perf_counter(), cpu()
annex = assemble(tables["cin"], tables["903"], date.fromisoformat(sys.argv[4]), load_layout(), [])
built_at, cpu_built = time.perf_counter(), cpu()
data = workbook(annex)
done, cpu_done = time.perf_counter(), cpu()
print(json.dumps({"seconds": done - imported, "read": read_at - imported, "derive": built_at - read_at,
                  "write": done - built_at, "cpu": cpu_done - cpu_imported, "cpu_read": cpu_read - cpu_imported,
                  "cpu_derive": cpu_built - cpu_read, "cpu_write": cpu_done - cpu_built, "bytes": len(data),
                  "rows": {n: f.height for n, f in annex.lists.items()},
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""

#: Polars alone in a fresh process: the same files read into tables, nothing derived.
POLARS = """
import json, resource, sys, time
import xml.etree.ElementTree as ET
from pathlib import Path
started = time.perf_counter()
import polars as pl
imported, cpu_imported = time.perf_counter(), time.process_time()
frames = [pl.read_csv(p, infer_schema=False) for p in sorted(Path(sys.argv[2]).glob("*.csv"))]
rows = []
for child in ET.parse(sys.argv[1]).getroot().iter("Child"):
    ident = child.find("ChildIdentifiers")
    for details in child.iter("CINdetails"):
        rows.append({"CHILD": ident.findtext("LAchildID"), **{e.tag: e.text for e in details if len(e) == 0}})
census = pl.DataFrame(rows, infer_schema_length=None)
done = time.perf_counter()
print(json.dumps({"seconds": done - imported, "cpu": time.process_time() - cpu_imported, "rows": sum(f.height for f in frames) + census.height,
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def _run(code: str, *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, timeout=600)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _best(runs: list[dict[str, object]]) -> dict[str, object]:
    return min(runs, key=lambda r: float(str(r["seconds"])))


def _median(runs: list[dict[str, object]], key: str) -> float:
    return statistics.median(float(str(r[key])) for r in runs)


def _files(folder: Path, lac: int, cin: int, seed: int) -> tuple[Path, Path, str, str]:
    """Write the synthetic files and keep each set encrypted as an upload is kept."""
    from sqlalchemy import create_engine

    from cli.synthetic import synthetic_903, synthetic_cin
    from collectors.records.kept import content_hash, keep
    from collectors.records.privacy import keys_for
    from onereturn.settings import Settings

    tables = synthetic_903(seed, lac, YEAR, folder / "903")
    census = synthetic_cin(seed, cin, YEAR, folder / "cin")
    settings = Settings(data_dir=folder / "data")
    keys = keys_for(settings)
    kept = []
    for files in ([census], tables):
        named = [(p.name, p) for p in files]
        kept.append(keep(create_engine("sqlite://"), settings, keys, content_hash(named), named))
    return census, folder / "903", kept[0], kept[1]


def main(argv: list[str]) -> None:
    """Time Annex A's workbook at a county's size against polars reading the same files."""
    parser = argparse.ArgumentParser(prog="bench annex-a")
    parser.add_argument("--lac-children", type=int, default=2000)
    parser.add_argument("--cin-children", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-annexa-") as tmp:
        folder = Path(tmp)
        census, csvs, kept_cin, kept_903 = _files(folder, args.lac_children, args.cin_children, args.seed)
        services, alones = [], []
        for _ in range(args.repeat):
            # In turn, so both meet the machine's other work alike.
            services.append(_run(SERVICE, str(folder / "data"), kept_cin, kept_903, INSPECTION))
            alones.append(_run(POLARS, str(census), str(csvs)))
    service, alone = _best(services), _best(alones)
    seconds, floor = float(str(service["seconds"])), float(str(alone["seconds"]))
    cpu, cpu_floor = _median(services, "cpu"), _median(alones, "cpu")
    lines = [
        f"Annex A for {args.lac_children:,} looked-after children (SSDA903) and {args.cin_children:,} children in "
        f"need (CIN census), inspection {INSPECTION}, best of {args.repeat}, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end, {datetime.now(UTC):%Y-%m-%d}",
        "",
        "| path | seconds | peak memory (MiB) |",
        "|---|---:|---:|",
        f"| the service: decrypt, read, derive Lists 1-11, write the workbook | {seconds:.2f} "
        f"| {int(str(service['peak'])) / MIB:.0f} |",
        f"| of which: read {float(str(service['read'])):.2f}, derive {float(str(service['derive'])):.2f}, "
        f"write {float(str(service['write'])):.2f} | | |",
        f"| polars alone: read the same files into tables | {floor:.2f} | {int(str(alone['peak'])) / MIB:.0f} |",
        "",
        f"Ratio {seconds / floor:.1f}x the read alone; target under {TARGET_SECONDS:.0f} s: "
        f"{'met' if seconds < TARGET_SECONDS else 'NOT met'}. Rows per list: {service['rows']}; "
        f"workbook {int(str(service['bytes'])) / MIB:.1f} MiB.",
        "",
        f"Processor seconds (the whole process, every thread), median of {args.repeat} fresh processes each:",
        "",
        "| CPU s | service | read | derive | write | polars alone | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| median | {cpu:.2f} | {_median(services, 'cpu_read'):.2f} | {_median(services, 'cpu_derive'):.2f} "
        f"| {_median(services, 'cpu_write'):.2f} | {cpu_floor:.2f} | {cpu / cpu_floor:.1f}x |",
    ]
    print("\n".join(lines))
    if args.write:
        DOC.write_text("# Annex A benchmark (`./run bench annex-a`)\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
