"""Rotating the records keys at scale, against the least any rotation must do, measured in the same run.

``./run bench rotate`` makes a store of ``--children`` made-up children (ids ``BENCH0000001``..., illustrative only)
of one council's upload, each with its pseudonym and sealed id in ``record_child``, ``--lineage`` lineage rows and
one finding, all under one set of keys (SQLite in a temporary folder, or ``--database-url``: a PostgreSQL database
beside it, ``<name>_rotate``, made afresh). It then times, in turn:

- the floor: each child's id opened under the old keys, its pseudonym and sealed id made under new keys (the
  cryptography, on one core), plus one statement a table rewriting every row in place (``SET child = child``), the
  least any rotation writes;
- ``onereturn records rotate-keys`` itself (``collectors.records.rotation.rotate``), from the first query to the new
  keys named current, on as many processes as it takes.

Each figure is the best of ``--repeat`` runs (each rotation moves the store on to newer keys); printed are children
per second and the rotation's time over the floor's. Nothing is asserted here.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, insert, text
from sqlmodel import col

from benchmarks.collect import pg_admin, pg_beside

#: Children written a statement at a time while the store is made.
_CHUNK = 5_000


def make_store(engine: Engine, keys: object, children: int, lineage: int) -> None:
    """The schema, one council and its upload, and ``children`` made-up children sealed under ``keys``."""
    from collectors.records.models import RecordChild, RecordLineage, RecordProblem
    from collectors.records.privacy import Keys
    from onereturn import db

    assert isinstance(keys, Keys)
    db.upgrade(engine)
    submission = _one_upload(engine)
    for start in range(0, children, _CHUNK):
        ids = [f"BENCH{i:07d}" for i in range(start, min(children, start + _CHUNK))]
        names = {child: keys.pseudonym(child) for child in ids}
        with engine.begin() as conn:
            conn.execute(
                insert(RecordChild),
                [{"submission_id": submission, "pseudonym": names[c], "child_sealed": keys.seal_text(c)} for c in ids],
            )
            conn.execute(
                insert(RecordLineage),
                [
                    {
                        "submission_id": submission,
                        "indicator_id": f"cyp.bench_{n}",
                        "org_code": "E10000024",
                        "period": "FY2024-25",
                        "child": names[c],
                        "record_table": "Episodes",
                        "record_row": n,
                        "episode_start": date(2024, 4, 1),
                        "counted": True,
                    }
                    for c in ids
                    for n in range(lineage)
                ],
            )
            conn.execute(
                insert(RecordProblem),
                [
                    {
                        "submission_id": submission,
                        "rule": "dfe:bench",
                        "severity": "query",
                        "message": "made up",
                        "child": names[c],
                        "fields": "",
                    }
                    for c in ids
                ],
            )


def _one_upload(engine: Engine) -> int | None:
    """The made-up council and its one stored upload of records; the upload's id."""
    from indicators.store.models import Submission
    from mappings.models import Agency

    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Agency).values(
                code="bench_council", name="Bench council (made up)", body_type="la", definition={}, created_at=now
            )
        )
        return conn.execute(
            insert(Submission)
            .values(
                agency_code="bench_council",
                filename="bench",
                source_format="records",
                size_bytes=0,
                content_hash="0" * 64,
                raw_path="",
                received_at=now,
                mode="default",
                status="accepted",
                kind="records",
                stage="stored",
                collection_year="2024-25",
            )
            .returning(col(Submission.id))
        ).scalar_one()


def floor_seconds(engine: Engine, old: object, new: object) -> float:
    """The least a rotation does: every child's id opened and made again under new keys (one core), and every row
    of the three tables rewritten in place by one statement a table."""
    from collectors.records.privacy import Keys

    assert isinstance(old, Keys)
    assert isinstance(new, Keys)
    started = time.perf_counter()
    with engine.connect() as conn:
        sealed = [row[0] for row in conn.execute(text("SELECT child_sealed FROM record_child"))]
    for token in sealed:
        child = old.open_text(token)
        new.pseudonym(child)
        new.seal_text(child)
    with engine.begin() as conn:
        conn.execute(text("UPDATE record_child SET pseudonym = pseudonym, child_sealed = child_sealed"))
        conn.execute(text("UPDATE record_lineage SET child = child"))
        conn.execute(text("UPDATE record_problem SET child = child"))
    return time.perf_counter() - started


def main(argv: list[str]) -> None:
    """Make the store, then time the floor and the rotation in turn, ``--repeat`` times each."""
    parser = argparse.ArgumentParser(prog="bench rotate", description=__doc__)
    parser.add_argument("--children", type=int, default=20_000)
    parser.add_argument("--lineage", type=int, default=3, help="lineage rows per child")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--database-url", default="", help="a PostgreSQL database; <name>_rotate is made beside it")
    args = parser.parse_args(argv)
    from collectors.records import rotation
    from collectors.records.privacy import keys_at, keys_for
    from onereturn.settings import Settings

    with tempfile.TemporaryDirectory(prefix="bench-rotate-") as work:
        folder = Path(work)
        if args.database_url:
            url = pg_beside(args.database_url, "rotate")
            name = url.rsplit("/", 1)[1]
            pg_admin(args.database_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        else:
            url = f"sqlite:///{folder / 'store.sqlite3'}"
        engine = create_engine(url)
        settings = Settings(data_dir=folder / "data", records_keys_file=folder / "keys" / "records-keys.json")
        started = time.perf_counter()
        make_store(engine, keys_for(settings), args.children, args.lineage)
        print(
            f"store: {args.children:,} children, {args.children * args.lineage:,} lineage rows, "
            f"{args.children:,} findings on {engine.dialect.name}, made in {time.perf_counter() - started:.1f} s"
        )
        floors: list[float] = []
        rotations: list[float] = []
        for _ in range(args.repeat):
            old = keys_for(settings)
            floors.append(floor_seconds(engine, old, keys_at(folder / "floor" / f"{len(floors)}.json")))
            started = time.perf_counter()
            rotation.rotate(engine, settings)
            rotations.append(time.perf_counter() - started)
        engine.dispose()
        if args.database_url:
            pg_admin(args.database_url, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')
    floor, rotated = min(floors), min(rotations)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f}")
    print(f"| step | seconds (best of {args.repeat}) | children a second |")
    print("|---|---|---|")
    print(f"| floor (cryptography on one core + one UPDATE a table) | {floor:.2f} | {args.children / floor:,.0f} |")
    print(f"| onereturn records rotate-keys | {rotated:.2f} | {args.children / rotated:,.0f} |")
    print(f"rotation over the floor: {rotated / floor:.2f}x")
