"""NDTMS's ViewIt exports read through the published intake: the real files, checked cell by cell; a name that is
no area, a changed layout or a count NDTMS would not publish refused, and nothing of it stored."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from collectors.published.intake import import_release
from collectors.published.read import PublishedFormatError
from collectors.published.sources import SourceSpec, load_sources
from collectors.published.viewit import area_lookup, resolve_area, store_areas
from indicators.published import PublishedFigure, PublishedRelease
from indicators.store.models import Observation, Submission
from mappings.models import OrgUnit
from onereturn.settings import Settings

SOURCES = load_sources().sources
LA = SOURCES["ndtms_viewit_adults_la"]
ENGLAND = SOURCES["ndtms_viewit_adults_england"]
#: SHA-256 of NDTMS's exports as published (ONS's copies, named in collectors/published/files/README.md): the bundled
#: files must be those bytes, unedited.
PUBLISHED_SHA256 = {
    "ViewIt_Export_Data_LAs.csv": "a3673c462c7527a7f2ca668c148538e9dbd825b1c1929d05467f0948876be980",
    "ViewIt_Export_Data_England.csv": "2fdaa85098d589793eb0a83d71452f0dada388964d1996ed6f8af11e7cb946b6",
}
BARNET = "E09000003"
ROUNDED = (
    "rounded by Office for Health Improvement and Disparities (National Drug Treatment Monitoring System) to a "
    "multiple of 5"
)


def _rows(spec: SourceSpec) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(spec.bundled.read_text(encoding="utf-8-sig"))))


def _key(spec: SourceSpec, row: dict[str, str]) -> str:
    """The breakdown key the file's row gives, worked out here from the source's code lists."""
    fig = spec.figure[0]
    parts = []
    for column, split in fig.breakdown.items():
        code = split.codes[row[column]]
        if code:
            parts.append((split.dimension, f"{split.dimension}={code}"))
    return ";".join(p for _, p in sorted(parts))


def _import(store: Engine, settings: Settings, spec: SourceSpec, data: bytes | None = None) -> PublishedRelease:
    done = import_release(
        store, settings, spec, data or spec.bundled.read_bytes(), filename=spec.file, fetched_from="upload"
    )
    return done.release


def _count(session: Session, model: type) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.mark.parametrize("spec", [LA, ENGLAND], ids=lambda s: s.id)
def test_the_bundled_exports_are_ndtms_files_byte_for_byte(spec: SourceSpec) -> None:
    assert hashlib.sha256(spec.bundled.read_bytes()).hexdigest() == PUBLISHED_SHA256[spec.file]


def test_the_local_authority_export_is_stored_cell_by_cell(store: Engine, store_settings: Settings) -> None:
    release = _import(store, store_settings, LA)
    rows = _rows(LA)
    assert release.rows_read == len(rows) == 780
    assert release.skipped == 0
    assert release.figures == len(rows) * len(LA.figure)
    with Session(store) as session:
        stored = {
            (f.indicator_id, f.period, f.breakdown): f
            for f in session.execute(
                select(PublishedFigure).where(col(PublishedFigure.release_id) == release.id)
            ).scalars()
        }
        assert {f[0] for f in stored} == {fig.indicator for fig in LA.figure}
        assert {f.org_code for f in stored.values()} == {BARNET}
        checked = nulls = 0
        for number, row in enumerate(rows, start=2):
            if number % 7:
                continue  # a seventh of the rows, every figure of each
            period = f"FY{row['ReportingPeriod'][:4]}-{row['ReportingPeriod'][5:]}"
            for fig in LA.figure:
                found = stored[(fig.indicator, period, _key(LA, row))]
                raw = row[fig.value]
                assert found.file_row == number
                if raw == "NULL":
                    assert (found.value, found.symbol) == (None, "x")
                    nulls += 1
                else:
                    assert (found.value, found.symbol) == (float(raw), None)
                checked += 1
        assert checked > 2_500
        assert nulls > 20
        # Barnet, every sex, age and drug group, 2009/10 (SOURCE.md's table): 1,105 in treatment, rounded to fives.
        total = stored[("ndtms.adults_in_treatment", "FY2009-10", "")]
        assert (total.value, total.file_row) == (1105, rows.index(_total(rows, "2009/10")) + 2)
        assert stored[("ndtms.new_presentations", "FY2021-22", "")].value == 650
        assert stored[("ndtms.exits_successful_completion", "FY2021-22", "")].value == 290
        # A measure not yet published in 2021/22: NULL, no figure.
        assert stored[("ndtms.scnr_in_treatment", "FY2021-22", "")].symbol == "x"
        split = stored[("ndtms.adults_in_treatment", "FY2009-10", "age_group_ndtms=18-29;drug_group=opiate;sex=F")]
        assert split.value is not None
        # NDTMS is the designated source: the figures are the store's, as NDTMS's, needing no sign-off.
        obs = session.execute(
            select(Observation).where(
                Observation.indicator_id == "ndtms.adults_in_treatment",
                Observation.org_code == BARNET,
                Observation.period == "FY2009-10",
                Observation.breakdown == "",
                col(Observation.is_current),
            )
        ).scalar_one()
        assert obs.value == 1105
        # The rounding is NDTMS's, and the stored figure says so.
        assert obs.note == ROUNDED
        sub = session.get(Submission, release.submission_id)
        assert sub is not None
        assert sub.agency_code == "ohid_ndtms"


def _total(rows: list[dict[str, str]], period: str) -> dict[str, str]:
    return next(
        r
        for r in rows
        if r["ReportingPeriod"] == period
        and r["sex"].lower() == r["age_group"].lower() == r["drug_group"].lower() == "total"
    )


def test_the_england_export_is_stored_unrounded(store: Engine, store_settings: Settings) -> None:
    release = _import(store, store_settings, ENGLAND)
    rows = _rows(ENGLAND)
    assert release.figures == len(rows) == 780
    with Session(store) as session:
        found = {
            (f.period, f.breakdown): f
            for f in session.execute(
                select(PublishedFigure).where(col(PublishedFigure.release_id) == release.id)
            ).scalars()
        }
        for number, row in enumerate(rows, start=2):
            period = f"FY{row['ReportingPeriod_Data'][:4]}-{row['ReportingPeriod_Data'][5:]}"
            figure = found[(period, _key(ENGLAND, row))]
            assert (figure.org_code, figure.value, figure.file_row) == (
                "E92000001",
                float(row["Num_InTreatment_AllInTx"]),
                number,
            )
        # England, 2009/10 and 2021/22 (SOURCE.md): 311,668 and 289,215 adults in treatment.
        assert found[("FY2009-10", "")].value == 311668
        assert found[("FY2021-22", "")].value == 289215


def _refused(store: Engine, settings: Settings, spec: SourceSpec, text: str, match: str) -> None:
    with pytest.raises(PublishedFormatError, match=match):
        _import(store, settings, spec, text.encode())
    with Session(store) as session:
        assert _count(session, PublishedFigure) == 0
        assert _count(session, Observation) == 0
        assert _count(session, PublishedRelease) == 0
        statuses = list(session.execute(select(Submission.status)).scalars())
        assert statuses in ([], ["failed"])


def test_a_changed_layout_is_refused_naming_the_difference(store: Engine, store_settings: Settings) -> None:
    text = LA.bundled.read_text(encoding="utf-8-sig").replace("intreatment_allintx", "intreatment_all", 1)
    _refused(
        store,
        store_settings,
        LA,
        text,
        r"missing intreatment_allintx; 1 column\(s\) it does not declare \(column \d+\)",
    )


def test_an_area_name_no_area_bears_is_refused(store: Engine, store_settings: Settings) -> None:
    text = LA.bundled.read_text(encoding="utf-8-sig")
    lines = text.splitlines(keepends=True)
    lines[500] = lines[500].replace(",Barnet,", ",Barnett,", 1)
    _refused(store, store_settings, LA, "".join(lines), "row 501: its Area names no one area of the store's geography")


def test_a_name_two_areas_bear_is_refused_naming_both(store: Engine) -> None:
    # Buckinghamshire was a county until April 2020, and a unitary council since: in 2019/20 the name is one
    # area, the county; the calendar year 2020 spans both, so the name is two.
    with Session(store) as session:
        areas = store_areas(session)
    assert resolve_area(areas, "Buckinghamshire", "FY2019-20") == "E10000002"
    assert resolve_area(areas, "buckinghamshire ", "FY2021-22") == "E06000060"
    with pytest.raises(
        LookupError, match="names several areas in CY2020: E06000060 Buckinghamshire, E10000002 Buckinghamshire"
    ):
        resolve_area(areas, "Buckinghamshire", "CY2020")


def test_area_names_are_read_from_the_stores_geography(store: Engine, store_settings: Settings) -> None:
    """The store's geography is the one truth: a council the operator renames there is read by its new name, and
    its name in the files shipped with the code is then no area at all."""
    with Session(store) as session:
        barnet = session.get(OrgUnit, BARNET)
        assert barnet is not None
        barnet.name = "Barnet Borough"
        session.commit()
    lookup = area_lookup(store)
    assert lookup("barnet borough", "FY2023-24") == BARNET
    with pytest.raises(LookupError, match="names no area of the geography"):
        lookup("Barnet", "FY2023-24")
    _refused(store, store_settings, LA, LA.bundled.read_text(encoding="utf-8-sig"), "its Area names no one area")


def test_a_count_ndtms_would_have_rounded_is_refused(store: Engine, store_settings: Settings) -> None:
    text = LA.bundled.read_text(encoding="utf-8-sig")
    lines = text.splitlines(keepends=True)
    head, rest = lines[3].split(",", 5)[:5], lines[3].split(",", 5)[5]
    value, tail = rest.split(",", 1)
    lines[3] = ",".join([*head, str(int(value) + 2), tail])
    _refused(store, store_settings, LA, "".join(lines), "row 4: intreatment_allintx = '.*' is not a multiple of 5")


def test_a_drug_group_not_listed_is_refused(store: Engine, store_settings: Settings) -> None:
    text = LA.bundled.read_text(encoding="utf-8-sig").replace(",Alcohol only,", ",Alcohol,", 1)
    _refused(store, store_settings, LA, text, "drug_group 'Alcohol' is not one of the values")


def test_a_value_neither_a_number_nor_null_is_refused(store: Engine, store_settings: Settings) -> None:
    lines = LA.bundled.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    assert lines[-1].endswith(",NULL\n")  # 2021/22: the successful completion measure not yet published
    lines[-1] = lines[-1][: -len("NULL\n")] + "n/a\n"
    _refused(
        store, store_settings, LA, "".join(lines), "row 781: scnr_scrn_allintx = 'n/a' is neither a number nor one of"
    )


def test_the_partnerships_return_is_filled_from_ndtms_with_lineage_to_the_row(
    store: Engine, store_settings: Settings
) -> None:
    from datetime import UTC, datetime

    import polars as pl

    from exports.build import Builder, return_with_fields

    release = _import(store, store_settings, LA)
    row = _total(_rows(LA), "2009/10")
    with Session(store) as session:
        ret, fields = return_with_fields(session, "ndtms_viewit_la")
        built = Builder(session, "FY2009-10", ret.period_type).build(ret, fields, datetime(2026, 1, 1, tzinfo=UTC))
    cells = built.cells.filter((pl.col("org_code") == BARNET) & (pl.col("breakdown") == ""))
    in_treatment = cells.filter(pl.col("indicator_id") == "ndtms.adults_in_treatment").row(0, named=True)
    assert (in_treatment["status"], in_treatment["value"]) == ("present", 1105.0)
    lineage = built.released_rows.filter(pl.col("cell_id") == in_treatment["cell_id"]).row(0, named=True)
    assert lineage["agency_code"] == "ohid_ndtms"
    assert lineage["filename"] == LA.file
    assert lineage["file_row"] == _rows(LA).index(row) + 2
    assert lineage["submission_id"] == release.submission_id
    # The PHOF C19 measure, worked out from NDTMS's own counts: 170 of 1,060 (2009/10, Barnet).
    completion = cells.filter(pl.col("indicator_id") == "ndtms.successful_completion_pct").row(0, named=True)
    assert completion["value"] == pytest.approx(round(100 * 170 / 1060, 1))  # to its one decimal place


def test_no_treatment_provider_keys_what_ndtms_publishes(store: Engine) -> None:
    from exports.burden.report import burden

    with Session(store) as session:
        now = {a.agency_code: a for a in burden(session, "FY2024-25").agencies}
        before = {a.agency_code: a for a in burden(session, "FY2023-24").agencies}
    # The service's own monthly return is no longer collected from April 2024; its history stays.
    assert "lewisham_drugs" not in now
    assert before["lewisham_drugs"].keyed_cells_without_service > 0
    # The partnership's return is all NDTMS's figures: cells it needs, none of them keyed by anybody local.
    partnership = now["barnet_dap"]
    assert partnership.cells_without_service > 0
    assert (partnership.keyed_cells_without_service, partnership.figures_entered) == (0, 0)


def test_this_years_empty_cells_say_which_publication_fills_them(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    """NDTMS's files stop at 2021/22 (OHID's unmet-need excerpts at 2020/21), so FY2025-26's return is empty: each
    cell says it is not yet published, by whom and in which publication, and that no stored source gives the date
    the publisher next publishes."""
    for spec in (LA, SOURCES["fingertips_unmet_need_opiates"], SOURCES["fingertips_unmet_need_alcohol"]):
        _import(store, store_settings, spec)
    officer = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
    found = store_client.get("/api/returns/ndtms_viewit_la/FY2025-26/completeness", headers=officer)
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["by_status"].get("present", 0) == 0
    reasons = {c["field_code"]: c["reason"] for c in body["not_present"] if c["org_code"] == BARNET}
    assert len(reasons) == 57
    ndtms = (
        "not yet published: Office for Health Improvement and Disparities (National Drug Treatment Monitoring "
        "System) gives it in NDTMS.net ViewIt's adult download for every local authority "
        "(https://www.ndtms.net/ViewIt/Adult, source ndtms_viewit_adults_la), read when NDTMS publishes the year; no "
        "stored source says when it next publishes"
    )
    assert reasons["ADULTS_IN_TREATMENT"] == ndtms
    fingertips = (
        "not yet published: Office for Health Improvement and Disparities (Fingertips) publishes it (source "
        "fingertips_unmet_need_opiates); no stored source says when it next publishes"
    )
    assert reasons["OCU_NOT_IN_TREATMENT_PCT"].startswith(fingertips)
    assert all(r.startswith("not yet published: ") for r in reasons.values()), reasons
    # A keyed return's empty cell still names the body that owes it.
    notts = store_client.get("/api/returns/county_cyp_core/FY2025-26-Q1/completeness", headers=officer).json()
    assert any(c["reason"].startswith("not yet submitted by") for c in notts["not_present"])
