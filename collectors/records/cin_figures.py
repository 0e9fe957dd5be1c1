"""Every catalogue figure the CIN census can answer, worked out from one council's census tables.

:func:`derive_cin` takes the tables :func:`collectors.records.cin_tables.read_cin_tables` reads
from one year's census file and returns each figure keyed by the catalogue's indicator id, with
the records behind it (child, table, row and the referral date of the episode of need the record
belongs to), and names each figure it leaves to the template with the reason. The rule each
figure follows and its published source are in ``docs/records.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from collectors.records.ssda903_figures import Derivation, Figure
from collectors.records.ssda903_tables import CollectionYear
from mappings.deadlines import ENGLAND
from onereturn.errors import InvalidInput

#: "The maximum timeframe for the assessment to conclude ... should be no longer than 45 working
#: days from the point of referral" (Working Together to Safeguard Children).
ASSESSMENT_WORKING_DAYS = 45
#: "A re-referral occurs when a child is referred within 12 months of a previous referral."
REREFERRAL_WINDOW = "-12mo"
#: A plan open on 31 March counts towards "2 years or more" when it began this long before.
LONG_PLAN = "-2y"
#: Closure reasons of a referral assessed as not in need (CIN census XSD): "Case closed after
#: assessment, no further action" and "Case closed after assessment, referred to early help".
ASSESSED_NOT_IN_NEED = ("RC8", "RC9")

#: Figures the census cannot answer by a published method, with the reason; the template keeps them.
LEFT_TO_TEMPLATE: dict[str, str] = {
    "cyp.cpp_reviewed_in_timescale": (
        "DfE's counting rule (which children need a review in the year, and how a late review "
        "is counted) was not found in a published source; only the practice timescales were"
    ),
    "cyp.ni64_cpp_ceasing_2_years_plus": "legacy National Indicator (2008-2011): its handbook definition was not consulted",
    "cyp.ni59_initial_assessments_7_days": (
        "legacy National Indicator: initial assessments ended in 2013 and the census records none"
    ),
    "cyp.ni60_core_assessments_35_days": (
        "legacy National Indicator: core assessments ended in 2013 and the census records none"
    ),
    "cyp.ni68_referrals_to_initial_assessment": (
        "legacy National Indicator: initial assessments ended in 2013 and the census records none"
    ),
}


def _lineage(rows: pl.DataFrame, table: str, counted: bool | pl.Expr) -> pl.DataFrame:
    """The lineage rows for ``rows`` of ``table``: child, table, row, episode's referral date, counted."""
    flag = counted if isinstance(counted, pl.Expr) else pl.lit(counted)
    return rows.select(
        pl.col("CHILD").alias("child"),
        pl.lit(table).alias("table"),
        pl.col("_row").cast(pl.Int64).alias("row"),
        pl.col("_episode_start").alias("episode_start"),
        flag.cast(pl.Boolean).alias("counted"),
    )


def _with_episode_start(table: pl.DataFrame, details: pl.DataFrame) -> pl.DataFrame:
    starts = details.select("CHILD", "_episode", pl.col("CINreferralDate").alias("_episode_start"))
    return table.join(starts, on=["CHILD", "_episode"], how="left", maintain_order="left")


def _store(out: Derivation, indicator: str, n: int, behind: pl.DataFrame) -> None:
    out.figures[indicator] = Figure(indicator, float(n), None, None, behind)


def _rate(out: Derivation, indicator: str, base: str, n: int, behind: pl.DataFrame, population: float | None) -> None:
    if population is None:
        out.leave(indicator, f"needs the ONS population aged 0-17 (pop.resident_0_17) beside {base}")
    else:
        out.ratio(indicator, float(n), population, 10000.0, behind)


def open_on(details: pl.DataFrame, day: date) -> pl.DataFrame:
    """Episodes of need open at the end of ``day``: referred on or before it, not closed on or before it."""
    return details.filter(
        (pl.col("CINreferralDate") <= day) & (pl.col("CINclosureDate").is_null() | (pl.col("CINclosureDate") > day))
    )


def episodes_of_need(details: pl.DataFrame) -> pl.DataFrame:
    """The referrals that began an episode of need: not closed with no further action, not assessed as not in need."""
    # DfE's B1 and C1 tables: episodes started = referrals - no further action - assessed not in need.
    nfa = pl.col("ReferralNFA").fill_null(False)
    not_in_need = pl.col("ReasonForClosure").is_in(ASSESSED_NOT_IN_NEED).fill_null(False)
    return details.filter(~nfa & ~not_in_need)


def _episode_figures(out: Derivation, details: pl.DataFrame, population: float | None) -> None:
    year = out.year
    # Each episode is counted, so a child with two episodes in the year counts twice in the
    # starts and the ends; episodes must not overlap, so a child is open at most once on 31 March.
    # Episodes open at any point = open on 31 March + ended, in DfE's B1, so all three count the same episodes.
    details = episodes_of_need(details)
    at_31 = open_on(details, year.end)
    _store(out, "cyp.cin_count", at_31.height, _lineage(at_31, "CINdetails", True))
    _rate(out, "cyp.cin_rate_per_10k", "cyp.cin_count", at_31.height, _lineage(at_31, "CINdetails", True), population)
    started = details.filter(pl.col("CINreferralDate").is_between(year.start, year.end))
    _store(out, "cyp.cin_episodes_started", started.height, _lineage(started, "CINdetails", True))
    ended = details.filter(pl.col("CINclosureDate").is_between(year.start, year.end))
    _store(out, "cyp.cin_episodes_ended", ended.height, _lineage(ended, "CINdetails", True))


def _referral_figures(out: Derivation, details: pl.DataFrame, earlier: pl.DataFrame | None) -> None:
    year = out.year
    referrals = details.filter(pl.col("CINreferralDate").is_between(year.start, year.end))
    _store(out, "cyp.cin_referrals", referrals.height, _lineage(referrals, "CINdetails", True))
    nfa = referrals.with_columns(pl.col("ReferralNFA").fill_null(False).alias("_hit"))
    n_nfa = int(nfa["_hit"].sum())
    behind = _lineage(nfa, "CINdetails", pl.col("_hit"))
    _store(out, "cyp.cin_referrals_nfa_n", n_nfa, behind)
    out.ratio("cyp.cin_referrals_nfa", float(n_nfa), float(referrals.height), 100.0, behind)
    ids = ("cyp.cin_rereferrals_n", "cyp.cin_rereferrals")
    if earlier is None:
        for indicator in ids:
            out.leave(
                indicator,
                "needs the previous year's census: a referral whose episode closed before 1 April is not in this "
                "year's file, so a re-referral within 12 months of it cannot be seen",
            )
        return
    history = pl.concat(
        [details.select("CHILD", "CINreferralDate"), earlier.select("CHILD", "CINreferralDate")]
    ).unique()
    previous = referrals.select("CHILD", "_row", "CINreferralDate").join(
        history.rename({"CINreferralDate": "_previous"}), on="CHILD"
    )
    window_start = pl.col("CINreferralDate").dt.offset_by(REREFERRAL_WINDOW)
    hits = previous.filter((pl.col("_previous") < pl.col("CINreferralDate")) & (pl.col("_previous") >= window_start))
    flagged = referrals.with_columns(pl.col("_row").is_in(hits["_row"].implode()).alias("_hit"))
    n = int(flagged["_hit"].sum())
    behind = _lineage(flagged, "CINdetails", pl.col("_hit"))
    _store(out, ids[0], n, behind)
    out.ratio(ids[1], float(n), float(referrals.height), 100.0, behind)


def assessment_deadline(referral: date) -> date:
    """The last day an assessment of a referral made on ``referral`` is within 45 English working days."""
    return ENGLAND.add_working_days(referral, ASSESSMENT_WORKING_DAYS)


def _assessment_figures(out: Derivation, assessments: pl.DataFrame) -> None:
    year = out.year
    done = assessments.filter(pl.col("AssessmentAuthorisationDate").is_between(year.start, year.end))
    referral_dates = done["_episode_start"].drop_nulls().unique().to_list()
    deadlines = pl.DataFrame(
        {"_episode_start": referral_dates, "_deadline": [assessment_deadline(d) for d in referral_dates]},
        schema={"_episode_start": pl.Date, "_deadline": pl.Date},
    )
    timed = done.join(deadlines, on="_episode_start", how="left", maintain_order="left").with_columns(
        (pl.col("AssessmentAuthorisationDate") <= pl.col("_deadline")).fill_null(False).alias("_hit")
    )
    _store(out, "cyp.cin_assessments_completed", timed.height, _lineage(timed, "Assessments", True))
    n = int(timed["_hit"].sum())
    behind = _lineage(timed, "Assessments", pl.col("_hit"))
    _store(out, "cyp.cin_assessments_in_timescale_n", n, behind)
    out.ratio("cyp.cin_assessments_in_timescale", float(n), float(timed.height), 100.0, behind)


def plans_open_on(plans: pl.DataFrame, day: date) -> pl.DataFrame:
    """Child protection plans open at the end of ``day``: started on or before it, not ended on or before it."""
    return plans.filter(
        (pl.col("CPPstartDate") <= day) & (pl.col("CPPendDate").is_null() | (pl.col("CPPendDate") > day))
    )


def _per_child(rows: pl.DataFrame, hit: str) -> pl.DataFrame:
    """One flag per child: true when any of the child's rows is."""
    return rows.group_by("CHILD").agg(pl.col(hit).any())


def _plan_figures(out: Derivation, plans: pl.DataFrame, population: float | None) -> None:
    year = out.year
    started = plans.filter(pl.col("CPPstartDate").is_between(year.start, year.end))
    # A plan is a second or subsequent one when the child had a plan before it: one the census
    # counts in NumberOfPreviousCPP (0 for a first plan in DfE's 2024-25 rules) or one earlier in the file.
    earlier = plans.select("CHILD", pl.col("CPPstartDate").alias("_earlier"))
    had_earlier = (
        started.select("CHILD", "_row", "CPPstartDate")
        .join(earlier, on="CHILD")
        .filter(pl.col("_earlier") < pl.col("CPPstartDate"))["_row"]
    )
    flagged = started.with_columns(
        ((pl.col("NumberOfPreviousCPP").fill_null(0) > 0) | pl.col("_row").is_in(had_earlier.implode())).alias("_hit")
    )
    children = _per_child(flagged, "_hit")
    _store(out, "cyp.cpp_started", children.height, _lineage(flagged, "ChildProtectionPlans", True))
    n = int(children["_hit"].sum())
    behind = _lineage(flagged, "ChildProtectionPlans", pl.col("_hit"))
    _store(out, "cyp.cpp_subsequent_n", n, behind)
    out.ratio("cyp.cpp_subsequent", float(n), float(children.height), 100.0, behind)

    at_31 = plans_open_on(plans, year.end).with_columns(
        (pl.col("CPPstartDate") <= pl.lit(year.end).dt.offset_by(LONG_PLAN)).alias("_hit")
    )
    on_plan = _per_child(at_31, "_hit")
    behind = _lineage(at_31, "ChildProtectionPlans", True)
    _store(out, "cyp.cpp_count", on_plan.height, behind)
    _rate(out, "cyp.cpp_rate_per_10k", "cyp.cpp_count", on_plan.height, behind, population)
    n_long = int(on_plan["_hit"].sum())
    behind = _lineage(at_31, "ChildProtectionPlans", pl.col("_hit"))
    _store(out, "cyp.cpp_2_years_plus_n", n_long, behind)
    out.ratio("cyp.cpp_2_years_plus", float(n_long), float(on_plan.height), 100.0, behind)


def derive_cin(
    tables: Mapping[str, pl.DataFrame],
    *,
    year_ending: int,
    population_0_17: float | None = None,
    previous_year: Mapping[str, pl.DataFrame] | None = None,
) -> Derivation:
    """Derive every catalogue figure one year's CIN census tables answer for the year ending 31 March ``year_ending``.

    ``previous_year`` is the census of the year before, whose referrals the 12-month re-referral
    window can reach back into; without it the re-referral figures are left to the template.
    """
    missing = sorted({"CINdetails", "Assessments", "ChildProtectionPlans"} - set(tables))
    if missing:
        raise InvalidInput(f"the CIN census tables {', '.join(missing)} are needed")
    out = Derivation(CollectionYear(year_ending))
    details = _with_episode_start(tables["CINdetails"], tables["CINdetails"])
    _episode_figures(out, details, population_0_17)
    earlier = previous_year["CINdetails"] if previous_year is not None else None
    _referral_figures(out, details, earlier)
    _assessment_figures(out, _with_episode_start(tables["Assessments"], tables["CINdetails"]))
    _plan_figures(out, _with_episode_start(tables["ChildProtectionPlans"], tables["CINdetails"]), population_0_17)
    for indicator, reason in LEFT_TO_TEMPLATE.items():
        out.leave(indicator, reason)
    return out
