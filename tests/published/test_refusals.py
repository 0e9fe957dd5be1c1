"""A publisher's file that cannot be read is refused in a few words naming the file as uploaded, its row and the
problem: over the API (422), on the officer's page (a GOV.UK error page) and on the command line (no traceback).
A cut-off import is read again as the publisher's file it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from collectors.published import intake
from collectors.published.intake import import_release
from collectors.ways_in import rerun as reprocess
from indicators.published import PublishedRelease
from indicators.store.models import Observation, Submission
from onereturn.settings import Settings
from tests.helpers import assert_canonical_error
from tests.published.unreadable import CASES, SPEC

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
URL = "/api/published/sources/ons_population_0_17/releases"


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_unreadable_file_is_a_422_naming_the_uploaded_file_and_row(store_client: TestClient, name: str) -> None:
    make, said = CASES[name]
    answer = store_client.post(URL, headers=OFFICER, files={"file": (name, make())})
    assert answer.status_code == 422, answer.text[:500]
    assert_canonical_error(answer.json(), 422)
    assert answer.json()["error"].startswith(said)
    assert len(answer.text) < 2_000
    # The source's own file name is not the file the officer sent.
    assert SPEC.file not in answer.text
    assert store_client.get("/api/published/releases", headers=OFFICER).json()["total"] == 0


def test_the_command_line_refuses_an_unreadable_file_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ONERETURN_DATABASE_URL"} | {"ONERETURN_DATA_DIR": str(tmp_path)}
    for name in ("long.csv", "ragged.csv"):
        make, said = CASES[name]
        path = tmp_path / name
        path.write_bytes(make())
        done = subprocess.run(
            [sys.executable, "-c", "import cli; cli.main()", "published", "import", SPEC.id, str(path)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=300,
        )
        assert done.returncode == 1, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        assert said in " ".join(done.stderr.split())
        assert len(done.stderr) < 2_000


def test_an_import_cut_off_is_read_again_as_the_publishers_file(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop while the figures are stored leaves the import unfinished (the sweep then marks it interrupted); the
    advised reprocess reads the kept file again as a release of its source, not as a template of figures."""

    def stopped(*_args: object, **_kwargs: object) -> None:
        raise SystemExit(143)

    monkeypatch.setattr(intake, "_store", stopped)
    with pytest.raises(SystemExit):
        import_release(
            store, store_settings, SPEC, SPEC.bundled.read_bytes(), filename="pop.csv", fetched_from="upload"
        )
    monkeypatch.undo()
    with Session(store) as session:
        sub = session.execute(select(Submission).where(col(Submission.kind) == "published")).scalar_one()
        assert sub.status == "failed"
        assert f"onereturn submissions reprocess {sub.id}" in sub.message
        # As the sweep leaves an import whose process was killed outright.
        session.execute(update(Submission).where(col(Submission.id) == sub.id).values(status="interrupted"))
        session.commit()
        sub_id = sub.id
    assert sub_id is not None
    done = reprocess(store, store_settings, sub_id).submission
    assert done is not None
    assert (done.status, done.id) == ("accepted", sub_id), done.message
    with Session(store) as session:
        release = session.execute(select(PublishedRelease)).scalar_one()
        assert (release.submission_id, release.source_id, release.filename) == (sub_id, SPEC.id, "pop.csv")
        notts = session.execute(
            select(Observation.value).where(
                Observation.indicator_id == "pop.resident_0_17",
                Observation.org_code == "E10000024",
                Observation.period == "CY2024",
                col(Observation.is_current),
            )
        ).scalar_one()
        assert notts == 171572


def test_a_cut_off_import_read_since_by_another_is_superseded_not_read_again(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same release imported again after an import of it was cut off: the cut-off one, reprocessed, finds the
    release read (by the way's repeat key, asked before reading) and ends superseded, naming that release."""
    data = SPEC.bundled.read_bytes()

    def stopped(*_args: object, **_kwargs: object) -> None:
        raise SystemExit(143)

    monkeypatch.setattr(intake, "_store", stopped)
    with pytest.raises(SystemExit):
        import_release(store, store_settings, SPEC, data, filename="pop.csv", fetched_from="upload")
    monkeypatch.undo()
    with Session(store) as session:
        cut = session.execute(select(Submission).where(col(Submission.kind) == "published")).scalar_one()
    read = import_release(store, store_settings, SPEC, data, filename="pop.csv", fetched_from="upload")
    assert not read.duplicate
    assert cut.id is not None
    done = reprocess(store, store_settings, cut.id).submission
    assert done is not None
    assert done.status == "superseded"
    assert done.message == f"release {read.release.id} has read the same file since; nothing more to do"
    with Session(store) as session:
        assert len(session.execute(select(PublishedRelease)).scalars().all()) == 1
