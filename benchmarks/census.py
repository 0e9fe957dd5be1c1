"""A county's school census term: read and checked, against the same CSVs read alone with polars.

``./run bench census`` (``python -m benchmarks census``) writes a seeded made-up census in COLLECT's blade layout
(:func:`collectors.census.synthetic.write_census`: ``--pupils`` pupils on roll, default 250,000, the autumn census of
2024, about six session rows a pupil and an exclusion row for one pupil in twelve, so about 1.5 million session rows
and 20,000 exclusion rows at the default) and times, each the best of ``--repeat`` runs:

- polars alone: every blade read whole as text by ``polars.read_csv``, nothing more (the floor of any reader);
- the census read and checked (:func:`collectors.census.blades.read_census`): each blade known by its heading and
  checked against the 2024 autumn schema, the checks that join the blades, the census's tables made; target under
  60 s at the default size, with its ratio to polars alone.

The functions another part of the benchmark builds on: :func:`made_county` (the census's files),
:func:`polars_alone` and :func:`read_checked` (each one run, in seconds) and :func:`reading` (the rows above).

The storing part (:func:`storing`) runs each of two in a fresh process, so each one's peak resident set
(``ru_maxrss``) is its own, the best of ``--repeat`` (its peak the highest of them):

- polars alone, again: every blade read whole as text, nothing more (the floor of time and of memory);
- the census read, checked, minimised and stored: the files taken through the table of ways in as an upload is
  (``collectors.ways_in.take``: read and checked, the pupils the council needs kept, sealed under the records keys,
  the submission and each pupil kept written) into a SQLite store of the bundled catalogue made beforehand, not timed,
  the council Nottinghamshire, whose other children's records it holds none of (so the pupils kept are those on SEN
  support or with a plan), the blades sent as CSVs under an upload limit of 1 GiB (the default's 50 MB is for a
  ZIP of them); targets under 60 s and under 1.5 GB, each with its ratio to polars alone's.

The lists' part times List 1 and List 2 as the service makes them for an inspection on 31 March 2025, each the best
of ``--repeat`` runs, from records read beforehand (not timed): a made-up SEN2 file of the January 2025 survey with
about ``--list-children`` plans in force (default 20,000; the file holds a quarter more children, as about four in
five have a plan in force), and the autumn 2024 and spring 2025 censuses of a made-up council holding every child with
a plan and enough made-up pupils that about as many are on SEN support (13% of them), each cut to the pupils the door
keeps (:func:`collectors.census.receiving.minimised`: on SEN support or with a plan), as every kept census is. List 1: the plans in force with
the census's four school columns and schools (:func:`collectors.sen2.list1.assemble_list1`) and Data to Insight's
rules for it; List 2: the SEN support pupils with their columns (:func:`collectors.sen2.list2.assemble_list2`) and its
rules; no register or care records (each a join the lists' own benchmarks time). Target: both under 10 s.

Nothing is asserted: the figures are printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

YEAR, TERM = 2024, "autumn"
MIB = 1 << 20


def made_county(folder: Path, pupils: int, seed: int = 1) -> list[tuple[str, Path]]:
    """The made-up county's census term, written into ``folder`` as COLLECT names its blades."""
    from collectors.census.synthetic import write_census

    return write_census(folder, [], year=YEAR, term=TERM, others=pupils, seed=seed)


def polars_alone(files: list[tuple[str, Path]]) -> float:
    """Seconds to read every blade whole as text with polars alone."""
    import polars as pl

    started = time.perf_counter()
    for _, path in files:
        pl.read_csv(path, infer_schema=False)
    return time.perf_counter() - started


def read_checked(files: list[tuple[str, Path]]) -> float:
    """Seconds to read and check the census as the service does."""
    from collectors.census.blades import read_census

    started = time.perf_counter()
    read_census(files)
    return time.perf_counter() - started


def _best(repeat: int, run: Callable[[], float]) -> float:
    return min(run() for _ in range(repeat))


def reading(files: list[tuple[str, Path]], repeat: int) -> dict[str, float]:
    """The reading part's rows: seconds for polars alone and for the census read and checked."""
    return {
        "polars alone: every blade read as text": _best(repeat, lambda: polars_alone(files)),
        "the census read and checked": _best(repeat, lambda: read_checked(files)),
    }


#: Polars alone in a fresh process: every blade read as text; its seconds and peak resident bytes.
POLARS = """
import json, resource, sys, time
import polars as pl
started = time.perf_counter()
for path in json.loads(sys.argv[1]):
    pl.read_csv(path, infer_schema=False)
print(json.dumps({"seconds": time.perf_counter() - started,
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""
#: The census through the door in a fresh process, into the store made for it; its seconds and peak resident bytes.
STORED = """
import json, resource, sys, time
from pathlib import Path
from collectors import ways_in
from onereturn import db
from onereturn.settings import Settings
# A county's term of blades, sent unzipped, is over the default upload limit: the deployment's own limit is set above.
settings = Settings(data_dir=Path(sys.argv[2]), database_url="", max_upload_bytes=1 << 30)
engine = db.get_engine(settings)
files = [(Path(p).name, Path(p)) for p in json.loads(sys.argv[1])]
started = time.perf_counter()
got = ways_in.take(engine, settings, ways_in.RecordFiles(agency_code="notts_cyp", collection_year="2024-25",
                                                         files=files))
took = time.perf_counter() - started
sub = got.submission
assert sub.status == "accepted", sub.message
print(json.dumps({"seconds": took, "read": sub.rows_read, "kept": sub.rows_accepted,
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""
#: The storing part's targets: seconds and peak resident bytes.
TARGET_SECONDS, TARGET_PEAK = 60.0, 1.5e9


def _in_process(code: str, *args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=900)
    if done.returncode:
        raise RuntimeError(f"a benchmark's process failed: {done.stderr.strip().splitlines()[-1:]}")
    found: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def _store(folder: Path) -> Path:
    """A SQLite store of the bundled catalogue in ``folder``, made beforehand (not timed)."""
    from mappings.service import load_bundled
    from onereturn import db
    from onereturn.settings import Settings

    settings = Settings(data_dir=folder, database_url="")
    folder.mkdir(parents=True)
    engine = db.get_engine(settings)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session)
    engine.dispose()
    return folder


def storing(files: list[tuple[str, Path]], work: Path, repeat: int) -> dict[str, dict[str, float]]:
    """The storing part's rows, each run in a fresh process: polars alone, and the census through the door into a
    store made for each run; the fastest run's seconds and the highest peak."""
    paths = json.dumps([str(path) for _, path in files])
    runs: dict[str, list[dict[str, float]]] = {"floor": [], "stored": []}
    for run in range(repeat):
        runs["floor"].append(_in_process(POLARS, paths))
        runs["stored"].append(_in_process(STORED, paths, str(_store(work / f"store-{run}"))))
    return {
        name: {**min(done, key=lambda r: r["seconds"]), "peak": max(r["peak"] for r in done)}
        for name, done in runs.items()
    }


def _stored_rows(found: dict[str, dict[str, float]]) -> str:
    """The storing part's table: seconds and peak memory, each with its ratio to polars alone's, and the targets."""
    floor, stored = found["floor"], found["stored"]
    met = "met" if stored["seconds"] < TARGET_SECONDS and stored["peak"] < TARGET_PEAK else "not met"
    return (
        "| row | seconds | x polars alone | peak MiB | x polars alone |\n|---|---:|---:|---:|---:|\n"
        f"| polars alone: every blade read as text (own process) | {floor['seconds']:.2f} | 1.0 | "
        f"{floor['peak'] / MIB:,.0f} | 1.0 |\n"
        f"| read, checked, minimised and stored (SQLite): {int(stored['read']):,} pupils read, "
        f"{int(stored['kept']):,} kept | {stored['seconds']:.2f} | {stored['seconds'] / floor['seconds']:.1f} | "
        f"{stored['peak'] / MIB:,.0f} | {stored['peak'] / floor['peak']:.1f} |\n\n"
        f"Targets: under {TARGET_SECONDS:.0f} s and under {TARGET_PEAK / 1e9:.1f} GB: **{met}**."
    )


#: The lists' inspection date, the SEN2 survey they read, and the share of the made-up census's pupils on SEN support.
INSPECTION, SURVEY, SUPPORT_SHARE = "2025-03-31", 2025, 0.13
#: The lists' target: List 1 and List 2 together, in seconds.
TARGET_LISTS = 10.0


def made_lists(folder: Path, children: int) -> tuple[Any, list[Any]]:
    """The SEN2 records and the two censuses the lists are made from (read, not timed): about ``children`` plans in
    force, every child with one in both censuses, and about as many pupils on SEN support."""
    from datetime import date

    from cli.synthetic.sen2 import synthetic_sen2
    from collectors.census.blades import read_census
    from collectors.census.receiving import minimised
    from collectors.census.synthetic import Child, write_census
    from collectors.sen2.list1 import plans_at
    from collectors.sen2.records import read_records
    from collectors.sen2.schema import parse

    path = synthetic_sen2(9, round(children * 1.25), SURVEY, folder / "sen2")
    records = read_records(parse(path.read_bytes(), max_bytes=1 << 31), SURVEY)
    plans = plans_at(records, date.fromisoformat(INSPECTION)).drop_nulls("upn").unique("upn")
    held = [Child(u, b, s, "E", "8912000", "100000") for u, b, s in plans.select("upn", "born", "sex").iter_rows()]
    censuses = []
    for year, term in ((2024, "autumn"), (2025, "spring")):
        (folder / term).mkdir(parents=True)
        files = write_census(folder / term, held, year=year, term=term, others=round(children / SUPPORT_SHARE), seed=2)
        # Kept as the door keeps a census: its pupils on SEN support or with a plan (every child given has one).
        censuses.append(minimised(read_census(files).records, frozenset()))
    return records, censuses


def lists(records: Any, censuses: list[Any]) -> tuple[float, int, int]:
    """Seconds to make and check List 1 and List 2 as the service does, and each one's rows."""
    from datetime import date

    from collectors.sen2.list1 import assemble_list1
    from collectors.sen2.list1_rules import check_list1, check_list2
    from collectors.sen2.list2 import assemble_list2

    on = date.fromisoformat(INSPECTION)
    started = time.perf_counter()
    first = assemble_list1(records, None, None, on, None, censuses)
    check_list1(first.rows, on)
    second = assemble_list2(censuses, None, None, on)
    check_list2(second.rows, on)
    return time.perf_counter() - started, first.rows.height, second.rows.height


def _lists_rows(work: Path, children: int, repeat: int) -> str:
    """The lists' part's table: List 1 and List 2 made and checked, best of ``repeat``, against the target."""
    records, censuses = made_lists(work / "lists", children)
    runs = [lists(records, censuses) for _ in range(repeat)]
    seconds, first, second = min(runs)
    met = "met" if seconds < TARGET_LISTS else "not met"
    return (
        "| row | seconds |\n|---|---:|\n"
        f"| List 1 ({first:,} children with a plan) and List 2 ({second:,} on SEN support) made and checked from "
        f"two kept censuses of {censuses[0].pupils.height:,} pupils | {seconds:.2f} |\n\n"
        f"Target: under {TARGET_LISTS:.0f} s: **{met}**."
    )


def main(argv: list[str]) -> None:
    """Write the census, time each row and print the table."""
    from collectors.census.blades import read_census

    parser = argparse.ArgumentParser(prog="python -m benchmarks census")
    parser.add_argument("--pupils", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--list-children", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-census-") as work:
        files = made_county(Path(work), args.pupils)
        size = sum(path.stat().st_size for _, path in files)
        read = read_census(files)
        rows = reading(files, args.repeat)
        stored = storing(files, Path(work), args.repeat)
        listed = _lists_rows(Path(work), args.list_children, args.repeat)
    floor = rows["polars alone: every blade read as text"]
    print(
        f"A made-up county's {YEAR} {TERM} census: {read.pupils_read:,} pupils, {read.records.sessions.height:,} "
        f"sessions by code, {read.records.exclusions.height:,} exclusions, {size / (1 << 20):,.1f} MB of blades; "
        f"best of {args.repeat}\n"
    )
    print("| row | seconds | x polars alone |\n|---|---:|---:|")
    for row, seconds in rows.items():
        print(f"| {row} | {seconds:.2f} | {seconds / floor:.1f} |")
    print("\nThe census stored, each in a fresh process:\n\n" + _stored_rows(stored))
    print("\nThe lists the census fills, for an inspection on " + INSPECTION + ":\n\n" + listed)


if __name__ == "__main__":
    main(sys.argv[1:])
