"""The regulator's journey: its return for a period in its format, the definitions used, and lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import select

from api import return_files
from api.auth import BurdenRead, ReturnsRead
from api.burden_counts import burden_with_lists
from api.deps import SessionDep
from api.paging import Limit, Offset, Page, page
from api.params import Id, IsoDatetime, PeriodText
from exports import release
from exports import service as exports
from exports.changes import changed_since
from exports.symbols import KEY
from exports.writers import FORMATS
from indicators.periods import parse_period, utc
from mappings.models import Return
from onereturn.errors import NotFound

router = APIRouter(prefix="/api", tags=["exports"])
_MEDIA: dict[int | str, dict[str, Any]] = {
    200: {"content": {f.media_type: {} for f in FORMATS.values()}},
    304: {"description": "Not modified: If-None-Match names these exact bytes (the ETag)"},
    404: {"description": "Not found"},
}


@router.get("/returns/{return_id}/{period_file}", summary="A return for a period, in a format", responses=_MEDIA)
def return_file(
    request: Request,
    return_id: str,
    period_file: str,
    session: SessionDep,
    principal: ReturnsRead,
    updated_after: Annotated[
        IsoDatetime | None, Query(description="Only the cells changed since this instant (ISO 8601; UTC if no zone)")
    ] = None,
    as_of: Annotated[
        IsoDatetime | None,
        Query(description="The snapshot that was current at this instant: exactly what was sent then"),
    ] = None,
    fresh: Annotated[
        bool, Query(description="Wait for a build that includes every change (otherwise the newest complete snapshot)")
    ] = False,
    preview: Annotated[
        bool,
        Query(description="Officers only: every figure, signed off or not, built now and never stored or sent"),
    ] = False,
) -> Response:
    """Get a return for a period as .xlsx, .csv, .json or .sdmx.csv (e.g. FY2024-25.xlsx); repeats give identical bytes.

    A cell whose agency has not signed it off shows ``...`` and the body still to sign off; an officer can
    ask for ``preview=true`` to see the return with every figure."""
    return return_files.return_download(
        request,
        session,
        principal,
        return_id,
        period_file,
        updated_after=updated_after,
        as_of=as_of,
        fresh=fresh,
        preview=preview,
    )


@router.get("/returns/{return_id}/{period}/completeness", summary="What is present and missing in a return")
def completeness(return_id: str, period: PeriodText, session: SessionDep, principal: ReturnsRead) -> dict[str, Any]:
    """Say, for each cell of a return for a period, whether it is present, missing (and who owes it), suppressed or not available."""
    return_files.visible_return(session, principal, return_id)
    record, built = exports.build(session, return_id, period)
    labels = {info.code: info.label for info in built.fields}
    cells = [
        {
            "cell_id": c["cell_id"],
            "field_code": c["field_code"],
            "field_label": labels.get(c["field_code"], ""),
            "org_code": c["org_code"],
            "org_name": c["org_name"],
            "breakdown": c["breakdown"],
            "status": c["status"],
            "symbol": c["display"],
            "meaning": KEY.get(c["display"], ""),
            "reason": c["reason"],
        }
        for c in built.cells.filter(built.cells["status"] != "present").iter_rows(named=True)
    ]
    shown = {c["symbol"] for c in cells}
    return {
        "return_id": return_id,
        "period": built.period,
        "build_id": record.id,
        "cells": built.cells.height,
        "by_status": built.completeness,
        "complete_share": round(built.complete_share, 4),
        "symbols": {symbol: meaning for symbol, meaning in KEY.items() if symbol in shown},
        "not_present": cells,
    }


@router.get(
    "/returns/{return_id}/{period}/changes", summary="Which cells changed since an instant, and when signed off"
)
def changes(
    return_id: str,
    period: PeriodText,
    session: SessionDep,
    principal: ReturnsRead,
    since: Annotated[IsoDatetime, Query(description="Cells changed since this instant (ISO 8601; UTC if no zone)")],
) -> dict[str, Any]:
    """List the cells changed since an instant, each with when its figures were last signed off or whose sign-off it waits for."""
    return_files.visible_return(session, principal, return_id)
    record, built = exports.build(session, return_id, period)
    changed = changed_since(session, record, built, since)
    return {
        "return_id": return_id,
        "period": built.period,
        "since": utc(since),
        "build_id": record.id,
        "built_at": utc(record.generated_at),
        "cells": release.signed_again(session, changed),
    }


class SnapshotPublic(BaseModel):
    """One stored snapshot: which build, return, period and format, and its content hash."""

    id: int
    build_id: int
    return_id: str
    period: str
    format: str
    content_hash: str
    size_bytes: int
    generated_at: datetime
    completeness: dict[str, int]


@router.get("/exports", summary="Stored export snapshots", response_model=Page[SnapshotPublic])
def list_exports(
    request: Request,
    session: SessionDep,
    principal: ReturnsRead,
    return_id: Annotated[str | None, Query(alias="return")] = None,
    period: PeriodText | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[SnapshotPublic]:
    """List stored snapshots (newest first) with their content hash."""
    visible = []
    for ret in session.execute(select(Return.id)).scalars():
        try:
            return_files.visible_return(session, principal, ret)
        except NotFound:
            continue
        visible.append(ret)
    canonical = parse_period(period).code if period else None
    rows, total = exports.list_snapshots(
        session, return_id=return_id, period=canonical, return_ids=visible, limit=limit, offset=offset
    )
    items = [
        SnapshotPublic(
            id=snap.id or 0,
            build_id=record.id or 0,
            return_id=record.return_id,
            period=record.period,
            format=snap.format,
            content_hash=snap.content_hash,
            size_bytes=snap.size_bytes,
            generated_at=utc(record.generated_at),
            completeness=record.completeness,
        )
        for snap, record in rows
    ]
    return page(request, items, total=total, limit=limit, offset=offset)


@router.get("/exports/{snapshot_id}", summary="One stored snapshot's bytes", responses=_MEDIA)
def get_export(request: Request, snapshot_id: Id, session: SessionDep, principal: ReturnsRead) -> Response:
    """Get a stored snapshot exactly as it was generated."""
    snap = exports.get_snapshot(session, snapshot_id)
    return_files.visible_return(session, principal, snap.return_id)
    return return_files.download(request, snap)


@router.get("/exports/{snapshot_id}/lineage", summary="Where every cell of a snapshot came from")
def get_lineage(
    request: Request,
    snapshot_id: Id,
    session: SessionDep,
    principal: ReturnsRead,
    cell: str | None = None,
    field: str | None = None,
    org: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Offset = 0,
) -> dict[str, Any]:
    """List each cell's stored figures with the upload and file row they came from (filter by cell, field or org)."""
    snap = exports.get_snapshot(session, snapshot_id, with_data=False)
    return_files.visible_return(session, principal, snap.return_id)
    rows, total = exports.lineage(
        session,
        snap.build_id,
        cell=cell,
        field=field,
        org=org,
        limit=limit,
        offset=offset,
        released_only=principal.kind != "officer",
    )
    listed = page(request, rows, total=total, limit=limit, offset=offset).model_dump()
    return {"snapshot_id": snap.id, "return_id": snap.return_id, "period": snap.period, **listed}


@router.get("/burden", summary="Burden saved and overlap between returns")
def get_burden(
    request: Request,
    session: SessionDep,
    _principal: BurdenRead,
    period: Annotated[
        PeriodText | None, Query(description="e.g. FY2024-25; the latest financial year ended when not given")
    ] = None,
    minutes: Annotated[float, Query(gt=0, le=600, description="Officer minutes to key one figure")] = 3.0,
    cell_minutes: Annotated[
        float, Query(gt=0, le=600, description="Officer minutes to key one child-level cell of an inspection list")
    ] = 0.5,
) -> dict[str, Any]:
    """Compare keying every return separately with keying each figure once, each council's Annex A and List 1 cells
    beside its returns' and its record-level files by Single Data List line; overlap matrix; figures measured two
    ways."""
    return burden_with_lists(
        session, request.app.state.engine, request.app.state.settings, period, minutes, cell_minutes
    )
