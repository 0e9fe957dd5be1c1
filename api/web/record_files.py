"""The council approver's pages of what its SSD extract made: the CIN census and SSDA903 files (each one's state,
counts and download, once DfE's rules passed it) and DfE's payloads (the children, and the changes since the extract
before). The same checks and reads as the API's routes (``api/access/records.py``); every view is audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.access.records import FILES, council_approver, made_file, made_years, newest_made, state_of
from api.callrecord import annotate
from api.deps import SessionDep
from api.downloads import attachment
from api.web.records import RECORDS, RUNNING
from api.web.render import page
from api.web.shared import PageRoute, VisitorDep, allowed
from collectors.records.privacy import checked_keys
from collectors.ssd import payload_store

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: Children shown on one page of the payloads' changes.
PER_PAGE = 100
#: The states a sender acts on, as the API's ``changed=true`` keeps them.
CHANGED = (payload_store.NEW, payload_store.UPDATED, payload_store.DELETED)


@router.get("/record-files")
def record_files_page(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """Each file made from the council's SSD extracts, newest per year: its state, counts and download."""
    allowed(visitor, RECORDS)
    code = visitor.principal.agency_code
    assert code is not None
    council_approver(session, visitor.principal, code, "The files made from an SSD extract")
    files: list[dict[str, Any]] = []
    for year in made_years(session, code):
        for file, (kept_as, _) in FILES.items():
            sub = newest_made(session, code, year, kept_as)
            if sub is not None:
                files.append(
                    {
                        "year": year,
                        "file": file,
                        "sub": sub,
                        "state": state_of(sub, file, year),
                        "running": sub.stage in RUNNING,
                    }
                )
    annotate(request, object=f"record files of {code}", detail=f"{len(files)} file(s) made from SSD extracts listed")
    return page(
        request,
        "agency/record_files.html",
        visitor,
        title="Files made from your SSD extract",
        files=files,
        running=any(f["running"] for f in files),
        payloads=payload_store.latest(session, code),
    )


@router.get("/record-files/{collection_year}/{file}")
def record_file_download(
    request: Request, session: SessionDep, visitor: VisitorDep, collection_year: str, file: str
) -> Response:
    """The file last made for the year, to send DfE, as the API gives it (its approver only; audited)."""
    allowed(visitor, RECORDS)
    code = visitor.principal.agency_code
    assert code is not None
    engine, settings = request.app.state.engine, request.app.state.settings
    made = made_file(engine, settings, session, visitor.principal, code, collection_year, file)
    annotate(request, object=f"{file} of {code} for {made.year}", detail=f"submission {made.submission.id}")
    return attachment(made.data, made.media_type, f"{code}-{made.year}-{file}", **{"Cache-Control": "no-store"})


@router.get("/csc-api")
def payloads_page(request: Request, session: SessionDep, visitor: VisitorDep, offset: int = 0) -> HTMLResponse:
    """DfE's payloads from the council's newest SSD extract: how many children, and those changed since the one
    before (new, updated, deleted) by the council's own id, as a sender would send them."""
    allowed(visitor, RECORDS)
    code = visitor.principal.agency_code
    assert code is not None
    council_approver(session, visitor.principal, code, "DfE's payloads")
    extract = payload_store.latest(session, code)
    changed: list[dict[str, Any]] = []
    if extract is not None:
        engine, settings = request.app.state.engine, request.app.state.settings
        # Refused before anything is read where this host's records keys are not the deployment's.
        checked_keys(engine, settings)
        children = payload_store.read_children(engine, settings, extract)
        changed = [{"id": c["la_child_id"], "state": c["row_state"]} for c in children if c["row_state"] in CHANGED]
    offset = max(offset, 0)
    annotate(
        request,
        object=f"DfE payloads of {code}",
        detail="no SSD extract" if extract is None else f"SSD extract {extract.id}; {len(changed)} children changed",
    )
    return page(
        request,
        "agency/payloads.html",
        visitor,
        title="DfE's payloads from your SSD extract",
        extract=extract,
        changed=changed[offset : offset + PER_PAGE],
        total=len(changed),
        offset=offset,
        per_page=PER_PAGE,
    )
