"""Sign-off's acts as the API and the pages take them: each checked for the caller, done, and audited.

The route of each act (``api/routes/signoffs.py``) and the page that offers it (the approver's sign-off page, the
officer's approvals) call the same function here, so a page refuses, does and records exactly what the API would.
"""

from __future__ import annotations

from fastapi import Request
from sqlmodel import Session

from api.callrecord import annotate, client_of
from api.principal import Principal
from api.scopes import read_scope
from exports.signoff import acts, queries
from exports.signoff.reviewing import review
from mappings.keys import APPROVER_SCOPE
from mappings.models import Agency
from mappings.signoff.schemas import Declaration, Reason, ReviewPublic, SignOffPublic, public
from mappings.signoff.states import Actor, return_of
from onereturn.errors import Forbidden, NotFound


def _own(principal: Principal, agency: str) -> None:
    """An agency reads and signs only its own; another agency's is answered as unknown."""
    read_scope(principal).check_agency(agency)


def _actor(request: Request, principal: Principal) -> Actor:
    return Actor(principal.name, key_prefix=principal.prefix or None, client=client_of(request))


def check_approver(principal: Principal, agency: str) -> None:
    """Refuse (403) anyone but an approver of the agency: its own key with the approver scope."""
    _own(principal, agency)
    if APPROVER_SCOPE not in principal.scopes:
        raise Forbidden(
            "This agency key can upload figures but not sign them off: signing off needs an approver's key "
            "(the officer issues one with `onereturn keys create --role agency --agency "
            f"{agency} --approver`)"
        )


def listed(
    session: Session, principal: Principal, *, return_id: str | None, period: str | None, state: str | None
) -> list[SignOffPublic]:
    """Every sign-off the principal may read matching the filters, as ``GET /api/signoffs`` lists them (unpaged)."""
    return queries.listed(
        session,
        read_scope(principal),
        queries.Filters(return_id, period, state),
        full=principal.kind != "regulator",
    )


def review_of(
    request: Request, session: Session, principal: Principal, agency: str, return_id: str, period: str
) -> ReviewPublic:
    """What signing off would release: the agency's cells, what is missing, open queries and errors (audited)."""
    _own(principal, agency)
    if session.get(Agency, agency) is None:
        raise NotFound(f"Agency {agency!r} is not known")
    found = review(session, agency, return_id, period)
    annotate(request, object=f"signoff {agency} {return_id} {found.signoff.period}")
    return found


def sign_off_as(
    request: Request,
    session: Session,
    principal: Principal,
    agency: str,
    return_id: str,
    period: str,
    body: Declaration,
) -> SignOffPublic:
    """Sign off the agency's figures as its approver, with the declaration and the digest of the review read."""
    check_approver(principal, agency)
    ret = return_of(session, return_id)
    row = acts.sign_off(
        session,
        agency_code=agency,
        return_id=return_id,
        period=period,
        declaration=body.declaration,
        actor=_actor(request, principal),
        read=body.digest,
    )
    annotate(request, object=f"signoff {agency} {return_id} {row.period}", detail=f"digest {row.digest[:16]}")
    return public(row, ret, full=True)


def withdraw(
    request: Request, session: Session, principal: Principal, agency: str, return_id: str, period: str
) -> SignOffPublic:
    """Withdraw the agency's sign-off before the officer accepts it."""
    check_approver(principal, agency)
    ret = return_of(session, return_id)
    row = acts.withdraw(
        session, agency_code=agency, return_id=return_id, period=period, actor=_actor(request, principal)
    )
    annotate(request, object=f"signoff {agency} {return_id} {row.period}")
    return public(row, ret, full=True)


def accept(
    request: Request, session: Session, principal: Principal, agency: str, return_id: str, period: str
) -> SignOffPublic:
    """Accept the agency's sign-off (the officer)."""
    ret = return_of(session, return_id)
    row = acts.accept(session, agency_code=agency, return_id=return_id, period=period, actor=_actor(request, principal))
    annotate(request, object=f"signoff {agency} {return_id} {row.period}")
    return public(row, ret, full=True)


def send_back(
    request: Request, session: Session, principal: Principal, agency: str, return_id: str, period: str, body: Reason
) -> SignOffPublic:
    """Send the agency's sign-off back with the reason (the officer)."""
    ret = return_of(session, return_id)
    row = acts.send_back(
        session,
        agency_code=agency,
        return_id=return_id,
        period=period,
        reason=body.reason,
        actor=_actor(request, principal),
    )
    annotate(request, object=f"signoff {agency} {return_id} {row.period}", detail=body.reason[:200])
    return public(row, ret, full=True)
