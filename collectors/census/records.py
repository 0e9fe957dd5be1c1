"""One school census as the service holds it, whichever file it came in (COLLECT's blades, the slim template,
GIAP's downloads): polars tables keyed by each pupil's enrolment in the census (``pupil``), and what the census is
(its year, term, census day and whether the council's own schools' or academies' returns).

Every reader of a census file answers a :class:`CensusRecords`, every kept census is read back as one, and every list,
check and figure made from the census reads it; :func:`conformed` holds each table to its columns and types so that a
reader and its users cannot drift apart. Names and addresses are never among them: they never leave the request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

#: The census terms, as the blades' file names and the schemas name them.
TERMS = ("autumn", "spring", "summer")
#: Whose returns a file holds, as its name says: the council's maintained schools' or academies' (by agreement).
SOURCES = ("la", "acad")

#: One row per pupil's enrolment in the census, on roll on census day or (``on_roll`` false) no longer on roll.
PUPILS: dict[str, pl.DataType] = {
    "pupil": pl.Int64(),  # the enrolment's key in this census, joining the tables below
    "on_roll": pl.Boolean(),
    "upn": pl.String(),
    "formerupn": pl.String(),
    "uln": pl.String(),
    "born": pl.Date(),
    "sex": pl.String(),
    "ethnicity": pl.String(),
    "laestab": pl.String(),  # the school: its council's three digits and its four, as the census writes them
    "urn": pl.String(),
    "enrolstatus": pl.String(),  # C single, M main dual, S subsidiary dual, F, O
    "ncyear": pl.String(),
    "senprovision": pl.String(),  # K SEN support, E EHC plan, N none (S, A, P older codes)
    "primary_need": pl.String(),  # the SEN need of rank 1, where the term's census has it
    "plaa": pl.String(),  # previously looked after
    "servicechild": pl.String(),
    "entered": pl.Date(),
    "left": pl.Date(),  # no longer on roll: the leaving date
}
#: Sessions possible for each pupil in each period the census reports attendance for (one term in arrears, and the
#: summer's second half-term apart in the autumn census), with the period's authorised and unauthorised absence
#: totals where the census's schema has them (before 2025; blank from 2025, whose schemas have only the per-code rows).
POSSIBLE: dict[str, pl.DataType] = {
    "pupil": pl.Int64(),
    "period": pl.String(),
    "sessions": pl.Int64(),
    "authorised": pl.Int64(),
    "unauthorised": pl.Int64(),
}
#: Sessions recorded under each attendance code, per pupil and period.
SESSIONS: dict[str, pl.DataType] = {
    "pupil": pl.Int64(),
    "period": pl.String(),
    "code": pl.String(),
    "sessions": pl.Int64(),
}
#: Exclusions as the census reports them (one exclusion is reported in two censuses: a reader counts it once).
EXCLUSIONS: dict[str, pl.DataType] = {
    "pupil": pl.Int64(),
    "category": pl.String(),  # PERM, SUSP, LNCH
    "started": pl.Date(),
    "sessions": pl.Int64(),
    "reason": pl.String(),
}
#: Free school meal eligibility periods.
FSM: dict[str, pl.DataType] = {"pupil": pl.Int64(), "started": pl.Date(), "ended": pl.Date()}
#: The schools whose returns the census holds.
SCHOOLS: dict[str, pl.DataType] = {
    "laestab": pl.String(),
    "urn": pl.String(),
    "name": pl.String(),
    "phase": pl.String(),
}
#: GIAP's pupil premium download, where one was sent: DfE's own flags, by UPN.
PREMIUM: dict[str, pl.DataType] = {
    "upn": pl.String(),
    "fsm_ever6": pl.Boolean(),
    "looked_after": pl.Boolean(),
    "adopted_from_care": pl.Boolean(),
    "service_child": pl.Boolean(),
}
#: Each table's name on :class:`CensusRecords` and its columns.
TABLES: dict[str, dict[str, pl.DataType]] = {
    "pupils": PUPILS,
    "possible": POSSIBLE,
    "sessions": SESSIONS,
    "exclusions": EXCLUSIONS,
    "fsm": FSM,
    "schools": SCHOOLS,
    "premium": PREMIUM,
}


@dataclass(frozen=True)
class CensusRecords:
    """One census's tables (each as :data:`TABLES` declares it) and what the census is: its ``year`` as the schema
    names it, its ``term``, its census day and whether the returns are the council's own schools' or academies'."""

    year: int
    term: str
    census_day: date
    source: str
    pupils: pl.DataFrame
    possible: pl.DataFrame
    sessions: pl.DataFrame
    exclusions: pl.DataFrame
    fsm: pl.DataFrame
    schools: pl.DataFrame
    premium: pl.DataFrame


def empty(table: str) -> pl.DataFrame:
    """An empty table of ``table``'s columns (a census with no exclusions, or no GIAP download)."""
    return pl.DataFrame(schema=TABLES[table])


def conformed(records: CensusRecords) -> CensusRecords:
    """``records`` with each table's columns in their declared order; ValueError naming the table and column where a
    column is missing or of another type, or the term or source is not one the census has."""
    if records.term not in TERMS:
        raise ValueError(f"census term {records.term!r} is not one of {', '.join(TERMS)}")
    if records.source not in SOURCES:
        raise ValueError(f"census source {records.source!r} is not one of {', '.join(SOURCES)}")
    tables: dict[str, pl.DataFrame] = {}
    for name, columns in TABLES.items():
        frame: pl.DataFrame = getattr(records, name)
        for column, dtype in columns.items():
            if column not in frame.columns:
                raise ValueError(f"census table {name!r} has no column {column!r}")
            if frame.schema[column] != dtype:
                raise ValueError(f"census table {name!r} column {column!r} is {frame.schema[column]}, not {dtype}")
        tables[name] = frame.select(list(columns))
    return CensusRecords(records.year, records.term, records.census_day, records.source, **tables)
