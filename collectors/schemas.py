"""API models for agencies, submissions and their reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field

from indicators.periods import utc

#: A time in UTC, always written with its offset.
UtcDatetime = Annotated[datetime, AfterValidator(utc)]


class ProblemPublic(BaseModel):
    """One problem in an upload: where, what value, which rule, how severe and what was expected."""

    row: int | None
    column: str | None
    value: str | None
    rule: str
    severity: str  # error | query | information
    message: str


class SubmissionSummary(BaseModel):
    """An upload's status and counts."""

    id: int | None
    agency_code: str
    filename: str
    source_format: str
    mode: str
    status: str
    duplicate: bool = False
    received_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    content_hash: str
    rows_read: int
    rows_accepted: int
    rows_new: int
    rows_revised: int
    rows_unchanged: int
    error_count: int
    #: Queries plus information notices: the problems that block no row.
    warning_count: int
    query_count: int = 0
    information_count: int = 0
    #: Figures held by a query until explained with a note.
    queries_open: int = 0
    message: str
    #: figures, or records (a council's SSDA903 or CIN census records, checked by DfE's rules).
    kind: str = "figures"
    #: How far a record-level upload has got: received, reading, dfe_rules, deriving, stored, rejected or failed.
    stage: str = ""
    #: The collection year of a record-level upload (e.g. 2024-25).
    collection_year: str = ""


class SubmissionReport(SubmissionSummary):
    """An upload's status, counts and its first 1,000 problems, with links to the report files that hold all."""

    problems: list[ProblemPublic]
    problem_count: int = Field(description="How many problems there are in all")
    problems_truncated: bool = Field(description="True when only the first 1,000 are listed; report.csv has every one")
    links: dict[str, str]


class AgencyPublic(BaseModel):
    """An agency: what it answers for."""

    code: str
    name: str
    body_type: str
    orgs: list[str]
    returns: list[str]
    indicators: list[str]
    published: str = Field(
        default="", description="Why its figures are official statistics it publishes itself, needing no sign-off"
    )


class FigurePublic(BaseModel):
    """One stored figure (one version of it), with where it came from."""

    indicator: str
    org: str
    period: str
    breakdown: str
    value: float | None
    numerator: float | None
    denominator: float | None
    symbol: str | None
    flag: str | None
    status: str
    note: str | None
    version: int
    is_current: bool
    submission_id: int | None
    agency_code: str | None
    file_row: int | None
    recorded_at: UtcDatetime


class QueriedFigure(BaseModel):
    """A figure an upload holds back until a note explains it, with the queries raised on its row."""

    id: int
    row: int
    indicator: str
    org: str
    period: str
    breakdown: str
    value: float | None
    numerator: float | None
    denominator: float | None
    symbol: str | None
    state: str  # open | answered | superseded
    note: str | None
    answered_by: str | None
    answered_at: UtcDatetime | None
    queries: list[ProblemPublic]


class QueryAnswer(BaseModel):
    """The note that explains a queried figure."""

    note: str = Field(max_length=4000)


class RecordFinding(BaseModel):
    """One place where one of DfE's rules fails in a council's records, the child by the council's own id."""

    rule: str
    severity: str
    message: str
    table: str | None
    child: str | None = Field(description="The council's own child id (shown only to that council)")
    row: int | None = Field(description="The record's 0-based row in its table, as DfE's rules number it")
    fields: str


class MadeFile(BaseModel):
    """One record-level file made from an SSD extract, received as the council's upload."""

    id: int = Field(description="Its submission")
    filename: str
    status: str = Field(description="Its submission's status: received (DfE's rules run next), or as it ended")
    duplicate: bool = Field(description="True when it repeats a file kept already (nothing kept again)")
    location: str = Field(description="Its submission's address: GET it to follow its stage")


class AnnexRowsKept(BaseModel):
    """The rows of an SSD extract kept for Ofsted's Annex A (those only the SSD holds)."""

    id: int = Field(description="The upload that keeps them")
    tables: list[str]


class ExtractRead(BaseModel):
    """What was read of an SSD extract: its file, its rows, what the reading set aside, its Annex A rows."""

    file: str
    rows: int
    notes: list[str]
    annex_a: AnnexRowsKept | None


class PayloadCounts(BaseModel):
    """DfE's children's social care payloads built from the extract: the day and how many children changed how."""

    extract_id: int
    run_date: str
    children: int
    new: int
    updated: int
    unchanged: int
    deleted: int


class ExtractReceipt(BaseModel):
    """The answer to a council's SSD extract: what was read, each return's file made from it, and DfE's payloads."""

    extract: ExtractRead
    submissions: list[MadeFile]
    csc_api_payloads: PayloadCounts
