"""The table of API keys: each key's hash, prefix, holder and scopes (never the key itself)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field, SQLModel


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
