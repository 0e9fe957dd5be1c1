"""A seeded SEN2 file of made-up children (ILLUSTRATIVE ONLY): the shares of plans, requests, outcomes, settings and
needs are chosen to look like a council's file, not estimated from any statistic. Every file passes its survey's
schema and the service's rules (``collectors/sen2``); the same seed, size and survey give the same bytes.

``known`` gives the first children the UPN, birth date and sex of children of other made-up files (the demo's CIN census
and SSDA903), so the same child is in both.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from cli.synthetic.cin import upn
from cli.synthetic.common import council

_NEEDS = {"ASD": 30, "SEMH": 20, "SLCN": 20, "MLD": 8, "SPLD": 3, "SLD": 4, "PMLD": 1, "PD": 4, "HI": 2, "VI": 1,
          "MSI": 1, "OTH": 5, "DS": 1}  # fmt: skip
_SETTINGS = {"URN": 80, "UKPRN": 8, "EHE": 2, "OLA": 3, "OTH": 2, "NEET": 2, "NIEO": 2, "EYP": 1}
_ETHNICITY = {"WBRI": 70, "WOTH": 5, "MWBC": 3, "AIND": 3, "APKN": 4, "BAFR": 4, "BCRB": 2, "OOTH": 2, "REFU": 1,
              "NOBT": 1, "CHNE": 1, "ABAN": 2, "MOTH": 2}  # fmt: skip


#: The element of a request whose plan is in force at the census.
ACTIVE = "<ActivePlans>"


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _el(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def _placement(rng: random.Random, entered: date, census: date, survey: int) -> str:
    # The 2023 survey's settings have no NEET codes (its schema's list).
    kind = _pick(rng, {k: w for k, w in _SETTINGS.items() if survey >= 2024 or k not in ("NEET", "NIEO")})
    where = (
        _el("URN", rng.randint(100000, 149999))
        if kind == "URN"
        else _el("UKPRN", rng.randint(10000000, 10099999))
        if kind == "UKPRN"
        else _el("SENSetting", kind)
    )
    extra = ""
    if survey >= 2024 and rng.random() < 0.02:
        extra += _el("Res", rng.choice("AB"))
    if survey >= 2024 and kind == "UKPRN" and rng.random() < 0.2:
        extra += _el("WBP", rng.choice("SAT"))
    return f"<PlacementDetail>{where}{_el('PlacementRank', 1)}{_el('EntryDate', min(entered, census))}{extra}</PlacementDetail>"


def _active(rng: random.Random, start: date, census: date, survey: int) -> str:
    parts = [_placement(rng, start + timedelta(days=rng.randint(0, 30)), census, survey)]
    # Down Syndrome is a need of the 2025 survey on (its schema's "new for 2025").
    need = _pick(rng, {k: w for k, w in _NEEDS.items() if survey >= 2025 or k != "DS"})
    parts.append(f"<SENneed>{_el('SENtype', need)}{_el('SENtypeRank', 1)}</SENneed>")
    reviews: list[tuple[str, object]] = []
    if survey >= 2024 and start < date(survey - 1, 1, 1):
        meeting = census - timedelta(days=rng.randint(10, 360))
        decided = meeting + timedelta(days=rng.randint(5, 60))
        reviews.append(("ReviewMeeting", meeting))
        if decided < census:
            reviews.append(("LastReview", decided))
            reviews.append(("ReviewOutcome", rng.choice("AAAMM")))
    order = {"ReviewMeeting": 0, "LastReview": 1 if survey == 2025 else 3, "ReviewOutcome": 2}
    reviews.sort(key=lambda item: order[item[0]])
    return ACTIVE + "".join(parts) + "".join(_el(k, v) for k, v in reviews) + "</ActivePlans>"


def _request(rng: random.Random, born: date, census: date, survey: int) -> str:
    """One child's request (and what came of it), by a draw of its kind."""
    year = survey - 1
    draw = rng.random()
    source = _el("RequestSource", rng.randint(1, 5)) if survey >= 2025 else ""
    if draw < 0.6:  # a plan from an earlier year, in force
        start = max(born + timedelta(days=800), date(year - rng.randint(1, 8), rng.randint(1, 12), 1))
        plan = f"<NamedPlan>{_el('StartDate', min(start, date(year - 1, 12, 1)))}{_el('PB', int(rng.random() < 0.1))}</NamedPlan>"
        return (
            f"<Requests>{_el('RequestOutcome', 'H')}<Assessment>{_el('AssessmentOutcome', 'H')}{plan}</Assessment>"
            f"{_active(rng, min(start, date(year - 1, 12, 1)), census, survey)}</Requests>"
        )
    received = date(year, 1, 1) + timedelta(days=rng.randint(0, 300))
    asked = f"{_el('ReceivedDate', received)}{source}{_el('RYA', 0)}"
    if draw < 0.8:  # assessed in the year and a plan issued
        decided = received + timedelta(days=rng.randint(20, 60))
        issued = received + timedelta(days=rng.randint(100, 300))
        issued = min(issued, census - timedelta(days=1))
        assessment = (
            f"<Assessment>{_el('AssessmentOutcome', 'Y')}{_el('AssessmentOutcomeDate', issued)}"
            f"{_el('Week20', int(rng.random() < 0.05))}<NamedPlan>{_el('StartDate', issued)}</NamedPlan>"
            "</Assessment>"
        )
        return (
            f"<Requests>{asked}{_el('RequestOutcomeDate', min(decided, issued))}{_el('RequestOutcome', 'Y')}"
            f"{assessment}{_active(rng, issued, census, survey)}</Requests>"
        )
    if draw < 0.92:  # refused
        decided = received + timedelta(days=rng.randint(20, 50))
        return f"<Requests>{asked}{_el('RequestOutcomeDate', decided)}{_el('RequestOutcome', 'N')}</Requests>"
    if draw < 0.97:  # a plan ceased in the year
        start = date(year - rng.randint(2, 6), 9, 1)
        ceased = date(year, 1, 1) + timedelta(days=rng.randint(0, 330))
        plan = f"<NamedPlan>{_el('StartDate', start)}{_el('CeaseDate', ceased)}{_el('CeaseReason', rng.randint(1, 9))}</NamedPlan>"
        return f"<Requests>{_el('RequestOutcome', 'H')}<Assessment>{_el('AssessmentOutcome', 'H')}{plan}</Assessment></Requests>"
    return f"<Requests>{asked}{_el('RequestOutcome', 'A')}</Requests>"


def synthetic_sen2(
    seed: int,
    children: int,
    survey: int,
    out: Path,
    *,
    la: str = "E10000024",
    known: Sequence[tuple[str, date, str]] = (),
    plans: int | None = None,
) -> Path:
    """Write an ILLUSTRATIVE SEN2 file of ``children`` made-up children for the January ``survey``; the first of them
    are ``known`` (UPN, birth date, sex ``M`` or ``F``), each aged 3 to 24 at the census. With ``plans``, of as many
    children as it takes for that many to hold a plan in force at the census (``children`` unread). Return its path."""
    rng = random.Random(seed)
    lea = council(la).lea
    census = date(survey, 1, 16)
    dsco = _el("DSCO", "Y") if survey >= 2025 else ""
    people: list[str] = []
    in_force = 0
    number = 0
    while (number < children) if plans is None else (in_force < plans):
        number += 1
        born = census - timedelta(days=rng.randint(3 * 365, 24 * 365))
        child_upn, sex = upn(lea, 500_000_000 + number), rng.choice("MF")
        if number <= len(known):
            child_upn, born, sex = known[number - 1]
        if survey < 2024:
            sex = {"M": "1", "F": "2"}[sex]
        # Drawn in the order the file was always drawn in (ethnicity, then the request), so a seed makes the same file.
        ethnicity = _pick(rng, _ETHNICITY)
        request = _request(rng, born, census, survey)
        # A plan in force at the census is the one a child's request holds as active (DfE's caseload counts them).
        in_force += ACTIVE in request
        people.append(
            f"<Person>{_el('Surname', 'Madeup')}{_el('Forename', f'Child{number}')}{_el('PersonBirthDate', born)}"
            f"{_el('Sex' if survey >= 2024 else 'GenderCurrent', sex)}{_el('Ethnicity', ethnicity)}"
            f"{_el('UPN', child_upn)}{request}</Person>"
        )
    header = (
        f"<Header><CollectionDetails>{_el('Collection', 'SEN2')}{_el('Year', survey)}"
        f"{_el('ReferenceDate', census)}</CollectionDetails><Source>{_el('SourceLevel', 'L')}{_el('LEA', lea)}"
        f"{_el('SoftwareCode', 'onereturn synthetic (illustrative)')}{_el('Release', 1)}{_el('SerialNo', '001')}"
        f"{_el('DateTime', f'{census}T00:00:00')}{_el('DMO', 'Y')}{_el('DCO', 'Y')}{dsco}</Source></Header>"
    )
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"sen2_{survey}.xml"
    path.write_text(f"<Message>{header}<Persons>{''.join(people)}</Persons></Message>\n", encoding="utf-8")
    return path
