"""An agency's upload of a template or a file of figures, from bytes to stored figures: kept and recorded by the
shared head (``collectors.door.head``), read, validated, stored through the shared tail (``collectors.door.spine``), reported."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, update
from sqlmodel import Session, col, select

from collectors import door
from collectors.checks.checked import Validation, problem_frame
from collectors.checks.context import build_context
from collectors.checks.policy import EVERY_CHECK
from collectors.door import head
from collectors.door.head import FINAL, kept_raw
from collectors.door.requests import Mode as Mode  # how a file of figures is stored, named here as ever
from collectors.door.spine import (
    CutOff,
    Outcome,
    Stored,
    audited,
    finish,
    store_accepted,
)
from collectors.figures.rawtable import RawTable
from collectors.figures.read import read_table
from collectors.figures.validate import validate
from indicators.periods import PERIOD_TYPES, parse_period
from indicators.store.models import FIGURES_KIND, RECORDS_KIND, Submission, SubmissionProblem
from mappings.agencies import get_agency
from onereturn.errors import InvalidInput, NotFound, OneReturnError, PayloadTooLarge
from onereturn.memory import release_memory
from onereturn.settings import Settings

#: The way in that takes an agency's file of figures, as the door reads it and its row in the table of ways in holds it.
WAY = door.Way(
    "figures",
    FIGURES_KIND,
    # What the file may be for, and the ``mode`` each is stored with: how its errors are taken, its valid rows stored
    # (``default``) or nothing stored if any row is in error (``atomic``).
    purposes={"default": "default", "atomic": "atomic"},
    # Read, checked and stored while the request waits, under the upload's lease.
    lease=door.Lease.REQUEST,
    # Sent again, it repeats the agency's earlier upload of it in the same mode, however that ended.
    repeat=door.Repeat(FINAL),
    # The checks an agency's figures are held to: every one, its duties included.
    policy=EVERY_CHECK,
)


def check_size(settings: Settings, size: int) -> None:
    """Refuse an upload over the byte limit."""
    if size > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"The file is {size:,} bytes; the limit is {settings.max_upload_bytes:,} (ONERETURN_MAX_UPLOAD_BYTES)"
        )


def dry_run(
    engine: Engine, settings: Settings, *, agency_code: str, filename: str, data: bytes, sheet: str | None = None
) -> Outcome:
    """Read and validate an upload and report, storing nothing at all."""
    check_size(settings, len(data))
    with Session(engine) as session:
        get_agency(session, agency_code)
        try:
            raw = read_table(data, filename, sheet=sheet, max_rows=settings.max_upload_rows)
        except OneReturnError as exc:
            return Outcome(None, None, problems=_unreadable(exc))
        ctx = build_context(session, agency_code)
    result = validate(raw.frame, ctx, unresolved=raw.unresolved, policy=WAY.checks())
    return Outcome(None, result, problems=result.problems)


def _unreadable(exc: OneReturnError) -> pl.DataFrame:
    return problem_frame(
        [
            {
                "row": None,
                "column": None,
                "value": None,
                "rule": exc.error_type,
                "severity": "error",
                "message": exc.message,
            }
        ]
    )


def submit(
    engine: Engine,
    settings: Settings,
    *,
    agency_code: str,
    filename: str,
    data: bytes | Path,
    mode: Mode = "default",
    submitted_by: str = "",
    sheet: str | None = None,
    audit: dict[str, Any] | None = None,
) -> Outcome:
    """Take one upload (its bytes, or a file holding them): keep it, validate it and store its accepted figures in one
    transaction, with its ``audit`` event when given (``spine.audited``)."""
    if isinstance(data, Path):
        # Read here, so no caller holds the bytes while the upload is validated and stored.
        data = data.read_bytes()
    if mode == "dry_run":
        return dry_run(engine, settings, agency_code=agency_code, filename=filename, data=data, sheet=sheet)
    check_size(settings, len(data))
    filename = filename.replace("\x00", "\ufffd")
    digest = hashlib.sha256(data).hexdigest()
    body = [data]
    del data
    file = door.File(
        Path(filename).name,
        head.format_of(filename),
        len(body[0]),
        digest,
        # Kept once the door has found it no repeat, before anything reads it.
        keep=lambda: head.keep_raw(engine, settings, body[0], digest)[1],
    )
    entry = door.Entry(WAY.name, WAY.mode_of(mode), agency_code, file, submitted_by=submitted_by)
    with audited(audit):
        # Read under the lease, not before the upload is recorded: a file that cannot be read is an upload
        # rejected with its problem named, as one with a wrong cell is.
        return door.through(
            engine,
            settings,
            entry,
            store=lambda submission, _: _read_and_store(engine, settings, submission, body, filename, sheet),
            repeated=lambda earlier: Outcome(earlier, None, duplicate=True),
        )


def _read_and_store(
    engine: Engine,
    settings: Settings,
    submission: Submission,
    body: list[bytes],
    filename: str,
    sheet: str | None = None,
) -> Outcome:
    """Read, validate and store a recorded upload (one it cannot read is rejected, its problem named; one whose
    ``mode`` is ``atomic`` stores nothing if any row is in error).

    ``body`` holds the upload's bytes, taken out once read: a frame down the call that kept them (95 MiB
    for a million figures in JSON) would hold them through validation and storing, as would one that
    kept the table read from them.
    """
    # A large request before this one may have left freed memory in the C heap: start from a trimmed heap.
    release_memory()
    try:
        tables = [read_table(body.pop(), filename, sheet=sheet, max_rows=settings.max_upload_rows)]
    except OneReturnError as exc:
        problems = _unreadable(exc)
        finish(engine, submission, problems, status="rejected", message=exc.message)
        # No way could read it, so it could be anything, a child's record among them: its report stays, not it.
        head.let_go(engine, settings, submission)
        return Outcome(submission, None, problems=problems)
    outcome = _validate_and_store(engine, submission, tables)
    if outcome.validation is not None and outcome.validation.fatal:
        # Not a file of figures (its columns are none of one's): not kept past its report, as one unreadable.
        head.let_go(engine, settings, submission)
    return outcome


#: How the door runs a failed or interrupted upload of figures again: its kept bytes read and stored as at first.
AGAIN = door.Again(
    read=lambda _engine, _settings, _submission, data: [data],
    store=lambda engine, settings, submission, body: _read_and_store(
        engine, settings, submission, body, submission.filename
    ),
)


def _validate_and_store(engine: Engine, submission: Submission, tables: list[RawTable]) -> Outcome:
    """Validate the one table in ``tables`` (taken out, and let go of once validated) and store what it gives."""
    assert submission.id is not None
    with Session(engine) as session:
        ctx = build_context(session, submission.agency_code)
    raw = tables.pop()
    result = validate(raw.frame, ctx, unresolved=raw.unresolved, policy=WAY.checks())
    submission.source_format = raw.source_format
    submission.error_scope = error_scope(raw.frame, result, ctx.indicators)
    del raw
    counts = {
        "rows_read": result.rows_read,
        "error_count": result.error_count,
        "warning_count": result.warning_count,
        "query_count": result.query_count,
        "information_count": result.information_count,
    }
    if result.fatal or (submission.mode == "atomic" and result.error_count):
        why = result.reason if result.fatal else "atomic mode: the file has errors, so nothing was stored"
        finish(engine, submission, result.problems, status="rejected", message=why, counts=counts)
        return Outcome(submission, result, problems=result.problems)
    with Session(engine) as session:
        started = session.execute(
            update(Submission)
            .where(col(Submission.id) == submission.id, col(Submission.status) == "received")
            .values(status="storing")
        )
        session.commit()
    if not started.rowcount:  # type: ignore[attr-defined]
        raise CutOff()
    store_accepted(
        engine,
        submission,
        result,
        problems=result.problems,
        only_if="storing",
        summary=lambda stored: _summary(stored, result),
        counts=counts,
    )
    return Outcome(submission, result, problems=result.problems)


def error_scope(frame: pl.DataFrame, result: Validation, indicators: pl.DataFrame) -> list[list[str]]:
    """The [indicator, period] of the rows in error, each period spelled as the indicator's periods are: what the
    errors stand in the way of signing off. A file refused whole (blank, columns missing) names none, and neither
    does a row whose period cannot be read."""
    if result.fatal or not result.error_count:
        return []
    bad = result.problems.filter((pl.col("severity") == "error") & pl.col("row").is_not_null())["row"].unique()
    cells = (
        frame.filter(pl.col("row").is_in(bad.implode()))
        .select(
            pl.col("indicator").cast(pl.String).str.strip_chars().str.to_lowercase(),
            pl.col("period").cast(pl.String).str.strip_chars(),
        )
        .drop_nulls()
        .unique()
    )
    kinds = dict(indicators.select("id", "period_type").iter_rows())
    found: set[tuple[str, str]] = set()
    for indicator, text in cells.iter_rows():
        kind = kinds.get(indicator)
        try:
            found.add((indicator, parse_period(text, kind if kind in PERIOD_TYPES else None).code))
        except InvalidInput:
            continue  # a period that cannot be read is no period: its row is named in the report
    return [list(pair) for pair in sorted(found)]


def _summary(stored: Stored, result: Validation) -> str:
    parts = [
        f"{stored.accepted} figure(s) accepted ({stored.new} new, {stored.revised} revised, {stored.unchanged} unchanged)"
    ]
    if result.error_count:
        parts.append(f"{result.error_count} error(s): those rows were not stored")
    if result.held.height:
        parts.append(
            f"{result.held.height} figure(s) held by {result.query_count} query(ies) until explained with a note"
        )
    elif result.query_count:
        parts.append(f"{result.query_count} query(ies) answered by the notes given")
    if result.information_count:
        parts.append(f"{result.information_count} information notice(s)")
    if result.rows_blank:
        parts.append(f"{result.rows_blank} row(s) left blank")
    return "; ".join(parts)


def get_submission(session: Session, submission_id: int, *, agency_code: str | None) -> Submission:
    """Return a submission the caller may see (its own agency's, or any for officers), else NotFound."""
    submission = session.get(Submission, submission_id)
    if submission is None or (agency_code is not None and submission.agency_code != agency_code):
        raise NotFound(f"Submission {submission_id} does not exist")
    return submission


def submission_problems(session: Session, submission_id: int) -> pl.DataFrame:
    """Return a submission's problems in row order."""
    rows = (
        session.execute(
            select(SubmissionProblem)
            .where(SubmissionProblem.submission_id == submission_id)
            .order_by(col(SubmissionProblem.row), col(SubmissionProblem.id))
        )
        .scalars()
        .all()
    )
    return problem_frame(
        [{k: getattr(p, k) for k in ("row", "column", "value", "rule", "severity", "message")} for p in rows]
    )


def list_submissions(
    session: Session, *, agency_code: str | None, limit: int, offset: int
) -> tuple[list[Submission], int]:
    """Return one page of uploads (the caller's agency's, or all for officers), newest first."""
    from sqlalchemy import func

    stmt = select(Submission)
    if agency_code is not None:
        stmt = stmt.where(Submission.agency_code == agency_code)
    total = int(session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    rows = session.execute(stmt.order_by(col(Submission.id).desc()).limit(limit).offset(offset)).scalars().all()
    return list(rows), total


def raw_table_of(bind: Engine | Connection, submission: Submission, settings: Settings) -> RawTable | None:
    """Read a submission's kept raw file again, from any host (None when it cannot be read as a table; NotFound
    when it is kept nowhere, rather than a report with no figures)."""
    if submission.kind == RECORDS_KIND or submission.purged_at is not None:
        return None  # sealed record-level files are no table of figures; a purged upload's files are gone on purpose
    data = kept_raw(bind, settings, submission)
    try:
        return read_table(data, submission.filename, max_rows=settings.max_upload_rows)
    except OneReturnError:
        return None
