"""What each of DfE's twelve EHC plan tables counts, read from a council's SEN2 file.

[DG] is DfE's data guidance for *Education, health and care plans*, reporting year 2025
(``education-health-and-care-plans_2025/data-guidance/data-guidance.txt``, OGL v3); each rule cites the line of it
that it follows. Where the guidance leaves a choice the rule says ``Reading:`` and ``docs/send.md`` lists it. The
calendar year of a survey is the year before its January census ([DG] "The number of new EHC plans in the previous
calendar year"); "in force" is a plan with an active plans module (module 5) not ceased on or before the census date.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl

from collectors.sen2.breakdowns import (
    GROUPS,
    PLACEMENT,
    PLACES,
    Breakdown,
    ethnicity_note,
    place_rows,
    years_held,
    years_in_place,
)
from collectors.sen2.placing import Register, unknown_note, with_place
from collectors.sen2.records import Sen2Records
from collectors.sen2.tables import UNAVAILABLE, Table, age_label

_GIAS = (
    "needs the establishment's type from the register of establishments (Get Information About Schools), and none "
    "is loaded"
)
_PRE_2023 = "pre 2023 only ([DG] 'Awaiting provision (pre 2023 only)'), written x as DfE writes it"
#: The setting columns a placement's URN or UKPRN decides, which need the register of establishments.
_TYPED = (
    "mainstream_la_maintained", "mainstream_la_maintained_resourced_provision", "mainstream_la_maintained_senunit",
    "mainstream_academy", "mainstream_academy_resourced_provision", "mainstream_academy_senunit",
    "mainstream_free_school", "mainstream_free_school_resourced_provision", "mainstream_free_school_senunit",
    "mainstream_independent", "mainstream_total", "mainstream_total_pc", "special_la_maintained",
    "special_academy_free", "special_independent", "special_non_maintained", "special_total", "special_total_pc",
    "ap_pru_academy", "ap_pru_free_school", "ap_pru_la_maintained", "ap_pru_total", "AP_PRU_total_pc",
    "general_fe_tertiary_colleges", "specialist_post_16_institutions", "ukrlp_provider", "fe_total", "fe_total_pc",
    "online_provider", "w_settings", "other_schools", "ed_elsewhere", "ed_elsewhere_pc",
)  # fmt: skip
#: SEN2's primary need codes (item 5.8a) by DfE's column ([DG] sen_needs_all_plans; footnote 1: "EHC plans where the
#: primary need is Down Syndrome are included under 'other difficulty/disability'").
_NEEDS = {"asd": ("ASD",), "hi": ("HI",), "mld": ("MLD",), "msi": ("MSI",), "oth": ("OTH", "DS"), "pd": ("PD",),
          "pmld": ("PMLD",), "semh": ("SEMH",), "slcn": ("SLCN",), "sld": ("SLD",), "spld": ("SPLD",), "vi": ("VI",)}  # fmt: skip
#: The placement items read into a table's units under a prefix (``p_urn`` ...).
_PLACED = ("urn", "ukprn", "setting", "senunit", "rp")


def _day_of(day: pl.Expr) -> pl.Expr:
    # Month and day come as 8-bit integers: widened before they are combined.
    return day.dt.month().cast(pl.Int32) * 100 + day.dt.day().cast(pl.Int32)


def _years(on: pl.Expr, since: pl.Expr) -> pl.Expr:
    """Whole years from ``since`` to ``on`` (an age, or how long a plan has been held)."""
    before_anniversary = _day_of(on) < _day_of(since)
    return on.dt.year().cast(pl.Int64) - since.dt.year().cast(pl.Int64) - before_anniversary.cast(pl.Int64)


def _age(on: pl.Expr) -> pl.Expr:
    return _years(on, pl.col("born"))


def _in_year(column: str, year: int) -> pl.Expr:
    return pl.col(column).dt.year() == year


def _with_person(r: Sen2Records, frame: pl.DataFrame, on: pl.Expr) -> pl.DataFrame:
    people = r.persons.select("child", "born", "sex", "upn", "ethnicity")
    return frame.join(people, on="child", how="left").with_columns(age=_age(on))


def _days(later: str, earlier: str) -> pl.Expr:
    return (pl.col(later) - pl.col(earlier)).dt.total_days()


def open_on(placements: pl.DataFrame, on: date | pl.Expr, rank: str = "1") -> pl.DataFrame:
    """Each request's placement of ``rank`` open on the date: entered on or before it, not left by it; of two, the
    latest entered."""
    return (
        placements.filter(
            (pl.col("rank") == rank)
            & (pl.col("entered").is_null() | (pl.col("entered") <= on))
            & (pl.col("left").is_null() | (pl.col("left") > on))
        )
        .sort("entered", nulls_last=False)
        .unique("request", keep="last")
    )


def in_force(r: Sen2Records) -> pl.DataFrame:
    """Plans in force at the census, each with its primary placement open then (``p_urn`` ...) and its primary need,
    how long it has been in place and the age it started at."""
    plans = r.requests.filter((pl.col("active") == "1") & (pl.col("ceased").is_null() | (pl.col("ceased") > r.census)))
    census = pl.lit(r.census)
    # Reading: the primary placement at the census is the rank 1 placement entered on or before it and not left
    # by it ([DG] caseload: "the type of setting attended"); of two, the latest entered.
    placed = open_on(r.placements, census).select("request", *(pl.col(c).alias(f"p_{c}") for c in _PLACED))
    joined = _with_person(r, _with_need(r, plans).join(placed, on="request", how="left"), census)
    # [DG] caseload footnote 4: "Age is calculated based on the start date recorded for the EHC plan"; Reading: the
    # years a plan has been in place are whole years from its start (item 4.1) to the census.
    return joined.with_columns(start_age=_age(pl.col("start")), in_place=_years(census, pl.col("start")))


def primary_need(r: Sen2Records) -> pl.DataFrame:
    """Each request's primary SEN need (rank 1), as ``need``."""
    return r.needs.filter(pl.col("rank") == "1").unique("request", keep="first").select("request", need="type")


def _with_need(r: Sen2Records, plans: pl.DataFrame) -> pl.DataFrame:
    return plans.join(primary_need(r), on="request", how="left")


def _placement_rows(table: str, register: Register | None) -> tuple[Breakdown, ...]:
    """The table's "Type of placement" rows, which need the register."""
    return (Breakdown(PLACEMENT, "place", place_rows(table)),) if register is not None else ()


def _said(units: pl.DataFrame, register: Register | None, typed: bool) -> tuple[str, ...]:
    """What a table's notes say beyond its columns: the ethnicity readings, and the register that typed its
    placements (or that none is loaded), with the URNs it does not hold."""
    said = [ethnicity_note()]
    if not typed:
        return tuple(said)
    if register is None:
        said.append(f"{PLACEMENT} rows and the establishment columns: {_GIAS}")
        return tuple(said)
    said.append(
        f"Placements typed by {register.described()}, each GIAS type's column as "
        "mappings/establishments/gias/dfe_placement_columns.csv gives it (with what settles each, or the reading)"
    )
    unknown = unknown_note([units], register)
    return tuple(said + ([unknown] if unknown else []))


def _placed_table(
    names: tuple[str, str, str, str, str],
    units: pl.DataFrame,
    academic: bool,
    register: Register | None,
    more: tuple[Breakdown, ...] = (),
) -> tuple[Table, pl.DataFrame]:
    """The caseload or new plans table: a column for every place, each group's total and share of all."""
    name, total, topic, age_topic, style = names
    place = pl.col("place")
    counts = {total: pl.lit(True)} | {c: place == c for c in PLACES}
    fixed = dict.fromkeys(("await_prov_2022", "perm_ex_2022"), (UNAVAILABLE, _PRE_2023))
    percents = {
        "nm_early_years_pc": ("nm_early_years", (total,)),
        "placement_unknown_pc": ("placement_unknown", (total,)),
    }
    if register is None:
        fixed |= dict.fromkeys(_TYPED, (UNAVAILABLE, _GIAS))
        counts = {c: e for c, e in counts.items() if c not in _TYPED}
    else:
        # [DG]: each total is the sum of its columns (mainstream_total of all ten mainstream columns, the SEN units
        # and resourced provisions among them), as every council row of DfE's 2025 caseload table sums.
        counts |= {t: place.is_in(list(places)) for t, (places, _, _) in GROUPS.items()}
        percents |= {pc: (t, (total,)) for t, (_, pc, _) in GROUPS.items()}
    said = _said(units, register, typed=True)
    table = Table(name, academic, topic, age_topic, style, counts, percents, fixed, more, said=said)
    return table, units


def _need_table(name: str, total: str, topic: str, style: str, academic: bool, more: tuple[Breakdown, ...]) -> Table:
    counts = {total: pl.lit(True)} | {f"number_{k}": pl.col("need").is_in(v) for k, v in _NEEDS.items()}
    counts["number_need_unknown"] = pl.col("need").is_null()
    percents = {f"{k}_pc": (f"number_{k}", (total,)) for k in _NEEDS} | {
        "unknown_pc": ("number_need_unknown", (total,))
    }
    return Table(name, academic, topic, "Child or young persons age", style, counts, percents, breakdowns=more)


def _started(style: str, unknown: str | None) -> Breakdown:
    """DfE's "Age when plan started" rows, from ``start_age``."""

    def labels(value: object) -> tuple[str, ...]:
        if value is None:
            return (unknown,) if unknown else ()
        return (age_label(style, int(str(value))) or "",)

    return Breakdown("Age when plan started", "start_age", labels)


def tables(r: Sen2Records, survey: int, register: Register | None = None) -> dict[str, tuple[Table, pl.DataFrame]]:
    """Every table with the units it counts, by DfE's file name; placements typed by ``register`` when one is held."""
    year = survey - 1
    out: dict[str, tuple[Table, pl.DataFrame]] = {}
    force = with_place(in_force(r), "p_", register)
    in_place = Breakdown("Years EHC plan in place", "in_place", years_in_place)
    # [DG] newplans: "The number of EHC plans which start each year" (item 4.1, StartDate, in the calendar year);
    # "Age is calculated based on the start date recorded for the EHC plan" (caseload footnote 4). Reading: a new
    # plan's setting is the one named in it as its primary placement (item 4.7, rank 1).
    new = _with_person(r, _with_need(r, r.requests.filter(_in_year("start", year))), pl.col("start"))
    new = with_place(new, "plan_", register)
    out["newplans"] = _placed_table(
        ("newplans", "new_ehc_plans", "New EHC plans", "Age when plan started", "age"), new, False, register
    )
    out["caseload"] = _placed_table(
        ("caseload", "ehcplans", "All EHC plans", "Child or young persons age", "under 3"),
        force,
        True,
        register,
        (_started("age", "unknown"), in_place),
    )
    out["sen_needs_all_plans"] = (
        _need_table(
            "sen_needs_all_plans",
            "ehc_plans",
            "All EHC plans",
            "under 3",
            True,
            (*_placement_rows("sen_needs_all_plans", register), in_place),
        ),
        force,
    )
    # Reading: a new plan's primary need is the rank 1 need of its own request's active plans module; a plan that
    # started and ceased in the year has none and is counted as need not recorded.
    out["sen_need_newplans"] = (
        _need_table(
            "sen_need_newplans",
            "ehc_plans",
            "All EHC plans",
            "age",
            False,
            _placement_rows("sen_need_newplans", register),
        ),
        new,
    )
    out |= _request_tables(r, year)
    out |= _census_tables(r, force, register)
    out["ceased_plans"] = _ceased(r, year, register)
    out["annual_reviews"] = _reviews(r, force, year, register)
    return _noted(out, register)


def _noted(
    out: dict[str, tuple[Table, pl.DataFrame]], register: Register | None
) -> dict[str, tuple[Table, pl.DataFrame]]:
    """Each table with its notes: the ethnicity readings, and for a table with placements the register's."""
    noted = {}
    for name, (table, units) in out.items():
        if table.said:
            noted[name] = (table, units)
            continue
        typed = any(b.topic == PLACEMENT for b in table.breakdowns) or name in _PLACEMENT_TABLES
        said = _said(units, register, typed)
        noted[name] = (replace(table, said=said), units)
    return noted


#: The tables DfE gives "Type of placement" rows.
_PLACEMENT_TABLES = frozenset(
    {
        "annual_reviews",
        "ceased_plans",
        "personal_budgets",
        "residential_settings",
        "sen_need_newplans",
        "sen_needs_all_plans",
        "work_based_placements",
    }
)


def _request_tables(r: Sen2Records, year: int) -> dict[str, tuple[Table, pl.DataFrame]]:
    return {
        "requests": _requests(r, year),
        "assessments": _assessments(r, year),
        "timeliness_20_week": _timeliness(r, year),
    }


def _requests(r: Sen2Records, year: int) -> tuple[Table, pl.DataFrame]:
    # [DG] requests footnote 1: "Age on the date the request for the EHC needs assessment was received"; a request
    # of the year is one received in it (item 2.1; a historical request, outcome H, has no received date).
    asked = _with_person(r, r.requests.filter(_in_year("received", year)), pl.col("received"))
    outcome = pl.col("outcome")
    # Reading: "decision made within 6 weeks" is the outcome date (item 2.4) at most 42 days after the request was
    # received; the two percentages are of requests with an outcome date.
    decided = _days("decided", "received")
    requests = Table(
        "requests",
        False,
        "All requests for EHC needs assessments",
        "Child or young persons age",
        "Aged",
        {
            "requests_received_in_year": pl.lit(True),
            "requests_rya": pl.col("rya") == "1",
            "requests_decided_to_assess": outcome == "Y",
            "requests_decided_not_to_assess": outcome == "N",
            "requests_decision_not_made": outcome == "A",
            "requests_withdrawn": outcome == "W",
            "request_outcome_six_weeks": decided <= 42,
            "request_outcome_over_6_weeks": decided > 42,
            "mediation_related_request": pl.col("mediation") == "1",
            "tribunal_related_request": pl.col("tribunal") == "1",
            "tribunal_after_mediation_request": (pl.col("mediation") == "1") & (pl.col("tribunal") == "1"),
        },
        {
            "request_assess_pc": ("requests_decided_to_assess", ("requests_received_in_year",)),
            "request_not_assess_pc": ("requests_decided_not_to_assess", ("requests_received_in_year",)),
            "request_outstanding_pc": ("requests_decision_not_made", ("requests_received_in_year",)),
            "request_withdrawn_pc": ("requests_withdrawn", ("requests_received_in_year",)),
            "request_outcome_six_weeks_pc": (
                "request_outcome_six_weeks",
                ("request_outcome_six_weeks", "request_outcome_over_6_weeks"),
            ),
            "request_outcome_over_6_weeks_pc": (
                "request_outcome_over_6_weeks",
                ("request_outcome_six_weeks", "request_outcome_over_6_weeks"),
            ),
        },
        age_unknown="Age unknown",
    )
    return requests, asked


def _assessments(r: Sen2Records, year: int) -> tuple[Table, pl.DataFrame]:
    # [DG] assessments: "The number of EHC needs assessments carried out each year". SEN2's request outcome (item 2.5)
    # is Y, "LA proceeded with an assessment", or H, "Historical – Decision to assess was made before the latest
    # collection period" (the survey's code list, collectors/sen2/schemas/): both are requests the council decided to
    # assess. Reading: an assessment of the year is one whose outcome date (item 3.2) is in the year, whichever of Y
    # and H its request was decided; an assessment with no outcome date (not yet decided, or withdrawn) is of the year
    # its request was received in, so a historical request's (received before the period, its date not given) is
    # not. Its age is at the request ([DG] assessments footnote 1), unknown for a historical request: DfE's
    # release has the row "Age unknown".
    outcome = pl.col("outcome")
    assessed = _with_person(
        r,
        r.requests.filter(
            outcome.is_in(["Y", "H"])
            & pl.when(pl.col("assessed").is_not_null())
            .then(_in_year("assessed", year))
            .otherwise((outcome == "Y") & _in_year("received", year))
        ),
        pl.col("received"),
    )
    result, weeks16 = pl.col("assessment"), _days("assessed", "received")
    mediation, tribunal = pl.col("a_mediation") == "1", pl.col("a_tribunal") == "1"
    other_m, other_t = pl.col("o_mediation") == "1", pl.col("o_tribunal") == "1"
    timed = ("outcome_decision_within_time", "outcome_decision_over_time")
    assessments = Table(
        "assessments",
        False,
        "All EHC needs assessments",
        "Child or young persons age",
        "Aged",
        {
            "assess_in_year": pl.lit(True),
            "assess_issued": result == "Y",
            "assess_not_issued": result == "N",
            "assess_not_made": result.is_null() | (result == "A"),
            "assess_withdrawn": result == "W",
            # [DG]: "assessments where it was decided NOT to issue a plan which were within 16 weeks" (112 days
            # from the request received).
            "outcome_decision_within_time": (result == "N") & (weeks16 <= 112),
            "outcome_decision_over_time": (result == "N") & (weeks16 > 112),
            "number_assess_mediation": mediation,
            "number_assess_tribunal": tribunal,
            "number_asssess_mediation_tribunal": mediation & tribunal,
            "number_other_mediation": other_m,
            "number_other_tribunal": other_t,
            "number_other_mediation_tribunal": other_m & other_t,
        },
        {
            # Every percentage is of all the assessments of the year, as DfE's own are: in its 2025 release the issued
            # percentage is the issued count over ``assess_in_year`` in all 153 council rows, the 9 regions' and
            # England's (over the issued and not issued alone, in 123 councils', 3 regions' and not England's;
            # tests/collectors/regions/test_england.py), whatever [DG]'s footnote 2 ("Percentages of assessments only
            # apply where a decision was made") suggests.
            "assess_issued_pc": ("assess_issued", ("assess_in_year",)),
            "assess_not_issued_pc": ("assess_not_issued", ("assess_in_year",)),
            "assess_not_made_pc": ("assess_not_made", ("assess_in_year",)),
            "assess_withdrawn_pc": ("assess_withdrawn", ("assess_in_year",)),
            "outcome_decision_within_time_pc": ("outcome_decision_within_time", timed),
            "outcome_decision_over_time_pc": ("outcome_decision_over_time", timed),
        },
        age_unknown="Age unknown",
    )
    return assessments, assessed


def _timeliness(r: Sen2Records, year: int) -> tuple[Table, pl.DataFrame]:
    # [DG] timeliness_20_week: plans issued in the year "within the statutory 20 week timeframe", "with, and without,
    # exceptions applying". Reading: a plan issued in the year (item 4.1 in the year) is timed from its request's
    # received date (item 2.1) to its start date: within 20 weeks is at most 140 days, between 20 and 52 weeks at
    # most 364; a plan with no received date (a historical request) cannot be timed and is left out. "Excluding
    # exceptions" leaves out plans whose Week20 (item 3.7) is 1, "Yes, exceptions apply". Age is on the start date.
    units = _with_person(
        r, r.requests.filter(_in_year("start", year) & pl.col("received").is_not_null()), pl.col("start")
    )
    days, ex = _days("start", "received"), pl.col("week20") != "1"
    within, between, late = days <= 140, (days > 140) & (days <= 364), days > 364
    counts = {
        "plans_issued_den": pl.lit(True),
        "plans_issued_den_ex": ex,
        "plans_issued_within_20_weeks": within,
        "plans_issued_20_weeks_ex": within & ex,
        "plans_issued_gt20weeks_ltYear": between,
        "plans_issued_gt20weeks_ltYear_ex": between & ex,
        "plans_issued_gt_1_year": late,
        "plans_issued_gt_1_year_ex": late & ex,
    }
    percents = {
        "pc_plans_issued_within_20_weeks": ("plans_issued_within_20_weeks", ("plans_issued_den",)),
        "PC_plans_issued_20_weeks_ex": ("plans_issued_20_weeks_ex", ("plans_issued_den_ex",)),
        "pc_plans_issued_gt20weeks_ltYear": ("plans_issued_gt20weeks_ltYear", ("plans_issued_den",)),
        "PC_plans_issued_gt20weeks_ltYear_ex": ("plans_issued_gt20weeks_ltYear_ex", ("plans_issued_den_ex",)),
        "pc_plans_issued_gt_1_year": ("plans_issued_gt_1_year", ("plans_issued_den",)),
        "PC_plans_issued_gt_1_year_ex": ("plans_issued_gt_1_year_ex", ("plans_issued_den_ex",)),
    }
    table = Table(
        "timeliness_20_week",
        False,
        "All EHC plans issued",
        "Child or young persons age",
        "age",
        counts,
        percents,
        age_unknown="Unknown",
    )
    return table, units


def _census_tables(
    r: Sen2Records, force: pl.DataFrame, register: Register | None
) -> dict[str, tuple[Table, pl.DataFrame]]:
    pb, dp = pl.col("pb") == "1", pl.col("dp")
    # [DG] personal_budgets: "The number of EHC plans where there is personal budget in place", by what it covers
    # (item 4.4a-c: PB, OA, DP); of plans in force at the census.
    budgets = Table(
        "personal_budgets",
        True,
        "All personal budgets",
        "Child or young persons age",
        "age",
        {
            "personal_budget": pb,
            "org_arrangments": pl.col("oa") == "1",
            "pb_health": pb & (dp == "H"),
            "pb_education": pb & (dp == "E"),
            "pb_social": pb & (dp == "S"),
            "pb_integrated": pb & (dp == "I"),
        },
        breakdowns=_placement_rows("personal_budgets", register),
    )
    # [DG] residential_settings and work_based_placements: placements at January. Reading: each placement open at
    # the census (entered on or before it, not left by it) of a plan in force counts once, by its Res or WBP (items
    # 5.2, 5.3; on the active plans module in the 2023 survey, on the placement since), in the place of that
    # placement (the 2023 module's, of the plan's primary placement).
    census = pl.lit(r.census)
    placed = r.placements.filter(
        (pl.col("entered").is_null() | (pl.col("entered") <= census))
        & (pl.col("left").is_null() | (pl.col("left") > census))
        & pl.col("request").is_in(force["request"].implode())
    ).select("child", "request", "res", "wbp", *(pl.col(c).alias(f"w_{c}") for c in _PLACED))
    old = force.filter(pl.col("res").is_not_null() | pl.col("wbp").is_not_null()).select(
        "child", "request", "res", "wbp", *(pl.col(f"p_{c}").alias(f"w_{c}") for c in _PLACED)
    )
    units = with_place(_with_person(r, pl.concat([placed, old]), census), "w_", register)
    res = pl.col("res")
    residential = Table(
        "residential_settings",
        True,
        "All residential placements",
        "Child or young persons age",
        "age",
        {"Res_3851": res == "A", "Res_52": res == "B", "Res_tot": res.is_not_null()},
        breakdowns=_placement_rows("residential_settings", register),
    )
    wbp = pl.col("wbp")
    work = Table(
        "work_based_placements",
        True,
        "All work based placements",
        "Young persons age",
        "wbp",
        {
            "open_supp_intern": wbp == "S",
            "open_apprentice": wbp == "A",
            "open_trainee": wbp == "T",
            "open_wbp": wbp.is_not_null(),
        },
        breakdowns=_placement_rows("work_based_placements", register),
        age_unknown="Age unknown",
    )
    return {
        "personal_budgets": (budgets, force),
        "residential_settings": (residential, units.filter(res.is_not_null())),
        "work_based_placements": (work, units.filter(wbp.is_not_null())),
    }


def _ceased(r: Sen2Records, year: int, register: Register | None) -> tuple[Table, pl.DataFrame]:
    # [DG] ceased_plans: "The number of plans which ceased each year, and the reason why", age "calculated on the
    # date the plan ceased" (footnote 1); item 4.5 CeaseDate in the year, 4.6 CeaseReason. Reading: [DG] describes
    # not_rec as "Number ceased for other reasons" and other as "Number where reason is not recorded": each is
    # counted as [DG] describes it (reason 9, Other, in not_rec; no reason in other), though the names read the other
    # way round. [DG] gives "the last setting attended" and "length of time plan in place". Reading: the last setting
    # is the rank 1 placement entered latest on or before the cease date (none recorded: "Placement not recorded");
    # the years held are whole years from the plan's start (item 4.1) to its cease date.
    ceased = r.requests.filter(_in_year("ceased", year))
    last = (
        r.placements.join(ceased.select("request", "ceased"), on="request")
        .filter((pl.col("rank") == "1") & (pl.col("entered").is_null() | (pl.col("entered") <= pl.col("ceased"))))
        .sort("entered", nulls_last=False)
        .unique("request", keep="last")
        .select("request", *(pl.col(c).alias(f"l_{c}") for c in _PLACED))
    )
    units = _with_person(r, ceased.join(last, on="request", how="left"), pl.col("ceased"))
    units = with_place(units.with_columns(held=_years(pl.col("ceased"), pl.col("start"))), "l_", register)
    reason = pl.col("cease_reason")
    counts = {
        name: reason == code
        for name, code in (
            ("max_age", "1"),
            ("needs_met", "2"),
            ("he", "3"),
            ("employ", "4"),
            ("transfer", "5"),
            ("no_engage", "6"),
            ("moved_outside_eng", "7"),
            ("deceased", "8"),
            ("not_rec", "9"),
        )
    }
    counts |= {"other": reason.is_null(), "total_ceased": pl.lit(True)}
    more = (*_placement_rows("ceased_plans", register), Breakdown("Years plan held", "held", years_held))
    table = Table(
        "ceased_plans",
        False,
        "All ceased EHC plans",
        "Age plan ceased",
        "age",
        counts,
        breakdowns=more,
        age_unknown="Age unknown",
    )
    return table, units


def _reviews(r: Sen2Records, force: pl.DataFrame, year: int, register: Register | None) -> tuple[Table, pl.DataFrame]:
    # [DG] annual_reviews, of plans in force at the census (total_ehc_plans). Reading: a review is expected of a plan
    # that started before the calendar year (its first anniversary falls in it) or whose start is not given; a
    # meeting (item 5.4a) and a decision (5.4b, LastReview) are counted for expected plans, by the year they fall in:
    # the census's year (the release's "25"), the calendar year ("24") or before it. A meeting with no decision is
    # not yet due when held in the 4 weeks (28 days) before the census, outstanding when earlier. DfE's release
    # repeats the column review_meeting_prior_24; both are the same count.
    first = date(year, 1, 1)
    expected = pl.col("start").is_null() | (pl.col("start") < first)
    met, decided = expected & pl.col("meeting").is_not_null(), pl.col("last_review")
    no_decision = met & decided.is_null()
    recent = (pl.lit(r.census) - pl.col("meeting")).dt.total_days() <= 28
    weeks4 = _days("last_review", "meeting")
    outcome = pl.col("review_outcome")
    counts = {
        "total_ehc_plans": pl.lit(True),
        "review_expected": expected,
        "review_not_expected": ~expected,
        "review_meeting_25": met & (pl.col("meeting").dt.year() == year + 1),
        "review_meeting_24": met & _in_year("meeting", year),
        "review_meeting_prior_24": met & (pl.col("meeting") < first),
        "total_review_meeting": met,
        "no_review_meeting": expected & pl.col("meeting").is_null(),
        "review_decision25": met & (decided.dt.year() == year + 1),
        "review_decision24": met & _in_year("last_review", year),
        "review_decision_prior24": met & (decided < first),
        "review_decision_not_due": no_decision & recent,
        "review_decision_outstanding": no_decision & ~recent,
        "outcome_amend": met & (outcome == "A"),
        "outcome_cease": met & (outcome == "C"),
        "outcome_maintan": met & (outcome == "M"),
        "no_outcome": met & outcome.is_null(),
        "number_decsion_4weeks": met & (weeks4 <= 28),
        "number_decision_gt_4weeks": met & (weeks4 > 28),
    }
    both = ("number_decsion_4weeks", "number_decision_gt_4weeks")
    percents = {
        "pc_decsion_4weeks": ("number_decsion_4weeks", both),
        "pc_decision_gt_4weeks": ("number_decision_gt_4weeks", both),
    }
    more = (
        *_placement_rows("annual_reviews", register),
        Breakdown("Years EHC plan in place", "in_place", years_in_place),
    )
    table = Table(
        "annual_reviews",
        False,
        "All annual reviews",
        "Child or young persons age",
        "Aged",
        counts,
        percents,
        breakdowns=more,
    )
    return table, force
