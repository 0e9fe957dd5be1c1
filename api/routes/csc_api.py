"""DfE's children's social care payloads built from the council's SSD extract, for its approver alone.

``GET /api/agencies/{code}/csc-api/children?as_of=YYYY-MM-DD`` pages the payloads (one per child, DfE's structure)
built from the council's newest SSD extract received on or before ``as_of``, each with its hash and its state against
the council's previous extract (``new``, ``updated``, ``unchanged``, ``deleted``), as DfE's staging table holds them;
``changed=true`` keeps only the children a sender would send (new and updated) and those gone (deleted). The access
rules are the record files' (``api/routes/record_files.py``): the council's approver key only, every call audited,
nothing cached. Sending to DfE is not built: the council's sender does it (docs/records.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from api.access.records import council_approver
from api.callrecord import annotate
from api.deps import SessionDep
from api.paging import Limit, Offset, page_of
from api.params import IsoDate
from api.principal import Principal
from api.routes.record_files import files_door
from collectors.records.privacy import checked_keys
from collectors.ssd import payload_store
from mappings.geography import dfe_la_number
from mappings.illustrative import councils_of

router = APIRouter(prefix="/api", tags=["collection"])
PayloadsRead = Annotated[
    Principal,
    files_door(
        "DfE's children's social care payloads made from a council's SSD extract (GET /api/agencies/{code}/csc-api/"
        "children), which are children's records"
    ),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the council's approver key (officers and regulators never see a child)"},
    404: {"description": "No such agency (or not yours), or no SSD extract received on or before as_of"},
    422: {"description": "as_of is not a date (YYYY-MM-DD)"},
}
#: Changes a sender acts on: DfE's staging table sends the rows marked New or Updated (populate lines 1346-1400)
#: and marks a child gone from the cohort Deleted.
CHANGED = frozenset({payload_store.NEW, payload_store.UPDATED, payload_store.DELETED})


@router.get(
    "/agencies/{code}/csc-api/children",
    summary="DfE's children's social care payloads from the council's SSD extract (approver)",
    responses=_RESPONSES,
)
def csc_api_children(
    request: Request,
    code: str,
    session: SessionDep,
    principal: PayloadsRead,
    as_of: Annotated[IsoDate, Query(description="The day: the newest extract received on or before it is read")],
    changed: Annotated[
        bool, Query(description="Only the children new, updated or deleted since the extract before")
    ] = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> JSONResponse:
    """One payload per child in DfE's structure, from the council's newest SSD extract on or before ``as_of``."""
    council_approver(session, principal, code, "DfE's payloads")
    extract = payload_store.as_of(session, code, as_of)
    engine, settings = request.app.state.engine, request.app.state.settings
    # Refused before anything is read where this host's records keys are not the deployment's.
    checked_keys(engine, settings)
    children = payload_store.read_children(engine, settings, extract)
    if changed:
        children = [c for c in children if c["row_state"] in CHANGED]
    body = page_of(request, payload_store.payload_items(children), limit=limit, offset=offset).model_dump()
    councils = councils_of(session, code)
    number = dfe_la_number(councils[0].rules_as) if len(councils) == 1 else None
    # DfE's structure gives la_code as a number (json_payload_structure.md: "la_code": 123).
    body["la_code"] = int(number) if number and number.isdigit() else None
    body["extract"] = {
        "id": extract.id,
        "file": extract.filename,
        "collection_year": extract.collection_year,
        "run_date": extract.run_date.isoformat(),
        "received_at": extract.received_at.isoformat(),
        "previous_id": extract.previous_id,
        "identifiers": extract.identifiers,
        "children": extract.children,
        **{s: getattr(extract, s) for s in ("new", "updated", "unchanged", "deleted")},
    }
    annotate(
        request,
        object=f"DfE payloads of {code} as of {as_of.isoformat()}",
        detail=f"SSD extract {extract.id} of {extract.run_date.isoformat()}; {len(body['items'])} children given",
    )
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
