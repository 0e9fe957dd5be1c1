"""An EES file is read in one pass only where figure by figure reads the very same figures: every bundled file
gives the same frame either way, and a file with any refused cell is read figure by figure, which names it; read to
the rows and columns a figure reads, it gives what the whole file gives, every row still checked; a rounded
publisher's parts above their totals are found the same whichever breakdowns a release holds."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from collectors.published import read
from collectors.published.check import ImplausibleRelease, _parts_within_totals, _Places
from collectors.published.read import PublishedFormatError
from collectors.published.sources import load_sources

SOURCES = load_sources().sources
EES = sorted(s.id for s in SOURCES.values() if s.format == "ees_csv" and s.bundled.is_file())


@pytest.mark.parametrize("source", EES)
def test_one_pass_reads_what_figure_by_figure_reads(source: str) -> None:
    spec = SOURCES[source]
    frame = read.read_csv_text(spec, spec.bundled.read_bytes())
    one_pass = read._in_one_pass(spec, frame)
    assert one_pass is not None, "a bundled file is refused nothing, so it is read in one pass"
    by_figure = pl.concat([read._figures(spec, fig, frame) for fig in spec.figure], how="vertical")
    assert_frame_equal(one_pass, by_figure)


@pytest.mark.parametrize("source", EES)
def test_the_file_read_to_the_rows_and_columns_a_figure_reads_gives_what_the_whole_file_gives(source: str) -> None:
    """The intake's read keeps only the columns and rows a figure reads: the same figures, the same row numbers, and
    every row of the file counted, as read from the whole file."""
    spec = SOURCES[source]
    data = spec.bundled.read_bytes()
    whole = read.read_csv_text(spec, data)
    figures, rows = read.read_ees_csv(spec, data)
    assert rows == whole.height
    assert_frame_equal(figures, read.every_figure(spec, whole))
    assert set(read._columns_read(spec)) <= set(spec.columns)


def test_a_row_no_figure_reads_is_still_held_to_the_layout() -> None:
    """Every row's fields, year and time identifier are checked, not only those a figure reads."""
    spec = SOURCES["dfe_care_leavers_activity"]
    assert all(fig.where["care_leaver_age"] != "17 to 18 years" for fig in spec.figure)
    lines = spec.bundled.read_text(encoding="utf-8-sig").split("\n")
    unread = next(n for n, line in enumerate(lines) if ",17 to 18 years," in line)
    for wrong in ("Reporting yaer", "Reporting year,extra"):
        damaged = [*lines[:unread], lines[unread].replace("Reporting year", wrong, 1), *lines[unread + 1 :]]
        with pytest.raises(PublishedFormatError) as refused:
            read.read_ees_csv(spec, "\n".join(damaged).encode())
        assert "declared layout" in refused.value.message or f"row {unread + 1}:" in refused.value.message


#: A source with first year (2013: DfE's tables here start there), so a row before it is refused.
SPEC = SOURCES["dfe_care_leavers_accommodation"].model_copy(update={"first_year": 2013})


def _damaged(column: str, value: str) -> tuple[pl.DataFrame, str]:
    frame = read.read_csv_text(SPEC, SPEC.bundled.read_bytes())
    # An England row of the source's first figure.
    fig = SPEC.figure[0]
    wanted = pl.all_horizontal(pl.col(c).fill_null("") == v for c, v in fig.where.items())
    row = frame.filter(wanted & (pl.col(SPEC.level_column) == "National"))["file_row"][0]
    damaged = frame.with_columns(
        pl.when(pl.col("file_row") == row).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    return damaged, f"row {row}:"


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("time_period", "20x4", "is not a period"),
        ("time_period", "2009", "is before 2013"),
        (SPEC.figure[0].value, "many", "is neither a number nor one of the publisher's symbols"),
        (SPEC.levels["National"], "", "no area code"),
    ],
)
def test_a_refused_cell_is_named_as_figure_by_figure_names_it(column: str, value: str, words: str) -> None:
    frame, where = _damaged(column, value)
    assert read._in_one_pass(SPEC, frame) is None
    with pytest.raises(PublishedFormatError) as refused:
        read.every_figure(SPEC, frame)
    assert words in refused.value.message
    assert where in refused.value.message


def test_a_part_above_its_total_is_refused_naming_both_rows() -> None:
    figures = pl.DataFrame(
        {
            "indicator_id": ["ndtms.adults_in_treatment"] * 4,
            "org_code": ["E09000003"] * 4,
            "period": ["FY2023-24"] * 4,
            "breakdown": ["", "sex=F", "age_group_ndtms=18-29;sex=F", "age_group_ndtms=18-29"],
            "value": [100.0, 40.0, 45.0, 50.0],
            "file_row": [2, 3, 4, 5],
        }
    )
    numbered = figures.with_row_index("_figure", offset=1).with_columns(pl.col("_figure").cast(pl.Int64))
    with pytest.raises(ImplausibleRelease) as refused:
        _parts_within_totals(numbered, _Places(numbered, {}), "f.csv")
    # Women aged 18-29 (45) above all women (40): the part's row and its total's.
    assert refused.value.message.startswith("f.csv row 4: ")
    assert "for sex=F only 40 (row 3)" in refused.value.message
    assert "1 such figure(s)" in refused.value.message
    ordered = numbered.with_columns(
        pl.when(pl.col("_figure") == 3).then(35.0).otherwise(pl.col("value")).alias("value")
    )
    _parts_within_totals(ordered, _Places(ordered, {}), "f.csv")
