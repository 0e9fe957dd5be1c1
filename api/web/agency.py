"""The agency's pages: what it owes, its template, one upload, the report, and its history.

Every page calls the same functions as the JSON API, with the signed-in key's principal, so a page
shows exactly what the API would give that key and nothing more.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

import polars as pl
from fastapi import APIRouter, BackgroundTasks, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import paging
from api.capacity import UploadSlot
from api.deps import SessionDep
from api.downloads import XLSX, attachment, template_download
from api.params import PeriodText
from api.scopes import read_scope
from api.web.records import records_refusal, status_page, upload_refused
from api.web.render import page
from api.web.shared import (
    CALENDAR,
    FIGURES,
    SUBMISSIONS,
    SUBMIT,
    TEMPLATES,
    UPLOAD_MODES,
    PageRoute,
    VisitorDep,
    allowed,
    api_upload,
    calendar_items,
    check_csrf,
    due_next,
)
from collectors import answers
from collectors.figures import service as collect
from collectors.figures.template import build_template
from collectors.schemas import SubmissionSummary
from exports.burden.report import publishers_saying
from exports.signoff.behind import agencies_behind, standings
from mappings import service as mappings
from mappings.signoff.states import MEANINGS, SIGNED_OFF
from onereturn import clock
from onereturn.errors import InvalidInput, NotFound

router = APIRouter(route_class=PageRoute, include_in_schema=False)
MODES = UPLOAD_MODES
#: The columns a one-row upload answering a query carries (the service's long format).
LONG_COLUMNS = ("indicator", "org", "period", "breakdown", "value", "numerator", "denominator", "status", "note")


def _return_titles(session: SessionDep) -> dict[str, str]:
    return {r.id: r.title for r in mappings.list_returns(session)}


@router.get("/agency")
def owed(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """What the agency owes: each return's next deadline, the overdue ones, every deadline, with the figures owed."""
    allowed(visitor, CALENDAR)
    now = clock.now()
    today = now.date()
    entries = calendar_items(session, visitor, today - timedelta(days=365), today + timedelta(days=400))
    code = visitor.principal.agency_code or ""
    titles = _return_titles(session)
    rows = [
        {**e, "title": titles.get(e["return_id"], e["return_id"]), "still_owed": e["owed"].get(code, 0)}
        for e in entries
        if e["kind"] == "agency_deadline" and (e["status"] in ("owed", "overdue") or e["at"] >= today.isoformat())
    ]
    overdue = [r for r in rows if r["status"] == "overdue"]
    upcoming = [r for r in rows if r["status"] != "overdue"]
    nxt = due_next(rows, now)
    # The dates by which the agency's approver must sign off: each return's next one, and those passed with the
    # figures all in but not signed off (a passed one with figures missing is in the overdue table already).
    to_sign: list[dict[str, Any]] = []
    for e in sorted(entries, key=lambda e: datetime.fromisoformat(e["at"])):
        if e["kind"] != "signoff_deadline" or code not in e["owed"]:
            continue
        late = e["overdue"].get(code) == "not_signed_off"
        if not late and (
            datetime.fromisoformat(e["at"]) <= now
            or e["return_id"] in {r["return_id"] for r in to_sign if not r["late"]}
        ):
            continue
        to_sign.append(
            {
                **e,
                "title": titles.get(e["return_id"], e["return_id"]),
                "state": e["unsigned"].get(code, "signed_off"),
                "meaning": MEANINGS[e["unsigned"].get(code, SIGNED_OFF)],
                "late": late,
            }
        )
    if code:
        _mark_signable(session, code, [*overdue, *nxt.values(), *(r for r in to_sign if r["state"] != "signed_off")])
    agency = answers.agency(session, code) if code else None
    # A treatment provider keys nothing NDTMS publishes from the records its system sends NDTMS: said in plain words.
    publisher_keys = publishers_saying(session).get(agency.body_type) if agency is not None else None
    return page(
        request,
        "agency/owed.html",
        visitor,
        title="What you owe",
        due_now=list(nxt.values()),
        overdue=overdue,
        upcoming=upcoming,
        to_sign=to_sign,
        unsigned_late=[r for r in to_sign if r["late"]],
        agency=agency,
        keys_nothing_published=publisher_keys[1] if publisher_keys else "",
        ics=f"/api/calendar.ics?agency={code}",
    )


def _mark_signable(session: SessionDep, code: str, rows: list[dict[str, Any]]) -> None:
    """Give each row where the agency has figures in the return for the period a link to its sign-off page."""
    seen = _has_figures_behind(session, code, list(dict.fromkeys((row["return_id"], row["period"]) for row in rows)))
    for row in rows:
        key = (row["return_id"], row["period"])
        if seen[key]:
            row["signoff"] = f"/signoffs/{quote(key[0], safe='')}/{quote(key[1], safe='')}"


def _has_figures_behind(session: SessionDep, code: str, keys: list[tuple[str, str]]) -> dict[tuple[str, str], bool]:
    """Whether the agency has figures behind each (return, period), the builds asked for together."""
    wanted: dict[str, list[str]] = {}
    for return_id, period in keys:
        wanted.setdefault(return_id, []).append(period)
    try:
        # Together, the builds of one return's periods share their reads of the store: after an upload the page
        # took 3.2 s of CPU on the demo's store asking for each row alone, and 0.9 s asking for them all at once.
        found = standings(session, wanted)
    except (InvalidInput, NotFound):
        # A period one of the returns cannot be built for: each row asked alone, so that one alone has no link.
        return {key: _behind_alone(session, code, key) for key in keys}
    # A return the catalogue no longer holds is in no standing: nothing of it to sign off.
    return {key: key in found and code in found[key].behind for key in keys}


def _behind_alone(session: SessionDep, code: str, key: tuple[str, str]) -> bool:
    try:
        return code in agencies_behind(session, *key)
    except (InvalidInput, NotFound):
        return False  # a period the return cannot be built for has nothing to sign off


@router.get("/agency/template")
def template(
    session: SessionDep, visitor: VisitorDep, period: PeriodText, format: Literal["xlsx", "csv"] = "xlsx"
) -> Response:
    """Download the template of figures owed for a period (the API's own template)."""
    allowed(visitor, TEMPLATES)
    code = visitor.principal.agency_code
    if code is None:
        raise NotFound("Only an agency has a template")
    data, name = build_template(session, code, period, format, outstanding=False)
    return template_download(data, name, format)


@router.get("/upload")
def upload_form(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """The upload form; the record-level form only to a council that owes a children's return."""
    allowed(visitor, SUBMIT)
    refusal = records_refusal(session, visitor.principal)
    return page(
        request,
        "agency/upload.html",
        visitor,
        title="Upload your figures",
        modes=MODES,
        errors={},
        records_refusal=refusal,
    )


@router.post("/upload")
def upload(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    _slot: UploadSlot,
    file: Annotated[UploadFile | None, File()] = None,
    mode: Annotated[str, Form()] = "default",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Send the file through the API's upload; show its report."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, SUBMIT)
    errors: dict[str, str] = {}
    if file is None or not file.filename:
        errors["file"] = "Select the file of figures to upload"
    if mode not in MODES:
        errors["mode"] = "Choose what to do with the file"
    if visitor.principal.kind != "agency":
        errors["file"] = "Only an agency uploads through this page; officers use the API and say which agency"
    if errors:
        return upload_refused(
            request, visitor, errors=errors, records_refusal=records_refusal(session, visitor.principal)
        )
    assert file is not None
    return _send(request, session, visitor, file, mode)


def _send(request: Request, session: SessionDep, visitor: VisitorDep, file: UploadFile, mode: str) -> Response:
    # A template upload is stored before the answer; nothing runs after it.
    body = api_upload(request, session, visitor, BackgroundTasks(), file=file, mode=mode)
    if body.get("id") is None:
        return page(
            request,
            "agency/report.html",
            visitor,
            title="Check of your file",
            report=body,
            rows=[],
            header=[],
            marks={},
            queries=[],
            dry_run=True,
            blank=0,
            only_problems=False,
        )
    return RedirectResponse(f"/submissions/{body['id']}", status_code=303)


@router.get("/submissions")
def list_submissions(request: Request, session: SessionDep, visitor: VisitorDep, offset: int = 0) -> HTMLResponse:
    """Uploads, newest first (an agency sees only its own)."""
    allowed(visitor, SUBMISSIONS)
    listing = _submissions(request, session, visitor, limit=50, offset=max(offset, 0))
    return page(request, "submissions.html", visitor, title="Submissions", listing=listing, offset=max(offset, 0))


def _submissions(
    request: Request, session: SessionDep, visitor: VisitorDep, *, limit: int, offset: int
) -> paging.Page[SubmissionSummary]:
    """One page of the visitor's uploads (an officer's: every agency's), newest first."""
    items, total = answers.submissions(session, own=read_scope(visitor.principal).agency, limit=limit, offset=offset)
    return paging.page(request, items, total=total, limit=limit, offset=offset)


def _marks(problems: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for p in problems:
        if p["row"] is not None:
            out.setdefault(int(p["row"]), []).append(p)
    return out


@router.get("/submissions/{submission_id}")
def submission_report(request: Request, session: SessionDep, visitor: VisitorDep, submission_id: int) -> HTMLResponse:
    """An upload's report: status, counts, the problem rows highlighted, and the queries to answer."""
    allowed(visitor, SUBMISSIONS)
    own = read_scope(visitor.principal).agency
    rep = answers.stored_report(session, submission_id, own=own).model_dump(mode="json")
    if rep["kind"] == "records":
        return status_page(request, session, visitor, rep)
    sub = collect.get_submission(session, submission_id, agency_code=visitor.principal.agency_scope)
    raw = collect.raw_table_of(session.get_bind(), sub, request.app.state.settings)
    marks = _marks(rep["problems"])
    header, rows, blank = _shown_rows(raw.frame if raw is not None else None, marks)
    queries = [p for p in rep["problems"] if p["severity"] == "query" and p["row"] is not None]
    return page(
        request,
        "agency/report.html",
        visitor,
        title=f"Submission {submission_id}",
        report=rep,
        rows=rows,
        header=header,
        marks=marks,
        queries=queries,
        dry_run=False,
        blank=blank,
        only_problems=raw is not None and raw.frame.height > 200,
    )


#: Template columns that only help the person filling it in; the report leaves them out to keep values in view.
REFERENCE = ("org_name", "unit", "allowed", "last_value")


def _shown_rows(
    frame: pl.DataFrame | None, marks: dict[int, list[dict[str, Any]]]
) -> tuple[list[str], list[tuple[int, str, list[Any]]], int]:
    """Pick the columns and rows a person needs to see: the values they gave and every row with a problem."""
    if frame is None:
        return [], [], 0
    header = [c for c in frame.columns if c not in ("row", "title", *REFERENCE)]
    inputs = [c for c in ("value", "numerator", "denominator", "status", "note") if c in header]
    if frame.height > 200:
        frame = frame.filter(frame["row"].is_in(list(marks)))
    rows = []
    blank = 0
    for record in frame.iter_rows(named=True):
        number = int(record["row"])
        if inputs and number not in marks and not any((record[c] or "").strip() for c in inputs):
            blank += 1
            continue
        rows.append((number, record.get("title") or "", [record[c] for c in header]))
    return header, rows, blank


@router.get("/submissions/{submission_id}/report.xlsx")
def submission_report_xlsx(request: Request, session: SessionDep, visitor: VisitorDep, submission_id: int) -> Response:
    """The upload as a workbook with every problem cell marked (the API's own)."""
    allowed(visitor, SUBMISSIONS)
    own = read_scope(visitor.principal).agency
    data = answers.report_workbook(session, request.app.state.settings, submission_id, own=own)
    return attachment(data, XLSX, f"submission-{submission_id}-report.xlsx")


@router.post("/submissions/{submission_id}/rows/{row}/note")
def answer_query(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    _slot: UploadSlot,
    submission_id: int,
    row: int,
    note: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Answer a query with a note: the figure is sent again with the note, through the API's upload."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, SUBMIT)
    sub = collect.get_submission(session, submission_id, agency_code=visitor.principal.agency_scope)
    raw = collect.raw_table_of(session.get_bind(), sub, request.app.state.settings)
    if raw is None:
        raise NotFound("The file of that submission is no longer kept")
    found = raw.frame.filter(raw.frame["row"] == str(row) if raw.frame["row"].dtype == str else raw.frame["row"] == row)
    if found.height != 1:
        raise NotFound(f"Row {row} is not in submission {submission_id}")
    if not note.strip():
        raise InvalidInput("Write a note explaining the figure, then send it again")
    cells = found.row(0, named=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LONG_COLUMNS)
    writer.writerow([cells.get(c) or "" for c in LONG_COLUMNS[:-1]] + [note.strip()])
    name = f"submission-{submission_id}-row-{row}-note.csv"
    upload = UploadFile(file=io.BytesIO(buffer.getvalue().encode("utf-8")), filename=name)
    return _send(request, session, visitor, upload, "default")


@router.get("/history")
def figures(
    request: Request, session: SessionDep, visitor: VisitorDep, indicator: str | None = None, offset: int = 0
) -> HTMLResponse:
    """The agency's figures with every version, and its submissions."""
    allowed(visitor, FIGURES)
    items, total = answers.figures(
        session,
        indicator=indicator or None,
        org=None,
        period=None,
        breakdown=None,
        history=True,
        agency=read_scope(visitor.principal).agency,
        updated_after=None,
        as_of=None,
        limit=100,
        offset=max(offset, 0),
    )
    found = paging.page(request, items, total=total, limit=100, offset=max(offset, 0))
    listing = _submissions(request, session, visitor, limit=20, offset=0)
    return page(
        request,
        "agency/history.html",
        visitor,
        title="History of your figures",
        figures=found,
        listing=listing,
        indicator=indicator or "",
        offset=max(offset, 0),
    )
