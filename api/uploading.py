"""Receiving an upload: a file of figures checked and stored, or a council's record-level files kept and started.

``POST /api/submissions`` and the upload pages both come here: a file of figures is checked (and stored, unless
a dry run) in an upload process, or here without a pool; a record-level upload, or one ZIP of the council's SSD
tables (the year's CIN census and SSDA903 made from it), is kept and answered 202 at once, DfE's rules running
in the background. The answers are the API's: the page reads the body it would have been sent.
"""

from __future__ import annotations

import dataclasses
import io
import time
from pathlib import Path
from typing import IO

import anyio.to_thread
from fastapi import BackgroundTasks, Request, UploadFile
from fastapi.responses import JSONResponse
from sqlmodel import Session

from api.callrecord import annotate, stored_event, stored_with_change
from api.capacity import again_if_lost, upload_timing
from api.principal import Principal
from api.uploadpool import Processed, UploadPool
from api.uploadpool import process as process_upload
from collectors import answers, ways_in
from collectors.checks.checked import problem_frame
from collectors.figures import service as collect
from collectors.figures.service import Mode
from collectors.records import senders
from collectors.records.receiving import Received
from collectors.schemas import SubmissionReport
from collectors.ssd.receiving import Taken
from indicators.periods import read_collection_year
from indicators.store.models import Submission
from onereturn.errors import Forbidden, InvalidInput, PayloadTooLarge
from onereturn.settings import Settings
from onereturn.workspace import private_file


async def receive(
    request: Request,
    session: Session,
    principal: Principal,
    background: BackgroundTasks,
    *,
    file: UploadFile | None = None,
    files: list[UploadFile] | None = None,
    collection_year: str | None = None,
    mode: Mode = "default",
    agency: str | None = None,
    sheet: str | None = None,
    purpose: str = "return",
) -> JSONResponse:
    """Check and store one file of figures and answer its report; or, with ``collection_year``, keep a council's
    record-level files and answer 202, their check started in the background."""
    agency_code = _uploading_agency(principal, agency)
    if collection_year is not None:
        # Checked before any file is read or kept: a year that is not one is refused whole.
        collection_year = read_collection_year(collection_year)
        uploads = [*(files or []), *([file] if file is not None else [])]
        if mode != "default" or sheet is not None:
            raise InvalidInput("A record-level upload is checked and stored as a whole: leave out mode and sheet")
        # Only a body that owes children's returns sends children's records: refused before anything is read or kept.
        refused = await anyio.to_thread.run_sync(senders.refusal, session, agency_code)
        if refused is not None:
            raise Forbidden(refused)
        return await _records_upload(request, background, principal, agency_code, collection_year, uploads, purpose)
    if purpose != "return":
        raise InvalidInput("An Annex A extract is a council's record-level files: say its collection year")
    if files:
        raise InvalidInput(
            "Several files are a record-level upload: say its collection year (form field 'collection_year')"
        )
    if file is None:
        raise InvalidInput("Send the file of figures (form field 'file')")
    # The route runs on the event loop (an upload in hand holds no request thread): blocking work goes to threads.
    upload_request = ways_in.FiguresSent(
        agency_code=agency_code,
        filename=file.filename or "upload",
        data=b"",
        mode=mode,
        submitted_by=principal.label,
        sheet=sheet,
        # Recorded in the transaction that stores the upload's outcome: both are stored or neither is.
        audit=stored_event(request, principal, f"submission {{id}} (agency {agency_code}, file {file.filename})"),
    )
    started = time.perf_counter()
    outcome = await _checked(request, file, upload_request)
    timing = upload_timing(request, time.perf_counter() - started)
    if outcome.submission_id is None:
        return _dry_run_answer(request, outcome, agency_code, file.filename or "upload", timing)
    if not outcome.duplicate:
        stored_with_change(request)
    sub, report = await anyio.to_thread.run_sync(_stored_report, session, outcome.submission_id, outcome.duplicate)
    status = 200 if outcome.duplicate else _rejected_status(report) if sub.status == "rejected" else 201
    annotate(
        request,
        object=f"submission {sub.id} (agency {agency_code}, file {file.filename})",
        outcome="rejected" if status in (415, 422) else "ok",
        status=status,
        detail=sub.message,
    )
    return JSONResponse(report.model_dump(mode="json"), status_code=status, headers=timing)


def _uploading_agency(principal: Principal, agency: str | None) -> str:
    """The agency an upload's figures come from: an agency key's own, or the one an officer names."""
    if principal.kind == "agency":
        if agency not in (None, principal.agency_code):
            raise Forbidden("An agency key can only upload its own agency's figures")
        assert principal.agency_code is not None
        return principal.agency_code
    if agency is None:
        raise InvalidInput("Say which agency the figures come from (form field 'agency')")
    return agency


async def _checked(request: Request, file: UploadFile, upload_request: ways_in.FiguresSent) -> Processed:
    """Check (and store, unless a dry run) one file of figures in an upload process, or here without a pool."""
    settings = request.app.state.settings
    pool: UploadPool | None = getattr(request.app.state, "upload_pool", None)
    if pool is not None:
        # The upload process reads the file from disk: sent through the pool's pipe, the bytes would
        # be held twice over in that process (pickled and unpickled) at the peak of a large upload.
        spooled = await anyio.to_thread.run_sync(_spool_capped, file, settings)
        try:
            return await pool.run(dataclasses.replace(upload_request, data=spooled))
        finally:
            # The upload process removes it; this covers a process that stopped before it could.
            spooled.unlink(missing_ok=True)
    data = await anyio.to_thread.run_sync(_read_capped, file, settings.max_upload_bytes)
    upload = dataclasses.replace(upload_request, data=data)
    return await anyio.to_thread.run_sync(process_upload, request.app.state.engine, settings, upload)


def _dry_run_answer(
    request: Request, outcome: Processed, agency_code: str, filename: str, timing: dict[str, str]
) -> JSONResponse:
    """The report of a file checked and not stored: 200, or 415 for a file that is not one of figures."""
    assert outcome.problems is not None
    errors = int((outcome.problems["severity"] == "error").sum())
    report = answers.report(
        None,
        outcome.problems,
        id=None,
        agency_code=agency_code,
        filename=filename,
        source_format="",
        mode="dry_run",
        status="checked" if errors == 0 else "has_errors",
        received_at=None,
        finished_at=None,
        content_hash="",
        rows_read=outcome.rows_read,
        rows_accepted=outcome.rows_accepted,
        rows_new=0,
        rows_revised=0,
        rows_unchanged=0,
        error_count=errors,
        warning_count=int((outcome.problems["severity"] != "error").sum()),
        message="dry run: nothing was stored",
        query_count=int((outcome.problems["severity"] == "query").sum()),
        information_count=int((outcome.problems["severity"] == "information").sum()),
    )
    dry_status = 415 if _rejected_status(report) == 415 else 200
    annotate(
        request,
        object=f"dry run (agency {agency_code}, file {filename})",
        status=dry_status,
        detail=report.message,
    )
    return JSONResponse(report.model_dump(mode="json"), status_code=dry_status, headers=timing)


async def _records_upload(
    request: Request,
    background: BackgroundTasks,
    principal: Principal,
    agency_code: str,
    collection_year: str,
    uploads: list[UploadFile],
    purpose: str = "return",
) -> JSONResponse:
    """Keep a record-level upload (encrypted) and answer 202 with its address; an upload worker takes it from there."""
    settings = request.app.state.settings
    if not uploads:
        raise InvalidInput("A record-level upload needs its files (form field 'files')")
    spooled: list[tuple[str, Path]] = []
    names = ", ".join(upload.filename or "upload" for upload in uploads)
    try:
        remaining = settings.max_upload_bytes
        for upload in uploads:
            path = await anyio.to_thread.run_sync(_spool_capped, upload, settings, remaining)
            spooled.append((upload.filename or "upload", path))
            remaining -= path.stat().st_size
        if ssd := await _ssd_upload(request, background, principal, agency_code, collection_year, spooled, purpose):
            return ssd
        request_of = ways_in.RecordFiles(
            agency_code=agency_code,
            collection_year=collection_year,
            files=spooled,
            submitted_by=principal.label,
            purpose=purpose,
            audit=stored_event(request, principal, f"submission {{id}} (agency {agency_code}, records {names})"),
        )
        # Through the one door: the table of ways in tells a SEN2 file from DfE's own files by its content.
        received = await _take_records(request, request_of)
    finally:
        for _, path in spooled:
            path.unlink(missing_ok=True)
    sub = received.submission
    assert sub is not None
    assert sub.id is not None
    if received.duplicate or sub.status != "received":
        # A repeat, or a file checked whole at the door and kept at once (a SEN2 file, its figures stored or held by
        # a query): nothing left to run.
        with Session(request.app.state.engine) as session:
            _, report = await anyio.to_thread.run_sync(_read_report, session, sub.id, received.duplicate)
        # A file kept whose stage after the door failed (a SEN2 file's figures) is answered 202 with its address: it
        # is kept, and its message names the command that runs it again.
        status = 200 if received.duplicate else 202 if sub.status == "failed" else 201
        if not received.duplicate:
            stored_with_change(request)
        annotate(
            request,
            object=f"submission {sub.id} (agency {agency_code}, records {names})",
            status=status,
            detail="a repeat of an earlier record-level upload" if received.duplicate else sub.message,
        )
        where = {"Location": f"/api/submissions/{sub.id}"} if status == 202 else None
        return JSONResponse(report.model_dump(mode="json"), status_code=status, headers=where)
    stored_with_change(request)
    _start_records(request, background, received)
    report = answers.report(sub, problem_frame([]), total=0)
    annotate(
        request,
        object=f"submission {sub.id} (agency {agency_code}, records {names})",
        status=202,
        detail=f"received for {collection_year}"
        + (" as an Annex A extract" if purpose == "annex_a" else "")
        + "; DfE's rules run next",
    )
    return JSONResponse(
        report.model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/api/submissions/{sub.id}"},
    )


#: The rows of the table of ways in (``collectors.ways_in.WAYS_IN``) whose files are read whole at the door: a SEN2
#: file and a school census.
READ_AT_DOOR = ("sen2", "census")


async def _take_records(request: Request, request_of: ways_in.RecordFiles) -> Received:
    """Take a record-level upload through the door: a SEN2 file in an upload process where the service runs them,
    the others here (they are kept at once, and checked by an upload process after)."""
    engine, settings = request.app.state.engine, request.app.state.settings
    pool: UploadPool | None = getattr(request.app.state, "upload_pool", None)
    if pool is not None and ways_in.way_of(request_of).name in READ_AT_DOOR:
        # A SEN2 file or a census is checked whole at the door, every child or pupil read: in an upload process, which
        # is renewed once a large file leaves it holding much, so the process serving requests never holds it.
        done = await pool.run(request_of)
        assert done.submission_id is not None
        with Session(engine, expire_on_commit=False) as session:
            sub = session.get(Submission, done.submission_id)
        assert sub is not None
        return Received(sub, duplicate=done.duplicate)
    received = await anyio.to_thread.run_sync(lambda: ways_in.take(engine, settings, request_of))
    assert isinstance(received, Received)
    return received


def _start_records(request: Request, background: BackgroundTasks, received: Received) -> None:
    """Start DfE's rules on a record-level upload just kept: in an upload worker, or once the answer is sent."""
    sub = received.submission
    assert sub is not None
    assert sub.id is not None
    if received.duplicate:
        return
    pool: UploadPool | None = getattr(request.app.state, "upload_pool", None)
    if pool is not None:
        pool.start_records(sub.id)
    else:
        # Run once the answer is sent, in a worker thread; a stop before it ends leaves it to the door's resume (door.resume).
        background.add_task(ways_in.take_up, request.app.state.engine, request.app.state.settings, sub.id)


async def _ssd_upload(
    request: Request,
    background: BackgroundTasks,
    principal: Principal,
    agency_code: str,
    collection_year: str,
    uploads: list[tuple[str, Path]],
    purpose: str,
) -> JSONResponse | None:
    """Check an SSD extract, make the year's files from it and receive each as a record-level upload (202); None
    when the upload is not one ZIP of SSD tables (it is DfE's own files)."""
    extract = ways_in.RecordFiles(
        agency_code=agency_code,
        collection_year=collection_year,
        files=uploads,
        submitted_by=principal.label,
        purpose=purpose,
        start=lambda received: _start_records(request, background, received),
        audit_each=lambda named: stored_event(request, principal, named),
    )
    if ways_in.way_of(extract).name != "ssd":
        return None
    ((name, _),) = uploads
    engine, settings = request.app.state.engine, request.app.state.settings
    taken = await anyio.to_thread.run_sync(lambda: ways_in.take(engine, settings, extract))
    assert isinstance(taken, Taken)
    # Every file made a repeat of one kept already: answered 200 with the earlier uploads, as a repeat of DfE's files.
    status = 202 if taken.changed() else 200
    if status == 202:
        stored_with_change(request)
    annotate(
        request,
        object=f"SSD extract {name} (agency {agency_code})",
        status=status,
        detail=f"checked ({taken.made.rows:,} rows); made {', '.join(f for f, _ in taken.made.files)} for "
        f"{collection_year}"
        + (f"; Annex A rows kept as upload {taken.annex_id}" if taken.annex_id is not None else ""),
    )
    return JSONResponse(taken.body(), status_code=status)


def _stored_report(session: Session, submission_id: int, duplicate: bool) -> tuple[Submission, SubmissionReport]:
    # The upload is stored, in a transaction of its own: its report is read again on a fresh connection rather
    # than answered 503, which would have the agency send again what is already stored.
    return again_if_lost(lambda: _read_report(session, submission_id, duplicate), first=session.rollback)


def _read_report(session: Session, submission_id: int, duplicate: bool) -> tuple[Submission, SubmissionReport]:
    sub = collect.get_submission(session, submission_id, agency_code=None)
    return sub, answers.stored_report(session, submission_id, own=None, duplicate=duplicate)


def _rejected_status(report: SubmissionReport) -> int:
    # A file of a type the service does not read is 415 (as documented); any other rejection is 422.
    return 415 if any(p.rule == "unsupported_file" for p in report.problems) else 422


def _spool_capped(file: UploadFile, settings: Settings, limit: int | None = None) -> Path:
    """Copy the body, within the size limit, to a file of its own for an upload process to read and remove."""
    # In this process's private folder: a record-level upload's body is a child's record, and a crash of this
    # process leaves it to the next start to remove (onereturn.workspace).
    path = private_file(settings, ".upload")
    with path.open("wb") as out:
        try:
            _copy_capped(file, out, settings.max_upload_bytes if limit is None else limit)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return path


def _read_capped(file: UploadFile, limit: int) -> bytes:
    buffer = io.BytesIO()
    _copy_capped(file, buffer, limit)
    return buffer.getvalue()


def _copy_capped(file: UploadFile, out: IO[bytes], limit: int) -> None:
    written = 0
    while chunk := file.file.read(1024 * 1024):
        out.write(chunk)
        written += len(chunk)
        if written > limit:
            raise PayloadTooLarge(f"The file is larger than the limit of {limit:,} bytes (ONERETURN_MAX_UPLOAD_BYTES)")
