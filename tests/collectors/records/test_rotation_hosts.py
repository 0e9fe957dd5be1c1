"""A rotation of the records keys run by one host (a process of its own) while another host serves the same store
(SQLite and PostgreSQL): the serving host refuses record-level work while the rotation runs, is refused with the old
keys after it, takes the new keys file as soon as it holds it, and every child keeps one pseudonym."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from collectors.records.privacy import KeysRefused, checked_keys, keys_for
from collectors.records.rotation import rotating_path
from collectors.records.service import process_records
from indicators.store.models import Submission
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records import test_rotation
from tests.collectors.records.samples import PASSING, upload
from tests.collectors.records.test_rotation import _annex_a, _histories

#: The store of the rotation tests: two uploads of overlapping children and Annex A's kept records, under one key.
rotating = test_rotation.rotating

#: The rotating host: its rotation pauses once every file is sealed again, until the test lets it go on.
_ROTATING_HOST = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from collectors.records import rotation
    from onereturn.db import get_engine
    from onereturn.settings import get_settings
    began, go = Path(sys.argv[1]), Path(sys.argv[2])
    # The step after the files: re-keying the children (a method of the run, or a function in earlier releases).
    owner, name = (rotation._Run, "rekey_children") if hasattr(rotation, "_Run") else (rotation, "_rekey_children")
    real = getattr(owner, name)
    def paused(*args):
        began.touch()
        deadline = time.monotonic() + 120
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return real(*args)
    setattr(owner, name, paused)
    settings = get_settings()
    done = rotation.rotate(get_engine(settings), settings)
    print(done.files, done.children)
    """
)


def _copy_keys(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    target.chmod(0o600)


def _submissions(store: Engine) -> int:
    with Session(store) as session:
        return int(session.execute(select(func.count()).select_from(Submission)).scalar_one())


def test_a_host_serving_through_a_rotation_seals_nothing_under_retired_keys(
    store: Engine, rotating: Settings, tmp_path: Path
) -> None:
    old = keys_for(rotating)
    before, _ = _histories(store, old)
    counts = _annex_a(store, rotating)
    # The serving host holds its own copy of the deployment's keys file, as a second machine does.
    serving = Settings(data_dir=tmp_path / "host-b", records_keys_file=tmp_path / "host-b-keys" / "records-keys.json")
    _copy_keys(rotating.records_keys_file or Path(), serving.records_keys_file or Path())
    assert checked_keys(store, serving).fingerprint == old.fingerprint
    later = tmp_path / "sent-meanwhile"
    later.mkdir()
    for path in PASSING:
        # Two children fewer than the first upload: files no upload sent before.
        (later / path.name).write_text("".join(path.read_text().splitlines(keepends=True)[:-2]))
    began, go = tmp_path / "began", tmp_path / "go"
    env = {
        **os.environ,
        "ONERETURN_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ONERETURN_DATA_DIR": str(rotating.data_dir),
        "ONERETURN_RECORDS_KEYS_FILE": str(rotating.records_keys_file),
    }
    host_a = subprocess.Popen(
        [sys.executable, "-c", _ROTATING_HOST, str(began), str(go)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not began.exists() and host_a.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert began.exists(), host_a.stderr.read() if host_a.stderr else ""
        held = _submissions(store)
        with client_on(serving, store) as client:
            refused = upload(client, sorted(later.glob("*.csv")))
            assert refused.status_code == 503, refused.text
            assert "being rotated" in refused.text
            ready = client.get("/health/ready")
            assert ready.status_code == 200, "every host waits alike: none is taken out of a load balancer"
            assert ready.json()["records_keys"]["status"] == "rotating"
        assert _submissions(store) == held, "nothing was kept under the keys being retired"
    finally:
        go.touch()
        _, err = host_a.communicate(timeout=300)
    assert host_a.returncode == 0, err
    assert not rotating_path(rotating).exists()

    # The rotation is done: the serving host, with the old keys still, is refused until it holds the new file.
    with pytest.raises(KeysRefused, match="not the deployment's"):
        checked_keys(store, serving)
    _copy_keys(rotating.records_keys_file or Path(), serving.records_keys_file or Path())
    new = checked_keys(store, serving)  # taken at its next use, without a restart
    assert new.fingerprint == keys_for(rotating).fingerprint != old.fingerprint
    with client_on(serving, store) as client:
        sent = upload(client, sorted(later.glob("*.csv")))
        assert sent.status_code == 202, sent.text
    assert process_records(store, serving, sent.json()["id"]).status == "accepted"
    after, _ = _histories(store, new)
    assert set(after) == set(before)
    assert all(pseudonyms == {new.pseudonym(child)} for child, pseudonyms in after.items()), "no child keyed twice"
    assert _annex_a(store, rotating) == _annex_a(store, serving) == counts
