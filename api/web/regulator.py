"""The regulator's pages: its returns and periods, each format to download, and what changed since its last download."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from api import return_files
from api.deps import SessionDep
from api.params import IsoDatetime
from api.web.render import page
from api.web.sessions import last_downloads, record_download
from api.web.shared import RETURNS, PageRoute, VisitorDep, allowed
from exports import release
from exports import service as exports
from exports.changes import changed_since
from exports.dataflows import available_periods
from exports.signoff import behind
from exports.signoff.behind import Standing
from exports.writers import FORMATS
from indicators.periods import utc
from mappings import service as mappings
from mappings.agencies import agency_names
from mappings.calendar import calendar_entries
from mappings.models import Return
from onereturn.errors import NotFound
from onereturn.models import ReturnDownload

router = APIRouter(route_class=PageRoute, include_in_schema=False)
#: Periods shown per return, newest first; and agencies named in a status before the rest are counted.
SHOWN_PERIODS, NAMED = 8, 3
FORMAT_NAMES = {"xlsx": "Excel workbook", "csv": "CSV", "json": "JSON", "sdmx-csv": "SDMX-CSV"}


def _visible(session: Session, visitor: VisitorDep) -> list[Any]:
    out = []
    for ret in mappings.list_returns(session):
        try:
            return_files.visible_return(session, visitor.principal, ret.id)
        except NotFound:
            continue
        out.append(ret)
    return out


def _periods(session: Session, return_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    today = datetime.now(UTC).date()
    out: dict[str, list[dict[str, Any]]] = {r: [] for r in return_ids}
    for e in calendar_entries(session, today - timedelta(days=800), today + timedelta(days=120)):
        if e.return_id in return_ids and e.kind == "recipient_deadline":
            out[e.return_id].append({"period": e.period, "deadline": e.at})
    for rows in out.values():
        rows.sort(key=lambda r: r["deadline"], reverse=True)
    for return_id in sorted(return_ids):
        ret = session.get(Return, return_id)
        if ret is not None and not ret.deadline and not out[return_id]:
            # A return with no deadline (one filled from a publisher's files as they are published): the periods
            # its figures reach, newest first.
            out[return_id] = [{"period": p, "deadline": None} for p in reversed(available_periods(session, ret))]
    return out


@router.get("/regulator")
def returns(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """The returns addressed to this regulator, their periods, downloads and what changed since the last one."""
    allowed(visitor, RETURNS)
    visible = _visible(session, visitor)
    periods = _periods(session, {r.id for r in visible})
    downloads = last_downloads(session, visitor.principal.key_id)
    changes = [_changes(session, d) for (rid, _p), d in sorted(downloads.items()) if rid in periods]
    formats = [(name, f.extension, FORMAT_NAMES.get(name, name)) for name, f in FORMATS.items()]
    # Every shown period's sign-off status at once: the sign-offs in one read, each build once per state of the store.
    shown = {rid: [p["period"] for p in rows[:SHOWN_PERIODS]] for rid, rows in periods.items()}
    names = agency_names(session)
    standings = {key: _status(found, names) for key, found in behind.standings(session, shown).items()}
    return page(
        request,
        "regulator/returns.html",
        visitor,
        title="Your returns",
        returns=visible,
        periods=periods,
        formats=formats,
        changes=changes,
        downloads=downloads,
        titles={r.id: r.title for r in visible},
        standings=standings,
        shown_periods=SHOWN_PERIODS,
    )


def _named(names: list[str]) -> str:
    """Agency names as a sentence, the first few of a long list and a count of the rest."""
    shown = names[:NAMED]
    rest = len(names) - len(shown)
    if rest:
        return ", ".join(shown) + f" and {rest} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _status(standing: Standing, names: dict[str, str]) -> dict[str, Any]:
    """A period's sign-off status in words: signed off by all, or whom it still waits for; and when last signed off."""
    behind = len(standing.behind)
    if not behind:
        return {"released": False, "text": "Nothing to sign off yet", "detail": "", "signed_at": None}
    waiting = [names.get(a, a) for a in standing.waiting]
    unaccepted = [names.get(a, a) for a in standing.unaccepted]
    if standing.released:
        text = (
            f"Signed off by all {behind}"
            if behind > 1
            else f"Signed off by {names.get(standing.behind[0], standing.behind[0])}"
        )
        return {"released": True, "text": text, "detail": "", "signed_at": standing.last_signed_at}
    parts = []
    if waiting:
        parts.append(f"Not yet signed off by {_named(waiting)}")
    if unaccepted:
        parts.append(f"{'Signed off but not' if not waiting else 'not'} yet accepted from {_named(unaccepted)}")
    done = behind - len(waiting) - len(unaccepted)
    return {
        "released": False,
        "text": "; ".join(parts),
        "detail": f"{done} of {behind} signed off",
        "signed_at": standing.last_signed_at,
    }


def _changes(session: Session, last: ReturnDownload) -> dict[str, Any]:
    """The cells of a return changed since a regulator last downloaded it, as the API's updated_after gives them."""
    record, built = exports.build(session, last.return_id, last.period)
    changed = changed_since(session, record, built, last.downloaded_at)
    cells = release.signed_again(session, changed)
    return {
        "return_id": last.return_id,
        "period": last.period,
        "downloaded_at": last.downloaded_at,
        "format": last.format,
        "built_at": record.generated_at,
        "changed": bool(cells),
        "cells": cells,
        "since": utc(last.downloaded_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "extension": FORMATS[last.format].extension,  # type: ignore[index]
    }


@router.get("/regulator/download/{return_id}/{period_file}")
def return_file(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    return_id: str,
    period_file: str,
    updated_after: IsoDatetime | None = None,
) -> Response:
    """Download a return in a format: the API's own response, byte for byte; a full download is remembered."""
    allowed(visitor, RETURNS)
    response = return_files.return_download(
        request, session, visitor.principal, return_id, period_file, updated_after=updated_after
    )
    snapshot_id = response.headers.get("X-Snapshot-Id")
    if snapshot_id is not None:
        snap = exports.get_snapshot(session, int(snapshot_id), with_data=False)
        record_download(
            session,
            key_id=visitor.principal.key_id,
            return_id=return_id,
            period=snap.period,
            fmt=snap.format,
            snapshot_id=snap.id,
            build_id=snap.build_id,
        )
    return response
