"""The requests the table of ways in takes, one type per way (or ways that share one and are told apart by content),
named in the door's room so that a way's own room (a publisher's fetcher, a read of a council's SSD database) can
name what it hands the table: :class:`FiguresSent` for an agency's file of figures, :class:`ReleaseSent` for a
publisher's release, :class:`ColumnsSent` for Annex A's columns, :class:`ExtractRows` for an SSD extract's Annex A
rows, and :class:`RecordFiles` for a council's children's records (an SSD extract, a SEN2 file or DfE's own files).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import polars as pl

from mappings.annex_a import Layout

#: How an agency's file of figures is stored: its valid rows (``default``), all or nothing (``atomic``), or nothing,
#: only checked (``dry_run``).
Mode = Literal["default", "atomic", "dry_run"]
#: The source a publisher's release is of (``collectors.published.sources.SourceSpec``, declared in its own room).
Spec = TypeVar("Spec")


@dataclass(frozen=True)
class FiguresSent:
    """An agency's file of figures: its bytes (or a file holding them), how it is stored, who sent it, and the audit
    event stored with it."""

    agency_code: str
    filename: str
    data: bytes | Path
    mode: Mode = "default"
    submitted_by: str = ""
    sheet: str | None = None
    audit: dict[str, Any] | None = None


@dataclass(frozen=True)
class RecordFiles:
    """A council's children's records for a collection year: one SEN2 file, DfE's own files, or one SSD extract,
    told apart by their content. ``audit`` is the upload's event; an extract's files made are each audited by
    ``audit_each`` (given the object each names) and started on DfE's rules by ``start`` (given each receipt)."""

    agency_code: str
    collection_year: str
    files: list[tuple[str, Path]] = field(default_factory=list)
    submitted_by: str = ""
    purpose: str = "return"
    audit: dict[str, Any] | None = None
    audit_each: Callable[[str], dict[str, Any] | None] | None = None
    start: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class ReleaseSent(Generic[Spec]):
    """A publisher's release of one of its sources: the file, where it came from and its audit event."""

    spec: Spec
    data: bytes
    filename: str
    fetched_from: str
    version: str = ""
    release_date: str = ""
    submitted_by: str = ""
    audit: dict[str, Any] | None = None


@dataclass(frozen=True)
class ColumnsSent:
    """A council's own columns of Ofsted's Annex A, in the layout they fill."""

    agency_code: str
    layout: Layout
    filename: str
    data: bytes
    submitted_by: str


@dataclass(frozen=True)
class ExtractRows:
    """The Annex A rows of a council's SSD extract for a collection year, made by the extract's way."""

    agency_code: str
    year: str
    filename: str
    tables: dict[str, pl.DataFrame]
    submitted_by: str
