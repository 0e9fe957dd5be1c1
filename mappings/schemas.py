"""API models for returns and geography."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict

from indicators.schemas import SourcePublic


class OrgUnitPublic(BaseModel):
    """An organisation or area."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    type: str
    valid_from: date | None
    valid_to: date | None
    source: str


class OrgLink(BaseModel):
    """A parent or child of an org unit, with the span the link holds."""

    code: str
    name: str
    type: str
    valid_from: date | None
    valid_to: date | None


class CrosswalkLink(BaseModel):
    """A weighted link to an area that does not nest."""

    code: str
    name: str
    type: str
    weight: float
    basis: str


class OrgUnitDetail(OrgUnitPublic):
    """An org unit with its parents, children and crosswalk links."""

    parents: list[OrgLink]
    children: list[OrgLink]
    crosswalk: list[CrosswalkLink]


class ReturnFieldPublic(BaseModel):
    """One field of a return and the indicator it maps onto."""

    code: str
    label: str
    indicator_id: str
    indicator_title: str
    relation: str
    breakdown: str
    note: str
    sources: list[SourcePublic] = []


class MilestonePublic(BaseModel):
    """A dated step of a return before its final deadline, with its rule and sources."""

    name: str
    rule: str
    sources: list[SourcePublic]


class ReturnPublic(BaseModel):
    """A return's header."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    recipient: str
    submitter: str
    geography_level: str
    period_type: str
    deadline: str
    formats: list[str]
    legal_basis: str
    status: str
    valid_from: date | None
    valid_to: date | None
    provenance: str
    sources: list[SourcePublic] = []
    deadline_sources: list[SourcePublic] = []
    milestones: list[MilestonePublic] = []
    #: The sign-off date's rule (``agency_deadline``: approvers sign off when the figures are due) and its sources.
    signoff_rule: str = "agency_deadline"
    signoff_sources: list[SourcePublic] = []
    field_count: int = 0


class ReturnDetail(ReturnPublic):
    """A return with its fields."""

    fields: list[ReturnFieldPublic]
