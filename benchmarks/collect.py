"""Upload -> validated -> stored on SQLite for N figures, against a floor measured in the same run.

The upload is a long-format CSV of population figures (the eight ONS population indicators for
every English local authority, region and England, one calendar year after another), shuffled
as a real export would be. The floor reads the same bytes with polars, checks them with plain
polars expressions and writes them with the fastest raw path (``sqlite3`` ``executemany``,
rows sorted by key) into the same table and indexes of an identical database. Each phase runs
in its own process so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl


def _prepare(folder: Path) -> Path:
    import db
    from mappings.service import load_bundled

    path = folder / "template.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session, demo_keys=True)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def _make_upload(template: Path, rows: int, target: Path) -> None:
    con = sqlite3.connect(template)
    orgs = [r[0] for r in con.execute("SELECT org_code FROM agency_org WHERE agency_code = 'ons' ORDER BY org_code")]
    inds = [
        r[0]
        for r in con.execute(
            "SELECT indicator_id FROM agency_indicator WHERE agency_code = 'ons' AND indicator_id LIKE 'pop.%' ORDER BY 1"
        )
    ]
    con.close()
    per_year = len(orgs) * len(inds)
    years = -(-rows // per_year)
    frame = (
        pl.DataFrame({"period": [f"CY{y}" for y in range(2024 - years + 1, 2025)]})
        .join(pl.DataFrame({"indicator": inds}), how="cross")
        .join(pl.DataFrame({"org": orgs}), how="cross")
        .head(rows)
    )
    # Plausible figures: each series drifts by at most 2% a year, so the catalogue's change rules pass them.
    rng = random.Random(20261122)
    bases = pl.DataFrame({"indicator": inds}).join(pl.DataFrame({"org": orgs}), how="cross")
    bases = bases.with_columns(pl.Series("base", [rng.randint(100, 1_500_000) for _ in range(bases.height)]))
    drift = 1 + ((pl.col("period").str.slice(2).cast(pl.Int64) * 7) % 5 - 2) / 100
    frame = frame.join(bases, on=["indicator", "org"]).with_columns(
        (pl.col("base") * drift).round(0).cast(pl.Int64).cast(pl.String).alias("value")
    )
    frame = frame.select("indicator", "org", "period", "value")
    frame = frame.sample(fraction=1.0, shuffle=True, seed=7)
    frame.write_csv(target)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _phase_pipeline(db_path: Path, upload: Path, data_dir: Path) -> dict[str, float]:
    import db
    from collectors.service import submit
    from settings import Settings

    settings = Settings(data_dir=data_dir, max_upload_bytes=1 << 31, max_upload_rows=5_000_000)
    engine = db.make_engine(f"sqlite:///{db_path}")
    data = upload.read_bytes()
    start = time.perf_counter()
    outcome = submit(engine, settings, agency_code="ons", filename=upload.name, data=data)
    seconds = time.perf_counter() - start
    sub = outcome.submission
    assert sub is not None
    if sub.status != "accepted":
        raise SystemExit(f"benchmark upload was not accepted: {sub.status} {sub.message}")
    return {"seconds": seconds, "rows": sub.rows_accepted, "peak_mib": _peak_mib()}


def _phase_floor(db_path: Path, upload: Path) -> dict[str, float]:
    start = time.perf_counter()
    frame = pl.read_csv(io.BytesIO(upload.read_bytes()), infer_schema=False)
    frame = frame.with_columns(pl.col("value").cast(pl.Float64, strict=False))
    bad = frame.filter(
        pl.col("value").is_null() | (pl.col("value") < 0) | pl.col("indicator").is_null() | pl.col("org").is_null()
    )
    assert bad.is_empty()
    frame = frame.sort("indicator", "org", "period").with_row_index("file_row", offset=2)
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        "INSERT INTO submission (id, agency_code, filename, source_format, size_bytes, content_hash, raw_path, received_at, mode, "
        "status, rows_read, rows_accepted, rows_new, rows_revised, rows_unchanged, error_count, warning_count, message, submitted_by) "
        "VALUES (1, 'ons', 'f', 'csv', 1, 'h', 'p', '2026-01-01', 'default', 'storing', 0, 0, 0, 0, 0, 0, 0, '', '')"
    )
    con.execute("BEGIN")
    # The same row the pipeline stores (provenance included), by the narrowest raw path.
    con.executemany(
        "INSERT INTO observation (indicator_id, org_code, period, value, file_row, breakdown, version, is_current, status, "
        "submission_id, recorded_at) VALUES (?, ?, ?, ?, ?, '', 1, 1, 'final', 1, '2026-01-01 00:00:00.000000')",
        frame.select("indicator", "org", "period", "value", "file_row").iter_rows(),
    )
    con.execute("COMMIT")
    con.close()
    return {"seconds": time.perf_counter() - start, "rows": frame.height, "peak_mib": _peak_mib()}


def _child(argv: list[str]) -> None:
    phase, db_path, upload, data_dir = argv
    result = (
        _phase_pipeline(Path(db_path), Path(upload), Path(data_dir))
        if phase == "pipeline"
        else _phase_floor(Path(db_path), Path(upload))
    )
    print(json.dumps(result))


def _run_child(phase: str, db_path: Path, upload: Path, data_dir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "collect", "--child", phase, str(db_path), str(upload), str(data_dir)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> None:
    """Measure the upload pipeline against the floor and print the ratios."""
    if argv and argv[0] == "--child":
        _child(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks collect", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="figures in the upload (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each phase; the best is kept")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-") as tmp:
        folder = Path(tmp)
        print(f"Preparing a loaded SQLite database and a {args.rows:,}-row upload...", file=sys.stderr)
        template = _prepare(folder)
        upload = folder / "population.csv"
        _make_upload(template, args.rows, upload)
        best: dict[str, dict[str, float]] = {}
        for run in range(args.repeat):
            for phase in ("floor", "pipeline"):
                db_path = folder / f"{phase}-{run}.sqlite3"
                shutil.copyfile(template, db_path)
                result = _run_child(phase, db_path, upload, folder / f"data-{run}")
                if phase not in best or result["seconds"] < best[phase]["seconds"]:
                    best[phase] = result
        floor, pipe = best["floor"], best["pipeline"]
        size = upload.stat().st_size
    ratio = pipe["seconds"] / floor["seconds"]
    rate = pipe["rows"] / pipe["seconds"]
    print(f"upload: {args.rows:,} figures, {size / 1e6:.1f} MB CSV, shuffled")
    print(
        f"floor   : {floor['seconds']:7.2f} s  {floor['rows'] / floor['seconds']:>10,.0f} rows/s  peak {floor['peak_mib']:,.0f} MiB"
    )
    print(f"pipeline: {pipe['seconds']:7.2f} s  {rate:>10,.0f} rows/s  peak {pipe['peak_mib']:,.0f} MiB")
    print(
        f"ratio pipeline/floor: {ratio:.2f} (target <= 1.5); rate target >= 150,000 rows/s; memory target < 1,536 MiB"
    )
    verdict = ratio <= 1.5 and rate >= 150_000 and pipe["peak_mib"] < 1536
    print("PASS" if verdict else "MISS")
