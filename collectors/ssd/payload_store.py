"""DfE's children's social care payloads kept: built at intake from the SSD extract, with each child's hash and its
state against the council's previous extract, sealed into the kept-file store; read back for the council's approver.

Choice: the payloads are built when the extract arrives, on DfE's window of that day, and kept whole, rather than the
reduced tables kept and the payloads built on request. So ``as_of`` gives what the service built from the newest
extract it held on that day, as DfE's staging table held it after that day's run: a later extract, a later rule or a
later day's window cannot change an answer already given. It is DfE's own flow (``ssd_api_data_staging``, an
SCD type 1 table of one current payload per child with its SHA-256 hash and a row state of New, Updated, Unchanged or
Deleted against the previous run: populate_ssd_api_data_staging.sql lines 13-68 and 1346-1420).

The kept file is a ZIP of one JSON member, sealed with the deployment's records key as the record files are
(``collectors/records/privacy.py``), named by content under ``records/`` of the kept-file store, so a rotation of
the keys seals it again and a copy of the database alone reads none of it. Its row names no child.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors import door
from collectors.records.privacy import checked_keys, keys_for
from collectors.ssd.intake import Extract
from collectors.ssd.models import CscPayloadExtract
from collectors.ssd.payload import Payload, payload_hash
from collectors.ssd.payload_build import build
from onereturn import keptfiles
from onereturn.errors import NotFound
from onereturn.settings import Settings

MEMBER = "csc_api_payloads.json"
#: The row states of DfE's staging table (populate line 117), as the route gives them.
NEW, UPDATED, UNCHANGED, DELETED = "new", "updated", "unchanged", "deleted"
#: The payloads of the council's newest extract kept, sent again with the same switch (``identifiers``), are its row.
REPEAT = door.Repeat((), newest_only=True)


@dataclass
class Prepared:
    """The payloads of one extract, built and hashed, before anything is kept."""

    run: date
    identifiers: bool
    children: list[dict[str, Any]] = field(default_factory=list)


def today(settings: Settings) -> date:
    """The day of a run, in the collection calendar's time zone."""
    return datetime.now(ZoneInfo(settings.timezone)).date()


def file_hash(path: Path) -> str:
    """SHA-256 of an uploaded extract, as hex."""
    with path.open("rb") as data:
        return hashlib.file_digest(data, "sha256").hexdigest()


def prepare(extract: Extract, run: date, *, identifiers: bool) -> Prepared:
    """Every child's payload of DfE's cohort on ``run`` with its hash; nothing kept yet."""
    payloads = build(extract, run, identifiers=identifiers)
    return Prepared(
        run, identifiers, [{"la_child_id": p["la_child_id"], "hash": payload_hash(p), "payload": p} for p in payloads]
    )


def _seal(settings: Settings, engine: Engine, children: list[dict[str, Any]], run: date) -> tuple[str, bytes]:
    """The payloads as a sealed ZIP, and the content name it is kept under."""
    text = json.dumps({"run_date": run.isoformat(), "children": children}, ensure_ascii=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MEMBER, text)
    digest = hashlib.sha256(b"csc-api payloads\x00" + text.encode("utf-8")).hexdigest()
    keys = checked_keys(engine, settings)
    return keptfiles.records_name(digest), keys.seal(buffer.getvalue())


def read_children(engine: Engine, settings: Settings, extract: CscPayloadExtract) -> list[dict[str, Any]]:
    """The kept children of an extract (la_child_id, row_state, hash, payload), opened with the records keys."""
    token = keptfiles.read(engine, settings, extract.kept_name)
    with zipfile.ZipFile(io.BytesIO(keys_for(settings).open(token))) as archive:
        found: list[dict[str, Any]] = json.loads(archive.read(MEMBER))["children"]
    return found


def _states(children: list[dict[str, Any]], before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each child's state against the previous extract; a child gone from it is listed as deleted, with no payload
    (DfE's staging table soft-deletes it and sends nothing: populate lines 1409-1420)."""
    earlier = {c["la_child_id"]: c["hash"] for c in before if c.get("row_state") != DELETED}
    stated = []
    for child in children:
        had = earlier.get(child["la_child_id"])
        state = NEW if had is None else UNCHANGED if had == child["hash"] else UPDATED
        stated.append({**child, "row_state": state})
    now = {c["la_child_id"] for c in children}
    stated += [
        {"la_child_id": gone, "row_state": DELETED, "hash": None, "payload": None}
        for gone in sorted(set(earlier) - now)
    ]
    return stated


def keep(
    engine: Engine,
    settings: Settings,
    *,
    agency_code: str,
    collection_year: str,
    filename: str,
    content_hash: str,
    prepared: Prepared,
    received_at: datetime | None = None,
) -> CscPayloadExtract:
    """Keep an extract's payloads, each child stated against the council's previous extract; the same extract
    received again (same content and switch) is the row already kept."""
    received_at = received_at or datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        previous = latest(session, agency_code)
    if kept := door.repeats_newest(REPEAT, previous, content_hash=content_hash, identifiers=prepared.identifiers):
        return kept
    before = read_children(engine, settings, previous) if previous is not None else []
    children = _states(prepared.children, before)
    name, sealed = _seal(settings, engine, children, prepared.run)
    row = CscPayloadExtract(
        agency_code=agency_code,
        collection_year=collection_year,
        filename=filename[:255],
        content_hash=content_hash,
        received_at=received_at,
        run_date=prepared.run,
        identifiers=prepared.identifiers,
        previous_id=previous.id if previous is not None else None,
        kept_name=name,
        children=len(prepared.children),
        **{s: sum(c["row_state"] == s for c in children) for s in (NEW, UPDATED, UNCHANGED, DELETED)},
    )
    # The sealed file first, then the row naming it: a failure between leaves a file nothing names, never a row
    # naming no file (as a record-level upload's raw file is kept before its submission).
    keptfiles.keep(engine, settings, name, sealed)
    with Session(engine, expire_on_commit=False) as session:
        session.add(row)
        session.commit()
    return row


def latest(session: Session, agency_code: str, as_of: date | None = None) -> CscPayloadExtract | None:
    """The council's newest extract kept (on or before ``as_of`` where given), or None."""
    query = select(CscPayloadExtract).where(
        col(CscPayloadExtract.agency_code) == agency_code, col(CscPayloadExtract.purged_at).is_(None)
    )
    if as_of is not None:
        query = query.where(col(CscPayloadExtract.run_date) <= as_of)
    return session.exec(
        query.order_by(col(CscPayloadExtract.run_date).desc(), col(CscPayloadExtract.id).desc())
    ).first()


def as_of(session: Session, agency_code: str, day: date) -> CscPayloadExtract:
    """The extract ``as_of`` names: the council's newest received on or before ``day``; NotFound saying why."""
    found = latest(session, agency_code, day)
    if found is not None:
        return found
    if latest(session, agency_code) is None:
        raise NotFound(f"{agency_code} has uploaded no SSD extract: DfE's payloads are built from one")
    raise NotFound(f"{agency_code} had uploaded no SSD extract on or before {day.isoformat()}")


def purge(engine: Engine, settings: Settings, *, now: datetime | None = None) -> tuple[int, int]:
    """Forget the payloads of extracts received before the records' retention period; (extracts, files) purged."""
    now = now or datetime.now(UTC)
    cutoff = now - timedelta(days=settings.records_retention_days)
    with Session(engine) as session:
        due = list(
            session.exec(
                select(CscPayloadExtract).where(
                    col(CscPayloadExtract.purged_at).is_(None), col(CscPayloadExtract.received_at) < cutoff
                )
            ).all()
        )
        names = {e.kept_name for e in due}
        for extract in due:
            extract.purged_at = now
            session.add(extract)
        session.commit()
        still = set(
            session.exec(select(CscPayloadExtract.kept_name).where(col(CscPayloadExtract.purged_at).is_(None))).all()
        )
    files = sum(min(1, keptfiles.forget(engine, settings, name)) for name in sorted(names - still))
    return len(due), files


def payload_items(children: list[dict[str, Any]]) -> list[Payload]:
    """The route's items: each child's id, state, hash and payload (none for a deleted child)."""
    return [
        {"la_child_id": c["la_child_id"], "row_state": c["row_state"], "hash": c["hash"], "payload": c["payload"]}
        for c in children
    ]
