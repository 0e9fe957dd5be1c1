"""A council's school census at the door: read and checked whole (``collectors.census.blades``), minimised to the
pupils the council needs, and kept sealed as its other children's records are; or refused with nothing kept where it
is no census of its year (the reader's refusal), and each cell its schema refuses read blank and listed among the
upload's problems by file, table, row and item.

It comes through the record-level upload (``POST /api/submissions`` with ``collection_year``, the form field
``files``) and the table of ways in (``collectors.ways_in``, which tells COLLECT's blade CSVs by their headings and
gathers the UPNs the council's other records hold), and walks through the one door (``collectors.door``): checked
before anything is kept (no problem names a value); of the pupils
read, only those on SEN support or with an EHC plan (``senprovision`` K or E) and those whose UPN or former UPN the
council's SEN2, SSDA903 or CIN census records hold are kept, sealed under the deployment's records keys
(``collectors.census.kept``); a ``Submission`` of kind ``records`` with the purpose ``school_census``; each pupil
kept by pseudonym with its UPN sealed (``record_child``). So the same retention, purge and key rotation reach it. Names
and addresses are never read. Nothing here logs or puts a value of the file in a message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors import door
from collectors.census.blades import CensusRead
from collectors.census.kept import KEPT_STATUSES, PURPOSE, kept_columns, packed
from collectors.census.records import CensusRecords
from collectors.census.template import read_sent
from collectors.problems import write_problems
from collectors.queries import upload_status
from collectors.records.kept import content_hash, keep_sealed
from collectors.records.models import RecordChild
from collectors.records.privacy import Keys, checked_keys
from collectors.records.receiving import Received
from collectors.records.senders import another_council
from indicators.periods import read_collection_year
from indicators.store.models import RECORDS_KIND, Submission
from onereturn import keptfiles
from onereturn.db import bulk_insert
from onereturn.errors import InvalidInput, PayloadTooLarge
from onereturn.settings import Settings

#: What ``Submission.source_format`` says of a kept census.
FORMAT = "census"
#: The SEN provision codes whose pupils are always kept: SEN support and an EHC plan.
NEEDED_PROVISION = ("K", "E")
#: The rule a census's refused cell is recorded under among the upload's problems.
RULE = "census_schema"
#: The way in that takes a school census, as the door reads it and its row in the table of ways in holds it.
WAY = door.Way(
    "census",
    RECORDS_KIND,
    {PURPOSE: PURPOSE},
    # Checked whole and kept at the door: accepted at once, nothing after it.
    lease=door.Lease.DOOR,
    # The same bytes are the same census, whatever year was said: sending them again repeats the upload that kept
    # them (a refused one kept nothing).
    repeat=door.Repeat(KEPT_STATUSES),
    # Read and checked whole at the door, kept only once it passes.
    reads_first=True,
)


def problems(refusals: pl.DataFrame) -> pl.DataFrame:
    """The cells a census's reader refused as the upload's problems (``collectors.problems``): each by its file's row,
    its table and item, and its rule; never a value."""
    return refusals.select(
        pl.col("row").cast(pl.Int64),
        pl.format("{}: {}", "table", pl.col("column").fill_null("the heading")).alias("column"),
        pl.lit(None, pl.String).alias("value"),
        pl.lit(RULE).alias("rule"),
        pl.lit("error").alias("severity"),
        pl.format("{}: {} (the cell is read blank)", "file", "rule").alias("message"),
    )


def minimised(records: CensusRecords, known: frozenset[str]) -> CensusRecords:
    """The census cut to the pupils the council needs: on SEN support or with an EHC plan, or whose UPN or former UPN
    is ``known`` (held by the council's other children's records); every table cut to them, the schools kept."""
    upn = pl.col("upn").str.to_uppercase()
    named = upn.is_in(list(known)) | pl.col("formerupn").str.to_uppercase().is_in(list(known))
    pupils = records.pupils.filter(pl.col("senprovision").is_in(NEEDED_PROVISION) | named.fill_null(False))
    keys = pupils.get_column("pupil").implode()
    upns = pupils.get_column("upn").drop_nulls().str.to_uppercase().implode()

    def cut(name: str) -> pl.DataFrame:
        return getattr(records, name).filter(pl.col("pupil").is_in(keys))  # type: ignore[no-any-return]

    return replace(
        records,
        pupils=pupils,
        possible=cut("possible"),
        sessions=cut("sessions"),
        exclusions=cut("exclusions"),
        fsm=cut("fsm"),
        premium=records.premium.filter(pl.col("upn").str.to_uppercase().is_in(upns)),
    )


def kept_message(records: CensusRecords, read: int, kept: int, refused: int = 0) -> str:
    """What a census upload kept says of it: which census, pupils read and kept, cells refused (never a value)."""
    whose = "the council's own schools" if records.source == "la" else "academies"
    cells = f"; {refused:,} cell(s) refused by its schema and read blank, each listed in the report" if refused else ""
    return (
        f"the {records.term} {records.census_day.year} school census of {whose} (census day "
        f"{records.census_day:%-d %B %Y}): {read:,} pupil(s) read, {kept:,} kept (on SEN support or with an EHC plan, "
        f"or named in the council's other children's records); names and addresses are never kept{cells}"
    )


def _in_year(census_day: date, collection_year: str) -> None:
    """Refuse a census whose day is not in the academic year the upload said (September to August)."""
    start = int(collection_year[:4])
    if not date(start, 9, 1) <= census_day <= date(start + 1, 8, 31):
        said = f"{census_day:%B %Y}"
        raise InvalidInput(
            f"the census's day falls in {said}, outside the academic year {collection_year} the upload names: send it "
            "with the collection year of its census; nothing was kept",
            errors=[{"type": "census_year", "loc": ["collection_year"], "msg": f"the census is of {said}"}],
        )


def _own(engine: Engine, agency_code: str, records: CensusRecords) -> None:
    """Refuse a census of another council's schools than the uploading agency's (its LAESTABs' first three digits,
    DfE's number of their council), before anything is kept."""
    councils = {laestab[:3] for laestab in records.schools.get_column("laestab").drop_nulls() if laestab[:3].isdigit()}
    if len(councils) == 1:
        another_council(engine, agency_code, councils.pop(), "the census", ["schoolcensus", "lea"])


def _checker(
    engine: Engine,
    agency_code: str,
    read: Callable[[], CensusRead],
    known: Callable[[], frozenset[str]],
    year: str,
    keys: Callable[[], Keys],
    plain: list[bytes],
) -> door.Read[None]:
    """The door's read of a census: read whole (a refusal keeps nothing), of the year said, cut to the pupils the
    council needs (packed into ``plain`` for sealing), and what it found: its counts, message and side write (each
    pupil kept by pseudonym, its UPN sealed)."""

    def check() -> door.Found[None]:
        got = read()
        _in_year(got.records.census_day, year)
        _own(engine, agency_code, got.records)
        kept = minimised(got.records, known())
        keys()
        plain.append(packed(kept))
        upns = sorted(set(kept.pupils.get_column("upn").drop_nulls().str.to_uppercase()))
        found = problems(got.refused)
        message = kept_message(kept, got.pupils_read, kept.pupils.height, found.height)

        def pupils(session: Session, submission: Submission) -> None:
            # Each pupil kept by pseudonym, its UPN sealed: so retention, purge and key rotation reach it.
            held = keys()
            pseudonyms = held.pseudonyms(upns)
            rows = [(submission.id, pseudonyms[u], held.seal_text(u)) for u in upns]
            bulk_insert(session, RecordChild.__tablename__, ("submission_id", "pseudonym", "child_sealed"), [rows])
            assert submission.id is not None
            write_problems(session, submission.id, found)

        counts = {
            # The census is kept (one stored), each refused cell read blank: partly accepted where its schema refused
            # any, as the other ways name an upload kept with some of it refused.
            "status": upload_status(errors=found.height, stored=1, held=0),
            "stage": "stored",
            "rows_read": got.pupils_read,
            "rows_accepted": kept.pupils.height,
            "error_count": found.height,
            "message": message,
            "collection_year": year,
            **kept_columns(kept),
        }
        return door.Found(None, columns=counts, side=pupils, audit_detail=message)

    return check


def receive(
    engine: Engine,
    settings: Settings,
    *,
    agency_code: str,
    collection_year: str,
    files: list[tuple[str, Path]],
    known: Callable[[], frozenset[str]],
    read: Callable[[], CensusRead] | None = None,
    submitted_by: str = "",
    purpose: str = "return",
    audit: dict[str, Any] | None = None,
) -> Received:
    """Check a council's census (its files read whole by ``read``, else by the census's reader of COLLECT's blades)
    and keep what the council needs of it sealed, its
    pupils cut to those on SEN support or with a plan and those whose UPN is ``known`` (asked only of a census that
    passed); a census refused keeps nothing. The same files sent again repeat the upload that kept them."""
    if purpose != "return":
        raise InvalidInput("a school census is kept for the council's lists: leave out purpose")
    if not files:
        raise InvalidInput("a census upload needs its files (form field 'files')")
    year = read_collection_year(collection_year)
    size = sum(path.stat().st_size for _, path in files)
    if size > settings.max_upload_bytes:
        raise PayloadTooLarge(f"the files are {size:,} bytes; the limit is {settings.max_upload_bytes:,}")
    named = [(Path(name).name.replace("\x00", "\ufffd") or "census.csv", path) for name, path in files]
    # The host's records keys are asked for once the census is found sound (a refusal names the census's problems).
    keys = cache(lambda: checked_keys(engine, settings))
    plain: list[bytes] = []
    check = _checker(engine, agency_code, read or (lambda: read_sent(named)), known, year, keys, plain)

    def keep() -> str:
        # Only what was kept of the census is sealed, under the name of its own content: the files sent, with every
        # other pupil, are never kept.
        name = keptfiles.records_name(hashlib.sha256(plain[0]).hexdigest())
        return keep_sealed(engine, settings, keys(), name, plain[0])

    entry = door.Entry(
        WAY.name,
        WAY.mode_of(PURPOSE),
        agency_code,
        door.File(", ".join(name for name, _ in named)[:255], FORMAT, size, content_hash(named), keep),
        submitted_by=submitted_by,
        status="accepted",
        audit=door.Audit(audit) if audit is not None else None,
    )
    return door.through(
        engine,
        settings,
        entry,
        read=check,
        store=lambda submission, _: Received(submission),
        repeated=lambda earlier: Received(earlier, duplicate=True),
    )
