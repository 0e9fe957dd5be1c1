"""The register of establishments as GIAS publishes it: each establishment by its URN (the columns the SEN2 tables
and List 1 read), GIAS's links between establishments (a closed school's successor), and each load of the register
(when GIAS published it, when and by whom it was loaded).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0025_establishments"
down_revision: str | None = "0024_cells_from_publishers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "establishment",
        sa.Column("urn", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("la_code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("type_code", sa.Integer(), nullable=False),
        sa.Column("group_code", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("close_date", sa.Date(), nullable=True),
        sa.Column("phase", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ukprn", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.PrimaryKeyConstraint("urn", name=op.f("pk_establishment")),
    )
    with op.batch_alter_table("establishment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_establishment_ukprn"), ["ukprn"], unique=False)

    op.create_table(
        "establishment_link",
        sa.Column("urn", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("link_urn", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("link_type", sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
        sa.Column("established", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("urn", "link_urn", "link_type", name=op.f("pk_establishment_link")),
    )
    op.create_table(
        "establishment_register_load",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("establishments", sa.Integer(), nullable=False),
        sa.Column("links_file_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("links", sa.Integer(), nullable=False),
        sa.Column("loaded_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_establishment_register_load")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("establishment_register_load")
    op.drop_table("establishment_link")
    with op.batch_alter_table("establishment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_establishment_ukprn"))

    op.drop_table("establishment")
