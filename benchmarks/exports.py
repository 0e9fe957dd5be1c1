"""Every bundled return, every format, one year of figures for all English councils and health areas.

Figures are generated for two bench agencies (every council, every health area) for every
figure they owe in FY2024-25, uploaded through the real pipeline, then every return is built
in every format (timed). The floor, in the same run, writes the same cells directly: one
XLSX per return with xlsxwriter in constant-memory mode and one CSV with polars. Serving a
stored snapshot over the API is timed separately (median of repeated requests).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

YEAR = "FY2024-25"
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}


def _bench_agencies(db_path: Path) -> None:
    """Add two agencies answering for every council and every health area (bench only)."""
    from sqlalchemy import insert
    from sqlmodel import Session

    import db
    from indicators.periods import parse_period
    from mappings.agencies import needed_indicators
    from mappings.catalogue import LEVEL_GROUPS, load_catalogue
    from mappings.models import Agency, AgencyIndicator, AgencyOrg, AgencyReturn
    from mappings.resolve import Geography

    cat = load_catalogue()
    engine = db.make_engine(f"sqlite:///{db_path}")
    with Session(engine) as session:
        geo = Geography.load(session, parse_period(YEAR))
        plans = {
            "bench_councils": ("local_authority", geo.of_types({*LEVEL_GROUPS["upper_tier_la"], *LEVEL_GROUPS["lower_tier_la"]}),
                               ["dfe_ssda903", "dfe_cin_census", "nis", "crc"]),
            "bench_health": ("nhs_commissioner", geo.of_types(LEVEL_GROUPS["health_area"]), ["vital_signs"]),
        }  # fmt: skip
        for code, (body, orgs, returns) in plans.items():
            inds = sorted(
                i for i in needed_indicators(cat, returns) if cat.indicators.indicators[i].spec.source_body == body
            )
            session.execute(
                insert(Agency), [{"code": code, "name": code, "body_type": body, "email": "", "source": "bench"}]
            )
            session.execute(insert(AgencyOrg), [{"agency_code": code, "org_code": o} for o in orgs])
            session.execute(insert(AgencyIndicator), [{"agency_code": code, "indicator_id": i} for i in inds])
            session.execute(insert(AgencyReturn), [{"agency_code": code, "return_id": r} for r in returns])
        session.commit()
    engine.dispose()


def _figures(db_path: Path, agency: str, target: Path) -> int:
    """Write a long-format upload of every figure an agency owes for the year, with plausible values."""
    from sqlmodel import Session, select

    import db
    from indicators.breakdown import parse_breakdown
    from indicators.models import Code, Indicator
    from mappings.agencies import obligations

    engine = db.make_engine(f"sqlite:///{db_path}")
    rng = random.Random(agency)
    with Session(engine) as session:
        owed = obligations(session, agency, YEAR)
        inds = {o.indicator_id: session.get(Indicator, o.indicator_id) for o in owed}
        sizes: dict[str, int] = {}
        for list_id in session.execute(select(Code.codelist_id)).scalars():
            sizes[list_id] = sizes.get(list_id, 0) + 1
    lines = ["indicator,org,period,breakdown,value,numerator,denominator"]
    for o in owed:
        ind = inds[o.indicator_id]
        assert ind is not None
        if ind.statistic == "count":
            # Every count of an org is one total split evenly over its breakdowns, so parts never exceed
            # wholes and breakdowns add up to their totals, as the catalogue's rules require.
            share = 1
            for dim in parse_breakdown(o.breakdown):
                share *= sizes.get(dim, 1)
            lines.append(f'{o.indicator_id},{o.org_code},{o.period},"{o.breakdown}",{27720 // share},,')
        elif ind.statistic in ("percentage", "rate"):
            den = rng.randint(20, 2000)
            num = rng.randint(den // 10 + 1, den)
            value = f"{num / den * ind.multiplier:.{max(ind.decimals, 1)}f}"
            lines.append(f'{o.indicator_id},{o.org_code},{o.period},"{o.breakdown}",{value},{num},{den}')
        elif ind.statistic == "judgement":
            lines.append(f'{o.indicator_id},{o.org_code},{o.period},"{o.breakdown}",{rng.randint(1, 4)},,')
        else:
            low, high = int(ind.range_min or 0), int(ind.range_max if ind.range_max is not None else 900)
            lines.append(f'{o.indicator_id},{o.org_code},{o.period},"{o.breakdown}",{rng.randint(max(low, 0), high)},,')
    target.write_text("\n".join(lines) + "\n")
    engine.dispose()
    return len(lines) - 1


def _peak() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _phase_build(db_path: Path, out: Path) -> dict[str, float]:
    import db
    from demo import build_all

    engine = db.make_engine(f"sqlite:///{db_path}")
    start = time.perf_counter()
    written = build_all(engine, (YEAR,), out)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "files": len(written), "bytes": sum(w[3] for w in written), "peak_mib": _peak()}


def _phase_floor(db_path: Path, out: Path) -> dict[str, float]:
    import xlsxwriter
    from sqlmodel import Session, select

    import db
    from demo import year_end_period
    from exports.build import Builder, return_with_fields
    from indicators.periods import parse_period
    from mappings.models import Return

    engine = db.make_engine(f"sqlite:///{db_path}")
    tables = []
    with Session(engine) as session:
        for ret in session.execute(select(Return)).scalars():
            period = year_end_period(parse_period(YEAR), ret.period_type)
            if period is None:
                continue
            r, fields = return_with_fields(session, ret.id)
            built = Builder(session, period.code, ret.period_type).build(r, fields, datetime.now(UTC))
            tables.append(
                (
                    ret.id,
                    built.cells.select(
                        "field_code", "org_code", "org_name", "period", "breakdown", "display", "status"
                    ),
                )
            )
    start = time.perf_counter()
    cells = 0
    for name, frame in tables:
        workbook = xlsxwriter.Workbook(str(out / f"{name}.xlsx"), {"constant_memory": True})
        sheet = workbook.add_worksheet("Data")
        sheet.write_row(0, 0, frame.columns)
        for i, row in enumerate(frame.iter_rows(), start=1):
            sheet.write_row(i, 0, row)
        workbook.close()
        frame.write_csv(out / f"{name}.csv")
        cells += frame.height
    return {"seconds": time.perf_counter() - start, "cells": cells, "peak_mib": _peak()}


def _phase_serve(db_path: Path, data_dir: Path, repeat: int) -> dict[str, float]:
    from fastapi.testclient import TestClient

    import db
    from api.main import create_app
    from settings import Settings

    engine = db.make_engine(f"sqlite:///{db_path}")
    app = create_app(Settings(data_dir=data_dir), engine=engine)
    timings = []
    with TestClient(app) as client:
        for path in ("/api/returns/dfe_cin_census/FY2024-25.csv", "/api/returns/dfe_ssda903/FY2024-25.xlsx"):
            first = client.get(path, headers=OFFICER)
            assert first.status_code == 200, first.text
            for _ in range(repeat):
                start = time.perf_counter()
                response = client.get(path, headers=OFFICER)
                timings.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
    return {
        "median_ms": statistics.median(timings),
        "p90_ms": sorted(timings)[int(len(timings) * 0.9)],
        "peak_mib": _peak(),
    }


def _child(argv: list[str]) -> None:
    phase, db_path, out = argv[0], Path(argv[1]), Path(argv[2])
    out.mkdir(parents=True, exist_ok=True)
    if phase == "build":
        result = _phase_build(db_path, out)
    elif phase == "floor":
        result = _phase_floor(db_path, out)
    else:
        result = _phase_serve(db_path, out, int(argv[3]))
    print(json.dumps(result))


def _run(*args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "exports", "--child", *args], check=False, capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"benchmark phase {args[0]} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str]) -> None:
    """Measure building every return in every format against the floor, and serving a snapshot."""
    if argv and argv[0] == "--child":
        _child(argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks exports", description=__doc__)
    parser.add_argument("--repeat", type=int, default=30, help="requests per snapshot for the serving median")
    args = parser.parse_args(argv)
    import db
    from benchmarks.collect import _prepare
    from collectors.service import submit
    from settings import Settings

    with tempfile.TemporaryDirectory(prefix="onereturn-bench-") as tmp:
        folder = Path(tmp)
        print("Preparing a loaded database and a year of figures for every council and health area...", file=sys.stderr)
        path = _prepare(folder)
        _bench_agencies(path)
        engine = db.make_engine(f"sqlite:///{path}")
        settings = Settings(data_dir=folder / "data", max_upload_bytes=1 << 31)
        figures = 0
        for agency in ("bench_councils", "bench_health"):
            upload = folder / f"{agency}.csv"
            owed = _figures(path, agency, upload)
            if owed == 0:
                # Its returns are not in force in the benchmark's year (Vital Signs ended in 2011).
                print(f"{agency} owes nothing in {YEAR}: no upload", file=sys.stderr)
                continue
            figures += owed
            outcome = submit(engine, settings, agency_code=agency, filename=upload.name, data=upload.read_bytes())
            if outcome.submission is None or outcome.submission.status != "accepted":
                raise SystemExit(f"bench upload for {agency} was not accepted: {outcome.submission}")
        engine.dispose()
        floor_db, build_db = folder / "floor.sqlite3", folder / "build.sqlite3"
        shutil.copyfile(path, floor_db)
        shutil.copyfile(path, build_db)
        floor = _run("floor", str(floor_db), str(folder / "floor-out"))
        build = _run("build", str(build_db), str(folder / "build-out"))
        serve = _run("serve", str(build_db), str(folder / "serve-data"), str(args.repeat))
    ratio = build["seconds"] / floor["seconds"]
    print(f"figures uploaded: {figures:,}; cells exported: {floor['cells']:,.0f} across every bundled return")
    print(f"floor (xlsx constant-memory + csv): {floor['seconds']:6.2f} s  peak {floor['peak_mib']:,.0f} MiB")
    print(
        f"build (4 formats, lineage, snapshots): {build['seconds']:6.2f} s  {build['files']:.0f} files, {build['bytes'] / 1e6:.1f} MB, peak {build['peak_mib']:,.0f} MiB"
    )
    print(f"ratio build/floor: {ratio:.2f} (target <= 2.0)")
    print(f"snapshot served: median {serve['median_ms']:.1f} ms, p90 {serve['p90_ms']:.1f} ms (target median < 50 ms)")
    ok = ratio <= 2.0 and serve["median_ms"] < 50 and build["peak_mib"] < 1024
    print("PASS" if ok else "MISS")
