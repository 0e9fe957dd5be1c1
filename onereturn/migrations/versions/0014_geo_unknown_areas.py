"""a publisher's release names the areas the geography does not hold

Revision ID: 0014_geo_unknown_areas
Revises: 0013_polarity_source
Create Date: 2026-11-25 20:40:00

A release's rows for an area code the service's geography lacks (a council recoded after the geography was
written) are stored nowhere; the release keeps their codes, each with its number of figures, so an officer sees
which rows were left and why. Releases read before keep an empty list (their message gives the count).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_geo_unknown_areas"
down_revision: str | None = "0013_polarity_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("published_release") as batch:
        batch.add_column(sa.Column("unknown_areas", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("published_release") as batch:
        batch.drop_column("unknown_areas")
