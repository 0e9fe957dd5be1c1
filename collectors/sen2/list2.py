"""The area SEND inspection's List 2 (children and young people on SEN support) as at an inspection date, from the
council's newest school census on or before the date (its pupils with ``senprovision`` K) and the one before it, with
the social care and disability columns joined from its CIN census and SSDA903 as List 1's are.

The columns are the list's, as Data to Insight's Annex A SEND validator reads them (its fake workbook's ``List_2``
headings, MIT); the schools' phases are the register of establishments' (GIAS) where one is loaded, as List 1's.
Nothing is kept; no value is logged or put in an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.annex_a.build import newest_sources, read_sources, written
from collectors.census.kept import newest_censuses
from collectors.census.lists import SCHOOL_COLUMNS, census_urns, label, newest_two, school_columns, sen_support
from collectors.census.records import CensusRecords
from collectors.sen2.list1 import CANNOT_APPLY, CARE_COLUMNS, LOOKED_AFTER, List1, phases, said_of_sources, social_care
from collectors.sen2.list1 import COLUMNS as LIST1_COLUMNS
from collectors.sen2.list1_rules import check_list2
from collectors.sen2.list1_school import census_filled, school_notes, school_traces, with_school
from collectors.sen2.placing import Register, register_for
from onereturn.errors import NotFound
from onereturn.memory import release_memory
from onereturn.settings import Settings

#: List 1's columns List 2 has not: those of the plan and elective home education.
NOT_ON_LIST2 = (
    "Date initial EHC plan issued",
    "Date updated EHC plan issued",
    "Date EHC plan last reviewed",
    "Elective home education",
)
#: List 2's columns, in the list's order (Data to Insight's ``fake_sen.xlsx``, sheet ``List_2``): List 1's less those.
COLUMNS = tuple(c for c in LIST1_COLUMNS if c not in NOT_ON_LIST2)
#: The columns the census fills (the rest are the social care records'), each as List 1 reads it.
FROM_CENSUS = COLUMNS[:14]
#: The row's own items, traced to the census row as one.
ITEMS = "UPN, ULN, date of birth, gender, ethnicity, SEN primary need"


@dataclass
class List2(List1):
    """List 2 built, as List 1 is: its rows, the sources read, the notes, the blank cells that cannot apply, the cells
    the census filled per column and where each came from."""


def checked_list2(engine: Engine, settings: Settings, agency_code: str, on: date) -> tuple[List2, list[dict[str, Any]]]:
    """List 2 of the council as at the inspection date, and Data to Insight's findings in it; NotFound where the
    council keeps no school census of a day on or before the date."""
    censuses = newest_censuses(engine, settings, agency_code, on)
    if not censuses:
        raise NotFound(f"{agency_code} keeps no school census of a day on or before {on.isoformat()}: List 2 is its")
    with Session(engine) as session:
        sources = newest_sources(session, agency_code, on)
        cin, ssda903 = read_sources(session, settings, sources) if sources else (None, None)
    register = register_for(engine, census_urns(censuses), [], on)
    built = assemble_list2(censuses, cin, ssda903, on, register)
    built.sources += [s.describe() for s in sources]
    said_of_sources(built, sources, register)
    findings = check_list2(built.rows, on)
    release_memory()
    return built, findings


def assemble_list2(
    censuses: list[CensusRecords],
    cin: dict[str, pl.DataFrame] | None,
    ssda903: dict[str, pl.DataFrame] | None,
    on: date,
    register: Register | None = None,
) -> List2:
    """List 2 from the council's censuses (the newest on or before the date and the one before it), its CIN census
    and SSDA903 tables read (each None when not kept) and the register of establishments (None: none loaded)."""
    care = social_care(cin, ssda903, on)
    looked_after = frozenset(care.filter(pl.col("team") == LOOKED_AFTER)["upn"].to_list())
    pupils = sen_support(censuses, on).with_columns(urn=pl.lit(None, pl.String), dual_urn=pl.lit(None, pl.String))
    units, phase_notes = phases(with_school(pupils, school_columns(censuses, on, looked_after)), register)
    joined = units.join(care, left_on="key", right_on="upn", how="left")
    rows = joined.select(
        # Reading: the census's pupils all have a UPN (the census's own key for a pupil); the UPN names the child.
        pl.col("upn").alias("Unique ID"),
        pl.col("upn").alias("UPN"),
        pl.col("uln").alias("ULN"),
        pl.col("born").alias("Date of birth"),
        pl.col("sex").alias("Gender"),
        pl.col("ethnicity").alias("Ethnicity"),
        pl.col("primary_need").alias("SEN primary need"),
        pl.col("urn").alias("Main education establishment – URN"),
        pl.col("phase").alias("Main education establishment – phase"),
        pl.col("dual_phase").alias("Subsidiary education establishment – phase (dual registration)"),
        *SCHOOL_COLUMNS,
        *CARE_COLUMNS,
    )
    read = [label(c) for c in newest_two(censuses, on)[0]]
    items = joined.with_row_index("row", offset=1).select("row", column=pl.lit(ITEMS), source="src")
    traces = pl.concat([items.cast({"row": pl.UInt32}), school_traces(joined, bool(read))]).sort("row", "column")
    notes = [
        "Rows: the pupils on roll at the newest census whose main enrolment records SEN support (senprovision K)",
        "SEN primary need: the need of rank 1 in the newest census, else the one before (only the spring census "
        "records needs: a reading)",
        *school_notes(read, joined.with_columns(held=pl.lit(True))),
    ]
    filled = census_filled(rows, joined) | {c: written(rows[c]) for c in FROM_CENSUS[:7]}
    return List2(on, rows, read, notes + phase_notes, _not_applying(joined), filled, traces)


def _not_applying(joined: pl.DataFrame) -> dict[str, int]:
    """The blank ULN cells (every pupil has a UPN) and the blank subsidiary phases of pupils with no second school."""
    sub = next(c for c in CANNOT_APPLY if c.startswith("Subsidiary"))
    blank = pl.col("uln").is_null() | (pl.col("uln").str.strip_chars() == "")
    return {"ULN": joined.filter(blank).height, sub: joined.filter(pl.col("dual_urn").is_null()).height}
