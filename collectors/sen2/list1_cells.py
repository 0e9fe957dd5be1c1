"""The area SEND inspection's List 1 counted in child-level cells for the burden: those the council's SEN2 file fills,
those its school census fills, those its CIN census and SSDA903 records fill, those it keys, and the SEN2 file's own
items; and its List 2 (children on SEN support) alike, where a school census is kept."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from datetime import date

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.annex_a.build import newest_sources, read_sources, written
from collectors.census.kept import kept_censuses, newest_censuses
from collectors.census.lists import SCHOOL_COLUMNS, census_urns
from collectors.sen2.list1 import CANNOT_APPLY, COLUMNS, NOT_HELD, assemble_list1, newest_sen2
from collectors.sen2.list2 import COLUMNS as LIST2_COLUMNS
from collectors.sen2.list2 import List2, assemble_list2
from collectors.sen2.placing import register_for
from collectors.sen2.service import read_submission
from indicators.store.models import Submission
from mappings.child_level import List1Cells, List2Cells
from mappings.establishments.register import held as held_register
from onereturn.errors import NotFound
from onereturn.settings import Settings

#: The columns the CIN census and SSDA903 records fill (List 1's social care columns); the others SEN2 holds.
FROM_CARE_RECORDS = (
    "Known to children's social care?",
    "Which children's social care team?",
    "Does the child or young person have a disability?",
)
KNOWN, TEAM = FROM_CARE_RECORDS[0], FROM_CARE_RECORDS[1]
#: The columns the SEN2 file fills, the two phases among them: the file's URN typed by the register of establishments
#: (blank, so the council's to key, where no register is loaded or the URN is not on it).
FROM_SEN2 = tuple(c for c in COLUMNS if c not in NOT_HELD and c not in FROM_CARE_RECORDS and c not in SCHOOL_COLUMNS)

#: Counts by the council, the date and the uploads read (by content, as Annex A's): a new upload or a purge changes
#: the key, so a count is never served after its records changed; a count names no child.
_CELLS: OrderedDict[tuple[object, ...], List1Cells] = OrderedDict()
_CELLS_HELD = 256
_CELLS_LOCK = threading.Lock()


def counted_cells(
    rows: pl.DataFrame,
    on: date,
    items: int,
    *,
    care_read: bool,
    not_applying: dict[str, int] | None = None,
    from_census: dict[str, int] | None = None,
    list2: List2Cells | None = None,
) -> List1Cells:
    """List 1's rows counted cell by cell: a cell is filled from a source only where that source wrote it. "Known to
    children's social care?" is the care records' answer only where a CIN census or SSDA903 was read (without one
    its "No" is no reading of any record); the team and the disability only where they hold a value; a column SEN2
    fills only where the file held a value for the child, and the school census's cells (``from_census`` per column,
    as the list was assembled: its school columns, and a school SEN2 has none of) where it did. A blank cell that
    cannot apply to its child is left out (``CANNOT_APPLY``: ``not_applying`` per column, as the list was assembled;
    the team of a child the care records read show not known). Every other cell is the council's to key."""
    census = from_census or {}
    from_sen2 = sum(written(rows[c]) - census.get(c, 0) for c in FROM_SEN2)
    from_care, skipped = _care_cells(rows, care_read, not_applying)
    cells = rows.height * len(COLUMNS) - skipped
    filled = sum(census.values())
    keyed = cells - from_sen2 - from_care - filled
    return List1Cells(on.isoformat(), items, cells, from_sen2, from_care, keyed, skipped, filled, list2)


def counted_list2(built: List2, *, care_read: bool) -> List2Cells:
    """List 2's rows counted cell by cell as List 1's are: the census's cells where it wrote them, the care records'
    where they did, the blanks that cannot apply left out, the rest the council's to key."""
    from_care, skipped = _care_cells(built.rows, care_read, built.not_applying)
    cells = built.rows.height * len(LIST2_COLUMNS) - skipped
    filled = sum(built.from_census.values())
    return List2Cells(cells, filled, from_care, cells - filled - from_care, skipped)


def _care_cells(rows: pl.DataFrame, care_read: bool, not_applying: dict[str, int] | None) -> tuple[int, int]:
    """The cells a list's care records fill, and its blank cells that cannot apply."""
    from_care = 0
    left_out = dict(not_applying or {})
    if care_read:
        from_care = rows.height + sum(written(rows[c]) for c in FROM_CARE_RECORDS if c != KNOWN)
        unknown = rows.filter(pl.col(KNOWN) == "No")
        left_out[TEAM] = unknown.height - written(unknown[TEAM])
    return from_care, sum(left_out.get(c, 0) for c in CANNOT_APPLY)


def list1_cells(engine: Engine, settings: Settings, agency_code: str, on: date) -> List1Cells | None:
    """The council's List 1 as at ``on`` in cells, with its SEN2 file's items, and its List 2 where a school census is
    kept; a council with a census and no SEN2 file has its List 2 alone (List 1's counts 0); None with neither."""
    found: Submission | None = None
    with contextlib.suppress(NotFound):
        found = newest_sen2(engine, settings, agency_code, on)
    with Session(engine) as session:
        sources = newest_sources(session, agency_code, on)
        read = [found, *(session.get(Submission, s.submission_id) for s in sources)]
        # The phases are the register's: a count made under one load of it is not another's.
        loaded = held_register(session)
        censuses_kept = tuple((c.id, c.content_hash) for c in kept_censuses(session, agency_code))
        if found is None and not censuses_kept:
            return None
        key = (
            agency_code,
            on,
            tuple(None if s is None else (s.content_hash, s.mode, s.collection_year, s.received_at) for s in read),
            loaded.id if loaded is not None else None,
            censuses_kept,
        )
        with _CELLS_LOCK:
            if (held := _CELLS.get(key)) is not None:
                _CELLS.move_to_end(key)
                return held
        cin, ssda903 = read_sources(session, settings, sources) if sources else (None, None)
    censuses = newest_censuses(engine, settings, agency_code, on)
    if found is None and not censuses:
        return None
    kept = read_submission(engine, settings, found) if found is not None else None
    urns = (kept.records.placements["urn"].drop_nulls().to_list() if kept else []) + census_urns(censuses)
    register = register_for(engine, urns, [], on)
    care_read = cin is not None or ssda903 is not None
    supported = assemble_list2(censuses, cin, ssda903, on, register) if censuses else None
    list2 = counted_list2(supported, care_read=care_read) if supported is not None else None
    if kept is None:
        counted = List1Cells(on.isoformat(), 0, 0, 0, 0, 0, list2=list2)
    else:
        built = assemble_list1(kept.records, cin, ssda903, on, register, censuses)
        counted = counted_cells(
            built.rows,
            on,
            kept.items,
            care_read=care_read,
            not_applying=built.not_applying,
            from_census=built.from_census,
            list2=list2,
        )
    with _CELLS_LOCK:
        _CELLS[key] = counted
        while len(_CELLS) > _CELLS_HELD:
            _CELLS.popitem(last=False)
    return counted
