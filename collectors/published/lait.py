"""Read DfE's local authority compendium (LAIT, the Local Authority Interactive Tool) into figures.

LAIT's data is one long parquet table (``bds_long_0.parquet`` in dfe-analytical-services/
local-authority-interactive-tool, ``01_data/02_prod/``): one row per measure (``Short Desc``), year (``Years``), area
(``LA and Regions``) and value (``Values``, text; ``-`` where there is none), each area by DfE's three-digit council
number (``LA Number``; England 970, regions 980-990), never by its ONS code. Each council's number becomes the ONS
code it had in the row's year (``mappings/comparators/dfe_la_codes.csv``, each code with its first and last year),
England its own code; a region's number is no area of the geography, so its rows are counted as skipped, naming
it. A row is then read as an EES row is (the source's ``where`` picks the measure, ``value`` the ``Values`` column,
its period rule the ``Years`` label), and a file whose columns differ from the source's is refused.
"""

from __future__ import annotations

import csv
import io

import polars as pl

from collectors.published.read import (
    FIGURE_SCHEMA,
    AreaLookup,
    FormatReader,
    PublishedFormatError,
    every_figure,
    read_by_a_figure,
)
from collectors.published.sources import SourceSpec
from mappings.geography import LA_CODES
from onereturn.listing import columns_differ, error_kind

#: England's number in DfE's tables, and its ONS code.
ENGLAND_NUMBER = "970"
ENGLAND = "E92000001"
#: The levels a row is read at: a council (its number in DfE's list), and England.
COUNCIL = "Local authority"
NATIONAL = "National"


def _codes_by_year() -> dict[str, list[tuple[int, int, str]]]:
    """DfE's council numbers, each with the ONS codes it has had and the years each was used (first, last)."""
    found: dict[str, list[tuple[int, int, str]]] = {}
    with LA_CODES.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            found.setdefault(row["old_la_code"], []).append(
                (int(row["first_year"]), int(row["last_year"]), row["new_la_code"])
            )
    return found


def _area_codes(numbers: pl.Series, years: pl.Series) -> pl.Series:
    """The ONS code of each row's council number in the row's year (the newest where no code's years hold it)."""
    by_number = _codes_by_year()
    rows = pl.DataFrame({"number": numbers, "year": years})
    # A table of a few hundred thousand rows holds a few thousand (council, year) pairs: each is worked out once.
    pairs = rows.unique(maintain_order=True)
    found: list[str | None] = []
    for number, year_text in pairs.iter_rows():
        if number == ENGLAND_NUMBER:
            found.append(ENGLAND)
            continue
        codes = by_number.get(number)
        if not codes:
            found.append(None)
            continue
        year = int(year_text[:4]) if year_text[:4].isdigit() else 0
        held = [code for first, last, code in codes if first <= year <= last]
        found.append(held[0] if held else max(codes)[2])
    lookup = pairs.with_columns(pl.Series("area_code", found, dtype=pl.String))
    return rows.join(lookup, on=["number", "year"], how="left", maintain_order="left")["area_code"]


def read_lait_parquet(spec: SourceSpec, data: bytes, _areas: AreaLookup) -> tuple[pl.DataFrame, int]:
    """Read LAIT's long parquet table into figures (FIGURE_SCHEMA) and the number of rows read; a row's number
    (``file_row``) is its place in the table, the first row 1."""
    try:
        table = pl.read_parquet(io.BytesIO(data))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise PublishedFormatError(f"{spec.file}: not a parquet table ({error_kind(exc)}); nothing was stored") from exc
    if table.columns != spec.columns:
        raise PublishedFormatError(
            f"{spec.file}: the columns differ from what source {spec.id!r} declares "
            f"({columns_differ(spec.columns, table.columns)}): a new release layout needs its source file updated; "
            "nothing was stored"
        )
    rows_read = table.height
    if not spec.figure:
        return pl.DataFrame(schema=FIGURE_SCHEMA), rows_read
    # Each row numbered by its place in the whole table, then only the rows a figure reads kept: the compendium's
    # 641,070 rows hold some 13,000 of the measures a source reads, and a row no figure reads is never refused.
    table = table.with_row_index("file_row", offset=1).filter(read_by_a_figure(spec))
    text = table.select(pl.exclude("file_row").cast(pl.String), pl.col("file_row").cast(pl.Int64))
    # DfE's numbers are read as floats (891.0): written as the three digits its lists use.
    numbers = table["LA Number"].cast(pl.Int64, strict=False).cast(pl.String).fill_null("")
    codes = _area_codes(numbers, text["Years"].fill_null(""))
    frame = text.with_columns(
        pl.coalesce(codes, pl.lit("DfE number ") + numbers).alias("area_code"),
        pl.when(numbers == ENGLAND_NUMBER).then(pl.lit(NATIONAL)).otherwise(pl.lit(COUNCIL)).alias("geographic_level"),
    )
    # One chunk a column, as a CSV is read (``read_csv_text``): the table's row groups beside the added columns'
    # one chunk make polars panic.
    return every_figure(spec, frame.rechunk()), rows_read


#: LAIT's parquet table as a format a publisher's data set names (``format = "lait_parquet"``).
LAIT = FormatReader("lait_parquet", csv=read_lait_parquet)
