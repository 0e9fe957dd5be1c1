"""Officers' comparator groups, kept in the store: create, rename, change members, delete.

A group names upper-tier councils (or any org unit of the geography) by GSS code; every code is checked against
the stored geography, and a group naming a code the geography lacks is refused with the codes named.
``mappings/comparators/groups.toml`` is seed data: its groups are loaded into the store where absent (a seeded
group an officer deleted stays deleted). The comparison reads the store through ``mappings.comparison.service``.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select

from indicators.periods import utc
from mappings.models import OfficerGroup, OrgUnit
from onereturn.errors import Conflict, InvalidInput, NotFound

SEED_FILE = Path(__file__).parent.parent / "comparators" / "groups.toml"
#: The id of DfE's statistical neighbours, which no officer's group may take.
RESERVED = frozenset({"statistical_neighbours", "region", "england"})
#: The most councils one group names (there are 153 upper-tier councils in England).
MAX_MEMBERS = 400


def _codes(value: list[str]) -> list[str]:
    """Members as GSS codes: trimmed, upper case, each once, in the order given."""
    return list(dict.fromkeys(c.strip().upper() for c in value if c.strip()))


class GroupInput(BaseModel):
    """A new group: its id (used as ``group=`` in the comparison), title, who chose it and why, and its members."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64, description="Lower case, digits and _")
    title: str = Field(min_length=3, max_length=200)
    source: str = Field(default="", max_length=1000, description="Who chose the councils, and why")
    members: list[str] = Field(min_length=1, max_length=MAX_MEMBERS, description="GSS codes of the councils")

    @field_validator("members")
    @classmethod
    def _members(cls, value: list[str]) -> list[str]:
        return _codes(value)


class GroupChange(BaseModel):
    """A change to a group: only the fields given change (a new title renames it)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(default=None, min_length=3, max_length=200)
    source: str | None = Field(default=None, max_length=1000)
    members: list[str] | None = Field(default=None, min_length=1, max_length=MAX_MEMBERS)

    @field_validator("members")
    @classmethod
    def _members(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _codes(value)


class GroupPublic(BaseModel):
    """A group as the API gives it, with each member's name from the geography."""

    id: str
    title: str
    source: str
    members: list[str]
    member_names: dict[str, str]
    origin: str = Field(description="seed (groups.toml) or officer")
    created_at: datetime | None
    updated_at: datetime | None


def check_members(session: Session, members: list[str]) -> None:
    """Refuse (422) members the geography does not know, naming every unknown code."""
    known = set(session.execute(select(OrgUnit.code).where(col(OrgUnit.code).in_(members))).scalars())
    unknown = [c for c in members if c not in known]
    if unknown:
        raise InvalidInput(
            f"{len(unknown)} member code(s) are not in the geography: {', '.join(unknown)}",
            errors=[
                {
                    "type": "unknown-code",
                    "loc": ["body", "members", members.index(c)],
                    "msg": f"{c} is not an org unit of the geography (GSS codes, e.g. E08000025 for Birmingham)",
                    "input": c,
                }
                for c in unknown
            ],
        )


def public(session: Session, row: OfficerGroup) -> GroupPublic:
    """A stored group as the API gives it."""
    names = {
        str(code): str(name)
        for code, name in session.execute(
            select(OrgUnit.code, OrgUnit.name).where(col(OrgUnit.code).in_(list(row.members)))
        )
    }
    return GroupPublic(
        id=row.id,
        title=row.title,
        source=row.source,
        members=list(row.members),
        member_names={c: str(names.get(c, c)) for c in row.members},
        origin=row.origin,
        # SQLite gives back a time without its zone; the store keeps UTC.
        created_at=utc(row.created_at) if row.created_at else None,
        updated_at=utc(row.updated_at) if row.updated_at else None,
    )


def stored_groups(session: Session) -> list[OfficerGroup]:
    """Every group an officer keeps (not deleted), by title."""
    stmt = select(OfficerGroup).where(col(OfficerGroup.deleted_at).is_(None)).order_by(col(OfficerGroup.title))
    return list(session.execute(stmt).scalars())


def public_groups(session: Session) -> list[GroupPublic]:
    """Every group an officer keeps, by title, each with its members' names."""
    return [public(session, g) for g in stored_groups(session)]


def group_mark(session: Session, group_id: str) -> datetime | None:
    """When an officer's group last changed (None for DfE's groups or none such): a cache of comparisons keys on it."""
    row = session.get(OfficerGroup, group_id) if group_id not in RESERVED else None
    return row.updated_at if row is not None else None


def get_group(session: Session, group_id: str) -> OfficerGroup:
    """One group, or NotFound naming the groups there are."""
    row = session.get(OfficerGroup, group_id)
    if row is None or row.deleted_at is not None:
        known = ", ".join(g.id for g in stored_groups(session)) or "none yet"
        raise NotFound(f"No comparator group {group_id!r}; groups: {known}")
    return row


def create_group(session: Session, spec: GroupInput) -> OfficerGroup:
    """Add a group (409 if its id is in use), its members checked against the geography."""
    if spec.id in RESERVED:
        raise InvalidInput(f"{spec.id!r} names one of the service's own groups; choose another id")
    row = session.get(OfficerGroup, spec.id)
    if row is not None and row.deleted_at is None:
        raise Conflict(f"Group {spec.id!r} already exists; change it with PATCH /api/groups/{spec.id}")
    check_members(session, spec.members)
    now = datetime.now(UTC)
    if row is None:
        row = OfficerGroup(id=spec.id, title=spec.title, created_at=now)
    row.title, row.source, row.members = spec.title, spec.source, spec.members
    row.origin, row.updated_at, row.deleted_at = "officer", now, None
    session.add(row)
    session.flush()
    return row


def update_group(session: Session, group_id: str, change: GroupChange) -> OfficerGroup:
    """Rename a group, change its source or replace its members (checked against the geography)."""
    row = get_group(session, group_id)
    if change.members is not None:
        check_members(session, change.members)
        row.members = change.members
    if change.title is not None:
        row.title = change.title
    if change.source is not None:
        row.source = change.source
    row.updated_at = datetime.now(UTC)
    session.add(row)
    session.flush()
    return row


def delete_group(session: Session, group_id: str) -> OfficerGroup:
    """Delete a group: it leaves every list and comparison, and a seeded one is not loaded again."""
    row = get_group(session, group_id)
    row.deleted_at = row.updated_at = datetime.now(UTC)
    row.members = []
    session.add(row)
    session.flush()
    return row


def read_seed(path: Path = SEED_FILE) -> list[dict[str, Any]]:
    """The groups of the seed file as written: id, title, source, members."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [dict(g) for g in data.get("group", [])]


def check_seed(known_codes: set[str], path: Path = SEED_FILE) -> list[tuple[int, str]]:
    """Every problem of the seed file, each with the line of its group's id: a group not valid as an officer's, an
    id twice, a member code the geography lacks (every such code named)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    problems: list[tuple[int, str]] = []
    seen: set[str] = set()
    for n, g in enumerate(read_seed(path), start=1):
        gid = str(g.get("id", ""))
        line = next(
            (i for i, text in enumerate(lines, start=1) if text.strip().startswith("id") and f'"{gid}"' in text), 0
        )
        try:
            spec = GroupInput.model_validate(g)
        except ValueError as exc:
            problems.append((line, f"group {gid or n}: {exc}".replace("\n", " ")))
            continue
        if spec.id in seen or spec.id in RESERVED:
            problems.append((line, f"group {spec.id}: the id is used twice or is one of the service's own groups"))
        seen.add(spec.id)
        unknown = [c for c in spec.members if c not in known_codes]
        if unknown:
            problems.append((line, f"group {spec.id}: member code(s) not in the geography: {', '.join(unknown)}"))
    return problems


def seed_groups(session: Session, path: Path = SEED_FILE) -> int:
    """Load the seed file's groups that the store has never held (checked as an officer's); return how many."""
    added = 0
    now = datetime.now(UTC)
    for g in read_seed(path):
        spec = GroupInput.model_validate(g)
        if session.get(OfficerGroup, spec.id) is not None:
            continue
        check_members(session, spec.members)
        session.add(
            OfficerGroup(
                id=spec.id,
                title=spec.title,
                source=spec.source,
                members=spec.members,
                origin="seed",
                created_at=now,
                updated_at=now,
            )
        )
        added += 1
    session.flush()
    return added
