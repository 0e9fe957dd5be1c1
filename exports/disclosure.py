"""Disclosure control: which cells add up (so secondary suppression can protect small numbers) and
what of a built return's lineage each principal may read.

Cells add up per indicator and org, not per field: a return that shows a total in one field and
its parts in others (or the same figure in two fields) would otherwise give a suppressed part
away as the difference of two published figures. The same figure shown twice is tied, so hiding
one copy hides the other.

A regulator reads released cells only. Its lineage never carries a stored figure's value (a
stored figure is not released, even when the cell made from it is), and for a withheld cell it
carries nothing but the cell, its status and the reason: no figure ids, submissions or file rows
that would let it be looked up. Withheld is one of two things, and lineage says which: suppressed
by the return's small-number rule, or not yet signed off by the body whose figures make it.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from exports.built import UNSIGNED, WITHHELD
from mappings.transforms import suppress

_GROUP_SCHEMA = {"cell_id": pl.String, "group_id": pl.String, "role": pl.String}

#: What a regulator's lineage says for a suppressed cell, in place of the figures behind it.
SUPPRESSED_LINEAGE = "suppressed by the return's small-number rule; the figures behind this cell are not released"


def suppression_groups(cells: pl.DataFrame) -> pl.DataFrame:
    """Return the groups of cells that add up (a total and its parts along one dimension), and copies of one figure.

    ``cells`` needs ``cell_id``, ``indicator_id``, ``org_code`` and ``breakdown``; the result has
    ``cell_id``, ``group_id`` and ``role`` ("total" or "part"), as ``mappings.transforms.suppress`` wants.
    """
    if cells.is_empty():
        return pl.DataFrame(schema=_GROUP_SCHEMA)
    keyed = cells.select(
        "cell_id",
        pl.concat_str(["indicator_id", "org_code", "breakdown"], separator="|").alias("figure"),
        pl.concat_str(["indicator_id", "org_code"], separator="|").alias("whole"),
        "breakdown",
        pl.col("breakdown").str.extract(r"^([^=;]+)=[^;]*$").alias("dim"),
    ).with_row_index("_order")
    first = keyed.group_by("figure").agg(pl.col("cell_id").sort_by("_order").first().alias("first_id"))
    keyed = keyed.join(first, on="figure")
    # The same figure shown in several cells: each copy equals the first, so they hide together.
    copies = keyed.filter(pl.col("cell_id") != pl.col("first_id")).select(
        "cell_id", "first_id", pl.concat_str([pl.lit("same"), "figure"], separator="|").alias("group_id")
    )
    same = pl.concat(
        [
            copies.select(pl.col("first_id").alias("cell_id"), "group_id", pl.lit("total").alias("role")).unique(),
            copies.select("cell_id", "group_id", pl.lit("part").alias("role")),
        ]
    )
    reps = keyed.filter(pl.col("cell_id") == pl.col("first_id"))
    totals = reps.filter(pl.col("breakdown") == "").select("cell_id", "whole")
    parts = reps.filter(pl.col("dim").is_not_null()).select("cell_id", "whole", "dim")
    dims = parts.select("whole", "dim").unique()
    sums = pl.concat(
        [
            parts.select(
                "cell_id",
                pl.concat_str([pl.lit("sum"), "whole", "dim"], separator="|").alias("group_id"),
                pl.lit("part").alias("role"),
            ),
            totals.join(dims, on="whole").select(
                "cell_id",
                pl.concat_str([pl.lit("sum"), "whole", "dim"], separator="|").alias("group_id"),
                pl.lit("total").alias("role"),
            ),
        ]
    )
    return pl.concat([same, sums]).select(list(_GROUP_SCHEMA)).cast(_GROUP_SCHEMA).sort("group_id", "cell_id")  # type: ignore[arg-type]


def suppress_cells(cells: pl.DataFrame, rule: dict[str, Any] | None) -> pl.DataFrame:
    """Apply a return's small-number rule (``low``, ``high``, ``symbol``, ``secondary``) to its cells, or none."""
    if not rule or cells.is_empty():
        return cells.with_columns(pl.lit(None, pl.Float64).alias("hidden_value"))
    return suppress(
        cells,
        low=rule["low"],
        high=rule["high"],
        symbol=rule["symbol"],
        secondary=rule.get("secondary", True),
        groups=suppression_groups(cells),
    )


def released_lineage(
    rows: list[dict[str, Any]], statuses: dict[str, str], *, kind: str, reasons: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Cut lineage rows to what a principal of ``kind`` may read; ``statuses`` maps cell id to the cell's status.

    An officer reads everything. Anyone else loses every stored figure's value, and a withheld cell
    becomes one row saying why, with no figure, submission or file row: suppressed by the small-number
    rule, or (status ``unsigned``) not yet signed off by its body, in the cell's own words from ``reasons``.
    """
    if kind == "officer":
        return rows
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        cell_id = str(row["cell_id"])
        status = statuses.get(cell_id)
        if status in WITHHELD:
            if cell_id not in seen:
                seen.add(cell_id)
                out.append(
                    {
                        "cell_id": cell_id,
                        "field_code": row["field_code"],
                        "org_code": row["org_code"],
                        "status": status,
                        "reason": withheld_lineage(status, (reasons or {}).get(cell_id, "")),
                    }
                )
            continue
        out.append({key: value for key, value in row.items() if key != "value"})
    return out


def withheld_lineage(status: str | None, reason: str) -> str:
    """What a regulator's lineage says in place of the figures behind a withheld cell, by why it is withheld."""
    if status == UNSIGNED:
        # The gate writes the body's name into the cell's reason; say it, never "suppressed".
        said = reason or "not yet signed off by the body that gives its figures"
        return f"{said}; the figures behind this cell are released once they are signed off"
    return SUPPRESSED_LINEAGE
