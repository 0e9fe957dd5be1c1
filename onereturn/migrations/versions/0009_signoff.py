"""sign-off: the state of each agency's figures per return and period, its history, and the release settings

Revision ID: 0009_signoff
Revises: 0008_h10
Create Date: 2026-11-25 07:10:00

Nothing reaches a regulator until the body that owns it has signed it off. ``signoff`` holds one
row per (agency, return, period) with the declaration, who signed, when, from where and the
digest of the figures vouched for; ``signoff_event`` keeps every transition. A return says
whether the officer must accept a sign-off and which declaration an approver signs; a build
records the sign-offs whose figures it releases.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009_signoff"
down_revision: str | None = "0008_h10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("return_spec", schema=None) as batch_op:
        batch_op.add_column(sa.Column("needs_acceptance", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("declaration", _TEXT(), nullable=False, server_default=""))
    # Not in a batch: on SQLite that copies the table, which the snapshots' foreign key refuses.
    op.add_column("return_build", sa.Column("signoffs", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    op.create_table(
        "signoff",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_code", _TEXT(length=64), nullable=False),
        sa.Column("return_id", _TEXT(length=64), nullable=False),
        sa.Column("period", _TEXT(length=16), nullable=False),
        sa.Column("state", _TEXT(length=16), nullable=False),
        sa.Column("declaration", _TEXT(), nullable=False),
        sa.Column("signed_by", _TEXT(length=300), nullable=False),
        sa.Column("key_prefix", _TEXT(length=16), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("client", _TEXT(length=64), nullable=False),
        sa.Column("digest", _TEXT(length=64), nullable=False),
        sa.Column("figure_ids", sa.JSON(), nullable=False),
        sa.Column("reason", _TEXT(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agency_code"], ["agency.code"], name=op.f("fk_signoff_agency_code_agency")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signoff")),
        sa.UniqueConstraint("agency_code", "return_id", "period", name=op.f("uq_signoff_agency_code")),
    )
    with op.batch_alter_table("signoff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signoff_return_id"), ["return_id"], unique=False)
    op.create_table(
        "signoff_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signoff_id", sa.Integer(), nullable=False),
        sa.Column("agency_code", _TEXT(length=64), nullable=False),
        sa.Column("return_id", _TEXT(length=64), nullable=False),
        sa.Column("period", _TEXT(length=16), nullable=False),
        sa.Column("from_state", _TEXT(length=16), nullable=False),
        sa.Column("to_state", _TEXT(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", _TEXT(length=300), nullable=False),
        sa.Column("key_prefix", _TEXT(length=16), nullable=True),
        sa.Column("client", _TEXT(length=64), nullable=False),
        sa.Column("detail", _TEXT(), nullable=False),
        sa.Column("digest", _TEXT(length=64), nullable=False),
        sa.ForeignKeyConstraint(["signoff_id"], ["signoff.id"], name=op.f("fk_signoff_event_signoff_id_signoff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signoff_event")),
    )
    with op.batch_alter_table("signoff_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signoff_event_signoff_id"), ["signoff_id"], unique=False)
        batch_op.create_index("ix_signoff_event_return_period", ["return_id", "period"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("signoff_event")
    op.drop_table("signoff")
    # ALTER TABLE ... DROP COLUMN, which SQLite has had since 3.35, rather than a copy of the table.
    op.execute("ALTER TABLE return_build DROP COLUMN signoffs")
    with op.batch_alter_table("return_spec", schema=None) as batch_op:
        batch_op.drop_column("declaration")
        batch_op.drop_column("needs_acceptance")
