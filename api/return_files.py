"""A return for a period as a file: what ``GET /api/returns/{id}/{period_file}`` answers, and the regulator's page.

A return the caller may read, in the format its name's suffix asks for: the newest snapshot (or a fresh build),
the snapshot current at an instant, only the cells changed since one, its SDMX structure, or an officer's
preview with every figure; each the same bytes to the API and to the page that hands it over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import String, bindparam
from sqlalchemy import select as columns
from sqlmodel import Session, col

from api.conditional import conditional
from api.params import checked_period
from api.principal import Principal
from api.scopes import read_scope
from exports import service as exports
from exports.changes import changed_since, snapshot_at
from exports.freshness import freshness_headers, pull
from exports.writers import FORMATS, sdmx_structure, write
from indicators.periods import parse_period, utc
from mappings.models import Return
from onereturn.errors import Forbidden, InvalidInput, NotFound

_BY_EXTENSION = {f.extension: name for name, f in FORMATS.items()}


def return_download(
    request: Request,
    session: Session,
    principal: Principal,
    return_id: str,
    period_file: str,
    *,
    updated_after: datetime | None = None,
    as_of: datetime | None = None,
    fresh: bool = False,
    preview: bool = False,
) -> Response:
    """A return for a period as the file ``period_file`` names (e.g. FY2024-25.xlsx), for a caller who may read it."""
    period_type = _visible_period_type(session, principal, return_id)
    if preview:
        return _preview(principal, session, return_id, period_file, (updated_after, as_of, fresh))
    if period_file.endswith(".structure.xml"):
        if updated_after is not None or as_of is not None:
            raise InvalidInput("updated_after and as_of apply to a return's data, not to its structure")
        period = checked_period(period_file.removesuffix(".structure.xml"), "path", "period_file")
        _record, built = exports.build(session, return_id, period)
        return Response(sdmx_structure(built), media_type="application/xml")
    period, fmt = _split(period_file)
    checked_period(period, "path", "period_file")
    if updated_after is not None and as_of is not None:
        raise InvalidInput("Ask for either updated_after (what changed since) or as_of (what was sent then), not both")
    if as_of is not None:
        canonical = parse_period(period, period_type).code  # type: ignore[arg-type]
        stored = snapshot_at(session, return_id, canonical, fmt, as_of)
        assert stored.id is not None
        return download(request, exports.get_snapshot(session, stored.id))
    if updated_after is not None:
        return _changes(request, session, return_id, period, fmt, updated_after)
    pulled = pull(session, return_id, period, fmt, fresh=fresh, period_type=period_type)
    return download(request, pulled.snapshot, freshness_headers(pulled))


def _not_visible(return_id: str) -> NotFound:
    return NotFound(f"Return {return_id!r} is not defined (or not addressed to you); see GET /api/returns")


def visible_return(session: Session, principal: Principal, return_id: str) -> Return:
    """The return, when the caller may read it; NotFound (as for a return not defined) otherwise."""
    ret = session.get(Return, return_id)
    if ret is None or not read_scope(principal).reads_return(ret.recipient, ret.readers):
        raise _not_visible(return_id)
    return ret


# Built once and read as three columns: every pull asks, and an ORM object of the return cost more than the pull.
_ACCESS = columns(col(Return.recipient), col(Return.readers), col(Return.period_type)).where(
    col(Return.id) == bindparam("return_id", type_=String)
)


def _visible_period_type(session: Session, principal: Principal, return_id: str) -> str:
    """The period type of a return the principal may read (NotFound otherwise, as ``visible_return``)."""
    row = session.connection().execute(_ACCESS, {"return_id": return_id}).first()
    if row is None or not read_scope(principal).reads_return(row.recipient, row.readers or ()):
        raise _not_visible(return_id)
    return str(row.period_type)


def _split(name: str) -> tuple[str, str]:
    for extension in sorted(_BY_EXTENSION, key=len, reverse=True):
        if name.endswith("." + extension):
            return name[: -len(extension) - 1], _BY_EXTENSION[extension]
    raise InvalidInput(f"{name!r} has no known format suffix; use one of {', '.join('.' + e for e in _BY_EXTENSION)}")


def download(request: Request, snap: exports.Snapshot, extra: dict[str, str] | None = None) -> Response:
    """A stored snapshot as its file: named for its return and period, its ETag its content hash, with its lineage."""
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
    checked_period(period, "path", "period_file")
    built, data = exports.preview(session, return_id, period, fmt)
    spec = FORMATS[fmt]  # type: ignore[index]
    headers = {
        "Content-Disposition": f'attachment; filename="{return_id}-{built.period}-preview.{spec.extension}"',
        "X-Preview": "true",
    }
    return Response(data, media_type=spec.media_type, headers=headers)
