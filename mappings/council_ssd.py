"""A council's own settings for its Standard Safeguarding Dataset, kept with its agency (its agency file's ``[ssd]``
table, or ``ssd`` in the agency given over the API): which of its involvement roles are the allocated worker,
whether DfE's children's social care payloads carry names, UPNs and postcodes, and whether (and when) the
service reads its SSD from its own database. The database's URL is never here: only the name of the environment
variable that holds it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from indicators.periods import read_collection_year
from mappings.models import Agency
from onereturn.errors import InvalidInput

#: When a council's read runs unless it says: 02:00 every day, in the scheduler's time zone (a crontab).
DEFAULT_AT = "0 2 * * *"
DEFAULT_SCHEMA = "public"
#: The longest role id a council may name (its SSD's ``invo_professional_role_id``).
ROLE_LENGTH = 200


class SsdRead(BaseModel):
    """Where and when the service reads the council's SSD from its own PostgreSQL database."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True)

    url_variable: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        max_length=200,
        description="The environment variable holding the database's URL (the URL itself is never stored)",
    )
    tables_schema: str = Field(
        default=DEFAULT_SCHEMA,
        alias="schema",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$",
        description="The schema of the ssd_* tables",
    )
    year: str | None = Field(
        default=None,
        description="The collection year read, e.g. 2024-25; unset: the latest ended year the service has a "
        "mapping for",
    )
    at: str = Field(default=DEFAULT_AT, max_length=200, description="When, as a crontab: MIN HOUR DAY MONTH WEEKDAY")

    @field_validator("year")
    @classmethod
    def _collection_year(cls, value: str | None) -> str | None:
        try:
            return None if value is None else read_collection_year(value)
        except InvalidInput as exc:
            raise ValueError(exc.message) from None

    @field_validator("at")
    @classmethod
    def _crontab(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value)
        except ValueError as exc:
            raise ValueError(f"{value[:80]!r} is not a crontab (MIN HOUR DAY MONTH WEEKDAY): {exc}") from None
        return value


class CouncilSsd(BaseModel):
    """A council's settings for its SSD; the defaults are a council that set none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    worker_roles: list[str] = Field(
        default_factory=list,
        description="The council's role ids (ssd_involvements.invo_professional_role_id) that are the allocated "
        "worker: only involvements of those roles count for Annex A's allocated team and worker, the SSDA903's "
        "SWEpisodes and the payloads' care workers; none: every involvement counts, and the payloads' care "
        "workers are role CW",
    )
    payload_identifiers: bool = Field(
        default=False,
        description="Whether DfE's children's social care payloads carry names, UPNs and postcodes (else those "
        "fields are dropped at intake)",
    )
    read: SsdRead | None = Field(default=None, description="Read the SSD from the council's own database")

    @field_validator("worker_roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        roles = list(dict.fromkeys(role.strip() for role in value))
        if not all(roles) or any(len(role) > ROLE_LENGTH for role in roles):
            raise ValueError(f"role ids are at most {ROLE_LENGTH} characters, none blank")
        return roles

    def stored(self) -> dict[str, Any]:
        """As kept in the agency's definition: only what differs from a council that set nothing."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)


def of_definition(definition: dict[str, Any] | None) -> CouncilSsd:
    """The settings an agency's stored definition holds (none set: the defaults)."""
    return CouncilSsd.model_validate((definition or {}).get("ssd") or {})


def council_ssd(session: Session, agency_code: str) -> CouncilSsd:
    """The council's SSD settings (an agency that set none, or none of that code: the defaults)."""
    agency = session.get(Agency, agency_code)
    return of_definition(agency.definition if agency is not None else None)


def ssd_reads(session: Session) -> dict[str, SsdRead]:
    """Every council whose SSD the service reads from its own database, by agency code."""
    found: dict[str, SsdRead] = {}
    for code, definition in session.execute(select(Agency.code, Agency.definition).order_by(col(Agency.code))).all():
        read = of_definition(definition).read
        if read is not None:
            found[code] = read
    return found
