"""The rules' read of each uploaded figure's latest earlier stored figure finds it, whatever the store and upload hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session

from collectors import store as store_module
from collectors.checks import context as context_module
from collectors.checks.context import figures_for_rules
from collectors.store import KEY
from indicators.store.models import Observation

INDICATORS = ["cyp.lac_count", "cyp.cin_count", "cyp.cpp_count"]
ORGS = ["E10000024", "E06000018"]
BREAKDOWNS = ["", "sex=F"]
PERIODS = [f"{year}-03-31" for year in range(2021, 2027)]

_key = st.tuples(
    st.sampled_from(INDICATORS), st.sampled_from(ORGS), st.sampled_from(PERIODS), st.sampled_from(BREAKDOWNS)
)
#: A stored figure: its key, whether it has a value (or is a symbol) and whether it is still current (mostly both).
_stored = st.tuples(_key, st.sampled_from([True, True, True, False]), st.sampled_from([True, True, True, False]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    stored=st.lists(_stored, min_size=10, max_size=60, unique_by=lambda s: s[0]),
    uploaded=st.lists(_key, min_size=1, max_size=12, unique=True),
    earlier=st.sets(st.sampled_from(INDICATORS), min_size=1),
)
# One series gives the period another series' latest earlier figure is in: that period must still be read.
@example(
    stored=[((INDICATORS[0], org, PERIODS[1], ""), True, True) for org in ORGS],
    uploaded=[
        (INDICATORS[0], ORGS[0], PERIODS[1], ""),
        (INDICATORS[0], ORGS[0], PERIODS[3], ""),
        (INDICATORS[0], ORGS[1], PERIODS[3], ""),
    ],
    earlier={INDICATORS[0]},
)
def test_each_uploaded_figure_gets_its_latest_earlier_figure_with_a_value(
    store: Engine,
    stored: list[tuple[tuple[str, str, str, str], bool, bool]],
    uploaded: list[tuple[str, str, str, str]],
    earlier: set[str],
) -> None:
    now = datetime.now(UTC)
    with Session(store) as session:
        session.add_all(
            Observation(
                indicator_id=i,
                org_code=o,
                period=p,
                breakdown=b,
                version=1,
                is_current=current,
                value=10.0 if valued else None,
                symbol=None if valued else "x",
                recorded_at=now,
            )
            for (i, o, p, b), valued, current in stored
        )
        session.flush()
        keys = pl.DataFrame(uploaded, schema=KEY, orient="row")
        found = figures_for_rules(session, keys, {}, frozenset(earlier))
        session.rollback()
    got = set(found.select(KEY).iter_rows())
    assert found.select(KEY).is_unique().all()
    readable = {key for key, valued, current in stored if valued and current}
    current = {key for key, _, is_current in stored if is_current}
    mine = set(uploaded)
    for i, o, p, b in uploaded:
        if i not in earlier:
            continue
        before = [k for k in readable - mine if k[:2] == (i, o) and k[3] == b and k[2] < p]
        if before:
            assert max(before, key=lambda k: k[2]) in got, (i, o, p, b)
    cells = {(i, o, p) for i, o, p, _ in uploaded}
    for key in got:
        # Besides the latest earlier figures, only the current figures of the upload's own cells are read.
        assert key in current
        assert key[:3] in cells or (key in readable and key not in mine and key[0] in earlier)


def test_the_walk_reads_periods_in_batches_and_stops_for_an_indicator_once_answered(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    answered, walking = INDICATORS[0], INDICATORS[1]
    periods = [f"{year}-03-31" for year in range(2000, 2026)]
    now = datetime.now(UTC)
    calls: list[tuple[str, int, list[str]]] = []
    real = context_module._periods_before

    def spy(cursor: object, mark: str, indicator: str, below: str, count: int) -> list[str]:
        got = real(cursor, mark, indicator, below, count)
        calls.append((indicator, count, got))
        return got

    monkeypatch.setattr(context_module, "_periods_before", spy)
    reads: list[bool] = []
    real_read = context_module._earlier_read

    def spy_read(dialect: str, *, probe: bool) -> str:
        reads.append(probe)
        return real_read(dialect, probe=probe)

    monkeypatch.setattr(context_module, "_earlier_read", spy_read)
    with Session(store) as session:
        # The first indicator's series has a figure every year; the second's only in another area, so the
        # uploaded series of it has no earlier figure and its walk goes back through all 26 years.
        session.add_all(
            Observation(
                indicator_id=indicator,
                org_code=org,
                period=period,
                breakdown="",
                version=1,
                is_current=True,
                value=10.0,
                recorded_at=now,
            )
            for indicator, org in ((answered, ORGS[0]), (walking, ORGS[1]))
            for period in periods
        )
        session.flush()
        keys = pl.DataFrame(
            [(answered, ORGS[0], "2026-03-31", ""), (walking, ORGS[0], "2026-03-31", "")], schema=KEY, orient="row"
        )
        found = figures_for_rules(session, keys, {}, frozenset({answered, walking}))
        session.rollback()
    assert set(found.select(KEY).iter_rows()) == {(answered, ORGS[0], "2025-03-31", "")}
    # Answered by its first batch, the first indicator probes no further while the second walks on.
    assert [(count, got) for indicator, count, got in calls if indicator == answered] == [(1, ["2025-03-31"])]
    walked = [(count, got) for indicator, count, got in calls if indicator == walking]
    # Its one series left waiting, the second takes the rest of its periods in one batch, not 1, 2, 4…
    # (five batches more): each batch is the next periods back, newest first, until none is left.
    assert [count for count, _ in walked][:2] == [1, context_module._ROUND_PROBES]
    assert [period for _, got in walked for period in got] == periods[::-1]
    assert len(walked) == 3
    assert walked[-1][1] == []
    # A series or two are read a (series, period) at a time, not by the periods' whole runs (PostgreSQL).
    assert reads
    assert all(reads)


def _rows_from(plan: dict[str, Any], relation: str) -> int:
    """The rows the plan's scans of ``relation`` gave, over all their loops."""
    own = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1) if plan.get("Relation Name") == relation else 0
    return int(own + sum(_rows_from(child, relation) for child in plan.get("Plans", [])))


def test_postgresql_reads_each_earlier_figure_by_its_whole_key(store: Engine) -> None:
    if store.dialect.name != "postgresql":
        pytest.skip("the plan read is PostgreSQL's")
    indicator = INDICATORS[0]
    orgs = [f"E0{n:07d}" for n in range(20)]
    periods = [f"{year}-03-31" for year in range(1700, 2000)]
    now = datetime.now(UTC)
    with Session(store) as session:
        session.add_all(
            Observation(
                indicator_id=indicator,
                org_code=org,
                period=period,
                breakdown="",
                version=1,
                is_current=True,
                value=10.0,
                recorded_at=now,
            )
            for org in orgs
            for period in periods
        )
        session.flush()
        cursor: Any = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("ANALYZE observation")
        # One series whose latest earlier figure is far back: a batch of 256 periods read for it alone.
        store_module.stage(
            cursor,
            "postgresql",
            "rule_series",
            ["indicator_id", "org_code", "breakdown"],
            pl.DataFrame([(indicator, orgs[0], "")], schema=["indicator_id", "org_code", "breakdown"], orient="row"),
        )
        store_module.stage(
            cursor,
            "postgresql",
            "rule_period",
            ["indicator_id", "period"],
            pl.DataFrame([(indicator, p) for p in periods[-256:]], schema=["indicator_id", "period"], orient="row"),
        )
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + context_module._earlier_read("postgresql", probe=True))
        plan = cursor.fetchone()[0][0]["Plan"]
        session.rollback()
    assert plan["Actual Rows"] == 256
    # Each (series, period) is one probe of the figure key: the store gives no figure it then drops
    # (joined on the series alone, it gave all 300 of the series' figures; on the periods alone, 20 a period).
    assert _rows_from(plan, "observation") == 256
