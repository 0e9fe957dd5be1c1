"""The SSDA903 made from an extract written independently of the product's synthetic one (professional ids that are
the case system's own, registration numbers beside them, a parent team, V3 and V4 children, children looked after for
12 months with health rows) is one DfE's rules accept, and carries no DfE finding the council's own files for the same
children lack: where it differs from them, it is in an item the extract does not hold, and the answer names it."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import polars as pl
import pytest
from fastapi.testclient import TestClient

from collectors.records.contract import Findings, run_rules
from collectors.records.kept import SSDA903_FILE
from collectors.records.ssda903_figures import derive_ssda903
from collectors.records.ssda903_tables import read_csv_tables
from collectors.ssd.service import Made, make_returns
from tests.collectors.records.samples import upload
from tests.collectors.ssd.independent_extract import NOT_HELD, TABLES, direct_files, independent_extract
from tests.collectors.ssd.ssd_samples import extract_zip

LA = "E10000024"
COUNTY_KEY = "demo-synthetic-county-8e3d5a17c4"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    path = independent_extract(tmp_path_factory.mktemp("independent"))
    return make_returns(path, path.name, "2024-25", "891", max_unpacked=10 * 1024 * 1024)


@pytest.fixture(scope="module")
def folders(made: Made, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    ours = tmp_path_factory.mktemp("made")
    with zipfile.ZipFile(io.BytesIO(dict(made.files)[SSDA903_FILE])) as archive:
        archive.extractall(ours)
    return ours, direct_files(tmp_path_factory.mktemp("direct"))


def _rules(folder: Path) -> Findings:
    return run_rules("903", "lac2024_25", [(p.name, p) for p in sorted(folder.iterdir())], local_authority=LA)


def _said(found: Findings) -> set[tuple[str, str | None]]:
    return {(f.rule, f.child) for f in found.findings if f.severity == "error"}


def test_dfe_rules_accept_the_903_made_from_the_independent_extract(folders: tuple[Path, Path]) -> None:
    found = _rules(folders[0])
    assert _said(found) == set(), sorted({(f.rule, f.child, f.message) for f in found.findings})
    assert found.rules_run > 200


def test_the_files_made_carry_no_finding_the_councils_own_lack(folders: tuple[Path, Path]) -> None:
    ours, theirs = (_rules(f) for f in folders)
    assert _said(theirs) == set(), sorted({(f.rule, f.child, f.message) for f in theirs.findings})
    assert _said(ours) <= _said(theirs)


def test_the_903_made_is_the_councils_own_bar_what_the_extract_does_not_hold(
    made: Made, folders: tuple[Path, Path]
) -> None:
    ours, theirs = (read_csv_tables(f) for f in folders)
    for name, frame in theirs.items():
        mine = ours[name].drop("_row", strict=False)
        frame = frame.drop("_row", strict=False)
        held = [c for c in frame.columns if c not in NOT_HELD.get(name, ())]
        assert mine.select(held).sort(held).equals(frame.select(held).sort(held)), (name, mine, frame)
    # What the extract lacks is named in the answer, with what was written in its place.
    assert any("INTERVENTION_OFFERED" in n and "written 0" in n for n in made.notes), made.notes
    assert any("SW_ID XX" in n and "prof_social_worker_registration_no" in n for n in made.notes), made.notes


def test_sw_id_is_the_registration_number_and_only_the_reporting_periods_episodes(folders: tuple[Path, Path]) -> None:
    workers = read_csv_tables(folders[0])["SWEpisodes"]
    # Never the case system's professional id alone; the worker without a number is XX and that id, four characters
    # at least (DfE's 2025-26 SW02STG1 refuses a shorter one); I1 ended before 1 April 2023.
    assert sorted(set(workers["SW_ID"])) == ["SW445566", "SW778899", "XX4713"]
    assert not workers.filter(pl.col("SW_DEC") == "31/01/2023").height


def test_reason_for_placement_change_and_mother_as_dfe_expects(folders: tuple[Path, Path]) -> None:
    tables = read_csv_tables(folders[0])
    episodes = tables["Episodes"].filter(pl.col("CHILD") == "100201")
    # Ended by a change of legal status (the next RNE L): no reason; ended by a move (the next RNE P): the reason.
    assert episodes["REASON_PLACE_CHANGE"].to_list()[:2] == [None, "CARPL"]
    header = tables["Header"]
    short = header.filter(pl.col("CHILD").is_in(["100202", "100203"]))
    assert short["MOTHER"].is_null().all()
    assert not tables["Reviews"].filter(pl.col("CHILD") == "100202").height
    assert header.filter(pl.col("CHILD") == "100205")["MOTHER"].to_list() == ["1"]


def test_oc2_is_made_for_the_children_looked_after_12_months(folders: tuple[Path, Path]) -> None:
    oc2 = read_csv_tables(folders[0])["OC2"].sort("CHILD")
    assert oc2["CHILD"].to_list() == ["100201", "100204"]
    first, second = oc2.row(0, named=True), oc2.row(1, named=True)
    # The dental check of 2023 is not this year's; the refused one is not had; the 2023 conviction is last year's.
    assert (first["TEETH_CHECK"], first["HEALTH_ASSESSMENT"], first["SDQ_SCORE"], first["CONVICTED"]) == (
        "1", "1", "14", "0"
    )  # fmt: skip
    assert (second["TEETH_CHECK"], second["HEALTH_CHECK"], second["IMMUNISATIONS"]) == ("0", "1", "0")


def test_the_looked_after_health_figures_come_from_the_extract(folders: tuple[Path, Path]) -> None:
    derived = derive_ssda903(read_csv_tables(folders[0]), year_ending=2025, population_0_17=1e5)
    for figure in ("cyp.lac_health_assessment", "cyp.lac_teeth_checked", "cyp.lac_immunisations",
                   "cyp.lac_substance_misuse", "cyp.lac_convicted", "cyp.lac_sdq_mean"):  # fmt: skip
        assert figure in derived.figures, (figure, derived.left_to_template.get(figure))
    assert derived.figures["cyp.lac_teeth_checked"].value == pytest.approx(50.0)
    assert derived.figures["cyp.lac_sdq_mean"].value == pytest.approx(14.0)


def test_through_the_api_the_903_made_is_accepted(store_client: TestClient, tmp_path: Path) -> None:
    """A new user's way: the extract uploaded as the council; the 903 made passes DfE's rules and is stored."""
    answer = upload(store_client, [independent_extract(tmp_path)], headers={"X-API-Key": COUNTY_KEY})
    assert answer.status_code == 202, answer.text
    made = {s["filename"]: s["id"] for s in answer.json()["submissions"]}
    assert set(made) == {SSDA903_FILE}
    report = store_client.get(f"/api/submissions/{made[SSDA903_FILE]}", headers={"X-API-Key": COUNTY_KEY}).json()
    assert (report["status"], report["stage"]) == ("accepted", "stored"), report
    notes = answer.json()["extract"]["notes"]
    assert any("SW_ID XX" in n for n in notes), notes
    assert any("INTERVENTION_OFFERED" in n for n in notes), notes


def test_without_the_professionals_table_every_sw_id_is_xx_and_the_answer_says_so(tmp_path: Path) -> None:
    members: dict[str, str | bytes] = {f"{name}.csv": t for name, t in TABLES.items() if name != "ssd_professionals"}
    # The case system names its health assessments its own way; the council's code map reads them as HEALTH.
    members["ssd_cla_health.csv"] = TABLES["ssd_cla_health"].replace(",HEALTH,", ",Annual health check,")
    members["code_map.csv"] = "ssd_column,local,dfe\nclah_health_check_type,Annual health check,HEALTH\n"
    path = extract_zip(tmp_path / "x.zip", members)
    made = make_returns(path, path.name, "2024-25", "891", max_unpacked=1 << 24)
    with zipfile.ZipFile(io.BytesIO(dict(made.files)[SSDA903_FILE])) as archive:
        archive.extractall(tmp_path / "made")
    tables = read_csv_tables(tmp_path / "made")
    assert set(tables["SWEpisodes"]["SW_ID"]) == {"XX4712", "XX4713", "XX4714"}
    assert any("SW_ID XX" in n and "has no ssd_professionals" in n for n in made.notes), made.notes
    assert tables["OC2"].filter(pl.col("CHILD") == "100201")["HEALTH_ASSESSMENT"].to_list() == ["1"]
