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
  at the date, the join to social care (no census kept), Data to Insight's rules and the workbook; target under 5 s.

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

MIB = 1 << 20
DOC = Path(__file__).resolve().parent.parent / "docs" / "sen2-benchmark.md"
SURVEY, YEAR, INSPECTION = 2025, "2024-25", date(2025, 3, 31)


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

    tree = etree.ElementTree(etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True)))
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
    identity = {
        "new_la_code": "E10000024",
        "old_la_code": "891",
        "la_name": "Nottinghamshire",
        "region_code": "E12000004",
        "region_name": "East Midlands",
    }
    return sum(len(render(t, u, identity, SURVEY)) for t, u in tables(records, SURVEY).values())


def _stored(path: Path, work: Path, run: int) -> float:
    """Take the file through the door into a fresh SQLite store (made first, not timed); the seconds taken."""
    from collectors import ways_in
    from mappings.service import load_bundled
    from onereturn import db
    from onereturn.settings import Settings

    settings = Settings(data_dir=work / f"store-{run}", database_url="")
    settings.data_dir.mkdir(parents=True)
    engine = db.get_engine(settings)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session)
    upload = {"agency_code": "synthetic_county", "collection_year": YEAR, "files": [(path.name, path)]}
    started = time.perf_counter()
    received = ways_in.take(engine, settings, upload)
    took = time.perf_counter() - started
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


def main(argv: list[str]) -> None:
    """Write the files, time each path and print (or write) the table."""
    from cli.synthetic.sen2 import synthetic_sen2
    from collectors.sen2.receiving import check, schema_checked

    parser = argparse.ArgumentParser(prog="python -m benchmarks sen2")
    parser.add_argument("--children", type=int, default=25_000)
    parser.add_argument("--list-children", type=int, default=15_000)
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
        DOC.write_text(text, encoding="utf-8")


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"
