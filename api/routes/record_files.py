"""The CIN census and SSDA903 made from a council's SSD extract (the extract is received by ``api.uploading``).

``POST /api/submissions`` with ``collection_year`` and one ZIP of ``ssd_<table>.csv`` tables: the extract is
checked at once (422 with every problem by table, row and column; nothing kept), the year's two files are made
from it and each goes on as a record-level upload of the council's own (202, DfE's rules in the background).
``GET /api/agencies/{code}/record-files/{year}/cin_census.xml`` and ``.../ssda903.zip`` give the files made, for
the council's approver alone; every call is audited. The extract itself is never kept; DfE's children's social care
payloads built from it are, sealed (``collectors/ssd/payload_store.py``, ``api/routes/csc_api.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.access.records import made_file
from api.auth import FUNCTION, require
from api.callrecord import annotate
from api.deps import SessionDep
from api.principal import Principal

router = APIRouter(prefix="/api", tags=["collection"])
#: Who reads children's records, said to every key refused.
APPROVER_ONLY = "the council's own approver key: no officer, regulator or other body reads a child's record"


def files_door(what: str) -> Any:
    """The door of a route giving children's records (``what`` names them): the council's own approver key only, never
    an officer's or a regulator's; every call audited."""
    door = require({"submissions:read"}, {"agency"}, reads="submissions", needs=APPROVER_ONLY, what=what)
    return Depends(door, scope=FUNCTION)


FilesRead = Annotated[
    Principal,
    files_door(
        "the CIN census and SSDA903 files made from a council's SSD extract (GET /api/agencies/{code}/record-files/"
        "...), which are children's records"
    ),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the council's approver key (officers and regulators never see a child)"},
    404: {"description": "No such agency (or not yours), or no file made from an SSD extract for the year"},
    409: {"description": "The newest file made was rejected by DfE's rules, failed, or is still being checked"},
    422: {"description": "The collection year in the path is not one (say, 2024-25)"},
}


@router.get(
    "/agencies/{code}/record-files/{collection_year}/{file}",
    summary="The CIN census XML or SSDA903 ZIP made from the council's SSD extract (approver)",
    responses={200: {"content": {"application/xml": {}, "application/zip": {}}}, **_RESPONSES},
)
def record_file(
    request: Request, code: str, collection_year: str, file: str, session: SessionDep, principal: FilesRead
) -> Response:
    """The file last made from the council's SSD extract for the year, as DfE takes it: ``cin_census.xml`` or
    ``ssda903.zip``."""
    engine, settings = request.app.state.engine, request.app.state.settings
    made = made_file(engine, settings, session, principal, code, collection_year, file)
    sub = made.submission
    annotate(
        request, object=f"{file} of {code} for {made.year}", detail=f"made from the SSD extract; submission {sub.id}"
    )
    return Response(
        made.data,
        media_type=made.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{code}-{made.year}-{file}"',
            "Cache-Control": "no-store",
            "X-Submission": str(sub.id),
            "X-Submission-Status": sub.status,
        },
    )
