"""The stores benchmarks run against: an empty PostgreSQL database."""

from sqlalchemy import text

from onereturn import db


def empty_postgres(url: str) -> None:
    """Empty the PostgreSQL database a benchmark was given: every table of its public schema dropped."""
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
