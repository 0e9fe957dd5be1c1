"""What an approver (or the officer) reads before signing off: the cells owed, what is missing, what is in the way,
what changed since the last sign-off, and the history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlmodel import Session, select

from exports.release import build_ungated
from mappings.agencies import agency_names
from mappings.models import FieldMapping, Return
from mappings.signoff.figures import Figure, digest_of, figures_of
from mappings.signoff.models import SignOff
from mappings.signoff.rules import blockers
from mappings.signoff.schemas import ReviewPublic, change_public, event_public, open_public, public
from mappings.signoff.states import OPEN, SIGNABLE, canonical_period, find, history, return_of
from mappings.validity import check_period
from onereturn.errors import NotFound


@dataclass(frozen=True)
class Review:
    """What an approver sees before signing off: the cells owed, what is missing, open queries, what changed."""

    agency_code: str
    return_id: str
    period: str
    state: str
    declaration: str
    needs_acceptance: bool
    cells: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    blockers: list[dict[str, Any]]
    added: list[Figure]
    removed: list[Figure]
    digest: str
    signoff: SignOff | None


def gather(session: Session, agency_code: str, return_id: str, period: str) -> Review:
    """Gather what signing off would release for an agency, return and period, and what stands in the way."""
    ret = return_of(session, return_id)
    canonical = canonical_period(session, return_id, period)
    built = build_ungated(session, ret, canonical)
    mine = built.lineage.filter(pl.col("agency_code") == agency_code)
    own_cells = set(mine["cell_id"].to_list())
    name = agency_names(session).get(agency_code, agency_code)
    shown = ("cell_id", "field_code", "org_code", "breakdown", "display", "status", "reason")
    labels = dict(
        session.execute(select(FieldMapping.code, FieldMapping.label).where(FieldMapping.return_id == return_id)).all()
    )

    def cell(c: dict[str, Any]) -> dict[str, Any]:
        return {**{k: c[k] for k in shown}, "field_label": labels.get(c["field_code"], "")}

    cells = [cell(c) for c in built.cells.iter_rows(named=True) if c["cell_id"] in own_cells]
    missing = [
        cell(c) for c in built.cells.iter_rows(named=True) if c["status"] == "missing" and name in (c["reason"] or "")
    ]
    figures = figures_of(session, mine["observation_id"].unique().sort().to_list())
    row = find(session, agency_code, return_id, canonical)
    signed = set(row.figure_ids) if row is not None and row.signed_at is not None else set()
    now_ids = {f.id for f in figures}
    added = [f for f in figures if f.id not in signed] if signed else []
    removed = figures_of(session, sorted(signed - now_ids)) if signed else []
    return Review(
        agency_code=agency_code,
        return_id=return_id,
        period=canonical,
        state=row.state if row is not None else OPEN,
        declaration=ret.declaration,
        needs_acceptance=ret.needs_acceptance,
        cells=cells,
        missing=missing,
        blockers=blockers(session, agency_code, return_id, canonical),
        added=added,
        removed=removed,
        digest=digest_of(figures),
        signoff=row,
    )


def review(session: Session, agency: str, return_id: str, period: str) -> ReviewPublic:
    """What signing off an agency's return for a period would release, what stands in the way, and the history.

    A period the return cannot be built for is refused as a build would be (422 for one not yet begun)."""
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"Return {return_id!r} is not defined; see GET /api/returns")
    check_period(session, return_id, canonical_period(session, return_id, period))
    found = gather(session, agency, return_id, period)
    row = found.signoff
    return ReviewPublic(
        signoff=public(row, ret, full=True) if row is not None else open_public(agency, ret, found.period),
        declaration=found.declaration,
        needs_acceptance=found.needs_acceptance,
        signable=found.state in SIGNABLE or bool(found.added),
        cells=found.cells,
        missing=found.missing,
        blockers=found.blockers,
        digest=found.digest,
        changed_since_signoff=[change_public("added", f) for f in found.added]
        + [change_public("removed", f) for f in found.removed],
        history=[event_public(e) for e in history(session, row.id)] if row is not None and row.id else [],
    )
