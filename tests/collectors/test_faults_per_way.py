"""A fault at each way's store, on SQLite and PostgreSQL: the upload ends ``failed`` (its file kept), its answer says so
(a declared error or the failed upload, never an unexplained crash), and ``onereturn submissions reprocess N`` stores
it through the door's one rerun. A way finished at the door (Annex A's columns, an extract's Annex A rows) has no
store after it: a fault in its one write leaves nothing stored, and there is nothing to run again."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner, Result

import collectors.figures.service as figures
import collectors.published.intake as intake
import collectors.records.service as records
import collectors.sen2.stage as sen2_stage
from collectors import ways_in
from collectors.annex_a.columns import COLUMNS_MODE
from collectors.annex_a.from_ssd import SSD_MODE
from indicators.store.models import Submission
from mappings.annex_a import load_layout
from onereturn import db
from onereturn.settings import Settings, get_settings
from tests.collectors.records.samples import PASSING, upload
from tests.collectors.sen2.test_sen2_figures import NOTTS as SEN2_NOTTS
from tests.collectors.sen2.test_sen2_figures import _send as send_sen2
from tests.collectors.ssd.ssd_samples import good
from tests.collectors.ssd.test_ssd_annex_a import _extract
from tests.helpers import NOTTS, assert_canonical_error, kept_names
from tests.published.unreadable import SPEC

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
COUNTY = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
FIGURES = (
    "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
    "cyp.cin_count,E10000024,2024-06-30,,512,,,,\ncyp.lac_count,E10000024,2025-03-31,,1100,,,,\n"
)
FAULT = "the store is refusing this upload"


def _fault(*_args: object, **_kwargs: object) -> Any:
    raise RuntimeError(FAULT)


def _reprocess(store: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch, number: int) -> Result:
    """``onereturn submissions reprocess N``, as an officer runs it against the store."""
    from cli import commands as cli

    monkeypatch.setenv("ONERETURN_DATABASE_URL", store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli.app, ["submissions", "reprocess", str(number)])
    finally:
        get_settings.cache_clear()


def _uploads(store: Engine, *, way: str) -> list[Submission]:
    with Session(store) as session:
        return list(session.exec(select(Submission).where(col(Submission.way) == way).order_by(col(Submission.id))))


def _recovered(store: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch, *, way: str) -> list[Submission]:
    """Every upload of ``way`` failed with the command that runs it again, and run again by it to its end."""
    failed = _uploads(store, way=way)
    assert failed, f"no upload came in by the way {way}"
    for upload_ in failed:
        assert upload_.status == "failed", (upload_.status, upload_.message)
        assert f"onereturn submissions reprocess {upload_.id}" in upload_.message
        assert upload_.raw_path
        assert upload_.id is not None
        result = _reprocess(store, settings, monkeypatch, upload_.id)
        assert result.exit_code == 0, result.output
        assert f"Submission {upload_.id}: " in result.output
    return _uploads(store, way=way)


def _told_it_failed(answer: Any) -> None:
    """The answer of a way stored while the request waits (a file of figures, a publisher's release), as the API
    declares it: the canonical error of an upload that failed, naming it and the command that runs it again (a 503,
    ``processing_failed``, never a 500)."""
    assert answer.status_code == 503, answer.text
    assert_canonical_error(answer.json(), 503)
    assert answer.json()["errors"][0]["type"] == "processing_failed", answer.text
    assert "nothing of it was stored" in answer.json()["error"]
    assert "onereturn submissions reprocess" in answer.json()["error"]


def test_a_fault_storing_an_agencys_figures(
    store_client: TestClient, store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(figures, "store_accepted", _fault)
        answer = store_client.post(
            "/api/submissions", headers=NOTTS, files={"file": ("f.csv", FIGURES.encode(), "text/csv")}
        )
    _told_it_failed(answer)
    done = _recovered(store, store_settings, monkeypatch, way="figures")
    assert [(s.status, s.rows_new) for s in done] == [("accepted", 2)]


def test_a_fault_storing_a_publishers_release(
    store_client: TestClient, store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(intake, "store_accepted", _fault)
        answer = store_client.post(
            f"/api/published/sources/{SPEC.id}/releases",
            headers=OFFICER,
            files={"file": ("pop.csv", SPEC.bundled.read_bytes())},
        )
    _told_it_failed(answer)
    done = _recovered(store, store_settings, monkeypatch, way="published")
    assert [s.status for s in done] == ["accepted"]
    assert done[0].rows_new > 0


def test_a_fault_storing_dfes_files(
    store_client: TestClient, store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(records, "store", _fault)
        answer = upload(store_client, PASSING)
    # Kept and answered 202 at once; the worker that took it up ended it failed.
    assert answer.status_code == 202, answer.text
    number = answer.json()["id"]
    assert store_client.get(f"/api/submissions/{number}", headers=NOTTS).json()["status"] == "failed"
    done = _recovered(store, store_settings, monkeypatch, way="records")
    assert [(s.id, s.status) for s in done] == [(number, "accepted")]
    assert done[0].rows_new > 0


def test_a_fault_storing_a_sen2_files_figures(
    store_client: TestClient, store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(sen2_stage, "store_figures", _fault)
        answer = send_sen2(store_client, SEN2_NOTTS)
    assert (answer.status_code, answer.json()["status"]) == (202, "failed"), answer.text
    done = _recovered(store, store_settings, monkeypatch, way="sen2")
    assert [s.status for s in done] == ["accepted"]
    assert done[0].rows_new > 0


def test_a_fault_storing_the_files_an_ssd_extract_makes(
    store_client: TestClient,
    store: Engine,
    store_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The SSD's way has no store of its own after the door: each file it makes goes on by DfE's files' way, whose
    worker stores it; a fault there ends each failed, and each is run again by the one rerun."""
    with monkeypatch.context() as patch:
        patch.setattr(records, "store", _fault)
        answer = upload(store_client, [good(tmp_path)], headers=COUNTY)
    assert answer.status_code == 202, answer.text
    made = [s["id"] for s in answer.json()["submissions"]]
    assert made
    done = _recovered(store, store_settings, monkeypatch, way="records")
    assert [s.id for s in done] == made
    assert {s.status for s in done} <= {"accepted", "partially_accepted", "queried"}


def _refuse_the_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fault in the door's one write of an upload finished at the door (its submission and what it keeps)."""
    monkeypatch.setattr(db, "commit_verified", _fault)


def test_a_fault_writing_annex_a_columns_leaves_nothing_stored(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = ways_in.ColumnsSent(
        agency_code="notts_cyp",
        layout=load_layout(),
        filename="c.csv",
        data=b"Child Unique ID\nZORB0001\n",
        submitted_by="t",
    )
    with monkeypatch.context() as patch:
        _refuse_the_write(patch)
        with pytest.raises(RuntimeError, match=FAULT):
            ways_in.take(store, store_settings, request)
    assert _kept_of(store, COLUMNS_MODE) == []
    assert kept_names(store, store_settings, "uploads") == []
    # Finished at the door: sent again with the store mended, it is taken as a new upload.
    number, _frame = ways_in.take(store, store_settings, request)
    assert _kept_of(store, COLUMNS_MODE) == [(number, "accepted")]


def test_a_fault_writing_an_extracts_annex_a_rows_leaves_nothing_stored(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rows = ways_in.ExtractRows(
        agency_code="notts_cyp", year="2024-25", filename="ssd.zip", tables=_extract(tmp_path), submitted_by="test"
    )
    with monkeypatch.context() as patch:
        _refuse_the_write(patch)
        with pytest.raises(RuntimeError, match=FAULT):
            ways_in.take(store, store_settings, rows)
    assert _kept_of(store, SSD_MODE) == []
    assert kept_names(store, store_settings, "uploads") == []
    number = ways_in.take(store, store_settings, rows)
    assert _kept_of(store, SSD_MODE) == [(number, "accepted")]


def _kept_of(store: Engine, mode: str) -> list[tuple[int | None, str]]:
    with Session(store) as session:
        return [(s.id, s.status) for s in session.exec(select(Submission).where(col(Submission.mode) == mode))]


def test_a_fault_writing_a_census_leaves_nothing_stored(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A school census is read, minimised and kept at the door in one write: a fault there keeps none of its pupils,
    no sealed file and no upload, and the census sent again is taken whole."""
    from collectors.census.synthetic import Child, made_upn, write_census

    children = [Child(made_upn("891", 11), date(2013, 3, 1), "F", "N", "8912000", "100000")]
    (tmp_path / "census").mkdir()
    files = write_census(tmp_path / "census", children, year=2025, term="spring", others=40, seed=5)
    request = ways_in.RecordFiles("notts_cyp", "2024-25", files, submitted_by="test")
    with monkeypatch.context() as patch:
        _refuse_the_write(patch)
        with pytest.raises(RuntimeError, match=FAULT):
            ways_in.take(store, store_settings, request)
    assert _uploads(store, way="census") == []
    assert kept_names(store, store_settings, "records") == []
    ways_in.take(store, store_settings, request)
    assert [s.status for s in _uploads(store, way="census")] == ["accepted"]
    assert len(kept_names(store, store_settings, "records")) == 1
