"""kept files named by their content and, on PostgreSQL, kept in the store; children's rows found by pseudonym

Revision ID: 0019_kept_files_by_content
Revises: 0018_records_key_fingerprint
Create Date: 2026-11-26 19:20:00

A kept file (a raw upload, a record-level upload's sealed files) is named by its content (``uploads/<hh>/<sha256>``,
``records/<hh>/<digest>.zip.fernet``) rather than by the path on the disk of the host that received it, and on
PostgreSQL its bytes live in ``kept_file``, so any host reads it. Each ``raw_path`` an earlier release wrote (an
absolute path ending in such a name) becomes that name; the file itself stays where it is until read (a host that
holds it copies it into the store then) or until ``onereturn db keep-files`` is run on that host.

The findings and lineage rows are indexed by the child's pseudonym, so a key rotation (``onereturn records
rotate-keys``) moves each child's rows without reading the whole table.
"""

from collections.abc import Sequence
from pathlib import PurePath

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0019_kept_files_by_content"
down_revision: str | None = "0018_records_key_fingerprint"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_S = sqlmodel.sql.sqltypes.AutoString
#: The tables that name a kept file.
_NAMING = ("submission", "published_release")


def _name(stored: str) -> str | None:
    # As onereturn.keptfiles.name_of, frozen here: a migration must not change when the code does.
    path = PurePath(stored)
    if path.is_absolute() and len(path.parts) >= 3 and path.parts[-3] in ("uploads", "records"):
        return "/".join(path.parts[-3:])
    return None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "kept_file",
        sa.Column("name", _S(length=200), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_index("ix_record_problem_child", "record_problem", ["child"])
    op.create_index("ix_record_lineage_child", "record_lineage", ["child"])
    conn = op.get_bind()
    for table in _NAMING:
        rows = conn.execute(sa.text(f"SELECT id, raw_path FROM {table} WHERE raw_path LIKE '/%'")).all()
        for row_id, stored in rows:
            name = _name(stored)
            if name is not None:
                conn.execute(
                    sa.text(f"UPDATE {table} SET raw_path = :name WHERE id = :id"), {"name": name, "id": row_id}
                )


def downgrade() -> None:
    """Revert this revision (the names stay: an earlier release reads them relative to its working folder)."""
    op.drop_index("ix_record_lineage_child", "record_lineage")
    op.drop_index("ix_record_problem_child", "record_problem")
    op.drop_table("kept_file")
