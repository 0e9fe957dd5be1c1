"""An upload costs what it carries: the same 1-row and 5,000-row uploads into an empty store and into
a store already holding many figures of the same agency and indicators (SQLite).

The floor is the same upload into an empty store, measured in the same run; the target is each
upload into the full store within 2x of it. The full store is filled with the raw bulk path (the
ONS population indicators for every org the agency answers for, one calendar year after
another, ending before the uploaded years), so validation and versioning would have to read
all of it if they read the agency's store instead of the upload's keys.
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
from pathlib import Path

import polars as pl

from benchmarks.collect import _prepare

AGENCY = "ons"


def _keys(template: Path) -> tuple[list[str], list[str]]:
    con = sqlite3.connect(template)
    orgs = [r[0] for r in con.execute("SELECT org_code FROM agency_org WHERE agency_code = ? ORDER BY 1", (AGENCY,))]
    inds = [
        r[0]
        for r in con.execute(
            "SELECT indicator_id FROM agency_indicator WHERE agency_code = ? AND indicator_id LIKE 'pop.%' ORDER BY 1",
            (AGENCY,),
        )
    ]
    con.close()
    return inds, orgs


@functools.cache
def _base(ind: str, org: str) -> int:
    return random.Random(f"{ind}|{org}").randint(100, 1_500_000)


def _value(ind: str, org: str, year: int) -> float:
    """A plausible figure: each series has its own size and drifts by at most 2% a year, so the change rules pass it."""
    return float(round(_base(ind, org) * (1 + ((year * 7) % 5 - 2) / 100)))


def _fill(db_path: Path, figures: int, inds: list[str], orgs: list[str], last_year: int) -> int:
    """Store ``figures`` current figures for the agency, years ending at ``last_year``, by the raw bulk path."""
    per_year = len(inds) * len(orgs)
    years = -(-figures // per_year)
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
    written = 0

    def rows() -> object:
        nonlocal written
        for ind in inds:
            for org in orgs:
                for year in range(last_year - years + 1, last_year + 1):
                    if written >= figures:
                        return
                    written += 1
                    yield (ind, org, f"CY{year}", _value(ind, org, year))

    con.executemany(
        "INSERT INTO observation (indicator_id, org_code, period, value, breakdown, version, is_current, status, "
        "submission_id, file_row, recorded_at) VALUES (?, ?, ?, ?, '', 1, 1, 'final', 1, 0, '2026-01-01 00:00:00.000000')",
        rows(),  # type: ignore[arg-type]
    )
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


def _time_uploads(db_path: Path, data_dir: Path, uploads: dict[str, bytes]) -> dict[str, float]:
    import db
    from collectors.service import dry_run, submit
    from settings import Settings

    settings = Settings(data_dir=data_dir)
    engine = db.make_engine(f"sqlite:///{db_path}")
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


def main(argv: list[str]) -> None:
    """Time the same uploads into an empty store and a full one, and print each ratio to its floor."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks scale", description=__doc__)
    parser.add_argument("--figures", type=int, default=2_000_000, help="figures in the full store (default 2,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-") as tmp:
        folder = Path(tmp)
        print("Preparing a loaded SQLite database...", file=sys.stderr)
        template = _prepare(folder)
        inds, orgs = _keys(template)
        full = folder / "full.sqlite3"
        shutil.copyfile(template, full)
        start = time.perf_counter()
        stored = _fill(full, args.figures, inds, orgs, last_year=2023)
        print(f"Filled the store with {stored:,} figures in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        uploads = {"1 row": _upload(inds, orgs, 1, 2024), "5,000 rows": _upload(inds, orgs, 5000, 2025)}
        best: dict[str, dict[str, float]] = {"empty": {}, "full": {}}
        for run in range(args.repeat):
            for store, source in (("empty", template), ("full", full)):
                db_path = folder / f"{store}-{run}.sqlite3"
                shutil.copyfile(source, db_path)
                for suffix in ("-wal", "-shm"):
                    Path(str(source) + suffix).unlink(missing_ok=True)
                timed = _time_uploads(db_path, folder / f"data-{store}-{run}", uploads)
                db_path.unlink()
                for name, seconds in timed.items():
                    best[store][name] = min(best[store].get(name, seconds), seconds)
    print(
        f"store: {stored:,} figures of agency {AGENCY!r} (same indicators and orgs as the uploads); best of {args.repeat}"
    )
    print(f"{'upload':<12}{'empty store (floor)':>22}{'full store':>14}{'ratio':>8}  target <= 2")
    verdict = True
    for name in uploads:
        floor, cost = best["empty"][name], best["full"][name]
        ratio = cost / floor
        verdict &= ratio <= 2
        print(f"{name:<12}{floor * 1000:>19.1f} ms{cost * 1000:>11.1f} ms{ratio:>8.2f}")
    print("PASS" if verdict else "MISS")
