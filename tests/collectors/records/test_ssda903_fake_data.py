"""The SSDA903 figures over the CSC validator's fake tables, checked against counts written here in plain Python."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from collectors.records.ssda903_figures import Derivation, derive_ssda903
from collectors.records.ssda903_tables import read_csv_tables

FAKE = Path(__file__).resolve().parents[2] / "fixtures" / "records" / "ssda903"
START, END = date(2017, 4, 1), date(2018, 3, 31)


def rows(name: str) -> list[dict[str, str]]:
    with (FAKE / name).open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def day(text: str) -> date | None:
    return datetime.strptime(text, "%d/%m/%Y").date() if text.strip() else None


def known(text: str) -> date:
    found = day(text)
    assert found is not None
    return found


class Episode(NamedTuple):
    child: str
    row: int
    decom: date
    dec: date | None
    rne: str
    place: str
    rec: str

    def open_in_year(self) -> bool:
        return self.decom <= END and (self.dec is None or self.dec >= START)


def age(dob: date, on: date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


@pytest.fixture(scope="module")
def derived() -> Derivation:
    return derive_ssda903(read_csv_tables(FAKE), year_ending=2018)


@pytest.fixture(scope="module")
def episodes() -> list[Episode]:
    return [
        Episode(r["CHILD"], n, known(r["DECOM"]), day(r["DEC"]), r["RNE"], r["PLACE"], r["REC"])
        for n, r in enumerate(rows("episodes.csv"))
        if r["LS"] not in ("V3", "V4")
    ]


def open_at_end(episodes: list[Episode]) -> dict[str, Episode]:
    """Each child's episode open at the end of 31 March (the latest, should a child have two)."""
    chosen: dict[str, Episode] = {}
    for e in sorted(episodes, key=lambda e: (e.decom, e.row)):
        if e.decom <= END and (e.dec is None or e.dec > END):
            chosen[e.child] = e
    return chosen


def period_start(episodes: list[Episode], last: Episode) -> date:
    """Walk back from an episode through the episodes that ended the day it began."""
    own = sorted((e for e in episodes if e.child == last.child), key=lambda e: (e.decom, e.row))
    at = own.index(last)
    while at > 0 and own[at].rne != "S" and own[at - 1].dec == own[at].decom:
        at -= 1
    return own[at].decom


def test_episode_counts_match_a_plain_count(derived: Derivation, episodes: list[Episode]) -> None:
    on_31_march = open_at_end(episodes)
    during = {e.child for e in episodes if e.open_in_year()}
    started = {e.child for e in episodes if e.rne == "S" and START <= e.decom <= END}
    ceased = {e.child for e in episodes if e.dec and START <= e.dec <= END and e.rec not in ("", "X1")}
    foster = {c for c, e in on_31_march.items() if e.place in {"U1", "U2", "U3", "U4", "U5", "U6"}}
    expected = {
        "cyp.lac_count": len(on_31_march),
        "cyp.lac_during_year": len(during),
        "cyp.lac_started": len(started),
        "cyp.lac_ceased": len(ceased),
        "cyp.lac_in_foster_placement": len(foster),
    }
    assert {k: derived.figures[k].value for k in expected} == expected
    assert set(derived.figures["cyp.lac_count"].records["child"]) == set(on_31_march)
    # The figures are not trivially small on this file: each rule has children to count.
    assert min(expected.values()) > 50


def test_oc2_figures_match_a_plain_count(derived: Derivation, episodes: list[Episode]) -> None:
    cohort = {c for c, e in open_at_end(episodes).items() if period_start(episodes, e) <= START}
    answers: dict[str, dict[str, str]] = {}
    for row in rows("oc2.csv"):
        answers.setdefault(row["CHILD"], row)
    born = {row["CHILD"]: known(row["DOB"]) for row in rows("header.csv")}
    assessed = {c for c in cohort if answers.get(c, {}).get("HEALTH_ASSESSMENT") == "1"}
    under5 = {c for c in cohort if age(born[c], END) < 5}
    older = {c for c in cohort if age(born[c], END) >= 10}
    convicted = {c for c in older if answers.get(c, {}).get("CONVICTED") == "1"}
    scores = [int(answers[c]["SDQ_SCORE"]) for c in cohort if answers.get(c, {}).get("SDQ_SCORE", "").strip()]
    assert derived.figures["cyp.lac_12_months"].value == len(cohort)
    assert derived.figures["cyp.lac_health_assessment_n"].value == len(assessed)
    assert derived.figures["cyp.lac_health_assessment"].value == pytest.approx(100 * len(assessed) / len(cohort))
    assert derived.figures["cyp.lac_12_months_under_5"].value == len(under5)
    assert derived.figures["cyp.lac_convicted_n"].value == len(convicted)
    assert derived.figures["cyp.lac_sdq_mean"].value == pytest.approx(sum(scores) / len(scores))
    assert len(cohort) > 100


def test_missing_and_care_leavers_match_a_plain_count(derived: Derivation, episodes: list[Episode]) -> None:
    during = {e.child for e in episodes if e.open_in_year()}
    missing = {
        r["CHILD"]
        for r in rows("missing.csv")
        if r["MISSING"] == "M" and r["CHILD"] in during and START <= known(r["MIS_START"]) <= END
    }
    assert derived.figures["cyp.lac_missing_n"].value == len(missing) > 0
    leavers = [
        r for r in rows("oc3.csv") if r["IN_TOUCH"] not in ("DIED", "RHOM") and 17 <= age(known(r["DOB"]), END) <= 18
    ]
    eet = [r for r in leavers if r["ACTIV"][:1] in ("F", "P")]
    suitable = [r for r in leavers if r["ACCOM"].endswith("1")]
    assert derived.figures["cyp.care_leavers_17_18"].value == len(leavers) > 0
    assert derived.figures["cyp.care_leavers_17_18_eet_n"].value == len(eet)
    assert derived.figures["cyp.care_leavers_17_18_suitable_accom_n"].value == len(suitable)
    # The fake care leavers are all 17 or 18: the 19-21 percentages are undefined, not 0%.
    assert "cyp.care_leavers_19_21_eet" in derived.left_to_template


def test_social_worker_figures_over_a_table_naming_no_child_in_care(derived: Derivation) -> None:
    # The fake social worker table has one row, for a child with no episodes.
    assert derived.figures["cyp.lac_sw_cohort"].value == derived.figures["cyp.lac_count"].value
    assert derived.figures["cyp.lac_3plus_social_workers_n"].value == 0


def test_long_term_stability_stays_keyed_on_a_file_of_one_year(derived: Derivation) -> None:
    # The fake file holds only episodes open in the year: most periods of care began before it.
    assert "began before the episodes in the file" in derived.left_to_template["cyp.lac_long_term_placement"]
    assert "cyp.lac_under16_2_5_years" not in derived.figures
