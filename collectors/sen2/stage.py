"""A SEN2 file's stage after the door: its figures stored as the council's, under the upload's lease, as a stage of
the door with its failed state and its rerun (the door's).

The door keeps the file sealed and records its children (``collectors.sen2.receiving``); the stage then stores the
figures worked out from it (``collectors.sen2.figures``) and finishes the upload. A fault storing them (the store
refusing a row, say) ends the upload ``failed``, its message naming ``onereturn submissions reprocess N``, and the
answer is that failed upload, not an error; the door runs it again from its kept file (:data:`AGAIN`: read again,
its figures stored), and resumes every SEN2 upload whose stage a stop cut off.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from collectors import door
from collectors.door import head
from collectors.door.spine import CutOff, failure_reason
from collectors.sen2.figures import store_figures
from collectors.sen2.receiving import Stage, kept_message
from collectors.sen2.records import Sen2Records, read_kept_file, read_kept_upload
from collectors.sen2.rules import child_keys
from collectors.sen2.schema import survey_of
from indicators.store.models import Submission
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


def _read_again(engine: Engine, settings: Settings, submission: Submission, data: bytes) -> Sen2Records:
    """The kept file of a SEN2 upload (its sealed ZIP, opened) read again into its tables; Conflict when it is not the
    file received."""
    records, _items = read_kept_upload(engine, settings, submission, read_kept_file, unchanged=True, data=data)
    return records


def _reopened(submission: Submission, records: Sen2Records) -> dict[str, Any]:
    """What a SEN2 upload run again starts with: its children counted, and what the door said of them."""
    children = child_keys(records)
    survey = survey_of(submission.collection_year or "")
    return {
        "stage": "stored",
        "rows_read": len(children),
        "rows_accepted": len(children),
        "message": kept_message(survey, children),
    }


#: How the door runs a failed or interrupted SEN2 upload's stage again from its kept file, and resumes those a stop
#: cut off: its figures stored, under its lease as at the door; failed again (saying why, the upload the answer)
#: when they still cannot be.
AGAIN = door.Again(
    read=_read_again,
    store=lambda engine, _settings, submission, records: figures_stage(engine)(submission, records),
    reopened=_reopened,
    whole=False,
    told=True,
    resumes=True,
)
