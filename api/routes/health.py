"""Liveness and readiness."""

from __future__ import annotations

import logging
from importlib.metadata import version

from fastapi import APIRouter, Request
from sqlalchemy import text

from api.capacity import FAULTS
from api.deps import SessionDep
from collectors.records.privacy import key_status
from indicators.service import current_catalogue_version
from mappings.service import org_unit_count
from onereturn.errors import ServiceBusy

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


class NotReady(ServiceBusy):
    """The service is up but cannot serve: its database cannot be reached, or the catalogue is not loaded."""

    error_type = "not_ready"


@router.get("/health", summary="Liveness")
def health() -> dict[str, str]:
    """Say the process is up (no database access): a lost database is not cured by restarting the service."""
    return {"status": "ok", "version": version("onereturn")}


@router.get(
    "/health/ready",
    summary="Readiness",
    responses={
        503: {
            "description": "The database cannot be reached, the catalogue is not loaded, or this host's records keys "
            "are refused (see Retry-After)"
        }
    },
)
def ready(request: Request, session: SessionDep) -> dict[str, object]:
    """Check the database answers, the catalogue is loaded and this host's records keys are not refused (503 with
    Retry-After when not); say whether they are the deployment's."""
    retry = request.app.state.settings.retry_after_seconds
    try:
        session.execute(text("SELECT 1"))
        catalogue = current_catalogue_version(session)
        org_units = org_unit_count(session)
        records_keys = key_status(request.app.state.engine, request.app.state.settings)
    except FAULTS as exc:
        log.warning("not ready: the database cannot be reached: %s", exc.__class__.__name__)
        raise NotReady("The database cannot be reached; this instance cannot serve", retry_after=retry) from None
    if catalogue is None:
        raise NotReady("The catalogue is not loaded; run `onereturn catalogue load`", retry_after=retry)
    if records_keys["status"] == "refused":
        # A load balancer would otherwise keep sending this host record-level uploads it can only refuse.
        raise NotReady(f"Record-level work is refused on this host: {records_keys['detail']}", retry_after=retry)
    return {
        "status": "ready",
        "catalogue_version": catalogue.content_hash[:12],
        "indicators": catalogue.indicator_count,
        "returns": catalogue.return_count,
        "org_units": org_units,
        # Whether this host may do record-level work: its keys must be the deployment's (never the key itself).
        "records_keys": records_keys,
    }
