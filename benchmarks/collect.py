"""Upload -> validated -> stored for N figures, on SQLite or PostgreSQL, against a floor measured in the same run.

The upload is a long-format CSV of population figures (the eight ONS population indicators for
every English local authority, region and England, each by the breakdowns the catalogue declares for
it, one calendar year after another back from 2024 and never before 1900, the first year a period
may name), shuffled as a real export would be; the parts of each figure add up to its total. The floor reads the same bytes with polars, checks them with plain
polars expressions and writes them by the engine's fastest raw path into the same table and
indexes of an identical database: ``sqlite3`` ``executemany`` with rows sorted by key on SQLite,
psycopg ``COPY`` on PostgreSQL. Each phase runs in its own process so its peak memory is its own.

On PostgreSQL (``--database-url``) the named database is only a door: each phase gets a fresh
database ``<name>_run`` copied from ``<name>_template`` (made once per run, dropped at the end).
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

#: The figure key's order (the unique index's), in which both phases write.
SORTED = ("indicator", "period", "org", "breakdown")

#: The last calendar year uploaded, and the first a period may name (``indicators.periods.FIRST_YEAR``).
LAST_YEAR, FIRST_YEAR = 2024, 1900


def prepare(folder: Path, url: str | None = None) -> Path:
    """Make the database every phase starts from (migrated, catalogue and demo agencies loaded)."""
    from mappings.service import load_bundled
    from onereturn import db

    path = folder / "template.sqlite3"
    engine = db.make_engine(url or f"sqlite:///{path}")
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session, demo_keys=True)
    if url is None:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


def pg_beside(url: str, suffix: str) -> str:
    """The URL of a database next to ``url``'s, named after it with ``suffix``."""
    from sqlalchemy.engine import make_url

    base = make_url(url)
    return base.set(database=f"{base.database or 'onereturn'}_{suffix}").render_as_string(hide_password=False)


def _pg_names(url: str) -> tuple[str, str, str]:
    """The door database's URL and the template and run databases' URLs next to it."""
    return url, pg_beside(url, "template"), pg_beside(url, "run")


def pg_admin(door: str, *statements: str) -> None:
    """Run ``statements`` on the door database, each in its own transaction (CREATE and DROP DATABASE need that)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(door)
    with psycopg.connect(
        host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database, autocommit=True
    ) as con:
        for statement in statements:
            con.execute(statement)


def pg_fresh(door: str, target: str, template: str | None) -> None:
    """Drop and make ``target`` (a copy of ``template`` when given)."""
    from sqlalchemy.engine import make_url

    name = make_url(target).database
    copy = f" TEMPLATE {make_url(template).database}" if template else ""
    pg_admin(door, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}{copy}")


def orgs_and_indicators(url: str) -> tuple[list[str], list[str]]:
    """The ONS's areas and its population indicators."""
    orgs, inds = _population(url)
    return orgs, list(inds)


def _population(url: str) -> tuple[list[str], dict[str, dict[str, list[str]]]]:
    """The ONS's areas, and each of its population indicators with the codes of each dimension it is broken down by."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as con:
        orgs = [
            r[0]
            for r in con.execute(text("SELECT org_code FROM agency_org WHERE agency_code = 'ons' ORDER BY org_code"))
        ]
        rows = con.execute(
            text(
                "SELECT a.indicator_id, i.breakdowns FROM agency_indicator a JOIN indicator i ON i.id = a.indicator_id "
                "WHERE a.agency_code = 'ons' AND a.indicator_id LIKE 'pop.%' ORDER BY 1"
            )
        ).all()
        codes: dict[str, list[str]] = {}
        for dim, code in con.execute(text("SELECT codelist_id, code FROM code ORDER BY codelist_id, position")):
            codes.setdefault(dim, []).append(code)
    engine.dispose()
    dims_of = {ind: json.loads(dims) if isinstance(dims, str) else list(dims or []) for ind, dims in rows}
    return orgs, {ind: {dim: codes[dim] for dim in dims} for ind, dims in dims_of.items()}


def _series(inds: dict[str, dict[str, list[str]]]) -> pl.DataFrame:
    """Each indicator's figures in a year with their weights: every cell of all its dimensions, then each sum of them.

    A cell's weight is fixed and a coarser figure's is the sum of its cells', so figures made as a whole number
    times their weight add up: the catalogue's breakdown rules (the parts add up to their total) hold for each.
    """
    from indicators.breakdown import canonical_breakdown

    rng = random.Random(20261128)
    out: dict[str, list[object]] = {"indicator": [], "breakdown": [], "weight": []}
    for ind, dims in inds.items():
        cells: list[dict[str, str]] = [{}]
        for dim, codes in dims.items():
            cells = [cell | {dim: code} for cell in cells for code in codes]
        weights = [rng.randint(1, 9) for _ in cells]
        for kept in range(1 << len(dims)):
            shown = [d for n, d in enumerate(dims) if kept >> n & 1]
            groups: dict[str, int] = {}
            for cell, weight in zip(cells, weights, strict=True):
                key = canonical_breakdown({d: cell[d] for d in shown})
                groups[key] = groups.get(key, 0) + weight
            for key, weight in groups.items():
                out["indicator"].append(ind)
                out["breakdown"].append(key)
                out["weight"].append(weight)
    return pl.DataFrame(out)


def most_figures(url: str) -> int:
    """How many figures ``population_figures`` can make: every series in every year a period may name."""
    orgs, inds = _population(url)
    return len(orgs) * _series(inds).height * (LAST_YEAR - FIRST_YEAR + 1)


def population_figures(url: str, rows: int) -> pl.DataFrame:
    """``rows`` plausible ONS population figures (indicator, org, period, breakdown, value), shuffled, newest years first."""
    orgs, inds = _population(url)
    series = _series(inds)
    per_year = len(orgs) * series.height
    years = -(-rows // per_year)
    if years > LAST_YEAR - FIRST_YEAR + 1:
        raise SystemExit(
            f"at most {per_year * (LAST_YEAR - FIRST_YEAR + 1):,} figures fit in the years a period may name"
        )
    frame = (
        pl.DataFrame({"period": [f"CY{y}" for y in range(LAST_YEAR, LAST_YEAR - years, -1)]})
        .join(series, how="cross")
        .join(pl.DataFrame({"org": orgs}), how="cross")
        .head(rows)
    )
    # Plausible figures: a whole number a weight for each area, at least 100 and drifting by at most 2% a year, so
    # the catalogue's change rules pass them; the total of an indicator at most 1,500,000.
    rng = random.Random(20261122)
    heaviest = dict(series.group_by("indicator").agg(pl.col("weight").max()).iter_rows())
    bases = pl.DataFrame(
        [(ind, org, rng.randint(100, max(100, 1_500_000 // heaviest[ind]))) for ind in inds for org in orgs],
        schema=["indicator", "org", "base"],
        orient="row",
    )
    drift = 1 + ((pl.col("period").str.slice(2).cast(pl.Int64) * 7) % 5 - 2) / 100
    frame = frame.join(bases, on=["indicator", "org"]).with_columns(
        ((pl.col("base") * drift).round(0).cast(pl.Int64) * pl.col("weight")).cast(pl.String).alias("value")
    )
    frame = frame.select("indicator", "org", "period", "breakdown", "value")
    return frame.sample(fraction=1.0, shuffle=True, seed=7)


def _make_upload(url: str, rows: int, target: Path) -> None:
    population_figures(url, rows).write_csv(target)


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _phase_pipeline(url: str, upload: Path, data_dir: Path) -> dict[str, float]:
    from collectors.figures.service import dry_run, submit
    from onereturn import db
    from onereturn.settings import Settings

    settings = Settings(data_dir=data_dir, max_upload_bytes=1 << 31, max_upload_rows=5_000_000)
    engine = db.make_engine(url)
    data = upload.read_bytes()
    # A one-row dry run first, as a running service has done long before: imports and the catalogue read once.
    dry_run(engine, settings, agency_code="ons", filename="warm.csv", data=b"\n".join(data.splitlines()[:2]) + b"\n")
    start = time.perf_counter()
    outcome = submit(engine, settings, agency_code="ons", filename=upload.name, data=data)
    seconds = time.perf_counter() - start
    engine.dispose()
    sub = outcome.submission
    assert sub is not None
    if sub.status != "accepted":
        raise SystemExit(f"benchmark upload was not accepted: {sub.status} {sub.message}")
    return {"seconds": seconds, "rows": sub.rows_accepted, "peak_mib": _peak_mib()}


_SUBMISSION = (
    "INSERT INTO submission (id, agency_code, filename, source_format, size_bytes, content_hash, raw_path, received_at, mode, "
    "status, rows_read, rows_accepted, rows_new, rows_revised, rows_unchanged, error_count, warning_count, query_count, "
    "information_count, queries_open, message, submitted_by) VALUES (1, 'ons', 'f', 'csv', 1, 'h', 'p', '2026-01-01', "
    "'default', 'storing', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '', '')"
)


def _phase_floor(url: str, upload: Path) -> dict[str, float]:
    start = time.perf_counter()
    frame = pl.read_csv(io.BytesIO(upload.read_bytes()), infer_schema=False)
    frame = frame.with_columns(pl.col("value").cast(pl.Float64, strict=False), pl.col("breakdown").fill_null(""))
    bad = frame.filter(
        pl.col("value").is_null() | (pl.col("value") < 0) | pl.col("indicator").is_null() | pl.col("org").is_null()
    )
    assert bad.is_empty()
    frame = frame.sort(*SORTED).with_row_index("file_row", offset=2)
    rows = frame.select("indicator", "org", "period", "value", "file_row", "breakdown")
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        con.execute(_SUBMISSION)
        con.execute("BEGIN")
        # The same row the pipeline stores (provenance included), by the narrowest raw path.
        con.executemany(
            "INSERT INTO observation (indicator_id, org_code, period, value, file_row, breakdown, version, is_current, "
            "status, submission_id, recorded_at) VALUES (?, ?, ?, ?, ?, ?, 1, 1, 'final', 1, '2026-01-01 00:00:00.000000')",
            rows.iter_rows(),
        )
        con.execute("COMMIT")
        con.close()
    else:
        import psycopg
        from sqlalchemy.engine import make_url

        u = make_url(url)
        with psycopg.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database) as pg:
            pg.execute(_SUBMISSION)
            with (
                pg.cursor() as cursor,
                cursor.copy(
                    "COPY observation (indicator_id, org_code, period, value, file_row, breakdown, version, is_current, status, "
                    "submission_id, recorded_at) FROM STDIN"
                ) as copy,
            ):
                for row in rows.iter_rows():
                    copy.write_row((*row, 1, True, "final", 1, "2026-01-01 00:00:00+00"))
    return {"seconds": time.perf_counter() - start, "rows": frame.height, "peak_mib": _peak_mib()}


def _child(argv: list[str]) -> None:
    phase, url, upload, data_dir = argv
    result = (
        _phase_pipeline(url, Path(upload), Path(data_dir)) if phase == "pipeline" else _phase_floor(url, Path(upload))
    )
    print(json.dumps(result))


def _run_child(phase: str, url: str, upload: Path, data_dir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks", "collect", "--child", phase, url, str(upload), str(data_dir)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"the {phase} phase failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _sizes(text: str) -> list[int]:
    units = {"k": 1_000, "m": 1_000_000}
    out = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        scale = units.get(part[-1:], 1)
        out.append(int(float(part.rstrip("km")) * scale))
    return out


def _measure(folder: Path, database_url: str | None, rows: int, repeat: int) -> dict[str, dict[str, float]]:
    """Best of ``repeat`` runs of each phase at one size, each on a fresh copy of the prepared database."""
    upload = folder / f"population-{rows}.csv"
    if database_url is None:
        template = folder / "template.sqlite3"
        _make_upload(f"sqlite:///{template}", rows, upload)
    else:
        door, template_url, run_url = _pg_names(database_url)
        _make_upload(template_url, rows, upload)
    best: dict[str, dict[str, float]] = {}
    for run in range(repeat):
        for phase in ("floor", "pipeline"):
            if database_url is None:
                db_path = folder / f"{phase}-{run}.sqlite3"
                shutil.copyfile(template, db_path)
                url = f"sqlite:///{db_path}"
            else:
                pg_fresh(door, run_url, template_url)
                url = run_url
            result = _run_child(phase, url, upload, folder / f"data-{rows}-{run}")
            if database_url is None:
                db_path.unlink()
            if phase not in best or result["seconds"] < best[phase]["seconds"]:
                best[phase] = result
    best["upload"] = {"mb": upload.stat().st_size / 1e6}
    upload.unlink()
    return best


def main(argv: list[str]) -> None:
    """Measure the upload pipeline against the floor at each size and print one table of ratios."""
    if argv and argv[0] == "--child":
        _child(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks collect", description=__doc__)
    parser.add_argument(
        "--sizes", default="1000000", help="figures per upload, comma-separated, k and m allowed (default 1000000)"
    )
    parser.add_argument("--rows", type=int, help="one size (the same as --sizes N)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each phase; the best is kept")
    parser.add_argument(
        "--database-url", help="a PostgreSQL database to measure on (postgresql+psycopg://…); SQLite when not given"
    )
    args = parser.parse_args(argv)
    sizes = [args.rows] if args.rows else _sizes(args.sizes)
    engine_name = "SQLite" if args.database_url is None else "PostgreSQL"
    results: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="onereturn-bench-") as tmp:
        folder = Path(tmp)
        print(f"Preparing a loaded {engine_name} database...", file=sys.stderr)
        if args.database_url is None:
            prepare(folder)
        else:
            door, template_url, run_url = _pg_names(args.database_url)
            pg_fresh(door, template_url, None)
        try:
            if args.database_url is not None:
                prepare(folder, template_url)
            for rows in sizes:
                print(f"Measuring {rows:,} figures...", file=sys.stderr)
                results[rows] = _measure(folder, args.database_url, rows, args.repeat)
        finally:
            if args.database_url is not None:
                pg_admin(
                    door,
                    f"DROP DATABASE IF EXISTS {run_url.rsplit('/', 1)[1]} WITH (FORCE)",
                    f"DROP DATABASE IF EXISTS {template_url.rsplit('/', 1)[1]} WITH (FORCE)",
                )
    floor_name = "raw sorted executemany" if args.database_url is None else "raw COPY"
    print(
        f"{engine_name}: one upload of N figures (shuffled CSV) into an empty store vs the floor ({floor_name}); best of {args.repeat}"
    )
    print(
        f"{'figures':>10} {'CSV MB':>7} {'floor s':>8} {'floor/s':>10} {'pipeline s':>11} {'pipeline/s':>11} {'ratio':>6} {'peak MiB':>9}"
    )
    verdict = True
    for rows, best in results.items():
        floor, pipe = best["floor"], best["pipeline"]
        ratio = pipe["seconds"] / floor["seconds"]
        rate = pipe["rows"] / pipe["seconds"]
        verdict &= rate >= 150_000 if args.database_url is None else ratio <= 1.5
        print(
            f"{rows:>10,} {best['upload']['mb']:>7.1f} {floor['seconds']:>8.2f} {floor['rows'] / floor['seconds']:>10,.0f} "
            f"{pipe['seconds']:>11.2f} {rate:>11,.0f} {ratio:>6.2f} {pipe['peak_mib']:>9,.0f}"
        )
    target = "pipeline >= 150,000 figures/s" if args.database_url is None else "ratio pipeline/floor <= 1.5"
    print(f"target: {target}; growth about linear")
    print("PASS" if verdict else "MISS")
