"""JSON export: the return, the definitions used and every cell with the stored figures behind it.

Keys are sorted and separators fixed so the same return always gives the same bytes (the
snapshot's content hash depends on it). NaN and infinities become ``null``: JSON has no
spelling for them and a recipient's parser would reject the file.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from exports._common import cell_rows, finite, released_lineage_by_cell
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


def _provenance(row: dict[str, Any]) -> dict[str, Any]:
    entry = {key: row[key] for key in PROVENANCE_KEYS}
    entry["weight"] = finite(entry["weight"])
    return entry


def json_document(built: BuiltReturn) -> dict[str, Any]:
    """Build the JSON export as plain Python data (what :func:`write_json` serialises)."""
    lineage = released_lineage_by_cell(built)
    cells: list[dict[str, Any]] = []
    for cell in cell_rows(built):
        item = {key: cell[key] for key in _CELL_KEYS}
        item["value"] = finite(cell["value"])
        item["provenance"] = [_provenance(row) for row in lineage.get(cell["cell_id"], [])]
        cells.append(item)
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
        "cells": cells,
    }


def write_json(built: BuiltReturn) -> bytes:
    """Write the return as UTF-8 JSON with sorted keys and fixed separators."""
    text = json.dumps(json_document(built), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return (text + "\n").encode("utf-8")
