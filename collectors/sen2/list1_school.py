"""The school census's cells of the area SEND inspection's lists: the four school columns and, where SEN2 has none,
the main and subsidiary school, joined to a list's children by UPN (``collectors.census.lists``), with the census row
each cell came from (or why it is blank) and how many cells the census filled, for the burden."""

from __future__ import annotations

import polars as pl

from collectors.annex_a.build import written
from collectors.census.lists import NOT_HELD, SCHOOL_COLUMNS, WINDOWS

MAIN_URN, MAIN_PHASE = "Main education establishment – URN", "Main education establishment – phase"
SUB_PHASE = "Subsidiary education establishment – phase (dual registration)"
#: Each school column's type on the lists: counts, a percentage, Yes or No.
TYPES: dict[str, pl.DataType] = {
    "Suspensions": pl.Int64(),
    "Permanent exclusions": pl.Int64(),
    "Absence": pl.Float64(),
    "Pupil Premium": pl.String(),
}
_FROM_CENSUS = ("census_main", "census_dual", "held")


def with_school(units: pl.DataFrame, school: pl.DataFrame | None) -> pl.DataFrame:
    """``units`` (each with ``key``, its UPN in upper case, and ``urn``, ``dual_urn``: SEN2's schools, or none) with
    the four school columns, ``held`` (the census holds the child), and the census's main and subsidiary school where
    ``urn`` or ``dual_urn`` is blank (``census_main``, ``census_dual`` say where). ``school``: ``school_columns``'s
    frame, None where the council keeps no census on or before the date."""
    if school is None:
        return units.with_columns(
            *(pl.lit(None, t).alias(c) for c, t in TYPES.items()),
            *(pl.lit(None, pl.String).alias(f"src_{c}") for c in (*SCHOOL_COLUMNS, "urn", "dual_urn")),
            *(pl.lit(False).alias(c) for c in _FROM_CENSUS),
        )
    joined = units.join(school.with_columns(held=pl.lit(True)), on="key", how="left")
    return joined.with_columns(
        held=pl.col("held").fill_null(False),
        census_main=pl.col("urn").is_null() & pl.col("census_urn").is_not_null(),
        census_dual=pl.col("dual_urn").is_null() & pl.col("census_dual_urn").is_not_null(),
        urn=pl.coalesce("urn", "census_urn"),
        dual_urn=pl.coalesce("dual_urn", "census_dual_urn"),
        **{c: pl.col(c).cast(t) for c, t in TYPES.items()},
    )


def school_traces(joined: pl.DataFrame, census_read: bool) -> pl.DataFrame:
    """Each cell the census filled, or left blank for a child it does not hold, with its list row (1 under the
    heading) and where it came from: the census row, or why it is blank."""
    schema = {"row": pl.UInt32, "column": pl.String, "source": pl.String}
    if not census_read:
        return pl.DataFrame(schema=schema)
    rows = joined.with_row_index("row", offset=1)
    held = pl.col("held")
    parts = [
        rows.select("row", column=pl.lit(c), source=pl.when(held).then(pl.col(f"src_{c}")).otherwise(pl.lit(NOT_HELD)))
        for c in SCHOOL_COLUMNS
    ]
    on_register = "its phase from the register of establishments for the census's school: "
    for flag, column, src, prefix in (
        ("census_main", MAIN_URN, "src_urn", ""),
        ("census_main", MAIN_PHASE, "src_urn", on_register),
        ("census_dual", SUB_PHASE, "src_dual_urn", on_register),
    ):
        chosen = rows.filter(pl.col(flag))
        parts.append(chosen.select("row", column=pl.lit(column), source=pl.format(f"{prefix}{{}}", src)))
    return pl.concat([p.cast(schema) for p in parts]).sort("row", "column")  # type: ignore[arg-type]


def census_filled(rows: pl.DataFrame, joined: pl.DataFrame) -> dict[str, int]:
    """Per column of a list, the cells the census filled (a value written, from a census row)."""
    counts = {c: written(rows[c]) for c in SCHOOL_COLUMNS}
    for flag, column in (("census_main", MAIN_URN), ("census_main", MAIN_PHASE), ("census_dual", SUB_PHASE)):
        counts[column] = written(rows.filter(joined[flag])[column])
    return counts


def school_notes(census: list[str], joined: pl.DataFrame) -> list[str]:
    """What a list's notes say of the census: the censuses read, each column's window and unit (readings), and how
    many children it does not hold."""
    if not census:
        return []
    notes = [f"{c}: {WINDOWS[c]} (a reading: Ofsted's definition is in no stored copy)" for c in SCHOOL_COLUMNS]
    missing = joined.filter(~pl.col("held")).height
    if missing:
        notes.append(f"{', '.join(SCHOOL_COLUMNS)}: left blank for {missing} child(ren): {NOT_HELD}")
    return notes
