"""The per-cell lineage summary the XLSX and SDMX files show, checked row by row against its rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.built import CELL_SCHEMA, LINEAGE_SCHEMA, BuiltReturn


def _expected(lineage: list[dict[str, Any]], suppressed: set[str]) -> list[tuple[Any, ...]]:
    """The summary spelled out one row at a time, as a reader of the Lineage sheet is told it."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in lineage:
        if row["cell_id"] not in suppressed:
            grouped.setdefault(row["cell_id"], []).append(row)
    out = []
    for cell_id, rows in grouped.items():
        provenance: list[str] = []
        for row in rows:
            if row["submission_id"] is not None:
                part = f"submission {row['submission_id']}" + (
                    f" row {row['file_row']}" if row["file_row"] is not None else ""
                )
            else:
                part = f"observation {row['observation_id']}"
            if part not in provenance:
                provenance.append(part)
        sources = list(dict.fromkeys(f"{r['agency_code']} {r['filename']}" for r in rows if r["agency_code"]))
        figures = []
        for r in rows:
            breakdown = f" {r['figure_breakdown']}" if r["figure_breakdown"] else ""
            weight = "" if r["weight"] in (None, 1, 1.0) else f" x{r['weight']:g}"
            figures.append(
                f"{r['indicator_id']} {r['figure_org']} {r['figure_period']}{breakdown} v{r['version']}{weight}"
            )
        out.append(
            (
                cell_id,
                rows[0]["field_code"],
                rows[0]["org_code"],
                len(rows),
                "; ".join(provenance),
                "; ".join(sources),
                "; ".join(figures),
            )
        )
    return out


_rows = st.lists(
    st.fixed_dictionaries(
        {
            "cell_id": st.sampled_from(["a", "b", "c", "d"]),
            "observation_id": st.integers(1, 50),
            "indicator_id": st.sampled_from(["pop.total", "cyp.cla"]),
            "figure_org": st.sampled_from(["E09000001", "E10000024"]),
            "figure_period": st.sampled_from(["FY2024-25", "2024-Q3"]),
            "figure_breakdown": st.sampled_from(["", "sex=F", "age=0-4"]),
            "version": st.integers(1, 3),
            "weight": st.sampled_from([1.0, 0.5, 0.123456789, 2.0]),
            "submission_id": st.none() | st.integers(1, 4),
            "agency_code": st.sampled_from([None, "", "council", "ons"]),
            "filename": st.sampled_from(["q4.csv", "pop.xlsx"]),
            "file_row": st.none() | st.integers(1, 9),
        }
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(rows=_rows, suppressed=st.sets(st.sampled_from(["a", "b", "c", "d"]), max_size=2))
def test_summary_matches_the_rules_row_by_row(rows: list[dict[str, Any]], suppressed: set[str]) -> None:
    """Order of cells and of figures, unique provenance and sources, weights and breakdowns: all as the rules say."""
    lineage = pl.DataFrame(
        [{**r, "field_code": r["cell_id"].upper(), "org_code": r["figure_org"]} for r in rows],
        schema=LINEAGE_SCHEMA,
    )
    cells = pl.DataFrame(
        {"cell_id": ["a", "b", "c", "d"], "status": ["suppressed" if c in suppressed else "present" for c in "abcd"]}
    ).with_columns(pl.lit(None).cast(t).alias(n) for n, t in CELL_SCHEMA.items() if n not in ("cell_id", "status"))
    built = BuiltReturn(
        return_id="r",
        title="t",
        recipient="x",
        period="FY2024-25",
        geography_level="local_authority",
        layout="list",
        generated_at=datetime(2025, 1, 1, tzinfo=UTC),
        catalogue_version="",
        suppression="",
        fields=[],
        cells=cells.select(list(CELL_SCHEMA)),
        lineage=lineage,
    )
    listed = [{**r, "field_code": r["cell_id"].upper(), "org_code": r["figure_org"]} for r in rows]
    assert built.lineage_summary.rows() == _expected(listed, suppressed)
