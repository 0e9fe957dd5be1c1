"""Record-level uploads: the submission's kind, stage and year; pseudonymised findings, lineage and children

Revision ID: 0009_records
Revises: 0009_signoff
Create Date: 2026-11-25 07:10:00

A council uploads its SSDA903 tables or CIN census file once; the upload workers check it with DfE's rules
and derive its figures. The submission says how far it got (``stage``); DfE's findings and the records
behind each derived figure name the child by a keyed pseudonym; the council's own ids are kept only
encrypted (``record_child``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009_records"
down_revision: str | None = "0009_signoff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), server_default="figures", nullable=False)
        )
        batch_op.add_column(
            sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("collection_year", sqlmodel.sql.sqltypes.AutoString(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "record_child",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("pseudonym", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("child_sealed", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("submission_id", "pseudonym"),
    )
    op.create_index(op.f("ix_record_child_submission_id"), "record_child", ["submission_id"], unique=False)
    op.create_table(
        "record_problem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("record_table", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("child", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("row", sa.Integer(), nullable=True),
        sa.Column("fields", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_record_problem_submission_id"), "record_problem", ["submission_id"], unique=False)
    op.create_table(
        "record_lineage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("indicator_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("org_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("child", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("record_table", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("record_row", sa.Integer(), nullable=False),
        sa.Column("episode_start", sa.Date(), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_record_lineage_submission_id"), "record_lineage", ["submission_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    for table in ("record_lineage", "record_problem", "record_child"):
        op.drop_index(op.f(f"ix_{table}_submission_id"), table_name=table)
        op.drop_table(table)
    with op.batch_alter_table("submission", schema=None) as batch_op:
        for column in ("purged_at", "attempts", "collection_year", "stage", "kind"):
            batch_op.drop_column(column)
