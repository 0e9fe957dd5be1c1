"""A SEN2 file's stage after the door: its figures stored as the council's, under the upload's lease, as a stage of
the door with its failed state and its rerun.

The door keeps the file sealed and records its children (``collectors.sen2.receiving``); the stage then stores the
figures worked out from it (``collectors.sen2.figures``) and finishes the upload. A fault storing them (the store
refusing a row, say) ends the upload ``failed``, its message naming ``onereturn submissions reprocess N``, and the
answer is that failed upload, not an error; :func:`rerun` reads the kept file again and stores its figures, and
:func:`resume` takes up every SEN2 upload whose stage a stop cut off.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors import door
from collectors.door import head, lease
from collectors.door.spine import CutOff, Outcome, failure_reason
from collectors.sen2.figures import store_figures
from collectors.sen2.receiving import PURPOSE, KeptSen2, Stage, kept_message, receive
from collectors.sen2.records import Sen2Records, read_kept_file, read_kept_upload
from collectors.sen2.rules import child_keys
from collectors.sen2.schema import survey_of
from indicators.store.models import RECORDS_KIND, Submission
from onereturn.errors import NotFound, ProcessingFailed
from onereturn.settings import Settings


class FiguresNotStored(Exception):
    """The figures of a kept SEN2 file could not be stored: what the upload is told, and how to run it again."""

    def __init__(self, cause: Exception, said: str) -> None:
        super().__init__(type(cause).__name__)
        self.reason, self.said = failure_reason(cause, quote=False), said

    def after_failure(self, submission_id: int) -> str:
        """The failed upload's message: its file kept, its figures not stored, and the command that stores them."""
        return (
            f"{self.said}; but its figures could not be stored ({self.reason}), so none of them was: the file is kept "
            f"and its figures are stored by running it again (onereturn submissions reprocess {submission_id})"
        )


def figures_stage(engine: Engine) -> Stage:
    """The stage for uploads to ``engine``: the file's figures stored, or, where none is stored (the council is the
    source of none), the upload finished accepted with what the door said of it."""

    def stage(submission: Submission, records: Sen2Records) -> Submission:
        try:
            if store_figures(engine, submission, records) is None:
                head.settle(engine, submission, status="accepted", message=submission.message)
        except CutOff:
            raise  # another worker has the upload
        except Exception as exc:
            raise FiguresNotStored(exc, submission.message) from exc
        return submission

    return stage


def take(engine: Engine, settings: Settings, **request: Any) -> KeptSen2:
    """Take a SEN2 file through the door and its figures' stage (``request``: ``receiving.receive``'s keywords): kept,
    then its figures stored (or the upload failed, saying how to run it again)."""
    return receive(engine, settings, **request, stage=figures_stage(engine))


def rerun(engine: Engine, settings: Settings, submission_id: int) -> Outcome:
    """Run a failed or interrupted SEN2 upload's stage again from its kept file: its figures stored, under its lease
    as at the door; failed again (saying why) when they still cannot be."""
    with Session(engine, expire_on_commit=False) as session:
        submission = head.rerunnable(session, submission_id, kind=RECORDS_KIND)
    if submission.mode != PURPOSE:
        raise NotFound(f"Submission {submission_id} is not a SEN2 upload")
    records, _items = read_kept_upload(engine, settings, submission, read_kept_file, unchanged=True)
    children = child_keys(records)
    count = len(children)
    opened = head.reopen(
        engine,
        settings,
        submission_id,
        kind=RECORDS_KIND,
        stage="stored",
        rows_read=count,
        rows_accepted=count,
        message=kept_message(survey_of(submission.collection_year or ""), children),
    )
    # A failure ends it failed, saying why and how to run it again: the answer is the upload as it ended.
    with suppress(ProcessingFailed):
        door.stored(engine, opened, settings.upload_lease_seconds, figures_stage(engine), records)
    with Session(engine, expire_on_commit=False) as session:
        found = session.get(Submission, submission_id)
    assert found is not None
    return Outcome(found, None)


def resume(engine: Engine, settings: Settings) -> list[int]:
    """Take up every SEN2 upload whose stage a stop cut off (interrupted, or its lease run out) and run it again;
    return their ids."""
    sen2 = (col(Submission.kind) == RECORDS_KIND, col(Submission.mode) == PURPOSE)
    with Session(engine) as session:
        # Its worker is gone: interrupted, as a start marks every such upload, so that it may be run again.
        lease.mark_expired(session, only=sen2)
        session.commit()
        waiting = [
            int(i)
            for i in session.exec(
                select(Submission.id).where(*sen2, col(Submission.status) == "interrupted").order_by(col(Submission.id))
            )
            if i is not None
        ]
    for submission_id in waiting:
        rerun(engine, settings, submission_id)
    return waiting
