"""Which of a council's uploads a region's table is read from, and the tables read from them.

A council's newest upload of each return that passed (the SSDA903 and the CIN census once DfE's rules passed them,
SEN2 once its checks did) and is still kept, of a collection year inside the use case's retention: the year it
ends must be after this year less the retention years, as the regional pipeline keeps a year
(liiatools/common/transform.py, ``apply_retention``: ``table[year_column] > current_year - retention_period``).
Nothing read is kept: the files are opened in a private folder removed at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.annex_a.build import PASSED
from collectors.records.kept import kept_files
from collectors.records.reading import read_files
from collectors.records.ssda903_tables import prepare
from collectors.sen2.records import Sen2Records, read_kept_file, read_kept_upload
from indicators.store.models import ANNEX_A_EXTRACT, RECORDS_KIND, Submission
from onereturn.settings import Settings
from onereturn.workspace import private_folder


@dataclass(frozen=True)
class Held:
    """One upload a table is read from: whose (agency and GSS code), which return (its ``source_format`` in the registry
    of child-level returns, ``mappings.child_level``), its year and its id."""

    council: str
    gss: str
    library: str
    collection_year: str
    submission_id: int

    @property
    def year_end(self) -> date:
        """31 March of the collection year: the last day the upload's records can hold."""
        return date(int(self.collection_year[:4]) + 1, 3, 31)


def ends(collection_year: str) -> int:
    """The calendar year a collection year ends in (``2024-25`` -> 2025)."""
    return int(collection_year[:4]) + 1


def newest(
    session: Session,
    council: str,
    gss: str,
    library: str,
    retention_years: int,
    today: date,
    *,
    year: str | None = None,
) -> Held | None:
    """The council's newest upload of the child-level return kept as ``library`` (its ``source_format`` in the
    registry) that passed and is kept, of a year inside the retention (of ``year`` alone, where given); or None."""
    where = [
        col(Submission.agency_code) == council,
        col(Submission.kind) == RECORDS_KIND,
        col(Submission.purged_at).is_(None),
        col(Submission.collection_year).is_not(None),
        col(Submission.source_format) == library,
        col(Submission.status).in_(PASSED),
        # A file sent for Annex A alone (an extract's files kept for an inspection) is no return: never pooled.
        col(Submission.mode) != ANNEX_A_EXTRACT,
    ]
    if year is not None:
        where.append(col(Submission.collection_year) == year)
    rows = session.exec(select(Submission).where(*where)).all()
    usable = [
        s
        for s in rows
        if s.collection_year and (year is not None or ends(s.collection_year) > today.year - retention_years)
    ]
    if not usable:
        return None
    chosen = max(usable, key=lambda s: (s.collection_year or "", s.id or 0))
    assert chosen.id is not None
    assert chosen.collection_year is not None
    return Held(council, gss, library, chosen.collection_year, chosen.id)


def read_tables(engine: Engine, settings: Settings, held: Held) -> dict[str, pl.DataFrame]:
    """The SSDA903 or CIN census tables of an upload, decrypted in a private folder removed at once."""
    with Session(engine) as session:
        submission = session.get(Submission, held.submission_id)
    assert submission is not None
    with private_folder(settings, "region-") as work:
        kept = kept_files(engine, settings, submission, Path(work))
        read = read_files(kept, Path(work), held.collection_year, max_unpacked=settings.max_upload_bytes)
    return dict(read.tables) if read.library == "cin" else prepare(read.tables)


def read_sen2(engine: Engine, settings: Settings, held: Held) -> Sen2Records:
    """The SEN2 tables of an upload, decrypted in a private folder removed at once."""
    with Session(engine) as session:
        submission = session.get(Submission, held.submission_id)
    assert submission is not None
    return read_kept_upload(engine, settings, submission, read_kept_file)[0]
