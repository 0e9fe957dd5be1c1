"""sources as data: citations on code lists, indicators, returns and fields; return milestones

Revision ID: 0004_h8
Revises: 0003_h9
Create Date: 2026-11-23 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004_h8"
down_revision: str | None = "0003_h9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Existing rows get empty lists; the next catalogue load fills them.
    empty = sa.text("'[]'")
    with op.batch_alter_table("codelist") as batch:
        batch.add_column(sa.Column("sources", sa.JSON(), nullable=False, server_default=empty))
    with op.batch_alter_table("indicator") as batch:
        batch.add_column(
            sa.Column("collection", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default="local")
        )
        batch.add_column(sa.Column("sources", sa.JSON(), nullable=False, server_default=empty))
    with op.batch_alter_table("return_spec") as batch:
        batch.add_column(sa.Column("sources", sa.JSON(), nullable=False, server_default=empty))
        batch.add_column(sa.Column("deadline_sources", sa.JSON(), nullable=False, server_default=empty))
        batch.add_column(sa.Column("milestones", sa.JSON(), nullable=False, server_default=empty))
    with op.batch_alter_table("field_mapping") as batch:
        batch.add_column(sa.Column("sources", sa.JSON(), nullable=False, server_default=empty))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("field_mapping") as batch:
        batch.drop_column("sources")
    with op.batch_alter_table("return_spec") as batch:
        batch.drop_column("milestones")
        batch.drop_column("deadline_sources")
        batch.drop_column("sources")
    with op.batch_alter_table("indicator") as batch:
        batch.drop_column("sources")
        batch.drop_column("collection")
    with op.batch_alter_table("codelist") as batch:
        batch.drop_column("sources")
