"""A council's own record-level report: DfE's findings with each child shown by the council's own id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from collectors.records.models import RecordChild, RecordProblem
from collectors.records.privacy import checked_keys
from collectors.schemas import RecordFinding
from onereturn.settings import Settings


def findings_page(
    session: Session, settings: Settings, submission_id: int, *, limit: int, offset: int, rule: str | None = None
) -> tuple[list[RecordFinding], int]:
    """One page of an upload's findings by child (of one rule, if given), in table and row order, and how many
    there are in all."""
    which = col(RecordProblem.submission_id) == submission_id
    if rule is not None:
        which = which & (col(RecordProblem.rule) == rule)
    total = session.execute(select(func.count()).where(which)).scalar_one()
    rows = session.execute(
        select(RecordProblem, RecordChild.child_sealed)
        .outerjoin(
            RecordChild,
            (col(RecordChild.submission_id) == col(RecordProblem.submission_id))
            & (col(RecordChild.pseudonym) == col(RecordProblem.child)),
        )
        .where(which)
        .order_by(col(RecordProblem.record_table), col(RecordProblem.row), col(RecordProblem.id))
        .limit(limit)
        .offset(offset)
    ).all()
    keys = checked_keys(session.get_bind(), settings)
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


@dataclass(frozen=True)
class RuleTally:
    """How often one of DfE's rules failed in an upload: its code, severity, message, tables, places and children."""

    rule: str
    severity: str
    message: str
    tables: tuple[str, ...]
    places: int
    children: int


def findings_by_rule(session: Session, submission_id: int) -> list[RuleTally]:
    """Each rule that failed in an upload with how many places and children it failed for (no child named)."""
    # SQLAlchemy's own select: SQLModel's is typed for at most four columns.
    rows = session.execute(
        sa_select(
            col(RecordProblem.rule),
            func.min(RecordProblem.severity),
            func.min(RecordProblem.message),
            func.count(),
            func.count(func.distinct(RecordProblem.child)),
        )
        .where(col(RecordProblem.submission_id) == submission_id)
        .group_by(col(RecordProblem.rule))
    ).all()
    tables: dict[str, set[str]] = {}
    for rule, table in session.execute(
        select(RecordProblem.rule, RecordProblem.record_table)
        .where(col(RecordProblem.submission_id) == submission_id)
        .distinct()
    ).all():
        if table:
            tables.setdefault(rule, set()).add(table)
    tallies = [
        RuleTally(str(r), str(s), str(m), tuple(sorted(tables.get(r, ()))), int(n), int(c)) for r, s, m, n, c in rows
    ]
    return sorted(tallies, key=lambda t: (-t.places, t.rule))
