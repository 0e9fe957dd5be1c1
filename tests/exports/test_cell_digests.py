"""A cell's digest is spelled as it always was: builds stored before compare with builds made after."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import polars as pl

from exports.built import CELL_SCHEMA, LINEAGE_SCHEMA, BuiltReturn
from exports.changes import cell_digests

AWKWARD_FLOATS = [0.0, -0.0, float("nan"), float("inf"), None, 1e16, 0.1 + 0.2, 12.5, -3.0, 2.675]
AWKWARD_TEXTS = ["", None, "it's", 'say "x"', "a\\b", "ü ₤ 𝄞", "\x1f", "c", "c", "line\nbreak"]


def spelled_row_by_row(built: BuiltReturn) -> dict[str, str]:
    """The digests as the first builds that stored them spelled them: each row's values by repr, in schema order."""
    behind: dict[str, list[str]] = {}
    for cell_id, observation_id, weight in built.lineage.select("cell_id", "observation_id", "weight").iter_rows():
        behind.setdefault(cell_id, []).append(f"{observation_id}:{weight!r}")
    digests = {}
    for row in built.cells.select(list(CELL_SCHEMA)).iter_rows():
        text = "\x1f".join(map(repr, row)) + "\x1e" + ",".join(sorted(behind.get(str(row[0]), ())))
        digests[str(row[0])] = hashlib.sha256(text.encode()).hexdigest()[:32]
    return digests


def awkward_build(values: list[float | None]) -> BuiltReturn:
    n = len(values)
    columns: dict[str, list[Any]] = {}
    for at, (name, dtype) in enumerate(CELL_SCHEMA.items()):
        if name == "cell_id":
            columns[name] = [f"F{k % 3}|E{k}|" for k in range(n)]
        elif dtype == pl.Float64:
            columns[name] = values[at % 3 :] + values[: at % 3]
        elif dtype == pl.Int64:
            columns[name] = [None if k % 4 == 0 else k % 2 for k in range(n)]
        else:
            columns[name] = [AWKWARD_TEXTS[(k + at) % len(AWKWARD_TEXTS)] for k in range(n)]
    cells = pl.DataFrame(columns, schema=CELL_SCHEMA)
    lineage = pl.DataFrame(
        [
            {"cell_id": f"F{k % 3}|E{k}|", "observation_id": 100 - j, "weight": [1.0, 0.5, 1 / 3][j]}
            for k in range(0, n, 2)
            for j in range(k % 3 + 1)
        ],
        schema=LINEAGE_SCHEMA,
    )
    return BuiltReturn(
        return_id="r",
        title="R",
        recipient="someone",
        period="FY2024-25",
        geography_level="upper_tier_la",
        layout="list",
        generated_at=datetime(2025, 6, 30, tzinfo=UTC),
        catalogue_version="v",
        suppression="no small-number suppression",
        fields=[],
        cells=cells,
        lineage=lineage,
    )


def test_digests_are_spelled_as_they_always_were() -> None:
    built = awkward_build(AWKWARD_FLOATS * 3)
    digests = cell_digests(built)
    assert len(digests) == built.cells.height
    assert digests == spelled_row_by_row(built)


def test_a_zero_and_a_negative_zero_are_different_figures() -> None:
    # Equal as numbers, spelled differently: each cell is digested as it is spelled.
    zero = cell_digests(awkward_build([0.0, 1.0, 2.0, 0.0]))
    negative = cell_digests(awkward_build([0.0, 1.0, 2.0, -0.0]))
    assert zero["F0|E3|"] != negative["F0|E3|"]
    assert zero["F0|E0|"] == negative["F0|E0|"]
