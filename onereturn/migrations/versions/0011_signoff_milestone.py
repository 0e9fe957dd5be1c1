"""sign-off milestone: the date by which each return's approvers must sign off, with its sources

Revision ID: 0010_signoff_milestone
Revises: 0010_lineage_withheld
Create Date: 2026-11-26 09:00:00

A return's definition names when its figures must be signed off: the recipient's own date where it
publishes one (DfE's "data submitted by"), otherwise the agencies' deadline. The calendar, the
reminders to approvers and the overdue list read it from the return.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0010_signoff_milestone"
down_revision: str | None = "0010_lineage_withheld"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("return_spec", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "signoff_rule",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="agency_deadline",
            )
        )
        batch_op.add_column(sa.Column("signoff_sources", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("return_spec", schema=None) as batch_op:
        batch_op.drop_column("signoff_sources")
        batch_op.drop_column("signoff_rule")
