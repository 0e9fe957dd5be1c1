"""Cells from publishers: a return names the publishers whose figure for an org unit fills a cell no figure of the
body's own fills (``return_spec.from_publishers``), a field may refuse them (``field_mapping.from_publishers``) or
say why none fills it (``field_mapping.unpublished``), and a built cell's lineage names the publisher's figure behind
it (``lineage_row.published_figure_id``) where no stored figure of the body's is (``observation_id`` may then be
empty).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0024_cells_from_publishers"
down_revision: str | None = "0023_region_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # Not in a batch: on SQLite that copies the table, which the field mappings' foreign key refuses.
    op.add_column(
        "return_spec", sa.Column("from_publishers", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
    )
    op.add_column("field_mapping", sa.Column("from_publishers", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.add_column(
        "field_mapping",
        sa.Column("unpublished", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""),
    )
    with op.batch_alter_table("lineage_row", schema=None) as batch_op:
        batch_op.alter_column("observation_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("published_figure_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_lineage_row_published_figure_id_published_figure"),
            "published_figure",
            ["published_figure_id"],
            ["id"],
        )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DELETE FROM lineage_row WHERE observation_id IS NULL")
    with op.batch_alter_table("lineage_row", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_lineage_row_published_figure_id_published_figure"), type_="foreignkey")
        batch_op.drop_column("published_figure_id")
        batch_op.alter_column("observation_id", existing_type=sa.Integer(), nullable=False)
    op.drop_column("field_mapping", "unpublished")
    op.drop_column("field_mapping", "from_publishers")
    op.drop_column("return_spec", "from_publishers")
