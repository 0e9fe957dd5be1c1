"""Published figures: the publishers' data sets declared, the releases read, an officer's upload of a
publisher's file unchanged, and the cells where a body's own figure and the publisher's differ."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, File, Query, Request, UploadFile
from pydantic import BaseModel
from sqlmodel import col, select

from api.auth import OfficerOnly
from api.callrecord import annotate
from api.deps import SessionDep
from api.paging import Limit, Offset, Page, page, page_of
from api.params import Id, PeriodText
from api.published_upload import store_upload
from api.schemas_published import ConfirmHeld, DifferencePublic, HeldPublic, ReleasePublic, SourcePublic
from collectors.published.intake import confirm_held, confirm_release_held
from collectors.published.sources import load_sources
from indicators.published import PublishedRelease
from indicators.published_query import HeldPublished, differences, held_published
from onereturn.errors import NotFound

router = APIRouter(prefix="/api/published", tags=["published figures"])
OFFICER_ONLY: dict[int | str, dict[str, Any]] = {
    401: {"description": "No key, or a key not known or revoked"},
    403: {"description": "Not an officer's key"},
}


@router.get(
    "/sources", summary="Published data sets declared", response_model=list[SourcePublic], responses=OFFICER_ONLY
)
def list_sources(_principal: OfficerOnly) -> list[SourcePublic]:
    """List the publishers' data sets the deployment reads, with their page, licence and mapped indicators."""
    return [SourcePublic.of(spec) for spec in load_sources().sources.values()]


@router.get("/releases", summary="Releases read", response_model=Page[ReleasePublic], responses=OFFICER_ONLY)
def list_releases(
    request: Request,
    session: SessionDep,
    _principal: OfficerOnly,
    source: Annotated[str | None, Query(description="Only this published source")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[ReleasePublic]:
    """List every release read, newest first: version, release date, file hash, when fetched and what it gave."""
    query = select(PublishedRelease).order_by(col(PublishedRelease.id).desc())
    if source is not None:
        query = query.where(col(PublishedRelease.source_id) == source)
    rows = [ReleasePublic.model_validate(r, from_attributes=True) for r in session.execute(query).scalars()]
    return page_of(request, rows, limit=limit, offset=offset)


class UploadAnswer(BaseModel):
    """What an upload of a publisher's file did."""

    duplicate: bool
    release: ReleasePublic


@router.post(
    "/sources/{source_id}/releases",
    summary="Upload a publisher's file unchanged",
    response_model=UploadAnswer,
    status_code=201,
    responses={
        **OFFICER_ONLY,
        404: {"description": "No such source"},
        413: {"description": "Too large"},
        422: {
            "description": "The file cannot be read as the source declares, or a figure breaks the catalogue's rules"
        },
    },
)
async def upload_release(
    request: Request,
    source_id: str,
    principal: OfficerOnly,
    file: Annotated[UploadFile, File(description="The publisher's file, exactly as downloaded")],
    version: Annotated[str, Query(max_length=32, description="The publisher's version or release, if known")] = "",
) -> UploadAnswer:
    """Read a publisher's file as downloaded (no network needed) and store its figures as the publisher's."""
    spec = load_sources().sources.get(source_id)
    if spec is None:
        raise NotFound(f"No published source {source_id!r}")
    done = await anyio.to_thread.run_sync(lambda: store_upload(request, principal, spec, file, version=version))
    # A repeat stores nothing: its event names the release it repeats and says so.
    annotate(
        request,
        object=f"published source {source_id} (release {done.release.id})",
        detail=f"a repeat of release {done.release.id}; nothing stored" if done.duplicate else done.release.message,
    )
    return UploadAnswer(
        duplicate=done.duplicate, release=ReleasePublic.model_validate(done.release, from_attributes=True)
    )


@router.get(
    "/differences",
    summary="Where a body's own figure and the publisher's differ",
    response_model=Page[DifferencePublic],
    responses=OFFICER_ONLY,
)
def list_differences(
    request: Request,
    session: SessionDep,
    _principal: OfficerOnly,
    indicator: Annotated[str | None, Query(description="Only this indicator")] = None,
    org: Annotated[str | None, Query(description="Only this org unit")] = None,
    period: Annotated[PeriodText | None, Query(description="Only this period")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[DifferencePublic]:
    """Each cell where the publisher's figure and the body's own differ, with both values and both sources."""
    found, total = differences(session, indicator_id=indicator, org_code=org, period=period, limit=limit, offset=offset)
    return page(
        request,
        [DifferencePublic(**d.model_dump(), **_read_on(d.source_id, d.indicator_id)) for d in found],
        total=total,
        limit=limit,
        offset=offset,
    )


def _read_on(source_id: str, indicator_id: str) -> dict[str, str]:
    """The publisher's file a figure was read from and the filter it was read on (``column = value``, joined by
    ``; ``), as its declared source says; empty for a source no longer declared."""
    spec = load_sources().sources.get(source_id)
    if spec is None:
        return {}
    where = next((f.where for f in spec.figure if f.indicator == indicator_id), {})
    return {"published_file": spec.file, "published_filter": "; ".join(f"{k} = {v}" for k, v in where.items())}


def _held(h: HeldPublished) -> HeldPublic:
    return HeldPublic.model_validate(h, from_attributes=True)


@router.get(
    "/queries",
    summary="Publishers' figures held by a query",
    response_model=Page[HeldPublic],
    responses=OFFICER_ONLY,
)
def list_held(
    request: Request,
    session: SessionDep,
    _principal: OfficerOnly,
    state: Annotated[str, Query(pattern="^(open|all)$", description="open (default) or all")] = "open",
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[HeldPublic]:
    """List the publishers' figures a query holds (a change beyond the plausible jump from the previous release)."""
    found, total = held_published(session, open_only=state == "open", limit=limit, offset=offset)
    return page(request, [_held(h) for h in found], total=total, limit=limit, offset=offset)


@router.post(
    "/queries/{held_id}",
    summary="Confirm a publisher's held figure",
    response_model=HeldPublic,
    responses={**OFFICER_ONLY, 404: {"description": "No such held figure"}, 422: {"description": "Already closed"}},
)
def confirm(
    request: Request, held_id: Id, body: ConfirmHeld, session: SessionDep, principal: OfficerOnly
) -> HeldPublic:
    """Confirm a held figure with a note: it becomes the publisher's current figure (and the store's, where the
    publisher answers for the cell)."""
    confirm_held(session, held_id, note=body.note, confirmed_by=principal.name)
    session.commit()
    annotate(request, object=f"published figure held {held_id}", detail="confirmed")
    found, _ = held_published(session, open_only=False, limit=100_000)
    return _held(next(h for h in found if h.id == held_id))


@router.post(
    "/releases/{release_id}/queries",
    summary="Confirm every figure a release holds, with one note",
    response_model=list[HeldPublic],
    responses={
        **OFFICER_ONLY,
        404: {"description": "No such release"},
        422: {"description": "An empty note, or no figure of the release still held"},
    },
)
def confirm_release(
    request: Request, release_id: Id, body: ConfirmHeld, session: SessionDep, principal: OfficerOnly
) -> list[HeldPublic]:
    """Confirm together every figure a query still holds from one release, with one note: each becomes the
    publisher's current figure, as one confirmed on its own does."""
    done = confirm_release_held(session, release_id, note=body.note, confirmed_by=principal.name)
    session.commit()
    annotate(request, object=f"published release {release_id}", detail=f"{len(done)} held figure(s) confirmed")
    found, _ = held_published(session, open_only=False, limit=100_000, release_id=release_id)
    ids = {h.id for h in done}
    return [_held(h) for h in found if h.id in ids]
