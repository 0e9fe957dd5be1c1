"""API models of the published-figures intake."""

from __future__ import annotations

from pydantic import BaseModel, Field

from collectors.published.sources import SourceSpec
from collectors.schemas import UtcDatetime
from indicators.published_query import Difference, HeldPublished


class SourcePublic(BaseModel):
    """A publisher's data set the deployment reads."""

    id: str
    publisher: str
    title: str
    format: str
    page: str
    licence: str
    file: str
    ees_data_set: str
    indicators: list[str]

    @classmethod
    def of(cls, spec: SourceSpec) -> SourcePublic:
        """Describe one declared source."""
        return cls(
            id=spec.id,
            publisher=spec.publisher,
            title=spec.title,
            format=spec.format,
            page=spec.page,
            licence=spec.licence,
            file=spec.file,
            ees_data_set=spec.ees_data_set,
            indicators=[f.indicator for f in spec.figure],
        )


class ReleasePublic(BaseModel):
    """One release read: where from, its version and hash, and what it gave."""

    id: int
    source_id: str
    publisher: str
    dataset: str
    version: str
    release_date: str
    filename: str
    content_hash: str
    fetched_from: str
    fetched_at: UtcDatetime
    submission_id: int
    rows_read: int
    figures: int
    stored_new: int
    stored_revised: int
    beside: int
    unchanged: int
    skipped: int
    #: Codes of areas the geography does not hold, each with its number of figures (none stored).
    unknown_areas: dict[str, int] = {}
    #: Figures held by a query until an officer confirms them (GET /api/published/queries).
    held: int
    #: The earlier release whose very file this is, applied again because a later release was current.
    reapplies: int | None
    message: str


class DifferencePublic(Difference):
    """A cell where a body's own figure and the publisher's differ, with the publisher's table and the filter the
    figure was read on (its file and each filter column's value)."""

    published_file: str = ""
    published_filter: str = ""


class HeldPublic(HeldPublished):
    """A publisher's figure held by a query until an officer confirms it: the row it came from and why it is held."""


class ConfirmHeld(BaseModel):
    """An officer's confirmation of a held publisher's figure: why the jump is right."""

    note: str = Field(min_length=1, max_length=2000)
