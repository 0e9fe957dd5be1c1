"""A checked SEN2 file read into polars tables: one row per child, per request (with its assessment and named plan),
per placement and per SEN need, each keyed by the child's position in the file and the request's in the file."""

from __future__ import annotations

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
    # The setting named in the plan as its primary placement (item 4.7, rank 1).
    "plan_urn": "Assessment/NamedPlan/PlanDetail[PlacementRank='1']/URN",
    "plan_ukprn": "Assessment/NamedPlan/PlanDetail[PlacementRank='1']/UKPRN",
    "plan_setting": "Assessment/NamedPlan/PlanDetail[PlacementRank='1']/SENSetting",
}  # fmt: skip
_PLACEMENT_ITEMS = {"urn": "URN", "ukprn": "UKPRN", "setting": "SENSetting", "rank": "PlacementRank",
                    "entered": "EntryDate", "left": "LeavingDate", "res": "Res", "wbp": "WBP"}  # fmt: skip
_PERSON_ITEMS = {"upn": "UPN", "uln": "UniqueLearnerNumber", "upn_unknown": "UPNunknown", "ethnicity": "Ethnicity"}
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
    return frame.with_columns(pl.col(c).str.slice(0, 10).str.to_date() for c in columns if c in _DATES)


def read_records(tree: etree._ElementTree, survey: int) -> Sen2Records:
    """The tables of a file that passed its schema (every date and code already of its type)."""
    stated = _text(tree.getroot(), "Header/CollectionDetails/ReferenceDate")
    # Reading: the census date is the header's ReferenceDate; a file without one is read as of 1 January.
    census = date.fromisoformat(stated[:10]) if stated else date(survey, 1, 1)
    persons, requests, placements, needs = [], [], [], []
    number = 0
    for child, person in enumerate(tree.iterfind("Persons/Person"), start=1):
        sex = _text(person, "Sex") or _GENDER.get(_text(person, "GenderCurrent") or "")
        persons.append({"child": child, "born": _text(person, "PersonBirthDate"), "sex": sex,
                        **{k: _text(person, p) for k, p in _PERSON_ITEMS.items()}})  # fmt: skip
        for request in person.iterfind("Requests"):
            number += 1
            active = request.find("ActivePlans") is not None
            requests.append({"child": child, "request": number, "active": "1" if active else None,
                             **{k: _text(request, p) for k, p in _REQUEST_ITEMS.items()}})  # fmt: skip
            for placement in request.iterfind("ActivePlans/PlacementDetail"):
                placements.append({"child": child, "request": number,
                                   **{k: _text(placement, p) for k, p in _PLACEMENT_ITEMS.items()}})  # fmt: skip
            for need in request.iterfind("ActivePlans/SENneed"):
                needs.append({"child": child, "request": number, "type": _text(need, "SENtype"),
                              "rank": _text(need, "SENtypeRank")})  # fmt: skip
    return Sen2Records(
        census,
        _frame(persons, ["child", "born", "sex", *_PERSON_ITEMS]),
        _frame(requests, ["child", "request", "active", *_REQUEST_ITEMS]),
        _frame(placements, ["child", "request", *_PLACEMENT_ITEMS]),
        _frame(needs, ["child", "request", "type", "rank"]),
    )
