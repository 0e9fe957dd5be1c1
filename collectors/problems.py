"""An upload's problems in bounded memory: written in batches, read back a page or a stream at a time.

A million-row file can have a million problems. They are written through the driver's bulk path in
batches (never as a million Python dicts), a response shows the first :data:`SHOWN` with the total,
and the downloadable reports stream every one of them from the database.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import polars as pl
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from collectors.checks.checked import problem_frame
from indicators.store.models import SubmissionProblem
from onereturn.db import bulk_insert
from onereturn.spreadsheet import neutralise

#: Problems shown in a response; the downloadable reports hold every one.
SHOWN = 1000
#: Problems written or read per batch.
BATCH = 20_000
FIELDS = ("row", "column", "value", "rule", "severity", "message")
_INSERT_COLUMNS = ("submission_id", *FIELDS)


def write_problems(session: Session, submission_id: int, problems: pl.DataFrame) -> None:
    """Insert an upload's problems in batches through the driver's bulk path, inside the caller's transaction."""
    if problems.is_empty():
        return
    batches = (
        ((submission_id, *row) for row in batch.iter_rows()) for batch in problems.select(FIELDS).iter_slices(BATCH)
    )
    bulk_insert(session, "submission_problem", _INSERT_COLUMNS, batches)


def ordered_problems(submission_id: int) -> Any:
    """Select an upload's problems (their six fields) in row order, ties in the order they were found."""
    return (
        select(*(getattr(SubmissionProblem, f) for f in FIELDS))
        .where(SubmissionProblem.submission_id == submission_id)
        .order_by(col(SubmissionProblem.row), col(SubmissionProblem.id))
    )


def first_problems(session: Session, submission_id: int, limit: int = SHOWN) -> tuple[pl.DataFrame, int]:
    """Return the first ``limit`` problems in row order, and how many there are in all."""
    total = session.execute(select(func.count()).where(SubmissionProblem.submission_id == submission_id)).scalar_one()
    rows = session.execute(ordered_problems(submission_id).limit(limit)).all()
    return problem_frame([dict(zip(FIELDS, r, strict=True)) for r in rows]), int(total)


def iter_problems(engine: Engine, submission_id: int) -> Iterator[tuple[Any, ...]]:
    """Yield every problem in row order, fetched a batch at a time on a session of its own (for streaming)."""
    with Session(engine) as session:
        result = session.execute(ordered_problems(submission_id).execution_options(yield_per=BATCH))
        for row in result:
            yield tuple(row)


def problems_csv(rows: Iterator[tuple[Any, ...]]) -> Iterator[bytes]:
    """Write problems as CSV (UTF-8 with BOM, for Excel), about 64 KiB at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    buffer.write("\ufeff")
    writer.writerow(FIELDS)
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) if isinstance(v, str) else v for v in row])
        if buffer.tell() > 65536:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")
