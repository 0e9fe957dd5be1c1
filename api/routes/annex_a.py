"""Ofsted's Annex A for a council's inspection: the counts per list and the workbook, built on demand from the
council's own CIN census and SSDA903 records, for its approver alone.

Every call is audited (who, when, which lists and how many rows); the answer names children only in the workbook
the approver downloads, never in a count, a log line or an error. Nothing built is kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.responses import Response

from api.access.annex import audit_annex, check_annex_reader
from api.auth import FUNCTION, require
from api.callrecord import annotate
from api.deps import SessionDep
from api.downloads import XLSX
from api.principal import Principal
from collectors import ways_in
from collectors.annex_a.build import build_annex_a, read_inspection_date, summary
from collectors.annex_a.columns import template
from collectors.annex_a.workbook import workbook
from mappings.annex_a import load_layout
from onereturn.errors import PayloadTooLarge

router = APIRouter(prefix="/api", tags=["annex-a"])

#: Children's details: a council's own key only, never an officer's or a regulator's.
AnnexRead = Annotated[
    Principal,
    Depends(
        require({"submissions:read"}, {"agency"}, reads="submissions", needs="the council's approver key"),
        scope=FUNCTION,
    ),
]
InspectionDate = Annotated[str, Query(description="The inspection's date, YYYY-MM-DD: the lists are as at it")]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the council's approver key (officers and regulators never see a child)"},
    404: {"description": "No such agency (or not yours), or one that returns neither the CIN census nor the SSDA903"},
}


@router.get("/agencies/{code}/annex-a", summary="Ofsted's Annex A: counts per list (approver)", responses=_RESPONSES)
def annex_a_summary(
    request: Request, code: str, session: SessionDep, principal: AnnexRead, inspection_date: InspectionDate
) -> dict[str, Any]:
    """Counts per list, the columns the records fill and those left blank (with why), and the sources read."""
    check_annex_reader(session, principal, code)
    annex = build_annex_a(session, request.app.state.settings, code, read_inspection_date(inspection_date))
    audit_annex(request, annex, code, "summary")
    return summary(annex)


@router.get(
    "/agencies/{code}/annex-a.xlsx",
    summary="Ofsted's Annex A workbook (approver)",
    responses={200: {"content": {XLSX: {}}}, **_RESPONSES},
)
def annex_a_workbook(
    request: Request, code: str, session: SessionDep, principal: AnnexRead, inspection_date: InspectionDate
) -> Response:
    """The workbook: a front sheet, then Lists 1 to 11 in Ofsted's layout, built now and kept nowhere."""
    check_annex_reader(session, principal, code)
    annex = build_annex_a(session, request.app.state.settings, code, read_inspection_date(inspection_date))
    data = workbook(annex)
    audit_annex(request, annex, code, "workbook")
    name = f"annex-a-{code}-{annex.inspection_date.isoformat()}.xlsx"
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.get(
    "/agencies/{code}/annex-a/template.xlsx",
    summary="The template of Annex A's columns no return holds (approver)",
    responses={200: {"content": {XLSX: {}}}, **_RESPONSES},
)
def annex_a_template(request: Request, code: str, session: SessionDep, principal: AnnexRead) -> Response:
    """The headings the council may fill by child id (only the columns no return holds), and each one's codes."""
    check_annex_reader(session, principal, code)
    annotate(request, object=f"Annex A columns template of {code}")
    return Response(
        template(load_layout()),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="annex-a-columns-{code}.xlsx"'},
    )


@router.post(
    "/agencies/{code}/annex-a/columns",
    summary="Upload Annex A's columns no return holds, by child id (approver)",
    responses={**_RESPONSES, 422: {"description": "A heading or value refused, by row and column"}},
)
def annex_a_columns(
    request: Request,
    code: str,
    session: SessionDep,
    principal: AnnexRead,
    file: Annotated[
        UploadFile, File(description="CSV or XLSX from the template: Child Unique ID, then List N: heading")
    ],
) -> dict[str, Any]:
    """Check the council's own columns against Ofsted's codes and keep them (encrypted) for the next Annex A."""
    check_annex_reader(session, principal, code)
    settings = request.app.state.settings
    # A sync route runs in a worker thread, so the read and the keeping below do not hold the event loop.
    data = file.file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"the file is over the limit of {settings.max_upload_bytes:,} bytes")
    name = file.filename or "columns.csv"
    upload = ways_in.ColumnsSent(
        agency_code=code, layout=load_layout(), filename=name, data=data, submitted_by=principal.label
    )
    sid, frame = ways_in.take(request.app.state.engine, settings, upload)
    annotate(request, object=f"Annex A columns of {code} (upload {sid})", detail=f"{frame.height} children")
    return {"id": sid, "children": frame.height, "columns": frame.columns[1:]}
