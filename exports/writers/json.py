"""JSON export: the return, the definitions used and every cell with the stored figures behind it.

Keys are sorted and separators fixed so the same return always gives the same bytes (the
snapshot's content hash depends on it). NaN and infinities become ``null``: JSON has no
spelling for them and a recipient's parser would reject the file.
"""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import polars as pl

from exports._common import finite
from exports.built import BuiltReturn, FieldInfo

#: Lineage columns copied into each cell's ``provenance`` entries.
PROVENANCE_KEYS: tuple[str, ...] = (
    "observation_id",
    # A publisher's figure filling a cell the body's own leave empty (its release is the submission named).
    "published_figure_id",
    "submission_id",
    "agency_code",
    "filename",
    "file_row",
    "version",
    "weight",
    # Where the figure itself sits, which differs from the cell for roll-ups and apportioning.
    "figure_org",
    "figure_period",
    "figure_breakdown",
)

#: Cell columns copied as they are into each JSON cell.
_CELL_KEYS: tuple[str, ...] = (
    "cell_id",
    "field_code",
    "indicator_id",
    "org_code",
    "org_name",
    "period",
    "ref_date",
    "breakdown",
    "display",
    "flag",
    "status",
    "reason",
    "how",
    "parts",
    "missing_parts",
    "unit",
    "decimals",
)


#: Cells encoded at a time: the file is written a slice of cells after another, so only one slice's
#: dicts are alive at once (the whole document as dicts took about 3.5 KB a cell at the peak).
CHUNK = 2_000
#: Cells written by polars at a time: their text, not a dict per cell, is what a slice holds.
_POLARS_CHUNK = 20_000

_OPTIONS: dict[str, Any] = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "allow_nan": False}


def _field_dict(info: FieldInfo) -> dict[str, Any]:
    """A field's definition as ``dataclasses.asdict`` gives it, without its deep copy of every value (each field's
    values are text and numbers, and its citations one level of dicts of them)."""
    out = {f.name: getattr(info, f.name) for f in dataclasses.fields(info)}
    out["sources"] = [dict(source) for source in info.sources]
    return out


def _head(built: BuiltReturn) -> dict[str, Any]:
    """Everything the JSON export says but its cells."""
    return {
        "return": {
            "id": built.return_id,
            "title": built.title,
            "recipient": built.recipient,
            "geography_level": built.geography_level,
            "layout": built.layout,
        },
        "period": built.period,
        "generated_at": built.generated_at.isoformat(),
        "catalogue_version": built.catalogue_version,
        "suppression": built.suppression,
        "completeness": dict(built.completeness),
        "complete_share": built.complete_share,
        "fields": [_field_dict(info) for info in built.fields],
    }


def _slices(built: BuiltReturn, size: int) -> Iterator[tuple[int, int, pl.DataFrame]]:
    """Each slice of ``size`` cells as (first cell, number of cells, the released figures of its cells)."""
    # Each released figure tagged with its cell's slice and split once: a slice reads only its own.
    slice_of = built.cells.select("cell_id", (pl.int_range(pl.len()) // size).alias("_slice"))
    by_slice = (
        built.released_rows.join(slice_of, on="cell_id", how="left", maintain_order="left")
        .select("_slice", "cell_id", *PROVENANCE_KEYS)
        .partition_by("_slice", as_dict=True, include_key=False)
    )
    empty = built.released_rows.select("cell_id", *PROVENANCE_KEYS).clear()
    for at in range(0, built.cells.height, size):
        yield at, min(size, built.cells.height - at), by_slice.pop((at // size,), empty)


def _cells(built: BuiltReturn) -> Iterator[list[dict[str, Any]]]:
    """The cells as JSON items, a slice at a time, each with the released figures behind it."""
    records = built.cell_records
    for at, size, rows in _slices(built, CHUNK):
        chunk = records[at : at + size]
        lineage: dict[str, list[dict[str, Any]]] = {}
        # A figure's entry made from its row's values in PROVENANCE_KEYS order, not a dict of every column.
        for cell_id, *values in rows.iter_rows():
            entry = dict(zip(PROVENANCE_KEYS, values, strict=True))
            entry["weight"] = finite(entry["weight"])
            lineage.setdefault(cell_id, []).append(entry)
        items = []
        for cell in chunk:
            item = {key: cell[key] for key in _CELL_KEYS}
            item["value"] = finite(cell["value"])
            item["provenance"] = lineage.get(cell["cell_id"], [])
            items.append(item)
        yield items


def _finite(column: str) -> pl.Expr:
    """The column as :func:`finite` gives each value: null for null, NaN and infinities, 0.0 for -0.0."""
    value = pl.col(column)
    return pl.when(value.is_finite()).then(pl.when(value == 0).then(0.0).otherwise(value)).alias(column)


def _written_alike(built: BuiltReturn) -> bool:
    """Whether polars writes every number of the cells as ``json.dumps`` does.

    Both write a float's shortest round-trip digits; they differ only below 1e-4, where Python
    writes ``1e-05`` and polars ``0.00001``, so a return with such a value is written by ``json``.
    """
    tiny = (pl.col("x").abs() < 1e-4) & (pl.col("x") != 0)
    values = pl.concat([built.cells.select(x="value"), built.released_rows.select(x="weight")])
    return not values.select(tiny.any()).item()


def _cell_slices(built: BuiltReturn) -> Iterator[str]:
    """The cells as the JSON items of :func:`_cells`, written by polars: a slice's items as text, without brackets."""
    keys = sorted(PROVENANCE_KEYS)
    columns = sorted([*_CELL_KEYS, "value", "provenance"])
    for at, cells, rows in _slices(built, _POLARS_CHUNK):
        listed = (
            rows.select(
                "cell_id", pl.struct(_finite(k) if k == "weight" else pl.col(k) for k in keys).alias("provenance")
            )
            .group_by("cell_id", maintain_order=True)
            .agg("provenance")
        )
        items = (
            built.cells.slice(at, cells)
            .join(listed, on="cell_id", how="left", maintain_order="left")
            .select(
                pl.col(c).fill_null([]) if c == "provenance" else _finite(c) if c == "value" else pl.col(c)
                for c in columns
            )
        )
        yield items.write_json()[1:-1]


def json_document(built: BuiltReturn) -> dict[str, Any]:
    """Build the JSON export as plain Python data (what :func:`write_json` writes, a slice of cells at a time)."""
    return {**_head(built), "cells": [item for items in _cells(built) for item in items]}


def write_json(built: BuiltReturn) -> bytes:
    """Write the return as UTF-8 JSON with sorted keys and fixed separators."""
    # The document with a marker for its cells, then the cells a slice at a time in its place: the
    # same bytes as one json.dumps of the whole document, without the whole document in memory.
    marker = f"cells-{uuid.uuid4().hex}"
    before, after = json.dumps({**_head(built), "cells": [marker]}, **_OPTIONS).split(f'"{marker}"')
    out = io.BytesIO()
    out.write(before.encode("utf-8"))
    # polars writes the cells in a quarter of json's time, byte for byte alike when its numbers are.
    slices = (
        _cell_slices(built)
        if _written_alike(built)
        else (json.dumps(items, **_OPTIONS)[1:-1] for items in _cells(built))
    )
    for n, text in enumerate(slices):
        if n:
            out.write(b",")
        out.write(text.encode("utf-8"))
    out.write((after + "\n").encode("utf-8"))
    return out.getvalue()
