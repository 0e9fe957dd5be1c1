"""Uploads processed in worker processes of their own: the same answers as in the API's process, the
figures stored once, the upload leased by the process that handled it, and a process that dies replaced."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from api.main import create_app
from indicators.store.models import Observation, Submission
from onereturn.settings import Settings
from tests.helpers import assert_canonical_error

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
CSV = b"indicator,org,period,value\ncyp.lac_count,E10000024,2025-03-31,1100\ncyp.lac_count,E10000024,2024-03-31,abc\n"


@pytest.fixture
def pooled(store: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """A client of an app that processes uploads in processes of their own, as `serve` does."""
    app = create_app(Settings(data_dir=tmp_path / "data", upload_slots=1), engine=store, upload_processes=True)
    with TestClient(app) as client:
        yield client


def _upload(client: TestClient, data: bytes = CSV, **form: str) -> tuple[int, dict[str, Any]]:
    answer = client.post("/api/submissions", files={"file": ("n.csv", data, "text/csv")}, data=form, headers=NOTTS)
    return answer.status_code, answer.json()


def test_an_upload_is_stored_by_another_process_under_its_own_lease(
    pooled: TestClient, store: Engine, tmp_path: Path
) -> None:
    status, body = _upload(pooled)
    assert status == 201, body
    # The body went to the process through a spooled file in the private folder, gone once the upload is processed.
    assert (tmp_path / "data" / "private").is_dir()
    assert list((tmp_path / "data" / "private").rglob("*.upload")) == []
    assert body["rows_accepted"] == 1
    assert body["error_count"] == 1
    assert body["problems"][0]["row"] == 3
    with Session(store) as session:
        submission = session.get(Submission, body["id"])
        assert submission is not None
        assert submission.status == "partially_accepted"
        owner_pid = int(submission.lease_owner.split(":")[1])
        stored = session.execute(
            select(func.count()).select_from(Observation).where(Observation.submission_id == body["id"])
        ).scalar_one()
    assert owner_pid != os.getpid(), "the upload was processed in the API's own process"
    assert stored == 1
    again_status, again = _upload(pooled)
    assert again_status == 200
    assert again["duplicate"] is True
    assert again["id"] == body["id"]


def test_a_dry_run_and_a_refusal_come_back_as_in_process(pooled: TestClient, store: Engine) -> None:
    status, body = _upload(pooled, mode="dry_run")
    assert status == 200
    assert body["status"] == "has_errors"
    assert body["rows_read"] == 2
    assert body["rows_accepted"] == 1
    unknown = pooled.post(
        "/api/submissions", files={"file": ("n.csv", CSV, "text/csv")}, data={"agency": "nope"}, headers=OFFICER
    )
    assert unknown.status_code == 404
    assert_canonical_error(unknown.json(), 404)
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(Submission)).scalar_one() == 0


def test_a_process_that_dies_is_answered_and_replaced(pooled: TestClient, tmp_path: Path) -> None:
    assert _upload(pooled)[0] == 201
    pool = pooled.app.state.upload_pool  # type: ignore[attr-defined]
    for pid in list(pool._executor._processes):
        os.kill(pid, signal.SIGKILL)
    status, body = _upload(pooled, data=CSV.replace(b"1100", b"1101"))
    assert status == 503
    assert list((tmp_path / "data" / "private").rglob("*.upload")) == [], "a stopped process's spooled file is removed"
    assert_canonical_error(body, 503)
    assert "send the file again" in str(body["error"])
    status, body = _upload(pooled, data=CSV.replace(b"1100", b"1102"))
    assert status == 201, body


def _owner_pid(store: Engine, submission_id: int) -> int:
    with Session(store) as session:
        submission = session.get(Submission, submission_id)
        assert submission is not None
        return int(submission.lease_owner.split(":")[1])


#: What decides a renewal or a process's priority is the pool's, the same whatever the store: each of those tests
#: starts its own pool, so it runs on one store (every other test here runs on both).
POOL_ONLY = pytest.mark.parametrize("store_template", ["sqlite"], indirect=True)


@POOL_ONLY
@pytest.mark.parametrize("limit", [1, 1 << 40])
def test_a_process_left_holding_more_than_its_limit_is_renewed_after_its_upload(
    store: Engine, tmp_path: Path, limit: int
) -> None:
    settings = Settings(data_dir=tmp_path / "data", upload_slots=1, upload_process_resident_bytes=limit)
    with TestClient(create_app(settings, engine=store, upload_processes=True)) as client:
        first_status, first = _upload(client)
        second_status, second = _upload(client, data=CSV.replace(b"1100", b"1101"))
        assert (first_status, second_status) == (201, 201), (first, second)
        before, after = _owner_pid(store, first["id"]), _owner_pid(store, second["id"])
        if limit > 1:
            assert after == before, "a process within its limit keeps taking uploads"
            return
        # Every process holds more than a byte: the first upload's process is replaced once a fresh one has
        # started and read the catalogue (until then it still takes uploads, rather than keep them waiting), and it ends.
        deadline = time.monotonic() + 60
        value = 1102
        while after == before and time.monotonic() < deadline:
            status, later = _upload(client, data=CSV.replace(b"1100", str(value).encode()))
            assert status == 201, later
            after = _owner_pid(store, later["id"])
            value += 1
        assert after != before
        deadline = time.monotonic() + 10
        while _running(before) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(before)


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "(zombie)" not in status


@POOL_ONLY
@pytest.mark.parametrize("niceness", [0, 7])
def test_upload_processes_run_at_the_priority_set_against_the_api(store: Engine, tmp_path: Path, niceness: int) -> None:
    settings = Settings(data_dir=tmp_path / "data", upload_slots=1, upload_niceness=niceness)
    with TestClient(create_app(settings, engine=store, upload_processes=True)) as client:
        status, body = _upload(client)
        assert status == 201, body
        pid = _owner_pid(store, body["id"])
        assert os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, os.getpid()) == niceness


def test_a_new_upload_process_reads_the_catalogue_before_its_first_upload(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api import uploadpool
    from collectors.checks import context as figure_context

    monkeypatch.setattr(uploadpool, "_engine", store)
    monkeypatch.setattr(figure_context, "_shared_cache", {})
    assert uploadpool._warm() == os.getpid()
    (shared,) = figure_context._shared_cache.values()
    assert not shared.indicators.is_empty(), "the catalogue's indicators are held before any upload"


def _warmed() -> tuple[int, bool]:
    """Run in an upload process: its pid, and whether it holds the catalogue's shared context already, with what
    it made as it started out of the collector's way."""
    import gc

    from collectors.checks import context as figure_context

    return os.getpid(), bool(figure_context._shared_cache) and gc.get_freeze_count() > 0


def test_the_api_serves_once_every_upload_process_has_read_the_catalogue_and_frozen_it(
    store: Engine, tmp_path: Path
) -> None:
    from api.uploadpool import UploadPool

    pool = UploadPool(Settings(data_dir=tmp_path / "data", upload_slots=2), store)
    try:
        assert pool.wait_ready(120)
        processes = dict(pool._executor._processes)
        assert len(processes) == 2, "every slot's process is started before any upload"
        # The first task either process takes finds the catalogue read.
        answers = [pool._executor.submit(_warmed).result(timeout=30) for _ in range(4)]
        assert all(warm for _, warm in answers), answers
        assert {pid for pid, _ in answers} <= set(processes)
    finally:
        pool.close()


RECORDS = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "records" / "ssda903_passing").glob("*.csv"))


def test_record_level_uploads_are_stored_by_an_upload_process_and_a_sen2_file_checked_there(
    pooled: TestClient, store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in RECORDS]
    answer = pooled.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"}, files=files)
    assert answer.status_code == 202, answer.text
    location = answer.headers["location"]
    stages = [answer.json()["stage"]]
    deadline = time.monotonic() + 120
    while stages[-1] not in ("stored", "rejected", "failed") and time.monotonic() < deadline:
        time.sleep(0.05)
        stage = pooled.get(location, headers=NOTTS).json()["stage"]
        if stage != stages[-1]:
            stages.append(stage)
    assert stages[0] == "received"
    assert stages[-1] == "stored", pooled.get(location, headers=NOTTS).json()["message"]
    with Session(store) as session:
        submission = session.get(Submission, answer.json()["id"])
        assert submission is not None
        assert int(submission.lease_owner.split(":")[1]) != os.getpid()
        assert submission.rows_accepted > 0
    # A SEN2 file on the same upload processes (started once for both: their start is the cost of these tests).
    _sen2_checked_in_an_upload_process(pooled, monkeypatch)


def _sen2_checked_in_an_upload_process(pooled: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SEN2 file, checked whole at the door, is read and checked by an upload process, not the serving one."""
    from collectors.sen2 import receiving
    from tests.collectors.sen2.test_sen2_tables import hand_worked

    def not_here(*_: object, **__: object) -> None:
        raise AssertionError("the serving process read the SEN2 file")

    # This process's own check refuses to run: the file is read, checked and kept by an upload process.
    monkeypatch.setattr(receiving, "check", not_here)
    monkeypatch.setattr(receiving, "read_records", not_here)
    sent = pooled.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                       files=[("files", ("sen2.xml", hand_worked(), "application/xml"))])  # fmt: skip
    assert sent.status_code == 201, sent.text
    assert (sent.json()["status"], sent.json()["rows_read"]) == ("accepted", 8)
    again = pooled.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                        files=[("files", ("sen2.xml", hand_worked(), "application/xml"))])  # fmt: skip
    assert (again.status_code, again.json()["duplicate"], again.json()["id"]) == (200, True, sent.json()["id"])
    # A file refused there is answered as here: each problem by module, child and item.
    wrong = hand_worked().replace(b"<Sex>F</Sex>", b"<Sex>Q</Sex>", 1)
    refused = pooled.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"},
                          files=[("files", ("sen2.xml", wrong, "application/xml"))])  # fmt: skip
    assert refused.status_code == 422, refused.text
    assert_canonical_error(refused.json(), 422)
    assert ["Module 1: person", "child 2", "Sex"] in [e["loc"] for e in refused.json()["errors"]]


@POOL_ONLY
def test_a_process_left_holding_more_than_its_limit_by_a_record_level_upload_is_renewed(
    store: Engine, tmp_path: Path
) -> None:
    """A record-level upload (DfE's rules, its figures derived and stored) leaves its process renewed as a file of
    figures does, once the upload is stored: every process holds more than a byte."""
    settings = Settings(data_dir=tmp_path / "data", upload_slots=1, upload_process_resident_bytes=1)
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in RECORDS]
    with TestClient(create_app(settings, engine=store, upload_processes=True)) as client:
        pool = client.app.state.upload_pool  # type: ignore[attr-defined]
        first = pool._executor
        answer = client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"}, files=files)
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 120
        while (seen := client.get(answer.headers["location"], headers=NOTTS).json())["stage"] not in FINAL:
            assert time.monotonic() < deadline, "the upload did not end within 120 s"
            time.sleep(0.05)
        assert seen["stage"] == "stored", seen["message"]
        grown = _owner_pid(store, answer.json()["id"])
        deadline = time.monotonic() + 60
        while pool._executor is first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool._executor is not first, "the grown process was not renewed"
        while _running(grown) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(grown)


FINAL = ("stored", "rejected", "failed")


def test_a_stop_marks_the_record_level_upload_its_process_was_cut_off_in_so_the_next_start_takes_it_up(
    store: Engine, tmp_path: Path
) -> None:
    """An upload process stopped mid-way (the stop's time up) leaves its upload marked interrupted, and the next
    start's resume takes it up at once rather than once its lease runs out."""
    settings = Settings(data_dir=tmp_path / "data", upload_slots=1, stop_seconds=0.01)
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in RECORDS]
    with TestClient(create_app(settings, engine=store, upload_processes=True)) as client:
        answer = client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"}, files=files)
        assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 120
        while client.get(answer.headers["location"], headers=NOTTS).json()["stage"] == "received":
            assert time.monotonic() < deadline, "no upload process took the upload up within 120 s"
            time.sleep(0.05)
    sid = answer.json()["id"]
    with Session(store) as session:
        submission = session.get(Submission, sid)
        assert submission is not None
        assert submission.status == "interrupted", (submission.status, submission.stage)
    from collectors import door
    from collectors.records.receiving import WAY
    from collectors.records.service import AGAIN

    assert door.resume(store, settings, WAY.name, AGAIN) == [sid]
    with Session(store) as session:
        submission = session.get(Submission, sid)
        assert submission is not None
        assert (submission.status, submission.stage) == ("accepted", "stored")


def test_stopping_idle_upload_processes_says_none_was_busy(
    store: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from api.uploadpool import UploadPool

    # The pool's own thread and the stop both wait for the same ended processes; the one that reaped a process
    # second saw it as still running, so the stop logged it busy and "stopped" 0.1 s after being asked (seen about
    # once in 90 processes; test_a_process_reaped_by_another_thread_is_seen_to_have_ended makes it every time).
    pool = UploadPool(Settings(data_dir=tmp_path / "data", upload_slots=3), store)
    assert pool.wait_ready(120)
    started = time.monotonic()
    with caplog.at_level("WARNING", logger="api.uploadpool"):
        pool.close()
    assert time.monotonic() - started < 15, "idle processes end at once"
    assert "still busy" not in caplog.text, caplog.text


def _exit_now() -> None:
    """A helper process's whole work: nothing."""


def test_a_process_reaped_by_another_thread_is_seen_to_have_ended() -> None:
    from api.uploadpool import ended

    process = multiprocessing.get_context("spawn").Process(target=_exit_now)
    process.start()
    assert process.pid is not None
    # The pool's own thread reaps its processes as it stops; here the test does, first.
    os.waitpid(process.pid, 0)
    process.join(5)
    assert process.is_alive(), "how the stop asked before: a process reaped elsewhere looks alive"
    assert ended(process, 5)
