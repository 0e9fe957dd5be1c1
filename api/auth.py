"""Principals from API keys (``X-API-Key``): agencies, regulators and performance officers, with scopes."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import APIKeyHeader
from sqlmodel import Session, col, select

from api.deps import SessionDep
from errors import Forbidden, Unauthorized
from mappings.agencies import hash_key, key_prefix
from mappings.models import ApiKey

_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key (agency, regulator or officer)")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the kind of principal, its agency or recipient, and its scopes."""

    key_id: int
    kind: str
    agency_code: str | None
    recipient: str | None
    scopes: frozenset[str]
    label: str

    @property
    def agency_scope(self) -> str | None:
        """Return the agency every query must be limited to (None for officers and regulators)."""
        return self.agency_code if self.kind == "agency" else None


def authenticate(session: Session, key: str | None) -> Principal:
    """Find the principal of an API key, or raise Unauthorized."""
    if not key:
        raise Unauthorized("An API key is needed: send it in the X-API-Key header")
    digest = hash_key(key)
    rows = session.execute(
        select(ApiKey).where(ApiKey.prefix == key_prefix(key), col(ApiKey.revoked_at).is_(None))
    ).scalars()
    for row in rows:
        if hmac.compare_digest(row.key_hash, digest):
            assert row.id is not None
            return Principal(row.id, row.kind, row.agency_code, row.recipient, frozenset(row.scopes), row.label)
    raise Unauthorized("The API key is not known or has been revoked")


def require(scopes: set[str], kinds: set[str]) -> Callable[..., Principal]:
    """Make a dependency that admits only the given kinds of principal holding all the scopes."""

    def dependency(session: SessionDep, key: Annotated[str | None, Security(_header)] = None) -> Principal:
        principal = authenticate(session, key)
        if principal.kind not in kinds:
            raise Forbidden(f"A {principal.kind} key cannot do this; it needs a {' or '.join(sorted(kinds))} key")
        missing = scopes - principal.scopes
        if missing:
            raise Forbidden(f"The key lacks the scope(s) {', '.join(sorted(missing))}")
        return principal

    return dependency


AgencySubmit = Annotated[Principal, Depends(require({"figures:submit"}, {"agency", "officer"}))]
SubmissionRead = Annotated[Principal, Depends(require({"submissions:read"}, {"agency", "officer"}))]
FiguresRead = Annotated[Principal, Depends(require({"figures:read"}, {"agency", "officer", "regulator"}))]
ReturnsRead = Annotated[Principal, Depends(require({"returns:read"}, {"regulator", "officer"}))]
