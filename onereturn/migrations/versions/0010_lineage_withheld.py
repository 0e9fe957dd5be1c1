"""lineage: why a withheld cell is withheld, so a regulator's lineage tells sign-off from suppression

Revision ID: 0010_lineage_withheld
Revises: 0009_records
Create Date: 2026-11-25 10:30:00

A cell a regulator may not see behind is withheld for one of two reasons: small-number suppression,
or figures their body has not yet signed off. ``withheld`` keeps which ("suppressed" or "unsigned")
and ``withheld_reason`` the cell's own words ("not yet signed off by ..."). Rows stored before keep
"" and read as suppressed, as they were shown then.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010_lineage_withheld"
down_revision: str | None = "0009_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Not in a batch: on SQLite that copies the table, and lineage is the largest one.
    op.add_column(
        "lineage_row",
        sa.Column("withheld", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default=""),
    )
    op.add_column(
        "lineage_row",
        sa.Column("withheld_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""),
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("lineage_row", schema=None) as batch_op:
        batch_op.drop_column("withheld_reason")
        batch_op.drop_column("withheld")
