"""A checked SEN2 file read into polars tables: one row per child, per request (with its assessment and named plan),
per placement and per SEN need, each keyed by the child's position in the file and the request's in the file."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import polars as pl
from lxml import etree
from sqlalchemy import Engine

from collectors.records.kept import content_hash, kept_files, unpacked
from collectors.sen2.schema import read_encoding, survey_of
from indicators.store.models import Submission
from onereturn.errors import Conflict
from onereturn.memory import collector_off, release_memory
from onereturn.settings import Settings
from onereturn.untrusted_xml import HARDENED
from onereturn.workspace import private_folder

T = TypeVar("T")

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
_PLAN_DETAIL = {
    "plan_urn": "URN",
    "plan_ukprn": "UKPRN",
    "plan_setting": "SENSetting",
    "plan_senunit": "SENunitIndicator",
    "plan_rp": "ResourcedProvisionIndicator",
}
_PLACEMENT_ITEMS = {"urn": "URN", "ukprn": "UKPRN", "setting": "SENSetting", "rank": "PlacementRank",
                    "entered": "EntryDate", "left": "LeavingDate", "res": "Res", "wbp": "WBP",
                    "senunit": "SENunitIndicator", "rp": "ResourcedProvisionIndicator"}  # fmt: skip
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


def census_of(stated: str | None, survey: int) -> date:
    """The file's census date: its header's ``ReferenceDate``; a file without one is read as of 1 January."""
    # Reading: the census date is the header's ReferenceDate (CollectionDetails, an xs:date in each survey's schema);
    # one outside the years the door takes (a file kept before it held them) is read as not stated.
    bounded = re.match(_IN_BOUNDS, stated or "")
    return date.fromisoformat(bounded[1]) if bounded else date(survey, 1, 1)


def _frame(columns: dict[str, list[object]]) -> pl.DataFrame:
    schema = {c: (pl.Date if c in _DATES else pl.Int64 if c in ("child", "request") else pl.String) for c in columns}
    frame = pl.DataFrame(columns, schema={c: pl.String if t == pl.Date else t for c, t in schema.items()})
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


class _Table:
    """One table built a column at a time: its leading columns given, the others read from mappings of item paths."""

    def __init__(self, head: tuple[str, ...], *sources: dict[str, str]) -> None:
        self.columns: dict[str, list[object]] = {name: [] for name in head}
        self.head = [self.columns[name] for name in head]
        self.sources: list[list[tuple[list[object], str]]] = []
        for mapping in sources:
            pairs: list[tuple[list[object], str]] = []
            for name, path in mapping.items():
                column: list[object] = []
                self.columns[name] = column
                pairs.append((column, path))
            self.sources.append(pairs)

    def add(self, head: tuple[object, ...], *found: dict[str, str | None]) -> None:
        """One row: its leading values, then each column's item from its mapping's values."""
        for column, value in zip(self.head, head, strict=True):
            column.append(value)
        for pairs, values in zip(self.sources, found, strict=True):
            for column, path in pairs:
                column.append(values.get(path))


#: A need's items, by the column each is read into.
_NEED_ITEMS = {"type": "SENtype", "rank": "SENtypeRank"}


class _Reader:
    """The four tables built a column at a time, a ``Person`` element at a time (no row is held as a mapping)."""

    def __init__(self) -> None:
        self.persons = _Table(("child", "born", "sex"), _PERSON_ITEMS)
        self.requests = _Table(("child", "request", "active"), _REQUEST_ITEMS, _PLAN_DETAIL)
        self.placements = _Table(("child", "request"), _PLACEMENT_ITEMS)
        self.needs = _Table(("child", "request"), _NEED_ITEMS)
        self.children = self.number = 0

    def person(self, person: etree._Element) -> None:
        """Read one child and its requests, placements and needs."""
        self.children += 1
        child = self.children
        items: dict[str, str | None] = {}
        asked: dict[str, list[etree._Element]] = {}
        _leaves(person, "", items, asked)
        sex = items.get("Sex") or _GENDER.get(items.get("GenderCurrent") or "")
        self.persons.add((child, items.get("PersonBirthDate"), sex), items)
        for request in asked.get("Requests", []):
            self.number += 1
            found: dict[str, str | None] = {}
            nested: dict[str, list[etree._Element]] = {}
            _leaves(request, "", found, nested)
            named = next((d for d in map(_flat, nested.get("PlanDetail", [])) if d.get("PlacementRank") == "1"), {})
            self.requests.add((child, self.number, "1" if "ActivePlans" in found else None), found, named)
            for placement in nested.get("PlacementDetail", []):
                self.placements.add((child, self.number), _flat(placement))
            for need in nested.get("SENneed", []):
                self.needs.add((child, self.number), _flat(need))

    def records(self, census: date) -> Sen2Records:
        """The tables read so far."""
        tables = (self.persons, self.requests, self.placements, self.needs)
        return Sen2Records(census, *(_frame(t.columns) for t in tables))


def read_records(tree: etree._ElementTree, survey: int) -> Sen2Records:
    """The tables of a file that passed its schema (every date and code already of its type)."""
    reader = _Reader()
    for person in tree.iterfind("Persons/Person"):
        reader.person(person)
    return reader.records(census_of(_text(tree.getroot(), "Header/CollectionDetails/ReferenceDate"), survey))


def _parent_tag(element: etree._Element) -> str | None:
    parent = element.getparent()
    return None if parent is None else str(parent.tag)


class KeptUnreadable(Conflict):
    """A kept SEN2 file that cannot be read (409): that council's answers fail with this, no one else's."""

    def __init__(self, line: int | None) -> None:
        at = f" at line {line}" if line else ""
        super().__init__(
            f"the council's kept SEN2 file cannot be read{at}; nothing was built from it: the council sends the "
            "file again"
        )


def _events(path: Path, events: tuple[str, ...], **more: Any) -> Iterator[tuple[str, etree._Element]]:
    """The kept file's parse events in the encoding the door read it in (``schema.read_encoding``), hardened as the
    door's parser is. A file libxml2 cannot read is KeptUnreadable, quoting nothing of it."""
    with path.open("rb") as f:
        encoding = read_encoding(f.read(4))
    try:
        yield from etree.iterparse(str(path), events=events, encoding=encoding, **HARDENED, **more)
    except etree.XMLSyntaxError as exc:
        raise KeptUnreadable(exc.lineno) from None


def read_kept_file(path: Path, survey: int) -> tuple[Sen2Records, int]:
    """The tables of a kept file (one the door checked whole), read a child at a time: each ``Person`` let go of once
    read, so the whole tree is never held; with the file's child-level items (every item under ``Persons`` with no
    item inside it)."""
    reader, stated, items = _Reader(), None, 0
    events = _events(path, ("end",), tag=("ReferenceDate", "Person"), remove_comments=True, remove_pis=True)
    for _, element in events:
        if element.tag == "ReferenceDate":
            if stated is None and _parent_tag(element) == "CollectionDetails":
                stated = (element.text or "").strip() or None
            continue
        if _parent_tag(element) != "Persons":
            continue
        reader.person(element)
        items += int(element.xpath("count(descendant-or-self::*[not(*)])"))
        element.clear()
        # The children read before this one are gone from the tree too.
        while element.getprevious() is not None:
            del element.getparent()[0]
    return reader.records(census_of(stated, survey)), items


def census_in_kept_file(path: Path, survey: int) -> date:
    """A kept file's census date, read from its header alone (the children after it are not read)."""
    events = _events(path, ("start", "end"))
    for event, element in events:
        if event == "start" and element.tag == "Persons":
            break
        if event == "end" and element.tag == "ReferenceDate" and _parent_tag(element) == "CollectionDetails":
            return census_of((element.text or "").strip() or None, survey)
    return census_of(None, survey)


def read_kept_upload(
    engine: Engine,
    settings: Settings,
    submission: Submission,
    read: Callable[[Path, int], T],
    *,
    unchanged: bool = False,
    data: bytes | None = None,
) -> T:
    """The one read of a kept SEN2 upload after the door: its file unsealed into a private folder removed at once and
    given to ``read`` (:func:`read_kept_file`, or :func:`census_in_kept_file` for its header alone) with its survey;
    ``data``: the kept file's bytes as the door read them back (its sealed ZIP, opened); ``unchanged``: Conflict
    where the file kept is no longer the one received."""
    with private_folder(settings, "sen2-") as work:
        files = unpacked(data, Path(work)) if data is not None else kept_files(engine, settings, submission, Path(work))
        if unchanged and content_hash(files) != submission.content_hash:
            raise Conflict(f"The kept file of submission {submission.id} has changed since it was received")
        ((_, path),) = files
        # The elements and texts read make no reference cycle: nothing for the collector to find.
        with collector_off():
            found = read(path, survey_of(submission.collection_year or ""))
    # What the read made and let go of (each child's texts) is handed back, not kept by the allocator.
    release_memory()
    return found
