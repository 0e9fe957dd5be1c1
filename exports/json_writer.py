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
from exports.model import BuiltReturn

#: Lineage columns copied into each cell's ``provenance`` entries.
PROVENANCE_KEYS: tuple[str, ...] = (
    "observation_id",
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

_OPTIONS: dict[str, Any] = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "allow_nan": False}


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
        "fields": [dataclasses.asdict(info) for info in built.fields],
    }


def _cells(built: BuiltReturn) -> Iterator[list[dict[str, Any]]]:
    """The cells as JSON items, a slice at a time, each with the released figures behind it."""
    records = built.cell_records
    # Each released figure tagged with its cell's slice and split once: a slice reads only its own.
    slice_of = built.cells.select("cell_id", (pl.int_range(pl.len()) // CHUNK).alias("_slice"))
    by_slice = (
        built.released_rows.join(slice_of, on="cell_id", how="left", maintain_order="left")
        .select("_slice", "cell_id", *PROVENANCE_KEYS)
        .partition_by("_slice", as_dict=True, include_key=False)
    )
    for at in range(0, len(records), CHUNK):
        chunk = records[at : at + CHUNK]
        lineage: dict[str, list[dict[str, Any]]] = {}
        rows = by_slice.pop((at // CHUNK,), None)
        # A figure's entry made from its row's values in PROVENANCE_KEYS order, not a dict of every column.
        for cell_id, *values in rows.iter_rows() if rows is not None else ():
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
    for n, items in enumerate(_cells(built)):
        if n:
            out.write(b",")
        out.write(json.dumps(items, **_OPTIONS)[1:-1].encode("utf-8"))
    out.write((after + "\n").encode("utf-8"))
    return out.getvalue()
