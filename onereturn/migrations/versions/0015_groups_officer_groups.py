"""officers' comparator groups in the store, and the return and period each upload's errors are for

Revision ID: 0015_groups_officer_groups
Revises: 0014_geo_unknown_areas
Create Date: 2026-11-25 20:10:00

Officers keep their comparator groups in the service (``groups.toml`` seeds them). An upload's errors stand in
the way only of the returns and periods of the rows that had them, so each upload keeps the indicator and
period of those rows; uploads made before keep none (NULL) and are read as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0015_groups_officer_groups"
down_revision: str | None = "0014_geo_unknown_areas"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "officer_group",
        sa.Column("id", _S(length=64), nullable=False),
        sa.Column("title", _S(length=200), nullable=False),
        sa.Column("source", _S(length=1000), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("origin", _S(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("error_scope", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("error_scope")
    op.drop_table("officer_group")
