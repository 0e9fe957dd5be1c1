"""The officer's administration: agencies as data, API keys, and the audit trail."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from pydantic import AwareDatetime, BaseModel

from api.auth import OfficerOnly
from api.callrecord import annotate, flush_batched
from api.deps import SessionDep
from api.paging import Limit, Offset, Page, page, page_of
from api.params import IsoDatetime
from indicators.periods import utc
from mappings import access, registry
from mappings.access import AgencyImport, AgencyRecord, KeyCreate, KeyIssued, KeyPublic
from mappings.council_ssd import CouncilSsd
from onereturn import audittrail
from onereturn.errors import InvalidInput, PayloadTooLarge

router = APIRouter(prefix="/api", tags=["administration"])
#: A key's visible prefix, or its start: at most the 16 characters stored (a longer one names no key).
KeyPrefix = Annotated[str, Path(min_length=1, max_length=16, description="A key's visible prefix (or its start)")]
OFFICER_ONLY: dict[int | str, dict[str, Any]] = {
    401: {"description": "No key, or a key not known or revoked"},
    403: {"description": "Not an officer's key"},
    429: {"description": "Too many failed keys from this address; see Retry-After"},
}
#: The largest agency spreadsheet accepted (a national list is a few hundred kilobytes).
MAX_AGENCY_FILE = 5 * 1024 * 1024


def _read_year_mapped(ssd: CouncilSsd | None) -> None:
    """Refuse a council's scheduled SSD read of a collection year the service ships no SSD mapping for."""
    if ssd is not None and ssd.read is not None and ssd.read.year is not None:
        from collectors.ssd.database import mapped_year

        try:
            mapped_year(ssd.read.year)
        except InvalidInput as exc:
            raise InvalidInput(
                f"ssd.read.year: {exc}",
                errors=[
                    {"type": "value_error", "loc": ["body", "ssd", "read", "year"], "msg": str(exc), "input": None}
                ],
            ) from None


@router.post(
    "/agencies",
    summary="Add an agency",
    status_code=201,
    response_model=AgencyRecord,
    responses={**OFFICER_ONLY, 409: {"description": "The code is in use"}, 422: {"description": "Not valid"}},
)
def create_agency(
    request: Request, body: registry.AgencyInput, session: SessionDep, principal: OfficerOnly
) -> AgencyRecord:
    """Add one agency, with the checks of the agency files (known body type, org units and returns; one source per figure)."""
    annotate(request, object=f"agency {body.code}")
    _read_year_mapped(body.ssd)
    return registry.create_agency(session, body, source=f"api: {principal.name}")


@router.patch(
    "/agencies/{code}",
    summary="Change an agency",
    response_model=AgencyRecord,
    responses={**OFFICER_ONLY, 404: {"description": "Unknown agency"}, 422: {"description": "Not valid"}},
)
def update_agency(
    request: Request, code: str, body: registry.AgencyChange, session: SessionDep, principal: OfficerOnly
) -> AgencyRecord:
    """Change the fields given of an imported or added agency; its links are rebuilt and checked again."""
    annotate(request, object=f"agency {code}")
    _read_year_mapped(body.ssd)
    return registry.update_agency(session, code, body, source=f"api: {principal.name}")


@router.post(
    "/agencies/import",
    summary="Import agencies from a spreadsheet",
    response_model=AgencyImport,
    responses={**OFFICER_ONLY, 413: {"description": "Too large"}, 422: {"description": "Problems by row and column"}},
)
def import_agencies(
    request: Request,
    session: SessionDep,
    principal: OfficerOnly,
    file: Annotated[UploadFile, File(description="CSV or XLSX: code, name, body_type, email, orgs, returns")],
    dry_run: Annotated[bool, Query(description="Check only; store nothing")] = False,
) -> AgencyImport:
    """Import every agency of a CSV or XLSX file, or none if any row is wrong (each problem by row and column)."""
    data = file.file.read(MAX_AGENCY_FILE + 1)
    if len(data) > MAX_AGENCY_FILE:
        raise PayloadTooLarge(f"An agency file is at most {MAX_AGENCY_FILE:,} bytes")
    name = file.filename or "agencies.csv"
    result = registry.import_agencies(
        session, data, name, source=f"import: {name} by {principal.name}", dry_run=dry_run
    )
    annotate(
        request,
        object=f"file {name}",
        detail=f"{len(result.created)} created, {len(result.updated)} updated, {len(result.unchanged)} unchanged",
    )
    return AgencyImport(**result.__dict__)


@router.get("/keys", summary="List API keys", response_model=Page[KeyPublic], responses=OFFICER_ONLY)
def list_keys(
    request: Request,
    session: SessionDep,
    _principal: OfficerOnly,
    revoked: Annotated[bool, Query(description="Include revoked keys")] = True,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[KeyPublic]:
    """List every key by its visible prefix: role, scope, label, created, last used, revoked (never the key)."""
    return page_of(request, access.listed_keys(session, revoked=revoked), limit=limit, offset=offset)


@router.post(
    "/keys",
    summary="Issue an API key",
    status_code=201,
    response_model=KeyIssued,
    responses={**OFFICER_ONLY, 422: {"description": "Not valid"}},
)
def create_key(request: Request, body: KeyCreate, session: SessionDep, principal: OfficerOnly) -> KeyIssued:
    """Issue a key for an officer, an agency or a regulator; the key is in this answer only, never again."""
    issued = access.issue_key(session, body, created_by=principal.name)
    annotate(request, object=access.key_words(issued))
    return issued


@router.post(
    "/keys/{prefix}/revoke",
    summary="Revoke an API key",
    response_model=KeyPublic,
    responses={**OFFICER_ONLY, 404: {"description": "No such key"}, 409: {"description": "Already revoked"}},
)
def revoke_key(request: Request, prefix: KeyPrefix, session: SessionDep, _principal: OfficerOnly) -> KeyPublic:
    """Revoke a key by its prefix; it stops working at once."""
    revoked = access.revoke_key(session, prefix)
    annotate(request, object=f"key {revoked.prefix}")
    return revoked


@router.post(
    "/keys/{prefix}/rotate",
    summary="Rotate an API key",
    status_code=201,
    response_model=KeyIssued,
    responses={**OFFICER_ONLY, 404: {"description": "No such key"}, 409: {"description": "Revoked"}},
)
def rotate_key(request: Request, prefix: KeyPrefix, session: SessionDep, principal: OfficerOnly) -> KeyIssued:
    """Issue a new key like the old one and revoke the old one; the new key is in this answer only."""
    old, issued = access.rotate_key(session, prefix, created_by=principal.name)
    annotate(request, object=f"key {old} -> {issued.prefix}")
    return issued


class AuditEventPublic(BaseModel):
    """One recorded action."""

    id: int
    at: AwareDatetime
    principal: str
    role: str | None
    key_prefix: str | None
    action: str
    object: str
    client: str
    outcome: str
    status: int | None
    detail: str


@router.get("/audit", summary="The audit trail", response_model=Page[AuditEventPublic], responses=OFFICER_ONLY)
def read_audit(
    request: Request,
    session: SessionDep,
    _principal: OfficerOnly,
    principal: Annotated[str | None, Query(max_length=200, description="Text in the principal's name")] = None,
    key: Annotated[str | None, Query(max_length=16, description="A key's visible prefix (or its start)")] = None,
    action: Annotated[
        str | None, Query(max_length=64, description="An action (key.revoke) or a family of them (key)")
    ] = None,
    since: Annotated[IsoDatetime | None, Query(description="From this time (ISO 8601)")] = None,
    until: Annotated[IsoDatetime | None, Query(description="Before this time (ISO 8601)")] = None,
    outcome: Annotated[Literal["ok", "refused", "rejected", "not_found", "error"] | None, Query()] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[AuditEventPublic]:
    """Who uploaded or pulled what, when, from where, and how it ended (refusals included), newest first."""
    flush_batched(request)
    where = audittrail.AuditFilter(
        principal=principal, key_prefix=key, action=action, since=since, until=until, outcome=outcome
    )
    rows, total = audittrail.events(session, where, limit=limit, offset=offset)
    # SQLite hands back times without their zone; every time stored is UTC.
    items = [AuditEventPublic.model_validate(r.model_dump() | {"at": utc(r.at)}) for r in rows]
    return page(request, items, total=total, limit=limit, offset=offset)
