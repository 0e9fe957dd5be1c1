"""The service's own checks of a SEN2 file that its schema cannot make: each labelled the service's (``source`` "rule"),
since DfE's validation rules for SEN2 are not stored; none is presented as DfE's. They run on a file that passed its
schema, so every date and code here is already of its type.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from lxml import etree

from collectors.sen2.schema import MODULES, Problem

#: Pairs of dates of one request where the second cannot come before the first: (element holding both, earlier item's
#: path, later item's path, what the later one is). A plan issued before its request was received is no plan of it.
_ORDER = (
    ("Requests", "ReceivedDate", "RequestOutcomeDate", "the decision on the request"),
    ("Requests", "ReceivedDate", "Assessment/AssessmentOutcomeDate", "the assessment's outcome"),
    ("Requests", "ReceivedDate", "Assessment/NamedPlan/StartDate", "the plan's issue"),
    ("Requests", "Assessment/NamedPlan/StartDate", "Assessment/NamedPlan/CeaseDate", "the plan's end"),
    ("PlacementDetail", "EntryDate", "LeavingDate", "leaving the placement"),
)


def _day(element: etree._Element, path: str) -> date | None:
    text = element.findtext(path)
    return date.fromisoformat(text.strip()[:10]) if text and text.strip() else None


def child_key(person: etree._Element) -> tuple[str, str] | None:
    """How the file names a child: its UPN, else its ULN (the item, and the value); None when it gives neither."""
    for item in ("UPN", "UniqueLearnerNumber"):
        value = (person.findtext(item) or "").strip().upper()
        if value:
            return item, value
    return None


def rule_problems(tree: etree._ElementTree, survey: int) -> list[Problem]:
    """Every place the file fails the service's own checks: a child given twice, dates out of order, an item the
    survey made mandatory missing where it applies."""
    return list(_rules(tree, survey))


def _rules(tree: etree._ElementTree, survey: int) -> Iterator[Problem]:
    seen: dict[tuple[str, str], int] = {}
    for number, person in enumerate(tree.iterfind("Persons/Person"), start=1):
        # A child given twice would be counted twice in every table: the UPN (or ULN) names one child (the schema
        # comment on item 1.7a; the guide's "unique pupil number").
        key = child_key(person)
        if key is not None:
            if key in seen:
                yield Problem(MODULES["Person"], number, key[0], f"the same {key[0]} as child {seen[key]}: a child is "
                              "given once, with each of its requests inside it", "rule")  # fmt: skip
            else:
                seen[key] = number
        born = _day(person, "PersonBirthDate")
        for request in person.iterfind("Requests"):
            received = _day(request, "ReceivedDate")
            if born is not None and received is not None and received < born:
                yield Problem(MODULES["Requests"], number, "ReceivedDate", "the request is dated before the child's "
                              "birth", "rule")  # fmt: skip
            # Reading of the 2026 schema's "now mandatory" RequestSource: a historical request (outcome H) gives
            # neither its received date nor its source (items 2.1 and 2.3), so it is required on every other one.
            if survey >= 2026 and request.findtext("RequestOutcome") != "H" and request.find("RequestSource") is None:
                yield Problem(MODULES["Requests"], number, "RequestSource", "a mandatory item is missing from a "
                              "request that is not historical (outcome H)", "rule")  # fmt: skip
            yield from _order(request, number)
            for placement in request.iterfind("ActivePlans/PlacementDetail"):
                yield from _order(placement, number)


def _order(element: etree._Element, number: int) -> Iterator[Problem]:
    for holder, first, then, what in _ORDER:
        if element.tag != holder:
            continue
        earlier, later = _day(element, first), _day(element, then)
        if earlier is not None and later is not None and later < earlier:
            item = then.rsplit("/", 1)[-1]
            module = MODULES[then.split("/")[-2]] if "/" in then else MODULES[holder]
            yield Problem(module, number, item, f"{what} is dated before {first}: dates out of order", "rule")
