"""Read stored figures by key, and write accepted figures as new versions in bulk.

Figures are never overwritten: a changed figure is a new version and the old one stops being
current; an unchanged figure is left alone. Writes go through the database driver's bulk path
(``executemany`` on SQLite; on PostgreSQL ``COPY`` into a staging table, then one statement that
retires the replaced versions and inserts the new ones) inside the caller's transaction, so a
failed upload leaves the store as it was.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from indicators.store.figures import FIGURE_KEY, FIGURE_NUMBERS, KEY_TYPES, NUMBER_TYPES
from mappings.revisions import mark_stale
from onereturn.db import advisory_key, rows_frame

KEY = ["indicator_id", "org_code", "period", "breakdown"]
CURRENT_SCHEMA = {
    **KEY_TYPES,
    "obs_id": pl.Int64,
    "version": pl.Int64,
    **NUMBER_TYPES,
    "symbol": pl.String,
    "flag": pl.String,
    "status": pl.String,
    "note": pl.String,
}
INSERT_COLUMNS = (
    *FIGURE_KEY,
    "version",
    "is_current",
    *FIGURE_NUMBERS,
    "symbol",
    "flag",
    "status",
    "note",
    "submission_id",
    "file_row",
    "recorded_at",
)
#: Stored figures read per batch.
FETCH_BATCH = 50_000
#: What makes a figure different from its last version (a new note alone is not a revision).
COMPARED = ("value", "numerator", "denominator", "symbol", "flag", "status")


def raw_cursor(session: Session) -> tuple[Any, str]:
    """A cursor of the driver under the session's connection (in its transaction), and the database's dialect."""
    connection = session.connection()
    dbapi: Any = connection.connection.dbapi_connection
    return dbapi.cursor(), connection.dialect.name


def current_figures(session: Session, indicator_ids: list[str], org_codes: list[str]) -> pl.DataFrame:
    """Return the current version of every stored figure for these indicators and org units."""
    if not indicator_ids or not org_codes:
        return pl.DataFrame(schema=CURRENT_SCHEMA)
    dbapi: Any = session.connection().connection.dbapi_connection
    cursor = dbapi.cursor()
    marks = "?" if session.get_bind().dialect.name == "sqlite" else "%s"
    inds = ",".join([marks] * len(indicator_ids))
    orgs = ",".join([marks] * len(org_codes))
    cursor.execute(
        "SELECT indicator_id, org_code, period, breakdown, id, version, value, numerator, denominator, symbol, flag, status, note "
        f"FROM observation WHERE is_current AND indicator_id IN ({inds}) AND org_code IN ({orgs})",
        [*indicator_ids, *org_codes],
    )
    found = fetch_figures(cursor)
    cursor.close()
    return found


def fetch_figures(cursor: Any) -> pl.DataFrame:
    """The figures the cursor's query returns, as a frame of CURRENT_SCHEMA."""
    # A batch of rows at a time: a million stored figures as Python tuples at once would take ~0.5 GB.
    frames = [pl.DataFrame(schema=CURRENT_SCHEMA)]
    while rows := cursor.fetchmany(FETCH_BATCH):
        frames.append(rows_frame(rows, CURRENT_SCHEMA))
    return pl.concat(frames, rechunk=True)


def current_for_keys(session: Session, keys: pl.DataFrame) -> pl.DataFrame:
    """Return the current version of exactly the figures named in ``keys``, whatever else the store holds.

    The keys go into a temporary staging table joined on the figure key, so the cost follows the
    upload, not the store (the unique key's index answers each one); keys of an (indicator, period)
    the store has nothing for are not looked up at all.
    """
    keys = keys.select(KEY)
    if keys.is_empty():
        return pl.DataFrame(schema=CURRENT_SCHEMA)
    cursor, dialect = raw_cursor(session)
    # The pairs probed first: an upload of new periods skips making its keys unique (0.3 s at 3M figures).
    keys = stored_cells(cursor, dialect, keys)
    if keys.is_empty():
        cursor.close()
        return pl.DataFrame(schema=CURRENT_SCHEMA)
    stage(cursor, dialect, "upload_key", KEY, keys.unique())
    # On SQLite CROSS JOIN fixes the order: the keys drive, each answered by the figure key's index.
    join = "CROSS JOIN" if dialect == "sqlite" else "JOIN"
    cursor.execute(keyed_read(join))
    found = fetch_figures(cursor)
    cursor.execute("DELETE FROM upload_key")
    cursor.close()
    return found


FIGURE_COLUMNS = "o.indicator_id, o.org_code, o.period, o.breakdown, o.id, o.version, o.value, o.numerator, o.denominator, o.symbol, o.flag, o.status, o.note"


def keyed_read(join: str) -> str:
    """The statement reading the current figures of the keys staged in ``upload_key``."""
    return (
        f"SELECT {FIGURE_COLUMNS} FROM upload_key k {join} observation o ON o.indicator_id = k.indicator_id "
        "AND o.period = k.period AND o.org_code = k.org_code AND o.breakdown = k.breakdown WHERE o.is_current"
    )


def retire_and_insert() -> str:
    """The statement ending the staged revisions' old versions and inserting them (PostgreSQL).

    Both parts see the store as it was before the statement: the old versions stop being current as
    the new ones arrive, and the unique key (new version = old + 1) refuses any race. The old versions
    are found by their ids as one array, so by the primary key's index: joined to the staging table,
    PostgreSQL may plan a scan of the whole store.
    """
    columns = ", ".join(INSERT_COLUMNS)
    return (
        "WITH retired AS (UPDATE observation o SET is_current = false "
        "WHERE o.id = ANY(ARRAY(SELECT obs_id FROM upload_figure))) "
        f"INSERT INTO observation ({columns}) SELECT {columns} FROM upload_figure "
        "ORDER BY indicator_id, period, org_code, breakdown"
    )


def stored_cells(cursor: Any, dialect: str, keys: pl.DataFrame) -> pl.DataFrame:
    """Keep the keys whose (indicator, period) has any stored figure: one index probe per pair, so a new period costs nothing."""
    mark = "?" if dialect == "sqlite" else "%s"
    pairs = keys.select("indicator_id", "period").unique()
    present = []
    for indicator, period in pairs.iter_rows():
        cursor.execute(
            f"SELECT 1 FROM observation WHERE indicator_id = {mark} AND period = {mark} LIMIT 1", (indicator, period)
        )
        if cursor.fetchone() is not None:
            present.append((indicator, period))
    if len(present) == pairs.height:
        return keys
    kept = pl.DataFrame(present, schema={"indicator_id": pl.String, "period": pl.String}, orient="row")
    return keys.join(kept, on=["indicator_id", "period"], how="semi")


def stage(cursor: Any, dialect: str, table: str, columns: list[str], rows: pl.DataFrame) -> None:
    """Fill a temporary table (made on first use, emptied first) with ``rows``: COPY on PostgreSQL, executemany on SQLite."""
    names = ", ".join(columns)
    if dialect == "sqlite":
        typed = ", ".join(f"{c} TEXT NOT NULL" for c in columns)
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({typed})")
        cursor.execute(f"DELETE FROM {table}")
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows.iter_rows())
    else:
        typed = ", ".join(f"{c} varchar NOT NULL" for c in columns)
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} ({typed}) ON COMMIT DELETE ROWS")
        cursor.execute(f"DELETE FROM {table}")
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows.iter_rows():
                copy.write_row(row)
        analyze(cursor, table)


def analyze(cursor: Any, table: str) -> None:
    """Give PostgreSQL the row count of a staging table just filled, so it joins it to the store by the index.

    A temporary table is never analysed by autovacuum: planned blind, a join of 5,000 staged keys
    sorted the whole store (118 ms at 165,000 figures, growing with the store) where 5,000 index
    probes take 25 ms. Analysing 5,000 rows takes about 6 ms.
    """
    cursor.execute(f"ANALYZE {table}")


#: Names the lock on PostgreSQL under which one store at a time marks builds stale, closes queries and commits.
WRITE_LOCK_KEY = 0x0E7E57A3
#: The class of PostgreSQL's per-(indicator, period) locks (the two-key form, a key space of its own).
PAIR_LOCK_CLASS = 0x0E7E


def lock_pairs(session: Session, figures: pl.DataFrame) -> None:
    """On PostgreSQL, let one store at a time write figures of each (indicator, period) in ``figures``, to the end of the transaction.

    Stores of different pairs write side by side; what every store touches beyond its own figures
    (builds' revision counters, earlier uploads' queries) waits for ``lock_tail``. SQLite has one
    writer at a time anyway.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql" or figures.is_empty():
        return
    keys = sorted({advisory_key(i, p) for i, p in figures.select("indicator_id", "period").unique().iter_rows()})
    # Taken in one order by every store, so two stores that want some of the same pairs never hold one
    # each and wait for the other's.
    connection.exec_driver_sql(
        "SELECT count(pg_advisory_xact_lock(%s, k)) FROM (SELECT unnest(%s::int[]) AS k ORDER BY 1) AS pairs",
        (PAIR_LOCK_CLASS, keys),
    )


def lock_tail(session: Session) -> None:
    """On PostgreSQL, let one store at a time go on from here (marking builds stale, closing queries) to its commit."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Taken after the pair locks and before any row two stores of different pairs could both update,
        # so no store waits for a row while holding what another store waits for.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))


def _take_sqlite_write_lock(session: Session, submission_id: int) -> None:
    # A read first, then a write after another writer's commit, fails at once with "database is locked"
    # whatever the busy timeout; a first write takes the lock before the read.
    session.connection().exec_driver_sql(
        "UPDATE submission SET status = 'storing' WHERE id = ? AND status = 'storing'", (submission_id,)
    )


@contextmanager
def storing(engine: Engine, submission_id: int, figures: pl.DataFrame) -> Iterator[Session]:
    """A session that stores one upload's ``figures``, holding the locks for them, which the caller commits.

    On PostgreSQL the (indicator, period) pairs of the figures are locked (``lock_pairs``); on
    SQLite the database's one write lock is taken, and the transaction runs with the per-row
    foreign-key checks off: every row it writes refers to this submission (checked here, under the
    lock) or, for figures, to the catalogue's indicators (checked by ``write_figures``, once per
    indicator rather than once per row: 0.5 s of a million-figure upload). The pragma only changes
    outside a transaction, so the connection is held from before the transaction to after it, and
    always handed back to the pool with the checks on.
    """
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with Session(bind=connection, expire_on_commit=False) as session:
                if sqlite:
                    _take_sqlite_write_lock(session, submission_id)
                    _check_submission(session, submission_id)
                else:
                    lock_pairs(session, figures)
                yield session
        finally:
            if sqlite:
                try:
                    connection.rollback()
                    connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                    connection.commit()
                except BaseException:
                    # Never let a connection without the checks back into the pool.
                    connection.invalidate()
                    raise


def _check_submission(session: Session, submission_id: int) -> None:
    """Refuse to go on when the submission the transaction's rows refer to is not stored."""
    found = session.connection().exec_driver_sql("SELECT 1 FROM submission WHERE id = ?", (submission_id,))
    if found.first() is None:
        raise sqlite3.IntegrityError(f"FOREIGN KEY constraint failed: submission {submission_id} is not stored")


def _check_indicators(cursor: Any, changed: pl.DataFrame) -> None:
    """Refuse figures of an indicator the catalogue does not hold (SQLite, with per-row foreign-key checks off)."""
    wanted = changed["indicator_id"].unique().to_list()
    cursor.execute("SELECT id FROM indicator WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(wanted),))
    missing = sorted(set(wanted) - {row[0] for row in cursor.fetchall()})
    if missing:
        raise sqlite3.IntegrityError(
            f"FOREIGN KEY constraint failed: indicator(s) {', '.join(missing[:5])} not in the catalogue"
        )


def split_changes(accepted: pl.DataFrame, current: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split accepted figures into those to store (with their version and the id they replace) and unchanged ones."""
    joined = accepted.join(current.rename({c: f"cur_{c}" for c in (*COMPARED, "note")}), on=KEY, how="left")
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"cur_{c}")) for c in COMPARED)
    unchanged = joined.filter(pl.col("obs_id").is_not_null() & same)
    changed = joined.filter(pl.col("obs_id").is_null() | ~same).with_columns(
        (pl.col("version").fill_null(0) + 1).alias("version")
    )
    return changed, unchanged


def write_figures(session: Session, changed: pl.DataFrame, *, submission_id: int, recorded_at: datetime) -> None:
    """Retire the versions ``changed`` replaces and insert its rows as current versions; then, holding
    ``lock_tail`` to the end of the transaction, mark stale the builds they reach.

    ``changed`` says what the write displaced (``obs_id``: the version each figure replaces, null for a new one):
    the caller hands it to sign-off (``mappings.signoff.reopen.reopen_for_upload``), which reopens what it reaches.
    """
    if not changed.is_empty():
        _write_rows(session, changed, submission_id, recorded_at)
    # Taken whether or not anything was written: what the caller does next (closing queries) needs it too.
    lock_tail(session)
    # In the same transaction as the figures, so a build that saw them also sees its counter moved.
    mark_stale(session, changed)


def _write_rows(session: Session, changed: pl.DataFrame, submission_id: int, recorded_at: datetime) -> None:
    connection = session.connection()
    dbapi: Any = connection.connection.dbapi_connection
    cursor = dbapi.cursor()
    # In the unique key's order (indicator, period, org, breakdown), so the index is written in runs.
    rows = in_key_order(changed)
    # Written a slice at a time, so the shaped copies of the rows each write makes stay small.
    if connection.dialect.name == "sqlite":
        if not cursor.execute("PRAGMA foreign_keys").fetchone()[0]:
            _check_indicators(cursor, changed)
        replaced = changed["obs_id"].drop_nulls().to_list()
        if replaced:
            cursor.executemany("UPDATE observation SET is_current = 0 WHERE id = ?", [(i,) for i in replaced])
        for part in rows.iter_slices(WRITE_SLICE):
            _insert_sqlite(cursor, part, submission_id, recorded_at.strftime("%Y-%m-%d %H:%M:%S.%f"))
    else:
        _write_postgresql(cursor, rows, submission_id, recorded_at)
    cursor.close()


def in_key_order(rows: pl.DataFrame) -> pl.DataFrame:
    """Sort figures into the order of the store's unique key: indicator, period, org unit, breakdown."""
    # Each key column stands in as its rank among its few distinct values, and the four ranks as one
    # number: at three million figures that sorts in 0.6 s, the four ranks in 1.3 s, the strings in more.
    ranks = []
    span = 1
    for name in ("indicator_id", "period", "org_code", "breakdown"):
        distinct = rows[name].unique().sort()
        ranks.append(
            (pl.col(name).replace_strict(distinct, pl.Series(range(distinct.len()), dtype=pl.UInt64)), distinct.len())
        )
        span *= max(distinct.len(), 1)
    if span >= 1 << 64:
        return rows.sort([rank for rank, _ in ranks])
    key = pl.lit(0, pl.UInt64)
    for rank, count in ranks:
        key = key * count + rank
    return rows.sort(key)


def _write_postgresql(cursor: Any, rows: pl.DataFrame, submission_id: int, recorded_at: datetime) -> None:
    """COPY first versions straight into the store; COPY revisions into a staging table, then retire what they
    replace and insert them in one statement."""
    columns = ", ".join(INSERT_COLUMNS)
    first = rows.filter(pl.col("obs_id").is_null())
    revised = rows.filter(pl.col("obs_id").is_not_null())
    # A first version replaces nothing, so it needs no staging pass: the unique key (version 1 of the
    # key) still refuses a concurrent upload of the same new figure.
    if not first.is_empty():
        _copy_rows(cursor, f"COPY observation ({columns}) FROM STDIN", first, submission_id, recorded_at, obs_id=False)
    if revised.is_empty():
        return
    # Typed as the figures are; emptied at commit, and kept by the connection for the next upload.
    cursor.execute(
        "CREATE TEMP TABLE IF NOT EXISTS upload_figure ON COMMIT DELETE ROWS AS "
        f"SELECT {columns}, id AS obs_id FROM observation WITH NO DATA"
    )
    cursor.execute("DELETE FROM upload_figure")
    _copy_rows(
        cursor, f"COPY upload_figure ({columns}, obs_id) FROM STDIN", revised, submission_id, recorded_at, obs_id=True
    )
    cursor.execute(retire_and_insert())


def _copy_rows(
    cursor: Any, statement: str, rows: pl.DataFrame, submission_id: int, recorded_at: datetime, *, obs_id: bool
) -> None:
    """Write ``rows`` in INSERT_COLUMNS order (and the replaced figure's id when ``obs_id``) through one COPY."""
    with cursor.copy(statement) as copy:
        for part in rows.iter_slices(WRITE_SLICE):
            for row in part.select(
                *KEY, "version", *OPTIONAL[:5], "status", *OPTIONAL[5:], "file_row", "obs_id"
            ).iter_rows():
                values = (*row[:5], True, *row[5:-2], submission_id, row[-2], recorded_at)
                copy.write_row((*values, row[-1]) if obs_id else values)


#: Figures written per slice.
WRITE_SLICE = 100_000
#: Columns a figure may leave empty; binding only those a row has makes SQLite's bulk insert twice as fast.
OPTIONAL = ("value", "numerator", "denominator", "symbol", "flag", "note")


def _insert_sqlite(cursor: Any, rows: pl.DataFrame, submission_id: int, stamp: str) -> None:
    shape = [pl.col(c).is_not_null().any().alias(c) for c in OPTIONAL]
    flags = [f"_has_{c}" for c in OPTIONAL]
    marked = rows.with_columns(pl.col(c).is_not_null().alias(f"_has_{c}") for c in OPTIONAL)
    for _, group in marked.group_by(flags, maintain_order=True):
        present = [c for c, has in zip(OPTIONAL, group.select(shape).row(0), strict=True) if has]
        params = ["indicator_id", "org_code", "period", "breakdown", *present, "file_row"]
        constants = {"is_current": "1", "submission_id": str(int(submission_id)), "recorded_at": f"'{stamp}'"}
        for name in ("version", "status"):
            values = group[name].unique()
            if values.len() == 1 and (name == "version" or values[0] in ("final", "provisional", "estimated")):
                constants[name] = str(int(values[0])) if name == "version" else f"'{values[0]}'"
            else:
                params.append(name)
        columns = ", ".join([*params, *constants])
        marks = ", ".join(["?"] * len(params) + list(constants.values()))
        cursor.executemany(f"INSERT INTO observation ({columns}) VALUES ({marks})", group.select(params).iter_rows())
