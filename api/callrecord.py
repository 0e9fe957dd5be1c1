"""Record each authenticated API call (and each refusal) in the audit trail, at the door.

The key dependencies call these around the route: a call that succeeds is recorded in the
request's own transaction; a call that fails is recorded in a transaction of its own, so the
refusal is kept while the failed work is rolled back.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Connection
from sqlmodel import Session

from api.capacity import FAULTS, again_if_lost, will_retry
from onereturn import audittrail
from onereturn.errors import OneReturnError

if TYPE_CHECKING:
    from api.callbatch import AuditBatcher
    from api.principal import Principal

log = logging.getLogger(__name__)

#: Audit action of each route (by its function's name); others are named after their function.
ACTIONS = {
    "upload": "submission.upload",
    "upload_records": "submission.upload",
    "list_submissions": "submission.list",
    "submission_report": "submission.read",
    "submission_report_csv": "submission.read",
    "submission_report_xlsx": "submission.read",
    "records_report": "records.read",
    "annex_a_summary": "annex_a.read",
    "annex_a_page": "annex_a.read",
    "annex_a_workbook": "annex_a.download",
    "annex_a_download": "annex_a.download",
    "annex_a_template": "annex_a.template",
    "annex_a_columns": "annex_a.columns",
    "annex_a_template_page": "annex_a.template",
    "annex_a_columns_page": "annex_a.columns",
    "template": "template.download",
    "list_agencies": "agency.list",
    "agency_detail": "agency.read",
    "create_agency": "agency.create",
    "update_agency": "agency.update",
    "import_agencies": "agency.import",
    "figures": "figures.read",
    "return_file": "return.pull",
    "completeness": "return.completeness",
    "list_exports": "export.list",
    "get_export": "export.download",
    "get_lineage": "lineage.read",
    "get_burden": "burden.read",
    "list_keys": "key.list",
    "create_key": "key.create",
    "revoke_key": "key.revoke",
    "rotate_key": "key.rotate",
    "read_audit": "audit.read",
    "dataflow": "sdmx.dataflow",
    "datastructure": "sdmx.structure",
    "codelist": "sdmx.codelist",
    "data": "return.pull",
    "list_signoffs": "signoff.list",
    "signoff_review": "signoff.read",
    "signoff_sign_off": "signoff.sign_off",
    "signoff_unapprove": "signoff.unapprove",
    "signoff_accept": "signoff.accept",
    "signoff_send_back": "signoff.return",
    "list_groups": "group.list",
    "read_group": "group.read",
    "create_group": "group.create",
    "update_group": "group.update",
    "delete_group": "group.delete",
}


def client_of(request: Request) -> str:
    """Return the client's address as the server saw it (behind a proxy: run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else ""


def action_of(request: Request) -> str:
    """Name the action of the route being called."""
    route = request.scope.get("route")
    name = getattr(route, "name", "") or request.url.path
    return ACTIONS.get(name, name.replace("_", "."))


def annotate(
    request: Request,
    *,
    object: str | None = None,
    outcome: str | None = None,
    status: int | None = None,
    detail: str = "",
) -> None:
    """Let a route say more precisely what it acted on and how it ended (e.g. an upload rejected)."""
    if object is not None:
        request.state.audit_object = object
    if outcome is not None:
        request.state.audit_outcome = outcome
    if status is not None:
        request.state.audit_status = status
    if detail:
        request.state.audit_detail = detail


def _object(request: Request) -> str:
    given = getattr(request.state, "audit_object", None)
    if given:
        return str(given)
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _who(principal: Principal | None, exc: Exception | None) -> tuple[str, str | None, str | None]:
    if principal is not None:
        return principal.name, principal.kind, principal.prefix or None
    revoked = getattr(exc, "revoked_prefix", None)
    if revoked:
        return f"revoked key: {getattr(exc, 'revoked_label', '')}", None, revoked
    if getattr(exc, "status_code", None) == 429:
        return "throttled address", None, None
    return ("unknown key" if exc is not None and "not known" in str(exc) else "no key"), None, None


def _call(request: Request, principal: Principal | None, exc: Exception | None) -> dict[str, Any]:
    """Who made the call (name, role, key prefix), what it did to which object, and from where."""
    name, role, prefix = _who(principal, exc)
    return {
        "principal": name,
        "role": role,
        "key_prefix": prefix,
        "action": action_of(request),
        "object": _object(request),
        "client": client_of(request),
    }


def record_success(request: Request, session: Session, principal: Principal) -> None:
    """Record a call that ended normally: a read through the app's batcher when it has one, else in the request's transaction."""
    outcome = getattr(request.state, "audit_outcome", None) or "ok"
    values: dict[str, Any] = {
        **_call(request, principal, None),
        "outcome": outcome,
        "status": getattr(request.state, "audit_status", None)
        or getattr(request.scope.get("route"), "status_code", None)
        or 200,
        "detail": getattr(request.state, "audit_detail", ""),
    }
    if batched(request):
        batcher: AuditBatcher = request.app.state.audit_batcher
        batcher.put({**values, "at": datetime.now(UTC)})
        return
    if getattr(request.state, STORED_WITH_CHANGE, False):
        # The service stored the change and this event in one transaction of its own (an upload, an import).
        return
    # Its id tells, should the commit's answer be lost with its connection, whether the change was made (api.deps).
    request.state.audit_event_id = audittrail.record(session, **values).id


#: Set on a request whose change a service stored with its audit event, in one transaction (``stored_event``).
STORED_WITH_CHANGE = "audit_stored_with_change"


def stored_event(request: Request, principal: Principal, object: str) -> dict[str, Any]:
    """The audit event of a change a service stores in a transaction of its own, for it to record in that very
    transaction (``object`` may hold ``{id}`` for the id the change is given); outcome, status and detail are the
    service's to add."""
    name, role, prefix = _who(principal, None)
    return {
        "principal": name,
        "role": role,
        "key_prefix": prefix,
        "action": action_of(request),
        "object": object,
        "client": client_of(request),
    }


def stored_with_change(request: Request) -> None:
    """Say the call's change was stored with its audit event (``stored_event``), so none is recorded again here."""
    setattr(request.state, STORED_WITH_CHANGE, True)


def batched(request: Request) -> bool:
    """Whether a successful call's event goes to the app's batcher (a read, when it has one), not to the store."""
    return request.method in ("GET", "HEAD") and getattr(request.app.state, "audit_batcher", None) is not None


def flush_batched(request: Request) -> None:
    """Write the queued audit events of reads, so a reader of the trail sees every call made before its own."""
    batcher: AuditBatcher | None = getattr(request.app.state, "audit_batcher", None)
    if batcher is not None:
        batcher.flush()


def _status(exc: Exception) -> int:
    if isinstance(exc, OneReturnError):
        return exc.status_code
    if isinstance(exc, RequestValidationError):
        return 422
    if isinstance(exc, FAULTS):
        # Answered 503 with Retry-After (api.capacity), and so recorded: a lost connection is no server error.
        return 503
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else 500


def record_failure(request: Request, session: Session, principal: Principal | None, exc: Exception) -> None:
    """Record a refused or failed call in a transaction of its own, so it outlives the request's rollback."""
    if getattr(exc, "audited", False) or will_retry(request, exc):
        # A read that lost its connection is made again at once (api.capacity.RetryRead) and recorded then.
        return
    status = _status(exc)
    values: dict[str, Any] = {
        **_call(request, principal, exc),
        "outcome": audittrail.outcome_of(status),
        "status": status,
        "detail": (exc.message if isinstance(exc, OneReturnError) else type(exc).__name__)[:512],
    }
    bind = session.get_bind()
    try:
        if not isinstance(bind, Connection):
            # The request's work is discarded anyway; ending it now frees any lock it holds (SQLite).
            session.rollback()
        # The failure being recorded may be that very connection's loss: the next one is fresh.
        again_if_lost(lambda: _record_alone(bind, values))
    except Exception:  # an audit write must never hide the error being reported
        log.exception("Could not record an audit event for %s %s", request.method, request.url.path)


def _record_alone(bind: Any, values: dict[str, Any]) -> None:
    with Session(bind=bind) as own:
        audittrail.record(own, **values)
        own.commit()
