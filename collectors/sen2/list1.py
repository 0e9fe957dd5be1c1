"""The area SEND inspection's List 1 (children and young people with an EHC plan) as at an inspection date, from the
council's newest SEN2 file, with "Known to children's social care?" and "Which children's social care team?" (and
the disability the CIN census records) from its kept CIN census and SSDA903 records open at the date.

The columns are the list's, as Data to Insight's Annex A SEND validator reads them (its fake workbook's ``List_1``
headings, MIT). Each column SEN2 holds is filled, and the establishments' phases from the register of
establishments (GIAS) where one is loaded; suspensions, permanent exclusions, absence and pupil premium (and a school
SEN2 has none of) from the council's kept school census (``list1_school.py``), blank with the reason where it keeps
none or does not hold the child; the column no record holds is left blank and named in the notes. Nothing is kept;
no value is logged or put in an error.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session, select

from collectors.annex_a.build import newest_sources, read_sources
from collectors.census.kept import kept_censuses, newest_censuses
from collectors.census.lists import SCHOOL_COLUMNS, census_urns, label, newest_two, school_columns
from collectors.census.records import CensusRecords
from collectors.door import kept_where
from collectors.sen2.list1_rules import check_list1
from collectors.sen2.list1_school import census_filled, school_notes, school_traces, with_school
from collectors.sen2.measures import open_on, primary_need
from collectors.sen2.placing import Register, register_for
from collectors.sen2.receiving import KEPT_STATUSES, PURPOSE, kept_sen2
from collectors.sen2.records import Sen2Records
from collectors.sen2.schema import SURVEYS, year_text
from collectors.sen2.service import READ_SECONDS, census_date, read_key, read_submission
from indicators.store.models import Submission
from mappings.establishments.register import held as held_register
from onereturn.errors import NotFound
from onereturn.memory import release_memory
from onereturn.settings import Settings

#: List 1's columns, in the list's order (Data to Insight's ``fake_sen.xlsx``, sheet ``List_1``).
COLUMNS = (
    "Unique ID", "UPN", "ULN", "Date of birth", "Gender", "Ethnicity", "Date initial EHC plan issued",
    "Date updated EHC plan issued", "Date EHC plan last reviewed", "SEN primary need",
    "Main education establishment – URN", "Main education establishment – phase",
    "Subsidiary education establishment – phase (dual registration)", "Elective home education", "Suspensions",
    "Permanent exclusions", "Absence", "Pupil Premium", "Known to children's social care?",
    "Which children's social care team?", "Does the child or young person have a disability?",
)  # fmt: skip
#: Columns no record the service keeps holds, and why.
NOT_HELD = {
    "Date updated EHC plan issued": "SEN2 records a plan's first issue (item 4.1), not the date of an amended plan",
}
#: Why the school census's columns are blank where the council keeps no census for a day on or before the date.
NO_CENSUS = "the school census's, and the council keeps no school census of a day on or before the date"
#: The phase columns, filled from the register of establishments when one is loaded.
PHASES = {
    "Main education establishment – phase": "needs the register of establishments (GIAS) by URN, and none is loaded",
    "Subsidiary education establishment – phase (dual registration)": (
        "needs the register of establishments (GIAS) by URN, and none is loaded"
    ),
}
#: The cells of a column that cannot apply to a child, by the list's own definitions (Data to Insight's SSD script of
#: Annex A SEND's List 1, ``AnnexA_SEND_sqlserver_v1.2.0_1_20241111.sql``, and its validator's rule 107, "Child aged 6+
#: without either a) UPN, b) ULN, c) "unknown" code"): a blank there is no cell the council keys.
CANNOT_APPLY = {
    "ULN": "the list asks for a UPN or a ULN (rule 107): a child with a UPN needs no ULN",
    "Subsidiary education establishment – phase (dual registration)": (
        '"If the child or young person is dual registered, provide the phase of the subsidiary education '
        'establishment": a child with no second school has none'
    ),
    "Which children's social care team?": (
        '"If the child or young person is not known to children\'s social care, please leave blank"'
    ),
}
LOOKED_AFTER, PROTECTION, IN_NEED = "Looked after children", "Child protection", "Children in need"

#: The lists' last three columns, from the council's records of care joined to each child (``social_care``).
CARE_COLUMNS = (
    pl.when(pl.col("team").is_not_null())
    .then(pl.lit("Yes"))
    .otherwise(pl.lit("No"))
    .alias("Known to children's social care?"),
    pl.col("team").alias("Which children's social care team?"),
    pl.col("disability").alias("Does the child or young person have a disability?"),
)


@dataclass
class List1:
    """List 1 built: its rows (text, dates, and the school columns' counts and percentage), the sources read and the
    notes."""

    inspection_date: date
    rows: pl.DataFrame
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Per column, the blank cells that cannot apply to their child (``CANNOT_APPLY``): no one keys them.
    not_applying: dict[str, int] = field(default_factory=dict)
    #: Per column, the cells the school census filled (``list1_school.census_filled``).
    from_census: dict[str, int] = field(default_factory=dict)
    #: Each cell the census filled or left blank with a reason: its row, column and the census row it came from.
    traces: pl.DataFrame = field(default_factory=lambda: pl.DataFrame())


def said_of_sources(built: List1, sources: list[Any], register: Register | None) -> None:
    """Add to a list's sources the register it read, and to its notes that no care records were kept where none were."""
    if register is not None:
        built.sources.append(register.described())
    if not sources:
        built.notes.append("No CIN census or SSDA903 is kept: no child is shown as known to children's social care")


def newest_sen2(engine: Engine, settings: Settings, agency_code: str, on: date) -> Submission:
    """The council's newest SEN2 upload whose census is on or before ``on``: of the newest collection year whose kept
    file's census date (its header's ``ReferenceDate``) is not after the date. NotFound when none is."""
    with Session(engine) as session:
        years = session.exec(
            select(Submission.collection_year).where(*kept_where(agency_code, PURPOSE, KEPT_STATUSES))
        ).all()
        # A survey's census falls in January of its year: a file of a later survey cannot be as at the date.
        usable = sorted({y for y in years if y and int(y[:4]) + 1 <= on.year}, reverse=True)
        found = [kept for kept in (kept_sen2(session, agency_code, y) for y in usable) if kept is not None]
    for kept in found:
        if census_date(engine, settings, kept) <= on:
            return kept
    held = ", ".join(year_text(s) for s in SURVEYS)
    raise NotFound(f"{agency_code} has no SEN2 file kept for a census on or before {on.isoformat()} (years {held})")


def plans_at(r: Sen2Records, on: date) -> pl.DataFrame:
    """Each plan in force at the date: issued on or before it (or of unknown issue), not ceased by it, and in force at
    the file's census (an active plans module). Reading: the SEN2 file is the January census, so a plan issued after
    it is not in the list; the newest file with a census on or before the date is read."""
    plans = r.requests.filter(
        (pl.col("active") == "1")
        & (pl.col("start").is_null() | (pl.col("start") <= on))
        & (pl.col("ceased").is_null() | (pl.col("ceased") > on))
    )
    placed = open_on(r.placements, on).select("request", "urn", "setting")
    # Reading: the dual registration is the secondary placement (rank 2, item 5.7d) open at the date with a URN.
    dual = open_on(r.placements.filter(pl.col("urn").is_not_null()), on, "2").select("request", dual_urn="urn")
    return (
        plans.join(placed, on="request", how="left")
        .join(dual, on="request", how="left")
        .join(primary_need(r), on="request", how="left")
        .join(r.persons, on="child", how="left")
        .sort("child", "request")
    )


def social_care(cin: dict[str, pl.DataFrame] | None, ssda903: dict[str, pl.DataFrame] | None, on: date) -> pl.DataFrame:
    """Each UPN with a CIN episode, a child protection plan or a period of care open at the date: its team (the most
    intensive: looked after, then protection, then in need) and, from the CIN census, whether it has a disability."""
    teams: list[pl.DataFrame] = []
    schema = pl.Schema({"upn": pl.String, "team": pl.String, "rank": pl.Int64})
    if ssda903 is not None and "Header" in ssda903:
        episodes = ssda903["Episodes"].filter(
            (pl.col("DECOM") <= on) & (pl.col("DEC").is_null() | (pl.col("DEC") > on))
        )
        upns = ssda903["Header"].filter(pl.col("CHILD").is_in(episodes["CHILD"].implode())).select(upn="UPN")
        teams.append(upns.with_columns(team=pl.lit(LOOKED_AFTER), rank=pl.lit(1)))
    disabled = pl.DataFrame(schema={"upn": pl.String, "disability": pl.String})
    if cin is not None:
        children = cin["Children"].select("CHILD", upn="UPN")
        # Reading: open at the date is begun on or before it and not closed before it, as Ofsted's Annex A reads it.
        cpp = cin["ChildProtectionPlans"].filter(
            (pl.col("CPPstartDate") <= on) & (pl.col("CPPendDate").is_null() | (pl.col("CPPendDate") >= on))
        )
        need = cin["CINdetails"].filter(
            (pl.col("CINreferralDate") <= on) & (pl.col("CINclosureDate").is_null() | (pl.col("CINclosureDate") >= on))
        )
        for frame, team, rank in ((cpp, PROTECTION, 2), (need, IN_NEED, 3)):
            ids = children.filter(pl.col("CHILD").is_in(frame["CHILD"].implode()))
            teams.append(ids.select("upn").with_columns(team=pl.lit(team), rank=pl.lit(rank)))
        # The census records each disability, or NONE: any other code is a disability.
        codes = (
            cin["Disabilities"]
            .join(children, on="CHILD")
            .group_by("upn")
            .agg(any=(pl.col("Disability").str.to_uppercase() != "NONE").any())
        )
        disabled = codes.select("upn", disability=pl.when(pl.col("any")).then(pl.lit("Yes")).otherwise(pl.lit("No")))
    known = pl.concat([t.cast(schema) for t in teams]) if teams else pl.DataFrame(schema=schema)
    known = known.drop_nulls("upn").with_columns(pl.col("upn").str.to_uppercase())
    best = known.sort("rank").unique("upn", keep="first").select("upn", "team")
    return best.join(disabled.with_columns(pl.col("upn").str.to_uppercase()), on="upn", how="full", coalesce=True)


def build_list1(engine: Engine, settings: Settings, agency_code: str, on: date) -> List1:
    """List 1 of the council as at the inspection date."""
    return checked_list1(engine, settings, agency_code, on)[0]


#: List 1 built and checked, by the uploads it was read from (each by its content) and the date: each page of it, the
#: workbook and the next ask are cut from the one built. Held as the files read are (``collectors.sen2.service``):
#: in this process's memory only, at most ``_BUILT_HELD`` lists, each for at most the files' time.
_BUILT: OrderedDict[tuple[object, ...], tuple[List1, list[dict[str, Any]], float]] = OrderedDict()
_BUILT_HELD = 2
_BUILT_LOCK = threading.Lock()


def checked_list1(engine: Engine, settings: Settings, agency_code: str, on: date) -> tuple[List1, list[dict[str, Any]]]:
    """List 1 of the council as at the inspection date, and Data to Insight's findings in it."""
    found = newest_sen2(engine, settings, agency_code, on)
    with Session(engine) as session:
        sources = newest_sources(session, agency_code, on)
        read_from = [session.get(Submission, s.submission_id) for s in sources]
        # The schools' phases are the register's: a list built under one load is not another's.
        loaded = held_register(session)
        censuses_kept = tuple((c.id, c.content_hash) for c in kept_censuses(session, agency_code))
    key = (
        read_key(engine, settings, found),
        tuple((s.id, s.content_hash, s.raw_path) for s in read_from if s is not None),
        on,
        loaded.id if loaded is not None else None,
        censuses_kept,
    )
    now = time.monotonic()
    with _BUILT_LOCK:
        for stale in [k for k, (_, _, until) in _BUILT.items() if until <= now]:
            del _BUILT[stale]
        if (held := _BUILT.get(key)) is not None:
            _BUILT.move_to_end(key)
            return held[0], held[1]
    with Session(engine) as session:
        cin, ssda903 = read_sources(session, settings, sources) if sources else (None, None)
    read = read_submission(engine, settings, found)
    censuses = newest_censuses(engine, settings, agency_code, on)
    urns = read.records.placements["urn"].drop_nulls().to_list() + census_urns(censuses)
    register = register_for(engine, urns, [], on)
    built = assemble_list1(read.records, cin, ssda903, on, register, censuses)
    built.sources = [
        f"SEN2 {found.collection_year} (upload {read.submission_id})",
        *(s.describe() for s in sources),
        *(label(c) for c in newest_two(censuses, on)[0]),
    ]
    said_of_sources(built, sources, register)
    findings = check_list1(built.rows, on)
    # What building it made and let go of (the joins' frames, the records of care read) is handed back at once.
    release_memory()
    with _BUILT_LOCK:
        _BUILT[key] = (built, findings, time.monotonic() + READ_SECONDS)
        while len(_BUILT) > _BUILT_HELD:
            _BUILT.popitem(last=False)
    return built, findings


def phases(plans: pl.DataFrame, register: Register | None) -> tuple[pl.DataFrame, list[str]]:
    """The plans with each placement's phase as GIAS names it (``phase``, ``dual_phase``), and what the notes say.
    Reading: a school closed by the date has its successor's phase (``mappings/establishments/register.py``)."""
    if register is None:
        blank = plans.with_columns(phase=pl.lit(None, pl.String), dual_phase=pl.lit(None, pl.String))
        return blank, [f"{column}: left blank, {why}" for column, why in PHASES.items()]
    phases = register.by_urn.select("urn", "r_phase")
    out = plans
    for column, into in (("urn", "phase"), ("dual_urn", "dual_phase")):
        key = pl.col(column).str.strip_chars().cast(pl.Int64, strict=False).alias(f"_{column}")
        out = (
            out.with_columns(key)
            .join(phases.rename({"r_phase": into}), left_on=f"_{column}", right_on="urn", how="left")
            .drop(f"_{column}")
        )
    unknown = out.filter(pl.col("urn").is_not_null() & pl.col("phase").is_null()).height
    notes = [f"Phases from {register.described()}"]
    if unknown:
        notes.append(f"Main education establishment – phase: {unknown} URN(s) not on the register, left blank")
    return out, notes


def assemble_list1(
    records: Sen2Records,
    cin: dict[str, pl.DataFrame] | None,
    ssda903: dict[str, pl.DataFrame] | None,
    on: date,
    register: Register | None = None,
    censuses: list[CensusRecords] | None = None,
) -> List1:
    """List 1 from the SEN2 records and the CIN census and SSDA903 tables read (each None when not kept), the
    establishments' phases from ``register`` (None: none is loaded), and the school columns from the council's newest
    school census on or before the date and the one before it (``censuses``; none kept: left blank, said why)."""
    care = social_care(cin, ssda903, on)
    looked_after = frozenset(care.filter(pl.col("team") == LOOKED_AFTER)["upn"].to_list())
    school = school_columns(censuses or [], on, looked_after)
    plans = with_school(plans_at(records, on).with_columns(key=pl.col("upn").str.to_uppercase()), school)
    plans, phase_notes = phases(plans, register)
    joined = plans.join(care, left_on="key", right_on="upn", how="left")
    # Reading: the child is known to social care when its UPN is in a CIN episode, protection plan or period of care
    # open at the date; SEN2 holds no council child id, so a child without a UPN is matched by nothing.
    rows = joined.select(
        # SEN2 holds no council child id: the UPN names the child, else the ULN, else its place in the file.
        pl.coalesce("upn", "uln", pl.format("SEN2 child {}", "child")).alias("Unique ID"),
        # Reading: a child with no UPN has the reason SEN2 gives (item 1.7c, UN1 ...) in the UPN column, the
        # "unknown" code Data to Insight's rule 107 accepts.
        pl.coalesce("upn", "upn_unknown").alias("UPN"),
        pl.col("uln").alias("ULN"),
        pl.col("born").alias("Date of birth"),
        pl.col("sex").alias("Gender"),
        pl.col("ethnicity").alias("Ethnicity"),
        pl.col("start").alias("Date initial EHC plan issued"),
        pl.lit(None, pl.Date).alias("Date updated EHC plan issued"),
        # Reading: "last reviewed" is the last review's date (item 5.4b), else the review meeting's (5.4a).
        pl.coalesce("last_review", "meeting").alias("Date EHC plan last reviewed"),
        pl.col("need").alias("SEN primary need"),
        pl.col("urn").alias("Main education establishment – URN"),
        pl.col("phase").alias("Main education establishment – phase"),
        pl.col("dual_phase").alias("Subsidiary education establishment – phase (dual registration)"),
        pl.when(pl.col("setting") == "EHE")
        .then(pl.lit("Yes"))
        .otherwise(pl.lit("No"))
        .alias("Elective home education"),
        *SCHOOL_COLUMNS,
        *CARE_COLUMNS,
    )
    notes = [f"{column}: left blank, {why}" for column, why in NOT_HELD.items()]
    read = [label(c) for c in newest_two(censuses or [], on)[0]]
    if not read:
        notes += [f"{column}: left blank, {NO_CENSUS}" for column in SCHOOL_COLUMNS]
    notes += school_notes(read, joined)
    return List1(
        on,
        rows,
        [],
        notes + phase_notes,
        _not_applying(joined),
        census_filled(rows, joined),
        school_traces(joined, bool(read)),
    )


def _not_applying(joined: pl.DataFrame) -> dict[str, int]:
    """The blank ULN cells of children with a UPN and the blank subsidiary phases of children with no second school;
    the team of a child not known to social care is told from the list's rows where care records were read."""
    blank = pl.col("uln").is_null() | (pl.col("uln").cast(pl.String).str.strip_chars() == "")
    return {
        "ULN": joined.filter(pl.col("upn").is_not_null() & blank).height,
        "Subsidiary education establishment – phase (dual registration)": joined.filter(
            pl.col("dual_urn").is_null()
        ).height,
    }
