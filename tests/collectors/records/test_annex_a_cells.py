"""Annex A's cells as the burden counts them: counted once for the uploads they were read from, and counted again as
soon as the council's records change (a newer upload, a purge), never served from records since replaced."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import fastexcel
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.annex_a import build as annex_a
from collectors.annex_a.workbook import workbook
from collectors.records.cin_tables import read_cin_tables
from collectors.records.ssda903_tables import prepare, read_csv_tables
from indicators.store.models import Submission
from mappings.annex_a import AnnexCells, load_layout
from onereturn.settings import Settings
from tests.collectors.records.annex_a_cases import CIN_XML, plant_kept, write_903

ON = date(2025, 11, 15)


def _cells(store: Engine, settings: Settings) -> AnnexCells | None:
    with Session(store) as session:
        return annex_a.annex_a_cells(session, settings, "notts_cyp", ON)


def test_the_cells_are_counted_once_per_set_of_uploads_and_again_when_the_records_change(
    store: Engine, store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    real = annex_a.build_annex_a

    def counting(*args: object, **kwargs: object) -> annex_a.AnnexA:
        built.append("built")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(annex_a, "build_annex_a", counting)
    # Counts other tests of this process made of the same files would be served here: this test starts with none.
    monkeypatch.setattr(annex_a, "_CELLS", type(annex_a._CELLS)())
    assert _cells(store, store_settings) is None
    census = tmp_path / "in" / "cin_census.xml"
    census.parent.mkdir()
    census.write_text(CIN_XML, encoding="utf-8")
    plant_kept(store, store_settings, "cin", [census])
    first = _cells(store, store_settings)
    assert first is not None
    assert first.cells > 0
    assert _cells(store, store_settings) == first
    assert len(built) == 1
    # The council's SSDA903 arrives: Lists 8 to 10 gain their children at the very next count.
    newer = plant_kept(store, store_settings, "903", write_903(tmp_path / "in" / "903"))
    second = _cells(store, store_settings)
    assert second is not None
    assert second.cells > first.cells
    assert len(built) == 2
    # Purged by the retention rule: the count is the census's alone again (the first count, of these very uploads),
    # not the one made with the 903 in it.
    with Session(store) as session:
        row = session.get(Submission, newer)
        assert row is not None
        row.purged_at = datetime.now(UTC)
        session.add(row)
        session.commit()
    assert _cells(store, store_settings) == first
    assert len(built) == 2


def test_a_cell_counts_as_filled_from_the_records_only_where_they_wrote_a_value(tmp_path: Path) -> None:
    write_903(tmp_path / "903")
    annex = annex_a.assemble(
        read_cin_tables(CIN_XML.encode()), prepare(read_csv_tables(tmp_path / "903")), ON, load_layout(), []
    )
    counted = annex_a.cells(annex)
    # Counted again from the workbook the council downloads: a cell of a column the records fill, holding a value.
    sheets = fastexcel.read_excel(workbook(annex))
    written = blank = 0
    for item in annex.layout.lists:
        sheet = sheets.load_sheet_by_name(item.sheet, dtypes="string").to_polars()
        for heading in item.filled:
            values = [v for v in sheet[heading].to_list() if v is not None and v.strip()] if sheet.height else []
            written += len(values)
            blank += sheet.height - len(values)
    assert blank > 0  # some child has a blank the records fill for others (a case still open has no closure date)
    assert counted.from_records == written
    assert counted.from_extract == 0
    assert counted.keyed == counted.cells - written
