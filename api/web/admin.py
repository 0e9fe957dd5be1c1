"""The officer's pages for agencies and keys: the services the API's administration calls, behind the same checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.callrecord import annotate
from api.deps import SessionDep
from api.paging import Page, page_of
from api.scopes import read_scope
from api.web.render import page
from api.web.shared import OFFICER_ONLY, PageRoute, VisitorDep, allowed, check_csrf
from collectors import answers
from collectors.schemas import AgencyPublic
from mappings import access, keys
from mappings.access import KeyCreate
from onereturn.errors import InvalidInput

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/agencies")
def list_agencies(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """Every agency, what it answers for and where its definition came from."""
    allowed(visitor, OFFICER_ONLY)
    listing = _agencies(request, session, visitor)
    return page(request, "officer/agencies.html", visitor, title="Agencies", listing=listing)


def _agencies(request: Request, session: SessionDep, visitor: VisitorDep) -> Page[AgencyPublic]:
    """Every agency the visitor's key may see, as the API's first page of them lists them."""
    return page_of(request, answers.agencies(session, read_scope(visitor.principal).agency), limit=1000, offset=0)


def _keys_page(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    *,
    issued: Any = None,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    listing = page_of(request, access.listed_keys(session, revoked=True), limit=1000, offset=0)
    agencies = _agencies(request, session, visitor)
    return page(
        request,
        "officer/keys.html",
        visitor,
        title="Error: Keys" if errors else "Keys",
        listing=listing,
        issued=issued,
        errors=errors or {},
        form=form or {},
        agencies=agencies,
        recipients=keys.recipients(session),
        status_code=status_code,
    )


@router.get("/keys")
def list_keys(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """Every key by its visible prefix, with forms to issue, rotate and revoke."""
    allowed(visitor, OFFICER_ONLY)
    return _keys_page(request, session, visitor)


@router.post("/keys")
def create_key(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    role: Annotated[str, Form()] = "",
    label: Annotated[str, Form()] = "",
    agency: Annotated[str, Form()] = "",
    recipient: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Issue a key; it is shown on this page once and never again."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, OFFICER_ONLY)
    form = {"role": role, "label": label, "agency": agency, "recipient": recipient}
    try:
        body = KeyCreate(role=role, label=label, agency=agency or None, recipient=recipient or None)
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e["loc"] else "role": _plain(e) for e in exc.errors()}
        return _keys_page(request, session, visitor, errors=errors, form=form, status_code=400)
    try:
        issued = access.issue_key(session, body, created_by=visitor.principal.name)
        annotate(request, object=access.key_words(issued))
    except InvalidInput as exc:
        field = "agency" if role == "agency" else "recipient" if role == "regulator" else "role"
        return _keys_page(request, session, visitor, errors={field: exc.message}, form=form, status_code=400)
    return _keys_page(request, session, visitor, issued=issued)


def _plain(error: Any) -> str:
    field = str(error["loc"][0]) if error["loc"] else "role"
    return {"role": "Choose who the key is for", "label": "Say who holds the key"}.get(field, str(error["msg"]))


@router.post("/keys/{prefix}/revoke")
def revoke_key(
    request: Request, session: SessionDep, visitor: VisitorDep, prefix: str, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Revoke a key: it stops working at once, on the API and in the pages."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, OFFICER_ONLY)
    revoked = access.revoke_key(session, prefix)
    annotate(request, object=f"key {revoked.prefix}")
    return RedirectResponse("/keys", status_code=303)


@router.post("/keys/{prefix}/rotate")
def rotate_key(
    request: Request, session: SessionDep, visitor: VisitorDep, prefix: str, csrf_token: Annotated[str, Form()] = ""
) -> HTMLResponse:
    """Issue a new key like the old one and revoke the old one; the new key is shown once."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, OFFICER_ONLY)
    old, issued = access.rotate_key(session, prefix, created_by=visitor.principal.name)
    annotate(request, object=f"key {old} -> {issued.prefix}")
    return _keys_page(request, session, visitor, issued=issued)
