"""What the store keeps of an SSD extract beyond the record files made from it: the row naming DfE's payloads, sealed.

No child is named here: the payloads themselves are one sealed file in the kept-file store, rotated and purged with
the record files (``collectors.ssd.payload_store``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class CscPayloadExtract(SQLModel, table=True):
    """DfE's children's social care payloads built from one SSD extract of a council, kept encrypted (no child here).

    The payloads themselves, each child's hash and whether it changed since the council's previous extract, are one
    sealed file in the kept-file store (``kept_name``, under the records keys: rotated and purged with the record
    files); this row names it, its day and its counts (``collectors.ssd.payload_store``).
    """

    __tablename__ = "csc_payload_extract"

    id: int | None = Field(default=None, primary_key=True)
    agency_code: str = Field(max_length=64, index=True)
    collection_year: str = Field(max_length=16)
    filename: str = Field(max_length=255)
    #: SHA-256 of the uploaded extract: the same extract uploaded again makes no new row.
    content_hash: str = Field(max_length=64)
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    #: The day DfE's window is drawn from (the day the extract was received): ``as_of`` picks the latest on or before.
    run_date: date = Field(index=True)
    #: Whether names, UPNs and postcodes were switched on for the council when the payloads were built.
    identifiers: bool = False
    previous_id: int | None = Field(default=None)
    children: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    kept_name: str = Field(max_length=255)
    purged_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
