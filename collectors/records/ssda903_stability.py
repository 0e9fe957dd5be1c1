"""Long-term placement stability (NI 63): children under 16 in care 2.5 years, with the same carer 2 years.

DfE's definition: children looked after on 31 March "aged under 16 looked after continuously for at
least 2.5 years and living with the same carer for at least 2 years"; NI 63 adds children "placed for
adoption and their adoptive placement together with their previous placement together last for at
least 2 years". A year's file holds only the episodes open during the year, so a child's period of
care or carer may have begun before the file shows: such a child is counted as undetermined, never
guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from collectors.records.ssda903_care import ADOPTION_PLACEMENTS, RNE_NEW_CARER, age_on
from collectors.records.ssda903_tables import CollectionYear


@dataclass(frozen=True)
class LongTermStability:
    """The cohort's 31 March episodes with ``_hit`` (same carer 2 years), and how many children the file cannot place."""

    cohort: pl.DataFrame
    undetermined: int


def _since(year: CollectionYear, months: int) -> date:
    """The first day of the ``months`` whole months that end on 31 March of the year."""
    first = year.ending * 12 + 3 - months  # March of the year is month ending*12 + 2, counting January of year 0 as 0
    return date(first // 12, first % 12 + 1, 1)


def _carer_start(chain: list[dict[str, object]]) -> tuple[date | None, bool]:
    """When the child's current carers began, and whether the file shows it (else the earliest date it shows)."""
    for at in range(len(chain) - 1, -1, -1):
        if chain[at]["RNE"] in RNE_NEW_CARER:
            start = chain[at]["DECOM"]
            assert isinstance(start, date)
            if chain[at]["PLACE"] in ADOPTION_PLACEMENTS and chain[at]["RNE"] != "S":
                # Placed for adoption with new carers: the placement before counts with it.
                earlier, shown = _carer_start(chain[:at])
                return earlier, shown
            return start, True
    if not chain:
        return None, False
    first = chain[0]["DECOM"]
    assert isinstance(first, date)
    return first, False


def long_term_stability(
    care: pl.DataFrame, snapshot: pl.DataFrame, dobs: pl.DataFrame, year: CollectionYear
) -> LongTermStability:
    """Form the long-term stability cohort from episodes with periods of care and the 31 March episodes."""
    in_care_since, carer_since = _since(year, 30), _since(year, 24)
    aged = snapshot.join(dobs, on="CHILD", how="left").with_columns(age_on(pl.col("DOB"), year.end).alias("_age"))
    undetermined = aged.filter(pl.col("_age").is_null()).height
    young = aged.filter(pl.col("_age") < 16)
    chains: dict[str, list[dict[str, object]]] = {}
    for row in (
        care.join(young.select("CHILD", "period", pl.col("DECOM").alias("_last")), on=["CHILD", "period"])
        .filter(pl.col("DECOM") <= pl.col("_last"))
        .sort("CHILD", "DECOM", "_row")
        .iter_rows(named=True)
    ):
        chains.setdefault(row["CHILD"], []).append(row)
    members: list[str] = []
    hits: list[str] = []
    for child in young["CHILD"]:
        chain = chains.get(child, [])
        first = chain[0] if chain else None
        if first is None:
            undetermined += 1
            continue
        period_start, complete = first["DECOM"], first["RNE"] == "S"
        assert isinstance(period_start, date)
        if period_start > in_care_since:
            if not complete:
                undetermined += 1
            continue
        members.append(child)
        start, shown = _carer_start(chain)
        if start is not None and start <= carer_since:
            hits.append(child)
        elif not shown:
            undetermined += 1
    cohort = young.filter(pl.col("CHILD").is_in(pl.Series(members, dtype=pl.String).implode()))
    return LongTermStability(
        cohort.with_columns(pl.col("CHILD").is_in(pl.Series(hits, dtype=pl.String).implode()).alias("_hit")),
        undetermined,
    )
