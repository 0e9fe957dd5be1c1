"""Queries: figures an upload holds back until someone explains them with a note.

A query (DfE COLLECT's word: data that is "unusual or unexpected") never blocks the other rows.
The queried figure waits here; it is stored when the agency answers the query through the API
with a note, or sends the figure again with a note in the file. A later upload of the same
figure supersedes the wait.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
from sqlalchemy import tuple_, update
from sqlmodel import Session, col, func, select

from collectors.store import KEY, current_figures, lock_pairs, split_changes, write_figures
from indicators.store.figures import FIGURE_KEY, FIGURE_NUMBERS
from indicators.store.models import PUBLISHED_KIND, HeldFigure, Submission
from mappings.signoff.reopen import reopen_for_upload
from onereturn.db import bulk_insert, rows_frame
from onereturn.errors import InvalidInput, NotFound

_FIGURE = (*FIGURE_KEY, *FIGURE_NUMBERS, "symbol", "flag", "status")
#: The mode of a SEN2 upload (``collectors.sen2``, a room above): its rows are the file's children, accepted whole at
#: the door, so a figure stored once its query is answered adds no row.
SEN2_MODE = "sen2"


def upload_status(*, errors: int, stored: int, held: int) -> str:
    """Name an upload's state: errors make it partial (or rejected), open queries make it queried."""
    if errors:
        return "partially_accepted" if stored or held else "rejected"
    if held:
        return "queried"
    return "accepted" if stored else "rejected"


#: Held figures written, read or closed per batch: an upload can hold a query on every one of a million rows.
BATCH = 20_000
#: (indicator, period) pairs named in one read of open queries (two bound parameters each).
_PAIR_BATCH = 400
#: Ids named in one UPDATE (well under SQLite's and PostgreSQL's limits on bound parameters).
_CLOSE_BATCH = 5_000


def hold_figures(session: Session, submission_id: int, held: pl.DataFrame) -> None:
    """Keep the figures held by queries, to be stored once answered, in batches through the driver's bulk path."""
    if held.is_empty():
        return
    columns = ("submission_id", "file_row", *_FIGURE, "state")
    batches = (
        ((submission_id, *row, "open") for row in part.iter_rows())
        for part in held.select("file_row", *_FIGURE).iter_slices(BATCH)
    )
    bulk_insert(session, "held_figure", columns, batches)


def supersede_held(session: Session, agency_code: str, accepted: pl.DataFrame) -> None:
    """Close the open queries of earlier uploads whose figure this upload has now given (with a note, or changed)."""
    if accepted.is_empty():
        return
    # Only the open queries in the upload's own (indicator, period) pairs are read, through their index: read
    # for the whole agency, every upload paid for every other's queries (24,000 open: 0.12 s for 5,000 figures).
    schema = {"id": pl.Int64, "submission_id": pl.Int64, **dict.fromkeys(KEY, pl.String)}
    pairs = accepted.select("indicator_id", "period").unique().sort("indicator_id", "period").rows()
    given: pl.DataFrame | None = None
    matched = [pl.DataFrame(schema=schema).select("id", "submission_id")]
    for start in range(0, len(pairs), _PAIR_BATCH):
        result = session.execute(
            select(col(HeldFigure.id), col(HeldFigure.submission_id), *(getattr(HeldFigure, k) for k in KEY))
            .join(Submission, col(Submission.id) == col(HeldFigure.submission_id))
            .where(
                tuple_(col(HeldFigure.indicator_id), col(HeldFigure.period)).in_(pairs[start : start + _PAIR_BATCH]),
                HeldFigure.state == "open",
                Submission.agency_code == agency_code,
            )
            .execution_options(yield_per=BATCH)
        )
        for part in result.partitions():
            # The upload's keys, made only when it meets an open query: most uploads meet none.
            given = accepted.select(KEY).unique() if given is None else given
            found = rows_frame(part, schema)
            matched.append(found.join(given, on=KEY, how="semi").select("id", "submission_id"))
    closed = pl.concat(matched)
    if closed.is_empty():
        return
    ids = closed["id"].sort().to_list()
    for start in range(0, len(ids), _CLOSE_BATCH):
        session.execute(
            update(HeldFigure)
            .where(col(HeldFigure.id).in_(ids[start : start + _CLOSE_BATCH]))
            .values(state="superseded"),
            execution_options={"synchronize_session": False},
        )
    for submission_id in closed["submission_id"].unique().sort().to_list():
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
        # (A publisher's release was stored whatever its figures held: its own figures are kept beside the store's.)
        sub.status = "accepted" if sub.rows_accepted or sub.kind == PUBLISHED_KIND else "superseded"
    session.add(sub)


def list_held(session: Session, submission_id: int) -> list[HeldFigure]:
    """List a submission's queried figures in file order, open or closed."""
    return list(
        session.execute(
            select(HeldFigure).where(HeldFigure.submission_id == submission_id).order_by(col(HeldFigure.file_row))
        ).scalars()
    )


def answer(
    session: Session,
    submission: Submission,
    held_id: int,
    *,
    note: str,
    answered_by: str,
    into_store: bool = True,
    published: bool = False,
) -> HeldFigure:
    """Store a queried figure with the note that explains it; the submission's counts and state follow.

    A publisher's held figure is confirmed through the published intake (``published``), which keeps it as the
    publisher's too; where another body answers for the cell it is not stored as a figure (``into_store`` False).
    """
    note = note.strip()
    if not note:
        raise InvalidInput("Explain the figure: the note may not be empty")
    if submission.kind == PUBLISHED_KIND and not published:
        raise InvalidInput(
            f"Submission {submission.id} is a publisher's release: confirm its figures at "
            f"POST /api/published/queries/{held_id}, which keeps them as the publisher's"
        )
    figure = session.get(HeldFigure, held_id)
    if figure is None or figure.submission_id != submission.id:
        raise NotFound(f"Submission {submission.id} has no queried figure {held_id}")
    if figure.state != "open":
        raise InvalidInput(f"The query on row {figure.file_row} is already closed ({figure.state})")
    assert submission.id is not None
    row = {k: getattr(figure, k) for k in _FIGURE} | {"note": note, "file_row": figure.file_row}
    accepted = pl.DataFrame(
        [row],
        schema_overrides={
            "value": pl.Float64,
            "numerator": pl.Float64,
            "denominator": pl.Float64,
            "symbol": pl.String,
            "flag": pl.String,
        },
    )
    if into_store:
        lock_pairs(session, accepted)
        current = current_figures(session, [figure.indicator_id], [figure.org_code])
        changed, _ = split_changes(accepted, current)
        write_figures(session, changed, submission_id=submission.id, recorded_at=datetime.now(UTC))
        reopen_for_upload(session, submission.id, changed)
        if submission.mode != SEN2_MODE:
            submission.rows_accepted += 1
    figure.state, figure.note, figure.answered_by, figure.answered_at = "answered", note, answered_by, datetime.now(UTC)
    session.add(figure)
    session.add(submission)
    session.flush()
    _refresh(session, submission.id)
    return figure
