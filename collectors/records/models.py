"""What the store keeps of a record-level upload: pseudonyms, encrypted child ids, findings and lineage.

No table here holds a child's id in clear, a name, a postcode or a date of birth: the child is its
pseudonym (``collectors.records.privacy``), and only ``record_child`` links that pseudonym to the
council's own id, encrypted, for the council's own report. Every row here is child-level and is deleted
with the raw file once the retention period has passed (``collectors.records.retention``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from onereturn.models import RecordsKey as RecordsKey


class RecordChild(SQLModel, table=True):
    """A child of one record-level upload: its pseudonym and the council's own id, encrypted."""

    __tablename__ = "record_child"
    __table_args__ = (UniqueConstraint("submission_id", "pseudonym"),)

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    #: Indexed on its own: a rotation walks and moves the children by pseudonym (the unique pair leads with the upload).
    pseudonym: str = Field(max_length=64, index=True)
    #: The council's child id, Fernet-encrypted under the deployment's key (never in clear).
    child_sealed: str


class RecordProblem(SQLModel, table=True):
    """One place where one of DfE's rules fails in a record-level upload, the child by pseudonym."""

    __tablename__ = "record_problem"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    rule: str = Field(max_length=128)  # dfe:<code>
    severity: str = Field(max_length=12)
    message: str
    record_table: str | None = Field(default=None, max_length=32)
    #: Indexed, so a key rotation moves one child's rows without reading the table.
    child: str | None = Field(default=None, max_length=64, index=True)
    row: int | None = None
    fields: str = ""


class RecordLineage(SQLModel, table=True):
    """One record behind one derived figure: the figure's key, the child by pseudonym, the table and row."""

    __tablename__ = "record_lineage"

    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="submission.id", index=True)
    indicator_id: str = Field(max_length=128)
    org_code: str = Field(max_length=32)
    period: str = Field(max_length=16)
    child: str = Field(max_length=64, index=True)
    record_table: str = Field(max_length=32)
    #: The record's 0-based position in its table as uploaded.
    record_row: int
    #: The start of the episode the record belongs to (DECOM, or the CIN referral date); null elsewhere.
    episode_start: date | None = None
    #: True when the child is in the figure's count or numerator, False when only in its denominator.
    counted: bool = True
