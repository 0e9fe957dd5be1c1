"""DfE's EHC plan tables of a council, made from its own SEN2 file before DfE publishes them.

``GET /api/agencies/{code}/sen2/{collection_year}/tables`` lists the twelve tables with each one's notes (the columns
its file cannot give, and why); ``.../tables/{table}.csv`` gives one in DfE's own layout (``collectors.sen2``). The
tables count children and hold none: the council's own key or an officer's reads them. Every call is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.auth import FUNCTION, require
from api.callrecord import annotate
from api.deps import SessionDep
from api.principal import Principal
from api.scopes import read_scope
from collectors.records.contract import read_collection_year
from collectors.sen2.service import make_tables
from mappings.agencies import get_agency

router = APIRouter(prefix="/api", tags=["collection"])
TablesRead = Annotated[Principal, Depends(require(set(), {"officer", "agency"}, reads="submissions"), scope=FUNCTION)]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such agency (or not yours), no such table, or no SEN2 file kept for the year"},
}


@router.get("/agencies/{code}/sen2/{collection_year}/tables", summary="DfE's EHC plan tables of the council (list)",
            responses=_RESPONSES)  # fmt: skip
def sen2_tables(
    request: Request, code: str, collection_year: str, session: SessionDep, principal: TablesRead
) -> dict[str, Any]:
    """Each of DfE's twelve tables made from the council's newest SEN2 file of the year: its address and notes."""
    year = read_collection_year(collection_year)
    read_scope(principal).check_agency(code)
    get_agency(session, code)
    engine, settings = request.app.state.engine, request.app.state.settings
    items = []
    for table, made in make_tables(engine, settings, code, year).items():
        items.append({"table": table, "href": f"/api/agencies/{code}/sen2/{year}/tables/{table}.csv",
                      "rows": made.csv.count("\n") - 1, "notes": made.notes, "submission_id": made.submission_id})  # fmt: skip
    annotate(request, object=f"SEN2 tables of {code} for {year}")
    return {"agency": code, "collection_year": year, "items": items}


@router.get(
    "/agencies/{code}/sen2/{collection_year}/tables/{table}.csv",
    summary="One of DfE's EHC plan tables of the council, in DfE's layout",
    responses={200: {"content": {"text/csv": {}}}, **_RESPONSES},
)
def sen2_table(
    request: Request, code: str, collection_year: str, table: str, session: SessionDep, principal: TablesRead
) -> Response:
    """The table as DfE's release's CSV: the same columns in the same order, the council's rows."""
    year = read_collection_year(collection_year)
    read_scope(principal).check_agency(code)
    get_agency(session, code)
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
