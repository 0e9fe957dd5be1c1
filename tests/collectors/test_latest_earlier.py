"""The rules' read of each uploaded figure's latest earlier stored figure finds it, whatever the store and upload hold."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.store import KEY, figures_for_rules
from indicators.models import Observation

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
    uploaded=[(INDICATORS[0], ORGS[0], PERIODS[1], ""), (INDICATORS[0], ORGS[0], PERIODS[3], ""),
              (INDICATORS[0], ORGS[1], PERIODS[3], "")],
    earlier={INDICATORS[0]},
)  # fmt: skip
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
                indicator_id=i, org_code=o, period=p, breakdown=b, version=1, is_current=current,
                value=10.0 if valued else None, symbol=None if valued else "x", recorded_at=now,
            )
            for (i, o, p, b), valued, current in stored
        )  # fmt: skip
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
