"""Uploads (``/api/submissions``): send one, list them, read each one's report, problems, findings and queries."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api import uploading
from api.auth import AgencySubmit, RecordsRead, SubmissionRead
from api.callrecord import annotate
from api.capacity import UploadSlot
from api.deps import SessionDep
from api.downloads import XLSX, attachment
from api.paging import Limit, Offset, Page, page, page_of
from api.params import Id
from api.scopes import read_scope
from collectors import answers, ways_in
from collectors.figures import service as collect
from collectors.problems import iter_problems, problems_csv
from collectors.queries import answer
from collectors.schemas import (
    ExtractReceipt,
    QueriedFigure,
    QueryAnswer,
    RecordFinding,
    SubmissionReport,
    SubmissionSummary,
)

router = APIRouter(prefix="/api", tags=["collection"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found (or not yours)"}}


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


#: What the upload route says it takes: each way in it serves, from the table of ways in.
UPLOAD_DESCRIPTION = (
    "Upload one file of figures and get the validation report (row, column, value, rule, message); or, with "
    "`collection_year`, a council's record-level files. Each upload is taken by one way in, told by what is sent:\n\n"
    + ways_in.described("file")
    + "\n"
    + ways_in.described("files")
)


@router.post(
    "/submissions",
    summary="Upload figures",
    description=UPLOAD_DESCRIPTION,
    status_code=201,
    response_model=SubmissionReport,
    responses={
        200: {
            "description": "A repeat of an earlier upload (an SSD extract's: its ExtractReceipt), or a dry run",
            "headers": _TIMING,
            "model": SubmissionReport | ExtractReceipt,
        },
        201: {"description": "Stored: the report says what was accepted", "headers": _TIMING},
        202: {
            "description": "A record-level upload received and kept: GET the Location to follow its stage (a SEN2 "
            "file whose figures could not be stored is kept and failed, its message naming the command that runs it "
            "again); an SSD extract's files made and received (an ExtractReceipt, each file's Location in it)",
            "headers": {"Location": {"description": "The submission's address", "schema": {"type": "string"}}},
            "model": SubmissionReport | ExtractReceipt,
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
    return await uploading.receive(
        request,
        session,
        principal,
        background,
        file=file,
        files=files,
        collection_year=collection_year,
        mode=mode,
        agency=agency,
        sheet=sheet,
        purpose=purpose,
    )


@router.get("/submissions", summary="List uploads", response_model=Page[SubmissionSummary])
def list_submissions(
    request: Request,
    session: SessionDep,
    principal: SubmissionRead,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[SubmissionSummary]:
    """List uploads, newest first (an agency sees only its own)."""
    items, total = answers.submissions(session, own=read_scope(principal).agency, limit=limit, offset=offset)
    return page(request, items, total=total, limit=limit, offset=offset)


@router.get(
    "/submissions/{submission_id}", summary="An upload's report", response_model=SubmissionReport, responses=NOT_FOUND
)
def submission_report(submission_id: Id, session: SessionDep, principal: SubmissionRead) -> SubmissionReport:
    """Show an upload's status, counts and its first 1,000 problems (report.csv has every one)."""
    return answers.stored_report(session, submission_id, own=read_scope(principal).agency)


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
    own = read_scope(principal).agency
    data = answers.report_workbook(session, request.app.state.settings, submission_id, own=own)
    return attachment(data, XLSX, f"submission-{submission_id}-report.xlsx")


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
    return page_of(request, answers.queried(session, submission_id), limit=limit, offset=offset)


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
    return next(q for q in answers.queried(session, submission_id) if q.id == figure_id)
