"""DfE's EHC plan tables of a council, made when asked from its newest SEN2 file of the year (nothing made is kept)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from collectors.records.kept import kept_files
from collectors.records.privacy import checked_keys
from collectors.sen2.measures import tables
from collectors.sen2.placing import placements_register
from collectors.sen2.receiving import kept_sen2, tree_of
from collectors.sen2.records import Sen2Records, read_records
from collectors.sen2.schema import survey_of
from collectors.sen2.tables import council_rows, layout, render
from mappings.illustrative import councils_of
from mappings.models import OrgUnit
from onereturn.errors import InvalidInput, NotFound
from onereturn.settings import Settings
from onereturn.workspace import private_folder

#: The twelve tables of DfE's 2025 release, by the name of their CSV.
TABLES = tuple(sorted(layout()))


@dataclass(frozen=True)
class Made:
    """One table made: its CSV, its notes (what the file cannot give), and the upload it was made from."""

    csv: str
    notes: list[str]
    submission_id: int


def _identity(session: Session, agency_code: str) -> dict[str, str]:
    """The council's codes, name and region as DfE's release writes them; an illustrative council's own code and
    name, with no DfE number or region ("x")."""
    councils = councils_of(session, agency_code)
    if len(councils) != 1:
        raise InvalidInput(f"DfE's tables are a council's: agency {agency_code} answers for {len(councils)} councils")
    council = councils[0]
    known = council_rows().get(council.org)
    if known is not None:
        return {k: known[k] for k in ("new_la_code", "old_la_code", "la_name", "region_code", "region_name")}
    unit = session.get(OrgUnit, council.org)
    name = unit.name if unit is not None else council.org
    return {"new_la_code": council.org, "old_la_code": "x", "la_name": name, "region_code": "x", "region_name": "x"}


def read_kept(engine: Engine, settings: Settings, agency_code: str, collection_year: str) -> tuple[Sen2Records, int]:
    """The council's newest SEN2 file of the year read into tables, and its upload's id; NotFound when none is kept."""
    survey = survey_of(collection_year)
    with Session(engine) as session:
        found = kept_sen2(session, agency_code, collection_year)
    if found is None or found.id is None:
        raise NotFound(f"{agency_code} has no SEN2 file kept for {collection_year}")
    checked_keys(engine, settings)
    with private_folder(settings, "sen2-") as work:
        ((_, path),) = kept_files(engine, settings, found, Path(work))
        tree = tree_of(path.read_bytes(), max_bytes=settings.max_upload_bytes)
    return read_records(tree, survey), found.id


def make_tables(
    engine: Engine, settings: Settings, agency_code: str, collection_year: str, names: tuple[str, ...] = TABLES
) -> dict[str, Made]:
    """DfE's tables ``names`` of the council for the year, from its newest SEN2 file (read once)."""
    for table in names:
        if table not in TABLES:
            raise NotFound(f"DfE's EHC plan tables are {', '.join(TABLES)}, not {table[:40]!r}")
    survey = survey_of(collection_year)
    with Session(engine) as session:
        identity = _identity(session, agency_code)
    records, sid = read_kept(engine, settings, agency_code, collection_year)
    every = tables(records, survey, placements_register(engine, records))
    out = {}
    for table in names:
        made, units = every[table]
        out[table] = Made(render(made, units, identity, survey), made.notes(), sid)
    return out
