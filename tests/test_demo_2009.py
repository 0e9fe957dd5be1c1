"""The 2009-10 case: Lewisham PCT's one upload fills both its Vital Signs return and the council's
National Indicator return; every demo figure says where it comes from or that it is illustrative."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from collectors.service import submit
from demo import DEMO_DIR
from exports.build import Builder, return_with_fields
from exports.model import BuiltReturn
from settings import Settings


def _build(engine: Engine, return_id: str, period: str) -> BuiltReturn:
    with Session(engine) as session:
        ret, fields = return_with_fields(session, return_id)
        return Builder(session, period, ret.period_type).build(ret, fields, datetime(2026, 1, 1, tzinfo=UTC))


def _value(built: BuiltReturn, field: str, org: str) -> object:
    rows = built.cells.filter((built.cells["field_code"] == field) & (built.cells["org_code"] == org))
    assert rows.height >= 1, (field, org)
    return rows.row(0, named=True)["value"]


def test_one_pct_upload_fills_both_returns(store: Engine, store_settings: Settings) -> None:
    path = DEMO_DIR / "lewisham_pct" / "FY2009-10.csv"
    outcome = submit(store, store_settings, agency_code="lewisham_pct", filename=path.name, data=path.read_bytes())
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted"
    nis = _build(store, "nis", "FY2009-10")
    vital = _build(store, "vital_signs", "FY2009-10-Q4")
    # The same keyed figures: the council's annual NI 53 and NI 126, and the PCT's quarterly lines.
    assert _value(nis, "NI 53", "E09000023") is not None
    assert _value(nis, "NI 126", "E09000023") is not None
    assert _value(vital, "NI 53", "PCT-LEWISHAM") is not None
    assert _value(vital, "VS SMOKING", "PCT-LEWISHAM") == 531.0


def test_every_2009_10_demo_figure_is_cited_or_marked_illustrative() -> None:
    for agency in ("lewisham_council", "lewisham_pct"):
        with (DEMO_DIR / agency / "FY2009-10.csv").open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert rows
        for row in rows:
            note = row["note"].lower()
            assert "illustrative" in note or "published" in note, row
    quits = [
        int(r["value"])
        for r in csv.DictReader((DEMO_DIR / "lewisham_pct" / "FY2009-10.csv").open(encoding="utf-8"))
        if r["indicator"] == "health.smoking_quitters_4wk"
    ]
    assert sum(quits) == 1724  # Lewisham's published 2009/10 four-week quits
