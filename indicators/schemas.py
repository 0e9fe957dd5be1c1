"""API models for the catalogue."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict


class CodePublic(BaseModel):
    """One code of a code list."""

    code: str
    label: str


class SourcePublic(BaseModel):
    """One public document a catalogue item cites, at the section it relies on."""

    publisher: str
    title: str
    year: str
    url: str
    section: str
    own_reading: bool = False


class CodeListPublic(BaseModel):
    """A code list with its codes."""

    id: str
    title: str
    source: str
    sources: list[SourcePublic] = []
    codes: list[CodePublic]


class IndicatorPublic(BaseModel):
    """An indicator definition as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    plain_title: str
    definition: str
    statistic: str
    numerator: str | None
    denominator: str | None
    numerator_label: str | None
    denominator_label: str | None
    multiplier: int
    unit: str
    decimals: int
    polarity: str
    #: The publisher's statement of the polarity; None where no source says (then no polarity is shown).
    polarity_source: SourcePublic | None = None
    period_type: str
    time_basis: str
    breakdowns: list[str]
    aggregation: str
    purpose: str
    method: str
    source_body: str
    formula: str | None
    derived: bool
    range_min: float | None
    range_max: float | None
    judgement_codelist: str | None
    aliases: list[str]
    status: str
    valid_from: date | None
    valid_to: date | None
    collection: str
    source: str
    sources: list[SourcePublic]
    file: str
    line: int


class IndicatorUse(BaseModel):
    """One return field that asks for an indicator."""

    return_id: str
    return_title: str
    code: str
    label: str
    relation: str
    breakdown: str


class IndicatorDetail(IndicatorPublic):
    """An indicator with the returns that use it and its breakdown code lists."""

    used_by: list[IndicatorUse]
    codelists: list[CodeListPublic]


class RulePublic(BaseModel):
    """A plausibility rule as the API shows it: what it checks, how severe, its words and the indicators it reads."""

    id: str
    kind: str
    severity: str
    message: str
    source: str
    params: dict[str, Any]
    indicators: list[str]
