"""polarity with its source: the publisher's statement of which way is better, per indicator

Revision ID: 0013_polarity_source
Revises: 0012_published_intake
Create Date: 2026-11-25 16:15:00

An indicator's polarity is shown (and used to call a council better, worse or in the bottom quarter) only
where the publisher says which way is better; the resolved citation is kept beside the polarity. Existing
rows get none; the next catalogue load fills it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_polarity_source"
down_revision: str | None = "0012_published_intake"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("indicator") as batch:
        batch.add_column(sa.Column("polarity_source", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("indicator") as batch:
        batch.drop_column("polarity_source")
