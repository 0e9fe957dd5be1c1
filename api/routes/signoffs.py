"""Sign-off and release: an agency's approver vouches for its figures; only then does a regulator see them.

States per (agency, return, period): ``open`` -> ``signed_off`` -> ``accepted`` (where the return
needs the officer's acceptance), ``reopened`` when a figure signed off is revised, ``returned`` when
the officer sends it back with a reason. An approver (an agency key with the ``returns:sign_off``
scope) signs off and may withdraw its sign-off before acceptance; the officer accepts or sends back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from api.auth import FUNCTION, OfficerOnly, require
from api.callrecord import annotate, client_of
from api.deps import SessionDep
from api.paging import Limit, Offset, Page, page_of
from api.principal import Principal
from api.scopes import read_scope
from exports import release
from exports.service import check_period
from mappings import signoffs
from mappings.keys import APPROVER_SCOPE
from mappings.models import Agency, Return, SignOff, SignOffEvent
from onereturn.errors import Forbidden, NotFound

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


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back times without their zone; every time stored is UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class SignOffPublic(BaseModel):
    """Where one agency's figures for one return and period stand."""

    agency_code: str
    return_id: str
    period: str
    state: str
    meaning: str
    releases: bool = Field(description="Whether the figures signed off reach the return's regulator now")
    signed_by: str | None = None
    signed_at: datetime | None = None
    client: str | None = None
    declaration: str | None = None
    digest: str | None = Field(default=None, description="SHA-256 of the canonical list of the figures vouched for")
    figures: int | None = Field(default=None, description="How many stored figures were vouched for")
    reason: str = ""
    updated_at: datetime | None = None


class EventPublic(BaseModel):
    """One transition of a sign-off."""

    at: datetime
    from_state: str
    to_state: str
    actor: str
    key_prefix: str | None
    client: str
    detail: str
    digest: str


class ChangePublic(BaseModel):
    """One figure new, revised or no longer given since the last sign-off."""

    change: Literal["added", "removed"] = Field(description="added: new or revised since; removed: no longer given")
    indicator_id: str
    org_code: str
    period: str
    breakdown: str
    value: str = Field(description="The value (or symbol) and its status")
    figure_id: int


class ReviewPublic(BaseModel):
    """What signing off would release, what stands in the way, and what happened so far."""

    signoff: SignOffPublic
    declaration: str = Field(description="The return's declaration, to be sent back word for word to sign off")
    needs_acceptance: bool
    cells: list[dict[str, Any]] = Field(description="The return's cells made from the agency's figures, as built now")
    missing: list[dict[str, Any]] = Field(description="Cells still owed by the agency")
    blockers: list[dict[str, Any]] = Field(description="Errors and unanswered queries that stop a sign-off")
    digest: str = Field(description="The digest of the figures shown: send it back with the declaration to sign off")
    changed_since_signoff: list[ChangePublic] = Field(
        description="Figures new, revised or gone since the last sign-off"
    )
    history: list[EventPublic]


class Declaration(BaseModel):
    """An approver's sign-off: the return's declaration, word for word, and the digest of the figures they read."""

    model_config = ConfigDict(extra="forbid")

    declaration: str = Field(min_length=1, max_length=4000)
    digest: str = Field(
        pattern=r"^[0-9a-f]{64}$",
        description="The `digest` of the review the approver read: if the figures have changed since, nothing is "
        "signed and the answer is 409 naming each change",
    )


class Reason(BaseModel):
    """Why the officer sends a return back."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


def _public(row: SignOff, ret: Return, *, full: bool) -> SignOffPublic:
    signed = row.signed_at is not None
    return SignOffPublic(
        agency_code=row.agency_code, return_id=row.return_id, period=row.period, state=row.state,
        meaning=signoffs.MEANINGS.get(row.state, row.state), releases=row.state in signoffs.releasing_states(ret),
        signed_by=row.signed_by if signed and full else None, signed_at=_utc(row.signed_at) if signed else None,
        client=row.client if signed and full else None, declaration=row.declaration if signed and full else None,
        digest=row.digest if signed and full else None, figures=len(row.figure_ids) if signed and full else None,
        reason=row.reason if full else "", updated_at=_utc(row.updated_at),
    )  # fmt: skip


def _open(agency_code: str, ret: Return, period: str) -> SignOffPublic:
    return SignOffPublic(
        agency_code=agency_code, return_id=ret.id, period=period, state=signoffs.OPEN,
        meaning=signoffs.MEANINGS[signoffs.OPEN], releases=False,
    )  # fmt: skip


def _event(event: SignOffEvent) -> EventPublic:
    return EventPublic(
        at=_utc(event.at) or event.at, from_state=event.from_state, to_state=event.to_state, actor=event.actor,
        key_prefix=event.key_prefix, client=event.client, detail=event.detail, digest=event.digest,
    )  # fmt: skip


def _change(change: Literal["added", "removed"], figure: signoffs.Figure) -> ChangePublic:
    return ChangePublic(
        change=change, indicator_id=figure.indicator_id, org_code=figure.org_code, period=figure.period,
        breakdown=figure.breakdown, value=figure.value, figure_id=figure.id,
    )  # fmt: skip


def _return(session: SessionDep, return_id: str) -> Return:
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"Return {return_id!r} is not defined; see GET /api/returns")
    return ret


def _own(principal: Principal, agency: str) -> None:
    """An agency reads and signs only its own; another agency's is answered as unknown."""
    read_scope(principal).check_agency(agency)


def _actor(request: Request, principal: Principal) -> signoffs.Actor:
    return signoffs.Actor(principal.name, key_prefix=principal.prefix or None, client=client_of(request))


def check_approver(principal: Principal, agency: str) -> None:
    """Refuse (403) anyone but an approver of the agency: its own key with the approver scope."""
    _own(principal, agency)
    if APPROVER_SCOPE not in principal.scopes:
        raise Forbidden(
            "This agency key can upload figures but not sign them off: signing off needs an approver's key "
            "(the officer issues one with `onereturn keys create --role agency --agency "
            f"{agency} --approver`)"
        )


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
    period: Annotated[str | None, Query(description="Only this period, e.g. FY2024-25")] = None,
    state: Annotated[str | None, Query(description="open, signed_off, accepted, reopened or returned")] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
) -> Page[SignOffPublic]:
    """List sign-offs: an officer every one, an agency its own, a regulator the states of its returns' (no digests).

    Given a return and a period, the agencies with figures in it that have not signed off yet are listed as open."""
    listed = signoffs_listed(session, principal, return_id=return_id, period=period, state=state)
    return page_of(request, listed, limit=limit, offset=offset)


def signoffs_listed(
    session: SessionDep, principal: Principal, *, return_id: str | None, period: str | None, state: str | None
) -> list[SignOffPublic]:
    """Every sign-off the principal may read matching the filters, as ``GET /api/signoffs`` lists them (unpaged)."""
    scope = read_scope(principal)
    every = session.execute(select(Return).order_by(col(Return.id))).scalars()
    returns = {r.id: r for r in every if scope.agency or scope.reads_return(r.recipient)}
    if return_id is not None and return_id not in returns:
        raise NotFound(f"Return {return_id!r} is not defined (or not addressed to you); see GET /api/returns")
    canonical = signoffs.canonical_period(session, return_id, period) if return_id and period else period
    rows = signoffs.list_signoffs(
        session, return_id=return_id, period=canonical, state=state, agency_code=scope.agency, return_ids=list(returns)
    )
    listed = [_public(row, returns[row.return_id], full=principal.kind != "regulator") for row in rows]
    if return_id and canonical and state in (None, signoffs.OPEN):
        # For one return and period, the agencies with figures in it that have done nothing yet are open too.
        check_period(session, return_id, canonical)
        known = {row.agency_code for row in rows} | {
            r.agency_code for r in signoffs.list_signoffs(session, return_id=return_id, period=canonical)
        }
        waiting = [a for a in release.agencies_behind(session, return_id, canonical) if a not in known]
        listed += [_open(a, returns[return_id], canonical) for a in waiting if scope.owns_agency(a)]
        listed.sort(key=lambda s: s.agency_code)
    return listed


@router.get(
    "/signoffs/{agency}/{return_id}/{period}",
    summary="What signing off would release",
    response_model=ReviewPublic,
    responses={404: {"description": "No such agency, return or period (or not yours)"}},
)
def signoff_review(
    request: Request, agency: str, return_id: str, period: str, session: SessionDep, principal: ReviewRead
) -> ReviewPublic:
    """Show an agency's return for a period before sign-off: the cells it owes and gives, what is missing,
    open queries and errors, changes since the last sign-off, the state and its history."""
    _own(principal, agency)
    if session.get(Agency, agency) is None:
        raise NotFound(f"Agency {agency!r} is not known")
    ret = _return(session, return_id)
    check_period(session, return_id, signoffs.canonical_period(session, return_id, period))
    found = release.review(session, agency, return_id, period)
    annotate(request, object=f"signoff {agency} {return_id} {found.period}")
    row = found.signoff
    return ReviewPublic(
        signoff=_public(row, ret, full=True) if row is not None else _open(agency, ret, found.period),
        declaration=found.declaration, needs_acceptance=found.needs_acceptance, cells=found.cells,
        missing=found.missing, blockers=found.blockers, digest=found.digest,
        changed_since_signoff=[_change("added", f) for f in found.added] + [_change("removed", f) for f in found.removed],
        history=[_event(e) for e in signoffs.history(session, row.id)] if row is not None and row.id else [],
    )  # fmt: skip


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
    period: str,
    body: Declaration,
    session: SessionDep,
    principal: AgencyKey,
) -> SignOffPublic:
    """Vouch for the agency's figures in a return for a period with the return's declaration and the digest of the
    review read; refused with each change if the figures changed since, and with the reasons while its latest
    upload has errors or a query on them is unanswered."""
    check_approver(principal, agency)
    ret = _return(session, return_id)
    row = release.sign_off(
        session, agency_code=agency, return_id=return_id, period=period, declaration=body.declaration,
        actor=_actor(request, principal), read=body.digest,
    )  # fmt: skip
    annotate(request, object=f"signoff {agency} {return_id} {row.period}", detail=f"digest {row.digest[:16]}")
    return _public(row, ret, full=True)


@router.post(
    "/signoffs/{agency}/{return_id}/{period}/unapprove",
    summary="Withdraw a sign-off before acceptance (approver)",
    response_model=SignOffPublic,
    responses=_WRITE,
)
def signoff_unapprove(
    request: Request, agency: str, return_id: str, period: str, session: SessionDep, principal: AgencyKey
) -> SignOffPublic:
    """Withdraw the agency's sign-off (before the officer accepts it): its figures are held back again."""
    check_approver(principal, agency)
    ret = _return(session, return_id)
    row = signoffs.unapprove(
        session, agency_code=agency, return_id=return_id, period=period, actor=_actor(request, principal)
    )
    annotate(request, object=f"signoff {agency} {return_id} {row.period}")
    return _public(row, ret, full=True)


@router.post(
    "/signoffs/{agency}/{return_id}/{period}/accept",
    summary="Accept a sign-off (officer)",
    response_model=SignOffPublic,
    responses=_WRITE,
)
def signoff_accept(
    request: Request, agency: str, return_id: str, period: str, session: SessionDep, principal: OfficerOnly
) -> SignOffPublic:
    """Accept an agency's sign-off; where the return needs acceptance, this releases the figures."""
    ret = _return(session, return_id)
    row = signoffs.accept(
        session, agency_code=agency, return_id=return_id, period=period, actor=_actor(request, principal)
    )
    annotate(request, object=f"signoff {agency} {return_id} {row.period}")
    return _public(row, ret, full=True)


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
    period: str,
    body: Reason,
    session: SessionDep,
    principal: OfficerOnly,
) -> SignOffPublic:
    """Send an agency's sign-off back with the reason; its figures are held back until it signs off again."""
    ret = _return(session, return_id)
    row = signoffs.send_back(
        session, agency_code=agency, return_id=return_id, period=period, reason=body.reason,
        actor=_actor(request, principal),
    )  # fmt: skip
    annotate(request, object=f"signoff {agency} {return_id} {row.period}", detail=body.reason[:200])
    return _public(row, ret, full=True)
