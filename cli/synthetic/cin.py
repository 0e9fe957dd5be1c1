"""Seeded synthetic CIN census files (ILLUSTRATIVE ONLY): one XML ``Message`` of a council's made-up children in need."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from cli.synthetic.common import (
    ETHNICITY,
    SYNTHETIC_LA,
    age_on,
    collection_year,
    council,
    day_between,
    weighted,
)
from collectors.records.ssda903_tables import CollectionYear
from onereturn.errors import InvalidInput

# Laid out by hand, the formatter told to leave it: code and weight pairs read across the lines, as DfE's code list runs.
REFERRAL_SOURCES = {
    "1A": 4, "1B": 2, "1C": 1, "1D": 1, "2A": 2, "2B": 2, "3A": 18, "3B": 2, "3C": 1, "3D": 3, "3E": 6, "3F": 4,
    "4": 1, "5A": 12, "5B": 4, "5C": 3, "5D": 1, "6": 1, "7": 2, "8": 3, "9": 27, "10": 1,
}  # fmt: skip
#: The census's primary need codes (N0 not stated ... N9 cases other than children in need), made-up weights.
CIN_NEED = {"N1": 55, "N2": 4, "N3": 9, "N4": 14, "N5": 7, "N6": 2, "N7": 2, "N8": 6, "N9": 1}
#: Disabilities other than NONE, cycled through so a small census still uses most of DfE's codes.
DISABILITIES = ("AUT", "BEH", "COMM", "CON", "DDA", "HAND", "HEAR", "INC", "LD", "MOB", "PC", "VIS")
# Laid out by hand, the formatter told to leave it: a list of codes read across the lines; one a line it would run to a page.
#: Factors identified at assessment, without 21 (no factors, which stands alone), 18A and 19A (retired codes).
FACTORS = (
    "1B", "1C", "2B", "2C", "3A", "3B", "3C", "4A", "4B", "4C", "5A", "5B", "5C", "6A", "6B", "6C", "7A",
    "8B", "8C", "8D", "8E", "8F", "9A", "10A", "11A", "12A", "13A", "14A", "15A", "16A", "17A", "18B", "18C",
    "19B", "19C", "20", "22A", "23A", "24A",
)  # fmt: skip
#: The census's categories of abuse of a child protection plan, made-up weights.
ABUSE = {"NEG": 50, "EMO": 38, "PHY": 6, "SAB": 4, "MUL": 2}
CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def upn(lea: str, serial: int) -> str:
    """A well-formed UPN: DfE's check letter, the council's three-digit number, eight digits and a digit.

    The check letter is the weighted sum of characters 2 to 13 (weights 2 to 13) modulo 23, looked up in
    DfE's letters (the rule as DfE's CIN rule 1510 states it, citing DfE's UPN guide).
    """
    body = f"{lea}{serial % 10**9:09d}"
    total = sum(int(digit) * weight for digit, weight in zip(body, range(2, 14), strict=True))
    return CHECK_LETTERS[total % 23] + body


def _working(day: date, n: int) -> date:
    from mappings.deadlines import ENGLAND

    return ENGLAND.add_working_days(day, n)


def _weekday(day: date) -> date:
    """The working day on or after ``day`` (an initial conference is never held at a weekend or bank holiday)."""
    from mappings.deadlines import ENGLAND

    return ENGLAND.on_or_after(day)


@dataclass
class CinEpisode:
    """One CINdetails block of a child, with the modules inside it."""

    referral: date
    source: str
    need: str | None
    nfa: bool
    closure: date | None = None
    reason: str | None = None
    assessments: list[tuple[date, date | None, tuple[str, ...]]] = field(default_factory=list)
    plans: list[tuple[date, date | None]] = field(default_factory=list)
    s47: list[tuple[date, date, date | None, bool]] = field(default_factory=list)
    cpps: list[tuple[date, date | None, str, str, int, list[date]]] = field(default_factory=list)


class _CouncilCin:
    """Builds the children of one synthetic council's CIN census for one collection year."""

    def __init__(self, seed: int, year: CollectionYear, lea: str) -> None:
        self.lea = lea
        self.rng = random.Random(seed)
        self.year = year
        self.disabled = 0

    def child(self, number: int, kind: str | None = None) -> ET.Element:
        """One ``Child`` element: its kind drawn (``nfa``, ``new``, ``ongoing``, ``rereferred``) unless given."""
        rng, year = self.rng, self.year
        if kind is None:
            kind = rng.choices(["nfa", "new", "ongoing", "rereferred"], weights=[18, 42, 34, 6])[0]
        if kind in ("nfa", "new", "rereferred"):
            # DfE's query 8569Q reads a no-further-action referral on the census's first day (when it is a bank
            # holiday, as on 1 April 2024) as one made before the census, so the first week is left out.
            referral = day_between(rng, year.start + timedelta(days=7), year.end - timedelta(days=1))
        else:
            referral = day_between(rng, year.start - timedelta(days=900), year.start - timedelta(days=5))
        age = rng.choices(range(18), weights=[9, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 4])[0]
        dob = referral - timedelta(days=365 * age + rng.randint(0, 364))
        dob = max(dob, referral - timedelta(days=365 * 17 + 300))
        if dob > referral:
            dob = referral - timedelta(days=rng.randint(0, 30))
        episodes: list[CinEpisode] = []
        if kind == "rereferred" and referral > year.start + timedelta(days=120):
            # Referred again later in the year after an episode that closed after assessment.
            first = self._episode(referral - timedelta(days=rng.randint(100, 118)), "new", closes=True)
            episodes.append(first)
            if first.closure is None or first.closure >= referral - timedelta(days=1):
                episodes.pop()
        episodes.append(self._episode(referral, kind, closes=False))
        return self._element(number, dob, episodes)

    def _episode(self, referral: date, kind: str, *, closes: bool) -> CinEpisode:
        rng, year = self.rng, self.year
        source = weighted(rng, REFERRAL_SOURCES)
        if kind == "nfa":
            # A referral with no further action: closed the day it was made, with no modules.
            return CinEpisode(referral, source, weighted(rng, CIN_NEED), True, referral, "RC7")
        episode = CinEpisode(referral, source, weighted(rng, CIN_NEED), False)
        if kind == "ongoing":
            self._ongoing(episode)
            return episode
        # An assessment from the referral; most are authorised within 45 working days, some later.
        started = min(_working(referral, rng.choice([0, 0, 1, 2])), year.end)
        within = rng.random() < 0.84
        length = rng.randint(8, 45) if within else rng.randint(46, 80)
        authorised: date | None = _working(referral, length)
        if authorised is not None and authorised > year.end:
            authorised = None
            if started < _working(year.end, -44):
                # An assessment still open on 31 March started within the last 45 working days (query 8670Q).
                authorised = year.end
        factors = tuple(sorted(rng.sample(FACTORS, rng.randint(1, 4))))
        episode.assessments.append((started, authorised, factors if authorised else ()))
        if authorised is None:
            return episode
        path = rng.choices(["close", "plan", "s47"], weights=[45, 35, 20])[0]
        if closes or path == "close":
            if authorised < year.end:
                episode.closure = authorised
                episode.reason = "RC8" if rng.random() < 0.6 else "RC9"
            return episode
        if path == "plan":
            plan_start = min(authorised + timedelta(days=rng.randint(0, 10)), year.end)
            self._plan_then_close(episode, plan_start)
            return episode
        # A section 47 enquiry from the referral; most lead to an initial conference within 15 working days.
        s47_start = referral if referral <= started else started
        conference = _weekday(_working(s47_start, rng.randint(8, 15)))
        target = _working(s47_start, 15)
        if rng.random() < 0.3 or conference > year.end:
            # No conference needed: the enquiry ends, and the assessment leads to a plan or closure.
            if conference > year.end:
                if s47_start < _working(year.end, -14):
                    episode.s47.append((s47_start, target, None, True))
                    self._plan_then_close(episode, authorised)
                else:
                    episode.s47.append((s47_start, target, None, False))
                return episode
            episode.s47.append((s47_start, target, None, True))
            self._plan_then_close(episode, authorised)
            return episode
        episode.s47.append((s47_start, target, conference, False))
        self._cpp(episode, conference, previous=rng.choices([0, 1, 2], weights=[78, 17, 5])[0])
        return episode

    def _plan_then_close(self, episode: CinEpisode, start: date) -> None:
        rng, year = self.rng, self.year
        if start > year.end:
            return
        end: date | None = start + timedelta(days=rng.randint(60, 400))
        if end is not None and end >= year.end:
            end = None
        episode.plans.append((start, end))
        if end is not None:
            episode.closure, episode.reason = end, rng.choices(["RC7", "RC3", "RC4"], weights=[90, 6, 4])[0]

    def _cpp(self, episode: CinEpisode, start: date, previous: int) -> None:
        rng, year = self.rng, self.year
        length = rng.choices([(90, 270), (271, 540), (541, 900)], weights=[55, 35, 10])[0]
        end: date | None = start + timedelta(days=rng.randint(*length))
        if end is not None and end > year.end:
            end = None
        # Reviews: the first within 3 months of the conference, then at most 6 months apart.
        reviews = []
        review = start + timedelta(days=rng.randint(60, 90))
        while review <= (end or year.end) and review <= year.end:
            if end is None or review < end:
                reviews.append(review)
            review += timedelta(days=rng.randint(150, 182))
        category = weighted(rng, ABUSE)
        latest = category if rng.random() < 0.9 else weighted(rng, ABUSE)
        episode.cpps.append((start, end, category, latest, previous, reviews))
        if end is None:
            return
        if rng.random() < 0.6:
            # Stepped down to a child in need plan the day the protection plan ends.
            self._plan_then_close(episode, end)
        else:
            episode.closure, episode.reason = end, "RC7"

    def _ongoing(self, episode: CinEpisode) -> None:
        """An episode referred before the year: only its plans open during the year are in the census."""
        rng, year = self.rng, self.year
        start = _weekday(_working(episode.referral, rng.randint(20, 40)))
        # A plan that began in the year would need its conference and enquiry in the census too.
        if rng.random() < 0.35 and start < year.start:
            self._cpp(episode, start, previous=rng.choices([0, 1, 2], weights=[78, 17, 5])[0])
            if episode.cpps[-1][1] is not None and episode.cpps[-1][1] < year.start:
                episode.cpps.clear()
                episode.plans.clear()
                episode.closure = episode.reason = None
                self._long_plan(episode)
        else:
            self._long_plan(episode)

    def _long_plan(self, episode: CinEpisode) -> None:
        rng, year = self.rng, self.year
        start = episode.referral + timedelta(days=rng.randint(30, 50))
        end: date | None = max(year.start + timedelta(days=rng.randint(5, 300)), start + timedelta(days=30))
        if rng.random() < 0.5 or (end is not None and end >= year.end):
            end = None
        episode.plans.append((start, end))
        if end is not None:
            episode.closure, episode.reason = end, "RC7"

    def _element(self, number: int, dob: date, episodes: list[CinEpisode]) -> ET.Element:
        rng, year = self.rng, self.year
        child = ET.Element("Child")
        ids = ET.SubElement(child, "ChildIdentifiers")
        ET.SubElement(ids, "LAchildID").text = f"SYN{number:07d}"
        if age_on(dob, year.end) >= 5:
            ET.SubElement(ids, "UPN").text = upn(self.lea, rng.randint(0, 10**9 - 1))
        else:
            ET.SubElement(ids, "UPNunknown").text = "UN1"
        ET.SubElement(ids, "PersonBirthDate").text = dob.isoformat()
        ET.SubElement(ids, "Sex").text = "M" if rng.random() < 0.52 else "F"
        chars = ET.SubElement(child, "ChildCharacteristics")
        ET.SubElement(chars, "Ethnicity").text = weighted(rng, ETHNICITY)
        disabilities = ET.SubElement(chars, "Disabilities")
        if rng.random() < 0.12:
            for _ in range(1 if rng.random() < 0.7 else 2):
                ET.SubElement(disabilities, "Disability").text = DISABILITIES[self.disabled % len(DISABILITIES)]
                self.disabled += 1
        else:
            ET.SubElement(disabilities, "Disability").text = "NONE"
        for episode in episodes:
            child.append(_details(episode))
        return child


def referrals_in_year(child: ET.Element, year: CollectionYear) -> int:
    """How many of a ``Child``'s episodes were referred in the collection year (DfE's referrals, table C1)."""
    days = (d.findtext("CINreferralDate") or "" for d in child.findall("CINdetails"))
    return sum(bool(text) and year.start <= date.fromisoformat(text) <= year.end for text in days)


def _steered(maker: _CouncilCin, listing: ET.Element, in_need: int, referrals: int | None) -> None:
    """Children drawn until ``in_need`` are in need on 31 March and, given ``referrals``, that many referrals were made
    in the year: while both fall short the kinds are drawn; then only children referred before the year (no referral
    in it) are added for the in need left, or referrals closed with no further action (none in need on 31 March) for
    the referrals left; one referral short, a new referral alone (a child referred again holds two)."""
    number = held = referred = 0
    wanted = referrals if referrals is not None else 0
    while held < in_need or referred < wanted:
        number += 1
        left = wanted - referred
        kind: str | None = None
        if referrals is not None and left <= 0:
            kind = "ongoing"
        elif referrals is not None and held >= in_need:
            kind = "nfa"
        elif referrals is not None and left == 1:
            kind = "new"
        made = maker.child(number, kind)
        held += in_need_at_31_march(made)
        referred += referrals_in_year(made, maker.year)
        listing.append(made)


def in_need_at_31_march(child: ET.Element) -> bool:
    """Whether a ``Child`` of a census is in need on 31 March: its last episode has no closure date (the census
    holds none after it)."""
    episodes = child.findall("CINdetails")
    return bool(episodes) and episodes[-1].find("CINclosureDate") is None


def _details(episode: CinEpisode) -> ET.Element:
    details = ET.Element("CINdetails")

    def leaf(parent: ET.Element, name: str, value: object) -> None:
        if value is not None:
            ET.SubElement(parent, name).text = value.isoformat() if isinstance(value, date) else str(value)

    leaf(details, "CINreferralDate", episode.referral)
    leaf(details, "ReferralSource", episode.source)
    leaf(details, "PrimaryNeedCode", episode.need)
    leaf(details, "CINclosureDate", episode.closure)
    leaf(details, "ReasonForClosure", episode.reason)
    for started, authorised, factors in episode.assessments:
        block = ET.SubElement(details, "Assessments")
        leaf(block, "AssessmentActualStartDate", started)
        leaf(block, "AssessmentAuthorisationDate", authorised)
        if factors:
            found = ET.SubElement(block, "FactorsIdentifiedAtAssessment")
            for factor in factors:
                leaf(found, "AssessmentFactors", factor)
    for start, end in episode.plans:
        block = ET.SubElement(details, "CINPlanDates")
        leaf(block, "CINPlanStartDate", start)
        leaf(block, "CINPlanEndDate", end)
    for start, target, conference, not_required in episode.s47:
        block = ET.SubElement(details, "Section47")
        leaf(block, "S47ActualStartDate", start)
        leaf(block, "InitialCPCtarget", target)
        leaf(block, "DateOfInitialCPC", conference)
        leaf(block, "ICPCnotRequired", "true" if not_required else "false")
    leaf(details, "ReferralNFA", "true" if episode.nfa else "false")
    for start, end, initial, latest, previous, reviews in episode.cpps:
        block = ET.SubElement(details, "ChildProtectionPlans")
        leaf(block, "CPPstartDate", start)
        leaf(block, "CPPendDate", end)
        leaf(block, "InitialCategoryOfAbuse", initial)
        leaf(block, "LatestCategoryOfAbuse", latest)
        leaf(block, "NumberOfPreviousCPP", previous)
        if reviews:
            held = ET.SubElement(block, "Reviews")
            for review in reviews:
                leaf(held, "CPPreviewDate", review)
    return details


def synthetic_cin(
    seed: int,
    children: int,
    year: str,
    out: Path,
    *,
    la: str = SYNTHETIC_LA,
    at_31_march: int | None = None,
    referrals: int | None = None,
) -> Path:
    """Write an ILLUSTRATIVE CIN census XML of ``children`` made-up children of council ``la``; with ``at_31_march``,
    of as many as it takes for that many to be in need on 31 March (``children`` unread), and with ``referrals`` too,
    for that many referrals in the year. Return its path."""
    if children < 1 or (at_31_march is not None and at_31_march < 1):
        raise InvalidInput("a synthetic census needs at least one child")
    if referrals is not None and (at_31_march is None or referrals < 0):
        raise InvalidInput("steer a synthetic census's referrals beside its children in need on 31 March, from 0")
    collection = collection_year(year)
    lea = council(la).lea
    maker = _CouncilCin(seed, collection, lea)
    message = ET.Element("Message")
    header = ET.SubElement(message, "Header")
    details = ET.SubElement(header, "CollectionDetails")
    ET.SubElement(details, "Collection").text = "CIN"
    ET.SubElement(details, "Year").text = str(collection.ending)
    ET.SubElement(details, "ReferenceDate").text = collection.end.isoformat()
    source = ET.SubElement(header, "Source")
    for name, value in (
        ("SourceLevel", "L"),
        ("LEA", lea),
        ("SoftwareCode", "onereturn synthetic (illustrative)"),
        ("Release", "1"),
        ("SerialNo", "001"),
        ("DateTime", f"{collection.end.isoformat()}T00:00:00"),
    ):
        ET.SubElement(source, name).text = value
    listing = ET.SubElement(message, "Children")
    if at_31_march is None:
        for number in range(1, children + 1):
            listing.append(maker.child(number))
    else:
        _steered(maker, listing, at_31_march, referrals)
    ET.indent(message)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"cin_census_{collection.ending}.xml"
    path.write_bytes(ET.tostring(message, encoding="utf-8", xml_declaration=True) + b"\n")
    return path
