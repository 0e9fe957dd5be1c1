"""A council's kept SEN2 file read for what is asked of it, and DfE's EHC plan tables made from its newest file of the
year (nothing made is kept on disk).

A kept file is read a child at a time (``records.read_kept_file``: the whole tree is never held) and what is read is
held in this process's memory only, for the requests of one sitting: the twelve tables, List 1 and the checks across
returns asked one after another read the file once. Held by the kept file's upload, digest and the records keys it was
opened with (a new upload or a key rotation reads it again; a purged upload is no longer found, so never served), at most ``_READ_HELD`` files for
at most ``READ_SECONDS`` each; the tables made (counts, no child) are held by the same key.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine
from sqlmodel import Session

from collectors.records.privacy import checked_keys
from collectors.sen2.measures import tables
from collectors.sen2.placing import placements_register
from collectors.sen2.receiving import kept_sen2
from collectors.sen2.records import Sen2Records, census_in_kept_file, read_kept_file, read_kept_upload
from collectors.sen2.schema import survey_of
from collectors.sen2.tables import Row, Table, council_rows, counted_rows, dfe_place, layout, write
from indicators.store.models import Submission
from mappings.establishments.register import held
from mappings.illustrative import councils_of
from mappings.models import OrgUnit
from onereturn.errors import InvalidInput, NotFound
from onereturn.settings import Settings

#: The twelve tables of DfE's 2025 release, by the name of their CSV.
TABLES = tuple(sorted(layout()))


@dataclass(frozen=True)
class Made:
    """One table made: its CSV, its notes (what the file cannot give), and the upload it was made from."""

    csv: str
    notes: list[str]
    submission_id: int
    #: The table's rules, its rows' counts and the council's identity columns: what England's rows add up.
    table: Table
    rows: list[Row]
    identity: dict[str, str]


def _identity(session: Session, agency_code: str) -> dict[str, str]:
    """The council's codes, name and region as DfE's release writes them; an illustrative council's own code and
    name, with no DfE number or region ("x")."""
    councils = councils_of(session, agency_code)
    if len(councils) != 1:
        raise InvalidInput(f"DfE's tables are a council's: agency {agency_code} answers for {len(councils)} councils")
    council = councils[0]
    dfe = council_rows()
    known = dfe.get(dfe_place(council.org, dfe))
    if known is not None:
        return {k: known[k] for k in ("new_la_code", "old_la_code", "la_name", "region_code", "region_name")}
    unit = session.get(OrgUnit, council.org)
    name = unit.name if unit is not None else council.org
    return {"new_la_code": council.org, "old_la_code": "x", "la_name": name, "region_code": "x", "region_name": "x"}


@dataclass(frozen=True)
class Read:
    """A kept SEN2 file read: its tables, its child-level items and its upload's id."""

    records: Sen2Records
    items: int
    submission_id: int


#: Kept files read, by their upload, digest and the fingerprint of the keys they were opened with; each with when it
#: is let go of. A file is read by one request at a time: the others asking for it wait for that read.
_READ: OrderedDict[tuple[object, ...], tuple[Read, float]] = OrderedDict()
_READ_HELD = 2
READ_SECONDS = 300.0
_READING: dict[tuple[object, ...], threading.Lock] = {}
_READ_LOCK = threading.Lock()
#: The tables made from a file, by the same key and the council's identity: counts only.
_TABLES: OrderedDict[tuple[object, ...], dict[str, Made]] = OrderedDict()
_TABLES_HELD = 16
#: Census dates of kept files by their upload and digest (a date, no child's).
_CENSUS: OrderedDict[tuple[object, ...], date] = OrderedDict()
_CENSUS_HELD = 256


def read_key(engine: Engine, settings: Settings, found: Submission) -> tuple[object, ...]:
    """What a kept file is held by; refused (KeysRefused) where this host's keys are not the deployment's."""
    keys = checked_keys(engine, settings)
    return (found.id, found.content_hash, found.raw_path, keys.fingerprint)


def _held(key: tuple[object, ...]) -> Read | None:
    """The file read under ``key`` if still held, its time renewed; every entry past its time let go of."""
    now = time.monotonic()
    with _READ_LOCK:
        for stale in [k for k, (_, until) in _READ.items() if until <= now]:
            del _READ[stale]
        held = _READ.get(key)
        if held is None:
            return None
        _READ[key] = (held[0], now + READ_SECONDS)
        _READ.move_to_end(key)
        return held[0]


def read_submission(engine: Engine, settings: Settings, found: Submission) -> Read:
    """A kept SEN2 upload read into its tables, once per sitting (held in memory, see the module's note)."""
    assert found.id is not None
    key = read_key(engine, settings, found)
    if (held := _held(key)) is not None:
        return held
    with _READ_LOCK:
        reading = _READING.setdefault(key, threading.Lock())
    try:
        with reading:
            # Another request may have read it while this one waited.
            if (held := _held(key)) is not None:
                return held
            records, items = read_kept_upload(engine, settings, found, read_kept_file)
            read = Read(records, items, found.id)
            with _READ_LOCK:
                _READ[key] = (read, time.monotonic() + READ_SECONDS)
                while len(_READ) > _READ_HELD:
                    _READ.popitem(last=False)
                _CENSUS[key[:3]] = records.census
            return read
    finally:
        with _READ_LOCK:
            _READING.pop(key, None)


def census_date(engine: Engine, settings: Settings, found: Submission) -> date:
    """A kept SEN2 upload's census date (its header's ``ReferenceDate``), read from its header alone once."""
    key = read_key(engine, settings, found)
    if (held := _held(key)) is not None:
        return held.records.census
    with _READ_LOCK:
        if (known := _CENSUS.get(key[:3])) is not None:
            return known
    census = read_kept_upload(engine, settings, found, census_in_kept_file)
    with _READ_LOCK:
        _CENSUS[key[:3]] = census
        while len(_CENSUS) > _CENSUS_HELD:
            _CENSUS.popitem(last=False)
    return census


def read_kept(engine: Engine, settings: Settings, agency_code: str, collection_year: str) -> tuple[Sen2Records, int]:
    """The council's newest SEN2 file of the year read into tables, and its upload's id; NotFound when none is kept."""
    survey_of(collection_year)
    with Session(engine) as session:
        found = kept_sen2(session, agency_code, collection_year)
    if found is None or found.id is None:
        raise NotFound(f"{agency_code} has no SEN2 file kept for {collection_year}")
    read = read_submission(engine, settings, found)
    return read.records, read.submission_id


def make_tables(
    engine: Engine, settings: Settings, agency_code: str, collection_year: str, names: tuple[str, ...] = TABLES
) -> dict[str, Made]:
    """DfE's tables ``names`` of the council for the year, from its newest SEN2 file: all twelve made at the first
    ask and held (counts only) for the others."""
    for table in names:
        if table not in TABLES:
            raise NotFound(f"DfE's EHC plan tables are {', '.join(TABLES)}, not {table[:40]!r}")
    survey = survey_of(collection_year)
    with Session(engine) as session:
        identity = _identity(session, agency_code)
        found = kept_sen2(session, agency_code, collection_year)
        # The register of establishments types each placement: tables made under one load are not another's.
        register = held(session)
    if found is None or found.id is None:
        raise NotFound(f"{agency_code} has no SEN2 file kept for {collection_year}")
    key = (
        *read_key(engine, settings, found),
        tuple(sorted(identity.items())),
        register.id if register is not None else None,
    )
    with _READ_LOCK:
        made = _TABLES.get(key)
        if made is not None:
            _TABLES.move_to_end(key)
    if made is None:
        read = read_submission(engine, settings, found)
        every = tables(read.records, survey, placements_register(engine, read.records))
        made = {}
        for name, (definition, units) in every.items():
            rows = counted_rows(definition, units)
            text = write(definition, survey, [({"geographic_level": "Local authority", **identity}, rows)])
            made[name] = Made(text, definition.notes(), read.submission_id, definition, rows, identity)
        with _READ_LOCK:
            _TABLES[key] = made
            while len(_TABLES) > _TABLES_HELD:
                _TABLES.popitem(last=False)
    return {table: made[table] for table in names}
