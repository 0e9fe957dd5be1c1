"""Hosts whose records keys are refused, kept files sealed under other keys, the keys once public, and a store of
the last release before the store kept a fingerprint, upgraded (SQLite and PostgreSQL where the store is touched)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete
from sqlmodel import Session, select
from typer.testing import CliRunner

from cli import commands as cli
from collectors import door
from collectors.door import lease
from collectors.door.requests import RecordFiles
from collectors.records.models import RecordChild, RecordsKey
from collectors.records.privacy import (
    KeysRefused,
    checked_keys,
    key_status,
    keys_at,
    keys_for,
    keys_path,
    make_current,
)
from collectors.records.receiving import WAY, receive
from collectors.records.service import AGAIN, process_records
from collectors.ways_in import rerun
from indicators.store.models import Submission
from onereturn.settings import Settings, get_settings
from tests.apps import client_on
from tests.collectors.records.samples import PASSING
from tests.helpers import NOTTS

ROOT = Path(__file__).resolve().parents[3]
#: The commit that took the keys file out of the repository and had the store keep the keys' fingerprint.
FINGERPRINT_CHANGE = "8af4ed3"
#: The keys file the repository held until then.
ONCE_TRACKED = "var-keys/records-keys.json"


def _received(store: Engine, settings: Settings) -> int:
    got = receive(
        store,
        settings,
        RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[(p.name, p) for p in PASSING]),
    )
    assert got.submission.id is not None
    return got.submission.id


def _status(store: Engine, submission_id: int) -> tuple[str, str]:
    with Session(store) as session:
        row = session.get(Submission, submission_id)
        assert row is not None
        return row.status, row.message or ""


def test_a_cut_off_upload_stays_resumable_on_a_host_whose_keys_are_refused(store: Engine, tmp_path: Path) -> None:
    one = Settings(data_dir=tmp_path / "one")
    two = Settings(data_dir=tmp_path / "two")
    keys_for(two)  # a host whose keys were never the deployment's
    submission_id = _received(store, one)
    assert lease.cut_off_by_stop(store, ids=[submission_id]) == [submission_id]
    # The refused host's scheduler takes nothing up, and the upload stays as the stop left it.
    assert door.resume(store, two, WAY.name, AGAIN) == []
    with pytest.raises(KeysRefused):
        process_records(store, two, submission_id)
    status, message = _status(store, submission_id)
    assert status == "interrupted", message
    assert "KeysRefused" not in message
    # A host holding the deployment's keys takes it up and ends it.
    assert door.resume(store, one, WAY.name, AGAIN) == [submission_id]
    assert _status(store, submission_id)[0] == "accepted"


def test_a_kept_file_this_hosts_keys_cannot_open_is_failed_not_rejected_and_a_resend_works(
    store: Engine, tmp_path: Path
) -> None:
    before = Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "old" / "records-keys.json")
    submission_id = _received(store, before)
    # The store came to name other keys (a rotation that never sealed this file again): this host holds those.
    now = Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "new" / "records-keys.json")
    with Session(store) as session:
        make_current(session, keys_for(now))
        session.commit()
    ended = process_records(store, now, submission_id)
    assert ended.status == "failed", ended.message
    assert f"onereturn submissions reprocess {submission_id}" in (ended.message or "")
    assert "keys file" in (ended.message or "")
    with client_on(now, store) as client:
        report = client.get(f"/api/submissions/{submission_id}", headers=NOTTS)
        assert report.status_code == 200
        assert str(tmp_path) not in report.text
    # The council sends the same files again: the copy in hand is kept under the deployment's keys and runs.
    resent = _received(store, now)
    assert resent != submission_id
    assert process_records(store, now, resent).status == "accepted"
    # The first upload, run again, reads the file that is now sealed under the deployment's keys.
    again = rerun(store, now, submission_id).submission
    assert again is not None
    assert again.status in ("accepted", "partially_accepted", "queried")


def _once_public_keys(tmp_path: Path) -> Path:
    """The keys file the repository once held, read from its history (never written into the tree)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    shown = subprocess.run(
        ["git", "show", f"{FINGERPRINT_CHANGE}^:{ONCE_TRACKED}"], cwd=ROOT, capture_output=True, timeout=60
    )
    if shown.returncode != 0:
        pytest.skip("not a git checkout holding the repository's history")
    path = tmp_path / "public" / "records-keys.json"
    path.parent.mkdir()
    path.write_bytes(shown.stdout)
    path.chmod(0o600)
    return path


def test_the_keys_once_in_the_repositorys_history_are_refused_by_any_store(store: Engine, tmp_path: Path) -> None:
    public = Settings(data_dir=tmp_path / "data", records_keys_file=_once_public_keys(tmp_path))
    with pytest.raises(KeysRefused, match="once committed to the repository") as refused:
        checked_keys(store, public)
    assert "rotate-keys" in refused.value.message
    assert key_status(store, public)["status"] == "refused"
    with Session(store) as session:
        assert session.exec(select(RecordsKey)).all() == [], "never named by the store"
    with client_on(public, store) as client:
        answer = client.post(
            "/api/submissions",
            headers=NOTTS,
            data={"collection_year": "2024-25"},
            files=[("files", (p.name, p.read_bytes(), "text/csv")) for p in PASSING],
        )
        assert answer.status_code == 503, answer.text
        assert "records_keys_refused" in answer.text


def test_a_store_sealed_before_the_fingerprint_names_only_keys_that_open_its_records(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealer = Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "sealer" / "records-keys.json")
    assert process_records(store, sealer, _received(store, sealer)).status == "accepted"
    with Session(store) as session:
        # As a store of a release before the fingerprint holds it: records sealed, no keys named.
        session.execute(delete(RecordsKey))
        session.commit()
    bare = Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "bare" / "records-keys.json")
    with pytest.raises(KeysRefused, match="no records keys file"):
        checked_keys(store, bare)
    assert not keys_path(bare).exists(), "no keys made on the spot"
    other = Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "other" / "records-keys.json")
    keys_at(tmp_path / "other" / "records-keys.json")
    with pytest.raises(KeysRefused, match="cannot open them"):
        checked_keys(store, other)
    assert key_status(store, other)["status"] == "refused"
    with Session(store) as session:
        assert session.exec(select(RecordsKey)).all() == []
    said = _upgrade(store, sealer, monkeypatch)
    assert f"named the records keys of fingerprint {keys_for(sealer).fingerprint[:12]}" in said
    with Session(store) as session:
        named = session.exec(select(RecordsKey)).one()
    assert (named.fingerprint, named.state) == (keys_for(sealer).fingerprint, "current")


def _upgrade(store: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """``onereturn db upgrade`` on a host with ``settings``; what it said."""
    monkeypatch.setenv("ONERETURN_DATABASE_URL", store.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ONERETURN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("ONERETURN_RECORDS_KEYS_FILE", str(settings.records_keys_file))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["db", "upgrade"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


_OLD_RELEASE_UPLOAD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from pathlib import Path
    from collectors.records.service import process_records, receive
    from onereturn import db
    from onereturn.settings import get_settings
    settings = get_settings()
    engine = db.get_engine(settings)
    files = [(Path(p).name, Path(p)) for p in sys.argv[2:]]
    got = receive(engine, settings, agency_code="notts_cyp", collection_year="2024-25", files=files)
    print(process_records(engine, settings, got.submission.id).status)
    """
)


@pytest.mark.slow
def test_a_store_of_the_last_release_before_the_fingerprint_upgrades_with_its_keys_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    old = tmp_path / "release"
    old.mkdir()
    archive = subprocess.run(
        ["git", "archive", f"{FINGERPRINT_CHANGE}^", "onereturn", "indicators", "mappings", "collectors", "exports",
         "api", "cli", "scheduler.py"],
        cwd=ROOT, capture_output=True, timeout=120,
    )  # fmt: skip
    if archive.returncode != 0:
        pytest.skip("not a git checkout holding the repository's history")
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True, timeout=120)
    data = tmp_path / "data"
    keys_file = tmp_path / "etc" / "records-keys.json"
    env = {
        **os.environ,
        "ONERETURN_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite3'}",
        "ONERETURN_DATA_DIR": str(data),
        "ONERETURN_RECORDS_KEYS_FILE": str(keys_file),
        "ONERETURN_VALIDATORS_PYTHON": str(ROOT / ".venv-validators" / "bin" / "python"),
        "PYTHONPATH": str(old),
    }
    run = {"env": env, "cwd": old, "capture_output": True, "text": True, "timeout": 600}
    # The release before the change makes its store, loads the catalogue and seals a council's upload.
    loaded = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "catalogue", "load"], check=False, **run)  # type: ignore[call-overload]
    assert loaded.returncode == 0, loaded.stderr
    sealed = subprocess.run(
        [sys.executable, "-c", _OLD_RELEASE_UPLOAD, str(old), *map(str, PASSING)], check=False, **run
    )  # type: ignore[call-overload]
    assert sealed.returncode == 0, sealed.stderr
    assert sealed.stdout.split()[-1] == "accepted"
    kept = keys_file.read_bytes()

    store = create_engine(env["ONERETURN_DATABASE_URL"])
    try:
        settings = Settings(data_dir=data, records_keys_file=keys_file)
        said = _upgrade(store, settings, monkeypatch)
        assert keys_file.read_bytes() == kept, "the upgrade keeps the keys file"
        assert f"named the records keys of fingerprint {keys_for(settings).fingerprint[:12]}" in said
        with Session(store) as session:
            assert session.exec(select(RecordsKey.state)).all() == ["current"]
            (submission_id,) = session.exec(select(RecordChild.submission_id).distinct()).all()
        # The children sealed by the release before read back as they were.
        with client_on(settings, store) as client:
            report = client.get(f"/api/submissions/{submission_id}/records", headers=NOTTS)
            assert report.status_code == 200, report.text
        # A host upgraded without the keys file refuses, and makes none.
        bare = Settings(data_dir=data, records_keys_file=tmp_path / "lost" / "records-keys.json")
        with pytest.raises(KeysRefused):
            checked_keys(store, bare)
        assert not (tmp_path / "lost").exists()
    finally:
        store.dispose()
