"""The council's Annex A page: its approver enters the inspection's date, sees the counts per list and the columns
the records fill or leave blank, and downloads Ofsted's workbook. The same functions as the API's routes build it,
and each view and download is audited with the lists read.
"""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import SessionDep
from api.routes.annex_a import XLSX, audit_annex, check_annex_reader
from api.web.render import page
from api.web.shared import PageRoute, Rule, VisitorDep, allowed
from collectors.records.annex_a import build_annex_a, summary
from collectors.records.annex_a_workbook import workbook
from mappings.keys import APPROVER_SCOPE

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: As the API's routes: the council's own agency key with the approver's scope.
ANNEX_A: Rule = ({APPROVER_SCOPE, "submissions:read"}, {"agency"}, "submissions")


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


@router.get("/annex-a")
def annex_a_page(request: Request, session: SessionDep, visitor: VisitorDep, inspection_date: str = "") -> HTMLResponse:
    """Ask for the inspection's date; with one, show the counts per list and the columns filled and blank."""
    allowed(visitor, ANNEX_A)
    code = visitor.principal.agency_code
    assert code is not None
    check_annex_reader(session, visitor.principal, code)
    on = _date(inspection_date) if inspection_date else None
    error = "Enter the inspection's date as a date, for example 2025-03-31" if inspection_date and on is None else ""
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
        status_code=400 if error else 200,
    )


@router.get("/annex-a.xlsx")
def annex_a_download(request: Request, session: SessionDep, visitor: VisitorDep, inspection_date: str) -> Response:
    """The workbook for the date, built now and kept nowhere (audited)."""
    allowed(visitor, ANNEX_A)
    code = visitor.principal.agency_code
    assert code is not None
    check_annex_reader(session, visitor.principal, code)
    on = _date(inspection_date)
    if on is None:
        return Response("Enter the inspection's date as YYYY-MM-DD", status_code=400, media_type="text/plain")
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
