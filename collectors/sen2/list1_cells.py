"""The area SEND inspection's List 1 counted in child-level cells for the burden: those the council's SEN2 file fills,
those its CIN census and SSDA903 records fill, those it keys, and the SEN2 file's own items."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from pathlib import Path

from lxml import etree
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.annex_a.build import newest_sources, read_sources
from collectors.records.kept import kept_files
from collectors.records.privacy import checked_keys
from collectors.sen2.list1 import COLUMNS, NOT_HELD, PHASES, _newest_sen2, assemble_list1
from collectors.sen2.receiving import kept_sen2, tree_of
from collectors.sen2.records import read_records
from collectors.sen2.schema import survey_of
from indicators.store.models import Submission
from mappings.child_level import List1Cells
from onereturn.errors import NotFound
from onereturn.settings import Settings
from onereturn.workspace import private_folder

#: The columns the CIN census and SSDA903 records fill (List 1's social care columns); the others SEN2 holds.
FROM_CARE_RECORDS = (
    "Known to children's social care?",
    "Which children's social care team?",
    "Does the child or young person have a disability?",
)
#: The phases come from the register of establishments, not the SEN2 file: counted with the columns the council keys.
KEYED = (*NOT_HELD, *PHASES)
FROM_SEN2 = tuple(c for c in COLUMNS if c not in KEYED and c not in FROM_CARE_RECORDS)

#: Counts by the council, the date and the uploads read (by content, as Annex A's): a new upload or a purge changes
#: the key, so a count is never served after its records changed; a count names no child.
_CELLS: OrderedDict[tuple[object, ...], List1Cells] = OrderedDict()
_CELLS_HELD = 256
_CELLS_LOCK = threading.Lock()


def sen2_items(root: etree._Element) -> int:
    """The child-level items of a SEN2 file: every item with no item inside it, under ``Persons`` (not the header)."""
    return int(root.xpath("count(Persons//*[not(*)])"))


def list1_cells(engine: Engine, settings: Settings, agency_code: str, on: date) -> List1Cells | None:
    """The council's List 1 as at ``on`` in cells, with its SEN2 file's items; None when no SEN2 file is held for a
    census on or before the date."""
    with Session(engine) as session:
        try:
            year = _newest_sen2(session, agency_code, on)
        except NotFound:
            return None
        found = kept_sen2(session, agency_code, year)
        if found is None:
            return None
        sources = newest_sources(session, agency_code, on)
        read = [found, *(session.get(Submission, s.submission_id) for s in sources)]
        key = (
            agency_code,
            on,
            tuple(None if s is None else (s.content_hash, s.mode, s.collection_year, s.received_at) for s in read),
        )
        with _CELLS_LOCK:
            if (held := _CELLS.get(key)) is not None:
                _CELLS.move_to_end(key)
                return held
        cin, ssda903 = read_sources(session, settings, sources) if sources else (None, None)
    checked_keys(engine, settings)
    with private_folder(settings, "sen2-") as work:
        ((_, path),) = kept_files(engine, settings, found, Path(work))
        tree = tree_of(path.read_bytes(), max_bytes=settings.max_upload_bytes)
    rows = assemble_list1(read_records(tree, survey_of(year)), cin, ssda903, on).rows.height
    counted = List1Cells(
        on.isoformat(),
        sen2_items(tree.getroot()),
        rows * len(COLUMNS),
        rows * len(FROM_SEN2),
        rows * len(FROM_CARE_RECORDS),
        rows * len(KEYED),
    )
    with _CELLS_LOCK:
        _CELLS[key] = counted
        while len(_CELLS) > _CELLS_HELD:
            _CELLS.popitem(last=False)
    return counted
