"""A council's SEN2 file at the door: told from DfE's other files, checked against its survey's schema and the
service's own rules, and kept as the council's other children's records are, or refused with nothing kept.

It comes through the record-level upload (``POST /api/submissions`` with ``collection_year``) and the records' way in
(``collectors.ways_in``, which tells it by its ``<Collection>SEN2</Collection>``), and walks through the one door
(``collectors.door``) as a CIN census does: the file sealed under the deployment's records keys
(``collectors.records.kept``), a ``Submission`` of kind ``records`` with the purpose ``sen2``, and each child by pseudonym with its UPN (or ULN) sealed (``record_child``). So the same
retention, purge and key rotation reach it. It is checked whole at the door and accepted at once: no worker takes it
up. Nothing here logs or puts a value of the file in a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree
from sqlalchemy import Engine
from sqlmodel import Session

from collectors import door
from collectors.checks.policy import EVERY_CHECK
from collectors.door.recognise import SEN2, recognise
from collectors.door.requests import RecordFiles
from collectors.records.kept import content_hash, keep
from collectors.records.models import RecordChild
from collectors.records.privacy import Keys, checked_keys
from collectors.records.receiving import Received
from collectors.records.senders import another_council
from collectors.sen2.records import Sen2Records, read_records
from collectors.sen2.rules import child_keys, rule_problems
from collectors.sen2.schema import (
    Refused,
    bounds_problems,
    other_survey,
    parse,
    schema_problems,
    survey_of,
    year_text,
)
from indicators.store.models import RECORDS_KIND, Submission
from onereturn.db import bulk_insert
from onereturn.errors import InvalidInput, PayloadTooLarge, ProcessingFailed
from onereturn.settings import Settings

#: The purpose (and ``mode``) of a kept SEN2 file among a council's record-level uploads (``head.PURPOSES``).
PURPOSE = "sen2"
#: The states of a SEN2 upload kept and read: accepted once its figures are stored (``collectors.sen2.stage``), or
#: queried or partly accepted when one of them is held or refused. One whose figures failed to store is ``failed``
#: (kept, and run again by ``onereturn submissions reprocess``).
KEPT_STATUSES = ("accepted", "queried", "partially_accepted")
#: The way in that takes a SEN2 file, as the door reads it and its row in the table of ways in holds it.
WAY = door.Way(
    "sen2",
    RECORDS_KIND,
    # Its one purpose, stored as its mode.
    {PURPOSE: PURPOSE},
    # Checked whole and kept at the door, then its figures stored by a stage after the door under the upload's lease
    # (``collectors.sen2.stage``); a file taken with no stage is accepted at the door.
    lease=door.Lease.STAGE,
    # Sent again for the same year, it repeats the upload that kept it (a refused one kept nothing).
    repeat=door.Repeat(KEPT_STATUSES, by_year=True),
    # The checks the figures worked out from a SEN2 file are held to: every one an agency's upload is.
    policy=EVERY_CHECK,
    # Read and checked whole at the door, kept only once it passes.
    reads_first=True,
)
#: The door's stage after a SEN2 file is kept, under its lease: its figures stored, the upload finished.
Stage = Callable[[Submission, Sen2Records], Submission]
#: What ``Submission.source_format`` says of a kept SEN2 file.
FORMAT = "sen2"


def is_sen2(files: list[tuple[str, Path]]) -> bool:
    """Whether an upload is one SEN2 file: XML naming the SEN2 collection, or a ``Message`` of ``Persons``, in any
    encoding XML allows (``collectors.door.recognise``)."""
    return len(files) == 1 and recognise(*files[0]).kind == SEN2


@dataclass(frozen=True)
class Checked:
    """A SEN2 file that passed: its survey, its children's keys (item and value, None for a child without) in file
    order."""

    survey: int
    children: list[tuple[str, str] | None]
    #: The file read into its tables, for what is derived from it once it is kept.
    records: Sen2Records
    #: The council its header names (``Source/LEA``, DfE's number), None when it names none.
    council: str | None = None


def kept_message(survey: int, children: list[tuple[str, str] | None]) -> str:
    """What a SEN2 upload kept says of its file: its survey and its children checked (never a value)."""
    without = sum(1 for key in children if key is None)
    return (
        f"the January {survey} SEN2 survey: {len(children):,} child(ren) checked against its schema and rules and kept"
        + (f"; {without:,} without a UPN or ULN, kept but not matched to other returns" if without else "")
    )


@dataclass
class KeptSen2(Received):
    """A SEN2 upload received: as any record-level upload, with the file's tables as the door read them (None for a
    repeat, which keeps and derives nothing)."""

    records: Sen2Records | None = None


def schema_checked(data: bytes, collection_year: str, *, max_bytes: int) -> tuple[etree._ElementTree, int]:
    """The file read safely and checked against its survey's schema: its tree and survey; Refused (or InvalidInput
    for a file of another survey, or one unsafe or not XML) listing every problem by module, child and item."""
    survey = survey_of(collection_year)
    tree = parse(data, max_bytes=max_bytes)
    problems = schema_problems(tree, survey)
    bounds = bounds_problems(tree, survey)
    # A header year out of bounds names no survey: the file is refused for it, not read as another year's.
    other = None if any(p.item == "Year" for p in bounds) else other_survey(tree, survey)
    if other is not None:
        raise InvalidInput(
            f"the SEN2 file is of the January {other} survey (collection year {year_text(other)}), not of "
            f"{collection_year}'s (January {survey}): send it with collection_year {year_text(other)}, or send "
            f"the {survey} file",
            errors=[{"type": "sen2_year", "loc": ["Header", "Year"], "msg": f"the file is of the {other} survey"}],
        )
    if problems or bounds:
        raise Refused([*problems, *bounds], survey)
    return tree, survey


def check(data: bytes, collection_year: str, *, max_bytes: int) -> Checked:
    """Check a SEN2 file against its survey's schema and the service's rules; Refused (or InvalidInput for a file
    of another survey) listing every problem by module, child and item, never a value."""
    tree, survey = schema_checked(data, collection_year, max_bytes=max_bytes)
    records = read_records(tree, survey)
    if problems := rule_problems(records, survey):
        raise Refused(problems, survey)
    return Checked(survey, child_keys(records), records, (tree.findtext("Header/Source/LEA") or "").strip() or None)


def _reader(
    engine: Engine, settings: Settings, agency_code: str, collection_year: str, path: Path, keys: Callable[[], Keys]
) -> door.Read[Checked]:
    """The door's read of a SEN2 file: checked whole (a refusal keeps nothing), its council's, and what it found: its
    counts, message and side write (each child by pseudonym, its UPN or ULN sealed)."""

    def read() -> door.Found[Checked]:
        checked = check(path.read_bytes(), collection_year, max_bytes=settings.max_upload_bytes)
        another_council(engine, agency_code, checked.council, "the SEN2 file", ["Header", "LEA"])
        keys()
        ids = sorted({key[1] for key in checked.children if key is not None})
        count = len(checked.children)
        message = kept_message(checked.survey, checked.children)

        def children(session: Session, submission: Submission) -> None:
            # Each child by pseudonym, its UPN (or ULN) sealed: so retention, purge and key rotation reach it.
            held = keys()
            pseudonyms = held.pseudonyms(ids)
            rows = [(submission.id, pseudonyms[i], held.seal_text(i)) for i in ids]
            bulk_insert(session, RecordChild.__tablename__, ("submission_id", "pseudonym", "child_sealed"), [rows])

        counts = {"stage": "stored", "rows_read": count, "rows_accepted": count, "message": message}
        return door.Found(checked, columns=counts, side=children, audit_detail=message)

    return read


def receive(engine: Engine, settings: Settings, sent: RecordFiles, stage: Stage | None = None) -> KeptSen2:
    """Check a council's SEN2 file and keep it sealed as its record-level upload for the year; a file refused keeps
    nothing. The same file sent again for the same year repeats the earlier upload. With a ``stage`` (its figures
    stored), the upload is leased while the stage runs and ends as the stage ends it, or ``failed`` naming
    ``onereturn submissions reprocess`` when it raises (no error is raised for it: the file is kept); without one it
    is accepted at the door."""
    if sent.purpose != "return":
        raise InvalidInput("a SEN2 file is the council's survey return: leave out purpose")
    agency_code, collection_year, audit = sent.agency_code, sent.collection_year, sent.audit
    ((name, path),) = sent.files
    size = path.stat().st_size
    if size > settings.max_upload_bytes:
        raise PayloadTooLarge(f"the file is {size:,} bytes; the limit is {settings.max_upload_bytes:,}")
    named = [(Path(name).name.replace("\x00", "\ufffd") or "sen2.xml", path)]
    digest = content_hash(named)
    # The host's records keys are asked for once the file is found sound (a refusal names the file's problems).
    keys = cache(lambda: checked_keys(engine, settings))
    read = _reader(engine, settings, agency_code, collection_year, path, keys)
    entered: list[Submission] = []

    def kept(submission: Submission, checked: Checked) -> KeptSen2:
        entered.append(submission)
        if stage is not None:
            stage(submission, checked.records)
        return KeptSen2(_read_again(engine, submission), records=checked.records)

    entry = door.Entry(
        WAY.name,
        WAY.mode_of(PURPOSE),
        agency_code,
        door.File(named[0][0][:255], FORMAT, size, digest, lambda: keep(engine, settings, keys(), digest, named)),
        submitted_by=sent.submitted_by,
        collection_year=collection_year,
        # Checked whole at the door: accepted at once, or leased while its stage (its figures) runs after.
        status="accepted" if stage is None else "received",
        audit=door.Audit(audit) if audit is not None else None,
    )
    try:
        return door.through(
            engine, settings, entry, read=read, store=kept, repeated=lambda earlier: KeptSen2(earlier, duplicate=True)
        )
    except ProcessingFailed:
        # The file is kept and the upload ended failed, saying how to run it again: told, not raised as a 500.
        return KeptSen2(_read_again(engine, entered[0]))


def _read_again(engine: Engine, submission: Submission) -> Submission:
    """The submission as the store now holds it."""
    with Session(engine, expire_on_commit=False) as session:
        found = session.get(Submission, submission.id)
    assert found is not None
    return found


def kept_sen2(session: Session, agency_code: str, collection_year: str) -> Submission | None:
    """The council's newest SEN2 upload of the year still kept, or None: accepted at the door, whatever a check of
    the figures stored from it later held or refused."""
    return door.newest_kept(session, agency_code, PURPOSE, KEPT_STATUSES, collection_year)
