"""An SSD extract in hand, however it came (a council's uploaded ZIP, or the tables read from its SSD database on
the schedule), taken through the one path: checked, the year's CIN census and SSDA903 made and each received as
the council's record-level upload, the extract's Annex A rows kept, and DfE's children's social care payloads kept.

The route (``api/uploading.py``) and the scheduled read (``collectors/ssd/database.py``) both call
:func:`receive_extract`; what differs is only who submits it, the audit event, and how DfE's rules are started.
Nothing here logs or puts a value of the extract in a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors import door
from collectors.annex_a.extract_rows import KEPT
from collectors.records import receiving as records
from collectors.records.kept import content_hash
from collectors.schemas import AnnexRowsKept, ExtractRead, ExtractReceipt, MadeFile, PayloadCounts
from collectors.ssd import payload_store
from collectors.ssd.models import CscPayloadExtract
from collectors.ssd.payload import kept_items
from collectors.ssd.service import Made, make_returns
from indicators.store.models import RECORDS_KIND
from mappings.council_ssd import council_ssd
from mappings.geography import dfe_la_number
from mappings.illustrative import councils_of
from onereturn.errors import InvalidInput, PayloadTooLarge
from onereturn.settings import Settings
from onereturn.workspace import private_folder

#: The audit event of a change, given the object it names (``{id}`` for the id the change is given), or None.
Audit = Callable[[str], dict[str, Any] | None]
#: What starts DfE's rules on a record-level upload just received (a repeat is handed over too; it starts nothing).
Start = Callable[[records.Received], None]
#: How each file made from an extract is taken in: by the table of ways in, handed down (``records.receive``'s keywords).
TakeFile = Callable[..., records.Received]
#: How the Annex A rows of an extract are kept (the table's ``annex_a_ssd`` way, handed down), by
#: ``keep_from_extract``'s keywords; its answer is the upload's id.
TakeRows = Callable[..., int]
#: The way in that takes a council's SSD extract, as the door reads it and its row in the table of ways in holds it.
WAY = door.Way(
    "ssd",
    RECORDS_KIND,
    # An extract is made into DfE's files for the same purposes as DfE's files sent.
    records.PURPOSES,
    # It records no upload of its own: each file made is left to an upload worker, as DfE's files sent are.
    lease=door.Lease.WORKER,
    # An extract repeats the one sent before when every file made from it repeats an earlier upload and no other
    # upload of the council has stored a figure since (``collectors.door.through_set``).
    repeat=door.Repeat(records.REPEATABLE, by_year=True, of_set=True),
)


@dataclass
class Taken:
    """What one extract gave: the files made, each received as a submission, the Annex A upload and the payloads."""

    name: str
    made: Made
    received: list[records.Received] = field(default_factory=list)
    annex_id: int | None = None
    payloads: CscPayloadExtract | None = None

    def body(self) -> dict[str, Any]:
        """The answer the API gives for the extract (202), as its JSON: what was read, made (each file made's
        submission, its status and whether it repeats an earlier one) and kept."""
        made, kept = self.made, self.payloads
        assert kept is not None
        assert kept.id is not None
        annex = AnnexRowsKept(id=self.annex_id, tables=sorted(made.annex_a)) if self.annex_id is not None else None
        payloads = PayloadCounts(
            extract_id=kept.id,
            run_date=kept.run_date.isoformat(),
            children=kept.children,
            new=kept.new,
            updated=kept.updated,
            unchanged=kept.unchanged,
            deleted=kept.deleted,
        )
        submissions = [
            MadeFile(
                id=r.submission.id or 0,
                filename=r.submission.filename,
                status=r.submission.status,
                duplicate=r.duplicate,
                location=f"/api/submissions/{r.submission.id}",
            )
            for r in self.received
        ]
        return ExtractReceipt(
            extract=ExtractRead(file=self.name, rows=made.rows, notes=made.notes, annex_a=annex),
            submissions=submissions,
            csc_api_payloads=payloads,
        ).model_dump(mode="json")

    def changed(self) -> bool:
        """Whether the extract stored anything new (a file made that was not a repeat)."""
        return any(not r.duplicate for r in self.received)


def made_from(engine: Engine, settings: Settings, agency_code: str, year: str, name: str, path: Path) -> Made:
    """The extract checked and the year's files made, for the council the agency answers for."""
    with Session(engine) as session:
        councils = councils_of(session, agency_code)
        own = council_ssd(session, agency_code)
    if len(councils) != 1:
        raise InvalidInput(f"an SSD extract is a council's: agency {agency_code} answers for {len(councils)} councils")
    lea = dfe_la_number(councils[0].rules_as)
    if lea is None:
        raise InvalidInput(f"{councils[0].rules_as} has no DfE council number, which the CIN census's header needs")
    # DfE's payloads read a few more columns; names, UPNs and postcodes only where the council switched them on.
    made = make_returns(
        path,
        name,
        year,
        lea,
        max_unpacked=settings.max_upload_bytes,
        keep=kept_items(identifiers=own.payload_identifiers),
        worker_roles=tuple(own.worker_roles),
    )
    if made.extract is not None:
        # The payloads are built as the extract was read: the council's settings are read once for both.
        made.extract.identifiers = own.payload_identifiers
    return made


def _within_limit(made: Made, name: str, settings: Settings) -> None:
    """Hold every file made to the upload limit before any is received, so none is kept when another cannot be."""
    for file_name, data in made.files:
        if len(data) > settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"the {file_name} made from {name} is {len(data):,} bytes, over the upload limit of "
                f"{settings.max_upload_bytes:,}; nothing was kept"
            )


def _files_made(received: list[records.Received]) -> pl.DataFrame:
    """The uploads of the files made from an extract, kept with its Annex A rows: Annex A reads the extract's rows with
    those files alone (one set of children), and says so when one of them is refused."""
    return pl.DataFrame(
        {"file": [r.submission.filename for r in received], "submission_id": [r.submission.id for r in received]},
        schema=KEPT["made_files"],
    )


def _spooled(work: Path, made: Made) -> list[tuple[str, Path]]:
    """Each file made from an extract written to ``work``, as (name, path): taken in as a council's file sent is."""
    for file_name, data in made.files:
        (work / file_name).write_bytes(data)
    return [(file_name, work / file_name) for file_name, _ in made.files]


def receive_extract(
    engine: Engine,
    settings: Settings,
    *,
    agency_code: str,
    collection_year: str,
    name: str,
    path: Path,
    submitted_by: str,
    start: Start,
    audit: Audit = lambda _: None,
    take_file: TakeFile,
    take_rows: TakeRows,
    purpose: str = "return",
) -> Taken:
    """Check the extract at ``path``, make the year's files and receive each (``start`` starts DfE's rules on it), keep
    its Annex A rows and DfE's payloads; a refused extract, or a file made over the limit, keeps nothing."""
    if purpose not in WAY.purposes:
        raise InvalidInput(f"purpose must be one of {', '.join(WAY.purposes)}, not {purpose[:40]!r}")
    made = made_from(engine, settings, agency_code, collection_year, name, path)
    _within_limit(made, name, settings)
    # DfE's payloads are built before anything is kept: an extract they cannot be built from keeps nothing.
    extract, made.extract = made.extract, None
    assert extract is not None
    prepared = payload_store.prepare(extract, payload_store.today(settings), identifiers=extract.identifiers)
    taken = Taken(name, made)
    with private_folder(settings, "ssd-") as work:

        def take_one(named: tuple[str, Path]) -> records.Received:
            received = take_file(
                agency_code=agency_code,
                collection_year=collection_year,
                files=[named],
                submitted_by=submitted_by,
                purpose=purpose,
                audit=audit(f"submission {{id}} (agency {agency_code}, {named[0]} from {name})"),
            )
            start(received)
            return received

        # By the way's repeat key of a set: a repeat as a whole (answered with its files, nothing kept again) or not.
        taken.received = door.through_set(
            engine,
            WAY.name,
            _spooled(Path(work), made),
            digest=lambda named: content_hash([named]),
            take=take_one,
            repeated=lambda earlier: records.Received(earlier, duplicate=True),
            agency_code=agency_code,
            mode=WAY.purposes[purpose],
            collection_year=collection_year,
        )
    # Through the table of ways in, as each file made is.
    taken.annex_id = take_rows(
        agency_code=agency_code,
        year=collection_year,
        filename=name,
        tables={**made.annex_a, "made_files": _files_made(taken.received)},
        submitted_by=submitted_by,
    )
    taken.payloads = payload_store.keep(
        engine,
        settings,
        agency_code=agency_code,
        collection_year=collection_year,
        filename=name,
        content_hash=payload_store.file_hash(path),
        prepared=prepared,
    )
    return taken
