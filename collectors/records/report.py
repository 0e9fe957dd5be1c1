"""A council's own record-level report: DfE's findings with each child shown by the council's own id."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from collectors.records.models import RecordChild, RecordProblem
from collectors.records.privacy import keys_for
from collectors.schemas import RecordFinding
from onereturn.settings import Settings


def findings_page(
    session: Session, settings: Settings, submission_id: int, *, limit: int, offset: int
) -> tuple[list[RecordFinding], int]:
    """One page of an upload's findings by child, in table and row order, and how many there are in all."""
    total = session.execute(select(func.count()).where(col(RecordProblem.submission_id) == submission_id)).scalar_one()
    rows = session.execute(
        select(RecordProblem, RecordChild.child_sealed)
        .outerjoin(
            RecordChild,
            (col(RecordChild.submission_id) == col(RecordProblem.submission_id))
            & (col(RecordChild.pseudonym) == col(RecordProblem.child)),
        )
        .where(col(RecordProblem.submission_id) == submission_id)
        .order_by(col(RecordProblem.record_table), col(RecordProblem.row), col(RecordProblem.id))
        .limit(limit)
        .offset(offset)
    ).all()
    keys = keys_for(settings)
    items = [
        RecordFinding(
            rule=p.rule,
            severity=p.severity,
            message=p.message,
            table=p.record_table,
            child=keys.open_text(sealed) if sealed is not None else None,
            row=p.row,
            fields=p.fields,
        )
        for p, sealed in rows
    ]
    return items, int(total)
