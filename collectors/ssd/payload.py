"""DfE's children's social care payloads, one per child, built from a checked SSD extract as DfE's early-adopter
councils build them: the structure is DfE's (specification v0.7/0.8, as Data to Insight's
``docs/json_payload_structure.md`` gives it), each field filled from the SSD column Data to Insight's payload builder
reads (``build_dfe_payload_staging/populate_ssd_api_data_staging.sql`` v0.4.8, repository
data-to-insight/dfe-csc-api-data-flows at commit 41e6f19, MIT), field by field as ``collectors/ssd/payload_map.csv``
says with its source ("field map" there is that repository's ``api_payload_to_ssd_field_map.csv``; the line numbers
are the builder's). Where the builder leaves a choice, ``Choice:`` says what is done here.

A field with no value is left out of its object, not written ``null``, and so is a list with no member: the builder's
``FOR JSON PATH`` without ``INCLUDE_NULL_VALUES`` writes them so, and DfE's sample payloads leave such fields out.
Nothing read here is logged or put in a message: the payloads are children's records (``docs/records.md``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from collectors.ssd.intake import Extract
from collectors.ssd.spec import PERSON, Item, role_key
from collectors.ssd.ssda903 import UASC

Row = dict[str, Any]
Payload = dict[str, Any]
#: The field map of the payload: each DfE field, the SSD column it is made from and the source of the rule.
MAP = Path(__file__).resolve().parent / "payload_map.csv"
#: How far back DfE's window reaches: 24 months before the run, back to the 1 April starting that financial year
#: (populate_ssd_api_data_staging.sql lines 132-140, "EA Spec window").
MONTHS_BACK = 24
#: The system's own ids, left out of the hash: the builder's semantic hash leaves out "system-generated ids that may
#: change between runs without representing material change" (populate lines 344-352), and every purge flag.
SYSTEM_IDS = frozenset(
    {
        "la_child_id",
        "mis_child_id",
        "social_care_episode_id",
        "child_and_family_assessment_id",
        "child_in_need_plan_id",
        "section_47_assessment_id",
        "child_protection_plan_id",
        "child_looked_after_placement_id",
        "purge",
    }
)
#: The codes a UPN is written as where it is unknown (populate lines 771-785).
UPN_UNKNOWN = frozenset(f"UN{n}" for n in range(1, 11))
#: Flags as the builder reads them (populate lines 890-896 and 996-1001).
TRUE = frozenset({"Y", "T", "1", "TRUE"})
FALSE = frozenset({"N", "F", "0", "FALSE"})
#: Choice: the builder reads a UASC as the status "U" (populate line 1317); the SSD's own extracts and the SSDA903
#: made here write "UASC" (collectors/ssd/ssda903.py), so either is a UASC.
UASC_STATUS = UASC | {"U"}
#: The builder's case worker role (populate line 1220), where the council has no rule of its own for the roles.
CASE_WORKER = frozenset({"CW"})


@dataclass(frozen=True)
class Field:
    """One line of the field map: a DfE field, the SSD column it is made from, whether it names the child."""

    json_path: str
    ssd_table: str
    ssd_column: str
    kind: str
    identifying: bool
    source: str


@cache
def field_map(path: Path = MAP) -> tuple[Field, ...]:
    """The payload's field map as the service ships it."""
    with path.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Field(r["json_path"], r["ssd_table"], r["ssd_column"], r["kind"], r["identifying"] == "Y", r["source"])
            for r in csv.DictReader(handle)
        )


def kept_items(*, identifiers: bool) -> tuple[Item, ...]:
    """The payload's SSD columns as items the extract's reading keeps past intake: the ones naming a child (names,
    UPNs, postcodes) only when the council switched them on, so otherwise they are dropped at intake as before."""
    return tuple(
        Item(
            "csc_api",
            "payload",
            f.json_path,
            f.ssd_table,
            f.ssd_column,
            "date" if f.kind == "date" else "text",
            "",
            f.source,
        )
        for f in field_map()
        if identifiers or not f.identifying
    )


@dataclass(frozen=True)
class Window:
    """DfE's window of a run: from the 1 April 24 months back to the day after the run, and its 31 March census
    dates (populate lines 132-158)."""

    start: date
    end: date

    def overlaps(self, begun: date | None, ended: date | None) -> bool:
        """Whether a period started by the window's end and not ended before its start (the builder's overlap)."""
        return begun is not None and begun <= self.end and (ended is None or ended >= self.start)

    def holds(self, day: date | None) -> bool:
        """Whether ``day`` is in the window, both ends in (SQL's BETWEEN)."""
        return day is not None and self.start <= day <= self.end

    @property
    def census_dates(self) -> tuple[date, ...]:
        """The 31 Marches in the window (at most two)."""
        found = (date(self.start.year, 3, 31), date(self.end.year, 3, 31))
        return tuple(sorted({d for d in found if self.holds(d)}))


def window(run: date) -> Window:
    """DfE's window on the day of the run: 1 April of the financial year 24 months back, to the day after."""
    back = run.year * 12 + run.month - 1 - MONTHS_BACK
    year, month = divmod(back, 12)
    first = year - (1 if month + 1 < 4 else 0)
    return Window(date(first, 4, 1), run + timedelta(days=1))


def plus_years(day: date, years: int) -> date:
    """``day`` moved by whole years, 29 February to 28 February (SQL Server's DATEADD)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def day_of(value: Any) -> date | None:
    """A date of the extract (checked at intake: ``YYYY-MM-DD`` with or without a time), or None."""
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def iso(value: Any) -> str | None:
    """A date of the extract as DfE writes it, ``YYYY-MM-DD`` (the builder's CONVERT style 23)."""
    found = day_of(value)
    return found.isoformat() if found else None


def clean(value: Any, most: int | None = None) -> str | None:
    """Text trimmed, blank as None, cut to ``most`` characters (the builder's LEFT(NULLIF(LTRIM(RTRIM(...))))."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return text[:most] if most else text


def flag(value: Any) -> bool | None:
    """A flag as the builder reads it: Y/T/1/TRUE true, N/F/0/FALSE false, anything else absent."""
    text = (clean(value) or "").upper()
    return True if text in TRUE else False if text in FALSE else None


def newest(rows: Iterable[Row], column: str) -> Row | None:
    """The row latest by ``column``, a blank date last (SQL Server's ORDER BY ... DESC puts NULL last)."""
    ordered = sorted(rows, key=lambda r: day_of(r.get(column)) or date.min, reverse=True)
    return ordered[0] if ordered else None


def _by(rows: list[Row], column: str) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        key = row.get(column)
        if key is not None:
            grouped[str(key)].append(row)
    return grouped


class Tables:
    """The extract's tables as rows grouped by the ids the payload joins them by."""

    def __init__(self, extract: Extract) -> None:
        def rows(name: str) -> list[Row]:
            frame = extract.tables.get(name)
            return frame.to_dicts() if frame is not None else []

        self.people = rows(PERSON)
        self.disabilities = _by(rows("ssd_disability"), "disa_person_id")
        self.addresses = _by(rows("ssd_address"), "addr_person_id")
        self.immigration = _by(rows("ssd_immigration_status"), "immi_person_id")
        self.sdq = _by(rows("ssd_sdq_scores"), "csdq_person_id")
        self.linked = _by(rows("ssd_linked_identifiers"), "link_person_id")
        self.episodes = _by(rows("ssd_cin_episodes"), "cine_person_id")
        self.assessments = _by(rows("ssd_cin_assessments"), "cina_referral_id")
        self.factors = _by(rows("ssd_assessment_factors"), "cinf_assessment_id")
        plans = rows("ssd_cin_plans")
        self.cin_plans = _by(plans, "cinp_referral_id")
        self.cin_plans_of = _by(plans, "cinp_person_id")
        self.s47 = _by(rows("ssd_s47_enquiry"), "s47e_referral_id")
        self.icpc = _by(rows("ssd_initial_cp_conference"), "icpc_s47_enquiry_id")
        self.cp_plans = _by(rows("ssd_cp_plans"), "cppl_referral_id")
        cla = rows("ssd_cla_episodes")
        self.cla_of_referral = _by(cla, "clae_referral_id")
        self.cla_of_person = _by(cla, "clae_person_id")
        self.placements = _by(rows("ssd_cla_placement"), "clap_cla_id")
        permanence = rows("ssd_permanence")
        self.permanence_of = _by(permanence, "perm_person_id")
        self.permanence_cla = _by(permanence, "perm_cla_id")
        self.care_leavers = _by(rows("ssd_care_leavers"), "clea_person_id")
        self.involvements = _by(rows("ssd_involvements"), "invo_referral_id")
        #: The roles that are a case worker: the council's rule where it set one, else the builder's CW (line 1220).
        self.worker_roles = frozenset(role_key(r) for r in extract.worker_roles) or CASE_WORKER
        self.professionals = {str(r["prof_professional_id"]): r for r in rows("ssd_professionals")}


def _without(value: Any, left_out: Callable[[str, Any], bool]) -> Any:
    """``value`` with every field of every object (nested in objects and lists) that ``left_out`` names dropped."""
    if isinstance(value, dict):
        return {k: _without(v, left_out) for k, v in value.items() if not left_out(k, v)}
    if isinstance(value, list):
        return [_without(v, left_out) for v in value]
    return value


def pruned(value: Any) -> Any:
    """Fields with no value left out, as the builder's FOR JSON PATH leaves them out."""
    return _without(value, lambda _, v: v is None)


def semantic(value: Any) -> Any:
    """The payload as hashed: every system id and purge flag left out (the builder's semantic hash)."""
    return _without(value, lambda k, _: k in SYSTEM_IDS)


def payload_hash(payload: Payload) -> str:
    """SHA-256 of the payload's semantic part as canonical JSON (keys sorted, no spaces, UTF-8): the builder's
    change detection (SHA2_256 of the semantic payload, populate lines 1330-1343), stable across runs and hosts."""
    text = json.dumps(semantic(payload), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source_code(value: Any) -> str | None:
    """The referral source as the builder coerces it (populate lines 872-881): ``10...`` is 10, ``1A``-``3F`` and
    ``5A``-``5D`` their two characters, ``4``, ``6``-``9`` their first; anything else absent. SQL Server's LIKE is
    case-blind under the default collation, so a lower-case code is read and written upper-case."""
    text = (clean(value) or "").upper()
    if text.startswith("10"):
        return "10"
    if re.match(r"[1-3][A-F]|5[A-D]", text):
        return text[:2]
    if re.match(r"[46789]", text):
        return text[:1]
    return None
