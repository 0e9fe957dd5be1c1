"""The groups a council is compared with: DfE's statistical neighbours, and the groups officers keep (seeded from
``mappings/comparators/groups.toml``); each named with its source on every comparison.

Groups are data (``mappings/comparators/``, its README gives sources and licences); a council DfE names no neighbours
for is compared with its region and England, and its empty group says why.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlmodel import Session, col, select

from mappings.geography import la_codes
from mappings.models import OfficerGroup

FOLDER = Path(__file__).parent.parent / "comparators"
NEIGHBOURS_FILE = "New_Statistical_Neighbour_Groupings_April_2021.csv"
GROUPS_FILE = "groups.toml"

NEIGHBOURS_SOURCE = (
    "Department for Education, children's services statistical neighbours (April 2021 groupings), "
    "New_Statistical_Neighbour_Groupings_April_2021.csv in dfe-analytical-services/CSC_outcomes_and_enablers; "
    "DfE LA numbers mapped to GSS codes by the old_la_code and new_la_code columns of DfE's EES files"
)


@dataclass(frozen=True)
class Member:
    """One council of a group: its name, the GSS codes it has had, and (for neighbours) how close it is."""

    name: str
    codes: tuple[str, ...]
    closeness: str = ""


@dataclass(frozen=True)
class Group:
    """A comparator group with its source, named on every comparison."""

    id: str
    title: str
    source: str
    members: tuple[Member, ...]
    #: Why the group is empty, where it is (a council no grouping names is compared with its region and England).
    note: str = ""


@cache
def _neighbour_rows() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    with (FOLDER / NEIGHBOURS_FILE).open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        sn = [i for i, h in enumerate(header) if h.startswith("SN") and h != "SNP"]
        for row in reader:
            if row and row[0].strip():
                out[row[0].strip()] = [(row[i].strip(), row[i + 1].strip()) for i in sn]
    return out


def statistical_neighbours(org_code: str) -> Group | None:
    """DfE's ten statistical neighbours of a council (by GSS code), closest first; None where DfE names none."""
    by_number, number_of, names = la_codes()
    number = number_of.get(org_code)
    rows = _neighbour_rows().get(number or "")
    if number is None or rows is None:
        return None
    members = tuple(Member(names.get(n, n), by_number.get(n, ()), closeness) for n, closeness in rows)
    return Group("statistical_neighbours", f"DfE statistical neighbours of {names[number]}", NEIGHBOURS_SOURCE, members)


def officer_groups(session: Session | None = None) -> dict[str, Group]:
    """The groups officers keep in the store, by id; without a session, those of the seed file ``groups.toml``."""
    if session is None:
        rows = [
            (g["id"], g["title"], g.get("source", ""), g["members"])
            for g in tomllib.loads((FOLDER / GROUPS_FILE).read_text(encoding="utf-8")).get("group", [])
        ]
    else:
        stmt = select(OfficerGroup).where(col(OfficerGroup.deleted_at).is_(None))
        rows = [(g.id, g.title, g.source, g.members) for g in session.execute(stmt).scalars()]
    _, number_of, names = la_codes()
    out: dict[str, Group] = {}
    for gid, title, source, codes in rows:
        members = tuple(Member(names.get(number_of.get(c, ""), c), (c,)) for c in codes)
        out[gid] = Group(gid, title, source, members)
    return out


def no_neighbours(org_code: str) -> Group:
    """The empty group of a council DfE's groupings do not name, saying why: it is compared with its region and
    England only."""
    note = (
        f"DfE's statistical neighbour groupings (April 2021) do not name {org_code}: they were drawn up for the "
        "councils of 2021, so a council made since (such as Cumberland and Westmorland and Furness, made in April "
        "2023 from Cumbria's districts) has no DfE neighbours. It is compared with its region and England."
    )
    return Group("statistical_neighbours", "No DfE statistical neighbours", NEIGHBOURS_SOURCE, (), note)


def group_for(
    org_code: str,
    group_id: str = "statistical_neighbours",
    session: Session | None = None,
    *,
    officers_groups: bool = True,
) -> Group:
    """The named group for a council (an empty one, saying why, where DfE names no neighbours); a KeyError names
    an unknown group and only the groups the reader may use (officers' groups read from the store when a session is
    given). ``officers_groups`` False (an agency's reader) leaves officers' groups out: they are the officers' own."""
    if group_id == "statistical_neighbours":
        return statistical_neighbours(org_code) or no_neighbours(org_code)
    groups = officer_groups(session) if officers_groups else {}
    if group_id not in groups:
        raise KeyError(
            f"No comparator group {group_id!r}; known: {', '.join(['statistical_neighbours', *sorted(groups)])}"
        )
    return groups[group_id]
