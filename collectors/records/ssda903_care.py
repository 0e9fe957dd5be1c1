"""Episodes of care read the way DfE's published figures read them: respite left out, periods of care, ages.

The codes are DfE's SSDA903 code sets: legal status (LS), reason for new episode (RNE), placement
type (PLACE) and reason episode ceased (REC). Which rule each figure follows, and where it is
published, is in ``docs/records.md``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

#: "Accommodated under an agreed series of short-term breaks" (when individual episodes are
#: recorded, V3; when agreements are recorded, V4). DfE's figures "exclude children looked after
#: under an agreed series of short term placements".
RESPITE_LEGAL_STATUSES = ("V3", "V4")
#: "Started to be looked after".
RNE_STARTED = "S"
#: A new carer: started to be looked after (S), "Change of placement and carer(s) only" (P), "Change
#: of legal status and placement and carer(s) at the same time" (B). T and U change the placement
#: "but same carer(s)"; L changes the legal status only.
RNE_NEW_CARER = ("S", "P", "B")
#: "Episode ceases, and new episode begins on same day, for any reason": not a child ceasing.
REC_CONTINUES = "X1"
#: Foster placements: with relatives or friends (U1-U3) or other foster carers (U4-U6).
FOSTER_PLACEMENTS = ("U1", "U2", "U3", "U4", "U5", "U6")
#: Placed for adoption (with or without consent, with or without the current foster carers).
ADOPTION_PLACEMENTS = ("A3", "A4", "A5", "A6")
#: Adopted: application unopposed (E11) or consent dispensed with (E12).
REC_ADOPTED = ("E11", "E12")
#: Court authority to place for adoption: placement order (E1) or freeing order (D1) granted.
AUTHORITY_TO_PLACE = ("E1", "D1")


def without_respite(episodes: pl.DataFrame) -> pl.DataFrame:
    """The episodes that count: every one not under a respite legal status."""
    return episodes.filter(~pl.col("LS").is_in(RESPITE_LEGAL_STATUSES) | pl.col("LS").is_null())


def open_on(episodes: pl.DataFrame, day: date) -> pl.DataFrame:
    """Episodes open at the end of ``day``: begun on or before it and not ended on or before it."""
    return episodes.filter((pl.col("DECOM") <= day) & (pl.col("DEC").is_null() | (pl.col("DEC") > day)))


def open_during(episodes: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Episodes open on at least one day from ``start`` to ``end`` inclusive."""
    return episodes.filter((pl.col("DECOM") <= end) & (pl.col("DEC").is_null() | (pl.col("DEC") >= start)))


def with_periods(episodes: pl.DataFrame) -> pl.DataFrame:
    """Add ``period`` (numbered per child) and ``period_start``: episodes joined end to start make one period of care.

    A period starts at a child's first episode in the file, at an episode whose reason is "started
    to be looked after", and after a gap (the episode before ended on another day or not at all).
    ``period_complete`` says whether the period's first episode in the file is its real start (RNE
    "S"): when it is not, earlier episodes of the period were before the file.
    """
    ordered = episodes.sort("CHILD", "DECOM", "_row")
    previous_end = pl.col("DEC").shift(1).over("CHILD")
    first = pl.col("_row").cum_count().over("CHILD") == 1
    new_period = first | (pl.col("RNE") == RNE_STARTED) | previous_end.is_null() | (previous_end != pl.col("DECOM"))
    numbered = ordered.with_columns(new_period.cast(pl.Int32).cum_sum().over("CHILD").alias("period"))
    return numbered.with_columns(
        pl.col("DECOM").min().over("CHILD", "period").alias("period_start"),
        (pl.col("RNE").first().over("CHILD", "period") == RNE_STARTED).alias("period_complete"),
    )


def age_on(dob: pl.Expr, day: date) -> pl.Expr:
    """Age in whole years on ``day`` for a date of birth."""
    before_birthday = (dob.dt.month().cast(pl.Int32) * 100 + dob.dt.day().cast(pl.Int32)) > day.month * 100 + day.day
    return (pl.lit(day.year) - dob.dt.year() - before_birthday.cast(pl.Int32)).cast(pl.Int32)
