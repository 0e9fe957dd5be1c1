"""The approver's sign-off page: what signing off an agency's return for a period releases, and the declaration.

The page calls the API's own review and sign-off routes with the signed-in key's principal, so it shows
and does exactly what the API would for that key.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api import signing
from api.deps import SessionDep
from api.params import PeriodText
from api.web.render import Visitor, page
from api.web.shared import SIGN_OFF, SIGNOFF_READ, PageRoute, VisitorDep, allowed, check_csrf, signoff_changes
from mappings.models import Agency, Return
from mappings.signoff.schemas import Declaration
from mappings.signoff.states import OPEN, SIGNED, WITHDRAWABLE
from onereturn.errors import Conflict, Forbidden, InvalidInput, NotFound

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _agency(visitor: Visitor) -> str:
    code = visitor.principal.agency_code
    if code is None:
        raise NotFound("Only an agency signs off its own figures")
    return code


def _may_sign(visitor: Visitor) -> bool:
    try:
        allowed(visitor, SIGN_OFF)
    except Forbidden:
        return False
    return True


def _fix_link(blocker: dict[str, Any]) -> str:
    """Where the agency fixes what stands in the way: the upload's report, at its queries for a query."""
    if blocker.get("type") == "changed":
        return "#cells"  # the figures changed since the page was read: the page now shows them as they are
    loc = blocker.get("loc") or []
    if len(loc) >= 2 and loc[0] == "submission":
        return f"/submissions/{int(loc[1])}" + ("#queries" if blocker.get("type") == "query" else "")
    return "/upload"


def _render(
    request: Request,
    session: SessionDep,
    visitor: Visitor,
    return_id: str,
    period: str,
    *,
    errors: list[dict[str, str]] | None = None,
    signed: bool = False,
    withdrawn: bool = False,
    error_title: str = "You cannot sign off yet",
    status_code: int = 200,
) -> HTMLResponse:
    code = _agency(visitor)
    found = signing.review_of(request, session, visitor.principal, code, return_id, period)
    ret = session.get(Return, return_id)
    assert ret is not None  # the review refuses an unknown return
    agency = session.get(Agency, code)
    blockers = [{**b, "href": _fix_link(b)} for b in found.blockers]
    state = found.signoff.state
    title = f"Sign off {ret.title} for {found.signoff.period}"
    return page(
        request,
        "agency/signoff.html",
        visitor,
        title=("Error: " if errors else "") + title,
        status_code=status_code,
        review=found,
        ret=ret,
        agency_name=agency.name if agency is not None else code,
        blockers=blockers,
        may_sign=_may_sign(visitor),
        signable=found.signable,
        errors=errors or [],
        signed=signed and state in SIGNED,
        error_title=error_title,
        withdrawn=withdrawn and state == OPEN,
        withdrawable=state in WITHDRAWABLE,
        changes=signoff_changes(session, found.changed_since_signoff),
        action=f"/signoffs/{quote(return_id, safe='')}/{quote(found.signoff.period, safe='')}",
    )


@router.get("/signoffs/{return_id}/{period}", name="signoff_review")
def signoff_page(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    return_id: str,
    period: PeriodText,
    signed: bool = False,
    withdrawn: bool = False,
) -> HTMLResponse:
    """What signing off the agency's return for a period releases, what stands in the way, and the declaration."""
    allowed(visitor, SIGNOFF_READ)
    return _render(request, session, visitor, return_id, period, signed=signed, withdrawn=withdrawn)


@router.post("/signoffs/{return_id}/{period}", name="signoff_sign_off")
def post_sign_off(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    return_id: str,
    period: PeriodText,
    declaration: Annotated[str, Form()] = "",
    digest: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Sign off with the declaration confirmed (the API's sign-off); show why not when something stands in the way."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, SIGNOFF_READ)
    code = _agency(visitor)
    if confirm != "yes":
        errors = [{"href": "#confirm", "text": "Tick the box to confirm the declaration, then sign off"}]
        return _render(request, session, visitor, return_id, period, errors=errors, status_code=400)
    # A key that may not sign is told so whatever the form carried, as the API tells it.
    signing.check_approver(visitor.principal, code)
    try:
        body = Declaration(declaration=declaration, digest=digest)
        row = signing.sign_off_as(request, session, visitor.principal, code, return_id, period, body)
    except ValidationError:
        errors = [
            {
                "href": "#confirm",
                "text": "The declaration or the digest of the figures you read was not sent with the "
                "form; refresh the page",
            }
        ]
        return _render(request, session, visitor, return_id, period, errors=errors, status_code=400)
    except (Conflict, InvalidInput) as exc:
        # A refused sign-off leaves nothing of itself behind (not even the open row it found or made).
        session.rollback()
        request.state.page_error = exc
        reasons = [{"href": _fix_link(e), "text": str(e["msg"])} for e in exc.errors] or [
            {"href": "#confirm", "text": exc.message}
        ]
        status = 409 if isinstance(exc, Conflict) else 400
        return _render(request, session, visitor, return_id, period, errors=reasons, status_code=status)
    target = f"/signoffs/{quote(return_id, safe='')}/{quote(row.period, safe='')}?signed=true"
    return RedirectResponse(target, status_code=303)


@router.post("/signoffs/{return_id}/{period}/withdraw", name="signoff_unapprove")
def post_withdraw(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    return_id: str,
    period: PeriodText,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Withdraw the agency's sign-off before the officer accepts it (the API's unapprove): its figures are held back."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, SIGNOFF_READ)
    code = _agency(visitor)
    try:
        row = signing.withdraw(request, session, visitor.principal, code, return_id, period)
    except Conflict as exc:
        session.rollback()
        request.state.page_error = exc
        errors = [{"href": "#state", "text": exc.message}]
        return _render(
            request,
            session,
            visitor,
            return_id,
            period,
            errors=errors,
            status_code=409,
            error_title="The sign-off cannot be withdrawn",
        )
    target = f"/signoffs/{quote(return_id, safe='')}/{quote(row.period, safe='')}?withdrawn=true"
    return RedirectResponse(target, status_code=303)
