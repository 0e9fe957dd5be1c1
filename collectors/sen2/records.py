"""A checked SEN2 file read into polars tables: one row per child, per request (with its assessment and named plan),
per placement and per SEN need, each keyed by the child's position in the file and the request's in the file."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl
from lxml import etree

#: The items of a request and of the modules inside it that the tables read, by the column they are read into.
_REQUEST_ITEMS = {
    "received": "ReceivedDate", "source": "RequestSource", "rya": "RYA", "decided": "RequestOutcomeDate",
    "outcome": "RequestOutcome", "mediation": "RequestMediation", "tribunal": "RequestTribunal",
    "assessment": "Assessment/AssessmentOutcome", "assessed": "Assessment/AssessmentOutcomeDate",
    "a_mediation": "Assessment/AssessmentMediation", "a_tribunal": "Assessment/AssessmentTribunal",
    "o_mediation": "Assessment/OtherMediation", "o_tribunal": "Assessment/OtherTribunal",
    "week20": "Assessment/Week20", "start": "Assessment/NamedPlan/StartDate", "pb": "Assessment/NamedPlan/PB",
    "oa": "Assessment/NamedPlan/OA", "dp": "Assessment/NamedPlan/DP", "ceased": "Assessment/NamedPlan/CeaseDate",
    "cease_reason": "Assessment/NamedPlan/CeaseReason", "meeting": "ActivePlans/ReviewMeeting",
    "last_review": "ActivePlans/LastReview", "review_outcome": "ActivePlans/ReviewOutcome",
    "res": "ActivePlans/Res", "wbp": "ActivePlans/WBP",
}  # fmt: skip
#: The setting named in the plan as its primary placement (item 4.7, the PlanDetail of rank 1).
_PLAN_DETAIL = {"plan_urn": "URN", "plan_ukprn": "UKPRN", "plan_setting": "SENSetting"}
_PLACEMENT_ITEMS = {"urn": "URN", "ukprn": "UKPRN", "setting": "SENSetting", "rank": "PlacementRank",
                    "entered": "EntryDate", "left": "LeavingDate", "res": "Res", "wbp": "WBP"}  # fmt: skip
#: The modules a request may hold more than one of, read row by row (and a person's requests).
_REPEATED = frozenset({"Requests", "PlacementDetail", "SENneed", "PlanDetail"})
_PERSON_ITEMS = {"upn": "UPN", "uln": "UniqueLearnerNumber", "upn_unknown": "UPNunknown", "ethnicity": "Ethnicity"}
_IN_BOUNDS = r"^((?:19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2})"
_DATES = {"born", "received", "decided", "assessed", "start", "ceased", "meeting", "last_review", "entered", "left"}
#: The 2023 survey's ``GenderCurrent`` codes (1 male, 2 female), read as the later surveys' ``Sex``.
_GENDER = {"1": "M", "2": "F"}


@dataclass(frozen=True)
class Sen2Records:
    """The file's children, requests, placements and needs, and its census date."""

    census: date
    persons: pl.DataFrame
    requests: pl.DataFrame
    placements: pl.DataFrame
    needs: pl.DataFrame


def _text(element: etree._Element, path: str) -> str | None:
    value = element.findtext(path)
    return value.strip() if value and value.strip() else None


def _frame(rows: Sequence[Mapping[str, object]], columns: list[str]) -> pl.DataFrame:
    schema = {c: (pl.Date if c in _DATES else pl.Int64 if c in ("child", "request") else pl.String) for c in columns}
    frame = pl.DataFrame(rows, schema={c: pl.String if t == pl.Date else t for c, t in schema.items()}, orient="row")
    # Only a date of the years the door takes is read (``schema.YEARS``): a file kept before the door held them to it
    # reads such a date as unknown, never as a date no table can count from.
    return frame.with_columns(
        pl.col(c).str.extract(_IN_BOUNDS, 1).str.to_date("%Y-%m-%d", strict=False) for c in columns if c in _DATES
    )


def _leaves(
    element: etree._Element, prefix: str, out: dict[str, str | None], nested: dict[str, list[etree._Element]]
) -> None:
    """Each leaf's text under ``element`` by its path (``Assessment/NamedPlan/StartDate``), in one walk; the
    repeated modules (placements, needs, the plan's named placements) are set aside in ``nested``."""
    for child in element:
        tag = child.tag
        if tag in _REPEATED:
            nested.setdefault(tag, []).append(child)
        elif len(child):
            out.setdefault(f"{prefix}{tag}", None)
            _leaves(child, f"{prefix}{tag}/", out, nested)
        else:
            text = (child.text or "").strip()
            out.setdefault(f"{prefix}{tag}", text or None)


def _flat(element: etree._Element) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    _leaves(element, "", out, {})
    return out


def read_records(tree: etree._ElementTree, survey: int) -> Sen2Records:
    """The tables of a file that passed its schema (every date and code already of its type)."""
    stated = _text(tree.getroot(), "Header/CollectionDetails/ReferenceDate")
    # Reading: the census date is the header's ReferenceDate; a file without one is read as of 1 January.
    bounded = re.match(_IN_BOUNDS, stated or "")
    census = date.fromisoformat(bounded[1]) if bounded else date(survey, 1, 1)
    persons, requests, placements, needs = [], [], [], []
    number = 0
    for child, person in enumerate(tree.iterfind("Persons/Person"), start=1):
        items: dict[str, str | None] = {}
        asked: dict[str, list[etree._Element]] = {}
        _leaves(person, "", items, asked)
        sex = items.get("Sex") or _GENDER.get(items.get("GenderCurrent") or "")
        persons.append(
            {
                "child": child,
                "born": items.get("PersonBirthDate"),
                "sex": sex,
                **{k: items.get(p) for k, p in _PERSON_ITEMS.items()},
            }
        )
        for request in asked.get("Requests", []):
            number += 1
            found: dict[str, str | None] = {}
            nested: dict[str, list[etree._Element]] = {}
            _leaves(request, "", found, nested)
            named = next((d for d in map(_flat, nested.get("PlanDetail", [])) if d.get("PlacementRank") == "1"), {})
            requests.append(
                {
                    "child": child,
                    "request": number,
                    "active": "1" if "ActivePlans" in found else None,
                    **{k: found.get(p) for k, p in _REQUEST_ITEMS.items()},
                    **{k: named.get(p) for k, p in _PLAN_DETAIL.items()},
                }
            )
            for placement in nested.get("PlacementDetail", []):
                leaves = _flat(placement)
                placements.append(
                    {"child": child, "request": number, **{k: leaves.get(p) for k, p in _PLACEMENT_ITEMS.items()}}
                )
            for need in nested.get("SENneed", []):
                leaves = _flat(need)
                needs.append(
                    {
                        "child": child,
                        "request": number,
                        "type": leaves.get("SENtype"),
                        "rank": leaves.get("SENtypeRank"),
                    }
                )
    return Sen2Records(
        census,
        _frame(persons, ["child", "born", "sex", *_PERSON_ITEMS]),
        _frame(requests, ["child", "request", "active", *_REQUEST_ITEMS, *_PLAN_DETAIL]),
        _frame(placements, ["child", "request", *_PLACEMENT_ITEMS]),
        _frame(needs, ["child", "request", "type", "rank"]),
    )
