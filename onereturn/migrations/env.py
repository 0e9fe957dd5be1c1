"""Alembic environment: the product's metadata, batch mode on SQLite, URL from the caller or settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from onereturn import db

config = context.config
target_metadata = db.metadata()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run migrations on a connection handed over by ``db.upgrade`` or made from the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or db.get_engine().url.render_as_string(hide_password=False)
    engine = db.make_engine(url)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `onereturn db upgrade`.")
run_migrations_online()
