"""Seeded synthetic SSDA903 returns (ILLUSTRATIVE ONLY): the eleven CSV tables of a council's made-up children looked after."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from cli.synthetic.common import (
    COUNCILS,
    ELSEWHERE,
    ETHNICITY,
    SYNTHETIC_LA,
    age_on,
    birthday,
    collection_year,
    council,
    day_between,
    elsewhere,
    weighted,
)
from collectors.records.ssda903_tables import COLUMNS, CSV_NAMES, CollectionYear
from onereturn.errors import InvalidInput

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
    if age_on(dob, on) < 5:
        return "UN1"
    return rng.choice("ABCDEFGHJKLMNPQRTUVWXYZ") + "".join(rng.choice("0123456789") for _ in range(12))


class _Council903:
    """Builds the children of one synthetic council's 903 return for one collection year."""

    def __init__(self, seed: int, year: CollectionYear, la: str) -> None:
        self.rng = random.Random(seed)
        self.year = year
        found = council(la)
        self.home = found.home
        # Its own placements: inside it, or where DfE's rules cannot place its postcodes (their 2021 lookup lacks the
        # council's code), the nearest postcodes they place; such a council places no child with parents at home
        # (rule 169) and runs no home of its own outside it (rule 1015), as docs/england.md says.
        self.inside = found.placed
        self.placeable = not found.nearest
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
        if kind == "parents" and self.placeable:
            return Placement(start, "P1", "PR0", home, "XXXXXXX")
        if kind == "parents":
            kind = "foster"
        if kind == "home":
            own = rng.random() < 0.3
            postcode = rng.choice(self.inside if own else self.inside + self.away)
            provider = "PR1" if own and self.placeable else "PR4"
            return Placement(start, "K2", provider, postcode, rng.choice(self.home_urns))
        if kind == "semi":
            return Placement(start, "H5", "PR4", rng.choice(self.inside + self.away), rng.choice(self.home_urns))
        # Foster care: with relatives or friends (U1-U3) or other carers (U4-U6); long-term (U1, U4) or not.
        relative = rng.random() < 0.2
        long_term = rng.random() < 0.35
        place = ("U1" if long_term else "U3") if relative else ("U4" if long_term else "U6")
        own = rng.random() < 0.6
        postcode = rng.choice(self.inside if rng.random() < 0.8 else self.away)
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
            ethnic=weighted(rng, ETHNICITY),
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
            period_start = day_between(rng, year.start - timedelta(days=365 * 6), year.start - timedelta(days=30))
            if kind == "adopted":
                period_start = day_between(rng, year.start - timedelta(days=700), year.start - timedelta(days=200))
        else:
            period_start = day_between(rng, year.start, year.end - timedelta(days=7))
        if kind == "adopted":
            entry_age = 0 if rng.random() < 0.6 else rng.randint(1, 4)
        else:
            low, high = rng.choices([(lo, hi) for _, lo, hi in AGE_AT_ENTRY], weights=[w for w, _, _ in AGE_AT_ENTRY])[
                0
            ]
            entry_age = rng.randint(low, high - 1)
        dob = period_start - timedelta(days=365 * entry_age + rng.randint(1, 360))
        # Nobody older than 17 at the start of the year is modelled here as still in care; care leavers are apart.
        if age_on(dob, year.start) >= 17 and kind != "entered":
            dob = birthday(year.start, -16) - timedelta(days=rng.randint(1, 300))
            if dob >= period_start:
                period_start = dob + timedelta(days=30)
        child = self._new_child(dob)
        uasc = kind == "entered" and age_on(dob, period_start) >= 14 and rng.random() < 0.25
        child.uasc = uasc
        home = None if uasc else rng.choice(self.home)
        need = "N8" if uasc else weighted(rng, NEED)
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
        age = age_on(child.dob, start)
        eighteen = birthday(child.dob, 18)
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
                end = day_between(rng, earliest, year.end - timedelta(days=1))
                reason = rng.choices(["E13", "E4A", "E41", "E48", "E8"], weights=[25, 35, 10, 15, 15])[0]
        legal = "V2" if child.uasc or age >= 16 or rng.random() < 0.2 else rng.choice(["C1", "C2", "C2"])
        if legal == "V2" and reason in ("E41", "E48"):
            reason = "E13"
        # Placement moves: most children stay put, some move once, a few two or more times.
        moves = rng.choices([0, 1, 2, 3, 4], weights=[45, 25, 15, 10, 5])[0]
        horizon = end or year.end
        first_move = max(start + timedelta(days=20), year.start)
        last_move = horizon - timedelta(days=10)
        change_days = (
            sorted({day_between(rng, first_move, last_move) for _ in range(moves)}) if last_move > first_move else []
        )
        # Placed with parents only under a care order: DfE's rule 378 refuses it under section 20 alone.
        no_parents = legal == "V2"
        placements = [self._fit(start, age_on(child.dob, start), home, no_parents)]
        for day in change_days:
            nxt = self._fit(day, age_on(child.dob, day), home, no_parents)
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
        foster = Placement(start, "U6", "PR1", elsewhere(rng, home, self.inside), rng.choice(self.own_urns))
        # Best-interests decision, placement order, match, placement with adopters, adoption order.
        decision = day_between(rng, start + timedelta(days=60), year.start - timedelta(days=60))
        order = decision + timedelta(days=rng.randint(20, 90))
        match = max(order + timedelta(days=rng.randint(30, 120)), year.start + timedelta(days=1))
        placed = match + timedelta(days=rng.randint(7, 30))
        adopted = min(placed + timedelta(days=rng.randint(70, 200)), year.end)
        adopters = Placement(placed, "A6", "PR1", elsewhere(rng, home, self.inside + self.away), "XXXXXXX")

        def episode(on: date, reason: str, legal_status: str, where: Placement) -> Episode:
            return Episode(
                on,
                reason,
                legal_status,
                need,
                where.place,
                where.provider,
                home_post=home,
                pl_post=where.postcode,
                urn=where.urn,
            )

        episodes = [
            episode(start, "S", "C2", foster),
            episode(order, "L", "E1", foster),
            episode(placed, "P", "E1", adopters),
        ]
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
        if age_on(child.dob, self.year.end) >= 16 and self.rng.random() < 0.04:
            first = min(self.year.end, day_between(self.rng, birthday(child.dob, 16), self.year.end))
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
                    if age_on(child.dob, day) < 4
                    else rng.choice(["PN1", "PN1", "PN2", "PN3", "PN4", "PN5", "PN6", "PN7"])
                )
                child.reviews.append((day, code))
            day += timedelta(days=gap)

    def _missing(self, child: Child) -> None:
        rng, year = self.rng, self.year
        if age_on(child.dob, year.end) < 11 or rng.random() > 0.22:
            return
        for episode in child.episodes:
            first = max(episode.decom + timedelta(days=1), year.start)
            last = min(episode.dec or year.end, year.end) - timedelta(days=3)
            if last <= first:
                continue
            for _ in range(rng.choices([0, 1, 2, 3], weights=[30, 40, 20, 10])[0]):
                begin = day_between(rng, first, last)
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
        end_age = age_on(child.dob, year.end)
        start_age = age_on(child.dob, year.start)
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
        dob = birthday(year.start, -age) + timedelta(days=rng.randint(0, 364))
        child = self._new_child(dob)
        child.upn = rng.choice("ABCDEFGHJKLMNPQRTUVWXYZ") + "".join(rng.choice("0123456789") for _ in range(12))
        touch = rng.choices(["YES", "NO", "REFU", "DIED", "NREQ"], weights=[88, 5, 4, 1, 2])[0]
        if touch == "YES":
            activ = rng.choices(
                ["F1", "P1", "F2", "P2", "F4", "P4", "F5", "P5", "G4", "G5", "G6"],
                weights=[7, 1, 12, 4, 2, 1, 14, 6, 10, 30, 13],
            )[0]
            # Around the 17th birthday a care leaver is not with former foster carers (Z; rule 3001).
            accom = rng.choices(
                ["B", "C", "D", "E", "G", "H", "K", "R", "S", "T", "U", "V", "W", "X", "Y", "Z"],
                weights=[6, 3, 14, 4, 2, 2, 3, 5, 2, 10, 16, 14, 3, 1, 3, 0 if age == 17 else 12],
            )[0]
            # Bed and breakfast (S) and no fixed abode (X) are never suitable: DfE has only S2 and X2.
            suitable = accom not in ("S", "X") and rng.random() < 0.88
            child.oc3 = (touch, activ, accom + ("1" if suitable else "2"))
        else:
            # Not in touch, refused, died or not required: DfE's rules want 0 for activity and accommodation.
            child.oc3 = (touch, "0", "0")
        return child


def _generate_903(
    seed: int, children: int, year: CollectionYear, la: str, at_31_march: int | None = None
) -> list[Child]:
    maker = _Council903(seed, year, la)
    rng = maker.rng
    made: list[Child] = []
    if at_31_march is None:
        leavers = max(1, children // 9) if children >= 9 else 0
        for _ in range(children - leavers):
            made.append(maker.looked_after(_kind(rng)))
    else:
        # Steered to a count: children are drawn until that many are still looked after on 31 March, and care
        # leavers added in the share the unsteered file has (one in nine of all, so one for eight looked after).
        open_now = 0
        while open_now < at_31_march:
            child = maker.looked_after(_kind(rng))
            open_now += child.episodes[-1].dec is None
            made.append(child)
        leavers = len(made) // 8
    made.extend(maker.care_leaver() for _ in range(leavers))
    return made


def _kind(rng: random.Random) -> str:
    return rng.choices(["continuing", "entered", "left", "adopted"], weights=[55, 30, 12, 3])[0]


def looked_after_at_31_march(episodes: list[list[str]]) -> int:
    """How many children of an Episodes table (rows as written, the child first, DEC eighth) are still looked after
    on 31 March: their last episode has no end date."""
    last: dict[str, str] = {}
    for row in episodes:
        last[row[0]] = row[7]
    return sum(1 for dec in last.values() if not dec)


def _d(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def _rows_903(made: list[Child]) -> dict[str, list[list[str]]]:
    rows: dict[str, list[list[str]]] = {name: [] for name in COLUMNS}
    for c in made:
        dob = _d(c.dob)
        rows["Header"].append([c.child, c.sex, dob, c.ethnic, c.upn, c.mother or "", _d(c.mc_dob)])
        for e in c.episodes:
            rows["Episodes"].append(
                [
                    c.child,
                    _d(e.decom),
                    e.rne,
                    e.ls,
                    e.cin,
                    e.place,
                    e.provider,
                    _d(e.dec),
                    e.rec or "",
                    e.reason_change or "",
                    e.home_post or "",
                    e.pl_post or "",
                    e.urn or "",
                ]
            )
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


def synthetic_903(
    seed: int, children: int, year: str, out: Path, *, la: str = SYNTHETIC_LA, at_31_march: int | None = None
) -> list[Path]:
    """Write an ILLUSTRATIVE SSDA903 return of ``children`` made-up children of council ``la`` as its CSV tables; with
    ``at_31_march``, of as many children as it takes for that many to be looked after on 31 March (``children``
    unread)."""
    if children < 1 or (at_31_march is not None and at_31_march < 1):
        raise InvalidInput("a synthetic return needs at least one child")
    collection = collection_year(year)
    council(la)
    rows = _rows_903(_generate_903(seed, children, collection, la, at_31_march))
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
