"""build cells: a digest per exported cell, so a regulator can ask what changed since a time

Revision ID: 0002_h2
Revises: 0001
Create Date: 2026-11-23 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0002_h2"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "build_cell",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.ForeignKeyConstraint(["build_id"], ["return_build.id"], name=op.f("fk_build_cell_build_id_return_build")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_build_cell")),
    )
    with op.batch_alter_table("build_cell", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_build_cell_build_id"), ["build_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("build_cell", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_build_cell_build_id"))
    op.drop_table("build_cell")
