"""A kept school census's census day and source in their own columns, its ``collection_year`` the academic year that
day falls in: the censuses kept before this revision carried both packed into the year (``2024-10-03 la``), and are
given them back from it.
"""

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0027_census_day"
down_revision: str | None = "0026_submission_way"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The mode of a kept school census (``collectors.census.kept.PURPOSE`` as it stood).
_CENSUS = "school_census"


def _academic_year(day: date) -> str:
    # September to August, written as the record-level upload's collection year is (2024-25).
    start = day.year if day.month >= 9 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def _submission() -> sa.TableClause:
    return sa.table(
        "submission",
        sa.column("id"),
        sa.column("mode"),
        sa.column("collection_year"),
        sa.column("census_day", sa.Date()),
        sa.column("census_source"),
    )


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("submission") as batch:
        batch.add_column(sa.Column("census_day", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("census_source", sqlmodel.sql.sqltypes.AutoString(length=8), server_default="", nullable=False)
        )
    submission = _submission()
    bind = op.get_bind()
    packed = bind.execute(sa.select(submission.c.id, submission.c.collection_year).where(submission.c.mode == _CENSUS))
    for upload_id, year in packed.all():
        day_text, _, source = str(year or "").partition(" ")
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            # Already an academic year (or nothing): nothing packed to take apart.
            continue
        bind.execute(
            submission.update()
            .where(submission.c.id == upload_id)
            .values(census_day=day, census_source=source, collection_year=_academic_year(day))
        )


def downgrade() -> None:
    """Revert this revision: each kept census's day and source packed back into its year."""
    submission = _submission()
    bind = op.get_bind()
    found = bind.execute(
        sa.select(submission.c.id, submission.c.census_day, submission.c.census_source).where(
            submission.c.mode == _CENSUS, submission.c.census_day.is_not(None)
        )
    )
    for upload_id, day, source in found.all():
        packed = f"{day.isoformat()} {source}"
        bind.execute(submission.update().where(submission.c.id == upload_id).values(collection_year=packed))
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("census_source")
        batch.drop_column("census_day")
