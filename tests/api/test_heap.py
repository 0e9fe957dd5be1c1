"""A served worker keeps what it made as it started out of the collector's way, and gives it back as it stops."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from onereturn.settings import Settings


def test_a_worker_freezes_its_startup_heap_while_it_serves_and_thaws_it_as_it_stops(
    engine: Engine, tmp_path: Path
) -> None:
    assert gc.get_freeze_count() == 0
    app = create_app(Settings(data_dir=tmp_path / "data"), engine=engine, freeze_heap=True)
    with TestClient(app) as client:
        # Frozen once started: a full collection under load walked it again each time (160-236 ms each).
        assert gc.get_freeze_count() > 0
        assert client.get("/health").status_code == 200
    # Thawed and collected as it stopped: a pool's queue frozen in a cycle would never unlink its semaphores.
    assert gc.get_freeze_count() == 0


def test_without_it_nothing_is_frozen(engine: Engine, tmp_path: Path) -> None:
    with TestClient(create_app(Settings(data_dir=tmp_path / "data"), engine=engine)) as client:
        assert gc.get_freeze_count() == 0
        assert client.get("/health").status_code == 200


def test_a_served_worker_has_imported_scipy_before_its_first_comparison(tmp_path: Path) -> None:
    # In a process of its own: another test may have imported SciPy into this one already.
    script = textwrap.dedent(
        f"""
        import sys
        from fastapi.testclient import TestClient
        from api.main import create_app
        from onereturn import db
        from onereturn.settings import Settings

        engine = db.make_engine("sqlite:///{tmp_path / "store.sqlite3"}")
        db.upgrade(engine)
        before = "scipy.stats" in sys.modules
        with TestClient(create_app(Settings(data_dir={str(tmp_path / "data")!r}), engine=engine, freeze_heap=True)):
            print(before, "scipy.stats" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    # Not imported by the app's modules (so not by every process the service starts), but by the worker as it starts.
    assert done.stdout.split() == ["False", "True"]
