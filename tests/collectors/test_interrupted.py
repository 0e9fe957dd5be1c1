"""An upload cut off by killing the process leaves no partial figures, and its raw file is kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from collectors.door.lease import mark_expired
from indicators.store.models import Observation, Submission
from onereturn.settings import Settings
from tests.helpers import kept_bytes

POP = ["pop.resident_all_ages", "pop.resident_0_17", "pop.resident_10_17", "pop.resident_15_24"]


def big_upload(engine: Engine, path: Path) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        orgs = [
            r[0]
            for r in conn.execute(text("SELECT org_code FROM agency_org WHERE agency_code = 'ons' ORDER BY org_code"))
        ]
    lines = ["indicator,org,period,value"]
    for year in range(1800, 2000):
        for indicator in POP:
            lines += [f"{indicator},{org},CY{year},{1000 + year}" for org in orgs]
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


@pytest.mark.slow
def test_killed_upload_leaves_the_store_as_it_was(store: Engine, tmp_path: Path) -> None:
    upload = tmp_path / "population.csv"
    rows = big_upload(store, upload)
    assert rows > 250_000
    env = {
        **os.environ,
        "ONERETURN_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "ONERETURN_DATA_DIR": str(tmp_path / "data"),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "import cli; cli.main()", "collect", str(upload), "--agency", "ons", "--quiet"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    status = None
    while time.monotonic() < deadline and process.poll() is None:
        with Session(store) as session:
            status = session.execute(select(Submission.status)).scalars().first()
        if status == "storing":
            time.sleep(0.3)  # well inside the bulk write, which takes seconds for this many rows
            break
        time.sleep(0.05)
    assert process.poll() is None, f"the upload finished before it could be interrupted (status {status})"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == 0
        submission = session.execute(select(Submission)).scalars().one()
        assert submission.status == "storing"
        assert kept_bytes(store, Settings(data_dir=tmp_path / "data"), submission.raw_path) == upload.read_bytes()
        # Its lease is still running: a worker starting now (or the scheduler) leaves it alone...
        assert mark_expired(session) == 0
        assert submission.lease_until is not None
        # ...until the killed worker has stopped renewing it for a whole lease.
        assert mark_expired(session, submission.lease_until.replace(tzinfo=UTC) + timedelta(seconds=1)) == 1
        session.commit()
        interrupted = session.execute(select(Submission)).scalars().one()
        session.refresh(interrupted)
        assert interrupted.status == "interrupted"
        assert f"onereturn submissions reprocess {interrupted.id}" in interrupted.message
