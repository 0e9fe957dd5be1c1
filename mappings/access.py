"""API models for agencies and keys as the officer manages them."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictBool, computed_field, field_validator
from sqlmodel import Session

from mappings import keys
from mappings.council_ssd import CouncilSsd
from mappings.keys import APPROVER_SCOPE
from mappings.keys.models import ApiKey


class AgencyRecord(BaseModel):
    """An agency with what it answers for and where its definition came from."""

    code: str
    name: str
    body_type: str
    email: str
    orgs: list[str] = Field(description="Every org unit it answers for (selectors expanded)")
    returns: list[str]
    indicators: list[str] = Field(description="The indicators it is the designated source of")
    origin: str = Field(description="bundled (the demo's files), import or api")
    source: str
    given_orgs: list[str] = Field(description="The org units as given: GSS codes and type: selectors")
    published: str = Field(
        default="", description="Why its figures are official statistics it publishes itself, needing no sign-off"
    )
    ssd: CouncilSsd = Field(
        default_factory=CouncilSsd, description="A council's settings for its SSD extract (the defaults: none set)"
    )
    created_at: datetime | None
    updated_at: datetime | None


class AgencyImport(BaseModel):
    """What an import did."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    dry_run: bool
    #: Each council's consent to a region withdrawn because it is a member no more ("council to region").
    consent_ended: list[str] = []


class KeyPublic(BaseModel):
    """An API key as listed: never the key itself, only its visible prefix."""

    model_config = ConfigDict(from_attributes=True)

    prefix: str
    role: str = Field(validation_alias=AliasChoices("kind", "role"))
    agency_code: str | None
    recipient: str | None
    scopes: list[str]
    label: str
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None
    demo: bool

    @computed_field  # type: ignore[prop-decorator]
    @property
    def approver(self) -> bool:
        """Whether the key may sign off its agency's figures for release."""
        return APPROVER_SCOPE in self.scopes

    @field_validator("created_at", "last_used_at", "revoked_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # SQLite hands back times without their zone; every time stored is UTC.
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class KeyIssued(KeyPublic):
    """A key just issued: ``key`` is shown this once and never again."""

    key: str = Field(description="The key; store it now, it cannot be shown again")


class KeyCreate(BaseModel):
    """A key to issue."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    role: str = Field(pattern=r"^(officer|agency|regulator)$")
    label: str = Field(min_length=1, max_length=200, description="Who holds it, e.g. 'Kent CYP performance team'")
    agency: str | None = Field(default=None, max_length=64, description="The agency of an agency key")
    recipient: str | None = Field(default=None, max_length=200, description="The recipient of a regulator key")
    # Strict: a JSON string or number here is a caller's mistake to name, not a flag to guess at.
    approver: StrictBool = Field(default=False, description="An agency key that may also sign off the agency's figures")


def listed_keys(session: Session, *, revoked: bool) -> list[KeyPublic]:
    """Every key by its visible prefix (revoked ones too, if asked), never the key itself."""
    return [KeyPublic.model_validate(k) for k in keys.list_keys(session, include_revoked=revoked)]


def issue_key(session: Session, body: KeyCreate, *, created_by: str) -> KeyIssued:
    """Issue a key as ``body`` asks; the answer holds the key, shown this once."""
    row, secret = keys.create_key(
        session,
        role=body.role,
        label=body.label,
        agency_code=body.agency,
        recipient=body.recipient,
        created_by=created_by,
        approver=body.approver,
    )
    return _issued(row, secret)


def rotate_key(session: Session, prefix: str, *, created_by: str) -> tuple[str, KeyIssued]:
    """Issue a new key like the one at ``prefix`` and revoke that one: the old prefix, and the new key issued."""
    old, new, secret = keys.rotate_key(session, prefix, created_by=created_by)
    return old.prefix, _issued(new, secret)


def revoke_key(session: Session, prefix: str) -> KeyPublic:
    """Revoke the key at ``prefix``: it stops working at once."""
    return KeyPublic.model_validate(keys.revoke_key(session, prefix))


def key_words(key: KeyPublic) -> str:
    """A key as the audit trail names it: its prefix, role and whose it is."""
    whose = key.agency_code or key.recipient
    return f"key {key.prefix} ({key.role}{' ' + whose if whose else ''})"


def _issued(row: ApiKey, secret: str) -> KeyIssued:
    return KeyIssued.model_validate(KeyPublic.model_validate(row).model_dump() | {"key": secret})
