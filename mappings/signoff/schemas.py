"""The sign-off's public shapes, shared by the API's routes and the pages that call them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mappings.models import Return
from mappings.signoff.figures import Figure
from mappings.signoff.models import SignOff, SignOffEvent
from mappings.signoff.states import MEANINGS, OPEN, releasing_states


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
    signable: bool = Field(
        description="Whether the approver may sign off now: its state allows it, or figures were added since the "
        "sign-off (held back until signed off over it)"
    )
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


#: The longest reason an officer may give for sending a return back.
REASON_MAX = 2000


class Reason(BaseModel):
    """Why the officer sends a return back."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=REASON_MAX)


def public(row: SignOff, ret: Return, *, full: bool) -> SignOffPublic:
    """A sign-off as a reader sees it; without ``full`` (a regulator) only its state, not who signed or what."""
    signed = row.signed_at is not None
    return SignOffPublic(
        agency_code=row.agency_code,
        return_id=row.return_id,
        period=row.period,
        state=row.state,
        meaning=MEANINGS.get(row.state, row.state),
        releases=row.state in releasing_states(ret),
        signed_by=row.signed_by if signed and full else None,
        signed_at=_utc(row.signed_at) if signed else None,
        client=row.client if signed and full else None,
        declaration=row.declaration if signed and full else None,
        digest=row.digest if signed and full else None,
        figures=len(row.figure_ids) if signed and full else None,
        reason=row.reason if full else "",
        updated_at=_utc(row.updated_at),
    )


def open_public(agency_code: str, ret: Return, period: str) -> SignOffPublic:
    """An (agency, return, period) nothing has happened to yet: open."""
    return SignOffPublic(
        agency_code=agency_code,
        return_id=ret.id,
        period=period,
        state=OPEN,
        meaning=MEANINGS[OPEN],
        releases=False,
    )


def event_public(event: SignOffEvent) -> EventPublic:
    """One transition as the history shows it."""
    return EventPublic(
        at=_utc(event.at) or event.at,
        from_state=event.from_state,
        to_state=event.to_state,
        actor=event.actor,
        key_prefix=event.key_prefix,
        client=event.client,
        detail=event.detail,
        digest=event.digest,
    )


def change_public(change: Literal["added", "removed"], figure: Figure) -> ChangePublic:
    """One figure changed since the last sign-off."""
    return ChangePublic(
        change=change,
        indicator_id=figure.indicator_id,
        org_code=figure.org_code,
        period=figure.period,
        breakdown=figure.breakdown,
        value=figure.value,
        figure_id=figure.id,
    )
