"""Shared fixtures: real databases (a SQLite file, and PostgreSQL when configured), one rolled-back
transaction per test, and an API client bound to that transaction."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.deps import get_session
from mappings.catalogue import Catalogue, load_catalogue
from onereturn.settings import Settings
from tests.apps import client_on, lent_app
from tests.stores import (
    BACKENDS,
    PG_TEMPLATE,
    PG_URL,
    copied_store,
    drop_run_shared,
    finish_copies,
    make_template,
    pg_admin,
    run_folder,
)

#: Opt-in: where a run's CPU goes, test by test (``tests/cpu_log.py``).
pytest_plugins = ["tests.cpu_log"] if os.environ.get("ONERETURN_TEST_CPU_LOG") else []

#: The files that take longest, longest first (a whole run on 2 cores, 26 November 2026); they start first and
#: the many short files fill in after them, so the workers end together. ``./run test`` turns off
#: pytest-xdist's own order, which starts the files with the most tests first; ordered by tests alone, the
#: slow files of one or two tests (the records benchmark, the ended connections, the two workers) came
#: last and one worker ran them alone for minutes after the other had finished.
SLOW_FIRST = (
    "tests/web/test_browser.py",
    "tests/test_scheduler.py",
    "tests/test_stops.py",
    "tests/api/test_schemathesis.py",
    "tests/api/test_committed.py",
    "tests/api/test_upload_processes.py",
    "tests/web/test_pages.py",
    "tests/test_bench_records.py",
    "tests/test_lost_connections.py",
    "tests/test_two_workers.py",
    "tests/api/test_signoffs.py",
    "tests/web/test_approvals_page.py",
    "tests/web/test_signoff_page.py",
    "tests/test_load.py",
    "tests/api/test_access_matrix.py",
    "tests/test_scheduler_lock.py",
    "tests/published/test_demo_published.py",
    "tests/exports/test_freshness.py",
    "tests/collectors/records/test_records_upload.py",
    "tests/api/test_signoff_in_the_way.py",
    "tests/api/test_front_door.py",
    "tests/api/test_compare_api.py",
    "tests/api/test_sdmx_api.py",
    "tests/api/test_release.py",
    "tests/mappings/test_registry.py",
    "tests/web/test_records_pages.py",
)


def pytest_configure(config: pytest.Config) -> None:  # noqa: ARG001 (pytest's hook signature)
    """Let the collector run less often in a test process: it holds a large heap for the whole run (every module of
    the service and its tests, the apps, the stores' engines) and makes many short-lived objects, so each full
    collection walked all of it again. Measured on four API and page files: 69 full collections took 12 s of 93 s
    of CPU; at these thresholds, 5 took 0.5 s of 87. Whatever is unreachable is still collected, a little later."""
    gc.set_threshold(10_000, 50, 100)


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


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the PostgreSQL templates the run's processes shared, in the process that started them, once all have
    ended (under pytest-xdist the controller, which runs no test, so nothing of its own still copies one)."""
    if PG_URL and not hasattr(session.config, "workerinput"):
        drop_run_shared()


@pytest.fixture(scope="session", autouse=True)
def _rules_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """DfE's rules run once per distinct input in a test run, in this process (see ``tests/rules_cache.py``) and in
    the services the tests start (``tests/served_rules.py``)."""
    from collectors.records import contract
    from tests import served_rules
    from tests.rules_cache import remembering

    answers = run_folder(tmp_path_factory) / "dfe-answers"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contract, "_call", remembering(contract._call, answers))
        try:
            real = contract.validators_python()
        except contract.ValidatorUnavailable:
            yield  # the tests of the rules say so
            return
        served = served_rules.script(tmp_path_factory.mktemp("dfe-served"), answers, real, contract.DEFAULT_TIMEOUT_S)
        patch.setenv(served_rules.SERVED, str(served))
        yield


@pytest.fixture(scope="session")
def bundled_catalogue() -> Catalogue:
    """The bundled catalogue, read and checked once."""
    return load_catalogue()


@pytest.fixture(scope="session")
def _engines() -> Iterator[tuple[dict[str, Engine], ExitStack]]:
    """The loaded databases of every backend made so far, kept for the whole session, and what drops them."""
    made: dict[str, Engine] = {}
    with ExitStack() as copies:
        yield made, copies


@pytest.fixture(scope="session", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    bundled_catalogue: Catalogue,
    _templates: dict[str, str],
    _engines: tuple[dict[str, Engine], ExitStack],
) -> Engine:
    """A migrated database with the bundled catalogue and geography loaded, per backend: a copy of its template.

    Made once per backend and kept: pytest tears a parametrised fixture down whenever the next test
    wants the other parameter, which happens at nearly every test file, and loading costs seconds.
    """
    made, copies = _engines
    if request.param not in made:
        template = _template(request.param, tmp_path_factory, bundled_catalogue, _templates)
        made[request.param] = copies.enter_context(copied_store(template, tmp_path_factory.mktemp(request.param)))
    return made[request.param]


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

    def override() -> Iterator[Session]:
        yield session

    with lent_app(Settings(data_dir=tmp_path), engine) as app:
        app.dependency_overrides[get_session] = override
        with TestClient(app) as test_client:
            yield test_client


@pytest.fixture(scope="session")
def _templates() -> Iterator[dict[str, str]]:
    """The templates of every backend made so far, kept for the whole session and dropped at its end."""
    made: dict[str, str] = {}
    yield made
    finish_copies()
    if "postgresql" in made:
        pg_admin(f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)")


@pytest.fixture(scope="session", params=BACKENDS)
def store_template(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    bundled_catalogue: Catalogue,
    _templates: dict[str, str],
) -> str:
    """A loaded database to copy per test, made once per backend (see ``engine`` for why it is kept)."""
    return _template(request.param, tmp_path_factory, bundled_catalogue, _templates)


def _template(
    backend: str, tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue, made: dict[str, str]
) -> str:
    """The template of ``backend``, made on first use."""
    if backend not in made:
        made[backend] = make_template(backend, tmp_path_factory, catalogue)
    return made[backend]


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
    with client_on(store_settings, store) as test_client:
        yield test_client


@pytest.fixture
def jobs_on(store: Engine) -> Iterator[Engine]:
    """A private database the scheduler's jobs run against, as the scheduler's own engine."""
    from onereturn import jobs

    jobs.bind(engine=store)
    yield store
    jobs.unbind()
