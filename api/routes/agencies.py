"""Agencies (``/api/agencies``): who answers for what, and the template of figures each owes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.auth import AgenciesRead, TemplateRead
from api.deps import SessionDep
from api.downloads import XLSX, template_download
from api.paging import Limit, Offset, Page, page_of
from api.params import PeriodText
from api.scopes import read_scope
from collectors import answers
from collectors.figures.template import build_template
from collectors.schemas import AgencyPublic

router = APIRouter(prefix="/api", tags=["collection"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not found (or not yours)"}}


@router.get("/agencies", summary="List agencies", response_model=Page[AgencyPublic])
def list_agencies(
    request: Request, session: SessionDep, principal: AgenciesRead, limit: Limit = 100, offset: Offset = 0
) -> Page[AgencyPublic]:
    """List the agencies and what each answers for (an agency sees only itself)."""
    listed = answers.agencies(session, read_scope(principal).agency)
    return page_of(request, listed, limit=limit, offset=offset)


@router.get("/agencies/{code}", summary="One agency", response_model=AgencyPublic, responses=NOT_FOUND)
def agency_detail(code: str, session: SessionDep, principal: AgenciesRead) -> AgencyPublic:
    """Show one agency: its org units, returns and the indicators it is the designated source of."""
    read_scope(principal).check_agency(code)
    return answers.agency(session, code)


@router.get(
    "/agencies/{code}/template",
    summary="Download the template of figures owed",
    responses={200: {"content": {XLSX: {}, "text/csv": {}}}, **NOT_FOUND},
)
def template(
    code: str,
    session: SessionDep,
    principal: TemplateRead,
    period: Annotated[PeriodText, Query(description="e.g. FY2024-25, FY2024-25-Q1, 2024-06")],
    format: Annotated[Literal["xlsx", "csv"], Query()] = "xlsx",
    outstanding: Annotated[bool, Query(description="Only figures not yet accepted")] = False,
) -> Response:
    """Download one template listing exactly the figures the agency owes for the period."""
    read_scope(principal).check_agency(code)
    data, name = build_template(session, code, period, format, outstanding=outstanding)
    return template_download(data, name, format)
