"""SEN2 files of made-up children, written in the order each survey's schema sets (tests only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape

#: The order of each module's items in each survey's schema (``collectors/sen2/schemas/``).
PERSON = ("Surname", "Forename", "PersonBirthDate", "Sex", "Ethnicity", "PostCode", "UPN", "UniqueLearnerNumber",
          "UPNunknown")  # fmt: skip
REQUEST = ("ReceivedDate", "RequestSource", "RYA", "RequestOutcomeDate", "RequestOutcome", "RequestMediation",
           "RequestTribunal", "Exported")  # fmt: skip
ASSESSMENT = ("AssessmentOutcome", "AssessmentOutcomeDate", "AssessmentMediation", "AssessmentTribunal",
              "OtherMediation", "OtherTribunal", "Week20")  # fmt: skip
PLAN_AFTER = ("PlanRes", "PlanWBP", "PB", "OA", "DP", "CeaseDate", "CeaseReason")
PLACEMENT = ("URN", "UKPRN", "SENSetting", "SENSettingOther", "PlacementRank", "EntryDate", "LeavingDate",
             "SENunitIndicator", "ResourcedProvisionIndicator", "Res", "WBP")  # fmt: skip
ACTIVE_AFTER = {
    2024: ("ReviewMeeting", "ReviewOutcome", "LastReview"),
    2025: ("ReviewMeeting", "LastReview", "ReviewOutcome", "ReviewDraft", "PhaseTransferDueDate",
           "PhaseTransferFinalDate"),
    2026: ("ReviewMeeting", "ReviewOutcome", "ReviewDraft", "PhaseTransferDueDate", "PhaseTransferFinalDate",
           "LastReview"),
}  # fmt: skip

Items = dict[str, object]


@dataclass
class Plan:
    """A named plan (module 4): its items and placements named in it."""

    items: Items = field(default_factory=dict)
    details: list[Items] = field(default_factory=list)


@dataclass
class Active:
    """A plan in force (module 5): placements, needs (type, rank) and its other items."""

    placements: list[Items] = field(default_factory=list)
    needs: list[tuple[str, int]] = field(default_factory=list)
    items: Items = field(default_factory=dict)


@dataclass
class Request:
    """A request for an EHC needs assessment (module 2), its assessment (3), plan (4) and plan in force (5)."""

    items: Items = field(default_factory=dict)
    assessment: Items | None = None
    plan: Plan | None = None
    active: Active | None = None


@dataclass
class Person:
    """A child or young person (module 1)."""

    items: Items
    requests: list[Request] = field(default_factory=list)


def person(upn: str | None, born: date, sex: str = "M", *requests: Request, **more: object) -> Person:
    """A made-up child with the items every survey needs."""
    items: Items = {"Surname": "Madeup", "Forename": "Child", "PersonBirthDate": born, "Sex": sex,
                    "Ethnicity": "WBRI", **more}  # fmt: skip
    if upn is not None:
        items["UPN"] = upn
    return Person(items, list(requests))


def _items(order: tuple[str, ...], items: Items, indent: str, *, known: tuple[str, ...] = ()) -> str:
    unknown = set(items) - set(order) - set(known)
    assert not unknown, unknown
    return "".join(
        f"{indent}<{k}>{escape(str(items[k]))}</{k}>\n" for k in order if k in items and items[k] is not None
    )


#: Items a survey before 2025 does not have, left out of its files.
NEW_IN_2025 = ("RequestSource", "ReviewDraft", "PhaseTransferDueDate", "PhaseTransferFinalDate")


def _request(r: Request, survey: int) -> str:
    request = {k: v for k, v in r.items.items() if survey >= 2025 or k not in NEW_IN_2025}
    out = "   <Requests>\n" + _items(REQUEST, request, "    ")
    if r.assessment is not None or r.plan is not None:
        out += "    <Assessment>\n" + _items(ASSESSMENT, r.assessment or {}, "     ")
        if r.plan is not None:
            out += "     <NamedPlan>\n" + _items(("StartDate",), r.plan.items, "      ", known=PLAN_AFTER)
            for d in r.plan.details:
                out += "      <PlanDetail>\n" + _items(PLACEMENT, d, "       ") + "      </PlanDetail>\n"
            out += _items(PLAN_AFTER, r.plan.items, "      ", known=("StartDate",)) + "     </NamedPlan>\n"
        out += "    </Assessment>\n"
    if r.active is not None:
        a = r.active
        out += "    <ActivePlans>\n" + _items(("TransferLA",), a.items, "     ", known=ACTIVE_AFTER[2025])
        for p in a.placements:
            out += "     <PlacementDetail>\n" + _items(PLACEMENT, p, "      ") + "     </PlacementDetail>\n"
        for need, rank in a.needs:
            out += f"     <SENneed><SENtype>{need}</SENtype><SENtypeRank>{rank}</SENtypeRank></SENneed>\n"
        out += _items(ACTIVE_AFTER[max(2024, survey)], a.items, "     ", known=("TransferLA",)) + "    </ActivePlans>\n"
    return out + "   </Requests>\n"


def sen2_xml(people: list[Person], survey: int = 2025, lea: str = "891", *, year: int | None = None) -> bytes:
    """A SEN2 file of ``people`` for the January ``survey`` (``year`` the header's, when it differs)."""
    dsco = "   <DSCO>Y</DSCO>\n" if survey >= 2025 else ""
    head = (
        "<Message>\n <Header>\n  <CollectionDetails>\n   <Collection>SEN2</Collection>\n"
        f"   <Year>{year or survey}</Year>\n   <ReferenceDate>{survey}-01-16</ReferenceDate>\n  </CollectionDetails>\n"
        f"  <Source>\n   <SourceLevel>L</SourceLevel>\n   <LEA>{lea}</LEA>\n   <SoftwareCode>Made up</SoftwareCode>\n"
        "   <Release>1</Release>\n   <SerialNo>001</SerialNo>\n   <DateTime>2025-01-20T09:00:00</DateTime>\n"
        f"   <DMO>Y</DMO>\n   <DCO>Y</DCO>\n{dsco}  </Source>\n </Header>\n <Persons>\n"
    )
    body = ""
    for p in people:
        items = dict(p.items)
        if survey <= 2023 and "Sex" in items:
            items["GenderCurrent"] = {"M": 1, "F": 2}.get(str(items.pop("Sex")), 0)
        order = tuple("GenderCurrent" if (k == "Sex" and survey <= 2023) else k for k in PERSON)
        body += "  <Person>\n" + _items(order, items, "   ") + "".join(_request(r, survey) for r in p.requests)
        body += "  </Person>\n"
    return (head + body + " </Persons>\n</Message>\n").encode()
