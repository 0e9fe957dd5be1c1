"""A council's SEN2 file at a large county's size: the door's read and check against lxml's own, the whole path, and
the area SEND inspection's List 1.

``./run bench sen2`` writes a seeded synthetic SEN2 file (illustrative, :mod:`cli.synthetic.sen2`) of ``--children``
children (default 25,000) for the January 2025 survey and times, each the best of ``--repeat`` runs:

- lxml alone: the file parsed and validated against the survey's schema, nothing more (the floor of any check);
- the door's read and schema check (``collectors.sen2.receiving.schema_checked``): the bytes' safety check, the
  parse, the tree's declarations and depth, the schema and the survey's year; target at most 2x lxml alone;
- the door's whole check (``collectors.sen2.receiving.check``): that, then the file read into its tables, the
  service's own rules on them and each child's key (reported beside lxml, no target: lxml makes no tables);
- the whole path: the check, the file sealed as it is kept (the records keys' encryption of its ZIP), each child's
  pseudonym and sealed id made, the file read into tables and all twelve of DfE's tables made; target under 20 s.
  no database is opened (the next row has the store);
- through the door into a store: the file taken as an upload is (``collectors.ways_in.take``: the check, the file kept
  sealed, the submission and each child's row written, the figures worked out and stored) on a SQLite store of the
  bundled catalogue made beforehand, the council being the demo county; the best of ``--repeat`` fresh stores;
- List 1 for a file of ``--list-children`` children (default 15,000, about 12,000 plans in force): the plans in force
  at the date, the join to social care (no census kept), Data to Insight's rules and the workbook; target under 5 s;
- the register of establishments loaded: a synthetic register in GIAS's layout (:mod:`cli.synthetic.gias`,
  ``--establishments`` made-up establishments, default 50,000, its unread columns filled to about the size of GIAS's
  extract) and its links file, read, checked and stored in a fresh SQLite store; target under 10 s;
- DfE's twelve tables of the 25,000 children as the service makes them when asked (the file parsed and read, each
  table made), without a register (the columns a URN or UKPRN decides written x, as before the register) and with
  the register above (read from the store afresh, the file's URNs and UKPRNs looked up, each placement typed, the
  type of placement rows made); target: typed within 1.5x of untyped.

Nothing is asserted: the figures are printed, and ``--write`` puts them into ``docs/sen2-benchmark.md``.
"""

from __future__ import annotations

import argparse
import io
import platform
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

MIB = 1 << 20
DOC = Path(__file__).resolve().parent.parent / "docs" / "sen2-benchmark.md"
SURVEY, YEAR, INSPECTION = 2025, "2024-25", date(2025, 3, 31)
#: Nottinghamshire's codes as DfE's release gives them, the council the tables are made for.
IDENTITY = {
    "new_la_code": "E10000024",
    "old_la_code": "891",
    "la_name": "Nottinghamshire",
    "region_code": "E12000004",
    "region_name": "East Midlands",
}


def _best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def _lxml_alone(data: bytes) -> None:
    from lxml import etree

    from collectors.sen2.schema import schema
    from onereturn.untrusted_xml import HARDENED

    tree = etree.ElementTree(etree.fromstring(data, etree.XMLParser(**HARDENED)))
    assert schema(SURVEY).validate(tree)


def _whole(data: bytes, keys_dir: Path) -> int:
    from collectors.records.privacy import keys_for
    from collectors.sen2.measures import tables
    from collectors.sen2.receiving import check
    from collectors.sen2.records import read_records
    from collectors.sen2.schema import parse
    from collectors.sen2.tables import render
    from onereturn.settings import Settings

    checked = check(data, YEAR, max_bytes=1 << 31)
    keys = keys_for(Settings(data_dir=keys_dir))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("00-sen2.xml", data)
    keys.seal(buffer.getvalue())
    ids = [key[1] for key in checked.children if key is not None]
    names = keys.pseudonyms(ids)
    _ = [(names[i], keys.seal_text(i)) for i in ids]
    records = read_records(parse(data, max_bytes=1 << 31), SURVEY)
    return sum(len(render(t, u, IDENTITY, SURVEY)) for t, u in tables(records, SURVEY).values())


def _stored(path: Path, work: Path, run: int) -> float:
    """Take the file through the door into a fresh SQLite store (made first, not timed); the seconds taken."""
    from collectors import ways_in
    from collectors.ssd.receiving import Taken
    from mappings.service import load_bundled
    from onereturn import db
    from onereturn.settings import Settings

    settings = Settings(data_dir=work / f"store-{run}", database_url="")
    settings.data_dir.mkdir(parents=True)
    engine = db.get_engine(settings)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session)
    upload = ways_in.RecordFiles(agency_code="synthetic_county", collection_year=YEAR, files=[(path.name, path)])
    started = time.perf_counter()
    received = ways_in.take(engine, settings, upload)
    took = time.perf_counter() - started
    assert not isinstance(received, Taken)
    assert received.submission.status == "accepted", received.submission.message
    engine.dispose()
    return took


def _list1(data: bytes) -> int:
    from collectors.sen2.list1 import assemble_list1
    from collectors.sen2.list1_rules import check_list1
    from collectors.sen2.list1_workbook import list1_workbook
    from collectors.sen2.records import read_records
    from collectors.sen2.schema import parse

    built = assemble_list1(read_records(parse(data, max_bytes=1 << 31), SURVEY), None, None, INSPECTION)
    list1_workbook(built, check_list1(built.rows, INSPECTION))
    return built.rows.height


def _register(work: Path, count: int) -> tuple[Any, float]:
    """A fresh SQLite store with the synthetic register loaded (the load timed), and the seconds the load took."""
    from cli.synthetic.gias import synthetic_register
    from mappings.establishments.service import load_register
    from onereturn import db
    from onereturn.settings import Settings

    extract, links = synthetic_register(11, count, date(2025, 1, 10), filler="Filler")
    settings = Settings(data_dir=work / "register", database_url="")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.get_engine(settings)
    db.upgrade(engine)
    started = time.perf_counter()
    load_register(
        engine, settings, extract, "edubasealldata20250110.csv", links=links, links_name="links.csv", by="bench"
    )
    return engine, time.perf_counter() - started


def _tables(data: bytes, engine: Any) -> int:
    """DfE's twelve tables from the file as the service makes them when asked (parsed, read into its tables, each
    table made), typed by the register in ``engine`` (None: no register), read from the store afresh."""
    from collectors.sen2.measures import tables
    from collectors.sen2.placing import placements_register
    from collectors.sen2.records import read_records
    from collectors.sen2.schema import parse
    from collectors.sen2.tables import render
    from mappings.establishments import register as held

    records = read_records(parse(data, max_bytes=1 << 31), SURVEY)
    held._READ.clear()
    register = placements_register(engine, records) if engine is not None else None
    return sum(len(render(t, u, IDENTITY, SURVEY)) for t, u in tables(records, SURVEY, register).values())


def main(argv: list[str]) -> None:
    """Write the files, time each path and print (or write) the table."""
    from cli.synthetic.sen2 import synthetic_sen2
    from collectors.sen2.receiving import check, schema_checked

    parser = argparse.ArgumentParser(prog="python -m benchmarks sen2")
    parser.add_argument("--children", type=int, default=25_000)
    parser.add_argument("--list-children", type=int, default=15_000)
    parser.add_argument("--establishments", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-sen2-") as work:
        # The synthetic county's own file (its header naming Derbyshire, the council it stands in for): taken into a
        # store as that county's, which refuses another council's.
        big = synthetic_sen2(7, args.children, SURVEY, Path(work) / "big", la="E10000007")
        data = big.read_bytes()
        small = synthetic_sen2(8, args.list_children, SURVEY, Path(work) / "list").read_bytes()
        floor = _best(args.repeat, lambda: _lxml_alone(data))
        read = _best(args.repeat, lambda: schema_checked(data, YEAR, max_bytes=1 << 31))
        door = _best(args.repeat, lambda: check(data, YEAR, max_bytes=1 << 31))
        whole = _best(args.repeat, lambda: _whole(data, Path(work) / "keys"))
        stored = min(_stored(big, Path(work), run) for run in range(args.repeat))
        plans = _list1(small)
        listed = _best(args.repeat, lambda: _list1(small))
        loads = [_register(Path(work) / f"r{run}", args.establishments) for run in range(args.repeat)]
        loaded, engine = min(took for _, took in loads), loads[-1][0]
        plain = _best(args.repeat, lambda: _tables(data, None))
        typed = _best(args.repeat, lambda: _tables(data, engine))
        for made, _ in loads:
            made.dispose()
    rows = [
        ("lxml alone: parse and schema", f"{floor:.2f} s", ""),
        (
            "the door's read and schema check",
            f"{read:.2f} s ({read / floor:.1f}x lxml)",
            "<= 2x lxml: " + _met(read <= 2 * floor),
        ),
        ("the door's whole check (and tables, rules, keys)", f"{door:.2f} s ({door / floor:.1f}x lxml)", ""),
        ("the whole path (check, seal, pseudonyms, 12 tables)", f"{whole:.2f} s", "< 20 s: " + _met(whole < 20)),
        ("through the door into a store (SQLite)", f"{stored:.2f} s", "< 20 s: " + _met(stored < 20)),
        (f"List 1, {plans:,} plans", f"{listed:.2f} s", "< 5 s: " + _met(listed < 5)),
        (
            f"the register loaded: {args.establishments:,} establishments and their links (SQLite)",
            f"{loaded:.2f} s",
            "< 10 s: " + _met(loaded < 10),
        ),
        ("the twelve tables from the file, no register (URN and UKPRN columns x)", f"{plain:.2f} s", ""),
        (
            "the twelve tables from the file, placements typed by the register",
            f"{typed:.2f} s ({typed / plain:.2f}x)",
            "<= 1.5x: " + _met(typed <= 1.5 * plain),
        ),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    text = (
        f"# SEN2 benchmark\n\n`./run bench sen2 --repeat {args.repeat}`: a synthetic SEN2 file of {args.children:,} "
        f"made-up children ({len(data) / MIB:.1f} MiB) and one of {args.list_children:,} for List 1, best of "
        f"{args.repeat}; measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, "
        f"{platform.python_implementation()} {platform.python_version()} (see benchmarks/sen2.py for what each row "
        "times).\n\n| path | time | target |\n|---|---|---|\n" + table + "\n"
    )
    print(text)
    if args.write:
        # The sections after the table (the served county's figures, written up by hand) are kept as they are.
        kept = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
        after = kept[kept.index("\n## ") :] if "\n## " in kept else ""
        DOC.write_text(text + after, encoding="utf-8")


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"
