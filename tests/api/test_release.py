"""What is released: no suppressed value reaches a regulator by any route; returns exist only in
their periods; they cover the orgs collected for, spell one period and show GSS symbols."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, update
from sqlmodel import Session, select

from exports.disclosure import SUPPRESSED_LINEAGE
from exports.models import ExportSnapshot, ReturnBuild
from indicators.store.models import Observation
from mappings.models import Return
from onereturn.settings import Settings
from tests.helpers import OFFICER, OHID, assert_canonical_error, upload
from tests.signoffs import sign_off_everything

DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
PCT = {"X-API-Key": "demo-lewisham-pct-6b1e04c9"}
NOTTS_NAME = "Nottinghamshire County Council, Children and Young People's Services"


def _suppressed_ndtms(store: Engine, settings: Settings) -> None:
    upload(
        store,
        settings,
        "lewisham_drugs",
        "drugs.new_presentations,PRV-LEW-01,2024-03,,20,,,,",
        "drugs.new_presentations,PRV-LEW-01,2024-03,sex=F,3,,,,",
        "drugs.new_presentations,PRV-LEW-01,2024-03,sex=M,17,,,,",
    )


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def test_a_regulator_never_gets_a_suppressed_value(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    _suppressed_ndtms(store, store_settings)
    sign_off_everything(store)
    got = store_client.get("/api/returns/ndtms_adult_monthly/2024-03.csv", headers=OHID)
    assert got.status_code == 200
    snapshot_id = got.headers["X-Snapshot-Id"]
    rows = {
        (r["field_code"], r["breakdown"]): r
        for r in _csv_rows(got.content)
        if r["indicator_id"] == "drugs.new_presentations"
    }
    female = next(r for (_, b), r in rows.items() if b == "sex=F")
    male = next(r for (_, b), r in rows.items() if b == "sex=M")
    assert (female["value"], female["status"]) == ("c", "suppressed")
    assert (male["value"], male["status"]) == ("c", "suppressed")
    # The secondary cell's reason does not point at the primary one.
    assert "sex=F" not in male["reason"]
    assert "|" not in male["reason"]
    cell = f"{female['field_code']}|PRV-LEW-01|sex=F"

    # Lineage: the regulator learns the cell is suppressed, nothing more.
    lineage = store_client.get(f"/api/exports/{snapshot_id}/lineage", params={"cell": cell}, headers=OHID).json()
    assert lineage["items"] == [
        {
            "cell_id": cell,
            "field_code": female["field_code"],
            "org_code": "PRV-LEW-01",
            "status": "suppressed",
            "reason": lineage["items"][0]["reason"],
        }
    ]
    assert "not released" in lineage["items"][0]["reason"]
    everything = store_client.get(f"/api/exports/{snapshot_id}/lineage", headers=OHID).json()["items"]
    assert all("value" not in row for row in everything)
    assert not any(row.get("observation_id") for row in everything if row["cell_id"] == cell)
    # The officer still traces the cell to its figure.
    officer = store_client.get(f"/api/exports/{snapshot_id}/lineage", params={"cell": cell}, headers=OFFICER).json()
    assert [row["value"] for row in officer["items"]] == [3.0]

    # Stored figures are not released to a regulator at all.
    figures = store_client.get("/api/figures", params={"indicator": "drugs.new_presentations"}, headers=OHID)
    assert figures.status_code == 403
    assert_canonical_error(figures.json(), 403)
    assert "3" not in figures.json()["error"]

    # Every format: the suppressed cells carry no value and no figure behind them.
    doc = json.loads(store_client.get("/api/returns/ndtms_adult_monthly/2024-03.json", headers=OHID).content)
    hidden = [c for c in doc["cells"] if c["status"] == "suppressed"]
    assert {c["breakdown"] for c in hidden} == {"sex=F", "sex=M"}
    assert all(c["value"] is None and c["provenance"] == [] for c in hidden)
    sdmx = _csv_rows(store_client.get("/api/returns/ndtms_adult_monthly/2024-03.sdmx.csv", headers=OHID).content)
    for row in sdmx:
        if row["CONF_STATUS"] == "C":
            assert (row["OBS_VALUE"], row["PROVENANCE"]) == ("NaN", "")
    xlsx = store_client.get("/api/returns/ndtms_adult_monthly/2024-03.xlsx", headers=OHID).content
    lineage_sheet = pl.read_excel(io.BytesIO(xlsx), sheet_name="Lineage", infer_schema_length=0)
    # The workbook's lineage lists the cell only to say it is suppressed, with no figure behind it.
    sheet_row = lineage_sheet.filter(pl.col("Cell id") == cell).to_dicts()
    assert [(r["Figures"], r["Provenance"], r["Stored figures"]) for r in sheet_row] == [
        ("0", SUPPRESSED_LINEAGE, None)
    ]
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        assert not any(b"=3" in z.read(n) for n in z.namelist())


def test_periods_outside_a_returns_validity_are_refused_and_nothing_is_stored(
    store_client: TestClient, store: Engine
) -> None:
    def stored() -> int:
        with Session(store) as session:
            return int(session.execute(select(func.count()).select_from(ExportSnapshot)).scalar_one())

    future = store_client.get("/api/returns/dfe_ssda903/FY2030-31.xlsx", headers=DFE)
    assert future.status_code == 422
    assert_canonical_error(future.json(), 422)
    assert "after today" in future.json()["error"]
    ended = store_client.get("/api/returns/nis/FY2024-25.csv", headers=OFFICER)
    assert ended.status_code == 404
    assert "not in force in FY2024-25" in ended.json()["error"]
    assert "2011-03-31" in ended.json()["error"]
    crc = store_client.get("/api/returns/crc/FY2024-25/completeness", headers=OFFICER)
    assert crc.status_code == 404
    assert stored() == 0
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(ReturnBuild)).scalar_one() == 0
    assert store_client.get("/api/returns/nis/FY2009-10.csv", headers=OFFICER).status_code == 200
    assert stored() == 1


def test_a_return_covers_the_orgs_collected_for_with_one_period_and_gss_symbols(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,901,,,,")
    sign_off_everything(store)
    got = store_client.get("/api/returns/dfe_ssda903/FY2024-25.csv", headers=DFE)
    rows = _csv_rows(got.content)
    # Nottinghamshire, Lewisham and the demo's synthetic council (on its own code, not Derbyshire's) submit it; not 153
    # authorities.
    assert {r["org_code"] for r in rows} == {"E10000024", "E09000023", "SYNTHETIC-COUNTY"}
    assert {r["period"] for r in rows} == {"FY2024-25"}
    lac = next(
        r for r in rows if r["indicator_id"] == "cyp.lac_count" and r["org_code"] == "E10000024" and not r["breakdown"]
    )
    assert (lac["value"], lac["reference_date"]) == ("901", "2025-03-31")
    missing = [r for r in rows if r["status"] == "missing"]
    assert missing
    assert {r["value"] for r in missing} == {".."}
    notts_missing = {r["reason"] for r in missing if r["org_code"] == "E10000024"}
    assert any(reason.startswith(f"not yet submitted by {NOTTS_NAME}") for reason in notts_missing)
    assert not any("notts_cyp" in r["reason"] or "owed by" in r["reason"] for r in rows)

    sdmx = _csv_rows(store_client.get("/api/returns/dfe_ssda903/FY2024-25.sdmx.csv", headers=DFE).content)
    assert {r["TIME_PERIOD"] for r in sdmx} == {"2024-04-01/P1Y"}
    assert "2025-03-31" in {r["REF_DATE"] for r in sdmx}

    # A return whose layout needs every area says so in its file.
    with Session(store) as session:
        ret = session.get(Return, "dfe_ssda903")
        assert ret is not None
        ret.orgs = ["*"]
        session.add(ret)
        session.commit()
    with Session(store) as session:
        from datetime import UTC, datetime

        from exports.build import Builder, return_with_fields

        ret, fields = return_with_fields(session, "dfe_ssda903")
        every = Builder(session, "FY2024-25", ret.period_type).build(ret, fields, datetime(2026, 1, 1, tzinfo=UTC))
    assert every.cells["org_code"].n_unique() > 100


def test_sdmx_ids_keep_the_hyphen(store_client: TestClient, store: Engine, store_settings: Settings) -> None:
    _suppressed_ndtms(store, store_settings)
    sdmx = _csv_rows(store_client.get("/api/returns/ndtms_adult_monthly/2024-03.sdmx.csv", headers=OHID).content)
    assert {r["REF_AREA"] for r in sdmx} == {"PRV-LEW-01"}
    assert {r["TIME_PERIOD"] for r in sdmx} == {"2024-03"}


def test_completeness_names_fields_and_describes_each_symbol(store_client: TestClient) -> None:
    body = store_client.get("/api/returns/county_cyp_core/FY2024-25-Q4/completeness", headers=OFFICER).json()
    first = body["not_present"][0]
    assert first["field_label"]
    assert first["field_label"] != first["field_code"]
    assert first["symbol"] == ".."
    assert first["meaning"].startswith("not yet available")
    assert body["symbols"] == {"..": first["meaning"]}


def test_burden_is_true_per_period(store_client: TestClient) -> None:
    old = store_client.get("/api/burden", params={"period": "FY2009-10"}, headers=OFFICER).json()
    new = store_client.get("/api/burden", params={"period": "FY2024-25"}, headers=OFFICER).json()
    assert old["totals"] != new["totals"]
    old_agencies = {a["agency_code"]: a for a in old["agencies"]}
    new_agencies = {a["agency_code"]: a for a in new["agencies"]}
    assert old_agencies["lewisham_pct"]["returns"] == ["vital_signs"]
    assert "lewisham_pct" not in new_agencies  # NHS Vital Signs ended in 2011
    # Figures the council keys once for its National Indicators are not keyed again by the PCT for Vital
    # Signs (the Vital Signs lines that are another figure, an annual NI, are not counted as the same).
    council = old_agencies["lewisham_council"]
    assert 0 < council["saved"] < council["keyed_cells_without_service"]
    assert old_agencies["lewisham_pct"]["saved"] <= old_agencies["lewisham_pct"]["keyed_cells_without_service"]
    assert "nis" in old_agencies["lewisham_council"]["returns"]
    assert "nis" not in new_agencies["lewisham_council"]["returns"]
    for agency in (*old["agencies"], *new["agencies"]):
        # Hours saved count only figures keyed once instead of several times, never derived ones.
        assert agency["hours_saved"] == pytest.approx(agency["saved"] * 3 / 60, abs=0.05)
        assert agency["saved"] <= agency["keyed_cells_without_service"]
        # Every cell is keyed, derived, filled by a publisher's own figure (NDTMS's counts), or a publisher's not yet
        # filled (a year NDTMS has not published): the last two keyed by nobody.
        assert agency["cells_without_service"] == (
            agency["keyed_cells_without_service"]
            + agency["derived_by_service"]
            + agency["from_publishers"]
            + agency["awaiting_publishers"]
        )


def test_templates_ask_only_for_returns_in_force(store_client: TestClient) -> None:
    now = store_client.get(
        "/api/agencies/lewisham_pct/template", params={"period": "FY2025-26-Q1", "format": "csv"}, headers=PCT
    )
    then = store_client.get(
        "/api/agencies/lewisham_pct/template", params={"period": "FY2009-10-Q1", "format": "csv"}, headers=PCT
    )
    assert then.status_code == 200
    assert len(_csv_rows(then.content)) > 0
    # NHS Vital Signs ended in 2011: the commissioner owes nothing for it in 2025.
    assert now.status_code == 200
    assert _csv_rows(now.content) == []


def test_calendar_events_have_words_start_and_end(store_client: TestClient) -> None:
    body = store_client.get("/api/calendar", params={"from": "2025-04-01", "to": "2025-06-30"}, headers=OFFICER).json()
    assert body["total"] > 0
    for event in body["items"]:
        assert event["return_id"] not in event["title"]
        assert event["end"] > event["start"]
    titles = {e["title"] for e in body["items"]}
    assert (
        "Children looked after by local authorities in England (SSDA903), 2024 to 2025 financial year: agencies' deadline"
        in titles
    )
    ics = store_client.get("/api/calendar.ics", params={"from": "2025-04-01", "to": "2025-06-30"}).text
    assert "DTEND" in ics
    assert "county_cyp_core FY" not in ics


def test_provisional_and_low_reliability_figures_are_marked(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    upload(
        store,
        store_settings,
        "notts_cyp",
        "cyp.lac_count,E10000024,2025-03-31,,901,,,provisional,",
        "cyp.cpp_count,E10000024,2025-03-31,,301 u,,,,",
    )
    sign_off_everything(store)
    rows = _csv_rows(store_client.get("/api/returns/dfe_ssda903/FY2024-25.csv", headers=DFE).content)
    flags = {r["indicator_id"]: r["flag"] for r in rows if r["org_code"] == "E10000024" and r["status"] == "present"}
    assert flags["cyp.lac_count"] == "p"
    xlsx = store_client.get("/api/returns/dfe_ssda903/FY2024-25.xlsx", headers=DFE).content
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        styles = z.read("xl/styles.xml").decode()
    assert "&quot; p&quot;" in styles or '" p"' in styles
    cin = _csv_rows(store_client.get("/api/returns/dfe_cin_census/FY2024-25.csv", headers=DFE).content)
    cpp = [
        r
        for r in cin
        if r["indicator_id"] == "cyp.cpp_count" and r["org_code"] == "E10000024" and r["status"] == "present"
    ]
    assert cpp
    assert {r["flag"] for r in cpp} == {"u"}


def test_lineage_says_a_cell_waits_for_its_sign_off_in_every_format_not_that_it_is_suppressed(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,4321,,,,")
    upload(store, store_settings, "lewisham_council", "cyp.lac_count,E09000023,2025-03-31,,480,,,,")
    sign_off_everything(store)
    # A revision reopens Nottinghamshire's sign-off only: its cell waits, Lewisham's is released.
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,4322,,,,")
    cell, released = "EPI.CLA_31MAR|E10000024|", "EPI.CLA_31MAR|E09000023|"
    waiting = f"not yet signed off by {NOTTS_NAME}"

    got = store_client.get("/api/returns/dfe_ssda903/FY2024-25.xlsx", headers=DFE)
    assert got.status_code == 200
    lineage = store_client.get(
        f"/api/exports/{got.headers['X-Snapshot-Id']}/lineage", params={"field": "EPI.CLA_31MAR"}, headers=DFE
    ).json()["items"]
    mine = [row for row in lineage if row["cell_id"] == cell]
    assert [(row["status"], row["reason"].startswith(waiting)) for row in mine] == [("unsigned", True)]
    assert "suppress" not in mine[0]["reason"]
    assert not any(row.get("observation_id") for row in mine)
    assert [row["agency_code"] for row in lineage if row["cell_id"] == released] == ["lewisham_council"]
    # The officer still traces the waiting cell to the revised figure.
    officer_id = store_client.get("/api/returns/dfe_ssda903/FY2024-25.xlsx", headers=OFFICER).headers["X-Snapshot-Id"]
    officer = store_client.get(f"/api/exports/{officer_id}/lineage", params={"cell": cell}, headers=OFFICER).json()[
        "items"
    ]
    assert [row["value"] for row in officer] == [4322.0]

    sheet = pl.read_excel(io.BytesIO(got.content), sheet_name="Lineage", infer_schema_length=0)
    row = sheet.filter(pl.col("Cell id") == cell).to_dicts()
    assert len(row) == 1
    assert row[0]["Provenance"].startswith(waiting)
    assert "suppress" not in row[0]["Provenance"]
    assert row[0]["Stored figures"] is None
    with zipfile.ZipFile(io.BytesIO(got.content)) as z:
        assert not any(b"4322" in z.read(n) for n in z.namelist())

    doc = json.loads(store_client.get("/api/returns/dfe_ssda903/FY2024-25.json", headers=DFE).content)
    item = next(c for c in doc["cells"] if c["cell_id"] == cell)
    assert (item["status"], item["value"], item["provenance"]) == ("unsigned", None, [])
    assert item["reason"].startswith(waiting)
    sdmx = _csv_rows(store_client.get("/api/returns/dfe_ssda903/FY2024-25.sdmx.csv", headers=DFE).content)
    held = [r for r in sdmx if r["REF_AREA"] == "E10000024" and r["CONF_STATUS"] == "N"]
    assert held
    assert all(r["PROVENANCE"] == "" and r["OBS_STATUS"] != "Q" for r in held)


def test_the_changes_since_a_pull_say_when_each_cell_was_signed_off_again(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,901,,,,")
    sign_off_everything(store)
    pulled = store_client.get("/api/returns/dfe_ssda903/FY2024-25.csv", headers=DFE)
    assert pulled.status_code == 200
    since = {"since": datetime.now(UTC).isoformat()}
    path = "/api/returns/dfe_ssda903/FY2024-25/changes"
    assert store_client.get(path, params=since, headers=DFE).json()["cells"] == []

    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,902,,,,")
    waiting = store_client.get(path, params=since, headers=DFE).json()
    cell = next(c for c in waiting["cells"] if c["cell_id"] == "EPI.CLA_31MAR|E10000024|")
    assert (cell["status"], cell["display"], cell["signed_off_at"], cell["signed_off_by"]) == (
        "unsigned",
        "...",
        None,
        [],
    )
    assert cell["reason"].startswith(f"not yet signed off by {NOTTS_NAME}")

    before = datetime.now(UTC)
    sign_off_everything(store)
    signed = store_client.get(path, params=since, headers=DFE).json()
    cell = next(c for c in signed["cells"] if c["cell_id"] == "EPI.CLA_31MAR|E10000024|")
    assert (cell["status"], cell["display"], cell["signed_off_by"]) == ("present", "902", [NOTTS_NAME])
    assert datetime.fromisoformat(cell["signed_off_at"]) >= before
    # The same cells as the file of what changed, which a regulator's pull with updated_after gives.
    only = store_client.get(
        "/api/returns/dfe_ssda903/FY2024-25.csv", params={"updated_after": since["since"]}, headers=DFE
    )
    assert int(only.headers["X-Changed-Cells"]) == len(signed["cells"])
    bad = store_client.get(path, params={"since": "yesterday"}, headers=DFE)
    assert bad.status_code == 422
    assert_canonical_error(bad.json(), 422)


def test_the_standings_cache_tells_a_reused_last_id_from_the_row_it_replaced(
    store: Engine, store_settings: Settings
) -> None:
    """SQLite gives a rolled-back or deleted last row's id to the next row: same last id, same count, another figure."""
    from mappings.signoff.lineage import store_key as _store_key

    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,4321,,,,")
    with Session(store) as session:
        before = _store_key(session)
        last = session.execute(select(func.max(Observation.id))).scalar_one()
        # Stands for another figure recorded later under the same id (the row count and last id unchanged).
        session.execute(
            update(Observation).where(Observation.id == last).values(recorded_at=datetime(2099, 1, 1, tzinfo=UTC))
        )
        session.flush()
        assert _store_key(session) != before
        session.rollback()


def test_the_store_key_is_read_once_a_transaction_and_again_after_a_figure_is_stored(
    store: Engine, store_settings: Settings
) -> None:
    """A page asks for the key many times: one read of the figures' count serves a transaction that only reads."""
    from sqlalchemy import event

    from mappings.signoff.lineage import store_key as _store_key

    counted: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "count(observation.id)" in statement.lower():
            counted.append(statement)

    event.listen(store, "before_cursor_execute", count)
    try:
        with Session(store) as session:
            first = _store_key(session)
            assert _store_key(session) == first
            assert len(counted) == 1
        upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,4321,,,,")
        with Session(store) as session:
            # The next transaction reads it again, and sees the figure stored since.
            assert _store_key(session) != first
            assert len(counted) == 2
    finally:
        event.remove(store, "before_cursor_execute", count)
