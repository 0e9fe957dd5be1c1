"""csc_payload_extract: DfE's children's social care payloads built from a council's SSD extract, kept sealed

Revision ID: 0021_csc_payload_extract
Revises: 0020_signoff_behind
Create Date: 2026-11-26 22:30:00

One row per SSD extract a council uploaded: its day, counts of children new, updated, unchanged and deleted since the
council's previous extract, and the name of the sealed file holding the payloads and their hashes. No child is named
in the row.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_csc_payload_extract"
down_revision: str | None = "0020_signoff_behind"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "csc_payload_extract",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_code", sa.String(length=64), nullable=False),
        sa.Column("collection_year", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("identifiers", sa.Boolean(), nullable=False),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.Column("children", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("kept_name", sa.String(length=255), nullable=False),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csc_payload_extract")),
    )
    with op.batch_alter_table("csc_payload_extract", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_csc_payload_extract_agency_code"), ["agency_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_csc_payload_extract_run_date"), ["run_date"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("csc_payload_extract", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csc_payload_extract_run_date"))
        batch_op.drop_index(batch_op.f("ix_csc_payload_extract_agency_code"))
    op.drop_table("csc_payload_extract")
