"""The database engine and sessions: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL."""

from __future__ import annotations

import hashlib
import importlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, SQLModel

from onereturn.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Constraint names Alembic can rely on (and SQLite batch migrations need).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

#: Every module that defines tables, bottom floor first. Named, not imported, so this module
#: stays below the packages that define them.
MODEL_MODULES = (
    "indicators.models",
    "indicators.store.models",
    "mappings.models",
    "mappings.keys.models",
    "mappings.signoff.models",
    "mappings.establishments.models",
    "exports.models",
    "onereturn.outbox",
    "onereturn.models",
    "onereturn.audittrail",
    "collectors.records.models",
    "collectors.ssd.models",
    "indicators.published",
    "mappings.regions.models",
    "collectors.regions.models",
)


def metadata() -> MetaData:
    """Return the metadata with every table of the product registered."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return SQLModel.metadata


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()


#: Seconds a request waits for a pooled connection before the service answers 503 (busy).
POOL_TIMEOUT = 10


def pool_size(threads: int) -> int:
    """Connections one worker needs: two per request thread (a request's session and its upload's), plus the build worker's."""
    return 2 * threads + 4


#: Connections the standalone scheduler's jobs hold at once (a build, the lease sweep, a reminder run).
SCHEDULER_CONNECTIONS = 4


def connections_needed(settings: Settings, workers: int) -> int:
    """Connections ``workers`` API workers (their upload processes included) and the scheduler can hold at most."""
    per_worker = pool_size(settings.request_threads)
    if settings.upload_processes:
        # Twice: while renewed upload processes start, the ones they replace finish the uploads in hand.
        per_worker += 2 * pool_size(1) * settings.upload_slots
    return workers * per_worker + (0 if settings.scheduler_embedded else SCHEDULER_CONNECTIONS)


def connection_budget_warning(engine: Engine, settings: Settings, workers: int) -> str | None:
    """Say, on PostgreSQL, when the server's ``max_connections`` is below what this deployment can hold."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        limit = int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
        reserved = int(connection.exec_driver_sql("SHOW superuser_reserved_connections").scalar_one())
    need = connections_needed(settings, workers)
    if need <= limit - reserved:
        return None
    return (
        f"PostgreSQL allows {limit - reserved} connections ({limit} max_connections, {reserved} reserved) and "
        f"{workers} worker(s) at {settings.request_threads} request threads can hold {need}: when the server "
        "refuses one, requests are answered 503. Raise max_connections, lower ONERETURN_REQUEST_THREADS, "
        "or put PgBouncer in front."
    )


def _discard_on_failed_commit(context: ExceptionContext) -> None:
    # A commit (or rollback, or begin) that fails in the driver names no statement. It can leave its transaction
    # open on the connection (SQLite does), and SQLAlchemy then hands the connection back to the pool without
    # a rollback: the next request saw, and could have committed, the change that was refused. Such a
    # connection is closed instead, which ends its transaction; only it, not the whole pool.
    if context.statement is None and context.connection is not None:
        context.is_disconnect = True
        context.invalidate_pool_on_disconnect = False


def make_engine(url: str, *, threads: int = 16) -> Engine:
    """Create an engine for ``url`` with the connection settings the product relies on, its pool sized to ``threads``.

    Its errors never carry the statement's parameters (``hide_parameters``): they are what was sent (a search, a
    child's value), and an error's text is logged."""
    pool = {"pool_size": pool_size(threads), "max_overflow": 0, "pool_timeout": POOL_TIMEOUT}
    if url.startswith("sqlite:"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        memory = not path or path == ":memory:"
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            **({} if memory else pool),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, hide_parameters=True, **pool)
    event.listen(engine, "handle_error", _discard_on_failed_commit)
    return engine


#: PostgreSQL states of a connection that is gone: class 08 (connection exception), and the server ending it
#: (57P01 administrator command, 57P02 crash, 57P03 not accepting connections yet).
_GONE_STATES = frozenset({"57P01", "57P02", "57P03"})


def lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` says the database connection was lost (a failover, a restart, the server ending it)."""
    # Read from the driver's error, not from SQLAlchemy's connection_invalidated: a connection is also discarded
    # after a failed commit (_discard_on_failed_commit) that has nothing to do with the server going away.
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError):
        return False
    state = cause.sqlstate
    # Without a state the error is the client's own: the socket closed, or a connection already known lost.
    return state is None or state.startswith("08") or state in _GONE_STATES


#: Tries, and the pause between them, to learn on fresh connections whether a commit whose answer was lost was made.
OUTCOME_TRIES = 5
OUTCOME_PAUSE = 0.5


def commit_outcome(engine: Engine, made: Callable[[Session], bool]) -> bool | None:
    """After a commit whose answer was lost with its connection: whether it was made, asked by ``made`` (what the
    change alone would have stored) on fresh connections; None when the store cannot be reached to say."""
    for attempt in range(OUTCOME_TRIES):
        try:
            with Session(engine) as session:
                return made(session)
        except Exception as exc:
            if attempt == OUTCOME_TRIES - 1:
                log.warning("could not learn whether a commit was made: %s", type(exc).__name__)
            else:
                time.sleep(OUTCOME_PAUSE)
    return None


def commit_verified(session: Session, made: Callable[[Session], bool]) -> bool:
    """Commit; if the connection is lost with the commit in flight, return as a commit would when ``made`` finds the
    change stored, and raise the loss (a 503: nothing was stored) when it does not or the store cannot say.

    True when the answer was lost and the change found stored: the session's objects were rolled back with the
    lost connection, so the caller reads what it needs again."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    try:
        session.commit()
        return False
    except Exception as exc:
        if not lost_connection(exc):
            raise
        try:
            session.rollback()
        except Exception:
            log.debug("rolling back a lost connection's session failed", exc_info=True)
        if commit_outcome(engine, made):
            log.warning("the connection was lost as a commit was made; the change is stored: answered as done")
            return True
        raise


_engines: dict[str, Engine] = {}
_writers: dict[str, threading.Lock] = {}
_writers_guard = threading.Lock()


def advisory_key(*parts: str) -> int:
    """A 32-bit key for PostgreSQL's two-key advisory locks naming ``parts``, the same in every process.

    Two names may share a key: they then wait on each other, which is safe, only slower.
    """
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def writer(engine: Engine) -> Iterator[None]:
    """Let one large write at a time through on SQLite, queued here rather than polling SQLite's busy lock."""
    if engine.dialect.name != "sqlite":
        yield
        return
    with _writers_guard:
        lock = _writers.setdefault(str(engine.url), threading.Lock())
    with lock:
        yield


def get_engine(settings: Settings | None = None) -> Engine:
    """Return the shared engine for the configured database."""
    settings = settings or get_settings()
    url = settings.effective_database_url
    if url not in _engines:
        _engines[url] = make_engine(url, threads=settings.request_threads)
    return _engines[url]


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """Open a session that commits on success and rolls back on any error."""
    with Session(engine or get_engine()) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(engine: Engine) -> Any:
    """Build the Alembic configuration for ``engine`` without an ini file."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def _transactional_ddl(engine: Engine) -> Engine:
    """A SQLite engine on the same file whose transactions hold DDL too, so a migration stopped midway undoes itself.

    Python's sqlite3 opens a transaction only before INSERT, UPDATE or DELETE, so CREATE TABLE and ALTER
    TABLE were committed as they ran: a stop during the first migration left tables with no version
    recorded, and the store could never start again. The driver's own handling is turned off and SQLAlchemy's
    begin says BEGIN, as SQLAlchemy's SQLite notes advise.
    """
    ddl = make_engine(engine.url.render_as_string(hide_password=False), threads=1)

    def driver_hands_off(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        # Rebuilding a table other tables refer to (SQLite's way to change a constraint) fails with foreign
        # keys on, and the pragma is ignored inside a transaction: off here, checked after (``upgrade``).
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")

    def begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    event.listen(ddl, "connect", driver_hands_off)
    event.listen(ddl, "begin", begin)
    return ddl


def upgrade(engine: Engine | None = None) -> None:
    """Bring the database schema up to the latest migration, all of it or (stopped or failed midway) none of it."""
    from alembic import command

    engine = engine or get_engine()
    sqlite = engine.dialect.name == "sqlite"
    in_memory = sqlite and engine.url.database in (None, "", ":memory:")
    migrating = _transactional_ddl(engine) if sqlite and not in_memory else engine
    config = alembic_config(migrating)
    # In memory (tests only) the file cannot be opened twice: the pragma is set on the one connection instead.
    pragma = in_memory
    try:
        with migrating.connect() as connection:
            if pragma:
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()
            try:
                with connection.begin():
                    config.attributes["connection"] = connection
                    if _at_head(connection, config):
                        # Nothing to run, nor to check: on a SQLite store of the demo's size the check of every
                        # foreign key alone took 80 ms, at every start and every command.
                        return
                    command.upgrade(config, "head")
                    if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()):
                        raise RuntimeError(f"the migration left rows referring to nothing: {broken[:5]}")
            finally:
                if pragma:
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
    finally:
        if migrating is not engine:
            migrating.dispose()


def _at_head(connection: Any, config: Any) -> bool:
    """Whether the store's schema is at the newest migration already (read in the caller's transaction)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(config).get_heads())
    return set(MigrationContext.configure(connection).get_current_heads()) == heads


def rows_frame(rows: Sequence[Sequence[Any]], schema: Mapping[str, Any]) -> pl.DataFrame:
    """Turn rows read from the store into a frame of ``schema`` (columns in the rows' order)."""
    # Handed over column by column, which polars takes faster than a tuple per row.
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pl.DataFrame(dict(zip(schema, columns, strict=True)), schema=dict(schema))


def _copy_batches(cursor: Any, statement: str, batches: Iterable[Iterable[tuple[Any, ...]]]) -> None:
    for rows in batches:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def _copy_and_close(cursor: Any, statement: str, batches: Iterable[Iterable[tuple[Any, ...]]]) -> None:
    try:
        _copy_batches(cursor, statement, batches)
    finally:
        cursor.close()


def bulk_insert(
    session: Session,
    table: str,
    columns: Sequence[str],
    batches: Iterable[Iterable[tuple[Any, ...]]],
    *,
    pending: ExitStack | None = None,
) -> None:
    """Insert rows batch by batch through the driver's bulk path (COPY on PostgreSQL), in the caller's transaction.

    With ``pending`` on PostgreSQL the rows are copied in a thread, finished (and any error raised) when
    ``pending`` closes: the caller must not use the connection until then.
    """
    connection = session.connection()
    # The driver's own bulk path: the ORM would build a dict per row, which a million-row upload cannot afford.
    cursor: Any = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    names = ", ".join(f'"{c}"' for c in columns)
    if pending is not None and connection.dialect.name == "postgresql":
        # A thread of its own, as PostgreSQL checks a row's foreign keys only once its COPY has ended:
        # the driver waits for that without the interpreter lock, so the caller's work goes on meanwhile.
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"copy-{table}")
        done = worker.submit(_copy_and_close, cursor, f"COPY {table} ({names}) FROM STDIN", batches)
        worker.shutdown(wait=False)
        pending.callback(done.result)
        return
    try:
        for rows in batches:
            if connection.dialect.name == "postgresql":
                _copy_batches(cursor, f"COPY {table} ({names}) FROM STDIN", [rows])
            else:
                marks = ", ".join("?" * len(columns))
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
    finally:
        cursor.close()
