"""What a built return is, as the writers see it: cells with their status, fields, and lineage.

The builder (``exports/build.py``) resolves a return's fields to stored figures and produces a
:class:`BuiltReturn`; each writer turns one into bytes. Writers are pure: the same BuiltReturn
always gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import polars as pl

#: Columns of ``BuiltReturn.cells``, one row per exported cell, in output order.
CELL_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "cell_id": pl.String,  # stable within a return: "<field code>|<org code>|<breakdown>"
    "field_code": pl.String,  # the return's own cell/column code, e.g. "1.01" or "NI 148"
    "indicator_id": pl.String,
    "org_code": pl.String,
    "org_name": pl.String,
    "period": pl.String,  # the return's period, the same for every cell
    "ref_date": pl.String,  # the date a snapshot figure was taken at ("2025-03-31"), else null
    "breakdown": pl.String,  # canonical breakdown key, "" for the total
    "value": pl.Float64,  # the figure after conversion, roll-up, scale and rounding; null when not shown
    "numerator": pl.Float64,
    "denominator": pl.Float64,
    "display": pl.String,  # exactly what a recipient sees in the cell: "12.5", "c" (suppressed), "x", ".." (missing)
    "flag": pl.String,  # "u" low reliability or "p" provisional, written after a present value; else null
    "status": pl.String,  # present | suppressed | missing | not_available | different_method | not_derivable | unsigned
    "reason": pl.String,  # why a cell is not a plain figure (missing from whom, suppression rule, other method's value ...)
    "how": pl.String,  # identical | derived | rolled_up | converted | recoded | apportioned (joined with "+")
    "parts": pl.Int64,  # how many stored figures the cell is made from
    "missing_parts": pl.Int64,  # how many of the figures it needed were missing
    "decimals": pl.Int64,
    "unit": pl.String,
}

#: Statuses of cells whose figures only an officer may see: suppressed, and held back until signed off.
WITHHELD: tuple[str, ...] = ("suppressed", "unsigned")
#: The status of a cell held back until its agency signs it off.
UNSIGNED = "unsigned"

#: Columns of ``BuiltReturn.lineage``: one row per (cell, stored figure behind it).
LINEAGE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "cell_id": pl.String,
    "field_code": pl.String,
    "org_code": pl.String,
    "observation_id": pl.Int64,  # the stored figure; null for a publisher's figure
    "published_figure_id": pl.Int64,  # the publisher's figure behind a cell the body's own leave empty, else null
    "indicator_id": pl.String,
    "figure_org": pl.String,
    "figure_period": pl.String,
    "figure_breakdown": pl.String,
    "version": pl.Int64,
    "weight": pl.Float64,  # share of the figure that went into the cell (1 unless apportioned)
    "submission_id": pl.Int64,
    "agency_code": pl.String,
    "filename": pl.String,
    "file_row": pl.Int64,
}


@dataclass(frozen=True)
class FieldInfo:
    """One field of the return with the definition used."""

    code: str
    label: str
    indicator_id: str
    indicator_title: str
    definition: str
    statistic: str
    unit: str
    decimals: int
    multiplier: int
    method: str
    relation: str
    breakdown: str
    #: Where the field and its definition come from, as one readable text (the Definitions sheet).
    source: str
    #: The same citations as records: ``{"of": "field" | "indicator", publisher, title, year, url, section, own_reading}``.
    sources: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class BuiltReturn:
    """One return for one period, ready to write in any format."""

    return_id: str
    title: str
    recipient: str
    period: str
    geography_level: str
    layout: str  # "list" (one row per cell) or "grid" (org x field)
    generated_at: datetime
    catalogue_version: str
    suppression: (
        str  # a sentence describing the rule applied, e.g. "values 1 to 5 shown as *; secondary suppression on"
    )
    fields: list[FieldInfo]
    cells: pl.DataFrame
    lineage: pl.DataFrame
    completeness: dict[str, int] = field(default_factory=dict)  # status -> number of cells

    @cached_property
    def cell_records(self) -> list[dict[str, Any]]:
        """The cells as dicts in output order, read from the frame once and shared by every writer (read-only)."""
        return self.cells.to_dicts()

    @cached_property
    def released_rows(self) -> pl.DataFrame:
        """The lineage rows a file may show, in the builder's order: a suppressed cell's figures are never listed."""
        hidden = self.cells.filter(pl.col("status").is_in(WITHHELD)).select("cell_id")
        return self.lineage.join(hidden, on="cell_id", how="anti", maintain_order="left")

    @cached_property
    def lineage_summary(self) -> pl.DataFrame:
        """One row per released cell, in the builder's order: how many figures, their provenance, agencies and files, and the figures."""
        shown = self.released_rows
        weights = {w: "" if w == 1 else f" x{w:g}" for w in shown["weight"].drop_nulls().unique().to_list()}
        provenance = (
            pl.when(pl.col("submission_id").is_not_null())
            .then(pl.format("submission {}", "submission_id") + pl.format(" row {}", "file_row").fill_null(""))
            .otherwise(pl.format("observation {}", "observation_id"))
        )
        figure = pl.concat_str(
            pl.col("indicator_id"),
            pl.lit(" "),
            pl.col("figure_org"),
            pl.lit(" "),
            pl.col("figure_period"),
            pl.when(pl.col("figure_breakdown") != "")
            .then(pl.lit(" ") + pl.col("figure_breakdown"))
            .otherwise(pl.lit("")),
            pl.lit(" v"),
            pl.col("version").cast(pl.String),
            pl.col("weight").replace_strict(weights, default="", return_dtype=pl.String),
        )
        source = pl.when(pl.col("agency_code").fill_null("") != "").then(pl.format("{} {}", "agency_code", "filename"))
        return shown.group_by("cell_id", maintain_order=True).agg(
            pl.col("field_code").first(),
            pl.col("org_code").first(),
            pl.len().alias("figures"),
            provenance.unique(maintain_order=True).str.join("; ").alias("provenance"),
            source.drop_nulls().unique(maintain_order=True).str.join("; ").alias("sources"),
            figure.str.join("; ").alias("stored"),
        )

    @property
    def complete_share(self) -> float:
        """Return the share of cells that are present (or deliberately suppressed)."""
        total = self.cells.height
        shown = int(self.cells["status"].is_in(["present", "suppressed"]).sum()) if total else 0
        return shown / total if total else 0.0


def empty_lineage() -> pl.DataFrame:
    """Return a lineage table with no rows."""
    return pl.DataFrame(schema=LINEAGE_SCHEMA)
