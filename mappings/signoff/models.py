"""The tables of sign-off: where each agency's figures for a return and period stand, every move of it kept for
good, and whose figures a build found behind a return's cells."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


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
