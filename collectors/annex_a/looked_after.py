"""Annex A Lists 8 to 10 from the SSDA903: children in care, care leavers and adoption, by Ofsted's definitions
([G]: Annex A "Update: August 2019", Guidance sheet), and what Lists 6 and 7 need from it.

Tables are SSDA903 tables typed by :func:`collectors.records.ssda903_tables.prepare`. Each list function returns its
rows under the builder's field names, codes still DfE's. ``Choice:`` marks a reading where Ofsted's text leaves one.
"""

from __future__ import annotations

import polars as pl

from collectors.annex_a.common import Window, yes_no
from collectors.records.ssda903_care import (
    ADOPTION_PLACEMENTS,
    AUTHORITY_TO_PLACE,
    REC_ADOPTED,
    without_respite,
)

#: An episode that begins a placement: every reason for a new episode but L, "change of legal status only".
PLACEMENT_STARTS = ("S", "P", "B", "T", "U")
#: Legal statuses of a child protected in an emergency: L1 police protection, L2 emergency protection order.
EMERGENCY_PROTECTION = ("L1", "L2")
#: Fostering for adoption or concurrent planning: with relatives (U2) or other foster carers (U5).
FFA_PLACEMENTS = ("U2", "U5")


def care_episodes(tables: dict[str, pl.DataFrame], window: Window) -> pl.DataFrame:
    """Episodes begun by the inspection date, as known then, respite left out, each with its period of care.

    Choice: episodes under an agreed series of short-term breaks (legal status V3, V4) are left out, as DfE's own
    figures leave them out (docs/records.md) and Ofsted groups both codes as "zzCodeError" ([G] Codes_used). A
    period of care is a run of episodes each starting the day the one before ended (or a new start, RNE S)."""
    episodes = without_respite(tables["Episodes"]).filter(pl.col("DECOM") <= window.on)
    known = episodes.with_columns(
        pl.col("CHILD").str.strip_chars(),
        pl.when(pl.col("DEC") <= window.on).then(pl.col("REC")).otherwise(None).alias("REC"),
        window.as_at("DEC"),
    ).sort("CHILD", "DECOM", "_row")
    previous_end = pl.col("DEC").shift(1).over("CHILD")
    first = pl.int_range(pl.len()).over("CHILD") == 0
    new_period = first | (pl.col("RNE") == "S") | previous_end.is_null() | (previous_end != pl.col("DECOM"))
    return known.with_columns(new_period.cast(pl.Int32).cum_sum().over("CHILD").alias("period")).with_columns(
        pl.col("DECOM").min().over("CHILD", "period").alias("period_start")
    )


def looked_after_on(care: pl.DataFrame) -> pl.DataFrame:
    """The children looked after on the inspection date (an episode open then; ``care`` is as known on it)."""
    return care.filter(pl.col("DEC").is_null()).select("CHILD").unique()


def protected_in_window(care: pl.DataFrame, window: Window) -> pl.DataFrame:
    """The children under police protection or an EPO (L1, L2) on a day of the six months before the inspection."""
    hit = care.filter(
        pl.col("LS").is_in(EMERGENCY_PROTECTION) & (pl.col("DEC").is_null() | (pl.col("DEC") >= window.six))
    )
    return hit.select("CHILD").unique()


def _last_period(care: pl.DataFrame) -> pl.DataFrame:
    """Each child's episodes of their latest period of care."""
    return care.filter(pl.col("period") == pl.col("period").max().over("CHILD"))


def _legal_status_start(period: pl.DataFrame) -> pl.DataFrame:
    """When the legal status of the child's last episode began: the first episode of its unbroken run in the period."""
    runs = period.with_columns((pl.col("LS") != pl.col("LS").shift(1).over("CHILD")).fill_null(True).alias("change"))
    runs = runs.with_columns(pl.col("change").cast(pl.Int32).cum_sum().over("CHILD").alias("run"))
    last_run = runs.filter(pl.col("run") == pl.col("run").max().over("CHILD"))
    return last_run.group_by("CHILD").agg(pl.col("DECOM").min().alias("legal_status_start"))


def _placements(care: pl.DataFrame, window: Window) -> pl.DataFrame:
    """Per child: the placements held on a day of the twelve months before the inspection, and the latest's start.

    [G] "the total number of placements that the child has experienced in the 12 months prior to inspection. The
    lowest possible value will be one for the child's current placement." Choice: a placement is begun by an
    episode whose reason is not L (change of legal status only); it lasts until the next placement begins or care
    ends; temporary placements (T0-T4) count as DfE codes them. DfE publishes no placement-counting rule for the
    903 (docs/records.md), so this is the service's reading."""
    starts = care.filter(pl.col("RNE").is_in(PLACEMENT_STARTS) | (pl.int_range(pl.len()).over("CHILD", "period") == 0))
    ends = care.group_by("CHILD", "period").agg(pl.col("DEC").last().alias("period_end"))
    placed = starts.join(ends, on=["CHILD", "period"]).sort("CHILD", "DECOM", "_row")
    next_start = pl.col("DECOM").shift(-1).over("CHILD", "period")
    placed = placed.with_columns(pl.coalesce(next_start, pl.col("period_end")).alias("until"))
    held = placed.filter(pl.col("until").is_null() | (pl.col("until") >= window.twelve))
    return held.group_by("CHILD").agg(
        pl.len().cast(pl.Int32).alias("placements_12m"), pl.col("DECOM").max().alias("placement_start")
    )


def _counted(table: pl.DataFrame | None, column: str, window: Window) -> pl.DataFrame:
    """The rows of ``table`` whose ``column`` is a date on or before the inspection."""
    if table is None:
        return pl.DataFrame(schema={"CHILD": pl.String})
    return table.with_columns(pl.col("CHILD").str.strip_chars()).filter(
        pl.col(column).is_not_null() & (pl.col(column) <= window.on)
    )


def children_in_care(tables: dict[str, pl.DataFrame], care: pl.DataFrame, window: Window) -> pl.DataFrame:
    """List 8: each child in care at the inspection or who ceased in the six months before, once, by their latest period.

    [G] "Is this a second or subsequent period ... within the last 12 months": Choice: "Yes" when an earlier period of
    the child ended in the twelve months before the inspection. Missing and absent: [G] "the number of times the
    child has been missing from their placement in the current episode of care up to 12 months prior to
    inspection": Choice: SSDA903 Missing rows (M missing, A away without authorisation) starting in the twelve months
    and on or after the start of the current period of care. UASC within the last 12 months: Choice: the child is in
    the SSDA903 UASC table with no date UASC status ceased (DUC), or one in the twelve months.
    """
    last = _last_period(care)
    final = last.group_by("CHILD", maintain_order=True).last()
    wanted = final.filter(pl.col("DEC").is_null() | (pl.col("DEC") >= window.six))
    earlier_ends = (
        care.filter(pl.col("period") < pl.col("period").max().over("CHILD"))
        .group_by("CHILD", "period")
        .agg(pl.col("DEC").last().alias("ended"))
        .filter(pl.col("ended") >= window.twelve)
        .select("CHILD", pl.lit(True).alias("second"))
        .unique()
    )
    reviews = (
        _counted(tables.get("Reviews"), "REVIEW", window)
        .group_by("CHILD")
        .agg(pl.col("REVIEW").max().alias("latest_review"))
        if "Reviews" in tables
        else pl.DataFrame(schema={"CHILD": pl.String, "latest_review": pl.Date})
    )
    missing = _missing_counts(tables.get("Missing"), wanted.select("CHILD", "period_start"), window)
    uasc = _uasc(tables.get("UASC"), window)
    rows = (
        wanted.join(_legal_status_start(last), on="CHILD", how="left")
        .join(_placements(last, window), on="CHILD", how="left")
        .join(earlier_ends, on="CHILD", how="left")
        .join(reviews, on="CHILD", how="left")
        .join(missing, on="CHILD", how="left")
        .join(uasc, on="CHILD", how="left")
    )
    return rows.select(
        "CHILD",
        yes_no(pl.col("uasc_12m").fill_null(False)).alias("uasc_12m"),
        pl.col("period_start").alias("care_start"),
        pl.col("CIN").alias("category_of_need"),
        yes_no(pl.col("second").fill_null(False)).alias("second_period_12m"),
        "legal_status_start",
        pl.col("LS").alias("legal_status"),
        "latest_review",
        pl.col("placements_12m").fill_null(1),
        pl.col("DEC").alias("care_end"),
        pl.col("REC").alias("reason_ceased"),
        "placement_start",
        pl.col("PLACE").alias("placement_type"),
        pl.col("PLACE_PROVIDER").alias("placement_provider"),
        pl.col("PL_POST").alias("placement_postcode"),
        pl.col("URN").alias("placement_urn"),
        pl.col("missing_12m").fill_null(0),
        pl.col("absent_12m").fill_null(0),
    ).sort("CHILD")


def _missing_counts(missing: pl.DataFrame | None, periods: pl.DataFrame, window: Window) -> pl.DataFrame:
    if missing is None:
        return pl.DataFrame(schema={"CHILD": pl.String, "missing_12m": pl.Int32, "absent_12m": pl.Int32})
    found = (
        missing.with_columns(pl.col("CHILD").str.strip_chars())
        .join(periods, on="CHILD")
        .filter(window.within("MIS_START", window.twelve) & (pl.col("MIS_START") >= pl.col("period_start")))
    )
    return found.group_by("CHILD").agg(
        (pl.col("MISSING").str.to_uppercase() == "M").sum().cast(pl.Int32).alias("missing_12m"),
        (pl.col("MISSING").str.to_uppercase() == "A").sum().cast(pl.Int32).alias("absent_12m"),
    )


def _uasc(uasc: pl.DataFrame | None, window: Window, *, ever: bool = False) -> pl.DataFrame:
    name = "uasc_ever" if ever else "uasc_12m"
    if uasc is None:
        return pl.DataFrame(schema={"CHILD": pl.String, name: pl.Boolean})
    rows = uasc.with_columns(pl.col("CHILD").str.strip_chars())
    if not ever:
        rows = rows.filter(pl.col("DUC").is_null() | (pl.col("DUC") >= window.twelve))
    return rows.select("CHILD", pl.lit(True).alias(name)).unique()


def care_leavers(tables: dict[str, pl.DataFrame], window: Window) -> pl.DataFrame:
    """List 9: the care leavers the SSDA903 holds (its OC3 table), once each, with their latest OC3 record.

    Choice: [G] asks for everyone "receiving leaving care services at the point of inspection"; the SSDA903 holds
    only those whose 17th to 21st birthday fell in its year, as at that birthday ([CV]), so the list is those young
    people, and the front sheet says so. [G] LA In Touch "should be the most recent record available which may or
    may not be the birthday window". Type and suitability of accommodation are the two characters of OC3 ACCOM
    (the code, then 1 suitable or 2 unsuitable). UASC, or formerly UASC: in the SSDA903 UASC table at all.
    """
    if "OC3" not in tables:
        return pl.DataFrame(schema={"CHILD": pl.String})
    oc3 = tables["OC3"].with_columns(pl.col("CHILD").str.strip_chars()).group_by("CHILD", maintain_order=True).last()
    accom = pl.col("ACCOM").str.to_uppercase()
    rows = oc3.join(_uasc(tables.get("UASC"), window, ever=True), on="CHILD", how="left")
    return rows.select(
        "CHILD",
        yes_no(pl.col("uasc_ever").fill_null(False)).alias("uasc_ever"),
        pl.col("IN_TOUCH").str.to_uppercase().alias("in_touch"),
        accom.str.slice(0, 1).alias("accommodation"),
        accom.str.slice(1, 1).alias("accommodation_suitable"),
        pl.col("ACTIV").str.to_uppercase().alias("activity"),
    ).sort("CHILD")


def adoption(tables: dict[str, pl.DataFrame], care: pl.DataFrame, window: Window) -> pl.DataFrame:
    """List 10: children adopted, with a standing decision to place for adoption, or whose decision was reversed.

    [G] "All those children who, in the 12 months before the inspection, have: been adopted; had the decision that
    they should be placed for adoption but they have not yet been adopted; had an adoption decision reversed during
    the 12 months." Choice: adopted = an episode ended E11 or E12 in the twelve months; a decision (PlacedAdoption
    DATE_PLACED) made by the inspection date and neither reversed nor followed by adoption by then, whenever made
    (the decision stands in the twelve months); reversed = DATE_PLACED_CEASED in the twelve months. Dates of the
    placement order, placement for adoption and FFA placement: the first episode of the latest period of care with
    legal status E1 or D1, placement A3-A6, and placement U2 or U5 ([G] "ascertained from the date when a child's
    legal status has changed to E1 ... or D1"). Matching: AD1 DATE_MATCH (held only for children adopted in the year).
    """
    last = _last_period(care)
    adopted = (
        care.filter(pl.col("REC").is_in(REC_ADOPTED) & pl.col("DEC").is_not_null())
        .group_by("CHILD")
        .agg(pl.col("DEC").max().alias("adoption_order"))
    )
    placed = _counted(tables.get("PlacedAdoption"), "DATE_PLACED", window)
    if placed.height:
        placed = (
            placed.with_columns(window.as_at("DATE_PLACED_CEASED"))
            .sort("CHILD", "DATE_PLACED")
            .group_by("CHILD", maintain_order=True)
            .last()
            .select("CHILD", "DATE_PLACED", "DATE_PLACED_CEASED", "REASON_PLACED_CEASED")
        )
    else:
        placed = pl.DataFrame(
            schema={
                "CHILD": pl.String,
                "DATE_PLACED": pl.Date,
                "DATE_PLACED_CEASED": pl.Date,
                "REASON_PLACED_CEASED": pl.String,
            }
        )
    firsts = last.group_by("CHILD").agg(
        pl.col("period_start").first().alias("care_start"),
        pl.col("DECOM").filter(pl.col("LS").is_in(AUTHORITY_TO_PLACE)).min().alias("placement_order"),
        pl.col("DECOM").filter(pl.col("PLACE").is_in(ADOPTION_PLACEMENTS)).min().alias("placed_for_adoption"),
        pl.col("DECOM").filter(pl.col("PLACE").is_in(FFA_PLACEMENTS)).min().alias("ffa_placement"),
    )
    ad1 = (
        tables["AD1"].with_columns(pl.col("CHILD").str.strip_chars()).group_by("CHILD", maintain_order=True).last()
        if "AD1" in tables
        else pl.DataFrame(schema={"CHILD": pl.String, "DATE_INT": pl.Date, "DATE_MATCH": pl.Date})
    )
    everyone = pl.concat([adopted.select("CHILD"), placed.select("CHILD")]).unique()
    rows = (
        everyone.join(adopted, on="CHILD", how="left")
        .join(placed, on="CHILD", how="left")
        .join(firsts, on="CHILD", how="left")
        .join(ad1.select("CHILD", "DATE_INT", "DATE_MATCH"), on="CHILD", how="left")
    )
    adopted_in = window.within("adoption_order", window.twelve)
    standing = (
        pl.col("DATE_PLACED").is_not_null()
        & pl.col("DATE_PLACED_CEASED").is_null()
        & pl.col("adoption_order").is_null()
    )
    reversed_in = window.within("DATE_PLACED_CEASED", window.twelve)
    rows = rows.filter(adopted_in.fill_null(False) | standing | reversed_in.fill_null(False))
    return rows.select(
        "CHILD",
        "care_start",
        pl.coalesce("DATE_PLACED", "DATE_INT").alias("adoption_decision"),
        "placement_order",
        pl.col("DATE_MATCH").alias("adoption_match"),
        "placed_for_adoption",
        "adoption_order",
        pl.col("DATE_PLACED_CEASED").alias("adoption_reversed"),
        pl.when(pl.col("DATE_PLACED_CEASED").is_null())
        .then(None)
        .otherwise(pl.col("REASON_PLACED_CEASED"))
        .alias("adoption_reversed_reason"),
        "ffa_placement",
    ).sort("CHILD")
