"""An SSD extract from the ZIP a council uploads to the two files of DfE's record-level returns: unpacked with
bounds, checked against the SSD's schema, then the CIN census XML and the SSDA903 CSVs of the collection year made
from it. The files go on through the record-level path as a council's own would (``collectors.records.service``);
the extract itself is not kept: only the columns an output reads are read past the checks, and only the two files
made are kept (encrypted, as every record-level upload is).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from collectors.records.kept import CIN_FILE, SSDA903_FILE
from collectors.records.ssda903_tables import CollectionYear
from collectors.ssd import annex_a
from collectors.ssd.cin import make_cin, open_episodes
from collectors.ssd.intake import Extract, Problem, read_extract, unpack
from collectors.ssd.spec import ROLE, Item, mapping, role_key
from collectors.ssd.ssda903 import MADE, make_ssda903
from onereturn.errors import InvalidInput

#: The SSD version whose headings the service reads (``current_version`` of D2I's ssd_version_history.yml at the
#: commit the schema was taken from); an extract whose ``ssd_version_log`` names another minor version is refused.
VERSION = "1.4.5"


@dataclass
class Made:
    """The record-level files made from an extract, and what the reading set aside or left out."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: int = 0
    #: What Annex A needs that only the SSD holds, as dated rows (``collectors.ssd.annex_a``); kept, the rest not.
    annex_a: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: The extract as read and checked, for the outputs made from it beyond the two files (DfE's payloads).
    extract: Extract | None = None


def collection(year: str) -> CollectionYear:
    """The collection year ``2024-25`` as DfE's year ending 31 March 2025."""
    return CollectionYear(int(year[:4]) + 1)


def make_returns(
    path: Path,
    name: str,
    year: str,
    lea: str,
    *,
    max_unpacked: int,
    keep: Sequence[Item] = (),
    worker_roles: Sequence[str] = (),
) -> Made:
    """The year's CIN census and SSDA903 made from the extract at ``path``; ExtractRefused lists every problem.
    ``keep`` names more columns to read and check past intake (DfE's payloads: ``collectors/ssd/payload.py``);
    ``worker_roles`` are the council's role ids that are the allocated worker (none: every involvement counts)."""
    maps = mapping(year)
    if keep:
        maps = dataclasses.replace(maps, items=(*maps.items, *keep))
    members = unpack(path, name, max_unpacked=max_unpacked)
    _check_version(members)
    extract = read_extract(members, maps)
    annex_a.check(extract)
    extract.worker_roles = tuple(worker_roles)
    made = Made(
        notes=[*extract.notes, *_role_notes(extract)],
        rows=extract.rows,
        annex_a=annex_a.derive(extract),
        extract=extract,
    )
    years = collection(year)
    census = not open_episodes(extract, years).is_empty()
    episodes = extract.tables.get("ssd_cla_episodes")
    if not census and (episodes is None or episodes.is_empty()):
        raise InvalidInput(
            f"the extract has no referral open in {year} (1 April {years.ending - 1} to 31 March {years.ending}) and "
            "no looked-after episode: is it another year's extract?"
        )
    if census:
        made.files.append((CIN_FILE, make_cin(extract, years, lea)))
    else:
        made.notes.append(f"no referral is open in {year}: no CIN census was made")
    if episodes is not None and not episodes.is_empty():
        made.files.append((SSDA903_FILE, make_ssda903(extract, years, made.notes)))
        made.notes.append(f"SSDA903 tables made: {', '.join(MADE)}")
    else:
        made.notes.append("the extract has no looked-after episode: no SSDA903 was made")
    return made


def _role_notes(extract: Extract) -> list[str]:
    """What the upload's answer says of the council's rule for the allocated worker: which involvements count, and
    each role the rule names that no involvement of the extract has (the council's role ids, never a child's value)."""
    if not extract.worker_roles:
        return [
            "no rule of the council's says which involvement roles are the allocated worker "
            "(its agency's ssd.worker_roles): every involvement counts for Annex A's allocated team and worker and "
            "the SSDA903's SWEpisodes; DfE's payloads' care workers are role CW, as D2I's builder takes them"
        ]
    notes = [
        f"the council's rule for the allocated worker (its agency's ssd.worker_roles): only involvements of role(s) "
        f"{', '.join(extract.worker_roles)} count for Annex A's allocated team and worker, the SSDA903's "
        "SWEpisodes and DfE's payloads' care workers"
    ]
    frame = extract.tables.get("ssd_involvements")
    held = set() if frame is None or ROLE not in frame.columns else {role_key(r) for r in frame[ROLE].unique()}
    absent = [r for r in extract.worker_roles if role_key(r) not in held]
    if absent:
        notes.append(
            f"the council's rule for the allocated worker names role(s) no involvement in the extract has: "
            f"{', '.join(absent)}"
        )
    return notes


def _check_version(members: dict[str, bytes]) -> None:
    """Refuse an extract whose ``ssd_version_log`` says it is of another SSD version than the one read here."""
    data = members.get("ssd_version_log.csv")
    if data is None:
        return
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig", errors="replace"))))
    current = [r for r in rows if (r.get("is_current") or "").strip() in ("1", "Y", "True", "true")] or rows[-1:]
    found = (current[0].get("version_number") or "").strip() if current else ""
    if found and found.split(".")[:2] != VERSION.split(".")[:2]:
        said = (
            f"the extract is SSD version {found[:20]} (its ssd_version_log); the service reads version {VERSION}'s "
            f"tables: rebuild the extract with the SSD's {VERSION} scripts"
        )
        problem = Problem("ssd_version_log", None, "version_number", said)
        raise InvalidInput(said, errors=[problem.item()])
