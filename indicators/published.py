"""Tables of the published-figures intake: each release read, and every figure in it with its lineage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class PublishedRelease(SQLModel, table=True):
    """One release of one publisher's data set as read: the raw file kept, its version and what it gave."""

    __tablename__ = "published_release"
    # Not unique: a file read before is applied again, as a release of its own, when a later one is current.
    __table_args__ = (Index("ix_published_release_source_hash", "source_id", "content_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    #: The published source file (``mappings/published/<id>.toml``) that says how to read it.
    source_id: str = Field(max_length=64, index=True)
    #: The publisher's agency code (e.g. ``ons``, ``dfe``).
    publisher: str = Field(max_length=64)
    #: The publisher's data set (EES data set id or file name).
    dataset: str = Field(max_length=128)
    #: The publisher's version of the data set (EES ``1.0``, ``2.1``), or empty when it gives none.
    version: str = Field(default="", max_length=32)
    #: When the publisher released it, as it says (ISO date or date-time), or empty.
    release_date: str = Field(default="", max_length=32)
    filename: str
    content_hash: str = Field(max_length=64)
    raw_path: str
    size_bytes: int
    #: Where it came from: the URL fetched, or ``upload`` for a file an officer uploaded.
    fetched_from: str
    fetched_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    #: The submission the store's revisions name (the publisher's agency as the submitter).
    submission_id: int = Field(foreign_key="submission.id")
    rows_read: int = 0
    figures: int = 0
    #: Figures stored as the publisher's (it is their designated source).
    stored_new: int = 0
    stored_revised: int = 0
    #: Figures kept beside a figure another body answers for (never replacing it).
    beside: int = 0
    unchanged: int = 0
    #: Rows for an area the service's geography does not hold.
    skipped: int = 0
    #: The codes of those areas, each with how many of the release's figures were for it (none stored).
    unknown_areas: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: Figures held by a query (a jump from the publisher's previous release) until an officer confirms them.
    held: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    #: The earlier release whose very file this is, applied again because a later release was current.
    reapplies: int | None = None
    message: str = ""


class PublishedFigure(SQLModel, table=True):
    """One version of one publisher's figure, with the release, file and row it came from. Never overwritten."""

    __tablename__ = "published_figure"
    __table_args__ = (
        UniqueConstraint("publisher", "indicator_id", "period", "org_code", "breakdown", "version"),
        Index("ix_published_figure_current", "indicator_id", "period", "is_current"),
    )

    id: int | None = Field(default=None, primary_key=True)
    publisher: str = Field(max_length=64)
    indicator_id: str = Field(foreign_key="indicator.id", max_length=128)
    org_code: str = Field(max_length=32)
    period: str = Field(max_length=16)
    breakdown: str = Field(default="", max_length=255)
    version: int = 1
    is_current: bool = True
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    symbol: str | None = Field(default=None, max_length=4)
    flag: str | None = Field(default=None, max_length=4)
    status: str = Field(default="final", max_length=16)
    #: ``store`` when the publisher is the figure's designated source (so it is in the store too), ``beside``
    #: when another body answers for the cell and the publisher's figure only sits beside its figure.
    stored_as: str = Field(max_length=8)
    release_id: int = Field(foreign_key="published_release.id", index=True)
    file_row: int
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
