"""A used PostgreSQL copy put back to its template's rows (``tests/pg_reset.py``): every row and sequence as a fresh
copy holds them, and a copy whose shape changed or that another connection still holds is left for a drop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests import stores
from tests.pg_reset import put_back, read_pristine

ON_POSTGRES = pytest.mark.parametrize(
    "store_template", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def copies(store_template: str) -> Iterator[tuple[str, str]]:
    """Two fresh copies of the catalogue's template, dropped afterwards: one to use and one to compare with."""
    template = store_template.split(":", 1)[1]
    used, fresh = stores._create_copy(template), stores._create_copy(template)
    yield used, fresh
    stores._drop(used)
    stores._drop(fresh)


def _everything(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, sorted, and every sequence's next value (taken in a transaction rolled back)."""
    tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
    found = {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables}
    found["sequences"] = sorted(
        conn.execute("SELECT sequencename, nextval(format('%I', sequencename)) FROM pg_sequences").fetchall()
    )
    conn.rollback()
    return found  # type: ignore[return-value]


@ON_POSTGRES
def test_a_used_copy_is_put_back_to_every_row_and_sequence_of_a_fresh_one(copies: tuple[str, str]) -> None:
    used, fresh = copies
    with stores._connect(used) as conn:
        pristine = read_pristine(conn)
        assert pristine is not None
        assert pristine.rows, "the catalogue's template has rows to put back"
        now = datetime.now(UTC)
        conn.execute(
            "INSERT INTO job_run (job_id, scheduled_for, started_at, outcome, detail, holder) VALUES ('a test', %s, %s, 'done', '', '')",
            (now, now),
        )
        conn.execute("UPDATE agency SET name = 'renamed by a test' WHERE code = 'notts_cyp'")
        conn.execute("DELETE FROM api_key")
        conn.commit()
        assert put_back(conn, pristine)
    with stores._connect(used) as a, stores._connect(fresh) as b:
        assert _everything(a) == _everything(b)


@ON_POSTGRES
@pytest.mark.parametrize("left", ["its shape changed", "another connection still holds it"])
def test_a_copy_that_cannot_be_put_back_is_left_as_it_is_for_a_drop(copies: tuple[str, str], left: str) -> None:
    used, _ = copies
    with stores._connect(used) as conn, stores._connect(used) as other:
        pristine = read_pristine(conn)
        assert pristine is not None
        other.execute("UPDATE agency SET name = 'renamed by a test' WHERE code = 'notts_cyp'")
        if left == "its shape changed":
            other.execute("ALTER TABLE agency ADD COLUMN added_by_a_test integer")
        other.commit()
        if left == "its shape changed":
            other.close()
        assert not put_back(conn, pristine, settle=0.5)
        # Nothing was put back: the copy is as the test left it, for the drop.
        assert conn.execute("SELECT name FROM agency WHERE code = 'notts_cyp'").fetchone() == ("renamed by a test",)


@ON_POSTGRES
def test_each_test_takes_a_store_as_fresh_and_under_a_name_of_its_own(store_template: str, tmp_path: Path) -> None:
    """Copies taken one after another (as tests take them), some of them put back from an earlier one: each starts
    with no job run and the catalogue's agencies as the template has them, and no two share a name."""
    template = store_template.split(":", 1)[1]
    names, before = set(), stores.put_back_count["put back"]
    for n in range(stores.SPARES + 3):
        with stores.copied_store(store_template, tmp_path) as engine, engine.begin() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM job_run").scalar_one() == 0
            assert conn.exec_driver_sql("SELECT name FROM agency WHERE code = 'notts_cyp'").scalar_one() != "renamed"
            now = datetime.now(UTC)
            conn.exec_driver_sql(
                "INSERT INTO job_run (job_id, scheduled_for, started_at, outcome, detail, holder) "
                "VALUES (%(job)s, %(now)s, %(now)s, 'done', '', '')",
                {"job": f"test {n}", "now": now},
            )
            conn.exec_driver_sql("UPDATE agency SET name = 'renamed' WHERE code = 'notts_cyp'")
            names.add(str(engine.url.database))
        for made in list(stores._spares[template]):
            made.result()
    assert len(names) == stores.SPARES + 3
    assert stores.put_back_count["put back"] > before
