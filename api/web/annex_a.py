"""The council's Annex A page: its approver enters the inspection's date, sees the counts per list and the columns
the records fill or leave blank, and downloads Ofsted's workbook. The same functions as the API's routes build it,
and each view and download is audited with the lists read.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from api.access.annex import audit_annex, check_annex_reader
from api.callrecord import annotate
from api.deps import SessionDep
from api.downloads import XLSX
from api.web.render import page
from api.web.shared import PageRoute, Rule, VisitorDep, allowed, check_csrf
from collectors import ways_in
from collectors.annex_a.build import build_annex_a, read_inspection_date, summary
from collectors.annex_a.columns import template
from collectors.annex_a.workbook import workbook
from mappings.annex_a import load_layout
from onereturn.errors import InvalidInput, NotFound

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: As the API's routes: an agency's key; ``check_annex_reader`` then asks for the council's approver and says so.
ANNEX_A: Rule = ({"submissions:read"}, {"agency"}, "submissions")


def _date(text: str) -> tuple[date | None, str]:
    """The inspection date the form gives, or None and what is wrong with it (its format, or years out of bounds)."""
    try:
        return read_inspection_date(text), ""
    except InvalidInput as exc:
        return None, exc.message


@router.get("/annex-a")
def annex_a_page(request: Request, session: SessionDep, visitor: VisitorDep, inspection_date: str = "") -> HTMLResponse:
    """Ask for the inspection's date; with one, show the counts per list and the columns filled and blank."""
    allowed(visitor, ANNEX_A)
    code = visitor.principal.agency_code
    assert code is not None
    try:
        check_annex_reader(session, visitor.principal, code)
    except NotFound as exc:
        # The visitor's own body: say why it has no Annex A rather than "page not found".
        return page(
            request,
            "error.html",
            visitor,
            title="No Annex A for your organisation",
            status_code=404,
            heading="No Annex A for your organisation",
            message=exc.message,
        )
    on, error = _date(inspection_date) if inspection_date else (None, "")
    facts = None
    if on is not None:
        annex = build_annex_a(session, request.app.state.settings, code, on)
        audit_annex(request, annex, code, "summary")
        facts = summary(annex)
    return page(
        request,
        "agency/annex_a.html",
        visitor,
        title=("Error: " if error else "") + "Ofsted's Annex A",
        facts=facts,
        inspection_date=inspection_date,
        error=error,
        columns_error="",
        columns_sent="",
        status_code=400 if error else 200,
    )


@router.get("/annex-a.xlsx")
def annex_a_download(request: Request, session: SessionDep, visitor: VisitorDep, inspection_date: str) -> Response:
    """The workbook for the date, built now and kept nowhere (audited)."""
    allowed(visitor, ANNEX_A)
    code = visitor.principal.agency_code
    assert code is not None
    check_annex_reader(session, visitor.principal, code)
    on, error = _date(inspection_date)
    if on is None:
        return Response(error, status_code=400, media_type="text/plain")
    annex = build_annex_a(session, request.app.state.settings, code, on)
    data = workbook(annex)
    audit_annex(request, annex, code, "workbook")
    return Response(
        data,
        media_type=XLSX,
        headers={
            "Content-Disposition": f'attachment; filename="annex-a-{code}-{on.isoformat()}.xlsx"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/annex-a/template.xlsx")
def annex_a_template_page(session: SessionDep, visitor: VisitorDep) -> Response:
    """The template of the columns no return holds, to fill by child id."""
    allowed(visitor, ANNEX_A)
    code = visitor.principal.agency_code
    assert code is not None
    check_annex_reader(session, visitor.principal, code)
    return Response(
        template(load_layout()),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="annex-a-columns-{code}.xlsx"'},
    )


@router.post("/annex-a/columns")
def annex_a_columns_page(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    file: Annotated[UploadFile | None, File()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Send the council's own columns; the page says how many children, or which row and column is wrong."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, ANNEX_A)
    code = visitor.principal.agency_code
    assert code is not None
    check_annex_reader(session, visitor.principal, code)
    settings = request.app.state.settings
    sent, error = "", ""
    if file is None or not file.filename:
        error = "Select the columns file (CSV or XLSX, from the template)"
    else:
        data = file.file.read(settings.max_upload_bytes + 1)
        try:
            if len(data) > settings.max_upload_bytes:
                raise InvalidInput(f"the file is over the limit of {settings.max_upload_bytes:,} bytes")
            upload = ways_in.ColumnsSent(
                agency_code=code,
                layout=load_layout(),
                filename=file.filename or "columns.csv",
                data=data,
                submitted_by=visitor.principal.label,
            )
            sid, frame = ways_in.take(request.app.state.engine, settings, upload)
            annotate(request, object=f"Annex A columns of {code} (upload {sid})", detail=f"{frame.height} children")
            children = f"{frame.height:,} child" + ("" if frame.height == 1 else "ren")
            sent = f"Your columns for {children} are kept; the next Annex A you build uses them."
        except InvalidInput as exc:
            error = exc.message
    return page(
        request,
        "agency/annex_a.html",
        visitor,
        title=("Error: " if error else "") + "Ofsted's Annex A",
        facts=None,
        inspection_date="",
        error="",
        columns_error=error,
        columns_sent=sent,
        status_code=400 if error else 200,
    )
