"""A publisher's file uploaded unchanged, stored as a release: for ``POST /api/sources/{id}/releases`` and the page."""

from __future__ import annotations

from fastapi import Request, UploadFile

from api.callrecord import stored_event, stored_with_change
from api.principal import Principal
from collectors import ways_in
from collectors.published.intake import Imported
from collectors.published.sources import SourceSpec
from onereturn.errors import PayloadTooLarge

#: The largest publisher's file taken (DfE's largest children's social care table is 3.3 MB).
MAX_PUBLISHED_FILE = 64 * 1024 * 1024


class ReleaseTooLarge(PayloadTooLarge):
    """A publisher's file over MAX_PUBLISHED_FILE bytes."""


def store_upload(
    request: Request, principal: Principal, spec: SourceSpec, file: UploadFile, *, version: str = ""
) -> Imported:
    """Read a publisher's file, uploaded unchanged, and store it as a release of ``spec`` with the call's audit event
    in the same transaction; a file over MAX_PUBLISHED_FILE is refused (ReleaseTooLarge) and nothing is stored."""
    data = file.file.read(MAX_PUBLISHED_FILE + 1)
    if len(data) > MAX_PUBLISHED_FILE:
        raise ReleaseTooLarge(f"A publisher's file is at most {MAX_PUBLISHED_FILE:,} bytes")
    release = ways_in.ReleaseSent(
        spec=spec,
        data=data,
        filename=file.filename or spec.file,
        fetched_from="upload",
        version=version,
        submitted_by=principal.name,
        # Recorded in the transaction that stores the release: both are stored or neither is.
        audit=stored_event(request, principal, f"published source {spec.id} (release {{id}})"),
    )
    done: Imported = ways_in.take(request.app.state.engine, request.app.state.settings, release)
    if not done.duplicate:
        stored_with_change(request)
    return done
