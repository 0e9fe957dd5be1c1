"""The files made from a council's SSD extract and DfE's payloads built from it, opened for its approver: the checks
and reads the API's routes (``api/routes/record_files.py``, ``api/routes/csc_api.py``) and the council's pages
(``api/web/record_files.py``) share, so a page never hands over what the route would refuse."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from api.principal import Principal
from api.scopes import read_scope
from collectors.records import senders
from collectors.records.kept import CIN_FILE, SSDA903_FILE, kept_files
from collectors.records.privacy import checked_keys
from indicators.periods import read_collection_year
from indicators.store.models import RECORDS_KIND, Submission
from mappings.agencies import get_agency
from mappings.keys import APPROVER_SCOPE
from onereturn.errors import Conflict, Forbidden, NotFound
from onereturn.listing import clip
from onereturn.settings import Settings
from onereturn.workspace import private_folder

#: Each file the routes give: the name it is kept under and its media type.
FILES = {"cin_census.xml": (CIN_FILE, "application/xml"), "ssda903.zip": (SSDA903_FILE, "application/zip")}
#: The states of a file made whose DfE rules passed: the one to send DfE (queries hold nothing back).
SENDABLE = ("accepted", "queried", "partially_accepted")


def council_approver(session: Session, principal: Principal, code: str, what: str) -> None:
    """Admit only the approver of a council that sends children's records to ``what`` it made (its own agency's:
    another's is 404); a body that owes no children's return is told it has none, whatever its key."""
    read_scope(principal).check_agency(code)
    get_agency(session, code)
    refused = senders.refusal(session, code)
    if refused is not None:
        raise Forbidden(f"{what} are a council's children's records, made from its SSD extract: {refused}")
    if APPROVER_SCOPE not in principal.scopes:
        raise Forbidden(
            f"{what} are children's records: they need the council's approver key (the officer issues one with "
            f"`onereturn keys create --role agency --agency {code} --approver`)"
        )


def newest_made(session: Session, code: str, year: str, kept_as: str) -> Submission | None:
    """The newest file of a name made from the council's SSD extracts for the year and still kept, or None."""
    return session.exec(
        select(Submission)
        .where(
            col(Submission.agency_code) == code,
            col(Submission.kind) == RECORDS_KIND,
            col(Submission.collection_year) == year,
            col(Submission.filename) == kept_as,
            col(Submission.purged_at).is_(None),
        )
        .order_by(col(Submission.id).desc())
    ).first()


def made_years(session: Session, code: str) -> list[str]:
    """The collection years the council has files made from an SSD extract for, the latest first."""
    years = session.exec(
        select(Submission.collection_year)
        .where(
            col(Submission.agency_code) == code,
            col(Submission.kind) == RECORDS_KIND,
            col(Submission.filename).in_([kept_as for kept_as, _ in FILES.values()]),
            col(Submission.purged_at).is_(None),
        )
        .distinct()
    ).all()
    return sorted(years, reverse=True)


def state_of(sub: Submission, file: str, year: str) -> str | None:
    """Why the newest file made is not the one to send DfE (rejected, failed, still being checked), with where its
    findings or progress are read; None when it is."""
    if sub.status in SENDABLE:
        return None
    made = f"the {file} made from the SSD extract for {year} (submission {sub.id})"
    if sub.status == "rejected":
        return (
            f"{made} was rejected: it is not the file to send DfE; its findings are at "
            f"/api/submissions/{sub.id}/records and its report at /api/submissions/{sub.id}"
        )
    if sub.status == "failed":
        return (
            f"{made} failed before DfE's rules ended (/api/submissions/{sub.id} says why): it is not the file "
            f"to send DfE; an officer runs it again with `onereturn submissions reprocess {sub.id}`"
        )
    return (
        f"{made} is still being checked (stage {sub.stage}): it is not yet the file to send DfE; follow it at "
        f"/api/submissions/{sub.id} and ask again once it is stored"
    )


@dataclass(frozen=True)
class MadeFile:
    """A file made from the SSD extract, opened: its bytes, media type, the year and its submission."""

    data: bytes
    media_type: str
    year: str
    submission: Submission


def made_file(
    engine: Engine,
    settings: Settings,
    session: Session,
    principal: Principal,
    code: str,
    collection_year: str,
    file: str,
) -> MadeFile:
    """The file last made from the council's SSD extract for the year, to send DfE, opened for its approver; 409
    when it is not the one to send (its state and where its findings are said), path errors by the path's part."""
    year = read_collection_year(collection_year, where="path")
    if file not in FILES:
        said = f"the files made from an SSD extract are {' and '.join(FILES)}, not {clip(file, 40)!r}"
        raise NotFound(
            said, errors=[{"type": "not_found", "loc": ["path", "file"], "msg": said, "input": clip(file, 40)}]
        )
    council_approver(session, principal, code, "The files made from an SSD extract")
    kept_as, media = FILES[file]
    sub = newest_made(session, code, year, kept_as)
    if sub is None:
        raise NotFound(f"{code} has no {kept_as} made from an SSD extract for {year}")
    state = state_of(sub, file, year)
    if state is not None:
        raise Conflict(state, errors=[{"type": "conflict", "loc": ["path", "file"], "msg": state, "input": file}])
    # Refused before anything is read where this host's records keys are not the deployment's.
    checked_keys(engine, settings)
    with private_folder(settings, "ssd-") as work:
        ((_, path),) = kept_files(engine, settings, sub, Path(work))
        data = path.read_bytes()
    return MadeFile(data, media, year, sub)
