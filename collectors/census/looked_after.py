"""The county core data set's looked-after children's school figures (items 3.02 to 3.04: permanent exclusions,
suspensions, persistent absence) made early from the council's own school census and SSDA903.

DfE makes them by matching the SSDA903's children looked after continuously for 12 months at 31 March to the National
Pupil Database (the catalogue's definitions, ``indicators/catalogue/children.toml``); DfE's matching rules are not in
any stored copy (``SOURCE.md`` of the school census reference, "Not found"). A council's own census misses children
placed out of area and pupils of independent schools, so each figure here is an estimate with its coverage (the
children matched of those looked after 12 months), shown beside DfE's published figure and never stored as a figure:
no return reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from collectors.census.lists import newest_two, school_columns
from collectors.census.records import CensusRecords
from collectors.records.ssda903_care import open_on, with_periods, without_respite

#: Each figure: its catalogue indicator, its core data set item, and whether a matched child counts in it. Reading:
#: persistently absent is missing 10% or more of the possible sessions the census reports (the catalogue's words).
FIGURES = (
    ("cyp.lac_permanently_excluded", "3.02", pl.col("Permanent exclusions") > 0),
    ("cyp.lac_fixed_term_exclusion", "3.03", pl.col("Suspensions") > 0),
    ("cyp.lac_persistent_absence", "3.04", pl.col("Absence") >= 10),
)


#: What every estimate says of itself.
NOT_PUBLISHED_HERE = (
    "An early estimate from the council's own school census and SSDA903, never stored as a figure: a council's census "
    "misses children placed out of area and pupils of independent schools, and DfE's matching rules are in no stored "
    "copy; DfE's published figure stays the return's"
)


@dataclass(frozen=True)
class Estimate:
    """One figure estimated from the council's own records: the children counted of those matched, and its coverage
    (matched of those looked after 12 months at 31 March)."""

    indicator_id: str
    item: str
    period: str
    counted: int
    of: int
    value: float | None
    matched: int
    looked_after_12_months: int

    @property
    def coverage(self) -> str:
        """The coverage as the page and the answer say it."""
        return (
            f"{self.matched} of {self.looked_after_12_months} children looked after for 12 months at 31 March "
            "matched to the council's own school census"
        )


def cohort(ssda903: dict[str, pl.DataFrame], march: date) -> pl.DataFrame:
    """The UPNs (upper case) of children looked after continuously for at least 12 months at ``march`` (31 March),
    respite left out: the period of care open then began on or before 1 April of the year before (as the service's
    SSDA903 figures read it, ``collectors/records/ssda903_figures.py``)."""
    episodes = ssda903["Episodes"]
    if "_row" not in episodes.columns:
        episodes = episodes.with_row_index("_row")
    care = with_periods(without_respite(episodes))
    held = open_on(care, march).filter(pl.col("period_start") <= date(march.year - 1, 4, 1))
    upns = ssda903["Header"].select("CHILD", key=pl.col("UPN").str.to_uppercase())
    return held.select("CHILD").unique().join(upns, on="CHILD", how="left")


def school_figures(censuses: list[CensusRecords], ssda903: dict[str, pl.DataFrame], on: date) -> list[Estimate]:
    """Items 3.02 to 3.04 of the academic year holding the newest census on or before ``on``, estimated from that
    census and the one before it (each column as List 1 reads it: ``collectors.census.lists.WINDOWS``) for the
    children looked after 12 months at 31 March of that academic year. None where no census is on or before ``on``."""
    newest = newest_two(censuses, on)[0]
    school = school_columns(censuses, on)
    if school is None or not newest:
        return []
    day = newest[0].census_day
    ends = day.year + 1 if day.month >= 9 else day.year
    looked_after = cohort(ssda903, date(ends, 3, 31))
    matched = looked_after.join(school, on="key")
    out = []
    for indicator, item, counts in FIGURES:
        among = matched.filter(pl.col("Absence").is_not_null()) if item == "3.04" else matched
        counted = among.filter(counts).height
        value = round(100 * counted / among.height, 1) if among.height else None
        period = f"AY{ends - 1}-{ends % 100:02d}"
        out.append(Estimate(indicator, item, period, counted, among.height, value, matched.height, looked_after.height))
    return out
