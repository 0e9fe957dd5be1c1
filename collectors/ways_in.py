"""Every way figures come in, in one table: the submission's kind -> the way in that takes it.

Each way in keeps its file and records its submission through the shared head (``collectors.head``), reads its
file into figures in its own way, checks them under its own policy (``validate.Policy``: an agency's file and a
council's derived figures every check, a publisher's release ``published.check.publisher_policy``) and stores them
through the shared tail (``collectors.spine``). The API's upload route, the upload processes, the scheduler and
``onereturn submissions reprocess`` choose the way in here, by kind, and ask it to take an upload, take up one
received, resume those whose worker stopped, or run a failed one again.

A council's SSD extract is made into record-level files and received as those (``collectors.ssd``); Annex A's
columns are kept as a record-level upload of their own purpose and read when Annex A is built: neither has a kind
of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Engine
from sqlmodel import Session

from collectors import service
from collectors.head import FIGURES_KIND, PUBLISHED_KIND
from collectors.published import intake
from collectors.records import service as records
from collectors.sen2 import figures as sen2_figures
from collectors.sen2 import receiving as sen2
from collectors.spine import Outcome
from indicators.store.models import RECORDS_KIND, Submission
from onereturn.errors import InvalidInput, NotFound
from onereturn.settings import Settings


class WayIn(Protocol):
    """One way figures come in, as the table's users see it."""

    @property
    def kind(self) -> str:
        """The ``Submission.kind`` of its uploads."""
        ...

    def take(self, engine: Engine, settings: Settings, request: dict[str, Any]) -> Outcome:
        """Take one upload in hand, from its bytes to its outcome (or its receipt, where a worker goes on)."""
        ...

    def rerun(self, engine: Engine, settings: Settings, submission_id: int) -> Outcome:
        """Run a failed or interrupted upload again from its kept file."""
        ...


@runtime_checkable
class Waiting(WayIn, Protocol):
    """A way in whose uploads are received at once and taken up by a worker (a council's record-level files): a
    file of figures or a publisher's release is taken whole while its request waits, and a cut-off one is run
    again, never resumed."""

    def take_up(self, engine: Engine, settings: Settings, submission_id: int) -> Submission:
        """Take up an upload received and waiting for a worker, and run it to its end."""
        ...

    def resume(self, engine: Engine, settings: Settings) -> list[int]:
        """Take up every upload whose worker stopped and run it on; return their ids."""
        ...


@dataclass(frozen=True)
class _Figures:
    """An agency's template or file of figures: read, checked and stored while the request waits."""

    kind: str = FIGURES_KIND

    def take(self, engine: Engine, settings: Settings, request: dict[str, Any]) -> Outcome:
        """Keep, check and store one file of figures (or check only, for a dry run)."""
        return service.submit(engine, settings, **request)

    def rerun(self, engine: Engine, settings: Settings, submission_id: int) -> Outcome:
        """Read, check and store the kept file again."""
        return service.rerun(engine, settings, submission_id)


@dataclass(frozen=True)
class _Records:
    """A council's record-level files (or its SSD extract made into them): received at once, taken up by a worker."""

    kind: str = RECORDS_KIND

    def take(self, engine: Engine, settings: Settings, request: dict[str, Any]) -> Outcome:
        """Keep the files (encrypted) and record the submission; a worker takes it up (``take_up``). A SEN2 file is
        checked whole at the door and kept accepted, no worker needed."""
        if not sen2.is_sen2(request["files"]):
            received = records.receive(engine, settings, **request)
            return Outcome(received.submission, None, duplicate=received.duplicate)
        kept = sen2.receive(engine, settings, **request)
        if kept.duplicate:
            return Outcome(kept.submission, None, duplicate=True)
        # The file is accepted and kept: its figures are then stored as the council's, as a step of their own.
        sen2_figures.store_figures(engine, settings, kept.submission)
        return Outcome(kept.submission, None)

    def take_up(self, engine: Engine, settings: Settings, submission_id: int) -> Submission:
        """DfE's rules, the figures derived, checked and stored."""
        return records.process_records(engine, settings, submission_id)

    def resume(self, engine: Engine, settings: Settings) -> list[int]:
        """Take up every record-level upload whose worker stopped."""
        return records.resume_records(engine, settings)

    def rerun(self, engine: Engine, settings: Settings, submission_id: int) -> Outcome:
        """Run it again from its kept files."""
        return Outcome(records.rerun(engine, settings, submission_id), None)


@dataclass(frozen=True)
class _Published:
    """A publisher's release: read in the publisher's own layout, checked and stored whole or not at all."""

    kind: str = PUBLISHED_KIND

    def take(self, engine: Engine, settings: Settings, request: dict[str, Any]) -> Outcome:
        """Import one release of a declared source (``spec``) from the publisher's file."""
        done = intake.import_release(engine, settings, **request)
        with Session(engine, expire_on_commit=False) as session:
            submission = session.get(Submission, done.release.submission_id)
        return Outcome(submission, None, duplicate=done.duplicate)

    def rerun(self, engine: Engine, settings: Settings, submission_id: int) -> Outcome:
        """Import the kept file again as the release of the source it was imported as."""
        return Outcome(intake.rerun_release(engine, submission_id, settings), None)


#: The one table of ways in: a submission's kind -> the way in that takes it.
WAYS_IN: dict[str, WayIn] = {way.kind: way for way in (_Figures(), _Records(), _Published())}


def way_in(kind: str) -> WayIn:
    """The way in that takes uploads of ``kind``."""
    try:
        return WAYS_IN[kind]
    except KeyError:
        raise InvalidInput(f"no way in takes uploads of kind {kind!r}") from None


def waiting_way_in(kind: str) -> Waiting:
    """The way in that takes uploads of ``kind``, which are taken up by a worker once received."""
    way = way_in(kind)
    if not isinstance(way, Waiting):
        raise InvalidInput(f"uploads of kind {kind!r} are taken whole as they are sent, never left for a worker")
    return way


def reprocess(engine: Engine, settings: Settings, submission_id: int) -> Outcome:
    """Run a failed or interrupted upload again from its kept file, by the way in it came (a record-level upload
    from its kept files, a publisher's file as a release of its source)."""
    with Session(engine) as session:
        submission = session.get(Submission, submission_id)
        if submission is None:
            raise NotFound(f"Submission {submission_id} does not exist")
        kind = submission.kind
    return way_in(kind).rerun(engine, settings, submission_id)


def resume_all(engine: Engine, settings: Settings) -> dict[str, list[int]]:
    """Take up every upload of every way in whose worker stopped; their ids by kind (only kinds with any)."""
    resumed = {kind: way.resume(engine, settings) for kind, way in WAYS_IN.items() if isinstance(way, Waiting)}
    return {kind: ids for kind, ids in resumed.items() if ids}
