"""An upload reads only the stored figures it names, whatever else the agency has stored."""

from __future__ import annotations

import gc
import sys
import weakref
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from collectors import store as figure_store
from collectors.figures import read
from collectors.figures.service import submit
from onereturn import db
from onereturn.settings import Settings

HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
MONTHS = [f"2024-{m:02d}-{d}" for m, d in ((4, 30), (5, 31), (6, 30), (7, 31), (8, 31), (9, 30))]


def send(engine: Engine, settings: Settings, *rows: str) -> None:
    data = (HEADER + "\n".join(rows) + "\n").encode()
    outcome = submit(engine, settings, agency_code="notts_cyp", filename="n.csv", data=data)
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted", outcome.problems


def test_current_for_keys_reads_exactly_the_named_figures(store: Engine, store_settings: Settings) -> None:
    send(store, store_settings, *(f"cyp.cin_count,E10000024,{day},,{500 + i},,,," for i, day in enumerate(MONTHS)))
    send(store, store_settings, f"cyp.cin_count,E10000024,{MONTHS[0]},,510,,,,")
    keys = pl.DataFrame(
        {
            "indicator_id": ["cyp.cin_count", "cyp.cin_count", "cyp.cin_count"],
            "org_code": ["E10000024", "E10000024", "E10000024"],
            "period": [MONTHS[0], MONTHS[2], "2019-03-31"],
            "breakdown": ["", "", ""],
        }
    )
    with Session(store) as session:
        found = figure_store.current_for_keys(session, keys)
        # The staging table is left empty, so a second read in the same transaction sees only its own keys.
        again = figure_store.current_for_keys(session, keys.head(1))
    assert sorted(found.select("period", "version", "value").rows()) == [(MONTHS[0], 2, 510.0), (MONTHS[2], 1, 502.0)]
    assert again.select("period", "version").rows() == [(MONTHS[0], 2)]


def test_an_upload_reads_only_its_own_keys(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(store, store_settings, *(f"cyp.cin_count,E10000024,{day},,{500 + i},,,," for i, day in enumerate(MONTHS)))
    reads: list[tuple[int, int]] = []
    real = figure_store.current_for_keys

    def spy(session: Session, keys: pl.DataFrame) -> pl.DataFrame:
        found = real(session, keys)
        reads.append((keys.height, found.height))
        return found

    monkeypatch.setattr(figure_store, "current_for_keys", spy)
    monkeypatch.setattr("collectors.door.spine.current_for_keys", spy)
    # A large change without a note is still held: the check sees the stored figure it compares with.
    held = submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="held.csv",
        data=(HEADER + f"cyp.cin_count,E10000024,{MONTHS[3]},,5000,,,,\n").encode(),
    )
    assert held.problems is not None
    assert sorted(held.problems["rule"].to_list()) == ["change.revision", "change.since_previous_period"]
    send(store, store_settings, f"cyp.cin_count,E10000024,{MONTHS[3]},,504,,,,")
    assert reads
    # Six figures of the agency are stored; each read asked for the one key sent and found only it.
    assert (1, 1) in reads
    assert all(asked <= 1 and found <= 1 for asked, found in reads), reads


def test_postgresql_reads_and_revises_staged_figures_by_the_index(store: Engine, store_settings: Settings) -> None:
    """Whatever PostgreSQL's statistics say of the store, the staged keys drive: index probes, never a scan of it."""
    if store.dialect.name != "postgresql":
        pytest.skip("SQLite's order is fixed by CROSS JOIN")
    send(store, store_settings, *(f"cyp.cin_count,E10000024,{day},,{500 + i},,,," for i, day in enumerate(MONTHS)))
    with Session(store) as session:
        dbapi: Any = session.connection().connection.dbapi_connection
        cursor = dbapi.cursor()
        # The store's statistics as autovacuum may leave them between its runs: far fewer figures than it holds.
        cursor.execute("ANALYZE observation")
        cursor.execute(
            "INSERT INTO observation (indicator_id, org_code, period, breakdown, version, is_current, status, recorded_at) "
            "SELECT 'cyp.cin_count', 'X' || g, '2020-03-31', '', 1, true, 'final', now() FROM generate_series(1, 60000) g"
        )
        keys = pl.DataFrame(
            {
                "indicator_id": ["cyp.cin_count"] * 3,
                "org_code": ["E10000024"] * 3,
                "period": MONTHS[:3],
                "breakdown": [""] * 3,
            }
        )
        figure_store.stage(cursor, "postgresql", "upload_key", figure_store.KEY, keys)
        cursor.execute("EXPLAIN " + figure_store.keyed_read("JOIN"))
        read = "\n".join(row[0] for row in cursor.fetchall())
        columns = ", ".join(figure_store.INSERT_COLUMNS)
        cursor.execute(
            f"CREATE TEMP TABLE upload_figure AS SELECT {columns}, id AS obs_id FROM observation WITH NO DATA"
        )
        cursor.execute(
            f"INSERT INTO upload_figure SELECT {columns}, id FROM observation "
            "WHERE org_code = 'E10000024' OR org_code <= 'X5'"
        )
        cursor.execute("EXPLAIN " + figure_store.retire_and_insert())
        revise = "\n".join(row[0] for row in cursor.fetchall())
        session.rollback()
    for plan in (read, revise):
        assert "Seq Scan on observation" not in plan, plan
        assert "pk_observation" in plan or "uq_observation" in plan, plan


def test_while_an_upload_is_stored_nothing_holds_its_bytes_or_the_table_read_from_them(
    store: Engine, store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What upload processes do: the upload's file is handed over and read by the upload itself.
    upload = tmp_path / "n.csv"
    upload.write_bytes((HEADER + f"cyp.cin_count,E10000024,{MONTHS[0]},,500,,,,\n").encode())
    seen: dict[str, Any] = {}

    def reading(data: bytes, *args: Any, **kwargs: Any) -> Any:
        seen["data"] = data
        raw = read.read_table(data, *args, **kwargs)
        seen["frame"] = weakref.ref(raw.frame)
        return raw

    def splitting(accepted: pl.DataFrame, current: pl.DataFrame) -> Any:
        gc.collect()
        alone = {"data": bytes(seen["data"])}
        # Held by ``seen`` alone, as a copy is by ``alone``: no frame of the upload still has them.
        seen["holders"] = sys.getrefcount(seen["data"]) - sys.getrefcount(alone["data"])
        seen["frame alive"] = seen["frame"]() is not None
        return figure_store.split_changes(accepted, current)

    monkeypatch.setattr("collectors.figures.service.read_table", reading)
    monkeypatch.setattr("collectors.door.spine.split_changes", splitting)
    outcome = submit(store, store_settings, agency_code="notts_cyp", filename="n.csv", data=upload)
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted", outcome.problems
    assert outcome.submission.size_bytes == upload.stat().st_size
    assert seen["holders"] == 0
    assert seen["frame alive"] is False


def _open_queries(store: Engine) -> list[tuple[str, str]]:
    from sqlmodel import select

    from indicators.store.models import HeldFigure

    with Session(store) as session:
        held = session.execute(select(HeldFigure).where(HeldFigure.state == "open")).scalars()
        return sorted((h.period, h.org_code) for h in held)


@pytest.mark.parametrize("pairs_per_read", [1, 400])
def test_an_upload_closes_the_open_queries_on_its_own_figures_only(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch, pairs_per_read: int
) -> None:
    monkeypatch.setattr("collectors.queries._PAIR_BATCH", pairs_per_read)
    send(store, store_settings, *(f"cyp.cin_count,E10000024,{day},,500,,,," for day in MONTHS[:3]))
    # Each doubled figure is held by a change query until a note explains it.
    for day in MONTHS[:3]:
        data = (HEADER + f"cyp.cin_count,E10000024,{day},,1000,,,,\n").encode()
        held = submit(store, store_settings, agency_code="notts_cyp", filename="q.csv", data=data)
        assert held.submission is not None
        assert held.submission.queries_open == 1
    assert _open_queries(store) == [(day, "E10000024") for day in MONTHS[:3]]
    read: list[int] = []
    rows_frame = db.rows_frame

    def counted(rows: Any, schema: Any) -> pl.DataFrame:
        read.append(len(rows))
        return rows_frame(rows, schema)

    monkeypatch.setattr("collectors.queries.rows_frame", counted)
    # Given again with notes for two of the three periods (and a figure of a period with no query).
    send(
        store,
        store_settings,
        f"cyp.cin_count,E10000024,{MONTHS[0]},,1000,,,final,A new team found more children",
        f"cyp.cin_count,E10000024,{MONTHS[2]},,1000,,,final,A new team found more children",
        f"cyp.cin_count,E10000024,{MONTHS[4]},,500,,,,",
    )
    assert _open_queries(store) == [(MONTHS[1], "E10000024")]
    # Only the open queries of its own (indicator, period) pairs were read, not the agency's third.
    assert sum(read) == 2
