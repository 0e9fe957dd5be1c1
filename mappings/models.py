"""Tables of returns, field mappings and geography (org units, hierarchy, crosswalks)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class OrgUnit(SQLModel, table=True):
    """An organisation or area (GSS code where it has one), valid over a span of dates."""

    __tablename__ = "org_unit"

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(index=True)
    type: str = Field(max_length=32, index=True)
    valid_from: date | None = None
    valid_to: date | None = None
    source: str = ""


class OrgParent(SQLModel, table=True):
    """A nesting edge: ``child`` lies wholly inside ``parent`` while the edge is valid."""

    __tablename__ = "org_parent"
    __table_args__ = (UniqueConstraint("child_code", "parent_code", "valid_from"),)

    id: int | None = Field(default=None, primary_key=True)
    child_code: str = Field(foreign_key="org_unit.code", index=True, max_length=32)
    parent_code: str = Field(foreign_key="org_unit.code", index=True, max_length=32)
    valid_from: date | None = None
    valid_to: date | None = None
    source: str = ""


class Crosswalk(SQLModel, table=True):
    """A weighted link between areas that do not nest: ``weight`` of ``from_code`` lies in ``to_code``."""

    __tablename__ = "crosswalk"
    __table_args__ = (UniqueConstraint("from_code", "to_code", "basis"),)

    id: int | None = Field(default=None, primary_key=True)
    from_code: str = Field(foreign_key="org_unit.code", index=True, max_length=32)
    to_code: str = Field(foreign_key="org_unit.code", index=True, max_length=32)
    weight: float
    basis: str = Field(max_length=64)
    source: str = ""


class Return(SQLModel, table=True):
    """One statutory or local reporting requirement."""

    __tablename__ = "return_spec"

    id: str = Field(primary_key=True, max_length=64)
    title: str
    recipient: str
    submitter: str = Field(max_length=64)
    geography_level: str = Field(max_length=32)
    period_type: str = Field(max_length=32)
    deadline: str = ""
    formats: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    legal_basis: str = ""
    status: str = Field(default="active", max_length=16)
    valid_from: date | None = None
    valid_to: date | None = None
    provenance: str = ""
    #: Resolved citations of the return, of its final deadline rule, and its dated milestones
    #: (each ``{"name", "rule", "sources"}``).
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    deadline_sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    milestones: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: The rule of the date by which approvers must sign off (``agency_deadline``: at the agency
    #: deadline) and where it is documented.
    signoff_rule: str = Field(default="agency_deadline", max_length=64)
    signoff_sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    layout: str = Field(default="list", max_length=8)
    orgs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    suppression: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    rounding: str = Field(default="half_up", max_length=16)
    #: Whether the officer must accept a sign-off before the return's figures are released.
    needs_acceptance: bool = False
    #: The declaration an approver signs off with, word for word.
    declaration: str = ""
    #: Recipients besides ``recipient`` whose regulator keys read the return (its released cells only).
    readers: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: The publishers (agency codes) whose figure for an org unit fills a cell of the return where no figure of the
    #: body's own does; never the publisher the return is sent to (``collectors.published.sources`` checks it).
    from_publishers: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default=sa.text("'[]'"))
    )
    file: str = ""
    line: int = 0


class FieldMapping(SQLModel, table=True):
    """One cell or column of a return, mapped onto one canonical indicator with a typed relation."""

    __tablename__ = "field_mapping"
    __table_args__ = (UniqueConstraint("return_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    return_id: str = Field(foreign_key="return_spec.id", index=True, max_length=64)
    code: str = Field(max_length=64)
    label: str
    indicator_id: str = Field(foreign_key="indicator.id", index=True, max_length=128)
    relation: str = Field(max_length=32)
    breakdown: str = ""
    note: str = ""
    decimals: int | None = None
    scale: float = 1.0
    unit: str | None = None
    recode: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    counterpart: str | None = Field(default=None, max_length=128)
    #: Whether the return's publishers (``Return.from_publishers``) may fill the field's cells a body leaves empty.
    from_publishers: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    #: Why no publisher's figure fills the field's cells (none publishes it, or its file is not read), as its cell says.
    unpublished: str = Field(default="", sa_column_kwargs={"server_default": ""})
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    position: int = 0
    file: str = ""
    line: int = 0


class Agency(SQLModel, table=True):
    """A submitting body: a council team, NHS body, drug-treatment provider or reference source."""

    __tablename__ = "agency"

    code: str = Field(primary_key=True, max_length=64)
    name: str
    body_type: str = Field(max_length=64)
    email: str = ""
    source: str = ""
    #: ``bundled`` (the demo's agency files), ``import`` (a spreadsheet) or ``api``.
    origin: str = Field(default="bundled", max_length=16)
    #: The agency as given (org codes and ``type:`` selectors, returns, indicator patterns), so its
    #: links can be rebuilt when the catalogue changes.
    definition: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class OfficerGroup(SQLModel, table=True):
    """A comparator group an officer keeps: a title, who chose it and why, and the GSS codes of its councils.

    ``groups.toml`` seeds the store (``origin`` ``seed``); officers add, rename, change and delete groups
    over the API and on their page (``origin`` ``officer``). Every change is audited.
    """

    __tablename__ = "officer_group"

    id: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=200)
    source: str = Field(default="", max_length=1000)
    members: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    origin: str = Field(default="officer", max_length=16)
    created_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    #: When an officer deleted it: the row stays so a seeded group is not loaded again at the next start.
    deleted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class AgencyOrg(SQLModel, table=True):
    """An org unit an agency answers for."""

    __tablename__ = "agency_org"
    __table_args__ = (UniqueConstraint("agency_code", "org_code"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_code: str = Field(foreign_key="agency.code", index=True, max_length=64)
    org_code: str = Field(foreign_key="org_unit.code", index=True, max_length=32)


class AgencyReturn(SQLModel, table=True):
    """A return an agency contributes figures to."""

    __tablename__ = "agency_return"
    __table_args__ = (UniqueConstraint("agency_code", "return_id"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_code: str = Field(foreign_key="agency.code", index=True, max_length=64)
    return_id: str = Field(foreign_key="return_spec.id", max_length=64)


class AgencyIndicator(SQLModel, table=True):
    """An indicator an agency is the designated source of, for every org it answers for."""

    __tablename__ = "agency_indicator"
    __table_args__ = (UniqueConstraint("agency_code", "indicator_id"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_code: str = Field(foreign_key="agency.code", index=True, max_length=64)
    indicator_id: str = Field(foreign_key="indicator.id", index=True, max_length=128)


class ApiKey(SQLModel, table=True):
    """An API key: only its hash is stored, with a short prefix to find it by."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=16, index=True)
    key_hash: str = Field(max_length=64)
    kind: str = Field(max_length=16)  # agency | regulator | officer
    agency_code: str | None = Field(default=None, foreign_key="agency.code", max_length=64)
    recipient: str | None = None
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    label: str = ""
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    created_by: str = ""
    #: A demo key (from the bundled agency files): present only while the demo is loaded.
    demo: bool = False


class BuildRevision(SQLModel, table=True):
    """A counter per built (return, period): every change that can alter the build adds one."""

    __tablename__ = "build_revision"

    return_id: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=16)
    #: The period's first and last day, so a figure's change finds the builds its period reaches.
    starts: date
    ends: date
    revision: int = 0


class SignOff(SQLModel, table=True):
    """Where one agency's figures for one return and period stand: open, signed off, accepted, reopened or returned."""

    __tablename__ = "signoff"
    __table_args__ = (UniqueConstraint("agency_code", "return_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    agency_code: str = Field(foreign_key="agency.code", max_length=64)
    return_id: str = Field(max_length=64, index=True)
    period: str = Field(max_length=16)
    state: str = Field(max_length=16)  # open | signed_off | accepted | reopened | returned
    #: The declaration as signed, word for word, and by whom, when and from where.
    declaration: str = ""
    signed_by: str = Field(default="", max_length=300)
    key_prefix: str | None = Field(default=None, max_length=16)
    signed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    client: str = Field(default="", max_length=64)
    #: SHA-256 of the canonical list of the figures vouched for, and their ids.
    digest: str = Field(default="", max_length=64)
    figure_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    #: Why the officer sent it back, or which upload reopened it.
    reason: str = ""
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class SignOffBehind(SQLModel, table=True):
    """Whose figures a build of a return found behind its cells for a period, and the store's key it was read at:
    a service started again reads it while the key stands instead of building the return again."""

    __tablename__ = "signoff_behind"

    return_id: str = Field(primary_key=True, max_length=64)
    period: str = Field(primary_key=True, max_length=16)
    #: SHA-256 of what the figures behind a return depend on (``mappings.signoff.lineage.store_key``).
    store_key: str = Field(max_length=64)
    #: Agency code to the ids of its stored figures behind the return's cells.
    behind: dict[str, list[int]] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class SignOffEvent(SQLModel, table=True):
    """One transition of a sign-off, kept for good: nothing here is ever changed or deleted."""

    __tablename__ = "signoff_event"
    __table_args__ = (Index("ix_signoff_event_return_period", "return_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    signoff_id: int = Field(foreign_key="signoff.id", index=True)
    agency_code: str = Field(max_length=64)
    return_id: str = Field(max_length=64)
    period: str = Field(max_length=16)
    from_state: str = Field(max_length=16)
    to_state: str = Field(max_length=16)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(default="", max_length=300)
    key_prefix: str | None = Field(default=None, max_length=16)
    client: str = Field(default="", max_length=64)
    #: The declaration signed, the reason given, or the upload that reopened it.
    detail: str = ""
    digest: str = Field(default="", max_length=64)
