"""a return's readers besides its recipient

Revision ID: 0017_ndtms_return_readers
Revises: 0016_pubcheck_release_reapplied
Create Date: 2026-11-26 19:20:00

A return may name recipients besides its own whose regulator keys read it (NDTMS's team reads the drug and
alcohol partnership's return of NDTMS's published figures). Returns loaded before name none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_ndtms_return_readers"
down_revision: str | None = "0016_pubcheck_release_reapplied"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("return_spec") as batch:
        batch.add_column(sa.Column("readers", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("return_spec") as batch:
        batch.drop_column("readers")
