"""Checks no single return can make: each child of the council's SEN2 file that its CIN census or SSDA903 holds too
(joined by UPN, compared without regard to case), where the returns disagree. Each is a query to the council, counted
per check; the child's ids are given only in the council's own view, never in a log, an audit note or an error.

The checks are the service's own (no stored DfE text sets them); each says which items it compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.annex_a.build import newest_sources, read_sources
from collectors.census.kept import newest_censuses
from collectors.census.lists import census_main, label, newest_two
from collectors.census.records import CensusRecords
from collectors.sen2.measures import in_force
from collectors.sen2.records import Sen2Records
from collectors.sen2.service import read_kept
from onereturn.settings import Settings

#: Each check: its name and what it queries.
CHECKS = {
    "birth_date": "the date of birth differs between SEN2 (item 1.3) and the other return",
    "sex": "the sex differs between SEN2 (item 1.4) and the other return",
    "plan_but_no_disability": "an EHC plan in force at the census, and the CIN census records the child's disability "
    "as NONE only",
    "residential_placement": "looked after at the census in a residential school (SSDA903 placement S1, 'Residential "
    "school' in Ofsted's Annex A list of placement types) with no residential placement in SEN2 (item 5.2), or "
    "placed residentially in SEN2 and in another placement type",
    "plan_not_in_census": "an EHC plan in force at the SEN2 census, and the school census's main enrolment records "
    "another SEN provision than E (EHC plan)",
    "census_plan_not_in_sen2": "the school census's main enrolment records an EHC plan (senprovision E), and SEN2 has "
    "no plan in force for the child",
    "placement_not_census_school": "SEN2's main placement open at its census (item 5.7a) is another URN than the "
    "school census's main school",
    "looked_after_school": "looked after at the SEN2 census in a residential school (SSDA903 placement S1) whose URN "
    "(Ofsted's, a school's own URN: reading) is not the school census's main school",
}
#: The school census as a query names it.
CENSUS = "school census"
_SEXES = {"1": "M", "2": "F", "M": "M", "F": "F"}


@dataclass(frozen=True)
class Query:
    """One disagreement: the check, the other return, the child's UPN and its id in the other return."""

    check: str
    other: str
    upn: str
    child: str


def _sex(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.to_uppercase().replace_strict(_SEXES, default=None)


def _sen2_children(r: Sen2Records) -> pl.DataFrame:
    return r.persons.filter(pl.col("upn").is_not_null()).select(
        pl.col("upn").str.to_uppercase(), "born", sex=_sex("sex")
    )


def _differs(sen2: pl.DataFrame, other: pl.DataFrame, name: str) -> list[Query]:
    """Birth date and sex of each child in both, where they differ (a blank on either side is not compared)."""
    both = sen2.join(other, on="upn", suffix="_other")
    out = []
    for check, column in (("birth_date", "born"), ("sex", "sex")):
        rows = both.filter(
            pl.col(column).is_not_null()
            & pl.col(f"{column}_other").is_not_null()
            & (pl.col(column) != pl.col(f"{column}_other"))
        )
        out += [Query(check, name, upn, child) for upn, child in rows.select("upn", "child").iter_rows()]
    return out


def cross_checks(
    r: Sen2Records, cin: dict[str, pl.DataFrame] | None, ssda903: dict[str, pl.DataFrame] | None
) -> list[Query]:
    """Every disagreement of the SEN2 file with the CIN census and SSDA903 given (each None when not kept), in the
    checks' order and then by the child's id in the other return."""
    sen2, out = _sen2_children(r), []
    plans = in_force(r).filter(pl.col("upn").is_not_null()).select(pl.col("upn").str.to_uppercase()).unique()
    if cin is not None:
        children = (
            cin["Children"]
            .filter(pl.col("UPN").is_not_null())
            .select(
                "CHILD",
                upn=pl.col("UPN").str.to_uppercase(),
                born=pl.col("PersonBirthDate"),
                sex=_sex("Sex"),
                child=pl.col("CHILD"),
            )
        )
        out += _differs(sen2, children.drop("CHILD"), "CIN census")
        disabilities = (
            cin["Disabilities"]
            .group_by("CHILD")
            .agg(only_none=(pl.col("Disability").str.to_uppercase() == "NONE").all())
        )
        none = children.join(disabilities.filter(pl.col("only_none")), on="CHILD").join(plans, on="upn")
        out += [Query("plan_but_no_disability", "CIN census", u, c) for u, c in none.select("upn", "child").iter_rows()]
    if ssda903 is not None and "Header" in ssda903:
        header = (
            ssda903["Header"]
            .filter(pl.col("UPN").is_not_null())
            .select(upn=pl.col("UPN").str.to_uppercase(), born=pl.col("DOB"), sex=_sex("SEX"), child=pl.col("CHILD"))
        )
        out += _differs(sen2, header, "SSDA903")
        out += _residential(r, ssda903, header)
    # The joins give their rows in no fixed order: the council's list is in the checks' order, then by child.
    order = list(CHECKS)
    return sorted(out, key=lambda q: (order.index(q.check), q.other, q.child, q.upn))


def _residential(r: Sen2Records, ssda903: dict[str, pl.DataFrame], header: pl.DataFrame) -> list[Query]:
    # Reading: the placement at the census is the SSDA903 episode open then (began on or before it, not ended by it)
    # and SEN2's placements open then of a plan in force; "residential" in SEN2 is a placement with Res (item 5.2).
    census = r.census
    episodes = ssda903["Episodes"].filter(
        (pl.col("DECOM") <= census) & (pl.col("DEC").is_null() | (pl.col("DEC") > census))
    )
    placed = episodes.select("CHILD", school=pl.col("PLACE") == "S1").group_by("CHILD").agg(pl.col("school").any())
    looked_after = header.join(placed, left_on="child", right_on="CHILD")
    plans = in_force(r).filter(pl.col("upn").is_not_null()).select(pl.col("upn").str.to_uppercase(), "request")
    open_now = r.placements.filter(
        (pl.col("entered").is_null() | (pl.col("entered") <= census))
        & (pl.col("left").is_null() | (pl.col("left") > census))
    )
    res = open_now.group_by("request").agg(residential=pl.col("res").is_not_null().any())
    sen2 = plans.join(res, on="request", how="left").group_by("upn").agg(pl.col("residential").fill_null(False).any())
    both = looked_after.join(sen2, on="upn").filter(pl.col("school") != pl.col("residential"))
    return [Query("residential_placement", "SSDA903", u, c) for u, c in both.select("upn", "child").iter_rows()]


def census_checks(
    r: Sen2Records, censuses: list[CensusRecords], ssda903: dict[str, pl.DataFrame] | None
) -> list[Query]:
    """Every disagreement of the SEN2 file with the newest school census on or before its census day (the child's
    main enrolment: single or main dual, else its only one), and of a looked-after child's residential school in the
    SSDA903 with the census's. The child's id in the census is its enrolment's (``pupil N``)."""
    main = census_main(censuses, r.census)
    if main is None:
        return []
    plans = (
        in_force(r)
        .filter(pl.col("upn").is_not_null())
        .select(key=pl.col("upn").str.to_uppercase(), urn=pl.col("p_urn").cast(pl.String).str.strip_chars())
    )
    both = plans.unique("key").join(main, on="key")
    out = [Query("plan_not_in_census", CENSUS, k, p) for k, p in _ids(both.filter(pl.col("senprovision") != "E"))]
    no_plan = main.filter(pl.col("senprovision") == "E").join(plans, on="key", how="anti")
    out += [Query("census_plan_not_in_sen2", CENSUS, k, p) for k, p in _ids(no_plan)]
    moved = both.filter(pl.col("urn").is_not_null() & (pl.col("urn") != pl.col("census_urn")))
    out += [Query("placement_not_census_school", CENSUS, k, p) for k, p in _ids(moved.unique("key"))]
    if ssda903 is not None and "Header" in ssda903 and "URN" in ssda903["Episodes"].columns:
        census = r.census
        schools = ssda903["Episodes"].filter(
            (pl.col("DECOM") <= census)
            & (pl.col("DEC").is_null() | (pl.col("DEC") > census))
            & (pl.col("PLACE") == "S1")
        )
        header = ssda903["Header"].select("CHILD", key=pl.col("UPN").str.to_uppercase())
        placed = schools.join(header, on="CHILD").join(main, on="key")
        elsewhere = placed.filter(pl.col("URN").cast(pl.String).str.strip_chars() != pl.col("census_urn"))
        out += [Query("looked_after_school", "SSDA903", k, c) for k, c in elsewhere.select("key", "CHILD").iter_rows()]
    order = list(CHECKS)
    return sorted(out, key=lambda q: (order.index(q.check), q.other, q.child, q.upn))


def _ids(frame: pl.DataFrame) -> list[tuple[str, str]]:
    return [(k, f"pupil {p}") for k, p in frame.select("key", "pupil").iter_rows()]


def council_cross_checks(
    engine: Engine, settings: Settings, agency_code: str, collection_year: str
) -> tuple[list[Query], date, list[str]]:
    """The council's queries for the year: its newest SEN2 file against its newest CIN census and SSDA903 that passed
    DfE's rules, as at the SEN2 census; with the census date and the sources read (no child in them)."""
    records, sid = read_kept(engine, settings, agency_code, collection_year)
    with Session(engine) as session:
        sources = newest_sources(session, agency_code, records.census)
        cin, ssda903 = read_sources(session, settings, sources) if sources else (None, None)
    censuses = newest_censuses(engine, settings, agency_code, records.census)
    return (
        cross_checks(records, cin, ssda903) + census_checks(records, censuses, ssda903),
        records.census,
        [
            f"SEN2 {collection_year} (upload {sid})",
            *(s.describe() for s in sources),
            *(label(c) for c in newest_two(censuses, records.census)[0]),
        ],
    )
