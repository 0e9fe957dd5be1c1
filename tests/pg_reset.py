"""A used PostgreSQL copy of a template put back to the template's rows, so the next test can take it rather than a
new copy.

Each new copy (``CREATE DATABASE … TEMPLATE``, by file copy) and each drop asks the server for a checkpoint, which
waits on the disk every test and session shares: three a PostgreSQL test, about 3,500 a run. Most tests change a few
rows of a store whose catalogue is about 6,000 rows; putting those back is a few statements.

A copy is put back only when nothing but its rows changed: its shape (tables, columns, constraints, indexes,
triggers, functions, types, extensions, settings, large objects) the same as a fresh copy's, and no other connection
left on it. Otherwise it is dropped and a new copy made, as before. What a fresh copy holds is read once per template,
from its first copy before any test has it (the template itself cannot be read while copies are made from it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

#: Rows of a template larger than this (COPY's binary form) are not held to put back: its copies are dropped instead.
MOST_BYTES = 64 * 1024 * 1024
#: How long a used copy may still show another connection (a closed one's server process ending) before it is dropped.
SETTLE_SECONDS = 2.0

_USER = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' "
    "AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
)
#: Everything of a database but its rows, as one digest: what a test may change that putting rows back would not undo.
SHAPE = f"""
SELECT md5(string_agg(x, E'\\n' ORDER BY x)) FROM (
  SELECT concat_ws(' ', 'r', n.nspname, c.relname, c.relkind, c.relpersistence)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_USER}
  UNION ALL SELECT concat_ws(' ', 'a', c.oid::regclass, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
      a.attnotnull, a.attisdropped, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE {_USER} AND a.attnum > 0
  UNION ALL SELECT concat_ws(' ', 'k', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
    FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE {_USER}
  UNION ALL SELECT concat_ws(' ', 'i', pg_get_indexdef(i.indexrelid))
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {_USER}
  UNION ALL SELECT concat_ws(' ', 't', t.tgrelid::regclass, t.tgname, t.tgenabled) FROM pg_trigger t
    WHERE NOT t.tgisinternal
  UNION ALL SELECT concat_ws(' ', 'f', p.oid::regprocedure, md5(p.prosrc))
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {_USER}
  UNION ALL SELECT concat_ws(' ', 'y', n.nspname, t.typname, t.typtype)
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {_USER}
  UNION ALL SELECT concat_ws(' ', 'e', e.enumtypid::regtype, e.enumlabel, e.enumsortorder) FROM pg_enum e
  UNION ALL SELECT concat_ws(' ', 'x', extname, extversion) FROM pg_extension
  UNION ALL SELECT concat_ws(' ', 'n', nspname) FROM pg_namespace n WHERE {_USER}
  UNION ALL SELECT concat_ws(' ', 'p', policyname) FROM pg_policies
  UNION ALL SELECT concat_ws(' ', 'o', count(*)) FROM pg_largeobject_metadata
  UNION ALL SELECT concat_ws(' ', 's', array_to_string(setconfig, ',')) FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) AS shape(x)
"""
_TABLES = """
SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1
"""
_SEQUENCES = """
SELECT format('%I.%I', schemaname, sequencename), coalesce(last_value, start_value), last_value IS NOT NULL
FROM pg_sequences ORDER BY 1
"""
_OTHERS = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"


@dataclass(frozen=True)
class Pristine:
    """A template's state as a fresh copy of it holds it: its shape, its tables, the rows of those that have any
    (with a digest of each), and where each sequence stands."""

    shape: str
    tables: tuple[str, ...]
    digests: dict[str, tuple[int, int]]
    rows: dict[str, bytes]
    sequences: tuple[tuple[str, int, bool], ...]


def _digests(conn: psycopg.Connection[Any], tables: list[str] | tuple[str, ...]) -> dict[str, tuple[int, int]]:
    """Each table's row count and a sum of its rows' hashes, in one statement; a table with no rows is left out."""
    if not tables:
        return {}
    parts = [
        sql.SQL("SELECT {name}, count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) FROM {table} AS t").format(
            name=sql.Literal(table), table=sql.SQL(table)
        )
        for table in tables
    ]
    found = conn.execute(sql.SQL(" UNION ALL ").join(parts)).fetchall()
    return {name: (int(count), int(total)) for name, count, total in found if count}


def read_pristine(conn: psycopg.Connection[Any]) -> Pristine | None:
    """What a fresh copy holds, read from one no test has had; None where its rows are too many to hold."""
    shape = str(conn.execute(SHAPE).fetchone()[0])  # type: ignore[index]
    tables = tuple(str(r[0]) for r in conn.execute(_TABLES).fetchall())
    digests = _digests(conn, tables)
    rows: dict[str, bytes] = {}
    size = 0
    for table in digests:
        with conn.cursor().copy(sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(sql.SQL(table))) as copy:
            rows[table] = b"".join(bytes(block) for block in copy)
        size += len(rows[table])
        if size > MOST_BYTES:
            return None
    sequences = tuple((str(n), int(v), bool(c)) for n, v, c in conn.execute(_SEQUENCES).fetchall())
    conn.rollback()
    return Pristine(shape, tables, digests, rows, sequences)


def put_back(conn: psycopg.Connection[Any], pristine: Pristine, settle: float = SETTLE_SECONDS) -> bool:
    """Put a used copy's rows and sequences back to ``pristine``'s, in one transaction; False (nothing changed) where
    its shape changed or another connection stays on it, so that it must be dropped instead."""
    waited = threading.Event()
    for _ in range(max(1, int(settle / 0.05))):
        if conn.execute(_OTHERS).fetchone() == (0,):
            break
        conn.rollback()
        waited.wait(0.05)
    else:
        return False
    if conn.execute(SHAPE).fetchone() != (pristine.shape,):
        conn.rollback()
        return False
    # Foreign keys and triggers are not run for the rows put back: they are the rows a fresh copy holds, as it holds them.
    conn.execute("SET LOCAL session_replication_role = replica")
    now = _digests(conn, pristine.tables)
    changed = [table for table in pristine.tables if now.get(table) != pristine.digests.get(table)]
    if changed:
        conn.execute(sql.SQL("TRUNCATE {} CASCADE").format(sql.SQL(", ").join(sql.SQL(t) for t in changed)))
        # CASCADE may have emptied tables that reference these; those are put back too.
        after = _digests(conn, tuple(pristine.digests))
        for table, rows in pristine.rows.items():
            if table not in after:
                with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN (FORMAT binary)").format(sql.SQL(table))) as copy:
                    copy.write(rows)
    if pristine.sequences:
        setvals = sql.SQL(", ").join(
            sql.SQL("setval({}, {}, {})").format(sql.Literal(name), sql.Literal(value), sql.Literal(called))
            for name, value, called in pristine.sequences
        )
        conn.execute(sql.SQL("SELECT ") + setvals)
    # Rows copied back are checked once more; where none changed, the first reading already said they are a fresh copy's.
    if changed and _digests(conn, pristine.tables) != pristine.digests:
        conn.rollback()
        return False
    conn.commit()
    return True
