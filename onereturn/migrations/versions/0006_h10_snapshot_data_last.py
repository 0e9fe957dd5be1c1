"""export_snapshot: the data column last, so SQLite writes a snapshot through a blob handle in pieces

Revision ID: 0006_h10
Revises: 0005_h2
Create Date: 2026-11-24 03:55:00

A snapshot is inserted as a zeroblob of its size and then written in pieces (exports.blobs.store).
SQLite keeps a zeroblob unwritten only when it is the last column of the row; with created_at after
it, the zeros of a 257 MB snapshot were built in memory (the build's peak rose by 420-580 MB).
PostgreSQL is left as it is: column order makes no difference there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_h10"
down_revision: str | None = "0005_h2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _order(first: str, second: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # SQLite rebuilds the table (db.upgrade turns foreign keys off around migrations and checks them after).
    with op.batch_alter_table("export_snapshot", recreate="always", partial_reordering=[(first, second)]):
        pass


def upgrade() -> None:
    """Apply this revision."""
    _order("created_at", "data")


def downgrade() -> None:
    """Revert this revision."""
    _order("data", "created_at")
