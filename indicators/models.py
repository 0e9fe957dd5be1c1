"""Tables of the canonical catalogue: code lists, indicators and catalogue versions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel


class CodeList(SQLModel, table=True):
    """A list of codes a breakdown dimension (or a judgement) takes its values from."""

    __tablename__ = "codelist"

    id: str = Field(primary_key=True, max_length=64)
    title: str
    source: str = ""
    #: Resolved citations: publisher, title, year, url, section, own_reading.
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Code(SQLModel, table=True):
    """One code of a code list, with its label."""

    __tablename__ = "code"
    __table_args__ = (UniqueConstraint("codelist_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    codelist_id: str = Field(foreign_key="codelist.id", index=True, max_length=64)
    code: str = Field(max_length=64)
    label: str
    position: int = 0


class Indicator(SQLModel, table=True):
    """The canonical definition of one real-world quantity."""

    __tablename__ = "indicator"

    id: str = Field(primary_key=True, max_length=128)
    title: str
    plain_title: str
    definition: str
    statistic: str = Field(max_length=16, index=True)
    numerator: str | None = Field(default=None, max_length=128)
    denominator: str | None = Field(default=None, max_length=128)
    numerator_label: str | None = None
    denominator_label: str | None = None
    multiplier: int = 1
    unit: str
    decimals: int = 0
    polarity: str = Field(max_length=32)
    #: The resolved citation of the publisher's statement of the polarity; None where no source says.
    polarity_source: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    period_type: str = Field(max_length=32)
    time_basis: str = Field(max_length=32)
    breakdowns: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    aggregation: str = Field(max_length=32)
    purpose: str = Field(max_length=16)
    method: str = Field(max_length=128)
    source_body: str = Field(max_length=64)
    formula: str | None = None
    range_min: float | None = None
    range_max: float | None = None
    judgement_codelist: str | None = Field(default=None, max_length=64)
    aliases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="active", max_length=16, index=True)
    valid_from: date | None = None
    valid_to: date | None = None
    #: "local" (keyed by a local body) or "central" (derived centrally from a national data set).
    collection: str = Field(default="local", max_length=16)
    source: str = ""
    #: Resolved citations: publisher, title, year, url, section, own_reading.
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    file: str = ""
    line: int = 0

    @property
    def is_derived(self) -> bool:
        """Say whether the service computes this figure rather than asking an agency for it."""
        return self.formula is not None


class CatalogueRule(SQLModel, table=True):
    """One plausibility rule of the catalogue (indicators/rules.py says what each kind checks)."""

    __tablename__ = "catalogue_rule"

    id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=32)
    severity: str = Field(max_length=12)
    message: str
    source: str = ""
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    position: int = 0
    file: str = ""
    line: int = 0


class CatalogueVersion(SQLModel, table=True):
    """One load of the catalogue files into the database, identified by their content hash."""

    __tablename__ = "catalogue_version"

    id: int | None = Field(default=None, primary_key=True)
    content_hash: str = Field(max_length=64, index=True)
    loaded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    indicator_count: int
    return_count: int
    field_count: int
