"""A council's kept school census: what the door kept of it (the pupils the council needs, minimised by
``collectors.census.receiving``) sealed as one ZIP of its tables, and read back into :class:`CensusRecords`.

This is the one reader of a kept census: every list, check and figure made from the census reads it through
:func:`newest_censuses` or :func:`read_kept`. The ZIP holds ``census.json`` (the census's year, term, census day and
source) and one Arrow IPC file a table (``records.TABLES``); it is sealed under the deployment's records keys and kept
in the kept-file store (``onereturn.keptfiles``, any host's), so retention, purge and key rotation reach it as every
record-level file. It is opened in memory only: no pupil's record is written to disk unsealed.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.census.records import TABLES, CensusRecords, conformed
from collectors.door import kept_where
from collectors.records.kept import opened
from collectors.records.privacy import checked_keys
from indicators.store.models import Submission
from onereturn.errors import Conflict
from onereturn.settings import Settings

#: The purpose (and ``mode``) of a kept census among a council's record-level uploads.
PURPOSE = "school_census"
#: The statuses of a census kept: checked whole and kept at the door, so accepted at once, or partly accepted where its
#: schema refused some cells (each read blank and listed in the upload's report), as any record-level upload kept
#: with some of its rows refused is.
KEPT_STATUSES = ("accepted", "partially_accepted")
#: The columns added to the kept tables since censuses were first kept: an earlier census reads them blank.
ADDED_SINCE = frozenset({("possible", "authorised"), ("possible", "unauthorised")})
#: The member of the kept ZIP that says what the census is.
ABOUT = "census.json"


def kept_columns(records: CensusRecords) -> dict[str, Any]:
    """What a kept census's submission records of it in its own columns: its census day and source (``la`` or
    ``acad``), so the council's censuses are found by their day without opening one."""
    return {"census_day": records.census_day, "census_source": records.source}


def packed(records: CensusRecords) -> bytes:
    """The census's tables and what it is, as the ZIP that is sealed and kept."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        about = {"year": records.year, "term": records.term, "census_day": records.census_day.isoformat()}
        archive.writestr(ABOUT, json.dumps({**about, "source": records.source}))
        for name in TABLES:
            table = io.BytesIO()
            getattr(records, name).write_ipc(table)
            archive.writestr(f"{name}.arrow", table.getvalue())
    return buffer.getvalue()


def unpacked(data: bytes) -> CensusRecords:
    """The census a kept ZIP (opened) holds; Conflict where it is not one the door kept."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            about = json.loads(archive.read(ABOUT))
            tables = {
                name: _with_columns(name, pl.read_ipc(io.BytesIO(archive.read(f"{name}.arrow")))) for name in TABLES
            }
        day = date.fromisoformat(about["census_day"])
        return conformed(CensusRecords(int(about["year"]), str(about["term"]), day, str(about["source"]), **tables))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise Conflict(f"a kept census cannot be read ({type(exc).__name__}): the council sends it again") from None


def _with_columns(name: str, table: pl.DataFrame) -> pl.DataFrame:
    """A kept table with the columns added since it was kept read blank: a census kept before the possible sessions'
    absence totals were kept has none (its lists sum the per-code rows, as they did when it was kept)."""
    added = {c: t for c, t in TABLES[name].items() if c not in table.columns and (name, c) in ADDED_SINCE}
    return table.with_columns(pl.lit(None, t).alias(c) for c, t in added.items()) if added else table


def read_kept(engine: Engine, settings: Settings, submission: Submission) -> CensusRecords:
    """One kept census upload read back into its tables, opened in memory; KeysRefused where this host's records
    keys are not the deployment's."""
    checked_keys(engine, settings)
    return unpacked(opened(engine, settings, submission))


def kept_censuses(session: Session, agency_code: str) -> list[Submission]:
    """The council's census uploads still kept, newest census day first, then by source (``la`` before ``acad``),
    each census day and source's newest upload only (a census sent again corrected replaces the one before)."""
    found = session.exec(
        select(Submission).where(*kept_where(agency_code, PURPOSE, KEPT_STATUSES)).order_by(col(Submission.id).desc())
    ).all()
    newest: dict[tuple[date | None, str], Submission] = {}
    for upload in found:
        if upload.census_day is not None:
            newest.setdefault((upload.census_day, upload.census_source), upload)
    return sorted(newest.values(), key=lambda s: (_day(s), s.census_source == "la"), reverse=True)


def _day(upload: Submission) -> date:
    assert upload.census_day is not None
    return upload.census_day


def newest_censuses(engine: Engine, settings: Settings, agency_code: str, on: date) -> list[CensusRecords]:
    """The council's newest kept census on or before ``on`` and the one before it, newest first. Each census day's
    sources come apart, one :class:`CensusRecords` each (its ``la`` file, the council's own schools, before its
    ``acad`` file, academies'), since each numbers its pupils on its own: a list or figure reads both of a day. Empty
    when the council has kept no census on or before the date."""
    with Session(engine) as session:
        uploads = [s for s in kept_censuses(session, agency_code) if _day(s) <= on]
    days = sorted({_day(s) for s in uploads}, reverse=True)[:2]
    return [read_kept(engine, settings, s) for s in uploads if _day(s) in days]
