"""A council's record-level files at the door: refused whole before anything is kept (no file, over the limit, a
file no return is), else kept encrypted and recorded through the one door (``collectors.door``), ready for an
upload worker to take up (``collectors.records.service``); the API answers 202 at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import Engine

from collectors import door
from collectors.checks.policy import EVERY_CHECK
from collectors.door.recognise import CIN, recognise
from collectors.door.requests import RecordFiles
from collectors.records.inputs import check_at_door
from collectors.records.kept import content_hash, keep
from collectors.records.privacy import checked_keys
from collectors.records.senders import another_council
from indicators.periods import read_collection_year
from indicators.store.models import RECORDS_KIND as KIND
from indicators.store.models import Submission
from onereturn.errors import InvalidInput, PayloadTooLarge
from onereturn.settings import Settings

#: What a record-level upload may be for, and the ``mode`` each is stored with: DfE's return (figures derived and
#: stored), or a fresh extract for Ofsted's Annex A (checked by DfE's rules and kept; no figure).
PURPOSES = {"return": "default", "annex_a": "annex_a"}
#: The finished statuses of an earlier upload that sending the same files again may repeat. Not ``rejected``: the
#: council sends refused files again to have them read again (the rules, or the kept file, may have changed since).
REPEATABLE = ("accepted", "queried", "partially_accepted")
#: The way in that takes DfE's own files, as the door reads it and its row in the table of ways in holds it.
WAY = door.Way(
    "records",
    KIND,
    PURPOSES,
    # Kept at the door and left to an upload worker (``collectors.records.service``), which takes it up at once; if
    # none does before the lease runs out (the process stopped), the door's resume does.
    lease=door.Lease.WORKER,
    # The same files for another year are another return, and purged ones are kept no more.
    repeat=door.Repeat(REPEATABLE, by_year=True),
    # The checks the figures derived from a council's files are held to: every one an agency's upload is.
    policy=EVERY_CHECK,
    # Checked at the door (what each file is, whose council), kept only once it passes.
    reads_first=True,
)


@dataclass
class Received:
    """A record-level upload recorded: its submission, and whether it repeats an earlier one."""

    submission: Submission
    duplicate: bool = False


def receive(engine: Engine, settings: Settings, sent: RecordFiles) -> Received:
    """Keep a record-level upload (encrypted) and record its submission, ready for an upload worker; no checks run yet.

    Its ``purpose`` "annex_a": a fresh extract for Ofsted's Annex A, checked by DfE's rules and kept, no figure
    stored. Its ``audit``: its audit event when given (as ``spine.audited`` takes it), committed with the submission."""
    agency_code, files, audit = sent.agency_code, sent.files, sent.audit
    mode = WAY.mode_of(sent.purpose)
    if not files:
        raise InvalidInput("a record-level upload needs at least one file (form field 'files')")
    total = sum(path.stat().st_size for _, path in files)
    if total > settings.max_upload_bytes:
        raise PayloadTooLarge(f"the files are {total:,} bytes; the limit is {settings.max_upload_bytes:,}")
    year = read_collection_year(sent.collection_year)
    read = [(Path(name).name.replace("\x00", "\ufffd") or "upload", path) for name, path in files]
    digest = content_hash(read)
    # The host's records keys are asked for once the files are found to be a return's (a refusal names the file).
    keys = cache(lambda: checked_keys(engine, settings))

    def checked_at_door() -> door.Found[None]:
        for name, path in files:
            # Refused here, before anything is kept: a file no return is, and a ZIP from what it declares, rather
            # than once a worker has inflated it.
            check_at_door(path, Path(name).name, settings.max_upload_bytes)
            # And a CIN census whose header names another council than the uploading agency's.
            seen = recognise(Path(name).name, path)
            if seen.kinds & {CIN}:
                another_council(engine, agency_code, seen.council, f"{Path(name).name!r}", ["Header", "LEA"])
        keys()
        return door.Found(None)

    named = ", ".join(name for name, _ in read)[:255]
    entry = door.Entry(
        WAY.name,
        mode,
        agency_code,
        door.File(named, "records", total, digest, lambda: keep(engine, settings, keys(), digest, read)),
        submitted_by=sent.submitted_by,
        collection_year=year,
        columns={"stage": "received"},
        audit=door.Audit(audit, 202, f"received for {year}; DfE's rules run next") if audit is not None else None,
    )
    return door.through(
        engine,
        settings,
        entry,
        read=checked_at_door,
        store=lambda submission, _: Received(submission),
        repeated=lambda earlier: Received(earlier, duplicate=True),
    )
