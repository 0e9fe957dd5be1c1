"""Tables of the figure store: each upload's ``Submission`` and its problems, every stored figure as versions with
provenance (``Observation``), and the figures held back by a query (``HeldFigure``).

Every way in writes here (``collectors.door.head`` makes the submission, ``collectors.door.spine`` stores the figures); the
builds, the sign-off and the comparisons read the figures back.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Date, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

#: The kinds of upload, each ``Submission.kind``, declared here once: an agency's template or file of figures; a
#: council's record-level upload (its SEN2, CIN census or SSDA903 files, or an SSD extract's files and rows); a
#: publisher's release.
FIGURES_KIND = "figures"
RECORDS_KIND = "records"
PUBLISHED_KIND = "published"
KINDS = (FIGURES_KIND, RECORDS_KIND, PUBLISHED_KIND)
#: The mode of a record-level upload sent as a fresh extract for Ofsted's Annex A: checked and kept, no figure stored.
ANNEX_A_EXTRACT = "annex_a"


class Submission(SQLModel, table=True):
    """One upload by an agency: the raw file kept, its status and its validation counts."""

    __tablename__ = "submission"

    id: int | None = Field(default=None, primary_key=True)
    agency_code: str = Field(max_length=64, index=True)
    filename: str
    source_format: str = Field(max_length=8)
    size_bytes: int
    content_hash: str = Field(max_length=64, index=True)
    raw_path: str
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    #: What the upload is for, by kind (``collectors.ways_in.MODES``): for a file of figures how its errors are
    #: taken (default | atomic), for a record-level upload its purpose (default: the return | annex_a |
    #: annex_a_columns); a dry run is never stored.
    mode: str = Field(max_length=16)
    status: str = Field(max_length=24, index=True)
    rows_read: int = 0
    rows_accepted: int = 0
    rows_new: int = 0
    rows_revised: int = 0
    rows_unchanged: int = 0
    error_count: int = 0
    #: Problems that do not block a row: queries plus information.
    warning_count: int = 0
    query_count: int = 0
    information_count: int = 0
    #: Queried figures still waiting for a note (held, not stored).
    queries_open: int = 0
    message: str = ""
    submitted_by: str = ""
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    #: The worker processing the upload (host:pid:started) and until when its lease runs: a worker renews it
    #: while it works, and only an upload whose lease has run out is marked interrupted.
    lease_owner: str = Field(default="", max_length=128)
    lease_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    #: figures (a template or long file of figures) | records (a council's SSDA903 or CIN census records).
    kind: str = Field(default=FIGURES_KIND, max_length=16, sa_column_kwargs={"server_default": FIGURES_KIND})
    #: How far a record-level upload has got: received, reading, dfe_rules, deriving, then stored,
    #: rejected or failed (empty for figures).
    stage: str = Field(default="", max_length=16, sa_column_kwargs={"server_default": ""})
    #: The collection year a record-level upload is for, as given (e.g. 2024-25).
    collection_year: str = Field(default="", max_length=16, sa_column_kwargs={"server_default": ""})
    #: How many times a record-level upload was taken up by a worker (a restart resumes it, up to a limit).
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    #: The way in that took it (a row of ``collectors.ways_in.WAYS_IN``): a failed or interrupted upload is run
    #: again, and taken up, by its way.
    way: str = Field(default="", max_length=32, sa_column_kwargs={"server_default": ""})
    #: A kept school census's census day, and whose schools' returns it holds (``la``: the council's own, ``acad``:
    #: academies'); None and empty for any other upload. Its ``collection_year`` is the academic year of that day.
    census_day: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    census_source: str = Field(default="", max_length=8, sa_column_kwargs={"server_default": ""})
    #: The published source a publisher's file was imported as (kind ``published``), to read it again by.
    published_source: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    #: When a record-level upload's raw files and child-level rows were deleted (retention).
    purged_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    #: The [indicator, period] of each figures row in error, as the file gave them (the period in its canonical
    #: spelling): the returns and periods those errors stand in the way of signing off. None for an upload made
    #: before it was kept.
    error_scope: list[list[str]] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class SubmissionProblem(SQLModel, table=True):
    """One problem found in an upload: where (row, column), what value, which rule, how severe."""

    __tablename__ = "submission_problem"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    row: int | None = None
    column: str | None = None
    value: str | None = None
    rule: str = Field(max_length=128)  # a catalogue rule id, or a built-in check
    severity: str = Field(max_length=12)  # error | query | information
    message: str


class Observation(SQLModel, table=True):
    """One version of one figure; identity is (indicator, org, period, breakdown). Never overwritten."""

    __tablename__ = "observation"
    # One unique key does two jobs: no figure has two rows of one version, and two uploads
    # racing to revise a figure both compute the same next version, so one of them fails.
    # Period second: an upload of a period's figures writes one run of the index per indicator,
    # not one leaf page per figure (docs/scaling.md); every read names the indicator.
    __table_args__ = (UniqueConstraint("indicator_id", "period", "org_code", "breakdown", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    indicator_id: str = Field(foreign_key="indicator.id", max_length=128)
    org_code: str = Field(max_length=32)
    period: str = Field(max_length=16)
    breakdown: str = Field(default="", max_length=255)
    version: int = 1
    is_current: bool = True
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    symbol: str | None = Field(default=None, max_length=4)  # x z c .. : - (no figure, with reason)
    flag: str | None = Field(default=None, max_length=4)  # u (low reliability) on a value
    status: str = Field(default="final", max_length=16)  # provisional | final | estimated
    note: str | None = None
    submission_id: int | None = Field(default=None, foreign_key="submission.id")
    file_row: int | None = None
    recorded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class HeldFigure(SQLModel, table=True):
    """A figure of an upload held back by a query until someone explains it with a note."""

    __tablename__ = "held_figure"
    # An upload looks up the open queries of its own (indicator, period) pairs (queries.supersede_held).
    __table_args__ = (Index("ix_held_figure_pair_state", "indicator_id", "period", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    file_row: int
    indicator_id: str = Field(max_length=128)
    org_code: str = Field(max_length=32)
    period: str = Field(max_length=16)
    breakdown: str = Field(default="", max_length=255)
    value: float | None = None
    numerator: float | None = None
    denominator: float | None = None
    symbol: str | None = Field(default=None, max_length=4)
    flag: str | None = Field(default=None, max_length=4)
    status: str = Field(default="final", max_length=16)
    state: str = Field(default="open", max_length=12)  # open | answered | superseded
    note: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
