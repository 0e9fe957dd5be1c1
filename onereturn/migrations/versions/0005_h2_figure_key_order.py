"""figure key ordered (indicator, period, org, breakdown, version): a period's figures written together

Revision ID: 0005_h2
Revises: 0005_h3
Create Date: 2026-11-23 06:50:00

The unique key was ordered (indicator, org, period, breakdown, version), so the figures of a new
period landed one per leaf page across the whole index; with the period second they land in one
run per indicator. Every read of figures names the indicator, and most the period too.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_h2"
down_revision: str | None = "0005_h3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "uq_observation_indicator_id"


def _rekey(columns: list[str]) -> None:
    # SQLite rebuilds the table for this (db.upgrade turns foreign keys off around migrations and checks them after).
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_="unique")
        batch_op.create_unique_constraint(NAME, columns)


def upgrade() -> None:
    """Apply this revision."""
    _rekey(["indicator_id", "period", "org_code", "breakdown", "version"])


def downgrade() -> None:
    """Revert this revision."""
    _rekey(["indicator_id", "org_code", "period", "breakdown", "version"])
