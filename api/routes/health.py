"""Liveness and readiness."""

from __future__ import annotations

from importlib.metadata import version

from fastapi import APIRouter
from sqlalchemy import text

from api.deps import SessionDep
from mappings.service import current_catalogue_version, org_unit_count
from onereturn.errors import OneReturnError

router = APIRouter(tags=["health"])


class NotReady(OneReturnError):
    """The service is up but cannot serve yet."""

    status_code = 503
    error_type = "not_ready"


@router.get("/health", summary="Liveness")
def health() -> dict[str, str]:
    """Say the process is up (no database access)."""
    return {"status": "ok", "version": version("onereturn")}


@router.get("/health/ready", summary="Readiness", responses={503: {"description": "The catalogue is not loaded yet"}})
def ready(session: SessionDep) -> dict[str, object]:
    """Check the database answers and the catalogue is loaded."""
    session.execute(text("SELECT 1"))
    catalogue = current_catalogue_version(session)
    if catalogue is None:
        raise NotReady("The catalogue is not loaded; run `onereturn catalogue load`")
    return {
        "status": "ready",
        "catalogue_version": catalogue.content_hash[:12],
        "indicators": catalogue.indicator_count,
        "returns": catalogue.return_count,
        "org_units": org_unit_count(session),
    }
