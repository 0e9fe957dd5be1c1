"""Building every return in every format once: figures read together, builders sharing, writers sharing rows."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from typing import Any

import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from exports import service
from exports.build import Builder, return_with_fields
from exports.built import BuiltReturn
from exports.models import BuildCell, ExportSnapshot, LineageRow, ReturnBuild
from exports.writers import FORMATS, ExportFormat, write
from indicators.periods import parse_period
from mappings.resolve import FACT_SCHEMA, Resolver
from onereturn import db
from onereturn.settings import Settings
from tests.helpers import upload_clean

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _figures(store: Engine, settings: Settings) -> None:
    # A context figure read as the latest estimate (two years stored), a snapshot count and a
    # figure of another period that must not be read for this one.
    upload_clean(
        store,
        settings,
        "ons",
        "pop.resident_0_17,E10000024,CY2022,,166000,,,,",
        "pop.resident_0_17,E10000024,CY2023,,170000,,,,",
    )
    upload_clean(
        store,
        settings,
        "notts_cyp",
        "cyp.cpp_count,E10000024,2024-03-31,,301,,,,",
        "cyp.cpp_count,E10000024,2023-03-31,,280,,,,",
    )


def test_figures_read_together_are_the_figures_read_one_indicator_at_a_time(
    store: Engine, store_settings: Settings
) -> None:
    _figures(store, store_settings)
    period = parse_period("FY2023-24-Q4", "quarter")
    with Session(store) as session:
        one_by_one = Resolver(session, period)
        together = Resolver(session, period, indicators=one_by_one.indicators)
        ids = sorted(i for i, ind in one_by_one.indicators.items() if not ind.formula)
        together.prefetch(ids)
        compared = 0
        for ind_id in ids:
            alone = one_by_one.stored(one_by_one.indicators[ind_id])
            read = together.stored(together.indicators[ind_id])
            assert_frame_equal(read, alone)
            compared += alone.height
    # The latest population and the quarter's snapshot count, never last year's count.
    assert compared >= 2
    pop = Resolver(Session(store), period).stored(one_by_one.indicators["pop.resident_0_17"])
    assert pop["period"].to_list() == ["CY2023"]


def test_a_builder_lending_what_no_period_changes_builds_the_same_return(
    store: Engine, store_settings: Settings
) -> None:
    _figures(store, store_settings)
    with Session(store) as session:
        ret, fields = return_with_fields(session, "county_cyp_core")
        fresh = Builder(session, "FY2023-24-Q4", ret.period_type).build(ret, fields, AT)
        lender = Builder(session, "FY2023-24-Q3", ret.period_type)
        shared = Builder(session, "FY2023-24-Q4", ret.period_type, sharing=lender).build(ret, fields, AT)
        assert shared.cells.filter(pl.col("status") == "present").height >= 1
        assert_frame_equal(shared.cells, fresh.cells)
        assert_frame_equal(shared.lineage, fresh.lineage)


def test_builders_sharing_read_each_stored_figure_once_and_build_what_each_builds_alone(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Builders of several periods lent by one read a figure once between them (the population every quarter takes
    its latest estimate from, the snapshot count a quarter and its year share), and build what each builds alone."""
    _figures(store, store_settings)
    read: list[int] = []
    real = Resolver._select_figures

    def counted(self: Resolver, *asked: Any) -> pl.DataFrame:
        found = real(self, *asked)
        read.extend(found["obs_id"].to_list())
        return found

    monkeypatch.setattr(Resolver, "_select_figures", counted)
    periods = [
        ("county_cyp_core", "FY2023-24-Q3"),
        ("county_cyp_core", "FY2023-24-Q4"),
        ("dfe_cin_census", "FY2023-24"),
    ]
    with Session(store) as session:
        returns = {r: return_with_fields(session, r) for r, _ in periods}
        alone = [Builder(session, p, returns[r][0].period_type).build(*returns[r], AT) for r, p in periods]
        assert len(read) > len(set(read)), "built alone, each builder reads the population again"
        read.clear()
        lender: Builder | None = None
        together = []
        for r, p in periods:
            builder = Builder(session, p, returns[r][0].period_type, sharing=lender)
            lender = lender or builder
            together.append(builder.build(*returns[r], AT))
    assert sorted(read) == sorted(set(read))
    # Both population estimates and both year-end counts: the third quarter shows the count of 31 March 2023 as its
    # newest figure, the fourth the count of 31 March 2024.
    assert sorted(read) == [1, 2, 3, 4]
    assert sum(b.cells.filter(pl.col("status") == "present").height for b in together) >= 2
    for one, shared in zip(alone, together, strict=True):
        assert_frame_equal(shared.cells, one.cells)
        assert_frame_equal(shared.lineage, one.lineage)


def test_formats_written_from_one_build_are_the_bytes_each_gives_alone(store: Engine, store_settings: Settings) -> None:
    _figures(store, store_settings)
    with Session(store) as session:
        ret, fields = return_with_fields(session, "county_cyp_core")
        built = Builder(session, "FY2023-24-Q4", ret.period_type).build(ret, fields, AT)
    together = {fmt: write(built, fmt) for fmt in FORMATS}
    for fmt in FORMATS:
        # A copy has read nothing yet: what it writes alone is what the shared rows gave.
        assert write(dataclasses.replace(built), fmt) == together[fmt]
    # A copy with fewer cells writes its own cells, never rows read for the original.
    one = built.cells.head(1)
    fewer = dataclasses.replace(
        built, cells=one, lineage=built.lineage.filter(pl.col("cell_id").is_in(one["cell_id"].to_list()))
    )
    lines = write(fewer, "csv").decode().strip().splitlines()
    assert len(lines) == 2
    assert len(together["csv"].decode().strip().splitlines()) == built.cells.height + 1 > 2


def test_cells_trace_to_the_same_figures_when_read_in_slices(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _figures(store, store_settings)
    with Session(store) as session:
        ret, fields = return_with_fields(session, "county_cyp_core")
        whole = Builder(session, "FY2023-24-Q4", ret.period_type).build(ret, fields, AT)
        # One id per statement: a large return reads its figures in many slices.
        monkeypatch.setattr("exports.build._IDS_PER_QUERY", 1)
        sliced = Builder(session, "FY2023-24-Q4", ret.period_type).build(ret, fields, AT)
        # What lineage says of a figure comes from the resolver's own read of it; a figure it did
        # not read is read from the store by id, and says the same.
        monkeypatch.setattr("mappings.resolve.Resolver.facts", lambda _self: pl.DataFrame(schema=FACT_SCHEMA))
        by_id = Builder(session, "FY2023-24-Q4", ret.period_type).build(ret, fields, AT)
    assert whole.lineage["observation_id"].n_unique() >= 2
    assert whole.lineage["agency_code"].null_count() == 0
    assert whole.lineage["filename"].null_count() == 0
    for other in (sliced, by_id):
        assert_frame_equal(other.lineage, whole.lineage)
        assert_frame_equal(other.cells, whole.cells)


def _counts(store: Engine) -> list[int]:
    """How many builds, lineage rows, cell digests and snapshots the store holds."""
    with Session(store) as session:
        return [
            session.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (ReturnBuild, LineageRow, BuildCell, ExportSnapshot)
        ]


def test_a_build_stores_its_lineage_while_its_files_are_written_and_a_failed_file_stores_nothing(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _figures(store, store_settings)
    writing = threading.Event()
    copying: list[bool] = []
    copy_and_close = db._copy_and_close

    def held(*args: Any) -> None:
        # Each copy waits until a file is being written: it ends only if the files are written meanwhile.
        copying.append(writing.wait(timeout=10))
        copy_and_close(*args)

    def failing(built: BuiltReturn, fmt: ExportFormat) -> bytes:
        writing.set()
        if fmt == "xlsx":
            raise RuntimeError("the disk is full")
        return write(built, fmt)

    monkeypatch.setattr("onereturn.db._copy_and_close", held)
    # A new build's files are written by ``write_all``, two at a time.
    monkeypatch.setattr("exports.writers.write", failing)
    with pytest.raises(RuntimeError, match="the disk is full"), db.session_scope(store) as session:
        service.snapshots(session, "county_cyp_core", "FY2023-24-Q4", ["csv", "xlsx"])
    assert _counts(store) == [0, 0, 0, 0]
    # On PostgreSQL the cell digests and the lineage are copied by threads while the files are written.
    assert copying == ([True, True] if store.dialect.name == "postgresql" else [])

    monkeypatch.undo()
    with db.session_scope(store) as session:
        # A format asked for twice is one snapshot.
        made = service.snapshots(session, "county_cyp_core", "FY2023-24-Q4", ["csv", "xlsx", "csv"])
        assert made[2] == made[0]
        record, built = service.build(session, "county_cyp_core", "FY2023-24-Q4")
        build_id = record.id
    assert [s.created for s in made] == [True, True, True]
    assert build_id == made[0].build_id
    assert built.lineage.height > 0
    assert _counts(store) == [1, built.lineage.height, built.cells.height, 2]


def _copy_a_row_naming_no_figure(store: Engine, caller_done: threading.Event, waited: list[bool]) -> None:
    def rows(build_id: int) -> Iterator[tuple[object, ...]]:
        # Read only once the caller has gone on: without a thread of its own the copy would wait here in vain.
        waited.append(caller_done.wait(timeout=10))
        yield build_id, "c1", "f1", "E10000024", -1, 1.0, False

    columns = ("build_id", "cell_id", "field_code", "org_code", "observation_id", "weight", "suppressed")
    with db.session_scope(store) as session, ExitStack() as pending:
        record = ReturnBuild(
            return_id="county_cyp_core",
            period="FY2023-24-Q4",
            fingerprint="f" * 64,
            generated_at=AT,
            catalogue_version="test",
            cell_count=1,
            completeness={},
        )
        session.add(record)
        session.flush()
        assert record.id is not None
        db.bulk_insert(session, LineageRow.__tablename__, columns, [rows(record.id)], pending=pending)
        caller_done.set()


def test_rows_copied_in_a_thread_are_checked_when_the_caller_is_done(store: Engine) -> None:
    if store.dialect.name != "postgresql":
        pytest.skip("SQLite inserts in the caller's thread: the build above covers it there")
    caller_done = threading.Event()
    waited: list[bool] = []
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="observation"):
        _copy_a_row_naming_no_figure(store, caller_done, waited)
    assert waited == [True]
    assert _counts(store) == [0, 0, 0, 0]
