"""A region's hub: the consent each council gives a region per use case (``region_consent``, going with either
agency), and ONS's postcode directory as the region's placements read it (``ons_postcode``)."""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0023_region_consent"
down_revision: str | None = "0022_record_child_pseudonym"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "ons_postcode",
        sa.Column("pcds", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("oslaua", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
        sa.Column("oscty", sqlmodel.sql.sqltypes.AutoString(length=9), nullable=False),
        sa.Column("doterm", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("release", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pcds", name=op.f("pk_ons_postcode")),
    )
    op.create_table(
        "region_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_code", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=64), nullable=False),
        sa.Column("use_cases", sa.JSON(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["council_code"], ["agency.code"], name=op.f("fk_region_consent_council_code_agency"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["region_code"], ["agency.code"], name=op.f("fk_region_consent_region_code_agency"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region_consent")),
        sa.UniqueConstraint("council_code", "region_code", name=op.f("uq_region_consent_council_code")),
    )
    with op.batch_alter_table("region_consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_region_consent_council_code"), ["council_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_region_consent_region_code"), ["region_code"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("region_consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_region_consent_region_code"))
        batch_op.drop_index(batch_op.f("ix_region_consent_council_code"))
    op.drop_table("region_consent")
    op.drop_table("ons_postcode")
