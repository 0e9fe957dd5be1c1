"""The CIN census and SSDA903 made from a council's SSD extract (the extract is received by ``api.uploading``).

``POST /api/submissions`` with ``collection_year`` and one ZIP of ``ssd_<table>.csv`` tables: the extract is
checked at once (422 with every problem by table, row and column; nothing kept), the year's two files are made
from it and each goes on as a record-level upload of the council's own (202, DfE's rules in the background).
``GET /api/agencies/{code}/record-files/{year}/cin_census.xml`` and ``.../ssda903.zip`` give the files made, for
the council's approver alone; every call is audited. The extract itself is never kept; DfE's children's social care
payloads built from it are, sealed (``collectors/ssd/payload_store.py``, ``api/routes/csc_api.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from api.auth import FUNCTION, require
from api.callrecord import annotate
from api.deps import SessionDep
from api.principal import Principal
from api.scopes import read_scope
from collectors.records.contract import read_collection_year
from collectors.records.kept import kept_files
from collectors.records.privacy import checked_keys
from collectors.ssd.service import CIN_FILE, SSDA903_FILE
from indicators.models import RECORDS_KIND, Submission
from mappings.agencies import get_agency
from mappings.keys import APPROVER_SCOPE
from onereturn.errors import Forbidden, NotFound
from onereturn.workspace import private_folder

router = APIRouter(prefix="/api", tags=["collection"])
#: Children's records: the council's own approver key only, never an officer's or a regulator's.
FilesRead = Annotated[
    Principal,
    Depends(
        require({"submissions:read"}, {"agency"}, reads="submissions", needs="the council's approver key"),
        scope=FUNCTION,
    ),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the council's approver key (officers and regulators never see a child)"},
    404: {"description": "No such agency (or not yours), or no file made from an SSD extract for the year"},
}
#: Each file the routes give: the name it is kept under and its media type.
FILES = {"cin_census.xml": (CIN_FILE, "application/xml"), "ssda903.zip": (SSDA903_FILE, "application/zip")}


def _latest(session: Session, code: str, year: str, kept_as: str) -> Submission:
    found = session.exec(
        select(Submission)
        .where(
            col(Submission.agency_code) == code,
            col(Submission.kind) == RECORDS_KIND,
            col(Submission.collection_year) == year,
            col(Submission.filename) == kept_as,
            col(Submission.purged_at).is_(None),
        )
        .order_by(col(Submission.id).desc())
    ).first()
    if found is None:
        raise NotFound(f"{code} has no {kept_as} made from an SSD extract for {year}")
    return found


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
    year = read_collection_year(collection_year)
    if file not in FILES:
        raise NotFound(f"the files made from an SSD extract are {' and '.join(FILES)}, not {file[:40]!r}")
    read_scope(principal).check_agency(code)
    get_agency(session, code)
    if APPROVER_SCOPE not in principal.scopes:
        raise Forbidden(
            "The files made from the SSD extract are children's records: they need the council's approver key (the "
            f"officer issues one with `onereturn keys create --role agency --agency {code} --approver`)"
        )
    kept_as, media = FILES[file]
    sub = _latest(session, code, year, kept_as)
    engine, settings = request.app.state.engine, request.app.state.settings
    # Refused before anything is read where this host's records keys are not the deployment's.
    checked_keys(engine, settings)
    with private_folder(settings, "ssd-") as work:
        ((_, path),) = kept_files(engine, settings, sub, Path(work))
        data = path.read_bytes()
    annotate(request, object=f"{file} of {code} for {year}", detail=f"made from the SSD extract; submission {sub.id}")
    return Response(
        data,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{code}-{year}-{file}"',
            "Cache-Control": "no-store",
            "X-Submission": str(sub.id),
        },
    )
