"""Every kept upload is sealed under the deployment's keys, whatever it holds: a sheet or column no check recognised
never sits in plain in the kept-file store. Read back unsealed by every reader (a rerun, a report, a publisher's
rerun), a file kept plain by an earlier release still read as it is, and a rotation seals the uploads anew (both
stores). Made-up values only."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

import collectors.figures.service as service
from collectors.door import head
from collectors.figures.service import raw_table_of, submit
from collectors.published import intake
from collectors.published.intake import import_release
from collectors.records import rotation
from collectors.ways_in import rerun as reprocess
from indicators.store.models import Submission
from onereturn import keptfiles
from onereturn.errors import ProcessingFailed
from onereturn.sealing import KeysRefused, checked_keys, keys_at, keys_for
from onereturn.settings import Settings
from tests.helpers import kept_names
from tests.published.unreadable import SPEC

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
#: A name and a UPN-like code whose check letter is wrong: nothing the checks refuse, yet not to sit in plain.
NAME, CODE = "Jane Doe", "B950000178301"


def _workbook() -> bytes:
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer) as book:
        figures = book.add_worksheet("Figures")
        for r, row in enumerate(
            (["indicator", "org", "period", "value"], ["cyp.cin_count", "E10000024", "2024-06-30", 512])
        ):
            figures.write_row(r, 0, row)
        contacts = book.add_worksheet("Contacts")
        contacts.write_row(0, 0, ["code", "name"])
        contacts.write_row(1, 0, [CODE, NAME])
    return buffer.getvalue()


def _submission(engine: Engine, submission_id: int) -> Submission:
    with Session(engine) as session:
        found = session.get(Submission, submission_id)
        assert found is not None
        return found


def _assert_sealed(engine: Engine, settings: Settings, submission: Submission, sent: bytes) -> None:
    """The bytes kept are not the upload's, hold none of its text, and open under the keys to exactly the upload."""
    assert keptfiles.is_sealed(submission.raw_path)
    assert submission.raw_path.endswith(".fernet")
    assert kept_names(engine, settings, "uploads") == [submission.raw_path], "the kept file's name says sealed"
    kept = keptfiles.read(engine, settings, submission.raw_path)
    assert kept != sent
    assert not zipfile.is_zipfile(io.BytesIO(kept))
    for text in (NAME.encode(), CODE.encode(), b"Contacts", b"cyp.cin_count"):
        assert text not in kept
    assert keys_for(settings).open(kept) == sent


def test_a_workbook_with_an_extra_sheet_is_kept_sealed_and_its_report_reads_it(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    sent = _workbook()
    answer = store_client.post(
        "/api/submissions", headers=NOTTS, files={"file": ("f.xlsx", sent, "application/octet-stream")}
    )
    assert answer.status_code == 201, answer.text
    submission = _submission(store, answer.json()["id"])
    _assert_sealed(store, store_settings, submission, sent)
    table = raw_table_of(store, submission, store_settings)
    assert table is not None
    assert table.frame.height == 1, "the report reads the upload's own rows"
    report = store_client.get(f"/api/submissions/{submission.id}/report.xlsx", headers=NOTTS)
    assert report.status_code == 200
    assert zipfile.is_zipfile(io.BytesIO(report.content))


def _failed(store: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch, data: bytes, filename: str) -> int:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("the reader tripped over something")

    with monkeypatch.context() as patch:
        patch.setattr(service, "read_table", broken)
        with pytest.raises(ProcessingFailed) as caught:
            submit(store, settings, agency_code="notts_cyp", filename=filename, data=data)
    return int(caught.value.message.split()[1])


def test_reprocess_runs_a_sealed_workbook_again(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _workbook()
    sub_id = _failed(store, store_settings, monkeypatch, sent, "f.xlsx")
    _assert_sealed(store, store_settings, _submission(store, sub_id), sent)
    done = reprocess(store, store_settings, sub_id).submission
    assert done is not None
    assert (done.status, done.rows_new) == ("accepted", 1), done.message


def test_an_upload_kept_plain_before_sealing_still_reads_and_reruns(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _workbook()
    sub_id = _failed(store, store_settings, monkeypatch, sent, "f.xlsx")
    digest = hashlib.sha256(sent).hexdigest()
    # As an earlier release kept it: plain, under the name with no seal's ending.
    plain = keptfiles.keep(store, store_settings, f"uploads/{digest[:2]}/{digest}", sent)
    keptfiles.forget(store, store_settings, _submission(store, sub_id).raw_path)
    with Session(store) as session:
        session.execute(update(Submission).where(col(Submission.id) == sub_id).values(raw_path=plain))
        session.commit()
    assert raw_table_of(store, _submission(store, sub_id), store_settings) is not None
    done = reprocess(store, store_settings, sub_id).submission
    assert done is not None
    assert done.status == "accepted", done.message


def test_a_publishers_release_cut_off_is_rerun_from_its_sealed_file(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stopped(*_args: object, **_kwargs: object) -> None:
        raise SystemExit(143)

    sent = SPEC.bundled.read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(intake, "_store", stopped)
        with pytest.raises(SystemExit):
            import_release(store, store_settings, SPEC, sent, filename="pop.csv", fetched_from="upload")
    with Session(store) as session:
        sub = session.execute(select(Submission).where(col(Submission.kind) == "published")).scalar_one()
    kept = keptfiles.read(store, store_settings, sub.raw_path)
    assert keptfiles.is_sealed(sub.raw_path)
    assert keys_for(store_settings).open(kept) == sent
    assert kept != sent
    assert sub.id is not None
    done = reprocess(store, store_settings, sub.id).submission
    assert done is not None
    assert done.status == "accepted", done.message


def test_a_rotation_seals_kept_uploads_anew_and_leaves_plain_ones_readable(
    store: Engine, store_settings: Settings
) -> None:
    sent = _workbook()
    outcome = submit(store, store_settings, agency_code="notts_cyp", filename="f.xlsx", data=sent)
    assert outcome.submission is not None
    plain = keptfiles.keep(store, store_settings, "uploads/ab/" + "ab" * 32, b"kept plain by an earlier release")
    old = keys_for(store_settings)
    done = rotation.rotate(store, store_settings, wait_seconds=0.3)
    new = keys_for(store_settings)
    assert new.fingerprint != old.fingerprint
    assert done.files == 1
    kept = keptfiles.read(store, store_settings, outcome.submission.raw_path)
    assert new.opens(kept)
    assert not old.opens(kept)
    assert raw_table_of(store, outcome.submission, store_settings) is not None
    assert keptfiles.read(store, store_settings, plain) == b"kept plain by an earlier release"


def test_a_host_whose_keys_are_not_the_deployments_keeps_nothing(store: Engine, store_settings: Settings) -> None:
    first = submit(store, store_settings, agency_code="notts_cyp", filename="f.xlsx", data=_workbook())
    assert first.submission is not None
    other = Settings(data_dir=store_settings.data_dir, records_keys_file=store_settings.data_dir.parent / "k.json")
    assert other.records_keys_file is not None
    keys_at(other.records_keys_file)  # another host's own keys
    with pytest.raises(KeysRefused, match="not the deployment's"):
        submit(store, other, agency_code="notts_cyp", filename="g.csv", data=b"indicator,org,period,value\n")
    assert kept_names(store, store_settings, "uploads") == [first.submission.raw_path]


def test_a_file_kept_anew_is_not_read_back_and_one_kept_under_other_keys_is_mended(
    store: Engine, store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy an upload writes is sealed under the deployment's keys, so it is not read back to be checked; the
    same bytes kept before under keys the store no longer names are read, found not to open, and sealed anew."""
    sent = b"indicator,org,period,value\nmade.up,E10000024,FY2024-25,1\n"
    digest = hashlib.sha256(sent).hexdigest()
    name = keptfiles.uploads_name(digest)
    deployment = checked_keys(store, store_settings)
    elsewhere = keys_at(tmp_path / "another-host" / "records-keys.json")
    assert keptfiles.keep_new(store, store_settings, name, elsewhere.seal(sent))
    assert not keptfiles.keep_new(store, store_settings, name, b"other bytes"), "a name is kept once"
    assert elsewhere.open(keptfiles.read(store, store_settings, name)) == sent
    read_back: list[str] = []
    reading = keptfiles.read

    def counted(*args: object) -> bytes:
        read_back.append(str(args[-1]))
        return reading(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(keptfiles, "read", counted)
    assert head.keep_raw(store, store_settings, sent, digest) == (digest, name)
    assert read_back == [name]
    assert deployment.open(reading(store, store_settings, name)) == sent
    fresh = sent + b"made.up,E09000023,FY2024-25,2\n"
    fresh_digest, fresh_name = head.keep_raw(store, store_settings, fresh)
    assert read_back == [name], "a file this call kept is not read back"
    assert deployment.open(reading(store, store_settings, fresh_name)) == fresh
    assert fresh_digest == hashlib.sha256(fresh).hexdigest()
