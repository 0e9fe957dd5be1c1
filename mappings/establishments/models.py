"""Tables of the register of establishments as GIAS publishes it: each establishment (the columns the service reads),
the links between establishments (a closed school's successor), and each load of the register."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class Establishment(SQLModel, table=True):
    """One establishment of GIAS's register, by its URN."""

    __tablename__ = "establishment"

    urn: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    name: str = ""
    la_code: str = Field(default="", max_length=8)
    type_code: int
    group_code: int | None = None
    status: str = Field(default="", max_length=64)
    close_date: date | None = None
    phase: str = Field(default="", max_length=64)
    ukprn: str | None = Field(default=None, max_length=16, index=True)


class EstablishmentLink(SQLModel, table=True):
    """A link GIAS records from one establishment to another (``Successor``, ``Predecessor - merged`` ...)."""

    __tablename__ = "establishment_link"

    urn: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    link_urn: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    link_type: str = Field(primary_key=True, max_length=96)
    established: date | None = None


class RegisterLoad(SQLModel, table=True):
    """One load of the register: when GIAS published it, when and how it was loaded, what it held."""

    __tablename__ = "establishment_register_load"

    id: int | None = Field(default=None, primary_key=True)
    published: date | None = None
    loaded_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    file_name: str = Field(default="", max_length=255)
    sha256: str = Field(default="", max_length=64)
    establishments: int = 0
    links_file_name: str = Field(default="", max_length=255)
    links: int = 0
    loaded_by: str = Field(default="", max_length=128)
