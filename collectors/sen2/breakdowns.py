"""The rows of DfE's EHC plan tables beyond the total, sex and age, in the labels of DfE's 2025 release.

- **Ethnicity**: SEN2's 108 codes (item 1.5) each counted under one of the release's 19 labels (the 17 minor groups,
  Chinese as "Asian - Chinese", and "Unclassified" for refused and not obtained), by ``dfe/ethnicity.csv``: derived,
  not DfE's own table (``dfe/SOURCE.md``); 102 codes are evidenced, 6 (``INFERRED``) are readings.
- **Type of placement**: each placement column of the caseload table as the row label DfE gives it in the other
  tables, and each group's total. The pairing is DfE's own: in every council of the 2025 release, each "Type of
  placement" row of ``sen_needs_all_plans.csv`` equals the same column of ``caseload.csv`` (both count the plans in
  force in January 2025; checked in ``tests/collectors/sen2/test_sen2_breakdowns.py``).
- **Years EHC plan in place**, **Years plan held**: whole years, DfE's labels ("Less than a year", "1" ... "12 or
  more"; "Under a year", "1 year" ... "12 years and over").

DfE writes a council's rows in one order in every table: by topic, then breakdown, each compared without regard to
case (153 of 153 councils in each of the twelve tables), and only the rows with a child in them.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

FOLDER = Path(__file__).with_name("dfe")
ETHNICITY = "Ethnicity"
PLACEMENT = "Type of placement"
MAINSTREAM = (
    "mainstream_la_maintained",
    "mainstream_la_maintained_resourced_provision",
    "mainstream_la_maintained_senunit",
    "mainstream_academy",
    "mainstream_academy_resourced_provision",
    "mainstream_academy_senunit",
    "mainstream_free_school",
    "mainstream_free_school_resourced_provision",
    "mainstream_free_school_senunit",
    "mainstream_independent",
)
SPECIAL = ("special_la_maintained", "special_academy_free", "special_independent", "special_non_maintained")
AP_PRU = ("ap_pru_academy", "ap_pru_free_school", "ap_pru_la_maintained")
FE = ("general_fe_tertiary_colleges", "specialist_post_16_institutions", "ukrlp_provider")
ELSEWHERE = (
    "elective_home_education",
    "other_arrangements_la",
    "other_arrangements_parents",
    "online_provider",
    "w_settings",
    "other_schools",
    "other_placement_settings",
    "neet",
    "neet_ntci",
    "neet_other",
    "neet_other_csa",
)
#: Each group's total column, the columns it sums (DfE's: the sums hold in every council row of the 2025 caseload
#: table), its percentage column and its row label.
GROUPS = {
    "mainstream_total": (MAINSTREAM, "mainstream_total_pc", "Mainstream - total"),
    "special_total": (SPECIAL, "special_total_pc", "Special - total"),
    "ap_pru_total": (AP_PRU, "AP_PRU_total_pc", "AP/PRU - total"),
    "fe_total": (FE, "fe_total_pc", "FE - total"),
    "ed_elsewhere": (ELSEWHERE, "ed_elsewhere_pc", "Educated elsewhere - total"),
}
#: Every place a placement is counted in (one column each): the groups' columns, early years, not recorded.
PLACES = (*MAINSTREAM, *SPECIAL, *AP_PRU, *FE, *ELSEWHERE, "nm_early_years", "placement_unknown")
#: Each place's "Type of placement" row, as DfE labels it.
PLACE_ROWS = {
    "mainstream_la_maintained": "Mainstream - LA maintained",
    "mainstream_la_maintained_resourced_provision": "Mainstream - LA maintained (resourced provision)",
    "mainstream_la_maintained_senunit": "Mainstream - LA maintained (SEN unit)",
    "mainstream_academy": "Mainstream - academy",
    "mainstream_academy_resourced_provision": "Mainstream - academy (resourced provision)",
    "mainstream_academy_senunit": "Mainstream - academy (SEN unit)",
    "mainstream_free_school": "Mainstream - free school",
    "mainstream_free_school_resourced_provision": "Mainstream - free school (resourced provision)",
    "mainstream_free_school_senunit": "Mainstream - free school (SEN unit)",
    "mainstream_independent": "Mainstream - independent",
    "special_la_maintained": "Special - LA maintained",
    "special_academy_free": "Special - Academy/free schools",
    "special_independent": "Special - independent",
    "special_non_maintained": "Special - non-maintained",
    "ap_pru_la_maintained": "AP/PRU - LA maintained",
    "ap_pru_academy": "AP/PRU - academy",
    "ap_pru_free_school": "AP/PRU - free school",
    "general_fe_tertiary_colleges": "FE - general FE and tertiary colleges",
    "specialist_post_16_institutions": "FE - specialist post-16 institutions",
    "ukrlp_provider": "FE - UKRLP provider",
    "elective_home_education": "Educated elsewhere - elective home education",
    "other_arrangements_la": "Educated elsewhere - other arrangements by LA",
    "other_arrangements_parents": "Educated elsewhere - other arrangements by parents",
    "other_placement_settings": "Educated elsewhere - other placement settings",
    "neet": "Educated elsewhere - NEET",
    "neet_ntci": "Educated elsewhere - not in education or training (notice to cease issued)",
    "neet_other": "Educated elsewhere - not in education or training (other)",
    "neet_other_csa": "Educated elsewhere - not in education or training (compulsory school age)",
    "online_provider": "Educated elsewhere - online provider",
    "w_settings": "Educated elsewhere - Welsh establishment",
    "other_schools": "Educated elsewhere - other schools and establishments",
    "nm_early_years": "Non-maintained early years",
    "placement_unknown": "Placement not recorded",
}
#: The tables whose special academies row DfE writes "Special - academy/free school", not "... Academy/free schools".
SINGULAR_ACADEMY = frozenset({"personal_budgets", "residential_settings", "work_based_placements"})
_GROUP_OF = {place: total for total, (places, _, _) in GROUPS.items() for place in places}

#: A breakdown's labels for one value of its column: the rows the unit is counted in (none: left out).
Labeller = Callable[[object], tuple[str, ...]]


@dataclass(frozen=True)
class Breakdown:
    """A topic of rows: its name, the units' column it reads, and the rows each value is counted in."""

    topic: str
    column: str
    labels: Labeller


@cache
def _ethnicity_rows() -> tuple[dict[str, str], dict[str, str]]:
    labels, inferred = {}, {}
    with (FOLDER / "ethnicity.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            labels[row["code"]] = row["ees_ehc_release_label"]
            if row["confidence"] == "inferred":
                inferred[row["code"]] = f"{row['code']} ({row['label_in_liia_sen2_xsd']}) as {row['dfe_minor_code']}"
    return labels, inferred


def ethnicity_labels() -> dict[str, str]:
    """Each of SEN2's 108 ethnicity codes and the release's label it is counted under."""
    return _ethnicity_rows()[0]


def inferred_codes() -> dict[str, str]:
    """The six codes whose minor group is a reading (no stored code hierarchy holds them), each said."""
    return _ethnicity_rows()[1]


def ethnicity_note() -> str:
    """What a table's notes say of its ethnicity rows."""
    readings = "; ".join(inferred_codes().values())
    return (
        "Ethnicity: SEN2's codes counted under DfE's 19 labels by a derived code table (collectors/sen2/dfe/"
        f"ethnicity.csv; REFU and NOBT as Unclassified); six are readings, in no stored code hierarchy: {readings}"
    )


def _ethnicity(value: object) -> tuple[str, ...]:
    label = ethnicity_labels().get(str(value)) if value is not None else None
    return (label,) if label else ()


def place_rows(table: str) -> Labeller:
    """The rows a place is counted in for ``table``: its own, and its group's total."""
    special = "Special - academy/free school" if table in SINGULAR_ACADEMY else PLACE_ROWS["special_academy_free"]

    def labels(value: object) -> tuple[str, ...]:
        if value is None:
            return ()
        place = str(value)
        own = special if place == "special_academy_free" else PLACE_ROWS[place]
        total = _GROUP_OF.get(place)
        return (own, GROUPS[total][2]) if total else (own,)

    return labels


def years_in_place(value: object) -> tuple[str, ...]:
    """DfE's "Years EHC plan in place" label for whole years (caseload, annual reviews, needs of all plans)."""
    if value is None:
        return ()
    years = int(str(value))
    return ("Less than a year",) if years < 1 else ("12 or more",) if years >= 12 else (str(years),)


def years_held(value: object) -> tuple[str, ...]:
    """DfE's "Years plan held" label for whole years (ceased plans)."""
    if value is None:
        return ()
    years = int(str(value))
    if years < 1:
        return ("Under a year",)
    return ("12 years and over",) if years >= 12 else ("1 year",) if years == 1 else (f"{years} years",)


ETHNICITY_ROWS = Breakdown(ETHNICITY, "ethnicity", _ethnicity)


def dfe_order(topic: str, breakdown: str) -> tuple[str, str]:
    """The key DfE's rows are sorted by: topic, then breakdown, without regard to case."""
    return topic.lower(), breakdown.lower()
