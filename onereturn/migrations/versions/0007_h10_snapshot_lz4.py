"""export_snapshot: PostgreSQL compresses a snapshot's bytes with lz4, not pglz, where the server has it

Revision ID: 0007_h10
Revises: 0006_h10
Create Date: 2026-11-24 12:20:00

Every build writes its snapshots (about 9 MB for every bundled return of one year, two thirds of
it JSON) and PostgreSQL compresses each on insert. With its default, pglz, the 20 inserts of one
such build spent 100 ms on the server; with lz4 47 ms, the stored size 0.95 MB for 9.2 MB. Reading
a snapshot back decompresses it, which lz4 also does faster. Values already stored keep their
compression until rewritten; a server built without lz4 keeps pglz. SQLite is left as it is.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0007_h10"
down_revision: str | None = "0006_h10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _compress_with(method: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    offered = bind.execute(
        text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    ).scalar_one_or_none()
    if method not in (offered or []):
        return
    op.execute(f"ALTER TABLE export_snapshot ALTER COLUMN data SET COMPRESSION {method}")


def upgrade() -> None:
    """Apply this revision."""
    _compress_with("lz4")


def downgrade() -> None:
    """Revert this revision."""
    _compress_with("pglz")
