"""A process killed (SIGKILL) while DfE's rules read a council's files leaves no child's record in the clear once the
service starts again: the files opened for the rules are in the service's private folder, which every start empties,
never in the system's temporary folder (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from collectors.door.requests import RecordFiles
from collectors.records.receiving import receive
from collectors.retention import purge
from onereturn import workspace
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.samples import PASSING

#: Stands in for DfE's rules' interpreter: says the rules have the files, then holds them until its parent is gone.
_HOLDING_RULES = textwrap.dedent(
    """
    import os, sys, time
    sys.stdin.buffer.read()
    parent = os.getppid()
    open(os.environ["RULES_STARTED"], "w").close()
    while os.getppid() == parent:
        time.sleep(0.05)
    """
)

_PROCESS = textwrap.dedent(
    """
    import sys
    from collectors.records.service import process_records
    from onereturn.db import get_engine
    from onereturn.settings import get_settings
    settings = get_settings()
    process_records(get_engine(settings), settings, int(sys.argv[1]))
    """
)


def _child_ids() -> set[bytes]:
    """The made-up children's ids and UPNs of the uploaded tables: none may be on disk in the clear."""
    header = next(path for path in PASSING if path.name == "header.csv").read_text().splitlines()[1:]
    found = set()
    for line in header:
        child, _sex, _dob, _ethnic, upn, *_ = line.split(",")
        found |= {child.encode(), upn.encode()}
    return found


def _in_the_clear(folder: Path, ids: set[bytes]) -> list[str]:
    """Every file under ``folder`` holding one of ``ids`` as it is, named with the id."""
    hits = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path.relative_to(folder)}: {i.decode()}" for i in ids if i in data]
    return hits


def _wrapper(tmp_path: Path) -> Path:
    script = tmp_path / "holding_rules.py"
    script.write_text(_HOLDING_RULES)
    launcher = tmp_path / "rules-python"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    launcher.chmod(0o700)
    return launcher


def test_a_process_killed_mid_rules_leaves_no_child_on_disk_after_a_start(store: Engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "keys" / "records-keys.json")
    got = receive(
        store,
        settings,
        RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[(p.name, p) for p in PASSING]),
    )
    assert got.submission.id is not None
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    started = tmp_path / "rules-started"
    env = {
        **os.environ,
        "ONERETURN_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ONERETURN_DATA_DIR": str(settings.data_dir),
        "ONERETURN_RECORDS_KEYS_FILE": str(settings.records_keys_file),
        "ONERETURN_VALIDATORS_PYTHON": str(_wrapper(tmp_path)),
        "RULES_STARTED": str(started),
        # The system's temporary folder, as the killed process saw it: scanned with the rest.
        "TMPDIR": str(system_tmp),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", _PROCESS, str(got.submission.id)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not started.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), f"DfE's rules were never started: {process.stderr.read() if process.stderr else ''!r}"
    ids = _child_ids()
    # While the rules run, the files they read are on disk in the clear: somewhere only the service's own may read.
    held = _in_the_clear(tmp_path, ids)
    assert held, "the rules' files were not found on disk while the rules ran"
    assert all(hit.startswith("data/private/") for hit in held), held
    assert stat.S_IMODE((settings.data_dir / "private").stat().st_mode) == 0o700
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert _in_the_clear(tmp_path, ids), "the kill left the files, as a crash does"

    # The service starts again: before any work, what the killed process left is gone.
    with client_on(settings, store) as client:
        assert client.get("/health").status_code == 200
        assert _in_the_clear(tmp_path, ids) == []


def test_the_purge_removes_what_a_killed_process_left_and_spares_a_live_one(store: Engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "keys" / "records-keys.json")
    # A process that took its own folder and was killed before it could remove what it wrote there.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from onereturn import workspace; from onereturn.settings import Settings; "
            "f = workspace.own_folder(Settings(data_dir=sys.argv[1])); (f / 'header.csv').write_text('C100201'); "
            "print(f, flush=True); time.sleep(120)",
            str(settings.data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    left = Path(holder.stdout.readline().strip())
    with workspace.private_folder(settings, "records-") as mine:
        (mine / "header.csv").write_text("C100202")
        assert workspace.clear_left(settings) == 0, "a live process's folder is never removed"
        assert (left / "header.csv").exists()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        done = purge(store, settings)
        assert done.left == 1
        assert not left.exists()
        assert (mine / "header.csv").read_text() == "C100202", "this process's own folder is kept"


def test_a_start_removes_what_an_earlier_release_left_in_the_system_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system = tmp_path / "system-tmp"
    system.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system))
    settings = Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "keys" / "records-keys.json")
    old, recent, other = system / "onereturn-records-abc", system / "onereturn-ssd-def", system / "someone-else"
    for folder in (old, recent, other):
        folder.mkdir()
        (folder / "header.csv").write_text("C100201")
    long_ago = time.time() - workspace.LEGACY_AGE_S - 60
    for path in (old / "header.csv", old, other):
        os.utime(path, (long_ago, long_ago))
    assert workspace.clear_left(settings) == 1
    # An earlier release's folder that changed within the hour may still be in use; nobody else's is touched.
    assert not old.exists()
    assert recent.exists()
    assert other.exists()
