"""signoff_behind: whose figures a build found behind each (return, period), kept across a restart

Revision ID: 0020_signoff_behind
Revises: 0019_kept_files_by_content
Create Date: 2026-11-26 19:20:00

The officer's first view after the service started built every (return, period) its sign-off lists name (22 on
the demo, most of a second-long sign-in) to learn whose figures are behind each; the answer is now kept with the
store's key it was read at, and read again while that key stands.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_signoff_behind"
down_revision: str | None = "0019_kept_files_by_content"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "signoff_behind",
        sa.Column("return_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("store_key", sa.String(length=64), nullable=False),
        sa.Column("behind", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("return_id", "period"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("signoff_behind")
