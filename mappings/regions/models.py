"""The consent a council gives a region, use case by use case, kept in the service (the audit trail keeps each change)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, ForeignKey, String, UniqueConstraint
from sqlmodel import Field, SQLModel


class RegionConsent(SQLModel, table=True):
    """A council's consent to one region: the use cases it consents to now (none once withdrawn), and who last changed
    it when. A council with no row has consented to nothing."""

    __tablename__ = "region_consent"
    __table_args__ = (UniqueConstraint("council_code", "region_code"),)

    id: int | None = Field(default=None, primary_key=True)
    #: Both agencies' codes; a consent goes with either agency, as its keys do.
    council_code: str = Field(
        sa_column=Column(String(64), ForeignKey("agency.code", ondelete="CASCADE"), nullable=False, index=True)
    )
    region_code: str = Field(
        sa_column=Column(String(64), ForeignKey("agency.code", ondelete="CASCADE"), nullable=False, index=True)
    )
    use_cases: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    changed_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    #: Who changed it last, as the audit trail names a principal (never a key).
    changed_by: str = Field(default="", max_length=256)
