"""DfE's compendium (LAIT) read as published: a council's number read as its ONS code in the row's year, England's
as England's, a region's kept apart as no area of the geography; a table of another layout refused whole."""

from __future__ import annotations

import io

import polars as pl
import pytest

from collectors.published.formats import read_published
from collectors.published.read import PublishedFormatError
from collectors.published.sources import FILES_DIR, load_sources


def test_a_council_s_number_is_its_code_and_each_figure_its_row() -> None:
    spec = load_sources().sources["dfe_lait"]
    table = pl.read_parquet(FILES_DIR / spec.file)
    figures, rows = read_published(spec, (FILES_DIR / spec.file).read_bytes())
    assert rows == table.height
    notts = figures.filter((pl.col("indicator_id") == "cyp.eyfs_gld_fsm") & (pl.col("org_code") == "E10000024")).sort(
        "period"
    )
    # Nottinghamshire is DfE's council 891; its 2025 figure is of the academic year 2024/25.
    row = table.row(int(notts["file_row"][-1]) - 1, named=True)
    assert (row["LA Number"], row["Short Desc"], row["Years"]) == (891, "FSP_Gooddev_FSM", "2025")
    assert notts["period"][-1] == "AY2024-25"
    assert notts["value"][-1] == float(row["Values"])
    assert "E92000001" in set(figures["org_code"])
    assert "DfE number 980" in set(figures["org_code"])


def test_a_table_of_another_layout_is_refused_naming_the_difference() -> None:
    spec = load_sources().sources["dfe_lait"]
    table = pl.read_parquet(FILES_DIR / spec.file).head(50).rename({"Values": "Value"})
    out = io.BytesIO()
    table.write_parquet(out)
    with pytest.raises(PublishedFormatError, match=r"missing Values; 1 column\(s\) it does not declare \(column \d+\)"):
        read_published(spec, out.getvalue())


def test_only_the_measures_a_figure_reads_are_held_to_its_rules() -> None:
    spec = load_sources().sources["dfe_lait"]
    read = {wanted for fig in spec.figure for wanted in fig.where.values()}
    table = pl.read_parquet(FILES_DIR / spec.file)
    other = table.with_row_index("n").filter(~pl.col("Short Desc").is_in(list(read)))["n"][0]
    taken = table.with_row_index("n").filter(pl.col("Short Desc") == "FSP_Gooddev_FSM")["n"][0]

    def with_years(n: int, years: str) -> bytes:
        out = io.BytesIO()
        table.with_columns(
            pl.when(pl.int_range(pl.len()) == n).then(pl.lit(years)).otherwise(pl.col("Years")).alias("Years")
        ).write_parquet(out)
        return out.getvalue()

    figures, rows = read_published(spec, (FILES_DIR / spec.file).read_bytes())
    # A measure no figure reads is not read, so a period no rule reads in it refuses nothing.
    again, rows_again = read_published(spec, with_years(other, "not a year"))
    assert (rows_again, again.equals(figures)) == (rows, True)
    with pytest.raises(PublishedFormatError, match=rf"row {taken + 1}: Years 'not a year'"):
        read_published(spec, with_years(taken, "not a year"))
