"""The regulator's journey: its return for a period in its format, the definitions used, and lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import String, bindparam
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from api.auth import BurdenRead, ReturnsRead
from api.conditional import conditional
from api.deps import SessionDep
from api.paging import Limit, Offset, Page, page
from api.params import Id, IsoDatetime
from api.principal import Principal
from api.scopes import read_scope
from collectors.records.annex_a import annex_a_cells
from exports import release
from exports import service as exports
from exports.burden import burden, last_financial_year
from exports.changes import changed_since, snapshot_at
from exports.freshness import freshness_headers, pull
from exports.symbols import KEY
from exports.writers import FORMATS, sdmx_structure, write
from indicators.periods import parse_period, utc
from mappings.models import Return
from onereturn import clock
from onereturn.errors import Forbidden, InvalidInput, NotFound

router = APIRouter(prefix="/api", tags=["exports"])
_BY_EXTENSION = {f.extension: name for name, f in FORMATS.items()}
_MEDIA: dict[int | str, dict[str, Any]] = {
    200: {"content": {f.media_type: {} for f in FORMATS.values()}},
    304: {"description": "Not modified: If-None-Match names these exact bytes (the ETag)"},
    404: {"description": "Not found"},
}


def _not_visible(return_id: str) -> NotFound:
    return NotFound(f"Return {return_id!r} is not defined (or not addressed to you); see GET /api/returns")


def _visible_return(session: Session, principal: Principal, return_id: str) -> Return:
    ret = session.get(Return, return_id)
    if ret is None or not read_scope(principal).reads_return(ret.recipient, ret.readers):
        raise _not_visible(return_id)
    return ret


# Built once and read as three columns: every pull asks, and an ORM object of the return cost more than the pull.
_ACCESS = columns(col(Return.recipient), col(Return.readers), col(Return.period_type)).where(
    col(Return.id) == bindparam("return_id", type_=String)
)


def _visible_period_type(session: Session, principal: Principal, return_id: str) -> str:
    """The period type of a return the principal may read (NotFound otherwise, as ``_visible_return``)."""
    row = session.connection().execute(_ACCESS, {"return_id": return_id}).first()
    if row is None or not read_scope(principal).reads_return(row.recipient, row.readers or ()):
        raise _not_visible(return_id)
    return str(row.period_type)


def _split(name: str) -> tuple[str, str]:
    for extension in sorted(_BY_EXTENSION, key=len, reverse=True):
        if name.endswith("." + extension):
            return name[: -len(extension) - 1], _BY_EXTENSION[extension]
    raise InvalidInput(f"{name!r} has no known format suffix; use one of {', '.join('.' + e for e in _BY_EXTENSION)}")


def _download(request: Request, snap: exports.Snapshot, extra: dict[str, str] | None = None) -> Response:
    fmt = FORMATS[snap.format]  # type: ignore[index]
    filename = f"{snap.return_id}-{snap.period}.{fmt.extension}"
    headers = {
        **(extra or {}),
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Snapshot-Id": str(snap.id),
        "X-Content-SHA256": snap.content_hash,
        "Link": f'</api/exports/{snap.id}/lineage>; rel="lineage"',
    }
    return conditional(request, snap.data, media_type=fmt.media_type, headers=headers, content_hash=snap.content_hash)


def _changes(request: Request, session: Session, return_id: str, period: str, fmt: str, since: datetime) -> Response:
    """Write only the cells changed since an instant; the bytes are derived, so no snapshot is stored."""
    record, built = exports.build(session, return_id, period)
    changed = changed_since(session, record, built, since)
    spec = FORMATS[fmt]  # type: ignore[index]
    data = write(changed, spec.name)
    stamp = utc(since).strftime("%Y%m%dT%H%M%SZ")
    headers = {
        "Content-Disposition": f'attachment; filename="{return_id}-{built.period}-changed-since-{stamp}.{spec.extension}"',
        "X-Build-Id": str(record.id),
        "X-Changed-Cells": str(changed.cells.height),
    }
    return conditional(request, data, media_type=spec.media_type, headers=headers)


def _preview(
    principal: Principal, session: Session, return_id: str, period_file: str, others: tuple[Any, Any, bool]
) -> Response:
    """An officer's preview of a return with every figure: written now, never stored, so no regulator can reach it."""
    if principal.kind != "officer":
        raise Forbidden("Only an officer may preview a return before its figures are signed off")
    if any(others):
        raise InvalidInput("A preview is built now with every figure: it takes no updated_after, as_of or fresh")
    period, fmt = _split(period_file)
    built, data = exports.preview(session, return_id, period, fmt)
    spec = FORMATS[fmt]  # type: ignore[index]
    headers = {
        "Content-Disposition": f'attachment; filename="{return_id}-{built.period}-preview.{spec.extension}"',
        "X-Preview": "true",
    }
    return Response(data, media_type=spec.media_type, headers=headers)


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
    period_type = _visible_period_type(session, principal, return_id)
    if preview:
        return _preview(principal, session, return_id, period_file, (updated_after, as_of, fresh))
    if period_file.endswith(".structure.xml"):
        if updated_after is not None or as_of is not None:
            raise InvalidInput("updated_after and as_of apply to a return's data, not to its structure")
        period = period_file.removesuffix(".structure.xml")
        _record, built = exports.build(session, return_id, period)
        return Response(sdmx_structure(built), media_type="application/xml")
    period, fmt = _split(period_file)
    if updated_after is not None and as_of is not None:
        raise InvalidInput("Ask for either updated_after (what changed since) or as_of (what was sent then), not both")
    if as_of is not None:
        canonical = parse_period(period, period_type).code  # type: ignore[arg-type]
        stored = snapshot_at(session, return_id, canonical, fmt, as_of)
        assert stored.id is not None
        return _download(request, exports.get_snapshot(session, stored.id))
    if updated_after is not None:
        return _changes(request, session, return_id, period, fmt, updated_after)
    pulled = pull(session, return_id, period, fmt, fresh=fresh, period_type=period_type)
    return _download(request, pulled.snapshot, freshness_headers(pulled))


@router.get("/returns/{return_id}/{period}/completeness", summary="What is present and missing in a return")
def completeness(return_id: str, period: str, session: SessionDep, principal: ReturnsRead) -> dict[str, Any]:
    """Say, for each cell of a return for a period, whether it is present, missing (and who owes it), suppressed or not available."""
    _visible_return(session, principal, return_id)
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
    period: str,
    session: SessionDep,
    principal: ReturnsRead,
    since: Annotated[IsoDatetime, Query(description="Cells changed since this instant (ISO 8601; UTC if no zone)")],
) -> dict[str, Any]:
    """List the cells changed since an instant, each with when its figures were last signed off or whose sign-off it waits for."""
    _visible_return(session, principal, return_id)
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
    period: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[SnapshotPublic]:
    """List stored snapshots (newest first) with their content hash."""
    visible = []
    for ret in session.execute(select(Return.id)).scalars():
        try:
            _visible_return(session, principal, ret)
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
    _visible_return(session, principal, snap.return_id)
    return _download(request, snap)


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
    _visible_return(session, principal, snap.return_id)
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
        str | None, Query(description="e.g. FY2024-25; the latest financial year ended when not given")
    ] = None,
    minutes: Annotated[float, Query(gt=0, le=600, description="Officer minutes to key one figure")] = 3.0,
) -> dict[str, Any]:
    """Compare keying every return separately with keying each figure once, each council's Annex A cells beside its
    returns'; overlap matrix; figures measured two ways."""
    asked = (period or "").strip() or last_financial_year(clock.now().date())
    settings = request.app.state.settings
    report = burden(
        session, asked, minutes_per_figure=minutes, annex_a=lambda code, on: annex_a_cells(session, settings, code, on)
    )
    return {
        "period": report.period,
        "minutes_per_figure": report.minutes_per_figure,
        "totals": report.totals,
        "agencies": [a.__dict__ for a in report.agencies],
        "overlap": report.overlap,
        "consistency": [c.__dict__ for c in report.consistency],
        "sent_twice": [t.__dict__ for t in report.sent_twice],
        "keys_nothing_published": [k.__dict__ for k in report.keys_nothing_published],
        "from_publishers": [p.__dict__ for p in report.from_publishers],
    }
