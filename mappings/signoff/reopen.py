"""Reopening: a sign-off whose vouched-for figures an upload revises needs vouching for again."""

from __future__ import annotations

import polars as pl
from sqlmodel import Session, col, select

from mappings.signoff.models import SignOff
from mappings.signoff.states import ACCEPTED, REOPENED, SIGNED_OFF, Actor, move


def reopen_for(session: Session, changed: pl.DataFrame, agency_code: str | None, cause: str) -> int:
    """Reopen the agency's signed-off (or accepted) returns whose vouched-for figures a change revises; return how many.

    ``changed`` holds the figures stored, each with ``obs_id``, the version it replaces (null for a new
    figure). Only a sign-off that vouched for a replaced version is reopened: a figure added since a
    sign-off is held back until signed off (``exports.release.gate``) and leaves the sign-off standing, as
    does a change to another agency's, or another return's, figures.
    """
    if not agency_code or changed.is_empty() or "obs_id" not in changed.columns:
        return 0
    replaced = {int(i) for i in changed["obs_id"].drop_nulls().to_list()}
    if not replaced:
        return 0
    rows = session.execute(
        select(SignOff).where(SignOff.agency_code == agency_code, col(SignOff.state).in_((SIGNED_OFF, ACCEPTED)))
    ).scalars()
    reopened = 0
    for row in list(rows):
        if replaced.isdisjoint(row.figure_ids):
            continue
        row.reason = cause
        move(session, row, REOPENED, Actor(cause), detail=cause)
        reopened += 1
    return reopened
