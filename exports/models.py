"""Tables of generated returns: builds, their immutable snapshots per format, and cell lineage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, Column, DateTime, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


class ReturnBuild(SQLModel, table=True):
    """One build of a return for a period; a new build exists only when its figures changed."""

    __tablename__ = "return_build"

    id: int | None = Field(default=None, primary_key=True)
    return_id: str = Field(max_length=64, index=True)
    period: str = Field(max_length=16)
    fingerprint: str = Field(max_length=64, index=True)
    #: The state of the store the build saw; while it is unchanged the build is served as it is.
    source_mark: str = Field(default="", max_length=128)
    generated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    catalogue_version: str = Field(max_length=64)
    cell_count: int
    completeness: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: The sign-offs whose figures the build releases: ``{"id", "agency", "state", "digest"}`` each.
    signoffs: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ExportSnapshot(SQLModel, table=True):
    """The bytes of one build in one format, kept unchanged so a repeat request gets identical bytes."""

    __tablename__ = "export_snapshot"
    __table_args__ = (UniqueConstraint("build_id", "format"),)

    id: int | None = Field(default=None, primary_key=True)
    build_id: int = Field(foreign_key="return_build.id", index=True)
    format: str = Field(max_length=16)
    content_hash: str = Field(max_length=64)
    size_bytes: int
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    # Last, so SQLite stores a zeroblob here without writing its zeros out (exports.blobs.store).
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LineageRow(SQLModel, table=True):
    """One stored figure behind one exported cell, with the share of it that went in."""

    __tablename__ = "lineage_row"

    id: int | None = Field(default=None, primary_key=True)
    build_id: int = Field(foreign_key="return_build.id", index=True)
    cell_id: str = Field(max_length=400)
    field_code: str = Field(max_length=64)
    org_code: str = Field(max_length=32)
    #: The stored figure behind the cell; None when a publisher's figure is (``published_figure_id``).
    observation_id: int | None = Field(default=None, foreign_key="observation.id")
    #: The publisher's figure behind a cell no figure of the body's own fills (``Return.from_publishers``).
    published_figure_id: int | None = Field(default=None, foreign_key="published_figure.id")
    weight: float = 1.0
    #: The cell was withheld (suppressed, or not yet signed off): only an officer may see what is behind it.
    suppressed: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    #: Why it was withheld: "suppressed" (small-number rule) or "unsigned" (not yet signed off); "" if not.
    withheld: str = Field(default="", max_length=16, sa_column_kwargs={"server_default": ""})
    #: The withheld cell's own reason, e.g. "not yet signed off by <body>"; "" for suppression.
    withheld_reason: str = Field(default="", sa_column_kwargs={"server_default": ""})


class BuildCell(SQLModel, table=True):
    """A digest of what one cell of a build showed, so a later build can say which cells changed since."""

    __tablename__ = "build_cell"

    id: int | None = Field(default=None, primary_key=True)
    build_id: int = Field(foreign_key="return_build.id", index=True)
    cell_id: str = Field(max_length=400)
    digest: str = Field(max_length=32)
