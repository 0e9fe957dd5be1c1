"""Lineage rows say whether their cell was suppressed, so a regulator's lineage can withhold it.

Revision ID: 0002_h6
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_h6"
down_revision = "0002_h2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("lineage_row", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suppressed", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table("lineage_row", schema=None) as batch_op:
        batch_op.drop_column("suppressed")
