"""build revisions: a change counter per built (return, period), so a pull checks freshness in O(1)

Revision ID: 0003_h9
Revises: 0002_h1
Create Date: 2026-11-23 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003_h9"
down_revision: str | None = "0002_h1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "build_revision",
        sa.Column("return_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("return_id", "period", name=op.f("pk_build_revision")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("build_revision")
