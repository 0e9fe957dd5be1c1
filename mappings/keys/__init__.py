"""API keys: issued at random, stored only as a SHA-256 hash with a short visible prefix.

A new key carries 256 random bits (``secrets.token_urlsafe(32)``). Against a secret that cannot
be guessed, a slow password hash (bcrypt, scrypt, Argon2) adds no protection: it exists to
stretch low-entropy passwords. So one SHA-256 per request is right here, and keeps every
request cheap. The only keys without that entropy are the demo keys, which the README publishes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import String, bindparam, update
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from mappings.keys.models import ApiKey
from mappings.models import Agency, Return
from onereturn.errors import Conflict, InvalidInput, NotFound

Role = Literal["officer", "agency", "regulator"]
ROLES: tuple[Role, ...] = ("officer", "agency", "regulator")

#: What each kind of principal may do unless its key says otherwise.
DEFAULT_SCOPES: dict[str, list[str]] = {
    "agency": ["figures:submit", "submissions:read", "figures:read"],
    "regulator": ["returns:read", "figures:read"],
    "officer": ["figures:submit", "submissions:read", "figures:read", "returns:read", "catalogue:write"],
}
#: The scope of an agency's approver: it may sign off the agency's figures for release (and withdraw a sign-off).
APPROVER_SCOPE = "returns:sign_off"
#: The body type of a region's hub (``docs/regions.md``), and the one scope its keys hold: they read the region's
#: pooled outputs and nothing of any council's own.
REGION_BODY = "region"
REGION_SCOPE = "regions:read"
#: Characters of a key kept in clear: enough to tell keys apart in a list, far too few to use.
PREFIX_LENGTH = 16
#: How stale ``last_used_at`` may get before a use writes it again (spares a write per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)
KEY_MARK = "or_"


def new_secret() -> str:
    """Return a fresh key: ``or_`` and 256 random bits, URL-safe."""
    return KEY_MARK + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """Hash an API key for storage (SHA-256, hex)."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    """Return the part of a key stored in clear, to find its row and name it in lists."""
    return key[:PREFIX_LENGTH]


@dataclass(frozen=True)
class KeyRecord:
    """What a request needs of a stored key, read as columns rather than as an ORM object (every request reads one)."""

    id: int
    prefix: str
    key_hash: str
    kind: str
    agency_code: str | None
    recipient: str | None
    scopes: list[str]
    label: str
    revoked_at: datetime | None
    last_used_at: datetime | None


# Built once: every request runs it, and building it (and an ORM object from its row) each time cost several
# times the database's answer.
_BY_PREFIX = columns(
    *(col(getattr(ApiKey, name)) for name in KeyRecord.__dataclass_fields__),
).where(col(ApiKey.prefix) == bindparam("prefix", type_=String))


def find_by_secret(session: Session, key: str) -> KeyRecord | None:
    """Return the stored key (revoked or not) whose hash matches ``key``, compared in constant time."""
    digest = hash_key(key)
    found = None
    for row in session.connection().execute(_BY_PREFIX, {"prefix": key_prefix(key)}):
        # Every candidate is compared, so the time taken does not say which one matched.
        if hmac.compare_digest(row.key_hash, digest):
            found = KeyRecord(*row)
    return found


def needs_touch(row: KeyRecord, now: datetime | None = None) -> bool:
    """Say whether a key's ``last_used_at`` is stale enough to write again."""
    now = now or datetime.now(UTC)
    last = row.last_used_at
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return last is None or now - last >= LAST_USED_RESOLUTION


def touch(session: Session, row: KeyRecord, now: datetime | None = None) -> None:
    """Record that a key was just used."""
    session.execute(update(ApiKey).where(col(ApiKey.id) == row.id).values(last_used_at=now or datetime.now(UTC)))


def recipients(session: Session) -> list[str]:
    """List the recipients that returns are addressed to."""
    return sorted(set(session.execute(select(Return.recipient)).scalars()))


def _check_role(session: Session, role: str, agency_code: str | None, recipient: str | None) -> None:
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "agency":
        if not agency_code:
            raise InvalidInput("An agency key needs the agency it belongs to (--agency / 'agency')")
        if session.get(Agency, agency_code) is None:
            known = ", ".join(session.execute(select(Agency.code).order_by(col(Agency.code))).scalars())
            raise InvalidInput(f"Agency {agency_code!r} is not known; expected one of {known or '(none yet)'}")
    elif agency_code:
        raise InvalidInput(f"Only an agency key belongs to an agency; a {role} key takes no agency")
    if role == "regulator":
        if not recipient:
            raise InvalidInput("A regulator key needs the recipient whose returns it reads (--recipient / 'recipient')")
        known_recipients = recipients(session)
        if recipient not in known_recipients:
            raise InvalidInput(
                f"No return is addressed to {recipient!r}; expected one of {'; '.join(known_recipients)}"
            )
    elif recipient:
        raise InvalidInput(f"Only a regulator key has a recipient; a {role} key takes none")


def _is_region(session: Session, agency_code: str | None) -> bool:
    """Whether the agency is a region's hub (its keys are the region's)."""
    agency = session.get(Agency, agency_code) if agency_code else None
    return agency is not None and agency.body_type == REGION_BODY


def create_key(
    session: Session,
    *,
    role: str,
    label: str,
    agency_code: str | None = None,
    recipient: str | None = None,
    created_by: str = "",
    scopes: list[str] | None = None,
    approver: bool = False,
) -> tuple[ApiKey, str]:
    """Issue a key (``approver``: an agency key that may also sign off); return its row and the key, never shown again."""
    label = label.strip()
    # An empty agency or recipient means none; stored as "" it would name an agency that does not exist.
    agency_code = agency_code or None
    recipient = recipient or None
    if not label:
        raise InvalidInput("Give the key a label saying who holds it (--label / 'label')")
    if len(label) > 200:
        raise InvalidInput("A key's label is at most 200 characters")
    _check_role(session, role, agency_code, recipient)
    if approver and role != "agency":
        raise InvalidInput(
            f"Only an agency key can be an approver (it signs off that agency's figures); not a {role} key"
        )
    granted = list(scopes) if scopes is not None else list(DEFAULT_SCOPES[role])
    if role == "agency" and _is_region(session, agency_code):
        if approver:
            raise InvalidInput(
                f"{agency_code} is a region: its keys read its pooled outputs and sign off nothing, so none is an "
                "approver"
            )
        # Whatever was asked for: a region's key reads the region's pooled outputs and nothing of any council's own.
        granted = [REGION_SCOPE]
    if approver and APPROVER_SCOPE not in granted:
        granted.append(APPROVER_SCOPE)
    secret = new_secret()
    while session.execute(select(ApiKey.id).where(ApiKey.prefix == key_prefix(secret))).first() is not None:
        secret = new_secret()
    row = ApiKey(
        prefix=key_prefix(secret),
        key_hash=hash_key(secret),
        kind=role,
        agency_code=agency_code,
        recipient=recipient,
        scopes=granted,
        label=label,
        created_at=datetime.now(UTC),
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, secret


def list_keys(session: Session, *, include_revoked: bool = True) -> list[ApiKey]:
    """List the stored keys, newest first."""
    stmt = select(ApiKey).order_by(col(ApiKey.created_at).desc(), col(ApiKey.id).desc())
    if not include_revoked:
        stmt = stmt.where(col(ApiKey.revoked_at).is_(None))
    return list(session.execute(stmt).scalars())


def get_key(session: Session, prefix: str) -> ApiKey:
    """Return the one key whose visible prefix is (or starts with) ``prefix``."""
    prefix = prefix.strip()
    if len(prefix) < 6:
        raise InvalidInput("Give at least the first 6 characters of the key's prefix (see `keys list`)")
    exact = list(session.execute(select(ApiKey).where(ApiKey.prefix == prefix[:PREFIX_LENGTH])).scalars())
    rows = exact or list(
        session.execute(select(ApiKey).where(col(ApiKey.prefix).startswith(prefix, autoescape=True))).scalars()
    )
    if not rows:
        raise NotFound(f"No key has the prefix {prefix!r}; see GET /api/keys or `onereturn keys list`")
    if len(rows) > 1:
        raise Conflict(f"{len(rows)} keys start with {prefix!r}; give more of the prefix")
    found: ApiKey = rows[0]
    return found


def revoke_key(session: Session, prefix: str) -> ApiKey:
    """Revoke a key at once; refuse one already revoked."""
    row = get_key(session, prefix)
    if row.revoked_at is not None:
        raise Conflict(f"Key {row.prefix} was already revoked at {row.revoked_at:%Y-%m-%d %H:%M} UTC")
    row.revoked_at = datetime.now(UTC)
    session.add(row)
    session.flush()
    return row


def rotate_key(session: Session, prefix: str, *, created_by: str = "") -> tuple[ApiKey, ApiKey, str]:
    """Issue a new key with the same role, scope and label and revoke the old one; return old, new and the new key."""
    old = get_key(session, prefix)
    if old.revoked_at is not None:
        raise Conflict(f"Key {old.prefix} is revoked; create a new key instead of rotating it")
    new, secret = create_key(
        session,
        role=old.kind,
        label=old.label.removeprefix("demo: "),
        agency_code=old.agency_code,
        recipient=old.recipient,
        created_by=created_by,
        scopes=list(old.scopes),
    )
    old.revoked_at = datetime.now(UTC)
    session.add(old)
    session.flush()
    return old, new, secret
