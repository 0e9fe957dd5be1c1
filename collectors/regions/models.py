"""ONS's postcode directory as the region's placements read it: each postcode's local authority district and county,
and the month it was terminated (``collectors/regions/onspd.py`` reads the directory as ONS publishes it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class OnsPostcode(SQLModel, table=True):
    """One postcode of ONS's directory: ``pcds`` (one space), ``oslaua``, ``oscty`` and ``doterm`` as ONS names them."""

    __tablename__ = "ons_postcode"

    pcds: str = Field(primary_key=True, max_length=8)
    #: The local authority district (ONS's ``oslaua``: a district, unitary, metropolitan or London borough).
    oslaua: str = Field(default="", max_length=9)
    #: The county (ONS's ``oscty``; ONS's dummy code where the district is in none).
    oscty: str = Field(default="", max_length=9)
    #: The year and month the postcode was terminated (``yyyymm``), blank while it is live.
    doterm: str = Field(default="", max_length=6)
    #: The directory's file it was read from, and when.
    release: str = Field(default="", max_length=200)
    read_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
