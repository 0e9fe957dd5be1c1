"""An upload costs what it carries: the same 1-row and 5,000-row uploads into an empty store and into
a store already holding many figures of the same agency and indicators (SQLite, or PostgreSQL with
``--database-url``).

The floor is the same upload into an empty store, measured in the same run; the target is each
upload into the full store within 2x of it. The full store is filled with the raw bulk path (the
ONS population indicators for every org the agency answers for, one calendar year after
another, ending before the uploaded years), so validation and versioning would have to read
all of it if they read the agency's store instead of the upload's keys. On PostgreSQL
the databases are made next to the one given (``<name>_template``, ``<name>_full``, ``<name>_run``)
and dropped at the end.
"""

from __future__ import annotations

import argparse
import functools
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import polars as pl

from benchmarks.collect import orgs_and_indicators, pg_admin, pg_beside, pg_fresh, prepare

AGENCY = "ons"
# A store to copy for each run: a SQLite file, or a PostgreSQL database's URL.
_Source = TypeVar("_Source", Path, str)


@functools.cache
def _base(ind: str, org: str) -> int:
    return random.Random(f"{ind}|{org}").randint(100, 1_500_000)


def _value(ind: str, org: str, year: int) -> float:
    """A plausible figure: each series has its own size and drifts by at most 2% a year, so the change rules pass it."""
    return float(round(_base(ind, org) * (1 + ((year * 7) % 5 - 2) / 100)))


def _series(figures: int, inds: list[str], orgs: list[str], last_year: int) -> Iterator[tuple[str, str, str, float]]:
    """``figures`` plausible figures for the agency: each series one calendar year after another, ending at ``last_year``."""
    years = -(-figures // (len(inds) * len(orgs)))
    written = 0
    for ind in inds:
        for org in orgs:
            for year in range(last_year - years + 1, last_year + 1):
                if written >= figures:
                    return
                written += 1
                yield (ind, org, f"CY{year}", _value(ind, org, year))


def _fill_postgres(url: str, figures: int, inds: list[str], orgs: list[str], last_year: int) -> int:
    """Store ``figures`` current figures for the agency by a raw COPY, then vacuum and analyse the store."""
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    written = 0
    with psycopg.connect(conninfo) as con:
        submission = con.execute(
            "INSERT INTO submission (agency_code, filename, source_format, size_bytes, content_hash, raw_path, "
            "received_at, mode, status, rows_read, rows_accepted, rows_new, rows_revised, rows_unchanged, error_count, "
            "warning_count, message, submitted_by) VALUES (%s, 'filler', 'csv', 1, 'filler', 'filler', '2026-01-01', "
            "'default', 'accepted', 0, 0, 0, 0, 0, 0, 0, '', '') RETURNING id",
            (AGENCY,),
        ).fetchone()
        assert submission is not None
        with con.cursor().copy(
            "COPY observation (indicator_id, org_code, period, value, breakdown, version, is_current, status, "
            "submission_id, file_row, recorded_at) FROM STDIN"
        ) as copy:
            for ind, org, period, value in _series(figures, inds, orgs, last_year):
                copy.write_row(
                    (ind, org, period, value, "", 1, True, "final", submission[0], 0, "2026-01-01 00:00:00+00")
                )
                written += 1
    # As autovacuum would in time: the store measured is a settled one, not one just bulk-loaded.
    with psycopg.connect(conninfo, autocommit=True) as con:
        con.execute("VACUUM ANALYZE observation")
    return written


def _fill(db_path: Path, figures: int, inds: list[str], orgs: list[str], last_year: int) -> int:
    """Store ``figures`` current figures for the agency, years ending at ``last_year``, by the raw bulk path."""
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute(
        "INSERT INTO submission (id, agency_code, filename, source_format, size_bytes, content_hash, raw_path, received_at, "
        "mode, status, rows_read, rows_accepted, rows_new, rows_revised, rows_unchanged, error_count, warning_count, message, "
        "submitted_by) VALUES (1, ?, 'filler', 'csv', 1, 'filler', 'filler', '2026-01-01', 'default', 'accepted', "
        "0, 0, 0, 0, 0, 0, 0, '', '')",
        (AGENCY,),
    )
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO observation (indicator_id, org_code, period, value, breakdown, version, is_current, status, "
        "submission_id, file_row, recorded_at) VALUES (?, ?, ?, ?, '', 1, 1, 'final', 1, 0, '2026-01-01 00:00:00.000000')",
        _series(figures, inds, orgs, last_year),
    )
    written = int(con.execute("SELECT count(*) FROM observation WHERE submission_id = 1").fetchone()[0])
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return written


def _upload(inds: list[str], orgs: list[str], rows: int, first_year: int) -> bytes:
    frame = (
        pl.DataFrame({"period": [f"CY{y}" for y in range(first_year, first_year + 10)]})
        .join(pl.DataFrame({"indicator": inds}), how="cross")
        .join(pl.DataFrame({"org": orgs}), how="cross")
        .head(rows)
    )
    values = [str(int(_value(i, o, int(p[2:])))) for i, o, p in frame.select("indicator", "org", "period").iter_rows()]
    frame = frame.with_columns(pl.Series("value", values))
    return frame.select("indicator", "org", "period", "value").write_csv().encode()


def _time_uploads(url: str, data_dir: Path, uploads: dict[str, bytes]) -> dict[str, float]:
    from collectors.figures.service import dry_run, submit
    from onereturn import db
    from onereturn.settings import Settings

    settings = Settings(data_dir=data_dir)
    engine = db.make_engine(url)
    out: dict[str, float] = {}
    # A dry run first, so what every upload reads once (catalogue, org units, code lists) is warm in both stores.
    dry_run(engine, settings, agency_code=AGENCY, filename="warm.csv", data=next(iter(uploads.values())))
    for name, data in uploads.items():
        start = time.perf_counter()
        outcome = submit(engine, settings, agency_code=AGENCY, filename=f"{name}.csv", data=data)
        out[name] = time.perf_counter() - start
        sub = outcome.submission
        if sub is None or sub.status != "accepted":
            raise SystemExit(f"benchmark upload {name} was not accepted: {sub and sub.status} {sub and sub.message}")
    engine.dispose()
    return out


def _measure_sqlite(
    folder: Path, figures: int, repeat: int, uploads: Callable[[list[str], list[str]], dict[str, bytes]]
) -> tuple[int, dict[str, dict[str, float]], list[str]]:
    template = prepare(folder)
    orgs, inds = orgs_and_indicators(f"sqlite:///{template}")
    full = folder / "full.sqlite3"
    shutil.copyfile(template, full)
    stored = _timed_fill(lambda: _fill(full, figures, inds, orgs, last_year=2023))
    sent = uploads(inds, orgs)

    def time_in(source: Path, store: str, run: int) -> dict[str, float]:
        db_path = folder / f"{store}-{run}.sqlite3"
        shutil.copyfile(source, db_path)
        for suffix in ("-wal", "-shm"):
            Path(str(source) + suffix).unlink(missing_ok=True)
        # One data folder for every run: each upload is kept sealed under its keys, which every copy then shares.
        timed = _time_uploads(f"sqlite:///{db_path}", folder / "data", sent)
        db_path.unlink()
        return timed

    return stored, _best_of(repeat, {"empty": template, "full": full}, time_in), list(sent)


def _measure_postgres(
    folder: Path, url: str, figures: int, repeat: int, uploads: Callable[[list[str], list[str]], dict[str, bytes]]
) -> tuple[int, dict[str, dict[str, float]], list[str]]:
    template, full, run_url = (pg_beside(url, name) for name in ("template", "full", "run"))
    try:
        pg_fresh(url, template, None)
        prepare(folder, template)
        orgs, inds = orgs_and_indicators(template)
        pg_fresh(url, full, template)
        stored = _timed_fill(lambda: _fill_postgres(full, figures, inds, orgs, last_year=2023))
        sent = uploads(inds, orgs)

        def time_in(source: str, store: str, run: int) -> dict[str, float]:
            pg_fresh(url, run_url, source)
            return _time_uploads(run_url, folder / f"data-{store}-{run}", sent)

        best = _best_of(repeat, {"empty": template, "full": full}, time_in)
    finally:
        pg_admin(
            url,
            *(f"DROP DATABASE IF EXISTS {name.rsplit('/', 1)[1]} WITH (FORCE)" for name in (run_url, full, template)),
        )
    return stored, best, list(sent)


def _timed_fill(fill: Callable[[], int]) -> int:
    start = time.perf_counter()
    stored = fill()
    print(f"Filled the store with {stored:,} figures in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return stored


def _best_of(
    repeat: int, stores: dict[str, _Source], time_in: Callable[[_Source, str, int], dict[str, float]]
) -> dict[str, dict[str, float]]:
    # Empty and full alternate within each run, so a slow spell of the machine falls on both.
    best: dict[str, dict[str, float]] = {store: {} for store in stores}
    for run in range(repeat):
        for store, source in stores.items():
            for name, seconds in time_in(source, store, run).items():
                best[store][name] = min(best[store].get(name, seconds), seconds)
    return best


def main(argv: list[str]) -> None:
    """Time the same uploads into an empty store and a full one, and print each ratio to its floor."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks scale", description=__doc__)
    parser.add_argument("--figures", type=int, default=2_000_000, help="figures in the full store (default 2,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    parser.add_argument(
        "--database-url", help="a PostgreSQL database to measure beside (postgresql+psycopg://…); SQLite when not given"
    )
    args = parser.parse_args(argv)

    def uploads(inds: list[str], orgs: list[str]) -> dict[str, bytes]:
        return {"1 row": _upload(inds, orgs, 1, 2024), "5,000 rows": _upload(inds, orgs, 5000, 2025)}

    engine_name = "SQLite" if args.database_url is None else "PostgreSQL"
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-") as tmp:
        print(f"Preparing a loaded {engine_name} database...", file=sys.stderr)
        if args.database_url is None:
            stored, best, names = _measure_sqlite(Path(tmp), args.figures, args.repeat, uploads)
        else:
            stored, best, names = _measure_postgres(Path(tmp), args.database_url, args.figures, args.repeat, uploads)
    print(
        f"{engine_name} store: {stored:,} figures of agency {AGENCY!r} (same indicators and orgs as the uploads); "
        f"best of {args.repeat}"
    )
    print(f"{'upload':<12}{'empty store (floor)':>22}{'full store':>14}{'ratio':>8}  target <= 2")
    verdict = True
    for name in names:
        floor, cost = best["empty"][name], best["full"][name]
        ratio = cost / floor
        verdict &= ratio <= 2
        print(f"{name:<12}{floor * 1000:>19.1f} ms{cost * 1000:>11.1f} ms{ratio:>8.2f}")
    print("PASS" if verdict else "MISS")
