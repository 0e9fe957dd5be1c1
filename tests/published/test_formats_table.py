"""The formats of publishers' files are one table, filled explicitly: a new format is a reader and a row, and the
folder of the data sets declared is the mappings package's own, never reached by a relative path."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from collectors.published import sources
from collectors.published.formats import READERS, read_published
from collectors.published.read import AreaLookup, FormatReader
from collectors.published.sources import SourceSpec, load_sources
from mappings.catalogue import PUBLISHED_DIR
from onereturn.errors import InvalidInput

SPEC = load_sources().sources["ons_population_0_17"]


def _reader(said: str) -> FormatReader:
    def read(spec: SourceSpec, data: bytes, _areas: AreaLookup) -> tuple[pl.DataFrame, int]:
        return pl.DataFrame({"note": [f"{said} by {spec.format}"]}), len(data)

    return FormatReader("tally_csv", csv=read, json=read)


def test_every_declared_format_has_a_row() -> None:
    """Every bundled data set names a format the table reads; the table holds EES, Fingertips, NDTMS's ViewIt and
    DfE's compendium (LAIT)."""
    declared = {spec.format for spec in load_sources().sources.values()}
    assert declared <= set(READERS)
    assert set(READERS) == {"ees_csv", "fingertips", "ndtms_viewit", "lait_parquet"}
    assert all(name == reader.name for name, reader in READERS.items())


def test_a_new_format_is_a_row() -> None:
    """A data set naming a format is read by that format's row; nothing else is changed to add one."""
    spec = SPEC.model_copy(update={"format": "tally_csv"})
    table = {**READERS, "tally_csv": _reader("tallied")}
    figures, rows = read_published(spec, b"a,b\n1,2\n", readers=table)
    assert figures["note"].to_list() == ["tallied by tally_csv"]
    assert rows == len(b"a,b\n1,2\n")


def test_a_format_without_a_row_is_refused_by_name() -> None:
    """A format no row reads is refused, naming it and the formats there are; it is never read as another."""
    spec = SPEC.model_copy(update={"format": "tally_csv"})
    with pytest.raises(InvalidInput, match="no reader reads the format 'tally_csv' \\(ees_csv, fingertips, ndtms"):
        read_published(spec, b"a,b\n1,2\n")


def test_a_format_that_names_areas_needs_the_stores_geography() -> None:
    """ViewIt names its areas: read without the store's geography, its first area is refused, never guessed."""
    viewit = load_sources().sources["ndtms_viewit_adults_la"]
    with pytest.raises(InvalidInput, match="read without the store's geography"):
        read_published(viewit, viewit.bundled.read_bytes())


def test_the_data_sets_folder_is_the_mappings_packages_own() -> None:
    """sources.py takes the folder from mappings (PUBLISHED_DIR), not by climbing out of its own package."""
    assert sources.SOURCES_DIR == PUBLISHED_DIR
    assert any(PUBLISHED_DIR.glob("*.toml"))
    assert ".parent.parent" not in Path(sources.__file__).read_text(encoding="utf-8")
