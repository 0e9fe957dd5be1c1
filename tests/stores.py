"""The test databases: which PostgreSQL (one per pytest-xdist worker), the bundled catalogue's templates and their copies.

Fixtures in ``conftest.py`` hand these out; a test that needs a store of its own beside its fixtures
(a second worker's, a copy made mid-test) uses ``copied_store`` directly.
"""

from __future__ import annotations

import atexit
import os
import shutil
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from mappings.catalogue import Catalogue
from mappings.service import load_bundled
from onereturn import db
from tests.pg_reset import Pristine, put_back, read_pristine


def without_flush_waits(database: str) -> str:
    """The statement that has every later connection to ``database`` commit without waiting for the server's disk.

    A commit is then answered once it is in the server's memory, before its write-ahead log reaches the disk; what
    it wrote is seen by every later statement at once, as before. Only a crash of the server itself could lose it,
    and no test survives one. Measured on three files' PostgreSQL tests (82 tests, one process, two rounds): 72.7
    and 63.4 s with each commit waiting, 58.6 and 50.1 s without.
    """
    return f"ALTER DATABASE {database} SET synchronous_commit = off"


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
            conn.exec_driver_sql(without_flush_waits(f'"{own}"'))
    finally:
        admin.dispose()
    return f"{base}/{own}"


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every pytest process of this run shares: the parent of each pytest-xdist worker's own."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


#: PostgreSQL for the database tests; CI sets it (see .ci/run).
_CONFIGURED = os.environ.get("ONERETURN_TEST_DATABASE_URL", "")
PG_URL = _database_per_worker(_CONFIGURED)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


#: Named after the test database, so suites pointed at different databases never share a template.
PG_TEMPLATE = f"onereturn_{PG_URL.rsplit('/', 1)[-1] or 'test'}_template"
#: The start of the name of each PostgreSQL template every pytest process of a run shares (``tests.demo_store``):
#: named after the configured database, not a worker's, and dropped by the run's controlling process at its end.
PG_RUN_SHARED = f"onereturn_{_CONFIGURED.rsplit('/', 1)[-1] or 'test'}_shared_"


def pg_admin_url(database: str) -> str:
    """The URL of ``database`` on the test PostgreSQL server."""
    return PG_URL.rsplit("/", 1)[0] + f"/{database}"


#: Each thread's connection to the server's ``postgres`` database, for pg_admin: two statements a PostgreSQL test (its
#: copy made, then dropped), each of which made an engine and a connection of its own (2 ms of CPU and 5 ms of wall
#: time a statement, measured over 100; under 0.1 ms on a connection kept).
_admin = threading.local()
_admins: list[psycopg.Connection[Any]] = []


def pg_admin(*statements: str) -> None:
    """Run statements that make, rename or drop databases on the test PostgreSQL server, each on its own."""
    conn: psycopg.Connection[Any] | None = getattr(_admin, "conn", None)
    if conn is None or conn.closed:
        url = make_url(pg_admin_url("postgres")).set(drivername="postgresql")
        conn = _admin.conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        _admins.append(conn)
    for statement in statements:
        conn.execute(statement.encode())


def make_template(backend: str, tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> str:
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
    pg_admin(
        f"DROP DATABASE IF EXISTS {PG_TEMPLATE} WITH (FORCE)",
        f"CREATE DATABASE {PG_TEMPLATE}",
        without_flush_waits(PG_TEMPLATE),
    )
    eng = db.make_engine(pg_admin_url(PG_TEMPLATE))
    db.upgrade(eng)
    with db.session_scope(eng) as session:
        load_bundled(session, catalogue=catalogue)
    eng.dispose()
    compact(PG_TEMPLATE)
    return f"postgresql:{PG_TEMPLATE}"


def compact(database: str) -> None:
    """Rewrite a PostgreSQL template database without the dead rows its making left, mostly in the system catalogues
    (every migration's DDL): 15 MB became 11, and each copy of it costs the server that much less to write."""
    admin = db.make_engine(pg_admin_url(database)).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql("VACUUM FULL")
    finally:
        admin.dispose()


def _file_copy() -> str:
    """How a copy is made: from PostgreSQL 15, by copying the template's files, which took the server about half the
    CPU of its default, writing every page to the log (0.07-0.10 s against 0.14 s a copy and drop, measured)."""
    if not PG_URL:
        return ""
    admin = db.make_engine(pg_admin_url("postgres"))
    try:
        with admin.connect() as conn:
            version = int(conn.exec_driver_sql("SHOW server_version_num").scalar_one())
    finally:
        admin.dispose()
    return " STRATEGY FILE_COPY" if version >= 150000 else ""


_FILE_COPY = _file_copy()
_counter = iter(range(10**6))
#: How many copies of each template are kept made ahead of the tests that will take them. Making one takes a
#: PostgreSQL server a fifth to half a second, mostly waiting on its disk, and most tests take less than that: with
#: one copy made ahead, each test waited for the next; with a few, and two made at once, the copies keep up.
SPARES = 3
#: PostgreSQL's share of a copied store, done beside the tests in threads of their own: the next tests' copies are
#: made while a test runs (two at a time), and a finished test's copy dropped in a thread of its own while the next
#: ones run (dropping a database waits for the server's disk too).
_beside = ThreadPoolExecutor(max_workers=2, thread_name_prefix="store-copies")
_dropper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-drops")
#: The copies made ahead for the next tests, or put back for them, per template, oldest first.
_spares: dict[str, deque[Future[str]]] = {}
#: Drops not yet seen to have finished; one that failed fails the next test that copies a store.
_drops: list[Future[None]] = []
#: What a fresh copy of each template holds (``tests.pg_reset``), read from its first copy; None where it is too
#: large to hold, so its used copies are dropped.
_pristine: dict[str, Pristine | None] = {}
_pristine_lock = threading.Lock()
#: How many used copies were put back for another test, and how many dropped instead (the run's end reports them).
put_back_count = {"put back": 0, "dropped": 0}


def _connect(name: str) -> psycopg.Connection[Any]:
    url = make_url(pg_admin_url(name)).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False))


def _create_copy(template: str) -> str:
    """Make a new database from the PostgreSQL template ``template``; return its name."""
    name = f"{PG_TEMPLATE}_{os.getpid()}_{next(_counter)}"
    pg_admin(f"CREATE DATABASE {name} TEMPLATE {template}{_FILE_COPY}", without_flush_waits(name))
    with _pristine_lock:
        if template not in _pristine:
            with _connect(name) as conn:
                _pristine[template] = read_pristine(conn)
    return name


def _rename(name: str, renamed: str, seconds: float = 2.0) -> None:
    """Rename a database once the server has ended the last connection to it (a closed one's process may still be
    ending)."""
    waited = threading.Event()
    for _ in range(int(seconds / 0.05)):
        try:
            pg_admin(f"ALTER DATABASE {name} RENAME TO {renamed}")
            return
        except psycopg.errors.ObjectInUse:
            waited.wait(0.05)
    pg_admin(f"ALTER DATABASE {name} RENAME TO {renamed}")


def _recycle(template: str, name: str) -> str:
    """A used copy put back to what a fresh copy holds, for the next test; or, where it cannot be, dropped and a new
    copy made in its place."""
    pristine = _pristine.get(template)
    if pristine is not None:
        try:
            with _connect(name) as conn:
                done = put_back(conn, pristine)
            if done:
                # Under a new name: what the service keeps by a store's address (a build's key, England's tables)
                # must not meet the last test's under the same one.
                renamed = f"{PG_TEMPLATE}_{os.getpid()}_{next(_counter)}"
                _rename(name, renamed)
                put_back_count["put back"] += 1
                return renamed
        except psycopg.Error:
            pass  # renamed, dropped or broken by its test: dropped (if still there) and copied afresh below
    put_back_count["dropped"] += 1
    _drop(name)
    return _create_copy(template)


def _drop(name: str) -> None:
    """Drop a copied database, ending any connection still open on it."""
    pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _pg_copy(template: str) -> str:
    """A fresh copy of ``template`` for one test (the oldest made ahead, when there is one), and more made ahead."""
    while _drops and _drops[0].done():
        _drops.pop(0).result()
    ahead = _spares.setdefault(template, deque())
    name = ahead.popleft().result() if ahead else _create_copy(template)
    while len(ahead) < SPARES:
        ahead.append(_beside.submit(_create_copy, template))
    return name


def finish_copies() -> None:
    """Wait for the drops still under way, and drop the copies made ahead that no test took: the run's end."""
    while _drops:
        _drops.pop(0).result()
    for ahead in _spares.values():
        while ahead:
            spare = ahead.popleft()
            if spare.exception() is None:
                _drop(spare.result())
    _spares.clear()


def drop_run_shared() -> None:
    """Drop the templates the run's pytest processes shared: the run's end, in the process that started the others."""
    finish_copies()
    admin = db.make_engine(pg_admin_url("postgres"))
    try:
        with admin.connect() as conn:
            names = conn.execute(
                text("SELECT datname FROM pg_database WHERE starts_with(datname, :shared)"), {"shared": PG_RUN_SHARED}
            ).scalars()
            shared = list(names)
    finally:
        admin.dispose()
    for name in shared:
        pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _close_admins() -> None:
    for conn in _admins:
        conn.close()


# Where the run ends without the session's fixtures ending (an interrupted run), the copies are dropped as it exits
# (exit handlers run last registered first: the drops, then the connections they used are closed).
atexit.register(_close_admins)
atexit.register(finish_copies)


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
    name = _pg_copy(where)
    eng = db.make_engine(pg_admin_url(name))
    try:
        yield eng
    finally:
        eng.dispose()
        # Put back (or dropped and made afresh) beside the next tests, and taken by a later one.
        _spares.setdefault(where, deque()).append(_dropper.submit(_recycle, where, name))
