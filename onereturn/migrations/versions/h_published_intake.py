"""published intake: the releases read from publishers' files and API, and every figure in them

Revision ID: h_published_intake
Revises: 0010_signoff_milestone
Create Date: 2026-11-25 15:20:00

A publisher's figures (ONS's population estimates, DfE's children's social care tables) are read from its
own files. Each release read is kept with its raw file's hash, version and when it was fetched; each figure
in it is kept with its release and file row, whether the store holds it as the publisher's own or it only
sits beside a council's figure for the same cell.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "h_published_intake"
down_revision: str | None = "0010_signoff_milestone"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "published_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", _S(length=64), nullable=False),
        sa.Column("publisher", _S(length=64), nullable=False),
        sa.Column("dataset", _S(length=128), nullable=False),
        sa.Column("version", _S(length=32), nullable=False),
        sa.Column("release_date", _S(length=32), nullable=False),
        sa.Column("filename", _S(), nullable=False),
        sa.Column("content_hash", _S(length=64), nullable=False),
        sa.Column("raw_path", _S(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("fetched_from", _S(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("figures", sa.Integer(), nullable=False),
        sa.Column("stored_new", sa.Integer(), nullable=False),
        sa.Column("stored_revised", sa.Integer(), nullable=False),
        sa.Column("beside", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("message", _S(), nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "content_hash"),
    )
    op.create_index(op.f("ix_published_release_source_id"), "published_release", ["source_id"], unique=False)
    op.create_table(
        "published_figure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publisher", _S(length=64), nullable=False),
        sa.Column("indicator_id", _S(length=128), nullable=False),
        sa.Column("org_code", _S(length=32), nullable=False),
        sa.Column("period", _S(length=16), nullable=False),
        sa.Column("breakdown", _S(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("symbol", _S(length=4), nullable=True),
        sa.Column("flag", _S(length=4), nullable=True),
        sa.Column("status", _S(length=16), nullable=False),
        sa.Column("stored_as", _S(length=8), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("file_row", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["indicator_id"], ["indicator.id"]),
        sa.ForeignKeyConstraint(["release_id"], ["published_release.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("publisher", "indicator_id", "period", "org_code", "breakdown", "version"),
    )
    op.create_index("ix_published_figure_current", "published_figure", ["indicator_id", "period", "is_current"])
    op.create_index(op.f("ix_published_figure_release_id"), "published_figure", ["release_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_published_figure_release_id"), table_name="published_figure")
    op.drop_index("ix_published_figure_current", table_name="published_figure")
    op.drop_table("published_figure")
    op.drop_index(op.f("ix_published_release_source_id"), table_name="published_release")
    op.drop_table("published_release")
