"""The acts of sign-off, each defined once: an approver signs off or withdraws; the officer accepts or sends back.

The states mirror the collections the service stands in for: DfE COLLECT returns are approved by the council's
approver before DfE accepts them; DHIS2 data approval has approve, unapprove and accept per data set, period and
organisation unit. Which figures an agency vouches for is what the build of the return finds behind its cells
(``behind.vouched``), unless the caller has them already.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlmodel import Session, col, select

from exports.release import build_ungated
from exports.signoff.behind import vouched
from mappings.models import Return
from mappings.signoff.figures import Figure, changed_reasons, digest_of, figures_of
from mappings.signoff.lineage import to_sign
from mappings.signoff.models import SignOff
from mappings.signoff.rules import blockers, periods_with_figures
from mappings.signoff.states import (
    ACCEPTABLE,
    ACCEPTED,
    MEANINGS,
    OPEN,
    RETURNABLE,
    RETURNED,
    SIGNABLE,
    SIGNED_OFF,
    WITHDRAWABLE,
    Actor,
    canonical_period,
    existing,
    move,
    return_of,
    row_of,
    state_of,
)
from mappings.validity import check_buildable
from onereturn.errors import Conflict, InvalidInput, NotFound


def sign_off(
    session: Session,
    *,
    agency_code: str,
    return_id: str,
    period: str,
    declaration: str,
    actor: Actor,
    figures: list[Figure] | None = None,
    read: str | None = None,
    check: bool = True,
) -> SignOff:
    """Sign off an agency's figures for a return and period with the return's declaration, word for word.

    ``read`` is the digest of the figures the approver read: when the figures are no longer those, it is
    refused (409) naming each figure changed since, and nothing is signed. Refused too (409, every reason
    listed) while the agency's latest upload for the return and period has errors or a query on the
    return's figures is unanswered (see ``blockers``), when there is nothing to vouch for, or when the state
    is not one that may be signed: a sign-off stands until a figure it vouched for is revised, but figures
    added since it (held back until signed) may be signed off over it. ``check=False`` skips the errors and
    queries, for an operator's ``sign-all``. ``figures`` (the figures vouched for) are, when not given, what the
    agency's figures put into the return for the period now (``behind.vouched``, the ungated build).
    """
    if figures is None:
        figures = vouched(session, agency_code, return_id, canonical_period(session, return_id, period))
    ret = return_of(session, return_id)
    period = canonical_period(session, return_id, period)
    if " ".join(declaration.split()) != " ".join(ret.declaration.split()):
        raise InvalidInput(
            f"The declaration must be the return's own, word for word: {ret.declaration!r} (see GET /api/signoffs/"
            f"{agency_code}/{return_id}/{period})"
        )
    row = row_of(session, agency_code, return_id, period)
    added_since = bool(figures) and row.signed_at is not None and not {f.id for f in figures} <= set(row.figure_ids)
    if row.state not in SIGNABLE and not added_since:
        raise Conflict(
            f"{agency_code}'s {return_id} for {period} is {row.state.replace('_', ' ')}; {MEANINGS[row.state]}"
        )
    if read is not None and digest_of(figures) != read:
        reasons = changed_reasons(session, figures, read)
        raise Conflict(
            f"Cannot sign off {return_id} for {period}: the figures changed since you read them; "
            + "; ".join(r["msg"] for r in reasons),
            errors=reasons,
        )
    reasons = blockers(session, agency_code, return_id, period) if check else []
    if not figures:
        reasons.append(
            {
                "type": "nothing",
                "loc": [],
                "input": None,
                "msg": f"{agency_code} has no figure in {return_id} for {period} to sign off",
            }
        )
    if reasons:
        raise Conflict(
            f"Cannot sign off {return_id} for {period}: " + "; ".join(r["msg"] for r in reasons), errors=reasons
        )
    now = datetime.now(UTC)
    row.declaration = ret.declaration
    row.signed_by = actor.name[:300]
    row.key_prefix = actor.key_prefix
    row.signed_at = now
    row.client = actor.client[:64]
    row.digest = digest_of(figures)
    row.figure_ids = sorted(f.id for f in figures)
    row.reason = ""
    move(session, row, SIGNED_OFF, actor, detail=ret.declaration)
    return row


def _leave(
    session: Session,
    where: tuple[str, str, str],
    actor: Actor,
    *,
    allowed: frozenset[str],
    to: str,
    refusal: str,
    detail: str,
    reason: str | None = None,
) -> SignOff:
    """Move an existing sign-off of ``where`` (agency, return, period) from one of the ``allowed`` states to ``to``,
    keeping ``reason`` when given; refused (409) with ``refusal`` and the state it is in otherwise."""
    agency_code, return_id, period = where
    row = existing(session, agency_code, return_id, period)
    if row.state not in allowed:
        raise Conflict(f"{refusal}; {agency_code}'s {return_id} for {row.period} is {row.state.replace('_', ' ')}")
    if reason is not None:
        row.reason = reason
    move(session, row, to, actor, detail=detail)
    return row


def withdraw(session: Session, *, agency_code: str, return_id: str, period: str, actor: Actor) -> SignOff:
    """The approver withdraws a sign-off before the officer accepts it; the figures are held back again."""
    return _leave(
        session,
        (agency_code, return_id, period),
        actor,
        allowed=WITHDRAWABLE,
        to=OPEN,
        refusal="Only a sign-off not yet accepted can be withdrawn",
        detail="sign-off withdrawn by the approver",
    )


def accept(session: Session, *, return_id: str, period: str, agency_code: str, actor: Actor) -> SignOff:
    """The officer accepts an agency's sign-off."""
    return _leave(
        session,
        (agency_code, return_id, period),
        actor,
        allowed=ACCEPTABLE,
        to=ACCEPTED,
        refusal="Only a signed-off return can be accepted",
        detail="accepted",
    )


def send_back(session: Session, *, return_id: str, period: str, agency_code: str, reason: str, actor: Actor) -> SignOff:
    """The officer sends a sign-off (accepted or not) back to the agency with a reason."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why the return is sent back ('reason')")
    return _leave(
        session,
        (agency_code, return_id, period),
        actor,
        allowed=RETURNABLE,
        to=RETURNED,
        refusal="Only a signed-off or accepted return can be sent back",
        detail=reason,
        reason=reason,
    )


def sign_off_all(session: Session, actor: Actor, *, return_ids: list[str] | None = None) -> list[SignOff]:
    """Sign off, as ``actor``, every agency's figures in every return and period they reach that is not yet released
    (each return built ungated, as the release gate builds it).

    An operator's step (and the demo's): no errors or queries are checked, and the declaration is the return's own.
    """
    done: list[SignOff] = []
    # Returns of one period share what their builds read (the geography, the indicators, the period's figures):
    # signing off changes none of it.
    shared: dict[str, Any] = {}
    rets = session.execute(select(Return).order_by(col(Return.id))).scalars().all()
    for ret in rets:
        if return_ids is not None and ret.id not in return_ids:
            continue
        for period in periods_with_figures(session, ret, uploaded=True):
            try:
                check_buildable(ret, period, today=datetime.now(UTC).date())
            except (InvalidInput, NotFound):
                continue  # outside the return's validity: nothing is built for it, so nothing to release
            built = build_ungated(session, ret, period.code, shared)
            for agency in sorted(set(to_sign(session, built.lineage)["agency_code"].to_list())):
                if state_of(session, agency, ret.id, period.code) not in SIGNABLE:
                    continue
                ids = built.lineage.filter(pl.col("agency_code") == agency)["observation_id"].unique().sort().to_list()
                done.append(
                    sign_off(
                        session,
                        agency_code=agency,
                        return_id=ret.id,
                        period=period.code,
                        figures=figures_of(session, ids),
                        declaration=ret.declaration,
                        actor=actor,
                        check=False,
                    )
                )
    return done
