"""The published-figures intake against the plain upload path, on the same rows, in the same run.

``./run bench published`` reads every bundled publisher's file (``collectors/published/files/``, the EES tidy CSVs
the demo uses) twice, each into a fresh SQLite store loaded with the catalogue and geography (no demo agencies), its write-ahead log
then emptied so each path pays for the pages it writes:

- through the intake (``import_release``: keep the raw file, read it in the publisher's layout with polars, check
  it with pandera, store every figure through the store's writer);
- as a plain upload of the same figures (``collectors.figures.service.submit``: a long-format CSV of exactly the figures
  the intake stored, sent by the same publisher's agency, made the designated source of them for the run).

Like for like: a publisher that rounds each count on its own (NDTMS, to fives) is not held to its rounded parts
adding up to its rounded total, by the intake. An upload held to that rule refuses those rows (13,847 of the
Barnet ViewIt export's figures) and stores fewer figures than the intake, which would flatter it; so the plain
upload of such a file is held to the rules the intake holds it to, and must store every figure the intake stores.

Both times are wall-clock for the whole call, best of ``--repeat`` runs, and the ratio (intake / upload) the two
best's; with ``--clock process`` the process's processor seconds, each the median of the runs, and the ratio the
median of each intake's over the upload run beside it (a machine shared with other work moves them far less). The
ratio is the cost of reading the publisher's own layout and keeping its figures (target 1.5x or less). Then the unchanged release is imported again (it is
recognised by its hash: near zero work). No timing is asserted anywhere; ``--write`` puts the table into
``docs/published-benchmark.md``.
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session, select

from collectors.checks.context import build_context
from collectors.checks.policy import Context
from collectors.figures import service as upload_service
from collectors.figures.service import submit
from collectors.published.intake import _ensure_publisher, import_release, read_release
from collectors.published.sources import SourceSpec, load_sources
from collectors.published.viewit import area_lookup
from mappings.models import AgencyIndicator, AgencyOrg, OrgUnit
from onereturn import db
from onereturn.settings import Settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "published-benchmark.md"
TARGET_RATIO = 1.5


def _store(folder: Path) -> Engine:
    from mappings.service import load_bundled

    engine = db.make_engine(f"sqlite:///{folder / 'store.sqlite3'}")
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session, demo_keys=False)
    # Loading the catalogue leaves about 700 pages in SQLite's write-ahead log, whose limit is 1,000: left there, the
    # first timed call to pass the limit copies them all into the database (a checkpoint), and is charged for
    # loading the catalogue as well as its own writes. Emptied first, each path pays for what it writes.
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return engine


def _designate(engine: Engine, spec: SourceSpec, figures: pl.DataFrame) -> None:
    """Make the publisher's agency the designated source of the file's figures, so an upload of them is accepted."""
    with Session(engine) as session:
        _ensure_publisher(session, spec, datetime.now(UTC))
        session.add_all(
            AgencyIndicator(agency_code=spec.publisher, indicator_id=i) for i in figures["indicator_id"].unique()
        )
        known = set(session.execute(select(OrgUnit.code)).scalars())
        session.add_all(
            AgencyOrg(agency_code=spec.publisher, org_code=o) for o in figures["org_code"].unique() if o in known
        )
        session.commit()


def _upload_csv(figures: pl.DataFrame) -> bytes:
    """The figures as the long-format upload CSV (a withheld value's symbol in the value column)."""
    value = (
        pl.when(pl.col("symbol").is_not_null())
        .then(pl.col("symbol"))
        .otherwise(pl.col("value").cast(pl.String).str.replace(r"\.0$", ""))
    )
    frame = figures.select(
        pl.col("indicator_id").alias("indicator"),
        pl.col("org_code").alias("org"),
        "period",
        "breakdown",
        value.alias("value"),
        pl.lit("").alias("numerator"),
        pl.lit("").alias("denominator"),
        pl.lit("").alias("status"),
        pl.lit("").alias("note"),
    )
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


def _held_as_the_intake_holds(spec: SourceSpec) -> AbstractContextManager[Any]:
    """For a publisher that rounds each count on its own, the upload's rules without the parts-add-up rule (as
    ``collectors.published.check`` leaves it out), so the upload stores the same figures the intake stores."""
    if not spec.rounded_to:
        return nullcontext()

    def context(*args: Any, **kwargs: Any) -> Context:
        ctx = build_context(*args, **kwargs)
        return replace(ctx, rules=tuple(r for r in ctx.rules if r.kind != "breakdown_sum"))

    return mock.patch.object(upload_service, "build_context", context)


def _read(spec: SourceSpec, data: bytes) -> tuple[pl.DataFrame, int]:
    """The publisher's file read as the intake reads it, its area names resolved against a fresh store's geography."""
    with tempfile.TemporaryDirectory(prefix="bench-published-") as tmp:
        engine = _store(Path(tmp))
        try:
            return read_release(spec, data, areas=area_lookup(engine))
        finally:
            engine.dispose()


#: The clock the calls are timed by, and how the runs are summed up (``--clock``).
_CLOCK: dict[str, tuple[Callable[[], float], Callable[[list[float]], float]]] = {
    "wall": (time.perf_counter, min),
    "process": (time.process_time, statistics.median),
}
_clock = time.perf_counter


def _intake(spec: SourceSpec, data: bytes) -> tuple[float, float, int]:
    """One fresh store: the intake's time, the unchanged release's again, and the figures stored."""
    with tempfile.TemporaryDirectory(prefix="bench-published-") as tmp:
        folder = Path(tmp)
        engine = _store(folder)
        settings = Settings(data_dir=folder / "data")
        started = _clock()
        done = import_release(engine, settings, spec, data, filename=spec.file, fetched_from="benchmark")
        took = _clock() - started
        started = _clock()
        import_release(engine, settings, spec, data, filename=spec.file, fetched_from="benchmark")
        again = _clock() - started
        engine.dispose()
    return took, again, done.release.stored_new


def _upload(spec: SourceSpec, figures: pl.DataFrame) -> float:
    """One fresh store: the plain upload's time for the same figures."""
    with tempfile.TemporaryDirectory(prefix="bench-published-") as tmp:
        folder = Path(tmp)
        engine = _store(folder)
        settings = Settings(data_dir=folder / "data")
        with Session(engine) as session:
            known = set(session.execute(select(OrgUnit.code)).scalars())
        same = figures.filter(pl.col("org_code").is_in(list(known)))
        _designate(engine, spec, same)
        body = _upload_csv(same)
        with _held_as_the_intake_holds(spec):
            started = _clock()
            outcome = submit(engine, settings, agency_code=spec.publisher, filename="same.csv", data=body)
            took = _clock() - started
        assert outcome.submission is not None
        # Every figure is taken: stored, or held by a plausibility query (the intake asks none: the figures
        # are the publisher's, already published).
        taken = outcome.submission.rows_accepted + outcome.submission.queries_open
        assert taken == same.height, outcome.submission.message
        engine.dispose()
    return took


def measure(spec: SourceSpec, repeat: int, summed: Callable[[list[float]], float] = min) -> dict[str, float]:
    """Time the intake and the plain upload of one file's figures over ``repeat`` fresh stores each (the best, or
    as ``summed`` sums the runs up), the two paths taken in alternating order so neither always runs on the
    other's warmed caches."""
    data = spec.bundled.read_bytes()
    figures, rows = _read(spec, data)
    intakes: list[float] = []
    agains: list[float] = []
    uploads: list[float] = []
    stored = 0
    for run in range(repeat):
        for path in ("intake", "upload") if run % 2 == 0 else ("upload", "intake"):
            if path == "intake":
                took, twice, stored = _intake(spec, data)
                intakes.append(took)
                agains.append(twice)
            else:
                uploads.append(_upload(spec, figures))
    intake, upload = summed(intakes), summed(uploads)
    # Each intake over the upload run beside it: a spell of load on a shared machine moves both of a pair.
    paired = summed([i / u for i, u in zip(intakes, uploads, strict=True)])
    return {
        "rows": rows,
        "figures": stored,
        "intake": intake,
        "upload": upload,
        "again": summed(agains),
        "ratio": intake / upload if summed is min else paired,
    }


def main(argv: list[str]) -> None:
    """Run the benchmark over every bundled publisher's file and print (or write) the table."""
    parser = argparse.ArgumentParser(prog="./run bench published")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path; the best is kept")
    parser.add_argument("--write", action="store_true", help=f"write the table into {DOC.name}")
    parser.add_argument("--file", default="", help="only the publisher's files whose name contains this")
    parser.add_argument(
        "--clock", choices=sorted(_CLOCK), default="wall", help="wall-clock (best run), or processor time (median)"
    )
    args = parser.parse_args(argv)
    global _clock
    _clock, summed = _CLOCK[args.clock]
    lines = [
        "| publisher's file | rows | figures stored | intake s | rows/s | plain upload s | rows/s | intake / upload | "
        "unchanged release again s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    specs = [s for s in load_sources().sources.values() if s.bundled.is_file() and args.file in s.file]
    # Once each path before timing: the first import of a process pays for loading pandera and the catalogue.
    _intake(specs[0], specs[0].bundled.read_bytes())
    _upload(specs[0], _read(specs[0], specs[0].bundled.read_bytes())[0])
    for spec in specs:
        m = measure(spec, args.repeat, summed)
        lines.append(
            f"| `{spec.file}` | {m['rows']:,.0f} | {m['figures']:,.0f} | {m['intake']:.3f} | {m['rows'] / m['intake']:,.0f} "
            f"| {m['upload']:.3f} | {m['rows'] / m['upload']:,.0f} | {m['ratio']:.2f}x | {m['again']:.4f} |"
        )
        print(lines[-1], flush=True)
    head = (
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, Python {platform.python_version()}, "
        f"SQLite, {'best' if args.clock == 'wall' else 'median processor seconds'} of {args.repeat}; "
        f"target intake / upload <= {TARGET_RATIO}x."
    )
    print(head)
    if args.write:
        DOC.write_text(
            "# Published-figures intake: benchmark\n\n"
            + (__doc__ or "").split("\n\n", 1)[1]
            + "\n"
            + head
            + "\n\n"
            + "\n".join(lines)
            + "\n"
        )
