"""Annex A Lists 3 to 7 from the CIN census: referrals, assessments, section 47 enquiries, children in need and
child protection, by Ofsted's definitions ([G]: Annex A "Update: August 2019", Guidance and FAQ sheets).

Tables are those of :func:`collectors.records.cin_tables.read_cin_tables` (dates typed). Each function returns the
list's rows under the builder's field names (``mappings/annex_a/*.toml``), codes still DfE's; the builder writes
Ofsted's codes. Where Ofsted's text leaves a choice, ``Choice:`` says which reading is taken.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from collectors.annex_a.common import Window, yes_no

#: CIN census closure reasons of a case closed after assessment: RC8 "no further action", RC9 "referred to early
#: help" (CIN_schema_2024.xsd).
CLOSED_AFTER_ASSESSMENT = ("RC8", "RC9")


def _count_before_latest(events: pl.DataFrame, column: str, latest: pl.DataFrame) -> pl.DataFrame:
    """Per child, how many of ``events`` fall in the 12 months before the child's latest event (not counting it)."""
    joined = events.join(latest, on="CHILD", how="inner")
    since = pl.col("latest").dt.offset_by("-12mo")
    return (
        joined.filter((pl.col(column) < pl.col("latest")) & (pl.col(column) >= since))
        .group_by("CHILD")
        .agg(pl.len().cast(pl.Int32).alias("n"))
    )


def referrals(cin: dict[str, pl.DataFrame], window: Window) -> pl.DataFrame:
    """List 3: every referral received in the six months before the inspection, one row per referral.

    [G] "Number of Referrals in Last 12 Months": "the number of referrals the child has received within the 12
    months prior to their latest referral ... The lowest value is therefore 0"; "the number in this column will be
    the same in each case"; FAQ: count "those referrals that started within 12 months". Choice: the latest referral
    is the child's latest on or before the inspection date; a referral on the same day twelve months before it
    counts.
    """
    details = cin["CINdetails"].filter(pl.col("CINreferralDate") <= window.on)
    latest = details.group_by("CHILD").agg(pl.col("CINreferralDate").max().alias("latest"))
    counts = _count_before_latest(details, "CINreferralDate", latest)
    rows = details.filter(window.within("CINreferralDate", window.six))
    return (
        rows.join(counts, on="CHILD", how="left")
        .select(
            "CHILD",
            pl.col("CINreferralDate").alias("referral_date"),
            pl.col("ReferralSource").alias("referral_source"),
            pl.when(pl.col("ReferralNFA").is_null())
            .then(None)
            .otherwise(yes_no(pl.col("ReferralNFA")))
            .alias("referral_nfa"),
            pl.col("n").fill_null(0).alias("referrals_12m"),
        )
        .sort("CHILD", "referral_date")
    )


def assessments(cin: dict[str, pl.DataFrame], window: Window) -> pl.DataFrame:
    """List 4: statutory assessments in the six months before the inspection, open ones included; one row each.

    Choice: [G] "All statutory assessment ... in the six months before the inspection. This includes assessments
    that are currently open", and the authorisation date "will be within the last six months". An assessment is
    listed when it started on or before the inspection date and was not authorised before the six months began
    (so authorised in them, or still open at the inspection).
    [G] "Was the child assessed as requiring LA children's social care support": "Where a child has not accessed a
    service, this will usually be where an assessment was closed and the child recorded as 'RC8'"; "If the
    assessment is ongoing, please leave blank". Choice: an authorised assessment whose episode closed, by the
    inspection date, as RC8 or RC9 (closed after assessment, the census's two such reasons) is "No"; any other
    authorised one "Yes".
    """
    episodes = cin["CINdetails"].select("CHILD", "_episode", window.as_at("CINclosureDate"), "ReasonForClosure")
    rows = (
        cin["Assessments"]
        .filter(pl.col("AssessmentActualStartDate") <= window.on)
        .with_columns(window.as_at("AssessmentAuthorisationDate"))
        .filter(pl.col("AssessmentAuthorisationDate").is_null() | (pl.col("AssessmentAuthorisationDate") >= window.six))
        .join(episodes, on=["CHILD", "_episode"], how="left")
    )
    closed_no_service = pl.col("CINclosureDate").is_not_null() & pl.col("ReasonForClosure").is_in(
        CLOSED_AFTER_ASSESSMENT
    )
    return rows.select(
        "CHILD",
        pl.col("AssessmentActualStartDate").alias("assessment_start"),
        pl.col("AssessmentAuthorisationDate").alias("assessment_authorised"),
        pl.when(pl.col("AssessmentAuthorisationDate").is_null())
        .then(None)
        .otherwise(yes_no(~closed_no_service))
        .alias("assessed_needing_support"),
    ).sort("CHILD", "assessment_start")


def _icpc_dates(cin: dict[str, pl.DataFrame], window: Window) -> pl.DataFrame:
    """Every initial child protection conference of each child on or before the inspection, once per date."""
    from_s47 = cin["Section47"].select("CHILD", pl.col("DateOfInitialCPC").alias("icpc"))
    from_episode = cin["CINdetails"].select("CHILD", pl.col("DateOfInitialCPC").alias("icpc"))
    both = pl.concat([from_s47, from_episode])
    return both.filter(pl.col("icpc").is_not_null() & (pl.col("icpc") <= window.on)).unique()


def section47s(cin: dict[str, pl.DataFrame], window: Window) -> pl.DataFrame:
    """List 5: section 47 enquiries started in the six months before the inspection, one row per enquiry.

    [G] FAQ List 5: both 12-month counts are taken against the child's LATEST enquiry, count prior events only
    ("one prior S47 to the current"; "counting prior ICPCs, not whether the current S47 resulted in ICPC") and are
    the same on each of the child's rows. Choice: an ICPC is counted once per date whether the census records it on
    the Section47 block or the episode (it carries both); "Did the ICPC result in a CPP" is "Yes" when one of the
    child's plans starts on the conference's date, as the CSCDP field map reads it. Choice: open enquiries started
    before the six months are not listed: the census has no end date for an enquiry, so "open" cannot be told.
    """
    s47 = cin["Section47"].filter(pl.col("S47ActualStartDate") <= window.on)
    latest = s47.group_by("CHILD").agg(pl.col("S47ActualStartDate").max().alias("latest"))
    s47_counts = _count_before_latest(s47, "S47ActualStartDate", latest).rename({"n": "s47s_12m"})
    icpc_counts = _count_before_latest(_icpc_dates(cin, window), "icpc", latest).rename({"n": "icpcs_12m"})
    plans = cin["ChildProtectionPlans"].select("CHILD", pl.col("CPPstartDate").alias("icpc"), pl.lit(True).alias("cpp"))
    rows = (
        s47.filter(window.within("S47ActualStartDate", window.six))
        .with_columns(window.as_at("DateOfInitialCPC").alias("icpc"))
        .join(plans.unique(), on=["CHILD", "icpc"], how="left")
        .join(s47_counts, on="CHILD", how="left")
        .join(icpc_counts, on="CHILD", how="left")
    )
    return rows.select(
        "CHILD",
        pl.col("S47ActualStartDate").alias("s47_start"),
        pl.when(pl.col("ICPCnotRequired").is_null())
        .then(None)
        .otherwise(yes_no(pl.col("ICPCnotRequired")))
        .alias("icpc_not_required"),
        pl.col("icpc").alias("icpc_date"),
        pl.when(pl.col("icpc").is_null())
        .then(None)
        .otherwise(yes_no(pl.col("cpp").fill_null(False)))
        .alias("icpc_to_cpp"),
        pl.col("s47s_12m").fill_null(0),
        pl.col("icpcs_12m").fill_null(0),
    ).sort("CHILD", "s47_start")


def _open_at(frame: pl.DataFrame, start: str, end: str, window: Window) -> pl.DataFrame:
    """The children with a row of ``frame`` open on the inspection date."""
    open_rows = frame.filter((pl.col(start) <= window.on) & (pl.col(end).is_null() | (pl.col(end) > window.on)))
    return open_rows.select(pl.col("CHILD").str.strip_chars()).unique()


def children_in_need(cin: dict[str, pl.DataFrame], window: Window, looked_after: pl.DataFrame | None) -> pl.DataFrame:
    """List 6: each child in need at the inspection or in the six months before, once, by their latest episode.

    [G] "This list does not include care leavers or children who are only the subject of a referral"; FAQ: RC8
    children "aren't needed in list 6". Choice: an episode counts when it began on or before the inspection, was not
    a referral with no further action, was not closed by then as RC8 or RC9 (closed after assessment), and was open
    on the inspection date or closed in the six months before. The child's row is their latest such episode (by
    referral date). [G] Case status: "take the first of the codes below that applies (unless closed)": a closed
    episode is "e) Closed episode"; otherwise a) looked after (an SSDA903 episode open on the inspection date,
    ``looked_after``), b) a child protection plan, c) a CIN plan, d) an assessment, open on that date. Choice: an
    open episode to which none of a) to d) applies is left blank; without SSDA903 records a) cannot be told.
    """
    details = (
        cin["CINdetails"]
        .filter(pl.col("CINreferralDate") <= window.on)
        .with_columns(window.as_at("CINclosureDate"))
        .with_columns(
            pl.when(pl.col("CINclosureDate").is_null()).then(None).otherwise(pl.col("ReasonForClosure")).alias("reason")
        )
    )
    need = details.filter(
        ~pl.col("ReferralNFA").fill_null(False)
        & ~(pl.col("reason").is_in(CLOSED_AFTER_ASSESSMENT).fill_null(False))
        & (pl.col("CINclosureDate").is_null() | (pl.col("CINclosureDate") >= window.six))
    )
    latest = need.sort("CHILD", "CINreferralDate", "_episode").group_by("CHILD", maintain_order=True).last()
    status_sets = [
        ("looked_after", looked_after if looked_after is not None else pl.DataFrame(schema={"CHILD": pl.String})),
        ("cpp", _open_at(cin["ChildProtectionPlans"], "CPPstartDate", "CPPendDate", window)),
        ("cin_plan", _open_at(cin["CINPlanDates"], "CINPlanStartDate", "CINPlanEndDate", window)),
        (
            "assessment",
            _open_at(cin["Assessments"], "AssessmentActualStartDate", "AssessmentAuthorisationDate", window),
        ),
    ]
    # A chain of when/then grows by one case per status; polars types each link differently.
    status: Any = pl.when(pl.col("CINclosureDate").is_not_null()).then(pl.lit("closed"))
    rows = latest.with_columns(pl.col("CHILD").str.strip_chars())
    for name, found in status_sets:
        rows = rows.join(found.with_columns(pl.lit(True).alias(name)), on="CHILD", how="left")
        status = status.when(pl.col(name).fill_null(False)).then(pl.lit(name))
    return rows.select(
        "CHILD",
        pl.col("CINreferralDate").alias("cin_start"),
        pl.col("PrimaryNeedCode").alias("primary_need"),
        pl.col("CINclosureDate").alias("cin_closure"),
        pl.col("reason").alias("closure_reason"),
        status.otherwise(None).alias("case_status"),
    ).sort("CHILD")


def child_protection(cin: dict[str, pl.DataFrame], window: Window, protected: pl.DataFrame | None) -> pl.DataFrame:
    """List 7: each child on a plan at the inspection or whose plan ended in the six months before, once.

    [G] "Each child should have only a single entry showing their most recent child protection plan": the plan with
    the latest start date on or before the inspection. Date of latest review conference: the plan's latest review on
    or before the inspection. [G] "Subject to Emergency Protection Order or Protected Under Police Powers in Last Six
    Months": Choice: "Yes" when an SSDA903 episode under legal status L1 (police protection) or L2 (EPO) was open
    on a day of the six months (``protected``); the SSDA903 holds these only for a child the council accommodated,
    so "No" means none in the records, and without SSDA903 records the column is blank.
    """
    plans = (
        cin["ChildProtectionPlans"]
        .filter(pl.col("CPPstartDate") <= window.on)
        .with_columns(window.as_at("CPPendDate"))
        .filter(pl.col("CPPendDate").is_null() | (pl.col("CPPendDate") >= window.six))
    )
    latest = plans.sort("CHILD", "CPPstartDate", "_row").group_by("CHILD", maintain_order=True).last()
    reviews = (
        cin["Reviews"]
        .filter(pl.col("CPPreviewDate") <= window.on)
        .group_by("_plan")
        .agg(pl.col("CPPreviewDate").max().alias("cpp_latest_review"))
    )
    rows = latest.join(reviews, left_on="_row", right_on="_plan", how="left").with_columns(
        pl.col("CHILD").str.strip_chars()
    )
    if protected is not None:
        rows = rows.join(protected.with_columns(pl.lit(True).alias("protected")), on="CHILD", how="left")
        epo = yes_no(pl.col("protected").fill_null(False))
    else:
        epo = pl.lit(None, dtype=pl.String)
    return rows.select(
        "CHILD",
        pl.col("CPPstartDate").alias("cpp_start"),
        pl.col("InitialCategoryOfAbuse").alias("initial_abuse"),
        pl.col("LatestCategoryOfAbuse").alias("latest_abuse"),
        "cpp_latest_review",
        pl.col("CPPendDate").alias("cpp_end"),
        epo.alias("epo_or_police"),
        pl.col("NumberOfPreviousCPP").fill_null(0).cast(pl.Int32).alias("previous_cpps"),
    ).sort("CHILD")
