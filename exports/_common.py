"""Small helpers every writer shares: reading cells and lineage as rows, and rendering numbers.

Kept apart from the writers so the CSV, JSON, XLSX and SDMX modules agree on how a value is
spelled and how a cell's provenance is grouped, and so none of them imports another.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import polars as pl

from exports.built import BuiltReturn, FieldInfo


def cell_rows(built: BuiltReturn) -> Iterator[dict[str, Any]]:
    """Yield the return's cells as dicts, in output order (read once per built return, so never change them)."""
    yield from built.cell_records


def fields_by_code(built: BuiltReturn) -> dict[str, FieldInfo]:
    """Map each field code to its definition (the first one wins if a code repeats)."""
    found: dict[str, FieldInfo] = {}
    for info in built.fields:
        found.setdefault(info.code, info)
    return found


def finite(value: float | None) -> float | None:
    """Return the value, or None when it is null, NaN or infinite (none of which a recipient can use)."""
    if value is None or not math.isfinite(value):
        return None
    # -0.0 would print as "-0" and look like a sign error to a reader.
    return 0.0 if value == 0 else value


def number_text(value: float | None, decimals: int | None) -> str:
    """Spell a value with its field's decimals (shortest exact form when decimals are unknown); "" for none."""
    shown = finite(value)
    if shown is None:
        return ""
    if decimals is not None and decimals >= 0:
        return f"{shown:.{decimals}f}"
    if shown.is_integer():
        return str(int(shown))
    return repr(shown)


def csv_text(rows: pl.DataFrame) -> bytes:
    """Write a frame of text as the csv module writes it (RFC 4180 quoting where needed, CRLF line ends), UTF-8."""
    # polars quotes an empty text ("") where the csv module writes nothing; a null it writes as nothing.
    blanked = rows.select(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in rows.columns)
    return blanked.write_csv(line_terminator="\r\n", quote_style="necessary").encode("utf-8")
