"""The census's tables (``collectors.census.records``) made from its modules as the schema reads them, whichever file
they came in (COLLECT's blades, the service's slim template), and the checks that join one module to another: a
pupil on roll twice at one school, more sessions missed than possible, a free meals period ending before it starts,
a row whose pupil is in no pupil table, two councils' schools in one census.

Each module is a frame of its columns as typed by ``collectors.census.schema.typed`` with ``file``, ``table`` and
``row`` beside them; each pupil is one enrolment, keyed by its school (``NativeId``) and its table id."""

from __future__ import annotations

from datetime import date

import polars as pl

from collectors.census.records import EXCLUSIONS, FSM, POSSIBLE, PUPILS, SESSIONS
from collectors.census.schema import missed_codes
from onereturn.errors import InvalidInput
from onereturn.listing import name_a_few

#: A refusal's columns: where and by which rule, never the value.
REFUSALS: dict[str, pl.DataType] = {
    "file": pl.String(),
    "table": pl.String(),
    "row": pl.Int64(),
    "column": pl.String(),
    "rule": pl.String(),
}
PUPIL_COLUMNS = list(PUPILS)
#: A pupil's attendance items by the ending of their columns: sessions possible in each period, and (before 2025) the
#: period's authorised and unauthorised absence totals.
ATTENDANCE_ITEMS = ("sessionspossible", "sessionsauthorised", "sessionsunauthorised")
#: The pupil modules, and whether their pupils are on roll on census day.
PUPIL_MODULES = {"pupilonroll": True, "pupilnolongeronroll": False}
#: A pupil's item as the census's schemas name it, by the column it fills (the first a year's schema has).
_ITEMS: dict[str, tuple[str, ...]] = {
    "upn": ("upn",),
    "formerupn": ("formerupn",),
    "uln": ("uniquelearnernumber",),
    "born": ("dob",),
    "sex": ("sex", "gender"),
    "ethnicity": ("ethnicity",),
    "enrolstatus": ("enrolstatus",),
    "ncyear": ("ncyearactual", "ncyearleaving"),
    "senprovision": ("senprovision",),
    "plaa": ("plaa",),
    "servicechild": ("servicechild",),
    "entered": ("entrydate",),
    "left": ("leavingdate",),
}
_SCHOOLS: dict[str, pl.DataType] = {
    "NativeId": pl.String(),
    "laestab": pl.String(),
    "urn": pl.String(),
    "name": pl.String(),
    "phase": pl.String(),
    "lea": pl.String(),
}


def refused(frame: pl.DataFrame, column: str, said: str) -> pl.DataFrame:
    """A refusal at each row of ``frame`` (its ``file``, ``table`` and ``row``), in ``column``, by the rule ``said``."""
    return frame.select(
        pl.col("file").cast(pl.String),
        pl.col("table").cast(pl.String),
        pl.col("row").cast(pl.Int64),
        pl.lit(column, pl.String).alias("column"),
        pl.lit(said, pl.String).alias("rule"),
    )


def _item(frame: pl.DataFrame, names: tuple[str, ...], dtype: pl.DataType) -> pl.Expr:
    held = [pl.col(n) for n in names if n in frame.columns]
    return (pl.coalesce(held) if held else pl.lit(None)).cast(dtype)


def schools(modules: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Each school the census holds, from its ``schoolcensus`` and ``school`` modules: its ``laestab`` (the council's
    three digits and its own four), URN, name, phase and council."""
    census = modules.get("schoolcensus")
    if census is None:
        return pl.DataFrame(schema=_SCHOOLS)
    frame = census.select("NativeId", "schoolcensustableid", "lea", "estab", pl.col("urn").cast(pl.String))
    school = modules.get("school")
    named = (
        school.select("NativeId", "schoolcensustableid", pl.col("schoolname").alias("name"), "phase")
        if school is not None
        else pl.DataFrame(
            schema={"NativeId": pl.String, "schoolcensustableid": pl.String, "name": pl.String, "phase": pl.String}
        )
    )
    joined = frame.join(named, on=["NativeId", "schoolcensustableid"], how="left")
    return joined.select(
        "NativeId", (pl.col("lea") + pl.col("estab")).alias("laestab"), "urn", "name", "phase", "lea"
    ).unique("NativeId", keep="first", maintain_order=True)


def schools_of(held: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    """The census's ``schools`` table: each school its pupils are at, with what its ``schoolcensus`` row gives."""
    at = people.select("laestab").unique(maintain_order=True)
    return at.join(held.select("laestab", "urn", "name", "phase"), on="laestab", how="left")


def one_council(held: pl.DataFrame) -> None:
    """InvalidInput when the census holds two councils' schools: one council's census is sent at a time."""
    councils = sorted(held.get_column("lea").drop_nulls().unique().to_list())
    if len(councils) > 1:
        raise InvalidInput(
            f"the files hold schools of {len(councils)} councils (DfE's numbers {name_a_few(councils)}): a census is "
            "one council's schools; send each council's apart"
        )


def census_day(modules: dict[str, pl.DataFrame]) -> date | None:
    """The census day, the ``schoolcensus`` module's reference date; None when the files hold no such module."""
    census = modules.get("schoolcensus")
    days = census.get_column("referencedate").drop_nulls() if census is not None else pl.Series([], dtype=pl.Date)
    day = days.max() if days.len() else None
    return day if isinstance(day, date) else None


def pupils(modules: dict[str, pl.DataFrame], held: pl.DataFrame) -> pl.DataFrame:
    """Every pupil of the pupil modules, numbered (``pupil``), with their school's LAESTAB and URN (a school with no
    ``schoolcensus`` row keeps its ``NativeId`` as its LAESTAB), where each came from, and sessions possible."""
    parts = []
    for module, on_roll in PUPIL_MODULES.items():
        frame = modules.get(module)
        if frame is None:
            continue
        possible = [c for c in frame.columns if c.endswith(ATTENDANCE_ITEMS)]
        parts.append(
            frame.select(
                "file",
                "table",
                "row",
                "NativeId",
                pl.col(f"{module}tableid").alias("tableid"),
                pl.lit(on_roll).alias("on_roll"),
                *(_item(frame, names, PUPILS[item]).alias(item) for item, names in _ITEMS.items()),
                *possible,
            )
        )
    if not parts:
        return pl.DataFrame(schema={**PUPILS, "file": pl.String, "table": pl.String, "row": pl.Int64})
    joined = (
        pl.concat(parts, how="diagonal_relaxed").with_row_index("pupil").with_columns(pl.col("pupil").cast(pl.Int64))
    )
    joined = joined.join(held.select("NativeId", "laestab", "urn"), on="NativeId", how="left")
    return joined.with_columns(
        pl.coalesce("laestab", "NativeId").alias("laestab"), pl.lit(None, pl.String).alias("primary_need")
    )


def _keyed(frame: pl.DataFrame, people: pl.DataFrame, found: list[pl.DataFrame]) -> pl.DataFrame:
    """A child module's rows with their ``pupil``; a row whose pupil is in no pupil module is refused."""
    parent = "pupilonrolltableid" if "pupilonrolltableid" in frame.columns else "pupilnolongeronrolltableid"
    keys = people.filter(pl.col("on_roll") == (parent == "pupilonrolltableid")).select("NativeId", "tableid", "pupil")
    joined = frame.join(keys, left_on=["NativeId", parent], right_on=["NativeId", "tableid"], how="left")
    orphans = joined.filter(pl.col("pupil").is_null())
    if orphans.height:
        found.append(refused(orphans, parent, f"no pupil in the {parent[:-7]} table has this table id"))
    return joined.filter(pl.col("pupil").is_not_null())


def children(
    modules: dict[str, pl.DataFrame], people: pl.DataFrame, found: list[pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """The pupils' sessions possible and by attendance code, exclusions and free meals periods, each joined to its
    pupil; each row refused by a check appended to ``found``."""
    sessions, exclusions, fsm = [], [], []
    for name, frame in modules.items():
        if name in PUPIL_MODULES or not {"pupilonrolltableid", "pupilnolongeronrolltableid"} & set(frame.columns):
            continue
        if "sessiondetails" in name:
            count = "sessions" if "sessions" in frame.columns else "absencesessions"
            sessions.append(
                _keyed(frame, people, found).select(
                    "pupil",
                    pl.lit(name.split("sessiondetails")[0]).alias("period"),
                    pl.col("attendancereason").alias("code"),
                    pl.col(count).alias("sessions"),
                )
            )
        elif "exclusions" in name:
            exclusions.append(
                _keyed(frame, people, found).select(
                    "pupil",
                    "category",
                    pl.col("startdate").alias("started"),
                    "sessions",
                    _item(frame, ("reason1", "reason"), pl.String()).alias("reason"),
                )
            )
        elif name.startswith("fsmperiod"):
            periods = _keyed(frame, people, found)
            backwards = periods.filter(pl.col("fsmenddate") < pl.col("fsmstartdate"))
            found.append(refused(backwards, "fsmenddate", "the period ends before it starts"))
            fsm.append(
                periods.select("pupil", pl.col("fsmstartdate").alias("started"), pl.col("fsmenddate").alias("ended"))
            )
    return {
        "possible": _possible(people),
        "sessions": _stacked(sessions, SESSIONS)
        .drop_nulls(["code", "sessions"])
        .group_by("pupil", "period", "code", maintain_order=True)
        .agg(pl.col("sessions").sum()),
        "exclusions": _stacked(exclusions, EXCLUSIONS),
        "fsm": _stacked(fsm, FSM),
    }


def _stacked(parts: list[pl.DataFrame], columns: dict[str, pl.DataType]) -> pl.DataFrame:
    frame = pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame(schema=columns)
    return frame.select(pl.col(c).cast(t) for c, t in columns.items())


def _possible(people: pl.DataFrame) -> pl.DataFrame:
    """Each pupil's sessions possible in each period, with the period's authorised and unauthorised totals where the
    schema has them (blank where it has not)."""
    periods = [c.removesuffix("sessionspossible") for c in people.columns if c.endswith("sessionspossible")]
    parts = [
        people.select(
            "pupil",
            pl.lit(period).alias("period"),
            pl.col(f"{period}sessionspossible").alias("sessions"),
            *(
                (pl.col(name) if name in people.columns else pl.lit(None)).alias(total)
                for total, name in ((t, f"{period}sessions{t}") for t in ("authorised", "unauthorised"))
            ),
        ).drop_nulls("sessions")
        for period in periods
    ]
    return _stacked(parts, POSSIBLE)


def with_needs(modules: dict[str, pl.DataFrame], people: pl.DataFrame, found: list[pl.DataFrame]) -> pl.DataFrame:
    """The pupils with their SEN need of rank 1, where the term's census has the ``senneeds`` module."""
    needs = modules.get("senneeds")
    if needs is None:
        return people
    first = _keyed(needs, people, found).filter(pl.col("sentyperank") == 1)
    first = first.unique("pupil", keep="first").select("pupil", pl.col("sentype").alias("need"))
    return people.join(first, on="pupil", how="left").with_columns(pl.col("need").alias("primary_need")).drop("need")


def pupil_refusals(people: pl.DataFrame, made: dict[str, pl.DataFrame]) -> list[pl.DataFrame]:
    """A pupil on roll twice at one school (by UPN), and a pupil with more sessions missed than possible in a period:
    its authorised and unauthorised totals where the schema has them, else the sessions under the codes DfE counts as
    absence (``collectors/census/schemas/attendance_codes.csv``)."""
    twice = people.filter(pl.col("on_roll") & pl.col("upn").is_not_null()).filter(pl.len().over("laestab", "upn") > 1)
    by_code = (
        made["sessions"]
        .filter(pl.col("code").is_in(sorted(missed_codes())))
        .group_by("pupil", "period")
        .agg(pl.col("sessions").sum().alias("by_code"))
    )
    totals = pl.col("authorised").is_not_null() | pl.col("unauthorised").is_not_null()
    missed = (
        made["possible"]
        .join(by_code, on=["pupil", "period"], how="left")
        .with_columns(
            missed=pl.when(totals)
            .then(pl.col("authorised").fill_null(0) + pl.col("unauthorised").fill_null(0))
            .otherwise(pl.col("by_code"))
        )
        .filter(pl.col("missed") > pl.col("sessions"))
        .join(people.select("pupil", "file", "table", "row"), on="pupil")
    )
    over = [
        refused(
            missed.filter(pl.col("period") == period),
            f"{period}sessionspossible",
            "more sessions missed than possible in the period",
        )
        for period in missed.get_column("period").unique().sort().to_list()
    ]
    return [refused(twice, "upn", "the pupil is on roll twice at one school"), *over]
