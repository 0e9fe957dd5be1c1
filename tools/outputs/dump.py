"""Dump every output of a fresh demo store, and the store's tables, into a folder of text rows."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from onereturn.settings import Settings
from tools.outputs.pulls import Output, burden, council, region, returns
from tools.outputs.rows import Run
from tools.outputs.store import empty, fixed_clock, load, settings_for
from tools.outputs.tables import LEFT_OUT, dump_tables

#: What each dump normalises rather than leaves out, written beside it (docs/development.md explains each).
NORMALISED = {
    "surrogate ids": "a table's counted id is written as its rank (#000001 the lowest), and every reference to it",
    "timestamps of the run": "a timestamp from the dump's start to a day on (or the fixed clock's) is <run-time>, "
    "the run's day <run-day>",
    "sealed bytes": "a Fernet token is written as sealed:<digest of what it opens to> (its IV is random)",
    "files in the store": "a blob's digest is of its rows (cells, members, lines) normalised, not of its bytes",
    "request ids": "an error's request_id (the log's random id of the request) is <request-id>",
    "counters no row refers to": "left out, the rows sorted by the rest (a set's rows are counted in its order)",
}


@dataclass(frozen=True)
class Dumped:
    """What a dump wrote: how many files and rows, and how long it took."""

    files: int
    rows: int
    seconds: float


def dump(out: Path, database: str | None = None, *, tiny: bool = False) -> Dumped:
    """Make a fresh store (SQLite unless ``database``), load the demo at a fixed time, write every output and table."""
    from onereturn import db

    began, start = time.monotonic(), datetime.now(UTC) - timedelta(seconds=1)
    with tempfile.TemporaryDirectory(prefix="onereturn-outputs-") as tmp:
        settings = settings_for(Path(tmp), database)
        if database:
            empty(database)
        engine = db.make_engine(settings.effective_database_url)
        try:
            with fixed_clock():
                uploads = load(engine, settings, tiny=tiny)
            rows = dump_store(engine, settings, out, start, tiny=tiny)
        finally:
            engine.dispose()
    about = {"uploads": uploads, "store": "postgresql" if database else "sqlite", "tiny": tiny}
    (out / "dump.json").write_text(json.dumps(about | _left_out(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return Dumped(sum(1 for _ in out.rglob("*.tsv")), rows, time.monotonic() - began)


def _left_out() -> dict[str, dict[str, str]]:
    return {"left_out": LEFT_OUT, "normalised": NORMALISED}


def dump_store(engine: Engine, settings: Settings, out: Path, start: datetime, *, tiny: bool = False) -> int:
    """Write every output of a loaded store (read at the fixed time) and its tables into ``out``; rows written.

    ``start`` is when the store's run began: a timestamp after it is the run's own. ``tiny``: the returns' periods
    with stored figures only, and one year's burden."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from cli.demo import DEMO_REGION, RECORDS_AGENCY, RECORDS_YEAR, YEARS
    from onereturn.sealing import keys_for

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    keys = keys_for(settings)

    def unseal(token: bytes) -> bytes | None:
        try:
            return keys.open(token)
        except Exception:
            return None

    # Every timestamp from the dump's start to a day on was written by the run: the demo's own are years before.
    run = Run(start, start + timedelta(days=1), unseal)
    outputs: list[Output] = []
    with fixed_clock(), TestClient(create_app(settings, engine=engine)) as client:
        outputs += returns(client, engine, run, year_ends=not tiny)
        outputs += council(client, run, RECORDS_AGENCY, RECORDS_YEAR, datetime.now(UTC).date().isoformat())
        outputs += region(client, run, DEMO_REGION)
        outputs += burden(client, run, YEARS[-1:] if tiny else YEARS)
    rows = dump_tables(engine, run, out)
    for output in outputs:
        path = out / "outputs" / f"{output.name}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(output.rows) + "\n", encoding="utf-8")
        rows += len(output.rows)
    (out / "dump.json").write_text(json.dumps(_left_out(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return rows
