"""The agency's journey: its template, one upload, and a precise report."""

from __future__ import annotations

import io
import tempfile
import time
from pathlib import Path
from typing import IO, Annotated, Any, Literal

import anyio.to_thread
import polars as pl
from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlmodel import Session, col, select

from api.auth import AgenciesRead, AgencySubmit, FiguresRead, RecordsRead, SubmissionRead, TemplateRead
from api.callrecord import annotate, stored_event, stored_with_change
from api.capacity import UploadSlot, again_if_lost, upload_timing
from api.deps import SessionDep
from api.paging import Limit, Offset, Page, page, page_of
from api.params import Id, IsoDatetime
from api.principal import Principal
from api.routes.record_files import ssd_upload
from api.scopes import ReadScope, read_scope
from api.uploadpool import Processed, UploadPool
from api.uploadpool import process as process_upload
from collectors import service as collect
from collectors.problems import SHOWN, first_problems, iter_problems, problems_csv
from collectors.queries import answer, list_held
from collectors.records.contract import read_collection_year
from collectors.report import build_report
from collectors.schemas import (
    AgencyPublic,
    FigurePublic,
    ProblemPublic,
    QueriedFigure,
    QueryAnswer,
    RecordFinding,
    SubmissionReport,
    SubmissionSummary,
)
from collectors.template import build_template
from collectors.validate import problem_frame
from collectors.ways_in import waiting_way_in
from indicators import service as indicators
from indicators.models import RECORDS_KIND, Observation, Submission
from indicators.periods import parse_period
from mappings.agencies import get_agency
from mappings.models import Agency, AgencyIndicator, AgencyOrg, AgencyReturn
from mappings.resolve import figures_at_level
from onereturn.errors import Forbidden, InvalidInput, PayloadTooLarge
from onereturn.settings import Settings

router = APIRouter(prefix="/api", tags=["collection"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found (or not yours)"}}


def _own_agency(principal: Principal, code: str) -> None:
    read_scope(principal).check_agency(code)


def _agency_public(session: SessionDep, agency: Agency) -> AgencyPublic:
    code = agency.code

    def values(column: Any, model: Any) -> list[str]:
        return list(session.execute(select(column).where(model.agency_code == code).order_by(column)).scalars())

    return AgencyPublic(
        code=code,
        name=agency.name,
        body_type=agency.body_type,
        orgs=values(AgencyOrg.org_code, AgencyOrg),
        returns=values(AgencyReturn.return_id, AgencyReturn),
        indicators=values(AgencyIndicator.indicator_id, AgencyIndicator),
        published=str((agency.definition or {}).get("published", "")),
    )


@router.get("/agencies", summary="List agencies", response_model=Page[AgencyPublic])
def list_agencies(
    request: Request, session: SessionDep, principal: AgenciesRead, limit: Limit = 100, offset: Offset = 0
) -> Page[AgencyPublic]:
    """List the agencies and what each answers for (an agency sees only itself)."""
    stmt = select(Agency).order_by(col(Agency.code))
    own = read_scope(principal).agency
    if own is not None:
        stmt = stmt.where(Agency.code == own)
    agencies = [_agency_public(session, a) for a in session.execute(stmt).scalars()]
    return page_of(request, agencies, limit=limit, offset=offset)


@router.get("/agencies/{code}", summary="One agency", response_model=AgencyPublic, responses=NOT_FOUND)
def agency_detail(code: str, session: SessionDep, principal: AgenciesRead) -> AgencyPublic:
    """Show one agency: its org units, returns and the indicators it is the designated source of."""
    _own_agency(principal, code)
    return _agency_public(session, get_agency(session, code))


@router.get(
    "/agencies/{code}/template",
    summary="Download the template of figures owed",
    responses={200: {"content": {XLSX: {}, "text/csv": {}}}, **NOT_FOUND},
)
def template(
    code: str,
    session: SessionDep,
    principal: TemplateRead,
    period: Annotated[str, Query(description="e.g. FY2024-25, FY2024-25-Q1, 2024-06")],
    format: Annotated[Literal["xlsx", "csv"], Query()] = "xlsx",
    outstanding: Annotated[bool, Query(description="Only figures not yet accepted")] = False,
) -> Response:
    """Download one template listing exactly the figures the agency owes for the period."""
    _own_agency(principal, code)
    data, name = build_template(session, code, period, format, outstanding=outstanding)
    media = XLSX if format == "xlsx" else "text/csv; charset=utf-8"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def _summary(sub: Submission, duplicate: bool = False) -> dict[str, Any]:
    return SubmissionSummary.model_validate(sub.model_dump() | {"duplicate": duplicate}).model_dump()


def _report(
    sub: Submission | None, problems: pl.DataFrame, *, total: int | None = None, duplicate: bool = False, **extra: Any
) -> SubmissionReport:
    base = _summary(sub, duplicate) if sub is not None else extra
    total = problems.height if total is None else total
    problems = problems.head(SHOWN)
    links = (
        {}
        if sub is None
        else {
            "self": f"/api/submissions/{sub.id}",
            "report_csv": f"/api/submissions/{sub.id}/report.csv",
            "report_xlsx": f"/api/submissions/{sub.id}/report.xlsx",
        }
    )
    return SubmissionReport(
        **base,
        problems=[ProblemPublic(**p) for p in problems.to_dicts()],
        problem_count=total,
        problems_truncated=total > problems.height,
        links=links,
    )


_TIMING = {
    "Server-Timing": {
        "description": "How long the upload waited for an upload slot (slot) and was read, validated and stored "
        "(process), in milliseconds",
        "schema": {"type": "string"},
    }
}


#: A record-level upload's purpose: DfE's return, or a fresh extract for Ofsted's Annex A.
Purpose = Annotated[
    Literal["return", "annex_a"],
    Form(
        description="Record-level uploads: return (DfE's return, its figures stored) or annex_a (a fresh extract "
        "for Ofsted's Annex A: checked by DfE's rules and kept, no figure stored)"
    ),
]


@router.post(
    "/submissions",
    summary="Upload figures",
    status_code=201,
    response_model=SubmissionReport,
    responses={
        200: {"description": "A repeat of an earlier upload, or a dry run", "headers": _TIMING},
        201: {"description": "Stored: the report says what was accepted", "headers": _TIMING},
        202: {
            "description": "A record-level upload received and kept: GET the Location to follow its stage",
            "headers": {"Location": {"description": "The submission's address", "schema": {"type": "string"}}},
            "model": SubmissionReport,
        },
        404: {"description": "Officers: the agency named is not known"},
        413: {"description": "Too large"},
        415: {
            "description": "Not a CSV, XLSX or JSON file: the report says what it is",
            "model": SubmissionReport,
            "headers": _TIMING,
        },
        422: {"description": "Rejected: the report says why", "model": SubmissionReport, "headers": _TIMING},
        503: {"description": "Busy: every upload slot is taken; nothing was received, send it again after Retry-After"},
    },
)
async def upload(
    request: Request,
    session: SessionDep,
    principal: AgencySubmit,
    _slot: UploadSlot,
    background: BackgroundTasks,
    file: Annotated[
        UploadFile | None,
        File(description="The filled template, or a long CSV/XLSX/JSON file (or one record-level file)"),
    ] = None,
    files: Annotated[
        list[UploadFile] | None,
        File(
            description="Record-level files: the SSDA903 tables as a ZIP or several CSVs, the 903 XML or the CIN census XML; or one ZIP of the council's SSD tables"
        ),
    ] = None,
    collection_year: Annotated[
        str | None,
        Form(
            description="Record-level uploads: the collection year, e.g. 2024-25 (picks DfE's rule set); answered 202"
        ),
    ] = None,
    mode: Annotated[
        Literal["default", "atomic", "dry_run"],
        Form(description="default: store valid rows; atomic: all or nothing; dry_run: check only"),
    ] = "default",
    agency: Annotated[str | None, Form(description="Officers only: the agency the figures come from")] = None,
    sheet: Annotated[str | None, Form(description="The sheet to read in a workbook (default: Figures)")] = None,
    purpose: Purpose = "return",
) -> JSONResponse:
    """Upload one file of figures and get the validation report (row, column, value, rule, message); or, with
    ``collection_year``, a council's record-level files, answered 202 at once and checked in the background."""
    agency_code = _uploading_agency(principal, agency)
    if collection_year is not None:
        # Checked before any file is read or kept: a year that is not one is refused whole.
        collection_year = read_collection_year(collection_year)
        uploads = [*(files or []), *([file] if file is not None else [])]
        if mode != "default" or sheet is not None:
            raise InvalidInput("A record-level upload is checked and stored as a whole: leave out mode and sheet")
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
    upload_request: dict[str, Any] = {
        "agency_code": agency_code,
        "filename": file.filename or "upload",
        "mode": mode,
        "submitted_by": principal.label,
        "sheet": sheet,
        # Recorded in the transaction that stores the upload's outcome: both are stored or neither is.
        "audit": stored_event(request, principal, f"submission {{id}} (agency {agency_code}, file {file.filename})"),
    }
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


async def _checked(request: Request, file: UploadFile, upload_request: dict[str, Any]) -> Processed:
    """Check (and store, unless a dry run) one file of figures in an upload process, or here without a pool."""
    settings = request.app.state.settings
    pool: UploadPool | None = getattr(request.app.state, "upload_pool", None)
    if pool is not None:
        # The upload process reads the file from disk: sent through the pool's pipe, the bytes would
        # be held twice over in that process (pickled and unpickled) at the peak of a large upload.
        spooled = await anyio.to_thread.run_sync(_spool_capped, file, settings)
        try:
            return await pool.run({**upload_request, "data_path": str(spooled)})
        finally:
            # The upload process removes it; this covers a process that stopped before it could.
            spooled.unlink(missing_ok=True)
    upload_request["data"] = await anyio.to_thread.run_sync(_read_capped, file, settings.max_upload_bytes)
    return await anyio.to_thread.run_sync(process_upload, request.app.state.engine, settings, upload_request)


def _dry_run_answer(
    request: Request, outcome: Processed, agency_code: str, filename: str, timing: dict[str, str]
) -> JSONResponse:
    """The report of a file checked and not stored: 200, or 415 for a file that is not one of figures."""
    assert outcome.problems is not None
    errors = int((outcome.problems["severity"] == "error").sum())
    report = _report(
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
    records = waiting_way_in(RECORDS_KIND)
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
        if ssd := await ssd_upload(request, background, principal, agency_code, collection_year, spooled, purpose):
            return ssd
        request_of = {
            "agency_code": agency_code,
            "collection_year": collection_year,
            "files": spooled,
            "submitted_by": principal.label,
            "purpose": purpose,
            "audit": stored_event(request, principal, f"submission {{id}} (agency {agency_code}, records {names})"),
        }
        received = await anyio.to_thread.run_sync(lambda: records.take(request.app.state.engine, settings, request_of))
    finally:
        for _, path in spooled:
            path.unlink(missing_ok=True)
    sub = received.submission
    assert sub is not None
    assert sub.id is not None
    if received.duplicate:
        with Session(request.app.state.engine) as session:
            _, report = await anyio.to_thread.run_sync(_read_report, session, sub.id, True)
        annotate(
            request,
            object=f"submission {sub.id} (agency {agency_code}, records {names})",
            status=200,
            detail="a repeat of an earlier record-level upload",
        )
        return JSONResponse(report.model_dump(mode="json"), status_code=200)
    stored_with_change(request)
    pool: UploadPool | None = getattr(request.app.state, "upload_pool", None)
    if pool is not None:
        pool.start_records(sub.id)
    else:
        # Run once the answer is sent, in a worker thread; a stop before it ends leaves it to resume_records.
        background.add_task(records.take_up, request.app.state.engine, settings, sub.id)
    report = _report(sub, problem_frame([]), total=0)
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


def _stored_report(session: SessionDep, submission_id: int, duplicate: bool) -> tuple[Submission, SubmissionReport]:
    # The upload is stored, in a transaction of its own: its report is read again on a fresh connection rather
    # than answered 503, which would have the agency send again what is already stored.
    return again_if_lost(lambda: _read_report(session, submission_id, duplicate), first=session.rollback)


def _read_report(session: Session, submission_id: int, duplicate: bool) -> tuple[Submission, SubmissionReport]:
    sub = collect.get_submission(session, submission_id, agency_code=None)
    problems, total = first_problems(session, submission_id)
    return sub, _report(sub, problems, total=total, duplicate=duplicate)


def _rejected_status(report: SubmissionReport) -> int:
    # A file of a type the service does not read is 415 (as documented); any other rejection is 422.
    return 415 if any(p.rule == "unsupported_file" for p in report.problems) else 422


def _spool_capped(file: UploadFile, settings: Settings, limit: int | None = None) -> Path:
    """Copy the body, within the size limit, to a file of its own for an upload process to read and remove."""
    folder = settings.data_dir / "spool"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".upload", delete=False) as out:
        try:
            _copy_capped(file, out, settings.max_upload_bytes if limit is None else limit)
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    return Path(out.name)


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


@router.get("/submissions", summary="List uploads", response_model=Page[SubmissionSummary])
def list_submissions(
    request: Request,
    session: SessionDep,
    principal: SubmissionRead,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[SubmissionSummary]:
    """List uploads, newest first (an agency sees only its own)."""
    own = read_scope(principal).agency
    rows, total = collect.list_submissions(session, agency_code=own, limit=limit, offset=offset)
    return page(request, [SubmissionSummary(**_summary(r)) for r in rows], total=total, limit=limit, offset=offset)


@router.get(
    "/submissions/{submission_id}", summary="An upload's report", response_model=SubmissionReport, responses=NOT_FOUND
)
def submission_report(submission_id: Id, session: SessionDep, principal: SubmissionRead) -> SubmissionReport:
    """Show an upload's status, counts and its first 1,000 problems (report.csv has every one)."""
    sub = collect.get_submission(session, submission_id, agency_code=read_scope(principal).agency)
    problems, total = first_problems(session, submission_id)
    return _report(sub, problems, total=total)


@router.get(
    "/submissions/{submission_id}/records",
    summary="A record-level upload's findings by child (the uploading council only)",
    response_model=Page[RecordFinding],
    responses={
        403: {"description": "Officers and regulators: child-level findings are the council's alone"},
        **NOT_FOUND,
    },
)
def records_report(
    request: Request,
    submission_id: Id,
    session: SessionDep,
    principal: RecordsRead,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Page[RecordFinding]:
    """List every place DfE's rules fail in the council's own records, each child by the council's own id (audited)."""
    from collectors.records.report import findings_page

    # An upload of figures names no child: its list is empty.
    collect.get_submission(session, submission_id, agency_code=read_scope(principal).agency)
    items, total = findings_page(session, request.app.state.settings, submission_id, limit=limit, offset=offset)
    annotate(request, object=f"record-level findings of submission {submission_id}")
    return page(request, items, total=total, limit=limit, offset=offset)


@router.get(
    "/submissions/{submission_id}/report.csv",
    summary="An upload's problems as CSV",
    responses={200: {"content": {"text/csv": {}}}, **NOT_FOUND},
)
def submission_report_csv(
    request: Request, submission_id: Id, session: SessionDep, principal: SubmissionRead
) -> Response:
    """Download every one of an upload's problems as CSV (row, column, value, rule, severity, message), streamed."""
    collect.get_submission(session, submission_id, agency_code=read_scope(principal).agency)
    return StreamingResponse(
        problems_csv(iter_problems(request.app.state.engine, submission_id)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="submission-{submission_id}-problems.csv"'},
    )


@router.get(
    "/submissions/{submission_id}/report.xlsx",
    summary="The upload with problem cells marked",
    responses={200: {"content": {XLSX: {}}}, **NOT_FOUND},
)
def submission_report_xlsx(
    request: Request, submission_id: Id, session: SessionDep, principal: SubmissionRead
) -> Response:
    """Download the agency's own upload as a workbook with every problem cell highlighted and commented."""
    sub = collect.get_submission(session, submission_id, agency_code=read_scope(principal).agency)
    assert sub.id is not None
    data = build_report(session, collect.raw_table_of(session.get_bind(), sub, request.app.state.settings), sub.id)
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="submission-{submission_id}-report.xlsx"'},
    )


def _queried(session: SessionDep, submission_id: int) -> list[QueriedFigure]:
    problems = collect.submission_problems(session, submission_id).filter(pl.col("severity") == "query")
    out = []
    for h in list_held(session, submission_id):
        assert h.id is not None
        raised = [ProblemPublic(**p) for p in problems.filter(pl.col("row") == h.file_row).to_dicts()]
        out.append(
            QueriedFigure(
                id=h.id,
                row=h.file_row,
                indicator=h.indicator_id,
                org=h.org_code,
                period=h.period,
                breakdown=h.breakdown,
                value=h.value,
                numerator=h.numerator,
                denominator=h.denominator,
                symbol=h.symbol,
                state=h.state,
                note=h.note,
                answered_by=h.answered_by,
                answered_at=h.answered_at,
                queries=raised,
            )
        )
    return out


@router.get(
    "/submissions/{submission_id}/queries",
    summary="An upload's queried figures",
    response_model=Page[QueriedFigure],
    responses=NOT_FOUND,
)
def submission_queries(
    request: Request,
    submission_id: Id,
    session: SessionDep,
    principal: SubmissionRead,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[QueriedFigure]:
    """List the figures an upload's queries hold back, open or answered, with the queries on each."""
    collect.get_submission(session, submission_id, agency_code=read_scope(principal).agency)
    return page_of(request, _queried(session, submission_id), limit=limit, offset=offset)


@router.post(
    "/submissions/{submission_id}/queries/{figure_id}",
    summary="Answer a query with a note",
    response_model=QueriedFigure,
    responses={**NOT_FOUND, 422: {"description": "Empty note, or the query is already closed"}},
)
def answer_query(
    submission_id: Id, figure_id: Id, body: QueryAnswer, session: SessionDep, principal: AgencySubmit
) -> QueriedFigure:
    """Explain a queried figure: it is stored with the note as a new version, and the upload's counts follow."""
    sub = collect.get_submission(session, submission_id, agency_code=read_scope(principal).agency)
    answer(session, sub, figure_id, note=body.note, answered_by=principal.label)
    session.commit()
    return next(q for q in _queried(session, submission_id) if q.id == figure_id)


@router.get(
    "/figures",
    summary="Stored and rolled-up figures",
    responses={404: {"description": "Another agency (with an agency key)"}},
)
def figures(
    request: Request,
    session: SessionDep,
    principal: FiguresRead,
    indicator: str | None = None,
    org: str | None = None,
    period: Annotated[
        str | None, Query(description="Any spelling of a period, e.g. FY2024-25, 2024/25, 2024-06")
    ] = None,
    breakdown: str | None = None,
    agency: Annotated[str | None, Query(description="Only figures this agency uploaded")] = None,
    history: Annotated[bool, Query(description="Every version, not only the current one")] = False,
    level: Annotated[
        str | None,
        Query(
            description="Roll up to this level (region, nuts2, health_area, england ...); needs indicator and period"
        ),
    ] = None,
    updated_after: Annotated[
        IsoDatetime | None, Query(description="Only figures recorded after this instant (ISO 8601; UTC if no zone)")
    ] = None,
    as_of: Annotated[
        IsoDatetime | None, Query(description="The figures as they stood at this instant (the versions current then)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
    offset: Offset = 0,
) -> Any:
    """List stored figures with their provenance (an agency sees only its own uploads), or (officers, with ``level``) roll-ups."""
    scope = read_scope(principal)
    if level is not None:
        indicator, period = _rollup_asked(scope, agency, indicator, period, stored_only=(updated_after, as_of))
        canonical, rolled = figures_at_level(session, indicator, period, level, org)
        listed = page_of(request, rolled, limit=limit, offset=offset).model_dump()
        return {"indicator": indicator, "period": canonical, "level": level, **listed}
    if agency is not None:
        scope.check_agency(agency)
    rows, total = indicators.list_figures(
        session,
        indicator=indicator,
        org=org,
        period=parse_period(period).code if period else None,
        breakdown=breakdown,
        history=history,
        agency=scope.agency or agency,
        updated_after=updated_after,
        as_of=as_of,
        limit=limit,
        offset=offset,
    )
    data = [_figure_public(o, sender) for o, sender in rows]
    return page(request, data, total=total, limit=limit, offset=offset)


def _rollup_asked(
    scope: ReadScope, agency: str | None, indicator: str | None, period: str | None, *, stored_only: tuple[Any, Any]
) -> tuple[str, str]:
    """Refuse a roll-up asked by an agency or with an argument that applies to stored figures only."""
    if scope.agency is not None:
        raise Forbidden("Roll-ups across areas read other bodies' figures; they are for officers")
    if agency is not None:
        raise InvalidInput("A roll-up combines every agency's figures; drop agency or level")
    if not indicator or not period:
        raise InvalidInput("A roll-up needs indicator and period as well as level")
    if any(given is not None for given in stored_only):
        raise InvalidInput(
            "Roll-ups are made from the current figures; updated_after and as_of apply to stored figures"
        )
    return indicator, period


def _figure_public(o: Observation, sender: str | None) -> FigurePublic:
    return FigurePublic(
        indicator=o.indicator_id,
        org=o.org_code,
        period=o.period,
        breakdown=o.breakdown,
        value=o.value,
        numerator=o.numerator,
        denominator=o.denominator,
        symbol=o.symbol,
        flag=o.flag,
        status=o.status,
        note=o.note,
        version=o.version,
        is_current=o.is_current,
        submission_id=o.submission_id,
        agency_code=sender,
        file_row=o.file_row,
        recorded_at=o.recorded_at,
    )
