"""Queries: figures an upload holds back until someone explains them with a note.

A query (DfE COLLECT's word: data that is "unusual or unexpected") never blocks the other rows.
The queried figure waits here; it is stored when the agency answers the query through the API
with a note, or sends the figure again with a note in the file. A later upload of the same
figure supersedes the wait.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sqlalchemy import insert
from sqlmodel import Session, col, func, select

from collectors.store import KEY, current_figures, split_changes, write_figures
from errors import InvalidInput, NotFound
from indicators.models import HeldFigure, Submission

_FIGURE = (
    "indicator_id",
    "org_code",
    "period",
    "breakdown",
    "value",
    "numerator",
    "denominator",
    "symbol",
    "flag",
    "status",
)


def upload_status(*, errors: int, stored: int, held: int) -> str:
    """Name an upload's state: errors make it partial (or rejected), open queries make it queried."""
    if errors:
        return "partially_accepted" if stored or held else "rejected"
    if held:
        return "queried"
    return "accepted" if stored else "rejected"


def hold_figures(session: Session, submission_id: int, held: pl.DataFrame) -> None:
    """Keep the figures held by queries, to be stored once answered."""
    if held.is_empty():
        return
    rows = held.select(*_FIGURE, "file_row").with_columns(pl.lit(submission_id).alias("submission_id"))
    session.execute(insert(HeldFigure), rows.to_dicts())


def supersede_held(session: Session, agency_code: str, accepted: pl.DataFrame) -> None:
    """Close the open queries of earlier uploads whose figure this upload has now given (with a note, or changed)."""
    open_held = (
        session.execute(
            select(HeldFigure)
            .join(Submission, col(Submission.id) == col(HeldFigure.submission_id))
            .where(Submission.agency_code == agency_code, HeldFigure.state == "open")
        )
        .scalars()
        .all()
    )
    if not open_held or accepted.is_empty():
        return
    given = set(accepted.select(KEY).iter_rows())
    touched: set[int] = set()
    for figure in open_held:
        if (figure.indicator_id, figure.org_code, figure.period, figure.breakdown) in given:
            figure.state = "superseded"
            touched.add(figure.submission_id)
    session.flush()
    for submission_id in touched:
        _refresh(session, submission_id)


def _refresh(session: Session, submission_id: int) -> None:
    """Recount a submission's open queries and name its state again."""
    sub = session.get(Submission, submission_id)
    assert sub is not None
    still_open = int(
        session.execute(
            select(func.count())
            .select_from(HeldFigure)
            .where(HeldFigure.submission_id == submission_id, HeldFigure.state == "open")
        ).scalar_one()
    )
    sub.queries_open = still_open
    if sub.status == "queried" and not still_open:
        # Nothing of it stored and every query closed by a later upload: the later upload stands instead.
        sub.status = "accepted" if sub.rows_accepted else "superseded"
    session.add(sub)


def list_held(session: Session, submission_id: int) -> list[HeldFigure]:
    """List a submission's queried figures in file order, open or closed."""
    return list(
        session.execute(
            select(HeldFigure).where(HeldFigure.submission_id == submission_id).order_by(col(HeldFigure.file_row))
        ).scalars()
    )


def answer(session: Session, submission: Submission, held_id: int, *, note: str, answered_by: str) -> HeldFigure:
    """Store a queried figure with the note that explains it; the submission's counts and state follow."""
    note = note.strip()
    if not note:
        raise InvalidInput("Explain the figure: the note may not be empty")
    figure = session.get(HeldFigure, held_id)
    if figure is None or figure.submission_id != submission.id:
        raise NotFound(f"Submission {submission.id} has no queried figure {held_id}")
    if figure.state != "open":
        raise InvalidInput(f"The query on row {figure.file_row} is already closed ({figure.state})")
    assert submission.id is not None
    row = {k: getattr(figure, k) for k in _FIGURE} | {"note": note, "file_row": figure.file_row}
    accepted = pl.DataFrame([row], schema_overrides={"value": pl.Float64, "numerator": pl.Float64, "denominator": pl.Float64, "symbol": pl.String, "flag": pl.String})  # fmt: skip
    current = current_figures(session, [figure.indicator_id], [figure.org_code])
    changed, _ = split_changes(accepted, current)
    write_figures(session, changed, submission_id=submission.id, recorded_at=datetime.now(UTC))
    figure.state, figure.note, figure.answered_by, figure.answered_at = "answered", note, answered_by, datetime.now(UTC)
    session.add(figure)
    submission.rows_accepted += 1
    session.add(submission)
    session.flush()
    _refresh(session, submission.id)
    return figure
