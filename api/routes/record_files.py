"""A council's SSD extract through the record-level upload, and the CIN census and SSDA903 made from it.

``POST /api/submissions`` with ``collection_year`` and one ZIP of ``ssd_<table>.csv`` tables: the extract is
checked at once (422 with every problem by table, row and column; nothing kept), the year's two files are made
from it and each goes on as a record-level upload of the council's own (202, DfE's rules in the background).
``GET /api/agencies/{code}/record-files/{year}/cin_census.xml`` and ``.../ssda903.zip`` give the files made, for
the council's approver alone; every call is audited. The extract itself is never kept.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session, col, select

from api.auth import FUNCTION, require
from api.callrecord import annotate, stored_event, stored_with_change
from api.deps import SessionDep
from api.principal import Principal
from api.scopes import read_scope
from api.uploadpool import UploadPool
from collectors.records import service as records
from collectors.records.contract import read_collection_year
from collectors.records.kept import kept_files
from collectors.records.privacy import checked_keys
from collectors.ssd.intake import is_extract
from collectors.ssd.service import CIN_FILE, SSDA903_FILE, Made, make_returns
from collectors.ways_in import waiting_way_in
from indicators.models import RECORDS_KIND, Submission
from mappings.agencies import get_agency
from mappings.compare import dfe_la_number
from mappings.illustrative import councils_of
from mappings.keys import APPROVER_SCOPE
from onereturn.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge
from onereturn.settings import Settings

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


def _made(engine: Any, settings: Settings, agency_code: str, year: str, name: str, path: Path) -> Made:
    """The extract checked and the year's files made, for the council the agency answers for."""
    with Session(engine) as session:
        councils = councils_of(session, agency_code)
    if len(councils) != 1:
        raise InvalidInput(f"an SSD extract is a council's: agency {agency_code} answers for {len(councils)} councils")
    lea = dfe_la_number(councils[0].rules_as)
    if lea is None:
        raise InvalidInput(f"{councils[0].rules_as} has no DfE council number, which the CIN census's header needs")
    return make_returns(path, name, year, lea, max_unpacked=settings.max_upload_bytes)


async def ssd_upload(
    request: Request,
    background: BackgroundTasks,
    principal: Principal,
    agency_code: str,
    collection_year: str,
    uploads: list[tuple[str, Path]],
    purpose: str,
) -> JSONResponse | None:
    """Check an SSD extract, make the year's files from it and receive each as a record-level upload (202); None
    when the upload is not one ZIP of SSD tables (it is DfE's own files)."""
    if len(uploads) != 1 or not is_extract(uploads[0][1]):
        return None
    if purpose != "return":
        raise InvalidInput(
            "an SSD extract makes the year's DfE returns: leave out purpose (Annex A from it is not built)"
        )
    engine, settings = request.app.state.engine, request.app.state.settings
    ((name, path),) = uploads
    made = await anyio.to_thread.run_sync(lambda: _made(engine, settings, agency_code, collection_year, name, path))
    # Every file is held to the upload limit before any is received, so none is kept when another cannot be.
    for file_name, data in made.files:
        if len(data) > settings.max_upload_bytes:
            raise PayloadTooLarge(f"the {file_name} made from {name} is {len(data):,} bytes, over the upload limit of "
                                  f"{settings.max_upload_bytes:,}; nothing was kept")  # fmt: skip
    answers = []
    with tempfile.TemporaryDirectory(prefix="onereturn-ssd-") as work:
        for file_name, data in made.files:
            target = Path(work) / file_name
            target.write_bytes(data)
            audit = stored_event(
                request, principal, f"submission {{id}} (agency {agency_code}, {file_name} from {name})"
            )
            receiving = functools.partial(
                records.receive, engine, settings, agency_code=agency_code, collection_year=collection_year,
                files=[(file_name, target)], submitted_by=principal.label, audit=audit,
            )  # fmt: skip
            received = await anyio.to_thread.run_sync(receiving)
            answers.append(_started(request, background, received))
    stored_with_change(request)
    annotate(
        request,
        object=f"SSD extract {name} (agency {agency_code})",
        status=202,
        detail=f"checked ({made.rows:,} rows); made {', '.join(f for f, _ in made.files)} for {collection_year}",
    )
    body = {"extract": {"file": name, "rows": made.rows, "notes": made.notes}, "submissions": answers}
    return JSONResponse(body, status_code=202)


def _started(request: Request, background: BackgroundTasks, received: records.Received) -> dict[str, Any]:
    sub = received.submission
    assert sub.id is not None
    if not received.duplicate:
        pool: UploadPool | None = getattr(request.app.state, "upload_pool", None)
        if pool is not None:
            pool.start_records(sub.id)
        else:
            take_up = waiting_way_in(RECORDS_KIND).take_up
            background.add_task(take_up, request.app.state.engine, request.app.state.settings, sub.id)
    return {
        "id": sub.id,
        "filename": sub.filename,
        "status": sub.status,
        "duplicate": received.duplicate,
        "location": f"/api/submissions/{sub.id}",
    }


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
    with tempfile.TemporaryDirectory(prefix="onereturn-ssd-") as work:
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
