"""Loading GIAS's register, whichever way it comes (the command line, an officer's upload, the scheduled download):
read and checked whole first, then stored in one transaction, so a refused or failed load leaves the register held
as it was. Each load is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date

from sqlalchemy import Engine
from sqlmodel import Session

from mappings.establishments.gias import read_extract, read_links
from mappings.establishments.models import RegisterLoad
from mappings.establishments.register import held, store
from onereturn import audittrail
from onereturn.settings import Settings


@dataclass(frozen=True)
class Held:
    """The register held, as the API and the pages say it."""

    published: date | None
    loaded_at: str
    file_name: str
    establishments: int
    links_file_name: str
    links: int
    loaded_by: str

    @classmethod
    def of(cls, load: RegisterLoad) -> Held:
        """The load's answer."""
        # SQLite gives the stored time back without its zone; it was written in UTC.
        at = load.loaded_at if load.loaded_at.tzinfo else load.loaded_at.replace(tzinfo=UTC)
        return cls(
            load.published,
            at.isoformat(),
            load.file_name,
            load.establishments,
            load.links_file_name,
            load.links,
            load.loaded_by,
        )

    def words(self) -> str:
        """One sentence: what the register is and when GIAS published it."""
        when = (
            self.published.isoformat()
            if self.published
            else "an unknown date (no date in its file name, no LastChangedDate in it)"
        )
        links = (
            f", with {self.links:,} links ({self.links_file_name})"
            if self.links
            else ", with no links (no links file was loaded with it: no successor is followed)"
        )
        return f"{self.establishments:,} establishments published by GIAS on {when} ({self.file_name}){links}"


def load_register(
    engine: Engine,
    settings: Settings,
    data: bytes,
    file_name: str,
    *,
    links: bytes | None = None,
    links_name: str = "",
    by: str,
) -> Held:
    """Check GIAS's extract (and links file) whole, then replace the register held; RegisterRefused says why not."""
    extract = read_extract(data, file_name, settings.establishments_max_bytes)
    frame = read_links(links, links_name, settings.establishments_max_bytes) if links is not None else None
    with Session(engine) as session:
        load = store(session, extract, frame, links_name, by)
        answer = Held.of(load)
        audittrail.record(
            session,
            principal=by,
            action="establishments.load",
            outcome="ok",
            object=f"register of establishments {file_name[:120]}",
            detail=answer.words(),
        )
        session.commit()
    return answer


def register_held(engine: Engine) -> Held | None:
    """The register held, or None when none was ever loaded."""
    with Session(engine) as session:
        load = held(session)
        return Held.of(load) if load is not None else None
