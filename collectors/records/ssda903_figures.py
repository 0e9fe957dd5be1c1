"""Every catalogue figure the SSDA903 can answer, worked out from one council's child-level tables.

:func:`derive_ssda903` takes the tables of one collection year and returns each figure keyed by
the catalogue's indicator id, with the rows behind it (child, table, row and, for episodes, the
episode's start date), and names each figure it leaves to the template with the reason. The rule
each figure follows and its published source are in ``docs/records.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from collectors.records.ssda903_care import (
    ADOPTION_PLACEMENTS,
    AUTHORITY_TO_PLACE,
    FOSTER_PLACEMENTS,
    REC_ADOPTED,
    REC_CONTINUES,
    RNE_STARTED,
    age_on,
    open_during,
    open_on,
    with_periods,
    without_respite,
)
from collectors.records.ssda903_stability import long_term_stability
from collectors.records.ssda903_tables import CollectionYear, prepare

#: Care leavers left out of every care-leaver figure: died since leaving care (DIED) or returned
#: home to parents for a continuous period of at least 6 months (RHOM).
OC3_EXCLUDED = ("DIED", "RHOM")
#: Activity codes of young people in education, employment or training, full (F) or part time (P):
#: higher education (1), other education (2), training or employment (3, 5), apprenticeship (4).
ACTIV_EET = ("F1", "P1", "F2", "P2", "F3", "P3", "F4", "P4", "F5", "P5")
#: Activity codes of young people in higher education.
ACTIV_HIGHER_EDUCATION = ("F1", "P1")
#: More than this many miles from home is "over 20 miles".
DISTANCE_MILES = 20.0

#: Figures the 903 cannot answer by a published method, with the reason; the template keeps them.
LEFT_TO_TEMPLATE: dict[str, str] = {
    "cyp.lac_3plus_placements_n": (
        "DfE's rule for which episodes count as a placement (temporary placements T0-T4; a change of "
        "placement with the same carers, RNE T or U) was not found in a published source, so it is not guessed"
    ),
    "cyp.lac_3plus_placements": "its numerator cyp.lac_3plus_placements_n stays keyed (no published placement-counting rule found)",
    "cyp.lac_2_years_on_31mar": (
        "the two-year cohort needs the previous year's episodes, which a year's file does not hold, "
        "and the placement-counting rule, which was not found"
    ),
    "cyp.lac_3plus_placements_2yr_n": "needs two years of episodes and the placement-counting rule (not found)",
    "cyp.lac_3plus_placements_2yr": "needs two years of episodes and the placement-counting rule (not found)",
    "cyp.adoption_entry_to_move_in_days": (
        "the adoption scorecard's method for A1 (which period of care is 'entering care'; the foster-carer "
        "adjustment now A10) was not found beyond the measure's title"
    ),
    "cyp.ni61_adoption_placement_12_months": "legacy National Indicator (2008-2011): its handbook definition was not consulted",
    "cyp.ni147_care_leavers_19_suitable_accom": "legacy National Indicator (2008-2011): its handbook definition was not consulted",
    "cyp.ni148_care_leavers_19_eet": "legacy National Indicator (2008-2011): its handbook definition was not consulted",
    "cyp.fostering_children_placed": (
        "Ofsted counts children placed with the council's own foster carers whichever authority looks after "
        "them; the 903 holds the council's own children wherever placed (the mapping's different_method)"
    ),
}


@dataclass(frozen=True)
class Figure:
    """One derived figure: the value, its numerator and denominator when it has them, and its records.

    ``records`` has a row per record behind the figure: ``child``, ``table``, ``row`` (0-based, in the
    table as given), ``episode_start`` (the episode's DECOM; null outside Episodes) and ``counted``
    (the child is in the numerator, or in the count).
    """

    indicator: str
    value: float
    numerator: float | None
    denominator: float | None
    records: pl.DataFrame


@dataclass
class Derivation:
    """The figures derived for one council and year, and those left to the template with the reason."""

    year: CollectionYear
    figures: dict[str, Figure] = field(default_factory=dict)
    left_to_template: dict[str, str] = field(default_factory=dict)

    def count(self, indicator: str, rows: pl.DataFrame, table: str) -> int:
        """Store the number of different children in ``rows`` as ``indicator``; return it."""
        n = rows["CHILD"].n_unique()
        self.figures[indicator] = Figure(indicator, float(n), None, None, records(rows, table, True))
        return n

    def ratio(
        self, indicator: str, numerator: float, denominator: float, multiplier: float, behind: pl.DataFrame
    ) -> None:
        """Store ``multiplier * numerator / denominator``, or leave it to the template when the denominator is 0."""
        if denominator == 0:
            self.left_to_template[indicator] = "no children in its denominator: the figure is undefined"
            return
        self.figures[indicator] = Figure(
            indicator, multiplier * numerator / denominator, numerator, denominator, behind
        )

    def leave(self, indicator: str, reason: str) -> None:
        """Leave ``indicator`` to the template with the reason."""
        self.left_to_template[indicator] = reason


def records(rows: pl.DataFrame, table: str, counted: bool | pl.Expr) -> pl.DataFrame:
    """The lineage rows for ``rows`` of ``table``."""
    start = pl.col("DECOM") if table == "Episodes" else pl.lit(None, dtype=pl.Date)
    flag = counted if isinstance(counted, pl.Expr) else pl.lit(counted)
    return rows.select(
        pl.col("CHILD").alias("child"),
        pl.lit(table).alias("table"),
        pl.col("_row").cast(pl.Int64).alias("row"),
        start.alias("episode_start"),
        flag.cast(pl.Boolean).alias("counted"),
    )


def _among(children: pl.Series) -> pl.Expr:
    """True for the rows whose CHILD is one of ``children``."""
    return pl.col("CHILD").is_in(children.implode())


def _flagged(cohort: pl.DataFrame, hit: str, extra: pl.DataFrame | None = None, table: str = "") -> pl.DataFrame:
    parts = [records(cohort, "Episodes", pl.col(hit))]
    if extra is not None:
        parts.append(records(extra, table, True))
    return pl.concat(parts)


def _percentage(
    out: Derivation,
    ids: tuple[str, str],
    cohort: pl.DataFrame,
    hit: str,
    extra: pl.DataFrame | None = None,
    table: str = "",
) -> None:
    """Store the count of ``hit`` children in ``cohort`` (one row per child) as ``ids[0]`` and their percentage as ``ids[1]``."""
    behind = _flagged(cohort, hit, extra, table)
    n = int(cohort[hit].sum())
    out.figures[ids[0]] = Figure(ids[0], float(n), None, None, behind)
    out.ratio(ids[1], float(n), float(cohort.height), 100.0, behind)


def _latest_per_child(episodes: pl.DataFrame) -> pl.DataFrame:
    # A valid file has one open episode per child at a date; keep the latest if it has more.
    return episodes.sort("DECOM", "_row").unique("CHILD", keep="last", maintain_order=True).sort("CHILD")


def _episode_counts(out: Derivation, care: pl.DataFrame, snapshot: pl.DataFrame, population_0_17: float | None) -> None:
    year = out.year
    lac = out.count("cyp.lac_count", snapshot, "Episodes")
    out.count("cyp.lac_in_foster_placement", snapshot.filter(pl.col("PLACE").is_in(FOSTER_PLACEMENTS)), "Episodes")
    out.count("cyp.lac_during_year", open_during(care, year.start, year.end), "Episodes")
    in_year = pl.col("DECOM").is_between(year.start, year.end)
    started = out.count("cyp.lac_started", care.filter(in_year & (pl.col("RNE") == RNE_STARTED)), "Episodes")
    ceasing = care.filter(
        pl.col("DEC").is_between(year.start, year.end) & pl.col("REC").is_not_null() & (pl.col("REC") != REC_CONTINUES)
    )
    # Only the last occasion on which a child ceased in the year is counted.
    ceased = out.count("cyp.lac_ceased", ceasing.sort("DEC", "_row").unique("CHILD", keep="last"), "Episodes")
    for rate, base, n in (
        ("cyp.lac_rate_per_10k", "cyp.lac_count", lac),
        ("cyp.lac_started_rate_per_10k", "cyp.lac_started", started),
        ("cyp.lac_ceased_rate_per_10k", "cyp.lac_ceased", ceased),
    ):
        if population_0_17 is None:
            out.leave(rate, "needs the ONS population aged 0-17 (pop.resident_0_17), which the 903 does not hold")
        else:
            out.ratio(rate, float(n), population_0_17, 10_000.0, out.figures[base].records)


def _dates_of_birth(tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    for name in ("Header", "OC2"):
        if name in tables:
            return tables[name].filter(pl.col("DOB").is_not_null()).unique("CHILD", keep="first").select("CHILD", "DOB")
    return pl.DataFrame(schema={"CHILD": pl.String, "DOB": pl.Date})


_OC2_ITEMS = (
    ("HEALTH_ASSESSMENT", "cyp.lac_health_assessment_n", "cyp.lac_health_assessment"),
    ("IMMUNISATIONS", "cyp.lac_immunisations_n", "cyp.lac_immunisations"),
    ("TEETH_CHECK", "cyp.lac_teeth_checked_n", "cyp.lac_teeth_checked"),
    ("SUBSTANCE_MISUSE", "cyp.lac_substance_misuse_n", "cyp.lac_substance_misuse"),
)


def _oc2_figures(out: Derivation, snapshot: pl.DataFrame, oc2: pl.DataFrame | None, dobs: pl.DataFrame) -> None:
    year = out.year
    # Looked after continuously for at least 12 months at 31 March: the period of care open on
    # 31 March began on or before 1 April of the year before.
    cohort = snapshot.filter(pl.col("period_start") <= year.start)
    out.count("cyp.lac_12_months", cohort, "Episodes")
    if oc2 is None:
        for _, n_id, pct_id in _OC2_ITEMS:
            out.leave(n_id, "the OC2 table was not supplied")
            out.leave(pct_id, "the OC2 table was not supplied")
        return
    answers = oc2.unique("CHILD", keep="first").rename({"_row": "_oc2_row", "DOB": "_oc2_dob"})
    joined = cohort.join(answers, on="CHILD", how="left").join(dobs, on="CHILD", how="left")
    joined = joined.with_columns(age_on(pl.coalesce("DOB", "_oc2_dob"), year.end).alias("_age"))
    for column, n_id, pct_id in _OC2_ITEMS:
        flagged = joined.with_columns((pl.col(column) == "1").fill_null(False).alias("_hit"))
        oc2_rows = flagged.filter("_hit").select("CHILD", pl.col("_oc2_row").alias("_row"))
        _percentage(out, (n_id, pct_id), flagged, "_hit", oc2_rows, "OC2")
    under5 = joined.filter(pl.col("_age") < 5).with_columns(
        (pl.col("HEALTH_CHECK") == "1").fill_null(False).alias("_hit")
    )
    out.count("cyp.lac_12_months_under_5", under5, "Episodes")
    rows = under5.filter("_hit").select("CHILD", pl.col("_oc2_row").alias("_row"))
    _percentage(out, ("cyp.lac_under5_development_n", "cyp.lac_under5_development"), under5, "_hit", rows, "OC2")
    older = joined.filter(pl.col("_age") >= 10).with_columns(
        (pl.col("CONVICTED") == "1").fill_null(False).alias("_hit")
    )
    out.count("cyp.lac_12_months_aged_10_plus", older, "Episodes")
    rows = older.filter("_hit").select("CHILD", pl.col("_oc2_row").alias("_row"))
    _percentage(out, ("cyp.lac_convicted_n", "cyp.lac_convicted"), older, "_hit", rows, "OC2")
    scored = joined.with_columns(pl.col("SDQ_SCORE").cast(pl.Int64, strict=False).alias("_sdq")).filter(
        pl.col("_sdq").is_not_null()
    )
    behind = records(scored.select("CHILD", pl.col("_oc2_row").alias("_row")), "OC2", True)
    out.ratio("cyp.lac_sdq_mean", float(scored["_sdq"].sum()), float(scored.height), 1.0, behind)


def _long_term_figures(out: Derivation, care: pl.DataFrame, snapshot: pl.DataFrame, dobs: pl.DataFrame) -> None:
    ids = ("cyp.lac_under16_2_5_years", "cyp.lac_long_term_placement_n", "cyp.lac_long_term_placement")
    found = long_term_stability(care, snapshot, dobs, out.year)
    if found.undetermined:
        for indicator in ids:
            out.leave(
                indicator,
                f"for {found.undetermined} children looked after on 31 March the period of care, the carers or the "
                "date of birth began before the episodes in the file (a year's file holds only those open in the year)",
            )
        return
    out.count(ids[0], found.cohort, "Episodes")
    _percentage(out, (ids[1], ids[2]), found.cohort, "_hit")


def _missing_figures(out: Derivation, care: pl.DataFrame, missing: pl.DataFrame | None) -> None:
    year = out.year
    during = _latest_per_child(open_during(care, year.start, year.end))
    if missing is None:
        out.leave("cyp.lac_missing_n", "the Missing table was not supplied")
        out.leave("cyp.lac_missing", "the Missing table was not supplied")
        return
    incidents = missing.filter(
        (pl.col("MISSING") == "M") & pl.col("MIS_START").is_between(year.start, year.end) & _among(during["CHILD"])
    )
    flagged = during.with_columns(_among(incidents["CHILD"]).alias("_hit"))
    _percentage(out, ("cyp.lac_missing_n", "cyp.lac_missing"), flagged, "_hit", incidents, "Missing")


_CARE_LEAVER_MEASURES = (("_touch", "in_touch"), ("_eet", "eet"), ("_suitable", "suitable_accom"), ("_he", "he"))
#: Every care-leaver figure derived from OC3.
CARE_LEAVER_IDS = tuple(
    f"cyp.care_leavers_{group}{suffix}"
    for group in ("17_18", "19_21")
    for suffix in (
        "",
        "_accom_total",
        *(
            f"_{name}{end}"
            for _, name in _CARE_LEAVER_MEASURES
            if name != "he" or group == "19_21"
            for end in ("_n", "")
        ),
    )
)


def _care_leaver_figures(out: Derivation, oc3: pl.DataFrame | None) -> None:
    groups = {"17_18": (17, 18), "19_21": (19, 21)}
    if oc3 is None:
        for indicator in CARE_LEAVER_IDS:
            out.leave(indicator, "the OC3 table was not supplied")
        return
    # Age reached at the birthday in the year, around which the information is collected.
    aged = oc3.with_columns(age_on(pl.col("DOB"), out.year.end).alias("_age")).filter(
        ~pl.col("IN_TOUCH").is_in(OC3_EXCLUDED) | pl.col("IN_TOUCH").is_null()
    )
    for group, (low, high) in groups.items():
        leavers = aged.filter(pl.col("_age").is_between(low, high)).with_columns(
            (pl.col("IN_TOUCH") == "YES").fill_null(False).alias("_touch"),
            pl.col("ACTIV").is_in(ACTIV_EET).fill_null(False).alias("_eet"),
            pl.col("ACTIV").is_in(ACTIV_HIGHER_EDUCATION).fill_null(False).alias("_he"),
            # The accommodation code's second character: 1 suitable, 2 unsuitable.
            pl.col("ACCOM").str.ends_with("1").fill_null(False).alias("_suitable"),
        )
        total = out.count(f"cyp.care_leavers_{group}", leavers, "OC3")
        out.count(f"cyp.care_leavers_{group}_accom_total", leavers, "OC3")
        for hit, name in _CARE_LEAVER_MEASURES:
            if name == "he" and group != "19_21":
                continue
            n = int(leavers[hit].sum())
            behind = records(leavers, "OC3", pl.col(hit))
            n_id, pct_id = f"cyp.care_leavers_{group}_{name}_n", f"cyp.care_leavers_{group}_{name}"
            out.figures[n_id] = Figure(n_id, float(n), None, None, behind)
            out.ratio(pct_id, float(n), float(total), 100.0, behind)


def _social_worker_figures(out: Derivation, snapshot: pl.DataFrame, sw: pl.DataFrame | None) -> None:
    year = out.year
    if sw is None:
        for indicator in ("cyp.lac_sw_cohort", "cyp.lac_3plus_social_workers_n", "cyp.lac_3plus_social_workers"):
            out.leave(indicator, "the SWEpisodes table was not supplied")
        return
    out.count("cyp.lac_sw_cohort", snapshot, "Episodes")
    in_year = sw.filter(
        (pl.col("SW_DECOM") <= year.end) & (pl.col("SW_DEC").is_null() | (pl.col("SW_DEC") >= year.start))
    ).filter(_among(snapshot["CHILD"]))
    # A social worker is counted once per child however often they return.
    workers = in_year.group_by("CHILD").agg(pl.col("SW_ID").n_unique().alias("_workers"))
    many = workers.filter(pl.col("_workers") >= 3)["CHILD"]
    flagged = snapshot.with_columns(_among(many).alias("_hit"))
    rows = in_year.filter(_among(many))
    _percentage(
        out, ("cyp.lac_3plus_social_workers_n", "cyp.lac_3plus_social_workers"), flagged, "_hit", rows, "SWEpisodes"
    )


def _adoption_figures(out: Derivation, care: pl.DataFrame, ad1: pl.DataFrame | None) -> None:
    year = out.year
    indicator = "cyp.adoption_authority_to_match_days"
    adopted = care.filter(pl.col("REC").is_in(REC_ADOPTED) & pl.col("DEC").is_between(year.start, year.end))
    if ad1 is None:
        out.leave(indicator, "the AD1 table was not supplied")
        return
    periods = care.join(adopted.select("CHILD", "period", pl.col("DEC").alias("_adopted_on")), on=["CHILD", "period"])
    authority = (
        periods.filter(pl.col("LS").is_in(AUTHORITY_TO_PLACE))
        .sort("DECOM", "_row")
        .group_by("CHILD", maintain_order=True)
        .agg(
            pl.col("DECOM").first().alias("_authority"),
            # The order's date is known when an earlier episode of the period is in the file, or the
            # period's start is: otherwise the order may predate the file.
            ((pl.col("DECOM").first() > pl.col("period_start").first()) | pl.col("period_complete").first()).alias(
                "_known"
            ),
        )
    )
    placed = (
        periods.filter(pl.col("PLACE").is_in(ADOPTION_PLACEMENTS) & (pl.col("DECOM") <= pl.col("_adopted_on")))
        .select("CHILD")
        .unique()
    )
    cohort = adopted.join(authority, on="CHILD").join(placed, on="CHILD").unique("CHILD", keep="last")
    unknown = cohort.filter(~pl.col("_known")).height
    if unknown:
        out.leave(
            indicator, f"the court authority's date of {unknown} adopted children lies before the episodes in the file"
        )
        return
    matched = cohort.join(
        ad1.unique("CHILD", keep="first").select("CHILD", "DATE_MATCH", pl.col("_row").alias("_ad1_row")),
        on="CHILD",
        how="left",
    )
    if matched["DATE_MATCH"].null_count():
        out.leave(indicator, f"{matched['DATE_MATCH'].null_count()} adopted children have no AD1 match date")
        return
    # Matched before court authority was received counts as zero days.
    days = matched.with_columns(
        (pl.col("DATE_MATCH") - pl.col("_authority")).dt.total_days().clip(lower_bound=0).alias("_days")
    )
    behind = pl.concat(
        [records(days, "Episodes", True), records(days.select("CHILD", pl.col("_ad1_row").alias("_row")), "AD1", True)]
    )
    out.ratio(indicator, float(days["_days"].sum()), float(days.height), 1.0, behind)


def _distance_figures(out: Derivation, snapshot: pl.DataFrame) -> None:
    ids = ("cyp.lac_placed_20_miles_n", "cyp.lac_placed_20_miles")
    if "PL_DISTANCE" not in snapshot.columns:
        for indicator in ids:
            out.leave(indicator, "the Episodes table carries no PL_DISTANCE (DfE's distance from home to placement)")
        return
    flagged = snapshot.with_columns((pl.col("PL_DISTANCE") > DISTANCE_MILES).fill_null(False).alias("_hit"))
    _percentage(out, ids, flagged, "_hit")


def derive_ssda903(
    tables: Mapping[str, pl.DataFrame], *, year_ending: int, population_0_17: float | None = None
) -> Derivation:
    """Derive every catalogue figure the SSDA903 tables of one council answer for the year ending 31 March ``year_ending``."""
    typed = prepare(tables)
    out = Derivation(CollectionYear(year_ending))
    care = with_periods(without_respite(typed["Episodes"]))
    snapshot = _latest_per_child(open_on(care, out.year.end))
    _episode_counts(out, care, snapshot, population_0_17)
    dobs = _dates_of_birth(typed)
    _oc2_figures(out, snapshot, typed.get("OC2"), dobs)
    _long_term_figures(out, care, snapshot, dobs)
    _missing_figures(out, care, typed.get("Missing"))
    _care_leaver_figures(out, typed.get("OC3"))
    _social_worker_figures(out, snapshot, typed.get("SWEpisodes"))
    _adoption_figures(out, care, typed.get("AD1"))
    _distance_figures(out, snapshot)
    for indicator, reason in LEFT_TO_TEMPLATE.items():
        out.leave(indicator, reason)
    return out
