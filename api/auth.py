"""Principals from API keys (``X-API-Key``): agencies, regulators and performance officers, with scopes.

``authenticate(session, key)`` is the one check of a key, usable by any front door. The route
dependencies made by ``require`` add what the API door needs around it: slowing down an address
that keeps sending wrong keys, and recording every call in the audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Literal, TypedDict, TypeVar, Unpack

import anyio
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api import callrecord as trail
from api.deps import SessionDep
from api.principal import Principal
from api.scopes import READERS, Resource, read_scope, refusal
from api.throttle import HELD_DELAY, KeyPace, KeyThrottle
from mappings import keys
from mappings.keys import REGION_SCOPE
from mappings.keys.models import ApiKey
from onereturn.errors import Forbidden, TooManyRequests, Unauthorized

log = logging.getLogger(__name__)

#: Why a region's key is refused at every door but the region's own (``docs/regions.md``).
REGION_ONLY = (
    "A region's key reads the region's pooled outputs (GET /api/regions/{region} and its tables) and nothing of any "
    "council's own: a council's records, files, figures, Annex A and List 1 are read with the council's own key"
)

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (agency, regulator or officer)")


class KeyRefused(Unauthorized):
    """A key that is not known, or known and revoked (the caller is told the same either way)."""

    def __init__(self, message: str, *, revoked_prefix: str | None = None, revoked_label: str = "") -> None:
        super().__init__(message)
        self.revoked_prefix = revoked_prefix
        self.revoked_label = revoked_label


def authenticate(session: Session, key: str | None) -> Principal:
    """Find the principal of an API key, or raise Unauthorized (a revoked key fails at once)."""
    if not key:
        raise Unauthorized("An API key is needed: send it in the X-API-Key header")
    row = keys.find_by_secret(session, key)
    if row is None or row.revoked_at is not None:
        raise KeyRefused(
            "The API key is not known or has been revoked",
            revoked_prefix=row.prefix if row is not None else None,
            revoked_label=row.label if row is not None else "",
        )
    assert row.id is not None
    _touch(session, row)
    return Principal(
        row.id, row.kind, row.agency_code, row.recipient, frozenset(row.scopes), row.label, prefix=row.prefix
    )


def principal_of_key(session: Session, key_id: int) -> Principal:
    """Find the principal of a stored key by its id (a signed-in web session), or raise Unauthorized."""
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        raise Unauthorized("The key this session signed in with has been revoked; sign in again")
    return Principal(
        key_id, row.kind, row.agency_code, row.recipient, frozenset(row.scopes), row.label, prefix=row.prefix
    )


def _touch(session: Session, row: keys.KeyRecord) -> None:
    """Note the key's use in a short transaction of its own, so the request holds no write lock (SQLite)."""
    if not keys.needs_touch(row):
        return
    bind = session.get_bind()
    try:
        if isinstance(bind, Connection):
            keys.touch(session, row)
            return
        with Session(bind=bind) as own:
            keys.touch(own, row)
            own.commit()
    except SQLAlchemyError:  # "last used" is a convenience; it never blocks a valid key
        log.warning("Could not note the use of key %s", row.prefix, exc_info=True)


_Held = TypeVar("_Held")


def _held(request: Request, name: str, make: Callable[[], _Held]) -> _Held:
    """The app's ``name`` on its state, made on first use."""
    state = request.app.state
    if not hasattr(state, name):
        setattr(state, name, make())
    held: _Held = getattr(state, name)
    return held


def key_throttle(request: Request) -> KeyThrottle:
    """Return the app's throttle of failed keys (made on first use)."""
    return _held(request, "key_throttle", KeyThrottle)


def key_pace(request: Request) -> KeyPace:
    """Return the app's throttle of each valid key's requests (made on first use)."""
    return _held(request, "key_pace", KeyPace)


class HeldBack(TooManyRequests):
    """A failing key from an address held back after repeated failed keys."""


def admit(request: Request, session: Session, key: str | None) -> Principal:
    """Authenticate a request's key; a failing one from an address after repeated failed keys is refused (429).

    A valid key is let through whatever others at its address sent: it is held only by its own pace."""
    throttle = key_throttle(request)
    client = trail.client_of(request)
    try:
        return authenticate(session, key)
    except Unauthorized:
        wait = throttle.retry_after(client)
        if wait:
            refusal = HeldBack(f"Too many failed API keys from this address; try again in {wait} s", retry_after=wait)
            # A client hammering while held back would otherwise write an audit row per request.
            refusal.audited = not throttle.first_refusal(client)
            raise refusal from None
        if key:
            throttle.failed(client)
        raise


def paced(request: Request, principal: Principal) -> Principal:
    """Let a valid key's request through unless the key itself is sending too many (429 naming the key's wait)."""
    wait = key_pace(request).admit(principal.key_id)
    if wait:
        raise TooManyRequests(f"Too many requests with this key; try again in {wait} s", retry_after=wait)
    return principal


def check(
    principal: Principal,
    scopes: set[str],
    kinds: set[str] | None = None,
    *,
    reads: Resource | None = None,
    needs: str | None = None,
    what: str | None = None,
    region_door: bool = False,
) -> Principal:
    """Admit a principal with all the scopes, of the kinds or allowed to read ``reads``; every door asks this.

    ``needs`` says what key the door takes when its kinds alone would not say it (say, "an approver's agency key");
    ``what`` what the door gives, when ``reads`` alone would not say it. A region's key passes a ``region_door``
    only: it reads the region's pooled outputs and nothing of any council's own."""
    if REGION_SCOPE in principal.scopes and not region_door:
        raise Forbidden(REGION_ONLY)
    # One refusal naming every kind the door lets through: the kinds asked for and those that may read ``reads``.
    admitted = set(kinds) if kinds is not None else None
    if reads is not None:
        readers = READERS[reads]
        admitted = set(readers) if admitted is None else (admitted & readers) or admitted
    if admitted is not None and principal.kind not in admitted:
        refused_reading = reads is not None and principal.kind not in READERS[reads]
        raise Forbidden(refusal(principal.kind, admitted, reads if refused_reading else None, needs, what))
    if reads is not None:
        read_scope(principal).require(reads)
    missing = scopes - principal.scopes
    if missing:
        raise Forbidden(f"The key lacks the scope(s) {', '.join(sorted(missing))}")
    return principal


class Terms(TypedDict, total=False):
    """What a door asks of a key besides its scopes and kinds, as :func:`check` takes it."""

    reads: Resource | None
    needs: str | None
    what: str | None
    region_door: bool


def require(
    scopes: set[str], kinds: set[str] | None = None, **terms: Unpack[Terms]
) -> Callable[..., AsyncIterator[Principal]]:
    """Make a dependency admitting principals with all the scopes, of the kinds or allowed to read ``reads``; audit the call."""

    def admitted(request: Request, session: Session, key: str | None) -> Principal:
        principal: Principal | None = None
        try:
            principal = admit(request, session, key)
            paced(request, principal)
            return check(principal, scopes, kinds, **terms)
        except Exception as exc:
            trail.record_failure(request, session, principal, exc)
            raise

    async def dependency(
        request: Request, session: SessionDep, key: Annotated[str | None, Security(_header)] = None
    ) -> AsyncIterator[Principal]:
        # The key is read from the store in a worker thread; what needs no store stays on the event loop.
        try:
            principal = await run_in_threadpool(admitted, request, session, key)
        except HeldBack:
            await anyio.sleep(HELD_DELAY)
            raise
        request.state.principal = principal
        try:
            yield principal
        except Exception as exc:
            await run_in_threadpool(trail.record_failure, request, session, principal, exc)
            raise
        if trail.batched(request):
            trail.record_success(request, session, principal)
        else:
            await run_in_threadpool(trail.record_success, request, session, principal)

    return dependency


#: Each door's admission ends with the route function, as the session it uses does (api.deps), so its audit
#: event is stored in the same commit as the change, before the answer is sent.
FUNCTION: Literal["function"] = "function"
AgencySubmit = Annotated[Principal, Depends(require({"figures:submit"}, {"agency", "officer"}), scope=FUNCTION)]
# What each reader may open is decided once, in api.scopes.read_scope.
SubmissionRead = Annotated[Principal, Depends(require({"submissions:read"}, reads="submissions"), scope=FUNCTION)]
# A council's findings by child: its own agency key only, never an officer's or a regulator's.
RecordsRead = Annotated[
    Principal, Depends(require({"submissions:read"}, {"agency"}, reads="submissions"), scope=FUNCTION)
]
FiguresRead = Annotated[Principal, Depends(require({"figures:read"}, reads="figures"), scope=FUNCTION)]
ReturnsRead = Annotated[Principal, Depends(require({"returns:read"}, reads="returns"), scope=FUNCTION)]
AgenciesRead = Annotated[Principal, Depends(require({"submissions:read"}, reads="agencies"), scope=FUNCTION)]
TemplateRead = Annotated[Principal, Depends(require({"submissions:read"}, reads="templates"), scope=FUNCTION)]
CalendarRead = Annotated[Principal, Depends(require({"submissions:read"}, reads="calendar"), scope=FUNCTION)]
OutboxRead = Annotated[Principal, Depends(require({"submissions:read"}, reads="outbox"), scope=FUNCTION)]
BurdenRead = Annotated[Principal, Depends(require({"returns:read"}, reads="burden"), scope=FUNCTION)]
OfficerOnly = Annotated[Principal, Depends(require(set(), {"officer"}), scope=FUNCTION)]
