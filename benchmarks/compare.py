"""Comparisons for one council and period on DfE's published figures for every council: ``./run bench compare``.

A fresh SQLite store (bundled catalogue, geography and demo agencies) is given DfE's published figures for
every council, region and England, every year the files hold, as a publishing agency's: second or
subsequent child protection plans (D3: count, plans started, percentage with its counts) and children
looked after on 31 March (count and rate per 10,000 with the population), from the EES files kept under
``tests/fixtures/compare/``. Then, for each council named: every comparison of that council (each
indicator at its latest period, the list the flags page builds) from a cold cache; the comparison page
the first time and then again (median of repeats), as an officer's browser asks for it; and the workbook
of every indicator. The issue's aims: all comparisons of one council under 2 s, one page under 300 ms
after the first.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "compare"
OFFICER = "demo-officer-5e0b9c2a4f"
PUBLISHED = "DfE publishes these figures itself as official statistics (Explore Education Statistics); bench data."


def _fy(year: str) -> str:
    end = int(year)
    return f"FY{end - 1}-{str(end)[2:]}"


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _rows() -> list[dict[str, Any]]:
    """Every figure of the two EES files, as observation rows (withheld values keep their symbol)."""

    def code(r: dict[str, Any]) -> str:
        return str(r["new_la_code"] or r["region_code"] or r["country_code"])

    out: list[dict[str, Any]] = []
    d3 = pl.read_csv(FIXTURES / "d3_cpps_subsequent_plan_2013_to_2025.csv", infer_schema=False)
    for r in d3.iter_rows(named=True):
        period, org = _fy(r["time_period"]), code(r)
        started, again, pct = r["CPP_start"], r["CPP_subsequent"], r["CPP_subsequent_percent"]
        for ind, text, num, den in (
            ("cyp.cpp_started", started, None, None),
            ("cyp.cpp_subsequent_n", again, None, None),
            ("cyp.cpp_subsequent", pct, _number(again), _number(started)),
        ):
            out.append(_figure(ind, org, period, text, num, den))
    cla = pl.read_csv(FIXTURES / "cla_number_and_rate_per_10k_children.csv", infer_schema=False)
    cla = cla.rename(lambda c: c.lstrip("\ufeff")).filter(
        pl.col("population_type") == "Children looked after on 31 March each year"
    )
    for r in cla.iter_rows(named=True):
        period, org = f"{r['time_period']}-03-31", code(r)
        count, pop = _number(r["children_count"]), _number(r["population_estimate"])
        for ind, text, num, den in (
            ("cyp.lac_count", r["children_count"], None, None),
            ("cyp.lac_rate_per_10k", r["rate_per_10000"], count, pop),
        ):
            out.append(_figure(ind, org, period, text, num, den))
    return out


def _store(root: Path) -> tuple[str, int]:
    from sqlalchemy import insert
    from sqlmodel import Session

    from indicators.store.models import Observation, Submission
    from mappings.models import Agency
    from mappings.service import load_bundled
    from onereturn import db

    url = f"sqlite:///{root / 'bench.sqlite3'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    rows = _rows()
    now = datetime.now(UTC)
    with db.session_scope(engine) as session:
        load_bundled(session)
    with Session(engine) as session:
        session.add(
            Agency(
                code="bench_dfe",
                name="DfE (bench)",
                body_type="dfe",
                definition={"published": PUBLISHED},
                created_at=now,
                updated_at=now,
            )
        )
        sub = Submission(
            agency_code="bench_dfe",
            filename="ees.csv",
            source_format="csv",
            size_bytes=0,
            content_hash="0" * 64,
            raw_path="",
            received_at=now,
            mode="default",
            status="stored",
        )
        session.add(sub)
        session.flush()
        session.execute(
            insert(Observation),
            [
                {
                    **r,
                    "submission_id": sub.id,
                    "recorded_at": now,
                    "breakdown": "",
                    "version": 1,
                    "is_current": True,
                    "status": "final",
                }
                for r in rows
            ],
        )
        session.commit()
    engine.dispose()
    return url, len(rows)


def main(argv: list[str]) -> None:
    """Build the store, then time each council's comparisons, its page (first and after) and its workbook."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks compare", description=__doc__)
    parser.add_argument("--council", action="append", help="GSS codes (default: Trafford, Kent, Camden)")
    parser.add_argument("--repeat", type=int, default=20, help="page requests after the first (median reported)")
    args = parser.parse_args(argv)
    councils = args.council or ["E08000009", "E10000016", "E09000007"]

    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from api.main import create_app
    from mappings.comparison.assembly import clear_caches, flags_for, indicators_with_figures
    from mappings.signoff.lineage import store_key
    from onereturn import db
    from onereturn.settings import Settings

    with tempfile.TemporaryDirectory(prefix="onereturn-bench-compare-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        url, stored = _store(root)
        print(
            f"store: {stored:,} published figures of every council, region and England in {time.perf_counter() - start:.1f} s"
        )
        engine = db.make_engine(url)
        app = create_app(Settings(data_dir=root / "data"), engine=engine)
        print(
            "| council | indicators | all comparisons, cold (s) | page, first (ms) | page, after (median ms) | workbook of all (ms) |"
        )
        print("|---|---|---|---|---|---|")
        with TestClient(app) as client:
            form = client.get("/sign-in")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            client.post("/sign-in", data={"key": OFFICER, "csrf_token": token.group(1)}, follow_redirects=False)
            for org in councils:
                clear_caches()
                with Session(engine) as session:
                    t0 = time.perf_counter()
                    flags_for(session, org, None, state=store_key(session))
                    cold = time.perf_counter() - t0
                    indicators = indicators_with_figures(session, org, state=store_key(session))
                clear_caches()
                ind, _, period = indicators[0]
                params = {"org": org, "indicator": ind, "period": period}
                t0 = time.perf_counter()
                first = client.get("/compare", params=params)
                first_ms = (time.perf_counter() - t0) * 1000
                assert first.status_code == 200, first.text
                after = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    assert client.get("/compare", params=params).status_code == 200
                    after.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                book = client.get(
                    "/api/compare.xlsx",
                    params=[("org", org), *(("indicator", i) for i, _, _ in indicators), ("period", period)],
                    headers={"X-API-Key": OFFICER},
                )
                book_ms = (time.perf_counter() - t0) * 1000
                assert book.status_code == 200, book.text
                print(
                    f"| {org} | {len(indicators)} | {cold:.2f} | {first_ms:.0f} | {statistics.median(after):.0f} | {book_ms:.0f} |",
                    flush=True,
                )
        engine.dispose()


def _figure(ind: str, org: str, period: str, text: Any, num: float | None, den: float | None) -> dict[str, Any]:
    """One published figure as a row to upload: its value, or the publisher's symbol where it gives none."""
    value = _number(text)
    return {
        "indicator_id": ind,
        "org_code": org,
        "period": period,
        "value": value,
        "symbol": None if value is not None else str(text)[:4],
        "numerator": num,
        "denominator": den,
    }
