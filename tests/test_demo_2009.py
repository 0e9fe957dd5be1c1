"""The 2009-10 case: Lewisham council's one upload fills both its National Indicator return and Lewisham
PCT's NHS Vital Signs return; every demo figure says where it comes from or that it is illustrative."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session

from cli.demo import DEMO_DIR
from collectors.figures.service import submit
from exports.build import Builder, return_with_fields
from exports.built import BuiltReturn
from exports.burden.report import burden
from mappings.catalogue import Catalogue
from onereturn.settings import Settings

#: The counts both regimes asked for, keyed once by the council for the two returns.
SHARED = {
    "health.smoking_quitters_4wk",
    "health.infants_due_6_8wk_check",
    "health.infants_breastfed_6_8wk",
    "health.maternity_assessments",
    "health.maternity_assessed_by_12wk",
}


def _build(engine: Engine, return_id: str, period: str) -> BuiltReturn:
    with Session(engine) as session:
        ret, fields = return_with_fields(session, return_id)
        return Builder(session, period, ret.period_type).build(ret, fields, datetime(2026, 1, 1, tzinfo=UTC))


def _cell(built: BuiltReturn, field: str, org: str) -> dict[str, object]:
    rows = built.cells.filter((built.cells["field_code"] == field) & (built.cells["org_code"] == org))
    assert rows.height == 1, (field, org)
    return rows.row(0, named=True)


def _send(engine: Engine, settings: Settings, agency: str) -> None:
    path = DEMO_DIR / agency / "FY2009-10.csv"
    outcome = submit(engine, settings, agency_code=agency, filename=path.name, data=path.read_bytes())
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted", outcome.submission.message


def _rows(agency: str) -> list[dict[str, str]]:
    with (DEMO_DIR / agency / "FY2009-10.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_one_council_upload_fills_the_ni_and_the_vital_signs_returns(store: Engine, store_settings: Settings) -> None:
    _send(store, store_settings, "lewisham_council")
    nis = _build(store, "nis", "FY2009-10")
    vital = _build(store, "vital_signs", "FY2009-10-Q4")
    # The council's annual NI 53 and NI 126, summed from its quarterly counts ...
    assert _cell(nis, "NI 53", "E09000023")["value"] == round(
        100 * (720 + 748 + 702 + 719) / (1150 + 1180 + 1120 + 1140), 1
    )
    assert _cell(nis, "NI 126", "E09000023")["value"] == round(
        100 * (940 + 972 + 940 + 964) / (1190 + 1215 + 1160 + 1175), 1
    )
    # ... and the PCT's quarterly Vital Signs lines, from the same upload, for the PCT's area.
    assert _cell(vital, "VS SMOKING", "PCT-LEWISHAM")["value"] == 531.0
    assert _cell(vital, "NI 53", "PCT-LEWISHAM")["value"] == round(100 * 719 / 1140, 1)
    assert _cell(vital, "NI 126", "PCT-LEWISHAM")["value"] == round(100 * 964 / 1175, 1)
    lineage = vital.lineage.filter(vital.lineage["field_code"] == "VS SMOKING")
    assert set(lineage["agency_code"].to_list()) == {"lewisham_council"}
    # A Vital Signs line measured another way is not filled from the council's figures; it says so.
    ni39 = _cell(vital, "NI 39", "PCT-LEWISHAM")
    assert (ni39["status"], ni39["value"]) == ("different_method", None)
    assert "left to the submitting body's own figure" in str(ni39["reason"])
    # What only Vital Signs asked for waits for the PCT's own upload, and is filled once it comes.
    coverage = _cell(vital, "VS BF COVERAGE", "PCT-LEWISHAM")
    assert coverage["status"] == "missing"
    assert "Lewisham PCT" in str(coverage["reason"]), coverage["reason"]  # rolled up from the borough it covered
    _send(store, store_settings, "lewisham_pct")
    vital = _build(store, "vital_signs", "FY2009-10-Q4")
    assert _cell(vital, "VS BF COVERAGE", "PCT-LEWISHAM")["value"] == round(100 * 1032 / 1140, 1)
    assert _cell(vital, "VS SMOKING", "PCT-LEWISHAM")["value"] == 531.0


def test_the_shared_figures_are_in_the_council_upload_only() -> None:
    council = {r["indicator"] for r in _rows("lewisham_council")}
    pct = {r["indicator"] for r in _rows("lewisham_pct")}
    assert council >= SHARED
    assert not pct & SHARED
    assert pct == {"health.infants_breastfeeding_status_recorded"}


def test_the_burden_report_counts_the_figures_once_sent_twice(store: Engine) -> None:
    with Session(store) as session:
        report = burden(session, "FY2009-10")
    twice = {t.indicator_id: t for t in report.sent_twice}
    assert set(twice) == SHARED
    for t in twice.values():
        assert t.keyed_by == "lewisham_council"
        assert t.needed_by == {"lewisham_council": ["nis"], "lewisham_pct": ["vital_signs"]}
        assert t.figures == 4  # one a quarter
    agencies = {a.agency_code: a for a in report.agencies}
    # With the service the PCT keys only what Vital Signs alone asked for (status recorded, a quarter
    # each); the counts it used to key again for Vital Signs it no longer keys: they are its saving.
    pct = agencies["lewisham_pct"]
    assert pct.figures_entered == 4
    assert 0 < pct.saved == pct.keyed_cells_without_service


def test_every_2009_10_demo_figure_is_cited_or_marked_illustrative() -> None:
    for agency in ("lewisham_council", "lewisham_pct"):
        rows = _rows(agency)
        assert rows
        for row in rows:
            note = row["note"].lower()
            assert "illustrative" in note or "published" in note, row
    quits = [int(r["value"]) for r in _rows("lewisham_council") if r["indicator"] == "health.smoking_quitters_4wk"]
    assert sum(quits) == 1724  # Lewisham's published 2009/10 four-week quits


def test_vital_signs_lines_filled_from_the_council_cite_both_definitions(bundled_catalogue: Catalogue) -> None:
    registry = bundled_catalogue.indicators.sources
    inds = bundled_catalogue.indicators.indicators

    def council_keyed(ind_id: str) -> bool:
        spec = inds[ind_id].spec
        parts = [p for p in (spec.numerator, spec.denominator) if p] if spec.formula else [ind_id]
        return any(inds[p].spec.source_body == "local_authority" for p in parts)

    from_council = set()
    for f in bundled_catalogue.fields["vital_signs"]:
        spec = f.spec
        public = {c.ref for c in spec.sources if not registry[c.ref].spec.own_reading}
        if spec.relation == "different_method":
            assert "PCT's own upload" in spec.note, spec.code
        elif council_keyed(spec.indicator):
            from_council.add(spec.code)
            # The Vital Signs side rests on a published account, not only on the NI Handbook ...
            assert public - {"clg_ni_handbook_2008"}, spec.code
            if spec.code.startswith("NI "):  # ... and the NI side on the Handbook.
                assert "clg_ni_handbook_2008" in public, spec.code
    assert from_council == {"NI 53", "VS BF COVERAGE", "VS SMOKING", "NI 126"}
