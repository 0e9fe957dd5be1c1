"""The burden counts what the returns' builds filled for the period asked: the cells each return's fields have in it,
a cell counted as from a publisher only where a publisher's figure filled it."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from exports.built import BuiltReturn
from exports.burden import cells as burden_cells
from exports.burden.report import AgencyBurden, burden
from exports.release import build_ungated
from indicators.service import indicators_by_id
from mappings.models import AgencyIndicator, Return
from onereturn.settings import Settings
from tests.demo_store import demo_store_fixture
from tests.helpers import upload_clean

published_store = demo_store_fixture("published_store", "published")
BARNET, NOTTS = "E09000003", "E10000024"
QUARTERS = [f"FY2024-25-Q{q}" for q in range(1, 5)]


def _agencies(engine: Engine, period: str) -> dict[str, AgencyBurden]:
    with Session(engine) as session:
        return {a.agency_code: a for a in burden(session, period).agencies}


def _cells(engine: Engine, return_id: str, period: str, org: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The org unit's cells of the return as built for the period, each marked derived (its indicator a formula), and
    its lineage."""
    with Session(engine) as session:
        ret = session.get(Return, return_id)
        assert ret is not None
        built = build_ungated(session, ret, period)
        formulas = {i for i, ind in indicators_by_id(session).items() if ind.formula}
    cells = built.cells.filter(pl.col("org_code") == org).with_columns(
        pl.col("indicator_id").is_in(list(formulas)).alias("derived")
    )
    return cells, built.lineage.filter(pl.col("org_code") == org)


def _publishers_filled(cells: pl.DataFrame) -> pl.DataFrame:
    """The cells holding a publisher's figure (the build's ``how`` says so), not worked out from others."""
    published = pl.col("how").fill_null("").str.contains("published")
    return cells.filter(published & (pl.col("status") == "present") & ~pl.col("derived"))


def test_the_partnerships_ndtms_cells_are_the_years_own_and_none_is_a_publishers_before_it_publishes(
    published_store: Engine,
) -> None:
    # NDTMS's bundled export stops at 2021/22: FY2024-25's return has one cell a field, none of them filled.
    cells, _ = _cells(published_store, "ndtms_viewit_la", "FY2024-25", BARNET)
    assert cells.height == 57
    assert cells.filter(pl.col("status") == "present").is_empty()
    barnet = _agencies(published_store, "FY2024-25")["barnet_dap"]
    assert barnet.cells_without_service == 57
    assert barnet.from_publishers == 0
    assert barnet.awaiting_publishers + barnet.derived_by_service == 57
    assert (barnet.keyed_cells_without_service, barnet.figures_entered) == (0, 0)


def test_a_year_ndtms_published_counts_the_cells_its_file_filled(published_store: Engine) -> None:
    cells, _ = _cells(published_store, "ndtms_viewit_la", "FY2021-22", BARNET)
    filled = cells.filter((pl.col("status") == "present") & ~pl.col("derived")).height
    assert 0 < filled < cells.height
    barnet = _agencies(published_store, "FY2021-22")["barnet_dap"]
    assert barnet.cells_without_service == cells.height
    assert barnet.from_publishers == filled
    assert barnet.derived_by_service == cells.filter(pl.col("derived")).height


def _own_item(engine: Engine) -> tuple[str, str, str]:
    """A figure DfE's file fills in Nottinghamshire's core data set in the year's first quarter that the council is
    the source of: its indicator, period and breakdown."""
    with Session(engine) as session:
        counts = {i for i, ind in indicators_by_id(session).items() if ind.unit == "children"}
        owed = counts & set(
            session.execute(
                select(AgencyIndicator.indicator_id).where(AgencyIndicator.agency_code == "notts_cyp")
            ).scalars()
        )
    cells, lineage = _cells(engine, "county_cyp_core", QUARTERS[0], NOTTS)
    theirs = _publishers_filled(cells).join(lineage, on="cell_id").filter(pl.col("indicator_id").is_in(owed))
    return min(theirs.select("indicator_id", "figure_period", "breakdown").iter_rows())


def _held(engine: Engine) -> int:
    """The cells of Nottinghamshire's quarters of the year a publisher's figure fills."""
    return sum(_publishers_filled(_cells(engine, "county_cyp_core", q, NOTTS)[0]).height for q in QUARTERS)


def test_nottinghamshires_publisher_cells_are_those_its_quarters_hold(
    published_store: Engine, store_settings: Settings
) -> None:
    held = _held(published_store)
    before = _agencies(published_store, "FY2024-25")["notts_cyp"]
    assert held > 0
    assert before.from_publishers == held
    # The council answers for one of those figures itself: its own fills those cells (its own wins over a
    # publisher's, of whatever period), and it keys them.
    indicator, period, breakdown = _own_item(published_store)
    upload_clean(published_store, store_settings, "notts_cyp", f"{indicator},{NOTTS},{period},{breakdown},7,,,,")
    now = _held(published_store)
    after = _agencies(published_store, "FY2024-25")["notts_cyp"]
    assert now < held
    assert after.from_publishers == now
    assert after.keyed_cells_without_service == before.keyed_cells_without_service + held - now
    assert after.cells_without_service == before.cells_without_service


def test_the_cells_are_counted_once_for_a_state_of_the_store(
    published_store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[tuple[str, str]] = []
    real = build_ungated

    def counting(session: Session, ret: Return, period: str, shared: dict[str, Any] | None = None) -> BuiltReturn:
        made.append((ret.id, period))
        return real(session, ret, period, shared)

    monkeypatch.setattr(burden_cells, "build_ungated", counting)
    monkeypatch.setattr(burden_cells, "_COUNTED", type(burden_cells._COUNTED)())
    first = _agencies(published_store, "FY2024-25")
    assert ("county_cyp_core", QUARTERS[0]) in made
    made.clear()
    # Nothing changed: the page's next view builds no return again, and counts the same.
    assert _agencies(published_store, "FY2024-25") == first
    assert made == []
    # A figure stored changes the store's state: the returns are built again.
    indicator, period, breakdown = _own_item(published_store)
    upload_clean(published_store, store_settings, "notts_cyp", f"{indicator},{NOTTS},{period},{breakdown},7,,,,")
    again = _agencies(published_store, "FY2024-25")
    assert ("county_cyp_core", QUARTERS[0]) in made
    assert again["notts_cyp"].from_publishers < first["notts_cyp"].from_publishers
