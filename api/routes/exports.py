"""The regulator's journey: its return for a period in its format, the definitions used, and lineage."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlmodel import Session

from api.auth import Principal, ReturnsRead
from api.deps import SessionDep
from errors import InvalidInput, NotFound
from exports import service as exports
from exports.burden import burden
from exports.symbols import KEY
from exports.writers import FORMATS, sdmx_structure
from mappings.models import Return

router = APIRouter(prefix="/api", tags=["exports"])
_BY_EXTENSION = {f.extension: name for name, f in FORMATS.items()}
_MEDIA: dict[int | str, dict[str, Any]] = {
    200: {"content": {f.media_type: {} for f in FORMATS.values()}},
    404: {"description": "Not found"},
}


def _visible_return(session: Session, principal: Principal, return_id: str) -> Return:
    ret = session.get(Return, return_id)
    if ret is None or (principal.kind == "regulator" and principal.recipient and ret.recipient != principal.recipient):
        raise NotFound(f"Return {return_id!r} is not defined (or not addressed to you); see GET /api/returns")
    return ret


def _split(name: str) -> tuple[str, str]:
    for extension in sorted(_BY_EXTENSION, key=len, reverse=True):
        if name.endswith("." + extension):
            return name[: -len(extension) - 1], _BY_EXTENSION[extension]
    raise InvalidInput(f"{name!r} has no known format suffix; use one of {', '.join('.' + e for e in _BY_EXTENSION)}")


def _download(snap: exports.Snapshot) -> Response:
    fmt = FORMATS[snap.format]  # type: ignore[index]
    filename = f"{snap.return_id}-{snap.period}.{fmt.extension}"
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-Snapshot-Id": str(snap.id),
        "X-Content-SHA256": snap.content_hash,
        "Link": f'</api/exports/{snap.id}/lineage>; rel="lineage"',
    }
    return Response(snap.data, media_type=fmt.media_type, headers=headers)


@router.get("/returns/{return_id}/{period_file}", summary="A return for a period, in a format", responses=_MEDIA)
def return_file(return_id: str, period_file: str, session: SessionDep, principal: ReturnsRead) -> Response:
    """Get a return for a period as .xlsx, .csv, .json or .sdmx.csv (e.g. FY2024-25.xlsx); repeats give identical bytes."""
    _visible_return(session, principal, return_id)
    if period_file.endswith(".structure.xml"):
        period = period_file.removesuffix(".structure.xml")
        _record, built = exports.build(session, return_id, period)
        return Response(sdmx_structure(built), media_type="application/xml")
    period, fmt = _split(period_file)
    return _download(exports.snapshot(session, return_id, period, fmt))


@router.get("/returns/{return_id}/{period}/completeness", summary="What is present and missing in a return")
def completeness(return_id: str, period: str, session: SessionDep, principal: ReturnsRead) -> dict[str, Any]:
    """Say, for each cell of a return for a period, whether it is present, missing (and who owes it), suppressed or not available."""
    _visible_return(session, principal, return_id)
    record, built = exports.build(session, return_id, period)
    labels = {info.code: info.label for info in built.fields}
    cells = [
        {"cell_id": c["cell_id"], "field_code": c["field_code"], "field_label": labels.get(c["field_code"], ""),
         "org_code": c["org_code"], "org_name": c["org_name"], "breakdown": c["breakdown"], "status": c["status"],
         "symbol": c["display"], "meaning": KEY.get(c["display"], ""), "reason": c["reason"]}
        for c in built.cells.filter(built.cells["status"] != "present").iter_rows(named=True)
    ]  # fmt: skip
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


@router.get("/exports", summary="Stored export snapshots")
def list_exports(
    session: SessionDep,
    principal: ReturnsRead,
    return_id: Annotated[str | None, Query(alias="return")] = None,
    period: str | None = None,
) -> list[dict[str, Any]]:
    """List stored snapshots (newest first) with their content hash."""
    rows = exports.list_snapshots(session, return_id=return_id, period=period)
    visible = []
    for snap, record in rows:
        try:
            _visible_return(session, principal, record.return_id)
        except NotFound:
            continue
        visible.append(
            {"id": snap.id, "build_id": record.id, "return_id": record.return_id, "period": record.period, "format": snap.format,
             "content_hash": snap.content_hash, "size_bytes": snap.size_bytes, "generated_at": record.generated_at,
             "completeness": record.completeness}
        )  # fmt: skip
    return visible


@router.get("/exports/{snapshot_id}", summary="One stored snapshot's bytes", responses=_MEDIA)
def get_export(snapshot_id: int, session: SessionDep, principal: ReturnsRead) -> Response:
    """Get a stored snapshot exactly as it was generated."""
    snap = exports.get_snapshot(session, snapshot_id)
    _visible_return(session, principal, snap.return_id)
    return _download(snap)


@router.get("/exports/{snapshot_id}/lineage", summary="Where every cell of a snapshot came from")
def get_lineage(
    snapshot_id: int,
    session: SessionDep,
    principal: ReturnsRead,
    cell: str | None = None,
    field: str | None = None,
    org: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """List each cell's stored figures with the upload and file row they came from (filter by cell, field or org)."""
    snap = exports.get_snapshot(session, snapshot_id)
    _visible_return(session, principal, snap.return_id)
    rows, total = exports.lineage(
        session, snap.build_id, cell=cell, field=field, org=org, limit=limit, offset=offset,
        released_only=principal.kind != "officer",
    )  # fmt: skip
    return {"snapshot_id": snap.id, "return_id": snap.return_id, "period": snap.period, "count": total, "data": rows}


@router.get("/burden", summary="Burden saved and overlap between returns")
def get_burden(
    session: SessionDep,
    _principal: ReturnsRead,
    period: Annotated[str, Query(description="e.g. FY2024-25")],
    minutes: Annotated[float, Query(gt=0, le=600, description="Officer minutes to key one figure")] = 3.0,
) -> dict[str, Any]:
    """Compare keying every return separately with keying each figure once; overlap matrix; figures measured two ways."""
    report = burden(session, period, minutes_per_figure=minutes)
    return {
        "period": report.period,
        "minutes_per_figure": report.minutes_per_figure,
        "totals": report.totals,
        "agencies": [a.__dict__ for a in report.agencies],
        "overlap": report.overlap,
        "consistency": [c.__dict__ for c in report.consistency],
    }
