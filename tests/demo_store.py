"""The bundled demo loaded once and copied for each test that reads it, instead of loaded again by each.

Two kinds of demo store are kept:

- ``served_demo``: the data folder of a real first ``onereturn serve`` on an empty store (it loads the demo as a
  user's first start does), stopped, then copied whole (store, kept uploads, the record-level keys beside it) for
  each server a test starts on it (``serve_demo_copy``); made once per run, whichever pytest-xdist worker asks first;
- ``loaded_store``: a store of the bundled catalogue with some of the demo's loads done on it (the publishers'
  files, the synthetic council's records), made once per run, backend and loads, then copied per test as
  ``tests.stores.copied_store`` copies the catalogue's, with its kept uploads.

Kept files are named in the store by their content (``onereturn.keptfiles``): on PostgreSQL they are rows of the
store, copied with it; on SQLite they sit beside the database file, and a copy of the store gets a copy of them, so
what a test does to its copy's files never reaches the original.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from cli.demo import DemoUpload, load_published, load_records_demo
from onereturn import keptfiles
from onereturn.settings import Settings
from tests.live import serve_process, stop
from tests.stores import PG_RUN_SHARED, compact, copied_store, pg_admin, run_folder

#: The stores made so far in this process, by what they are.
_served: dict[str, Path] = {}
#: Written into the first start's folder once it is made, naming its log.
_MADE = "made"
#: How long a worker waits for another making the first start's store (which its own bounds end sooner).
_LOCK_SECONDS = 900
#: The loaded stores made so far in this process, by backend and loads.
_loaded: dict[tuple[str, tuple[str, ...]], LoadedStore] = {}


@dataclass(frozen=True)
class FirstStart:
    """The data folder a first ``onereturn serve`` left, and what it wrote to its log."""

    folder: Path
    log: str


def _keys_of(folder: Path) -> Path:
    """Where the service keeps the record-level keys of a data folder: beside it (``collectors.records.privacy``)."""
    return folder.parent / f"{folder.name}-keys"


def copy_kept(source: Path, target: Path) -> None:
    """Copy the kept files beside a SQLite store in ``source`` to beside its copy in ``target``."""
    for top in (keptfiles.UPLOADS, keptfiles.RECORDS):
        if (source / top).exists():
            shutil.copytree(source / top, target / top, dirs_exist_ok=True)


def copy_folder(source: Path, target: Path) -> None:
    """Copy a data folder and the keys kept beside it; the logs of the servers that used it stay behind."""
    # A store's kept files may all be beside its database, out of the data folder, which is then never made.
    target.mkdir(parents=True, exist_ok=True)
    if source.exists():
        shutil.copytree(
            source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.log", "snapshot-cache", _MADE)
        )
    if _keys_of(source).exists():
        shutil.copytree(_keys_of(source), _keys_of(target), dirs_exist_ok=True)


def served_demo(tmp_path_factory: pytest.TempPathFactory) -> FirstStart:
    """The data folder of the first ``onereturn serve`` on an empty SQLite store: it loaded the demo (the publishers'
    files, the agencies' uploads, the synthetic council's records, every sign-off). Made once per run, by the first
    pytest-xdist worker to ask (the others wait for it, bounded, under a lock in the run's shared temporary folder)."""
    if "sqlite" not in _served:
        root = run_folder(tmp_path_factory)
        folder = root / "demo-first-start"
        with _locked(root / "demo-first-start.lock"):
            if not (folder / _MADE).exists():
                shutil.rmtree(folder, ignore_errors=True)
                shutil.rmtree(_keys_of(folder), ignore_errors=True)
                folder.mkdir()
                process, _base, log = serve_process(folder, "first-start", ONERETURN_SCHEDULER_EMBEDDED="false")
                stop(process)
                (folder / _MADE).write_text(log.name)
        _served["sqlite"] = folder
    folder = _served["sqlite"]
    return FirstStart(folder, (folder / (folder / _MADE).read_text()).read_text(errors="replace"))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (across processes) for the block; give up after ``_LOCK_SECONDS``."""
    with path.open("a") as handle:
        deadline = time.monotonic() + _LOCK_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path} was held for over {_LOCK_SECONDS} s") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def serve_demo_copy(
    tmp_path_factory: pytest.TempPathFactory, data: Path, name: str = "server", **settings: str
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """``serve_process`` on a copy, in ``data``, of the store the first start loaded the demo into (``served_demo``).

    The copy has the demo's uploads on record, so this start, like any later start of a user's service, loads
    the catalogue and keys again and not the demo.
    """
    return serve_process(demo_copy(tmp_path_factory, data), name, **settings)


def demo_copy(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    """A copy, in ``data``, of the data folder the first start loaded the demo into (``served_demo``); ``data``."""
    copy_folder(served_demo(tmp_path_factory).folder, data)
    return data


#: What ``loaded_store`` can do on a store, in the order given: each of the demo's loads.
LOADS: dict[str, Callable[[Engine, Settings], list[DemoUpload]]] = {
    "published": load_published,
    "records": load_records_demo,
}


@dataclass(frozen=True)
class LoadedStore:
    """A store with some of the demo's loads done, to copy per test: its template, data folder and what each load said."""

    template: str
    data: Path
    said: dict[str, list[DemoUpload]]


def _made(store_template: str, tmp_path_factory: pytest.TempPathFactory, loads: tuple[str, ...]) -> LoadedStore:
    """A copy of the catalogue's store with ``loads`` done on it, kept as a template: made once per run, by the first
    pytest-xdist process to ask (the others wait for it, bounded, as for ``served_demo``), and read by all of them."""
    backend = store_template.split(":", 1)[0]
    key = (backend, loads)
    if key not in _loaded:
        root = run_folder(tmp_path_factory)
        where = root / f"demo-{backend}-{'-'.join(loads)}"
        with _locked(root / f"{where.name}.lock"):
            if not (where / _MADE).exists():
                shutil.rmtree(where, ignore_errors=True)
                where.mkdir()
                template, said = _make_loaded(store_template, tmp_path_factory, loads, where)
                (where / _MADE).write_text(json.dumps({"template": template, "said": said}))
        made = json.loads((where / _MADE).read_text())
        told = {load: [DemoUpload(**upload) for upload in uploads] for load, uploads in made["said"].items()}
        _loaded[key] = LoadedStore(made["template"], where / "data", told)
    return _loaded[key]


def _make_loaded(
    store_template: str, tmp_path_factory: pytest.TempPathFactory, loads: tuple[str, ...], where: Path
) -> tuple[str, dict[str, list[dict[str, str]]]]:
    """Do ``loads`` on a copy of the catalogue's store in ``where``; its template and what each load said."""
    settings = Settings(data_dir=where / "data")
    # Made on the store of the loads before the last when there are several, itself made once.
    before = _made(store_template, tmp_path_factory, loads[:-1]) if len(loads) > 1 else None
    if before is not None:
        copy_folder(before.data, settings.data_dir)
        copy_kept(before.data.parent, where)
    with copied_store(before.template if before else store_template, where) as engine:
        earlier = before.said if before else {}
        said = {load: [asdict(upload) for upload in uploads] for load, uploads in earlier.items()}
        said[loads[-1]] = [asdict(upload) for upload in LOADS[loads[-1]](engine, settings)]
        if store_template.startswith("sqlite:"):
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            return f"sqlite:{engine.url.database}", said
        engine.dispose()
        compact(str(engine.url.database))
        # Kept under a name every process of the run knows, so the copy's drop when the block ends finds nothing to
        # drop; the run's controlling process drops it at the run's end (``tests.stores.drop_run_shared``).
        name = f"{PG_RUN_SHARED}demo_{'_'.join(loads)}"
        pg_admin(
            f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"ALTER DATABASE {engine.url.database} RENAME TO {name}"
        )
        return f"postgresql:{name}", said


@contextmanager
def loaded_store(
    store_template: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, loads: tuple[str, ...]
) -> Iterator[Engine]:
    """A private copy of the catalogue's store with the demo's ``loads`` done on it (made once per run and
    backend), its kept uploads in ``tmp_path / "data"`` (the ``store_settings`` fixture's)."""
    made = _made(store_template, tmp_path_factory, loads)
    target = tmp_path / "data"
    copy_folder(made.data, target)
    copy_kept(made.data.parent, tmp_path)
    with copied_store(made.template, tmp_path) as engine:
        yield engine


def demo_store_fixture(name: str, *loads: str) -> Any:
    """A fixture called ``name``: a private store with the demo's ``loads`` done, as ``loaded_store`` makes it.

    Named ``store``, it stands in for the conftest's in a test module (``store_client`` then uses it too).
    """

    def made(store_template: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[Engine]:
        with loaded_store(store_template, tmp_path_factory, tmp_path, loads) as engine:
            yield engine

    return pytest.fixture(name=name)(made)


def demo_said(store_template: str, *loads: str) -> dict[str, list[DemoUpload]]:
    """What each of the demo's ``loads`` said when the store a ``demo_store_fixture`` copies was made."""
    return _loaded[(store_template.split(":", 1)[0], loads)].said
