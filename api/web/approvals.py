"""The performance officer's approvals: every agency's sign-off by return and period, and one sign-off's review.

The pages call the API's own sign-off routes (list, review, accept, send back) with the signed-in key's
principal and are named after them, so they show and do exactly what the API would for that key and are
audited under the same actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.deps import SessionDep
from api.routes import signoffs as signoff_routes
from api.routes.signoffs import SignOffPublic
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
from exports.build import agency_names
from indicators.periods import parse_period
from mappings import signoffs
from mappings.calendar import agency_returns
from mappings.models import Return, SignOff
from onereturn.errors import Conflict, InvalidInput, NotFound, OneReturnError

router = APIRouter(route_class=PageRoute, include_in_schema=False)

QUEUE = "/officer/approvals"
#: How the pages name each state (the API's names, in words).
STATE_NAMES = {
    signoffs.OPEN: "Open",
    signoffs.SIGNED_OFF: "Signed off",
    signoffs.ACCEPTED: "Accepted",
    signoffs.REOPENED: "Reopened",
    signoffs.RETURNED: "Returned",
}
#: The longest reason the API takes (api.routes.signoffs.Reason).
REASON_MAX = 2000


@dataclass(frozen=True)
class Waiting:
    """One agency's sign-off of one return for one period, as the queue shows it."""

    agency_code: str
    agency_name: str
    return_id: str
    period: str
    state: str
    signed_by: str | None
    signed_at: datetime | None
    in_the_way: list[str]
    awaiting_acceptance: bool
    releases: bool
    href: str


def detail_path(agency: str, return_id: str, period: str) -> str:
    """The officer's page of one agency's sign-off of a return for a period."""
    return f"{QUEUE}/{quote(agency, safe='')}/{quote(return_id, safe='')}/{quote(period, safe='')}"


def _start(period: str) -> str:
    try:
        return parse_period(period).start.isoformat()
    except InvalidInput:
        return ""


def _in_the_way(
    session: Session, row: SignOffPublic, ret: Return, *, has_figures: bool, owed: int | None
) -> tuple[list[str], bool]:
    """What still stands between a sign-off and release, in words; and whether it waits for the officer."""
    if row.state in signoffs.releasing_states(ret):
        return [f"Nothing: released to {ret.recipient}"], False
    if row.state == signoffs.SIGNED_OFF:
        return ["Waiting for your acceptance"], True
    found: list[str] = []
    if row.state == signoffs.RETURNED and row.reason:
        found.append(f"Sent back: {row.reason}")
    elif row.state == signoffs.REOPENED and row.reason:
        found.append(f"Reopened: {row.reason}")
    obstacles: list[str] = []
    figures = f"{owed:,} figure{'' if owed == 1 else 's'}" if owed else ""
    if not has_figures:
        obstacles.append("Nothing sent yet" + (f": {figures} owed" if figures else ""))
    elif figures:
        obstacles.append(f"{figures} still owed")
    blockers = signoffs.blockers(session, row.agency_code, row.return_id, row.period)
    obstacles += [str(b["msg"]) for b in blockers[:3]]
    if len(blockers) > 3:
        obstacles.append(f"and {len(blockers) - 3} more errors or unanswered queries")
    if not obstacles:
        again = " again" if row.state in (signoffs.REOPENED, signoffs.RETURNED) else ""
        obstacles.append(f"Waiting for its approver to sign off{again}")
    return found + obstacles, False


def _pairs(
    session: Session, return_id: str | None, period: str | None, now: dict[str, dict[str, Any]]
) -> list[tuple[str, str]]:
    """The returns and periods whose agencies are listed even before they do anything: the one asked for, or each
    return's period being collected now (or every return's given period)."""
    ids = list(session.execute(select(Return.id).order_by(col(Return.id))).scalars())
    if return_id and period:
        return [(return_id, signoffs.canonical_period(session, return_id, period))]
    pairs = []
    for ret_id in ids:
        if return_id and ret_id != return_id:
            continue
        if period:
            try:
                pairs.append((ret_id, signoffs.canonical_period(session, ret_id, period)))
            except InvalidInput:
                continue  # a period of another kind than the return's
        elif ret_id in now:
            pairs.append((ret_id, str(now[ret_id]["period"])))
    return pairs


def approvals_queue(
    session: Session,
    visitor: Visitor,
    *,
    return_id: str | None,
    period: str | None,
    state: str | None,
    now: dict[str, dict[str, Any]],
) -> list[Waiting]:
    """Every agency's sign-off matching the filters (the API's list), with the agencies that owe a return and have
    not signed it off yet for the period asked for or being collected now, and what is in the way of each."""
    listed = signoff_routes.list_signoffs(
        session=session, principal=visitor.principal, return_id=return_id, period=period, state=state
    )
    found = {(s.agency_code, s.return_id, s.period): s for s in listed}
    owed: dict[tuple[str, str, str], int] = {}
    #: Agencies that owe a return and have no figure in it yet (the API lists only those with figures).
    nothing: set[tuple[str, str, str]] = set()
    if state in (None, signoffs.OPEN):
        designated: dict[str, list[str]] = {}
        for agency, rets in agency_returns(session).items():
            for ret_id in rets:
                designated.setdefault(ret_id, []).append(agency)
        pairs = _pairs(session, return_id, period, now)
        # Which agencies have a sign-off row at all, read once rather than once for each agency that owes a return.
        made = {
            (a, r, p)
            for a, r, p in session.execute(
                select(SignOff.agency_code, SignOff.return_id, SignOff.period).where(
                    col(SignOff.return_id).in_({ret_id for ret_id, _ in pairs})
                )
            ).all()
        }
        for ret_id, at in pairs:
            if not (return_id and period):
                try:
                    more = signoff_routes.list_signoffs(
                        session=session, principal=visitor.principal, return_id=ret_id, period=at, state=signoffs.OPEN
                    )
                except OneReturnError:
                    continue  # not collected for that period (outside the return's validity, or not begun)
                for s in more:
                    found.setdefault((s.agency_code, s.return_id, s.period), s)
            entry = now.get(ret_id)
            if entry is not None and entry["period"] == at:
                owed.update({(a, ret_id, at): int(n) for a, n in entry["owed"].items()})
            for agency in designated.get(ret_id, []):
                if (agency, ret_id, at) not in found and (agency, ret_id, at) not in made:
                    nothing.add((agency, ret_id, at))
                    found[(agency, ret_id, at)] = SignOffPublic(
                        agency_code=agency, return_id=ret_id, period=at, state=signoffs.OPEN,
                        meaning=signoffs.MEANINGS[signoffs.OPEN], releases=False,
                    )  # fmt: skip
    returns = {r.id: r for r in session.execute(select(Return)).scalars()}
    names = agency_names(session)
    rows = []
    for key, s in found.items():
        ret = returns[s.return_id]
        words, awaiting = _in_the_way(session, s, ret, has_figures=key not in nothing, owed=owed.get(key))
        rows.append(
            Waiting(
                agency_code=s.agency_code, agency_name=names.get(s.agency_code, s.agency_code), return_id=s.return_id,
                period=s.period, state=s.state, signed_by=s.signed_by, signed_at=s.signed_at, in_the_way=words,
                awaiting_acceptance=awaiting, releases=s.releases,
                href=detail_path(s.agency_code, s.return_id, s.period),
            )
        )  # fmt: skip
    titles = {r.id: r.title for r in returns.values()}
    # Newest period first within each return, agencies by name: sorted in passes, the last one the main key.
    rows.sort(key=lambda w: w.agency_name)
    rows.sort(key=lambda w: (_start(w.period), w.period), reverse=True)
    rows.sort(key=lambda w: titles[w.return_id])
    return rows


def tally(rows: list[Waiting]) -> dict[str, int]:
    """How many sign-offs wait for the officer, how many are not signed off (and why), and how many are released."""
    signable = [w for w in rows if w.state in signoffs.SIGNABLE]
    return {
        "awaiting": sum(w.awaiting_acceptance for w in rows),
        "not_signed": len(signable),
        "returned": sum(w.state == signoffs.RETURNED for w in signable),
        "reopened": sum(w.state == signoffs.REOPENED for w in signable),
        "released": sum(w.releases for w in rows),
    }


def _filter_error(session: Session, exc: OneReturnError, chosen: dict[str, str]) -> dict[str, str]:
    """The refused filter as an error summary's entry, linked to its field."""
    if chosen["return"] and session.get(Return, chosen["return"]) is None:
        href = "#return"
    elif chosen["state"] and chosen["state"] not in signoffs.STATES and chosen["state"] in exc.message:
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
    period: str = "",
    state: str = "",
) -> HTMLResponse:
    """Every agency's sign-off by return and period, with its state, who signed and what is in the way; filtered."""
    allowed(visitor, APPROVALS)
    chosen = {"return": return_id.strip(), "period": period.strip(), "state": state.strip()}
    errors: list[dict[str, str]] = []
    status = 200
    rows: list[Waiting] = []
    now = collecting(request, session, visitor, datetime.now(UTC).date())
    try:
        rows = approvals_queue(
            session, visitor, return_id=chosen["return"] or None, period=chosen["period"] or None,
            state=chosen["state"] or None, now=now,
        )  # fmt: skip
    except (InvalidInput, NotFound) as exc:
        request.state.page_error = exc
        errors = [_filter_error(session, exc, chosen)]
        status = 404 if isinstance(exc, NotFound) else 400
    returns = session.execute(select(Return).order_by(col(Return.title))).scalars().all()
    every = signoffs.list_signoffs(session)
    known = {r.period for r in every} | {str(e["period"]) for e in now.values()} | {w.period for w in rows}
    periods = sorted(known, key=lambda p: (_start(p), p), reverse=True)
    groups: dict[str, list[Waiting]] = {}
    for w in rows:
        groups.setdefault(w.return_id, []).append(w)
    filtered = any(chosen.values())
    return page(
        request, "officer/approvals.html", visitor, title=("Error: " if errors else "") + "Approvals",
        status_code=status, rows=rows, groups=groups, returns={r.id: r for r in returns}, periods=periods,
        chosen=chosen, counts=tally(rows), errors=errors, state_names=STATE_NAMES, filtered=filtered,
    )  # fmt: skip


#: The confirmation after each action, and the state it leads to.
DONE = {"accepted": signoffs.ACCEPTED, "returned": signoffs.RETURNED}


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
    found = signoff_routes.signoff_review(
        request=request, agency=agency, return_id=return_id, period=period, session=session,
        principal=visitor.principal,
    )  # fmt: skip
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
        request, "officer/approval.html", visitor, title=("Error: " if errors else "") + title,
        status_code=status_code, current=QUEUE, review=found, so=so, ret=ret, agency_name=names.get(agency, agency),
        state_names=STATE_NAMES, errors=errors or [], reason=reason, reason_max=REASON_MAX,
        changes=signoff_changes(session, found.changed_since_signoff),
        done=done if DONE.get(done) == so.state else "", action=detail_path(agency, return_id, so.period),
        may_accept=ret.needs_acceptance and so.state == signoffs.SIGNED_OFF,
        may_send_back=so.state in (signoffs.SIGNED_OFF, signoffs.ACCEPTED),
        unchanged=so.digest is not None and so.digest == found.digest,
        queue=f"{QUEUE}?{urlencode({'return': return_id, 'period': so.period})}",
    )  # fmt: skip


@router.get(QUEUE + "/{agency}/{return_id}/{period}", name="signoff_review")
def approval_page(
    request: Request, session: SessionDep, visitor: VisitorDep, agency: str, return_id: str, period: str, done: str = ""
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
        request, session, visitor, *where, errors=[{"href": href, "text": exc.message}], reason=reason,
        status_code=status,
    )  # fmt: skip


@router.post(QUEUE + "/{agency}/{return_id}/{period}/accept", name="signoff_accept")
def accept(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    agency: str,
    return_id: str,
    period: str,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Accept the agency's sign-off (the API's accept): where the return needs acceptance, this releases it."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, APPROVALS)
    try:
        row = signoff_routes.signoff_accept(
            request=request, agency=agency, return_id=return_id, period=period, session=session,
            principal=visitor.principal,
        )  # fmt: skip
    except Conflict as exc:
        return _refused(request, session, visitor, (agency, return_id, period), exc, "#state")
    return RedirectResponse(detail_path(agency, return_id, row.period) + "?done=accepted", status_code=303)


@router.post(QUEUE + "/{agency}/{return_id}/{period}/return", name="signoff_send_back")
def send_back(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    agency: str,
    return_id: str,
    period: str,
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Send the agency's sign-off back with a reason (the API's send-back): its figures are held back again."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, APPROVALS)
    where = (agency, return_id, period)
    if not reason.strip():
        missing = InvalidInput("Enter why you are sending the return back")
        return _refused(request, session, visitor, where, missing, "#reason")
    try:
        body = signoff_routes.Reason(reason=reason)
    except ValidationError:
        too_long = InvalidInput(f"The reason must be {REASON_MAX:,} characters or fewer")
        return _refused(request, session, visitor, where, too_long, "#reason", reason)
    try:
        row = signoff_routes.signoff_send_back(
            request=request, agency=agency, return_id=return_id, period=period, body=body, session=session,
            principal=visitor.principal,
        )  # fmt: skip
    except (Conflict, InvalidInput) as exc:
        return _refused(request, session, visitor, where, exc, "#state", reason)
    return RedirectResponse(detail_path(agency, return_id, row.period) + "?done=returned", status_code=303)
