"""Sign-off and release: an agency's approver vouches for its figures; only then does a regulator see them.

States per (agency, return, period): ``open`` -> ``signed_off`` -> ``accepted`` (where the return
needs the officer's acceptance), ``reopened`` when a figure signed off is revised, ``returned`` when
the officer sends it back with a reason. An approver (an agency key with the ``returns:sign_off``
scope) signs off and may withdraw its sign-off before acceptance; the officer accepts or sends back.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from api import signing
from api.auth import FUNCTION, OfficerOnly, require
from api.deps import SessionDep
from api.paging import Limit, Offset, Page, page_of
from api.params import PeriodText
from api.principal import Principal
from mappings.signoff.schemas import Declaration, Reason, ReviewPublic, SignOffPublic

router = APIRouter(prefix="/api", tags=["sign-off"])

SignoffsRead = Annotated[Principal, Depends(require(set(), reads="signoffs"), scope=FUNCTION)]
#: What signing off would release names the agency's figures: its own approver and the officer read it.
ReviewRead = Annotated[Principal, Depends(require(set(), {"officer", "agency"}, reads="signoffs"), scope=FUNCTION)]
#: Only an agency's approver signs off or withdraws; officers and regulators are told so.
AgencyKey = Annotated[Principal, Depends(require(set(), {"agency"}, needs="an approver's agency key"), scope=FUNCTION)]

_WRITE: dict[int | str, dict[str, Any]] = {
    401: {"description": "No key, or a key not known or revoked"},
    403: {"description": "Not a key that may do this"},
    404: {"description": "No such agency, return or period (or not yours)"},
    409: {"description": "Not allowed from the current state, or errors and unanswered queries stand in the way"},
    422: {"description": "Not valid"},
}


@router.get(
    "/signoffs",
    summary="Sign-offs by return, period and state",
    response_model=Page[SignOffPublic],
    responses={404: {"description": "No such return (or not addressed to you)"}},
)
def list_signoffs(
    request: Request,
    session: SessionDep,
    principal: SignoffsRead,
    return_id: Annotated[str | None, Query(alias="return", description="Only this return")] = None,
    period: Annotated[PeriodText | None, Query(description="Only this period, e.g. FY2024-25")] = None,
    state: Annotated[str | None, Query(description="open, signed_off, accepted, reopened or returned")] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Page[SignOffPublic]:
    """List sign-offs: an officer every one, an agency its own, a regulator the states of its returns' (no digests).

    Given a return and a period, the agencies with figures in it that have not signed off yet are listed as open."""
    listed = signing.listed(session, principal, return_id=return_id, period=period, state=state)
    return page_of(request, listed, limit=limit, offset=offset)


@router.get(
    "/signoffs/{agency}/{return_id}/{period}",
    summary="What signing off would release",
    response_model=ReviewPublic,
    responses={404: {"description": "No such agency, return or period (or not yours)"}},
)
def signoff_review(
    request: Request, agency: str, return_id: str, period: PeriodText, session: SessionDep, principal: ReviewRead
) -> ReviewPublic:
    """Show an agency's return for a period before sign-off: the cells it owes and gives, what is missing,
    open queries and errors, changes since the last sign-off, the state and its history."""
    return signing.review_of(request, session, principal, agency, return_id, period)


@router.post(
    "/signoffs/{agency}/{return_id}/{period}/sign-off",
    summary="Sign off an agency's figures (approver)",
    response_model=SignOffPublic,
    responses=_WRITE,
)
def signoff_sign_off(
    request: Request,
    agency: str,
    return_id: str,
    period: PeriodText,
    body: Declaration,
    session: SessionDep,
    principal: AgencyKey,
) -> SignOffPublic:
    """Vouch for the agency's figures in a return for a period with the return's declaration and the digest of the
    review read; refused with each change if the figures changed since, and with the reasons while its latest
    upload has errors or a query on them is unanswered."""
    return signing.sign_off_as(request, session, principal, agency, return_id, period, body)


@router.post(
    "/signoffs/{agency}/{return_id}/{period}/unapprove",
    summary="Withdraw a sign-off before acceptance (approver)",
    response_model=SignOffPublic,
    responses=_WRITE,
)
def signoff_unapprove(
    request: Request, agency: str, return_id: str, period: PeriodText, session: SessionDep, principal: AgencyKey
) -> SignOffPublic:
    """Withdraw the agency's sign-off (before the officer accepts it): its figures are held back again."""
    return signing.withdraw(request, session, principal, agency, return_id, period)


@router.post(
    "/signoffs/{agency}/{return_id}/{period}/accept",
    summary="Accept a sign-off (officer)",
    response_model=SignOffPublic,
    responses=_WRITE,
)
def signoff_accept(
    request: Request, agency: str, return_id: str, period: PeriodText, session: SessionDep, principal: OfficerOnly
) -> SignOffPublic:
    """Accept an agency's sign-off; where the return needs acceptance, this releases the figures."""
    return signing.accept(request, session, principal, agency, return_id, period)


@router.post(
    "/signoffs/{agency}/{return_id}/{period}/return",
    summary="Send a sign-off back with a reason (officer)",
    response_model=SignOffPublic,
    responses=_WRITE,
)
def signoff_send_back(
    request: Request,
    agency: str,
    return_id: str,
    period: PeriodText,
    body: Reason,
    session: SessionDep,
    principal: OfficerOnly,
) -> SignOffPublic:
    """Send an agency's sign-off back with the reason; its figures are held back until it signs off again."""
    return signing.send_back(request, session, principal, agency, return_id, period, body)
