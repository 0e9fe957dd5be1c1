"""The performance officer's approvals: every agency's sign-off by return and period, and one sign-off's review.

The pages call the API's own sign-off routes (review, accept, send back) with the signed-in key's principal
and are named after them, so they show and do exactly what the API would for that key and are audited under
the same actions; the queue, what is in the way and the counts are the sign-off's own queries
(``exports.signoff.queries``), asked with the key's read scope as the API's list asks them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api import signing
from api.deps import SessionDep
from api.params import PeriodText
from api.scopes import read_scope
from api.web.render import Visitor, page
from api.web.shared import (
    APPROVALS,
    SIGNOFF_REVIEW,
    PageRoute,
    VisitorDep,
    allowed,
    check_csrf,
    collecting,
    signoff_changes,
)
from exports.signoff import queries
from exports.signoff.queries import Waiting
from mappings.agencies import agency_names
from mappings.models import Return
from mappings.signoff.schemas import REASON_MAX, Reason
from mappings.signoff.states import (
    ACCEPTABLE,
    ACCEPTED,
    OPEN,
    REOPENED,
    RETURNABLE,
    RETURNED,
    SIGNABLE,
    SIGNED_OFF,
    STATES,
)
from onereturn.errors import Conflict, InvalidInput, NotFound, OneReturnError

router = APIRouter(route_class=PageRoute, include_in_schema=False)

QUEUE = "/officer/approvals"
#: How the pages name each state (the API's names, in words).
STATE_NAMES = {
    OPEN: "Open",
    SIGNED_OFF: "Signed off",
    ACCEPTED: "Accepted",
    REOPENED: "Reopened",
    RETURNED: "Returned",
}


def detail_path(agency: str, return_id: str, period: str) -> str:
    """The officer's page of one agency's sign-off of a return for a period."""
    return f"{QUEUE}/{quote(agency, safe='')}/{quote(return_id, safe='')}/{quote(period, safe='')}"


def queue_of(
    session: Session, visitor: Visitor, filters: queries.Filters, *, now: dict[str, dict[str, Any]]
) -> list[Waiting]:
    """The approvals queue as the visitor's key may see it (``exports.signoff.queries.approvals_queue``)."""
    return queries.approvals_queue(
        session,
        read_scope(visitor.principal),
        filters,
        full=visitor.principal.kind != "regulator",
        now=now,
    )


def _filter_error(session: Session, exc: OneReturnError, chosen: dict[str, str]) -> dict[str, str]:
    """The refused filter as an error summary's entry, linked to its field."""
    if chosen["return"] and session.get(Return, chosen["return"]) is None:
        href = "#return"
    elif chosen["state"] and chosen["state"] not in STATES and chosen["state"] in exc.message:
        href = "#state"
    else:
        href = "#period"  # a period not of the return's kind, or one it is not collected for
    return {"href": href, "text": exc.message}


@router.get(QUEUE, name="list_signoffs")
def approvals_page(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    return_id: Annotated[str, Query(alias="return")] = "",
    period: PeriodText = "",
    state: str = "",
) -> HTMLResponse:
    """Every agency's sign-off by return and period, with its state, who signed and what is in the way; filtered."""
    allowed(visitor, APPROVALS)
    chosen = {"return": return_id.strip(), "period": period.strip(), "state": state.strip()}
    errors: list[dict[str, str]] = []
    status = 200
    rows: list[Waiting] = []
    now = collecting(session, visitor, datetime.now(UTC).date())
    try:
        filters = queries.Filters(chosen["return"] or None, chosen["period"] or None, chosen["state"] or None)
        rows = queue_of(session, visitor, filters, now=now)
    except (InvalidInput, NotFound) as exc:
        request.state.page_error = exc
        errors = [_filter_error(session, exc, chosen)]
        status = 404 if isinstance(exc, NotFound) else 400
    returns = queries.returns_by_title(session)
    periods = queries.periods_known(session, now, rows)
    groups: dict[str, list[Waiting]] = {}
    for w in rows:
        groups.setdefault(w.return_id, []).append(w)
    filtered = any(chosen.values())
    return page(
        request,
        "officer/approvals.html",
        visitor,
        title=("Error: " if errors else "") + "Approvals",
        status_code=status,
        rows=rows,
        groups=groups,
        returns={r.id: r for r in returns},
        periods=periods,
        chosen=chosen,
        counts=queries.tally(rows),
        errors=errors,
        state_names=STATE_NAMES,
        filtered=filtered,
        href=detail_path,
    )


#: The confirmation after each action, and the state it leads to.
DONE = {"accepted": ACCEPTED, "returned": RETURNED}


def _render(
    request: Request,
    session: SessionDep,
    visitor: Visitor,
    agency: str,
    return_id: str,
    period: str,
    *,
    done: str = "",
    errors: list[dict[str, str]] | None = None,
    reason: str = "",
    status_code: int = 200,
) -> Response:
    found = signing.review_of(request, session, visitor.principal, agency, return_id, period)
    if visitor.principal.kind == "agency":
        # Its own sign-off (another agency's was answered as unknown above): the agency reads it on its own page.
        return RedirectResponse(
            f"/signoffs/{quote(return_id, safe='')}/{quote(found.signoff.period, safe='')}", status_code=303
        )
    ret = session.get(Return, return_id)
    assert ret is not None  # the review refuses an unknown return
    so = found.signoff
    names = agency_names(session)
    title = f"{names.get(agency, agency)}: {ret.title}, {so.period}"
    return page(
        request,
        "officer/approval.html",
        visitor,
        title=("Error: " if errors else "") + title,
        status_code=status_code,
        current=QUEUE,
        review=found,
        so=so,
        ret=ret,
        agency_name=names.get(agency, agency),
        state_names=STATE_NAMES,
        errors=errors or [],
        reason=reason,
        reason_max=REASON_MAX,
        changes=signoff_changes(session, found.changed_since_signoff),
        done=done if DONE.get(done) == so.state else "",
        action=detail_path(agency, return_id, so.period),
        may_accept=ret.needs_acceptance and so.state in ACCEPTABLE,
        may_send_back=so.state in RETURNABLE,
        signable_states=SIGNABLE,
        unchanged=so.digest is not None and so.digest == found.digest,
        queue=f"{QUEUE}?{urlencode({'return': return_id, 'period': so.period})}",
    )


@router.get(QUEUE + "/{agency}/{return_id}/{period}", name="signoff_review")
def approval_page(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    agency: str,
    return_id: str,
    period: PeriodText,
    done: str = "",
) -> Response:
    """One agency's sign-off: what it vouched for, what its figures give now, its history, and accept or send back."""
    allowed(visitor, SIGNOFF_REVIEW)
    return _render(request, session, visitor, agency, return_id, period, done=done)


def _refused(
    request: Request,
    session: SessionDep,
    visitor: Visitor,
    where: tuple[str, str, str],
    exc: OneReturnError,
    href: str,
    reason: str = "",
) -> Response:
    # A refused action leaves nothing of itself behind, and the page's audit event records the refusal.
    session.rollback()
    request.state.page_error = exc
    status = 409 if isinstance(exc, Conflict) else 400
    return _render(
        request,
        session,
        visitor,
        *where,
        errors=[{"href": href, "text": exc.message}],
        reason=reason,
        status_code=status,
    )


def _where(agency: str, return_id: str, period: PeriodText) -> tuple[str, str, str]:
    return agency, return_id, period


#: The sign-off a form acts on, from its address: the agency, the return and the period.
Where = Annotated[tuple[str, str, str], Depends(_where)]


@router.post(QUEUE + "/{agency}/{return_id}/{period}/accept", name="signoff_accept")
def post_accept(
    request: Request, session: SessionDep, visitor: VisitorDep, where: Where, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Accept the agency's sign-off (the API's accept): where the return needs acceptance, this releases it."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, APPROVALS)
    agency, return_id, period = where
    try:
        row = signing.accept(request, session, visitor.principal, agency, return_id, period)
    except Conflict as exc:
        return _refused(request, session, visitor, where, exc, "#state")
    return RedirectResponse(detail_path(agency, return_id, row.period) + "?done=accepted", status_code=303)


@router.post(QUEUE + "/{agency}/{return_id}/{period}/return", name="signoff_send_back")
def post_send_back(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    where: Where,
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Send the agency's sign-off back with a reason (the API's send-back): its figures are held back again."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, APPROVALS)
    agency, return_id, period = where
    if not reason.strip():
        missing = InvalidInput("Enter why you are sending the return back")
        return _refused(request, session, visitor, where, missing, "#reason")
    try:
        body = Reason(reason=reason)
    except ValidationError:
        too_long = InvalidInput(f"The reason must be {REASON_MAX:,} characters or fewer")
        return _refused(request, session, visitor, where, too_long, "#reason", reason)
    try:
        row = signing.send_back(request, session, visitor.principal, agency, return_id, period, body)
    except (Conflict, InvalidInput) as exc:
        return _refused(request, session, visitor, where, exc, "#state", reason)
    return RedirectResponse(detail_path(agency, return_id, row.period) + "?done=returned", status_code=303)
