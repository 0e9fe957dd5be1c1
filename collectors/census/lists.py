"""What the council's school census fills of the area SEND inspection's lists: each pupil's four school columns
(suspensions, permanent exclusions, absence, pupil premium) and main and subsidiary school, and the rows of List 2
(pupils on SEN support), made from the newest census on or before the inspection date and the one before it.

Every function here reads :class:`~collectors.census.records.CensusRecords` only, so it is the same whichever file a
census came in. Each value carries the census row it came from (``src_<column>``: the census's day and source and the
pupil's enrolment key in it), and a child the census does not hold has a blank with the reason (:data:`NOT_HELD`).

Ofsted's definitions of List 1's and List 2's columns are not in any stored copy (``SOURCE.md`` of the school census
reference, "Not found"): each column's window and unit (:data:`WINDOWS`) is a reading, said on the list and in
``docs/send.md``.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from collectors.census.records import TABLES, CensusRecords
from collectors.census.schema import missed_codes

#: The exclusions' categories each list column counts. Reading: a lunchtime exclusion (``LNCH``) is a suspension.
SUSPENSIONS, PERMANENT = ("SUSP", "LNCH"), ("PERM",)
#: The four columns the census fills, in the lists' order.
SCHOOL_COLUMNS = ("Suspensions", "Permanent exclusions", "Absence", "Pupil Premium")
#: Each column's window and unit as the lists read them (readings: Ofsted's definitions are in no stored copy).
WINDOWS = {
    "Suspensions": "suspensions (category SUSP, and LNCH, a lunchtime suspension: reading) begun from 1 September of "
    "the academic year holding the newest census's day to that day, as the newest census and the one before report "
    "them (one and two terms in arrears), each counted once by pupil, school, start date and category (reading); a "
    "count",
    "Permanent exclusions": "permanent exclusions (category PERM) in the same window, counted once as suspensions are; "
    "a count",
    "Absence": "the percentage of possible sessions missed (authorised and unauthorised absence: the term's totals "
    "where the census's schema has them, before 2025, else its sessions by attendance code, the codes grouped as DfE "
    "groups them) over the terms the newest census and the one before report (reading: the two terms to one term in "
    "arrears of the newest census; the autumn census's summer term's two halves together), summed over the child's "
    "schools; one decimal place",
    "Pupil Premium": "Yes where, at the newest census's day, the child has had free school meals in the six years to "
    "it (Ever-6), was previously looked after (plaa other than N), is looked after at the inspection date (the "
    "SSDA903), is a service child (servicechild Y), or GIAP's pupil premium download flags the child; else No",
}
#: Why a child's school columns are blank when the census does not hold the child.
NOT_HELD = (
    "the council's school census on or before the date does not hold the child (an independent school, another "
    "council's school, a college, or no school)"
)
#: The census's enrolment statuses that make a school a pupil's main one (single, main dual), then the subsidiary.
MAIN, SUBSIDIARY = ("C", "M"), ("S",)


def census_urns(censuses: list[CensusRecords]) -> list[str]:
    """The URNs of the censuses' schools as their pupils' enrolments name them (to look each up in the register)."""
    return sorted({u for c in censuses for u in c.pupils["urn"].drop_nulls().to_list()})


def newest_two(censuses: list[CensusRecords], on: date) -> tuple[list[CensusRecords], list[CensusRecords]]:
    """The newest census on or before ``on`` and the one before it, each as the records of its day (the council's
    schools' and academies' returns together, as many as were given)."""
    days = sorted({c.census_day for c in censuses if c.census_day <= on}, reverse=True)
    newest = [c for c in censuses if days and c.census_day == days[0]]
    before = [c for c in censuses if len(days) > 1 and c.census_day == days[1]]
    return newest, before


def label(c: CensusRecords) -> str:
    """A census as a trace names it: its day and whose returns."""
    return f"school census of {c.census_day.isoformat()} ({'academies' if c.source == 'acad' else 'council schools'})"


def _pupils(censuses: list[CensusRecords]) -> pl.DataFrame:
    """Every enrolment of the censuses keyed by the child's UPN (upper case) and by its former UPN where that is no
    pupil's UPN, each with ``census`` (its label) and ``day``. Reading: a SEN2 child is the census's by either."""
    frames = []
    for c in censuses:
        base = c.pupils.with_columns(census=pl.lit(label(c)), day=pl.lit(c.census_day), year=pl.lit(c.year))
        frames.append(base.with_columns(key=pl.col("upn").str.to_uppercase()))
        frames.append(base.with_columns(key=pl.col("formerupn").str.to_uppercase()).drop_nulls("key"))
    if not frames:
        return pl.DataFrame()
    keyed = pl.concat(frames, how="vertical_relaxed").drop_nulls("key")
    upns = keyed.filter(pl.col("key") == pl.col("upn").str.to_uppercase())["key"].unique().implode()
    return keyed.filter((pl.col("key") == pl.col("upn").str.to_uppercase()) | ~pl.col("key").is_in(upns))


def _joined(censuses: list[CensusRecords], table: str, traced: bool = True) -> pl.DataFrame:
    """One of the censuses' tables joined to its enrolment's key, school, census and (``traced``) trace (``src``)."""
    frames = []
    for c in censuses:
        keys = _pupils([c]).select("pupil", "key", "laestab", "census", "day")
        rows: pl.DataFrame = getattr(c, table)
        frames.append(rows.join(keys, on="pupil"))
    joined = pl.concat(frames, how="vertical_relaxed")
    return joined.with_columns(src=pl.format("{}, pupil {}", "census", "pupil")) if traced else joined


def _schools(newest: list[CensusRecords]) -> pl.DataFrame:
    """Each child's main school (``census_urn``) and subsidiary school (``census_dual_urn``) on roll at the census."""
    on_roll = _pupils(newest).filter(pl.col("on_roll")).with_columns(src=pl.format("{}, pupil {}", "census", "pupil"))
    main = on_roll.filter(pl.col("enrolstatus").is_in(MAIN)).sort("pupil").unique("key", keep="first")
    dual = on_roll.filter(pl.col("enrolstatus").is_in(SUBSIDIARY)).sort("pupil").unique("key", keep="first")
    return main.select("key", census_urn="urn", src_urn="src").join(
        dual.select("key", census_dual_urn="urn", src_dual_urn="src"), on="key", how="full", coalesce=True
    )


def _exclusions(censuses: list[CensusRecords], day: date) -> pl.DataFrame:
    """Each child's suspensions and permanent exclusions in the window, each counted once across the censuses."""
    begun = date(day.year if day.month >= 9 else day.year - 1, 9, 1)
    rows = (
        _joined(censuses, "exclusions")
        .filter(pl.col("started").is_between(begun, day))
        .sort("day", "pupil", descending=[True, False])
        .unique(["key", "laestab", "started", "category"], keep="first", maintain_order=True)
    )
    out = []
    for column, categories in (("Suspensions", SUSPENSIONS), ("Permanent exclusions", PERMANENT)):
        counted = rows.filter(pl.col("category").is_in(categories)).group_by("key", maintain_order=True)
        out.append(counted.agg(pl.len().cast(pl.Int64).alias(column), pl.col("src").unique(maintain_order=True)))
    return (
        out[0]
        .rename({"src": "src_Suspensions"})
        .join(out[1].rename({"src": "src_Permanent exclusions"}), on="key", how="full", coalesce=True)
        .with_columns(pl.col(f"src_{c}").list.join("; ") for c in ("Suspensions", "Permanent exclusions"))
    )


def _absence(censuses: list[CensusRecords]) -> pl.DataFrame:
    """Each child's sessions missed of those possible over the terms the censuses report (the newest and the one
    before: two terms), as a percentage. Each period's totals are read where the census has them (``authorised`` and
    ``unauthorised`` beside its sessions possible, before 2025), else its per-code session rows are summed (from 2025
    the schema has no totals). The 2015 and 2016 autumn censuses' ``annual`` period repeats their terms: not read."""
    termly = pl.col("period") != "annual"
    possible = _joined(censuses, "possible", traced=False).filter(termly)
    with_totals = pl.col("authorised").is_not_null() | pl.col("unauthorised").is_not_null()
    by_total = (
        possible.filter(with_totals)
        .group_by("pupil", "census")
        .agg(
            missed=(pl.col("authorised").fill_null(0) + pl.col("unauthorised").fill_null(0)).sum(),
            how=pl.lit("the term's totals"),
        )
    )
    by_code = (
        _joined(censuses, "sessions", traced=False)
        .filter(termly & pl.col("code").is_in(sorted(missed_codes())))
        .join(by_total.select("pupil", "census"), on=["pupil", "census"], how="anti")
        .group_by("pupil", "census")
        .agg(missed=pl.col("sessions").sum(), how=pl.lit("summed from its sessions by code"))
    )
    missed = pl.concat([by_total, by_code], how="vertical_relaxed")
    # Each enrolment's trace is written once it is summed, not for each of its rows.
    per_enrolment = (
        possible.group_by("key", "pupil", "census")
        .agg(possible=pl.col("sessions").sum())
        .join(missed, on=["pupil", "census"], how="left")
        .with_columns(
            src=pl.format(
                "{}, pupil {} ({})", "census", "pupil", pl.col("how").fill_null("no sessions missed recorded")
            )
        )
    )
    return (
        per_enrolment.group_by("key")
        .agg(
            pl.col("possible").sum(), pl.col("missed").fill_null(0).sum(), pl.col("src").unique().sort().str.join("; ")
        )
        .filter(pl.col("possible") > 0)
        .select("key", Absence=(100 * pl.col("missed") / pl.col("possible")).round(1), src_Absence="src")
    )


def _premium(newest: list[CensusRecords], looked_after: frozenset[str]) -> pl.DataFrame:
    """Each child of the newest census with its pupil premium (``Yes``/``No``) and the first route that gave it:
    Ever-6 free school meals (reading: a period begun by the census day and not ended six years or more before it),
    previously looked after, looked after now (the SSDA903), a service child, or GIAP's own flag."""
    day = max(c.census_day for c in newest)
    six_before = date(day.year - 6, day.month, 28 if (day.month, day.day) == (2, 29) else day.day)
    fsm = _joined(newest, "fsm").filter(
        (pl.col("started") <= day) & (pl.col("ended").is_null() | (pl.col("ended") >= six_before))
    )
    pupils = _pupils(newest).with_columns(src=pl.format("{}, pupil {}", "census", "pupil"))
    giap = pl.concat([c.premium for c in newest], how="vertical_relaxed").filter(
        pl.any_horizontal(pl.col("fsm_ever6", "looked_after", "adopted_from_care", "service_child").fill_null(False))
    )
    routes = [
        fsm.select("key", src=pl.format("Ever-6 free school meals: {}", "src")),
        pupils.filter(pl.col("plaa").is_not_null() & (pl.col("plaa") != "N")).select(
            "key", src=pl.format("previously looked after (plaa): {}", "src")
        ),
        pupils.filter(pl.col("key").is_in(sorted(looked_after))).select(
            "key", src=pl.lit("looked after at the inspection date: the SSDA903")
        ),
        pupils.filter(pl.col("servicechild") == "Y").select("key", src=pl.format("service child: {}", "src")),
        giap.select(key=pl.col("upn").str.to_uppercase(), src=pl.lit("GIAP's pupil premium download")),
    ]
    given = pl.concat(routes, how="vertical_relaxed").unique("key", keep="first", maintain_order=True)
    held = pupils.select("key").unique()
    return held.join(given, on="key", how="left").select(
        "key",
        pl.when(pl.col("src").is_not_null()).then(pl.lit("Yes")).otherwise(pl.lit("No")).alias("Pupil Premium"),
        pl.coalesce("src", pl.lit("none of the routes: census rows read")).alias("src_Pupil Premium"),
    )


def school_columns(
    censuses: list[CensusRecords], on: date, looked_after: frozenset[str] = frozenset()
) -> pl.DataFrame | None:
    """Each child the newest census on or before ``on`` holds (``key``: its UPN, upper case; or its former UPN), with
    its main and subsidiary school, the four school columns and the trace of each (``src_<column>``): a child held
    with no exclusion has 0, one with no sessions possible in the term a blank absence. ``looked_after``: the UPNs
    (upper case) the SSDA903 shows looked after at the date. None where no census is on or before ``on``."""
    newest, before = newest_two(censuses, on)
    if not newest:
        return None
    day = newest[0].census_day
    held = _pupils(newest).select("key").unique()
    out = (
        held.join(_schools(newest), on="key", how="left")
        .join(_exclusions(newest + before, day), on="key", how="left")
        .join(_absence(newest + before), on="key", how="left")
        .join(_premium(newest, looked_after), on="key", how="left")
    )
    none = f"no exclusion in the window: {label(newest[0])} and the census before"
    return out.with_columns(
        *(pl.col(c).fill_null(0) for c in ("Suspensions", "Permanent exclusions")),
        *(pl.col(f"src_{c}").fill_null(pl.lit(none)) for c in ("Suspensions", "Permanent exclusions")),
        pl.col("src_Absence").fill_null(pl.lit("no sessions possible reported for the term")),
    )


def census_main(censuses: list[CensusRecords], on: date) -> pl.DataFrame | None:
    """Each child on roll at the newest census on or before ``on`` with its main enrolment (single or main dual, else
    its only one): ``key``, ``pupil``, ``senprovision``, ``census_urn``, and its census row (``src``). None where no
    census is on or before the date."""
    newest = newest_two(censuses, on)[0]
    if not newest:
        return None
    rank = pl.when(pl.col("enrolstatus") == "C").then(0).when(pl.col("enrolstatus") == "M").then(1).otherwise(2)
    on_roll = _pupils(newest).filter(pl.col("on_roll")).with_columns(src=pl.format("{}, pupil {}", "census", "pupil"))
    main = on_roll.sort(rank, "pupil").unique("key", keep="first", maintain_order=True)
    return main.with_columns(census_urn=pl.col("urn").str.strip_chars())


def sen_support(censuses: list[CensusRecords], on: date) -> pl.DataFrame:
    """List 2's pupils: each child on roll at the newest census on or before ``on`` whose main enrolment (single or
    main dual, else its only one) records SEN support (``senprovision`` K), with its items, its primary need (the
    newest census's, else the one before's: reading, only the spring census has needs) and its trace (``src``)."""
    before = newest_two(censuses, on)[1]
    main = census_main(censuses, on)
    columns = ("key", "upn", "uln", "born", "sex", "ethnicity", "primary_need", "src")
    if main is None:
        return pl.DataFrame(schema={c: TABLES["pupils"].get(c, pl.String()) for c in columns})
    support = main.filter(pl.col("senprovision") == "K")
    earlier = _pupils(before).drop_nulls("primary_need") if before else None
    if earlier is not None and not earlier.is_empty():
        older = earlier.unique("key", keep="first").select("key", older_need="primary_need")
        support = support.join(older, on="key", how="left").with_columns(
            primary_need=pl.coalesce("primary_need", "older_need")
        )
    return support.select(columns)
