"""The register of establishments held: loaded whole in one transaction (a load that fails leaves the register held
as it was), said when GIAS published it, and asked what a URN or UKPRN is.

A school that closed (converted to an academy, merged) keeps its URN in GIAS's register, closed, and GIAS's links
file names its successor. *Reading:* an establishment closed on or before the date asked about is followed to its
successor (a link whose type begins ``Successor``), and on while that one is closed too; where GIAS gives no
successor, or several (a school split in two), the closed establishment itself answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

import polars as pl
from sqlalchemy import delete, insert, select
from sqlmodel import Session, col

from mappings.establishments.gias import Extract
from mappings.establishments.models import Establishment, EstablishmentLink, RegisterLoad

#: Rows written per statement: large enough to be quick, small enough for any driver's parameter limit.
BATCH = 2_000
#: Values asked for per query of URNs or UKPRNs (SQLite's bound on a statement's parameters is far above it).
ASK = 900
_T = TypeVar("_T")
#: Successors followed at most, so a loop GIAS's links might hold ends.
STEPS = 10


@dataclass(frozen=True)
class Found:
    """What a URN or UKPRN is on the register: the establishment that answers for it (its successor, where the
    one asked about had closed), that establishment's GIAS type and phase."""

    asked: int
    urn: int
    type_code: int
    phase: str
    followed: bool


def held(session: Session) -> RegisterLoad | None:
    """The register's newest load, or None when no register has been loaded."""
    return session.execute(select(RegisterLoad).order_by(col(RegisterLoad.id).desc()).limit(1)).scalars().first()


def _batches(rows: list[dict[str, object]]) -> Iterable[list[dict[str, object]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def store(session: Session, extract: Extract, links: pl.DataFrame | None, links_name: str, by: str) -> RegisterLoad:
    """Replace the register held by ``extract`` (and its links by ``links``, when given) in the session's transaction;
    the caller commits. Links not given are kept as they were."""
    previous = held(session)
    session.execute(delete(Establishment))
    rows = extract.frame.select(
        "urn", "name", "la_code", "type_code", "group_code", "status", "close_date", "phase", "ukprn"
    ).to_dicts()
    for batch in _batches(rows):
        session.execute(insert(Establishment), batch)
    if links is not None:
        session.execute(delete(EstablishmentLink))
        for batch in _batches(links.select("urn", "link_urn", "link_type", "established").to_dicts()):
            session.execute(insert(EstablishmentLink), batch)
    kept_links = (
        (links_name, links.height)
        if links is not None
        else ((previous.links_file_name, previous.links) if previous is not None else ("", 0))
    )
    load = RegisterLoad(
        published=extract.published,
        loaded_at=datetime.now(UTC),
        file_name=extract.file_name[:255],
        sha256=extract.sha256,
        establishments=extract.frame.height,
        links_file_name=kept_links[0][:255],
        links=kept_links[1],
        loaded_by=by[:128],
    )
    session.add(load)
    session.flush()
    return load


def _chunks(values: Sequence[_T]) -> Iterable[Sequence[_T]]:
    for start in range(0, len(values), ASK):
        yield values[start : start + ASK]


def _establishments(session: Session, urns: Iterable[int]) -> dict[int, Establishment]:
    out: dict[int, Establishment] = {}
    for chunk in _chunks(sorted(set(urns))):
        for e in session.execute(select(Establishment).where(col(Establishment.urn).in_(chunk))).scalars():
            out[e.urn] = e
    return out


def _successors(session: Session, urns: Iterable[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for chunk in _chunks(sorted(set(urns))):
        query = select(col(EstablishmentLink.urn), col(EstablishmentLink.link_urn)).where(
            col(EstablishmentLink.urn).in_(chunk), col(EstablishmentLink.link_type).startswith("Successor")
        )
        for urn, link in session.execute(query):
            out.setdefault(urn, []).append(link)
    return out


def _closed(e: Establishment | None, on: date) -> bool:
    if e is None:
        return True
    return (e.close_date is not None and e.close_date <= on) or (e.close_date is None and e.status == "Closed")


def look_up(session: Session, urns: Iterable[int], on: date) -> dict[int, Found]:
    """Each URN the register answers for as at ``on``: by itself, or by its successor where it had closed (or is not
    on the register but GIAS's links name its successor). A URN nothing answers for is left out."""
    asked = sorted(set(urns))
    current = {u: u for u in asked}
    known = _establishments(session, asked)
    followed: set[int] = set()
    for _ in range(STEPS):
        waiting = {u: at for u, at in current.items() if _closed(known.get(at), on)}
        if not waiting:
            break
        nexts = _successors(session, set(waiting.values()))
        moved = {u: nexts[at][0] for u, at in waiting.items() if len(nexts.get(at, [])) == 1}
        moved = {u: to for u, to in moved.items() if to != current[u]}
        if not moved:
            break
        known |= _establishments(session, set(moved.values()) - set(known))
        for u, to in moved.items():
            if to in known or current[u] not in known:
                current[u] = to
                followed.add(u)
    out: dict[int, Found] = {}
    for u, at in current.items():
        e = known.get(at)
        if e is not None:
            out[u] = Found(u, e.urn, e.type_code, e.phase, u in followed)
    return out


def by_ukprn(session: Session, ukprns: Iterable[str]) -> dict[str, Establishment]:
    """Each UKPRN's establishment on the register; of several with one UKPRN, the open one with the lowest URN, else
    the lowest URN (*reading*: GIAS gives a provider's UKPRN to each of its establishments)."""
    out: dict[str, Establishment] = {}
    for chunk in _chunks(sorted(set(ukprns))):
        query = select(Establishment).where(col(Establishment.ukprn).in_(chunk)).order_by(col(Establishment.urn))
        for e in session.execute(query).scalars():
            if e.ukprn is None:
                continue
            have = out.get(e.ukprn)
            if have is None or (have.status == "Closed" and e.status != "Closed"):
                out[e.ukprn] = e
    return out
