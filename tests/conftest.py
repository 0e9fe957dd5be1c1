"""Shared fixtures: real databases (a SQLite file, and PostgreSQL when configured), one rolled-back
transaction per test, and an API client bound to that transaction."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlmodel import Session

from api.deps import get_session
from api.main import create_app
from mappings.catalogue import Catalogue, load_catalogue
from mappings.service import load_bundled
from onereturn import db
from onereturn.settings import Settings


def _database_per_worker(url: str) -> str:
    """The configured PostgreSQL URL, or under pytest-xdist a database of its own per worker.

    Each worker drops and recreates schemas and template databases, so two workers sharing one
    database would undo each other's set-up; each gets ``<name>_<worker>``, made when missing.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker:
        return url
    base, name = url.rsplit("/", 1)
    own = f"{name or 'test'}_{worker}"
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": own}).first() is None:
                conn.exec_driver_sql(f'CREATE DATABASE "{own}"')
    finally:
        admin.dispose()
    return f"{base}/{own}"


#: PostgreSQL for the database tests; CI sets it (see .ci/run).
PG_URL = _database_per_worker(os.environ.get("ONERETURN_TEST_DATABASE_URL", ""))
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


#: The files that take longest, longest first (a whole run on 2 cores, 25 November 2026); they start first and
#: the many short files fill in after them, so both workers end together. ``./run test`` turns off
#: pytest-xdist's own order, which starts the files with the most tests first; ordered by tests alone, the
#: slow files of one or two tests (the records benchmark, the ended connections, the demo's records) came
#: last and one worker ran them alone for minutes after the other had finished.
SLOW_FIRST = (
    "tests/api/test_committed.py",
    "tests/web/test_pages.py",
    "tests/test_scheduler.py",
    "tests/api/test_upload_processes.py",
    "tests/web/test_browser.py",
    "tests/collectors/test_records_upload.py",
    "tests/test_stops.py",
    "tests/test_bench_records.py",
    "tests/test_lost_connections.py",
    "tests/test_demo_records.py",
    "tests/web/test_records_pages.py",
    "tests/web/test_signoff_page.py",
    "tests/api/test_schemathesis.py",
    "tests/test_load.py",
    "tests/test_two_workers.py",
    "tests/api/test_access_matrix.py",
    "tests/collectors/test_records_contract.py",
    "tests/collectors/test_latest_earlier.py",
    "tests/test_bench_scale.py",
    "tests/collectors/test_fuzz.py",
    "tests/collectors/test_interrupted.py",
    "tests/exports/test_burden_records.py",
    "tests/web/test_due_next.py",
)


def _file_order(items: list[pytest.Item]) -> list[pytest.Item]:
    """The slow files first, then the others with the most tests first; each file's tests in their own order."""
    by_file: dict[str, list[pytest.Item]] = {}
    for item in items:
        by_file.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    ordered = sorted(by_file, key=lambda name: (rank.get(name, len(rank)), -len(by_file[name]), name))
    return [item for name in ordered for item in by_file[name]]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:  # noqa: ARG001 (pytest's hook signature)
    """Start the slow files first; skip the PostgreSQL runs only where no PostgreSQL is configured (CI always does)."""
    items[:] = _file_order(items)
    if PG_URL:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError("CI must set ONERETURN_TEST_DATABASE_URL so the PostgreSQL tests run")
    skip = pytest.mark.skip(reason="ONERETURN_TEST_DATABASE_URL is not set")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def fresh_engine(backend: str, tmp_root: Path) -> Engine:
    """Make an empty, migrated database of the given kind."""
    if backend == "sqlite":
        engine = db.make_engine(f"sqlite:///{tmp_root / 'test.sqlite3'}")
    else:
        engine = db.make_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.upgrade(engine)
    return engine


@pytest.fixture(scope="session")
def bundled_catalogue() -> Catalogue:
    """The bundled catalogue, read and checked once."""
    return load_catalogue()


@pytest.fixture(scope="session")
def _engines() -> Iterator[dict[str, Engine]]:
    """The loaded databases of every backend made so far, kept for the whole session."""
    made: dict[str, Engine] = {}
    yield made
    for eng in made.values():
        eng.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    bundled_catalogue: Catalogue,
    _engines: dict[str, Engine],
) -> Engine:
    """A migrated database with the bundled catalogue and geography loaded, per backend.

    Made once per backend and kept: pytest tears a parametrised fixture down whenever the next test
    wants the other parameter, which happens at nearly every test file, and loading costs seconds.
    """
    if request.param not in _engines:
        eng = fresh_engine(request.param, tmp_path_factory.mktemp(request.param))
        with db.session_scope(eng) as session:
            load_bundled(session, catalogue=bundled_catalogue)
        _engines[request.param] = eng
    return _engines[request.param]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    sess = Session(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield sess
    finally:
        sess.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def client(session: Session, engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    """An API client whose requests run inside the test's transaction."""
    app = create_app(Settings(data_dir=tmp_path), engine=engine)

    def override() -> Iterator[Session]:
        yield session

    app.dependency_overrides[get_session] = override
    with TestClient(app) as test_client:
        yield test_client


#: Named after the test database, so suites pointed at different databases never share a template.
_PG_TEMPLATE = f"onereturn_{PG_URL.rsplit('/', 1)[-1] or 'test'}_template"


def _pg_admin_url(database: str) -> str:
    return PG_URL.rsplit("/", 1)[0] + f"/{database}"


def _make_template(backend: str, tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> str:
    """Make a loaded database to copy per test: a SQLite file path, or a PostgreSQL template database name."""
    if backend == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        eng = db.make_engine(f"sqlite:///{path}")
        db.upgrade(eng)
        with db.session_scope(eng) as session:
            load_bundled(session, catalogue=catalogue)
        with eng.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        eng.dispose()
        return f"sqlite:{path}"
    admin = db.make_engine(_pg_admin_url("postgres")).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_PG_TEMPLATE} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {_PG_TEMPLATE}")
    admin.dispose()
    eng = db.make_engine(_pg_admin_url(_PG_TEMPLATE))
    db.upgrade(eng)
    with db.session_scope(eng) as session:
        load_bundled(session, catalogue=catalogue)
    eng.dispose()
    return f"postgresql:{_PG_TEMPLATE}"


@pytest.fixture(scope="session")
def _templates() -> Iterator[dict[str, str]]:
    """The templates of every backend made so far, kept for the whole session and dropped at its end."""
    made: dict[str, str] = {}
    yield made
    if "postgresql" in made:
        admin = db.make_engine(_pg_admin_url("postgres")).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_PG_TEMPLATE} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def store_template(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    bundled_catalogue: Catalogue,
    _templates: dict[str, str],
) -> str:
    """A loaded database to copy per test, made once per backend (see ``engine`` for why it is kept)."""
    if request.param not in _templates:
        _templates[request.param] = _make_template(request.param, tmp_path_factory, bundled_catalogue)
    return _templates[request.param]


_counter = iter(range(10**6))


@contextmanager
def copied_store(store_template: str, directory: Path) -> Iterator[Engine]:
    """A private copy of the loaded template, dropped afterwards: a SQLite file in ``directory`` or a database."""
    kind, where = store_template.split(":", 1)
    if kind == "sqlite":
        target = directory / "store.sqlite3"
        shutil.copyfile(where, target)
        eng = db.make_engine(f"sqlite:///{target}")
        try:
            yield eng
        finally:
            eng.dispose()
        return
    name = f"{_PG_TEMPLATE}_{os.getpid()}_{next(_counter)}"
    admin = db.make_engine(_pg_admin_url("postgres")).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {where}")
    eng = db.make_engine(_pg_admin_url(name))
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def store(store_template: str, tmp_path: Path) -> Iterator[Engine]:
    """A private, fully loaded database for one test (uploads commit for real)."""
    with copied_store(store_template, tmp_path) as eng:
        yield eng


@pytest.fixture
def store_settings(tmp_path: Path) -> Settings:
    """Settings whose data folder (kept uploads) is the test's own."""
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def store_client(store: Engine, store_settings: Settings) -> Iterator[TestClient]:
    """An API client on a private database whose requests commit for real."""
    app = create_app(store_settings, engine=store)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def jobs_on(store: Engine) -> Iterator[Engine]:
    """A private database the scheduler's jobs run against, as the scheduler's own engine."""
    import scheduler

    scheduler._state["engine"] = store
    yield store
    scheduler._state.clear()
