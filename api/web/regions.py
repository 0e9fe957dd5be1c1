"""A council's consent to its regions, on a page: each region it is a member of, what each use case holds and for
how long, what it consents to now, and (for its approver) the form to change or withdraw it. The page gives and
withdraws through the same acts as the API's routes (``api/access/region.py``), audited the same way."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.access import region as region_access
from api.deps import SessionDep
from api.web.render import Visitor, page
from api.web.shared import PageRoute, Rule, VisitorDep, allowed, check_csrf
from mappings.keys import APPROVER_SCOPE
from mappings.regions import consent
from mappings.regions.policy import use_cases
from onereturn.errors import InvalidInput

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: A council's own key reads its consent; the page's forms need its approver's (the API's routes' rule).
CONSENT: Rule = (set(), {"agency"}, None)


def _render(
    request: Request,
    session: SessionDep,
    visitor: Visitor,
    *,
    errors: list[dict[str, str]] | None = None,
    status: int = 200,
) -> HTMLResponse:
    code = visitor.principal.agency_code or ""
    regions: list[dict[str, Any]] = []
    member = consent.regions_of(session, code)
    for region in member:
        agency = consent.region_agency(session, region)
        held = consent.consent_of(session, code, region)
        changes = region_access.history(session, visitor.principal, code, region)
        regions.append({"code": region, "name": agency.name, "consent": held, "history": changes})
    # A region the council has left: its consent ended with its membership, and what it gave stays for it to read.
    former = [
        {
            "code": region,
            "name": consent.region_agency(session, region).name,
            "history": region_access.history(session, visitor.principal, code, region),
        }
        for region in consent.consented_regions(session, code)
        if region not in member
    ]
    return page(
        request,
        "agency/consent.html",
        visitor,
        title="Your consent to your regions",
        regions=regions,
        former=former,
        use_cases=list(use_cases().values()),
        approver=APPROVER_SCOPE in visitor.principal.scopes,
        saved=request.query_params.get("saved"),
        errors=errors or [],
        status_code=status,
    )


@router.get("/consent")
def consent_page(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """Each region the council is a member of, what each use case holds and what it consents to now."""
    allowed(visitor, CONSENT)
    return _render(request, session, visitor)


@router.post("/consent/{region}", name="consent_give")
def post_consent(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    region: str,
    csrf_token: Annotated[str, Form()] = "",
    use_cases_given: Annotated[list[str] | None, Form(alias="use_cases")] = None,
) -> Response:
    """Set the use cases the council consents to for the region (its approver; a box left clear is withdrawn)."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, CONSENT)
    code = visitor.principal.agency_code or ""
    try:
        region_access.give(request, session, visitor.principal, code, region, use_cases_given or [])
    except InvalidInput as exc:
        session.rollback()
        request.state.page_error = exc
        return _render(
            request, session, visitor, errors=[{"href": f"#region-{region}", "text": exc.message}], status=400
        )
    return RedirectResponse(f"/consent?saved={region}", status_code=303)


@router.post("/consent/{region}/withdraw", name="consent_withdraw")
def post_withdraw(
    request: Request, session: SessionDep, visitor: VisitorDep, region: str, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Withdraw every use case of the council's consent to the region (its approver)."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, CONSENT)
    region_access.withdraw(request, session, visitor.principal, visitor.principal.agency_code or "", region)
    return RedirectResponse(f"/consent?saved={region}", status_code=303)
