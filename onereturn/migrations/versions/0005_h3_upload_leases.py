"""upload leases: the worker processing an upload and until when its lease runs

Revision ID: 0005_h3
Revises: 0003_h7
Create Date: 2026-11-23 06:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005_h3"
down_revision: str | None = "0003_h7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("submission") as batch_op:
        batch_op.add_column(
            sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False, server_default="")
        )
        # No lease (NULL) on uploads recorded before leases: an unfinished one is taken as cut off.
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("submission") as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
