"""held_figure indexed by (indicator, period, state): an upload closes earlier queries on its own figures only

Revision ID: 0008_h10
Revises: 0007_h10
Create Date: 2026-11-24 15:10:00

An upload closes the open queries of earlier uploads on the figures it now gives. It read every
open query of its agency to find them: 24,000 open queries cost a 5,000-figure upload 0.12 s, and
under load, where each upload holds some thousands, every upload paid for all the others'. It now
reads only the open queries in its own (indicator, period) pairs, through this index.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_h10"
down_revision: str | None = "0007_h10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_held_figure_pair_state"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("held_figure", schema=None) as batch_op:
        batch_op.create_index(NAME, ["indicator_id", "period", "state"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("held_figure", schema=None) as batch_op:
        batch_op.drop_index(NAME)
