"""A region's hub at a region's size: every council's files in and the pooled tables built, on PostgreSQL, by two
hosts at once, with each host's peak memory.

``./run bench region --database-url postgresql+psycopg://…/NAME`` makes a database beside the one given
(``NAME_region``), its schema and the bundled catalogue and geography, a region of ``--councils`` London boroughs
(default 4 and 33: London's 32 boroughs and the City) each consenting to ``pan`` and ``sufficiency``, and ONS's
postcode directory of the tests (the synthetic files' postcodes). Each council gets made-up files (illustrative,
:mod:`cli.synthetic`): an SSDA903 of ``--looked-after`` children (default 300), a CIN census of ``--in-need``
children (default 2,300) and a SEN2 file of ``--plans`` children (default 3,000): at 33 councils about the 10,000
children looked after, 75,000 children in need and 100,000 EHC plans of a region London's size. Then it times:

- files in: each council's three files kept sealed as its accepted uploads, as the door keeps them (DfE's rules
  are not run: ``./run bench records`` times them; the files are made before and not timed);
- two hosts at once, each a process of its own on the same store: host A builds ``ssda903_header``,
  ``ssda903_episodes`` and ``cin_census``, host B ``sen2_persons`` and the ``sufficiency`` placements, each host its
  tables in one build (``collectors.regions.pooled.make``: each council's files read once for all of them, as the
  region's page builds its own), the build's seconds, each table's rows, and each host's peak resident memory
  (``ru_maxrss``).

Nothing is asserted: the figures are printed, and ``--write`` puts them into ``docs/region-benchmark.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks.collect import pg_admin, pg_beside

DOC = Path(__file__).resolve().parent.parent / "docs" / "region-benchmark.md"
FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "regions" / "onspd_feb2023_sample.csv"
REGION, YEAR, ON = "london_hub", "2024-25", date(2025, 3, 31)
#: The tables each host builds.
HOSTS = {"A": ("ssda903_header", "ssda903_episodes", "cin_census"), "B": ("sen2_persons", "placements")}


def council_codes(count: int) -> list[str]:
    """The first ``count`` London boroughs' GSS codes (E09000001, the City, to E09000033)."""
    return [f"E090000{n:02d}" for n in range(1, count + 1)]


def make_files(folder: Path, index: int, looked_after: int, in_need: int, plans: int) -> dict[str, list[Path]]:
    """One council's made-up files (seeded by its place in the region), made once and kept for every size."""
    from cli.synthetic import synthetic_903, synthetic_cin
    from cli.synthetic.sen2 import synthetic_sen2

    home = folder / f"council-{index:02d}"
    la = "E10000024" if index % 2 else "E10000007"
    if not (home / "done").exists():
        synthetic_903(100 + index, looked_after, YEAR, home / "903", la=la)
        synthetic_cin(100 + index, in_need, YEAR, home / "cin", la=la)
        synthetic_sen2(100 + index, plans, 2025, home / "sen2", la=la)
        (home / "done").touch()
    return {
        "903": sorted((home / "903").glob("*.csv")),
        "cin": sorted((home / "cin").glob("*.xml")),
        "sen2": sorted((home / "sen2").glob("*.xml")),
    }


def make_store(url: str, councils: list[str]) -> None:
    """The schema, the bundled catalogue and geography, the councils and the region, consent and the directory.

    Each council owes SEN2 only, which makes it a member: the bundled agencies already answer for Lewisham's
    SSDA903 and CIN census figures, and a figure has one designated source."""
    from sqlmodel import Session

    from collectors.regions.onspd import store_directory
    from mappings import registry
    from mappings.regions import consent
    from mappings.service import load_bundled
    from onereturn import db

    engine = db.make_engine(url)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session)
    rows = [f"lb_{n:02d},Borough {n},local_authority,{gss},dfe_sen2" for n, gss in enumerate(councils, 1)]
    sheet = (
        "code,name,body_type,orgs,returns\n" + "\n".join(rows) + f"\n{REGION},London hub,region,{';'.join(councils)},\n"
    )
    with Session(engine) as session:
        registry.import_agencies(session, sheet.encode(), "region.csv")
        for n in range(1, len(councils) + 1):
            consent.give(session, f"lb_{n:02d}", REGION, ["pan", "sufficiency"], by="bench")
        session.commit()
    store_directory(engine, FIXTURE)
    engine.dispose()


def files_in(url: str, settings: Any, files: list[dict[str, list[Path]]]) -> float:
    """Keep every council's files sealed as its accepted uploads, as the door keeps them; the seconds taken."""
    from sqlmodel import Session

    from collectors.records.kept import content_hash, keep
    from collectors.records.privacy import checked_keys
    from indicators.store.models import RECORDS_KIND, Submission
    from onereturn import db

    engine = db.make_engine(url)
    started = time.perf_counter()
    keys = checked_keys(engine, settings)
    for n, held in enumerate(files, 1):
        for library, paths in held.items():
            named = [(p.name, p) for p in paths]
            digest = content_hash(named)
            name = keep(engine, settings, keys, digest, named)
            with Session(engine) as session:
                session.add(
                    Submission(
                        agency_code=f"lb_{n:02d}",
                        filename=", ".join(p.name for p in paths)[:255],
                        source_format=library,
                        size_bytes=sum(p.stat().st_size for p in paths),
                        content_hash=digest,
                        raw_path=name,
                        received_at=datetime.now(UTC),
                        mode="sen2" if library == "sen2" else "default",
                        status="accepted",
                        kind=RECORDS_KIND,
                        stage="stored",
                        collection_year=YEAR,
                    )
                )
                session.commit()
    took = time.perf_counter() - started
    engine.dispose()
    return took


def host(name: str, url: str, data_dir: str, keys_file: str, out: Any) -> None:
    """One host: a process of its own building its tables on the shared store; its times, rows and peak memory."""
    from collectors.regions.pooled import make, pending
    from collectors.regions.sufficiency import pending_placements
    from onereturn import db
    from onereturn.settings import Settings

    settings = Settings(data_dir=Path(data_dir), database_url=url, records_keys_file=Path(keys_file))
    engine = db.make_engine(url)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # The host's tables in one build, as the region's page builds its own: each council's files read once.
    started = time.perf_counter()
    made = make(
        engine,
        settings,
        [
            pending_placements(engine, settings, REGION, ON)
            if table == "placements"
            else pending(engine, settings, REGION, "pan", table)
            for table in HOSTS[name]
        ],
    )
    took = time.perf_counter() - started
    times = {
        table: (took, built.frame.height, len(built.csv())) for table, built in zip(HOSTS[name], made, strict=True)
    }
    engine.dispose()
    out.put((name, times, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


def two_hosts(url: str, settings: Any) -> tuple[float, dict[str, Any]]:
    """Both hosts at once, each in a process of its own; the wall seconds and each host's figures."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    started = time.perf_counter()
    hosts = [
        context.Process(target=host, args=(name, url, str(settings.data_dir), str(settings.records_keys_file), queue))
        for name in HOSTS
    ]
    for process in hosts:
        process.start()
    found = {name: (times, before, peak) for name, times, before, peak in (queue.get() for _ in hosts)}
    for process in hosts:
        process.join()
    return time.perf_counter() - started, found


def measure(database_url: str, folder: Path, count: int, sizes: tuple[int, int, int]) -> dict[str, Any]:
    """Make the store for ``count`` councils, put their files in and build the tables on two hosts."""
    from onereturn.settings import Settings

    url = pg_beside(database_url, "region")
    name = url.rsplit("/", 1)[1]
    pg_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    settings = Settings(
        data_dir=folder / f"data-{count}", database_url=url, records_keys_file=folder / f"keys-{count}" / "keys.json"
    )
    councils = council_codes(count)
    files = [make_files(folder, n, *sizes) for n in range(1, count + 1)]
    make_store(url, councils)
    took_in = files_in(url, settings, files)
    wall, hosts = two_hosts(url, settings)
    pg_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    size = sum(p.stat().st_size for held in files for paths in held.values() for p in paths)
    return {"councils": count, "files_mib": size / (1 << 20), "files_in": took_in, "wall": wall, "hosts": hosts}


def report(results: list[dict[str, Any]], sizes: tuple[int, int, int]) -> str:
    """The results as the benchmark's page."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Region benchmark",
        "",
        f"`./run bench region --councils {','.join(str(r['councils']) for r in results)}` on PostgreSQL: per council "
        f"{sizes[0]:,} looked-after children, {sizes[1]:,} children in need and {sizes[2]:,} SEN2 children (made up); "
        f"measured {date.today().isoformat()} on {platform.machine()}, CPython {platform.python_version()}, load "
        f"{load:.1f} as it ended (see benchmarks/region.py for what each row times).",
        "",
        "| councils | files | files in | table | host | rows | CSV | its host's build, seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name, (times, _, _) in sorted(r["hosts"].items()):
            for table, (seconds, rows, size) in times.items():
                lines.append(
                    f"| {r['councils']} | {r['files_mib']:.1f} MiB | {r['files_in']:.1f} s | {table} | {name} | "
                    f"{rows:,} | {size / (1 << 20):.1f} MiB | {seconds:.2f} s |"
                )
    lines += ["", "| councils | both hosts, wall | host A peak memory | host B peak memory |", "|---|---|---|---|"]
    for r in results:
        peaks = {n: peak / 1024 for n, (_, _, peak) in r["hosts"].items()}
        lines.append(f"| {r['councils']} | {r['wall']:.1f} s | {peaks['A']:.0f} MiB | {peaks['B']:.0f} MiB |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    """Measure each size of region in turn, print the table, and write it with ``--write``."""
    parser = argparse.ArgumentParser(prog="bench region", description=__doc__)
    parser.add_argument("--database-url", required=True, help="a PostgreSQL database; NAME_region is made beside it")
    parser.add_argument("--councils", default="4,33", help="the sizes of region, in councils (comma-separated)")
    parser.add_argument("--looked-after", type=int, default=300)
    parser.add_argument("--in-need", type=int, default=2_300)
    parser.add_argument("--plans", type=int, default=3_000)
    parser.add_argument("--write", action="store_true", help=f"write the table into {DOC.name}")
    args = parser.parse_args(argv)
    sizes = (args.looked_after, args.in_need, args.plans)
    with tempfile.TemporaryDirectory(prefix="bench-region-") as work:
        results = [measure(args.database_url, Path(work), int(n), sizes) for n in args.councils.split(",")]
    text = report(results, sizes)
    print(text)
    if args.write:
        DOC.write_text(text)
