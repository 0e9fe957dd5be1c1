"""a publisher's release applied again, and figures held by a query: the same file may be read twice

Revision ID: 0016_pubcheck_release_reapplied
Revises: 0015_groups_officer_groups
Create Date: 2026-11-25 20:30:00

A publisher's earlier file imported while a later release is current is applied again as a release of its own
(naming the release it repeats), so (source, file hash) is no longer unique. A release also counts the figures
a query holds until an officer confirms them, and an import names its source, so a cut-off one can be read again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_pubcheck_release_reapplied"
down_revision: str | None = "0015_groups_officer_groups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNIQUE = "uq_published_release_source_id"
INDEX = "ix_published_release_source_hash"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("published_release") as batch:
        batch.drop_constraint(UNIQUE, type_="unique")
        batch.add_column(sa.Column("held", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("reapplies", sa.Integer(), nullable=True))
        batch.create_index(INDEX, ["source_id", "content_hash"])
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("published_source", sa.String(length=64), nullable=False, server_default=""))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("published_source")
    with op.batch_alter_table("published_release") as batch:
        batch.drop_index(INDEX)
        batch.drop_column("reapplies")
        batch.drop_column("held")
        batch.create_unique_constraint(UNIQUE, ["source_id", "content_hash"])
