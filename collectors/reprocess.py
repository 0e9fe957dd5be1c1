"""Running a failed or interrupted upload again from its kept files, whichever way it came in."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session

from collectors import service
from collectors.published.intake import rerun_release
from collectors.records import service as records
from collectors.spine import Outcome
from indicators.models import RECORDS_KIND, Submission
from onereturn.errors import NotFound
from onereturn.settings import Settings


def reprocess(engine: Engine, settings: Settings, submission_id: int) -> Outcome:
    """Run a failed or interrupted upload again from its kept raw file (a record-level upload from its kept files, a
    publisher's file as a release of its source)."""
    with Session(engine) as session:
        submission = session.get(Submission, submission_id)
        if submission is None:
            raise NotFound(f"Submission {submission_id} does not exist")
        kind, status = submission.kind, submission.status
    if kind == RECORDS_KIND and status in service.RERUNNABLE:
        return Outcome(records.rerun(engine, settings, submission_id), None)
    if kind == "published":
        # A publisher's file is read again as the release of its source, never as a template of figures.
        return Outcome(rerun_release(engine, submission_id, settings), None)
    return service.rerun(engine, settings, submission_id)
