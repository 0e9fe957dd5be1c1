"""Each submission records the way in that took it (a row of the table of ways in), so a failed or interrupted upload
is run again by its own way; the uploads already kept are given theirs from their kind and mode, as the table's rows
declare them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0026_submission_way"
down_revision: str | None = "0025_establishments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The way of an upload kept before this revision, by its kind and mode (the ways' rows as they stood).
_WAYS = (
    ("figures", None, "figures"),
    ("published", None, "published"),
    ("records", "sen2", "sen2"),
    ("records", "annex_a_columns", "annex_a_columns"),
    ("records", "annex_a_ssd", "annex_a_ssd"),
    ("records", "default", "records"),
    ("records", "annex_a", "records"),
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("submission") as batch:
        batch.add_column(
            sa.Column("way", sqlmodel.sql.sqltypes.AutoString(length=32), server_default="", nullable=False)
        )
    submission = sa.table("submission", sa.column("kind"), sa.column("mode"), sa.column("way"))
    for kind, mode, way in _WAYS:
        where = submission.c.kind == kind
        if mode is not None:
            where = sa.and_(where, submission.c.mode == mode)
        op.execute(submission.update().where(where).values(way=way))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("way")
