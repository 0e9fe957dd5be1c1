"""The records keys' fingerprints: every host of a deployment must hold the key the store names as current.

A fingerprint (SHA-256 over the keys, never the keys) is recorded by the first host to seal a child's record; at
most one is current, which a partial unique index holds even when two hosts first seal at the same moment.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_records_key_fingerprint"
down_revision: str | None = "0017_ndtms_return_readers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "records_key",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False, unique=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "uq_records_key_current",
        "records_key",
        ["state"],
        unique=True,
        sqlite_where=sa.text("state = 'current'"),
        postgresql_where=sa.text("state = 'current'"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("uq_records_key_current", table_name="records_key")
    op.drop_table("records_key")
