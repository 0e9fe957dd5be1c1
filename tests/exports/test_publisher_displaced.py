"""A council's own figure for an item a publisher's release filled reopens each signed-off quarter whose released cell
it now fills: the sign-off no longer reads ``signed_off`` while the value it released is withdrawn, and the council is
reminded to sign off again."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session, select

from exports.freshness import pull
from exports.release import build_ungated
from indicators.service import indicators_by_id
from mappings.models import AgencyIndicator, Return
from mappings.notices import not_signed_off
from mappings.signoff.models import SignOff, SignOffEvent
from mappings.signoff.states import REOPENED, SIGNED_OFF
from onereturn.settings import Settings
from tests.demo_store import demo_store_fixture
from tests.helpers import upload_clean
from tests.signoffs import sign_off_everything

published_store = demo_store_fixture("published_store", "published")
NOTTS = "E10000024"
RETURN = "county_cyp_core"
QUARTERS = [f"FY2024-25-Q{q}" for q in range(1, 5)]
#: A figure of the council's own in the core data set, for a year no publisher's file gives it.
OWN = f"cyp.outdoor_education_participants,{NOTTS},FY2023-24,,120,,,,"


def _regulators_cells(engine: Engine, period: str) -> dict[str, dict[str, Any]]:
    """Nottinghamshire's cells of the core data set for the quarter, as a regulator's pull serves them."""
    with Session(engine) as session:
        pulled = pull(session, RETURN, period, "json", fresh=True)
        session.commit()
    body = json.loads(pulled.snapshot.data)
    return {c["cell_id"]: c for c in body["cells"] if c["org_code"] == NOTTS}


def _states(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.execute(
            select(SignOff).where(SignOff.agency_code == "notts_cyp", SignOff.return_id == RETURN)
        ).scalars()
        return {r.period: r.state for r in rows}


def _publishers_items(engine: Engine) -> list[tuple[str, str, str, str]]:
    """The counts DfE's file fills in the year's first quarter that the council is the source of: each cell, and its
    figure's indicator, period and breakdown."""
    with Session(engine) as session:
        ret = session.get(Return, RETURN)
        assert ret is not None
        built = build_ungated(session, ret, QUARTERS[0])
        counts = {i for i, ind in indicators_by_id(session).items() if ind.unit == "children" and not ind.formula}
        owed = counts & set(
            session.execute(
                select(AgencyIndicator.indicator_id).where(AgencyIndicator.agency_code == "notts_cyp")
            ).scalars()
        )
    theirs = built.cells.filter(
        (pl.col("org_code") == NOTTS)
        & pl.col("how").fill_null("").str.contains("published")
        & (pl.col("status") == "present")
        & pl.col("indicator_id").is_in(list(owed))
    ).join(built.lineage.select("cell_id", "figure_period"), on="cell_id")
    return sorted(theirs.select("cell_id", "indicator_id", "figure_period", "breakdown").iter_rows())


def test_the_councils_own_figure_reopens_the_quarters_a_publishers_figure_was_released_in(
    published_store: Engine, store_settings: Settings
) -> None:
    cell_id, indicator, period, breakdown = _publishers_items(published_store)[0]
    # The council has a figure of its own in the return (a year's, shown in each quarter after it), and signs its
    # quarters off.
    upload_clean(published_store, store_settings, "notts_cyp", OWN)
    sign_off_everything(published_store, returns=[RETURN])
    assert {q: _states(published_store).get(q) for q in QUARTERS} == dict.fromkeys(QUARTERS, SIGNED_OFF)
    before = _regulators_cells(published_store, QUARTERS[0])[cell_id]
    assert before["status"] == "present"
    assert before["value"] is not None
    assert "published by" in before["reason"]

    upload_clean(published_store, store_settings, "notts_cyp", f"{indicator},{NOTTS},{period},{breakdown},7,,,,")

    # Every quarter whose released cell the council's figure now fills is reopened, with the upload as its reason;
    # the regulator no longer reads a value under a sign-off that still stands.
    states = _states(published_store)
    reopened = sorted(q for q, state in states.items() if state == REOPENED)
    assert QUARTERS[0] in reopened
    after = _regulators_cells(published_store, QUARTERS[0])[cell_id]
    assert (after["status"], after["value"]) == ("unsigned", None)
    assert "not yet signed off by" in after["reason"]
    with Session(published_store) as session:
        events = session.execute(
            select(SignOffEvent).where(
                SignOffEvent.agency_code == "notts_cyp",
                SignOffEvent.return_id == RETURN,
                SignOffEvent.to_state == REOPENED,
            )
        ).scalars()
        said = {e.period: e.detail for e in events}
        # The reminders of what the council has not signed off name each quarter reopened.
        owed = not_signed_off(session, "notts_cyp", [[RETURN, q] for q in states])
    assert set(said) == set(reopened)
    assert all("a publisher's was released" in d for d in said.values())
    assert {s.period for s in owed} == set(reopened)

    # Signed off again, the council's own figure is released in its place.
    sign_off_everything(published_store, returns=[RETURN])
    again = _regulators_cells(published_store, QUARTERS[0])[cell_id]
    assert (again["status"], again["value"]) == ("present", 7.0)
    assert all(_states(published_store)[q] == SIGNED_OFF for q in reopened)


def test_a_figure_where_the_council_had_its_own_leaves_the_sign_offs_standing(
    published_store: Engine, store_settings: Settings
) -> None:
    _, indicator, period, breakdown = _publishers_items(published_store)[0]
    upload_clean(published_store, store_settings, "notts_cyp", f"{indicator},{NOTTS},{period},{breakdown},7,,,,")
    sign_off_everything(published_store, returns=[RETURN])
    assert all(_states(published_store)[q] == SIGNED_OFF for q in QUARTERS)
    # A later figure of its own is added after its sign-off (held back until signed off, as ever): no publisher's
    # value was released in its cell, so nothing is reopened.
    upload_clean(
        published_store, store_settings, "notts_cyp", f"{indicator},{NOTTS},{_later(period)},{breakdown},8,,,,"
    )
    assert all(_states(published_store)[q] == SIGNED_OFF for q in QUARTERS)


def _later(period: str) -> str:
    """The figure's period a year on (a 31 March snapshot, or a financial year)."""
    if period[:4].isdigit():
        return f"{int(period[:4]) + 1}{period[4:]}"
    start = int(period[2:6]) + 1
    return f"FY{start}-{(start + 1) % 100:02d}"
