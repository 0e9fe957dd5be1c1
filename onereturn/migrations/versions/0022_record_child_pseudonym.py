"""Children by pseudonym: a rotation of the records keys walks ``record_child`` in pseudonym order and moves each
child's rows by its pseudonym; without an index of its own each batch and each move read the whole table (the
unique pair of upload and pseudonym leads with the upload), so a rotation slowed with the square of the children.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_record_child_pseudonym"
down_revision: str | None = "0021_csc_payload_extract"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(op.f("ix_record_child_pseudonym"), "record_child", ["pseudonym"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_record_child_pseudonym"), table_name="record_child")
