"""DfE's EHC plan tables of a council, made from its own SEN2 file before DfE publishes them.

``GET /api/agencies/{code}/sen2/{collection_year}/tables`` lists the twelve tables with each one's notes (the columns
its file cannot give, and why); ``.../tables/{table}.csv`` gives one in DfE's own layout (``collectors.sen2``). The
tables count children and hold none: the council's own key or an officer's reads them. Every call is audited.
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.access.annex import check_annex_reader
from api.access.england import EnglandRead, council_rows_shown
from api.auth import FUNCTION, require
from api.callrecord import annotate
from api.deps import SessionDep
from api.downloads import XLSX
from api.paging import Limit, Offset, page
from api.principal import Principal
from api.scopes import read_scope
from collectors.annex_a.build import read_inspection_date
from collectors.regions.england import ehc_plan_rows
from collectors.sen2.crosscheck import CHECKS, council_cross_checks
from collectors.sen2.list1 import List1, checked_list1
from collectors.sen2.list1_workbook import list1_workbook
from collectors.sen2.list2 import List2, checked_list2
from collectors.sen2.list2_figures import looked_after_estimates
from collectors.sen2.service import TABLES, make_tables
from indicators.periods import read_collection_year
from mappings.agencies import get_agency
from mappings.keys import APPROVER_SCOPE
from onereturn.errors import NotFound
from onereturn.memory import release_memory

router = APIRouter(prefix="/api", tags=["collection"])
TablesRead = Annotated[Principal, Depends(require(set(), {"officer", "agency"}, reads="submissions"), scope=FUNCTION)]
#: List 1 names children: the council's own approver key only, as Ofsted's Annex A.
ListRead = Annotated[
    Principal,
    Depends(
        require({"submissions:read"}, {"agency"}, reads="submissions", needs="the council's approver key"),
        scope=FUNCTION,
    ),
]
InspectionDate = Annotated[str, Query(description="The inspection's date, YYYY-MM-DD: the list is as at it")]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such agency (or not yours), no such table, or no SEN2 file kept for the year"},
}


def _council_year(code: str, collection_year: str, session: SessionDep, principal: TablesRead) -> str:
    """The collection year asked for, once the key may read the council and the council is one the service knows."""
    year = read_collection_year(collection_year)
    read_scope(principal).check_agency(code)
    get_agency(session, code)
    return year


#: A route's council and collection year (its path's ``code`` and ``collection_year``), checked for the key.
CouncilYear = Annotated[str, Depends(_council_year)]


@router.get(
    "/agencies/{code}/sen2/{collection_year}/tables",
    summary="DfE's EHC plan tables of the council (list)",
    responses=_RESPONSES,
)
def sen2_tables(request: Request, code: str, year: CouncilYear) -> dict[str, Any]:
    """Each of DfE's twelve tables made from the council's newest SEN2 file of the year: its address and notes."""
    engine, settings = request.app.state.engine, request.app.state.settings
    items = []
    for table, made in make_tables(engine, settings, code, year).items():
        items.append(
            {
                "table": table,
                "href": f"/api/agencies/{code}/sen2/{year}/tables/{table}.csv",
                "rows": made.csv.count("\n") - 1,
                "notes": made.notes,
                "submission_id": made.submission_id,
            }
        )
    annotate(request, object=f"SEN2 tables of {code} for {year}")
    return {"agency": code, "collection_year": year, "items": items}


@router.get(
    "/agencies/{code}/sen2/{collection_year}/tables/{table}.csv",
    summary="One of DfE's EHC plan tables of the council, in DfE's layout",
    responses={200: {"content": {"text/csv": {}}}, **_RESPONSES},
)
def sen2_table(request: Request, code: str, table: str, year: CouncilYear) -> Response:
    """The table as DfE's release's CSV: the same columns in the same order, the council's rows."""
    made = make_tables(request.app.state.engine, request.app.state.settings, code, year, (table,))[table]
    annotate(request, object=f"SEN2 table {table} of {code} for {year}", detail=f"from submission {made.submission_id}")
    return Response(
        made.csv,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{code}-{year}-{table}.csv"',
            "X-Submission": str(made.submission_id),
        },
    )


@router.get(
    "/sen2/{collection_year}/england",
    summary="DfE's EHC plan tables of England, each region and the councils, made from the councils' SEN2 files",
    responses={404: {"description": "No council has a SEN2 file kept for the year, or the return is not the key's"}},
)
def sen2_england(request: Request, collection_year: str, session: SessionDep, principal: EnglandRead) -> dict[str, Any]:
    """Each of DfE's twelve tables with England's and each region's rows, added up from the councils' own files: its
    address, and which councils the rows count, which of DfE's councils have sent nothing and which files are left out."""
    year = read_collection_year(collection_year)
    shown = council_rows_shown(session, principal, "dfe_sen2")
    made = ehc_plan_rows(request.app.state.engine, request.app.state.settings, year, TABLES, shown)
    annotate(request, object=f"England's SEN2 tables for {year}", detail=made.coverage.said())
    return {
        "collection_year": year,
        **made.coverage.answer(),
        "councils_shown": "every council's rows" if shown is None else sorted(shown),
        "tables": [
            {"table": name, "href": f"/api/sen2/{year}/england/{name}.csv", "rows": text.count("\n") - 1}
            for name, text in made.tables.items()
        ],
    }


@router.get(
    "/sen2/{collection_year}/england/{table}.csv",
    summary="One of DfE's EHC plan tables: England's, each region's and the councils' rows, in DfE's layout",
    responses={200: {"content": {"text/csv": {}}}, 404: {"description": "No such table, or no council's file"}},
)
def sen2_england_table(
    request: Request, collection_year: str, table: str, session: SessionDep, principal: EnglandRead
) -> Response:
    """The table as DfE's release's CSV: the National row, the Regional rows, then the councils' (a council's key: its
    own); the coverage in ``X-Coverage``."""
    year = read_collection_year(collection_year)
    shown = council_rows_shown(session, principal, "dfe_sen2")
    made = ehc_plan_rows(request.app.state.engine, request.app.state.settings, year, (table,), shown)
    annotate(request, object=f"England's SEN2 table {table} for {year}", detail=made.coverage.said())
    return Response(
        made.tables[table],
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="england-{year}-{table}.csv"',
            "X-Coverage": made.coverage.said(),
        },
    )


def _list_day(code: str, session: SessionDep, principal: ListRead, inspection_date: InspectionDate) -> date:
    """The inspection's date asked for, once the key may read the council's area SEND lists."""
    check_annex_reader(session, principal, code)
    return read_inspection_date(inspection_date)


#: A list route's inspection date (its query's ``inspection_date``), the council's approver key checked for its path's
#: ``code``.
ListDay = Annotated[date, Depends(_list_day)]


def _list1(request: Request, code: str, day: date) -> tuple[List1, list[Any]]:
    return checked_list1(request.app.state.engine, request.app.state.settings, code, day)


def _audit(request: Request, code: str, built: List1, findings: list[Any], what: str) -> None:
    annotate(
        request,
        object=f"area SEND List 1 {what} of {code} as at {built.inspection_date.isoformat()}",
        detail=f"{built.rows.height} rows; {len(findings)} finding(s); read from {'; '.join(built.sources)}",
    )


@router.get(
    "/agencies/{code}/annex-a-send", summary="The area SEND inspection's List 1 (approver)", responses=_RESPONSES
)
def annex_a_send(request: Request, code: str, day: ListDay, limit: Limit = 1000, offset: Offset = 0) -> dict[str, Any]:
    """List 1 as at the date, a page of rows at a time: the rows, the sources read, the notes and Data to Insight's
    findings of those rows (with how many there are in the whole list)."""
    built, findings = _list1(request, code, day)
    _audit(request, code, built, findings, "list")
    return _list_page(request, built, findings, limit, offset)


def _list_page(
    request: Request, built: List1, findings: list[dict[str, Any]], limit: int, offset: int
) -> dict[str, Any]:
    """One page of a list (List 1 or List 2): its rows, sources and notes, and the findings and traces of those rows."""
    rows = built.rows.slice(offset, limit)
    # The list envelope's links to the pages either side (its items are the rows below, in the list's own words).
    shown = page(request, range(rows.height), total=built.rows.height, limit=limit, offset=offset)
    # A finding's row is the list's, counted from 1 (the workbook's row below its headings).
    first, last = offset + 1, offset + rows.height
    return {
        "inspection_date": built.inspection_date.isoformat(),
        "sources": built.sources,
        "notes": built.notes,
        "total": built.rows.height,
        "limit": limit,
        "offset": offset,
        "next": shown.next,
        "prev": shown.prev,
        "rows": [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
            for row in rows.iter_rows(named=True)
        ],
        "findings": [f for f in findings if f.get("row") is None or first <= f["row"] <= last],
        "findings_total": len(findings),
        "traces": _traces(built.traces, first, last),
    }


def _traces(traces: pl.DataFrame, first: int, last: int) -> list[dict[str, Any]]:
    """The traces of a page's rows: each cell's row (the list's, from 1), column and the census row it came from."""
    if traces.is_empty():
        return []
    return traces.filter(pl.col("row").is_between(first, last)).to_dicts()


@router.get(
    "/agencies/{code}/annex-a-send/list-2",
    summary="The area SEND inspection's List 2: children on SEN support (approver)",
    responses={404: {"description": "No such agency (or not yours), or no school census kept on or before the date"}},
)
def annex_a_send_list2(
    request: Request, code: str, day: ListDay, limit: Limit = 1000, offset: Offset = 0
) -> dict[str, Any]:
    """List 2 as at the date from the council's school census, a page of rows at a time, as List 1: the rows, the
    sources read, the notes, each cell's trace and Data to Insight's findings of those rows."""
    built, findings = checked_list2(request.app.state.engine, request.app.state.settings, code, day)
    annotate(
        request,
        object=f"area SEND List 2 of {code} as at {built.inspection_date.isoformat()}",
        detail=f"{built.rows.height} rows; {len(findings)} finding(s); read from {'; '.join(built.sources)}",
    )
    return _list_page(request, built, findings, limit, offset)


@router.get(
    "/agencies/{code}/annex-a-send.xlsx",
    summary="The area SEND inspection's List 1 workbook (approver)",
    responses={200: {"content": {XLSX: {}}}, **_RESPONSES},
)
def annex_a_send_workbook(request: Request, code: str, day: ListDay) -> Response:
    """List 1 in the validator's layout, then List 2 where the council keeps a school census for the date, then their
    notes and findings; built now and kept nowhere."""
    built, findings = _list1(request, code, day)
    list2: tuple[List2 | None, list[Any]] = (None, [])
    with contextlib.suppress(NotFound):
        list2 = checked_list2(request.app.state.engine, request.app.state.settings, code, built.inspection_date)
    data = list1_workbook(built, findings, *list2)
    # The sheet's XML made and let go of is handed back, not kept by the allocator for the next request.
    release_memory()
    _audit(request, code, built, findings, "workbook")
    name = f"annex-a-send-{code}-{built.inspection_date.isoformat()}.xlsx"
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.get(
    "/agencies/{code}/sen2/{collection_year}/cross-checks",
    summary="Checks across the council's SEN2, CIN census and SSDA903 (counts; the council's approver: its children)",
    responses=_RESPONSES,
)
def sen2_cross_checks(request: Request, code: str, principal: TablesRead, year: CouncilYear) -> dict[str, Any]:
    """Each check no single return can make, counted; the children behind each only for the council's approver."""
    queries, census, sources = council_cross_checks(request.app.state.engine, request.app.state.settings, code, year)
    counts = {check: sum(1 for q in queries if q.check == check) for check in CHECKS}
    answer: dict[str, Any] = {
        "agency": code,
        "collection_year": year,
        "census_date": census.isoformat(),
        "sources": sources,
        "checks": [{"check": c, "what": w, "queries": counts[c]} for c, w in CHECKS.items()],
    }
    if principal.kind == "agency" and APPROVER_SCOPE in principal.scopes:
        # The council's approver's view: the child's UPN and its id in the other return, to put each query right.
        answer["queries"] = [
            {"check": q.check, "other_return": q.other, "upn": q.upn, "child": q.child} for q in queries
        ]
    else:
        # The children name them as List 1 does: to the council's approvers alone.
        answer["children"] = "the children behind each query are given to the council's approver keys only"
    annotate(
        request,
        object=f"SEN2 cross-checks of {code} for {year}",
        detail="; ".join(f"{c}: {n}" for c, n in counts.items()),
    )
    return answer


@router.get(
    "/agencies/{code}/census/looked-after-school",
    summary="Looked-after children's school figures (core data set 3.02-3.04) estimated from the council's census",
    responses=_RESPONSES,
)
def looked_after_school(
    request: Request, code: str, session: SessionDep, principal: TablesRead, inspection_date: InspectionDate
) -> dict[str, Any]:
    """Items 3.02 to 3.04 estimated from the council's own school census and SSDA903, each with its coverage and DfE's
    published figure beside it: an estimate, never stored, so no return reads it."""
    read_scope(principal).check_agency(code)
    get_agency(session, code)
    on = read_inspection_date(inspection_date)
    answer = looked_after_estimates(session, request.app.state.engine, request.app.state.settings, code, on)
    annotate(request, object=f"looked-after children's school figures of {code} as at {on.isoformat()}")
    return answer
