"""A school census made for given children: COLLECT's blade CSVs for one year and term, valid by that year's and
term's schema (``collectors.census.schema``), holding the children asked for and any number of made-up pupils beside
them, with their sessions, exclusions and free school meal periods. Everything is made up and deterministic from a
seed; the tests, the demo and the benchmark read it.

Pupils are the same in every census made with one seed (their UPN, birth, school, exclusions and meal periods), so
two censuses made in turn report the exclusions of the term they share twice, as the census does: an exclusion is
in each census whose two terms in arrears hold its start (the made-up terms: autumn September to December, spring
January to March, summer April to August). Sessions are made afresh for each census."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from collectors.census.blades import CENSUS_DAYS
from collectors.census.schema import DATE_FORMAT, Table, schema_for
from collectors.figures.identifiers import upn_check_letter

#: Absence codes sessions are made under, and the made-up share of absence rows each takes.
_ABSENT = {"I": 0.45, "M": 0.12, "C": 0.08, "O": 0.12, "G": 0.06, "N": 0.05, "U": 0.04, "E": 0.03, "R": 0.02, "H": 0.03}
#: SEN need codes (DfE's, as its statistics dictionary gives them) a made-up pupil with SEN is given.
_NEEDS = ("ASD", "SEMH", "SLCN", "MLD", "SPLD", "HI", "VI", "PD", "SLD", "OTH")
_REASONS = ("PP", "PA", "VP", "VA", "OW", "BU", "DA", "DM", "TH", "DB")
#: Made-up exclusions start between these days.
_EXCLUDED_FROM, _EXCLUDED_TO = date(2023, 9, 1), date(2026, 8, 31)
_TERM_CODES = {"autumn": "AUT", "spring": "SPR", "summer": "SUM"}
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Child:
    """A child the census is made to hold: UPN, birth, sex (M or F), SEN ``provision`` (E a plan, K SEN support, N
    none) and school (LAESTAB, and URN: None, the made-up URN of the LAESTAB's school)."""

    upn: str
    born: date
    sex: str
    provision: str
    laestab: str
    urn: str | None
    #: Sessions missed by absence code in the term each census reports (``(("I", 4), ("O", 2))``), the rest present;
    #: None: made up, as any pupil's are.
    absences: tuple[tuple[str, int], ...] | None = None
    #: Exclusions (start, category, sessions), each in every census whose two terms in arrears hold its start; None:
    #: made up, as any pupil's are.
    exclusions: tuple[tuple[date, str, int], ...] | None = None


def made_upn(lea: str, serial: int) -> str:
    """A made-up UPN with DfE's check letter: the council's number, then nine digits of ``serial``."""
    digits = f"{lea}{serial % 10**9:09d}"
    return upn_check_letter(digits) + digits


def default_day(year: int, term: str) -> date:
    """The census day a made-up census is given: DfE's for 2024-25, else the same day of the month."""
    return (
        CENSUS_DAYS.get((year, term))
        or {
            "autumn": date(year, 10, 3),
            "spring": date(year, 1, 16),
            "summer": date(year, 5, 15),
        }[term]
    )


def write_census(
    folder: Path,
    children: Sequence[Child],
    *,
    year: int,
    term: str,
    source: str = "la",
    **made: Any,
) -> list[tuple[str, Path]]:
    """Write the census's blades (``census_blades``, given ``made``: its others, seed, lea and schools) into ``folder``
    as COLLECT names them (``2024_autumn_la_pupilonroll.csv``); return each (name, path)."""
    written = []
    for module, frame in census_blades(children, year=year, term=term, **made).items():
        path = folder / f"{year}_{term}_{source}_{module}.csv"
        frame.write_csv(path)
        written.append((path.name, path))
    return written


def census_blades(
    children: Sequence[Child],
    *,
    year: int,
    term: str,
    others: int = 0,
    seed: int = 0,
    lea: str = "891",
    schools: int = 20,
    planned: float = 0.025,
) -> dict[str, pl.DataFrame]:
    """The census's blades by module, every column of its schema in order, every cell text as COLLECT writes it;
    ``planned``: the share of the made-up pupils with an EHC plan (none where every child with a plan is one given, as
    a council's SEN2 children are)."""
    schema = schema_for(year, term)
    day = default_day(year, term)
    people = _people(children, others, seed, lea, schools, planned)
    at = _schools(people)
    people = _on_roll(people, year, term, day)
    rng = np.random.default_rng([seed, year, list(_TERM_CODES).index(term)])
    tables = {
        "schoolcensus": _schoolcensus(at, year, term, day),
        "school": at.select(
            "NativeId",
            "schoolcensustableid",
            pl.format("Made-up school {}", "laestab").alias("schoolname"),
            pl.lit("PS").alias("phase"),
        ),
        "pupilonroll": people,
        **_sessions(people, rng, schema, children),
        **_exclusions(people, seed, year, term, schema, children),
        **_meals(people, day, seed, schema),
        **_needs(people, schema),
        **_addresses(people, schema),
    }
    return {module: _laid_out(schema[module], frame) for module, frame in tables.items() if module in schema}


def _people(
    children: Sequence[Child], others: int, seed: int, lea: str, schools: int, planned: float = 0.025
) -> pl.DataFrame:
    """Every pupil: the children given, then ``others`` made from the seed alone (the same in every term), SEN support
    13% of them and ``planned`` of them with an EHC plan."""
    rng = np.random.default_rng(seed)
    laestabs = [f"{lea}{2000 + n:04d}" for n in range(schools)]
    start = (date(2008, 9, 1) - _EPOCH).days
    born = rng.integers(start, start + 12 * 365, others)
    provision = rng.choice(["N", "K", "E"], others, p=[0.87 - planned, 0.13, planned])
    made = pl.DataFrame(
        {
            "upn": [made_upn(lea, seed * 1_000_003 + n) for n in range(others)],
            "born": pl.Series(born, dtype=pl.Int32).cast(pl.Date),
            "sex": rng.choice(["M", "F"], others),
            "provision": provision,
            "laestab": np.array(laestabs)[rng.integers(0, schools, others)],
        }
    )
    given = pl.DataFrame(
        [(c.upn, c.born, c.sex, c.provision, c.laestab, c.urn) for c in children],
        schema={
            "upn": pl.String,
            "born": pl.Date,
            "sex": pl.String,
            "provision": pl.String,
            "laestab": pl.String,
            "urn": pl.String,
        },
        orient="row",
    )
    people = pl.concat([given, made], how="diagonal_relaxed").with_row_index("n")
    urns = pl.col("laestab").str.slice(3).cast(pl.Int64, strict=False).fill_null(0) + 100_000 + seed % 1000 * 100
    return people.with_columns(pl.coalesce("urn", urns.cast(pl.String)).alias("urn"))


def _schools(people: pl.DataFrame) -> pl.DataFrame:
    at = people.group_by("laestab", maintain_order=True).agg(pl.col("urn").first())
    return at.with_columns(
        pl.col("laestab").alias("NativeId"), pl.format("SC{}", "laestab").alias("schoolcensustableid")
    )


def _schoolcensus(at: pl.DataFrame, year: int, term: str, day: date) -> pl.DataFrame:
    return at.select(
        "NativeId",
        "schoolcensustableid",
        pl.lit("School Census").alias("name"),
        pl.lit("SC").alias("collection"),
        pl.lit(_TERM_CODES[term]).alias("term"),
        pl.lit(str(year)).alias("year"),
        pl.lit(day).alias("referencedate"),
        pl.lit("S").alias("sourcelevel"),
        pl.col("laestab").str.slice(3).alias("estab"),
        pl.col("laestab").str.slice(0, 3).alias("lea"),
        pl.lit("MADEUP").alias("softwarecode"),
        "urn",
    )


def _on_roll(people: pl.DataFrame, year: int, term: str, day: date) -> pl.DataFrame:
    """The pupils as the ``pupilonroll`` blade holds them, with their national curriculum year on census day."""
    autumn = year if term == "autumn" else year - 1
    cohort = pl.col("born").dt.year() - (pl.col("born").dt.month() < 9).cast(pl.Int32)
    age = autumn - cohort
    ncyear = pl.when(age == 5).then(pl.lit("R")).when(age.is_between(6, 16)).then((age - 5).cast(pl.String))
    return people.with_columns(
        pl.col("laestab").alias("NativeId"),
        pl.format("P{}", "n").alias("pupilonrolltableid"),
        pl.format("SC{}", "laestab").alias("schoolcensustableid"),
        pl.col("born").alias("dob"),
        pl.format("Made-up-{}", "n").alias("surname"),
        pl.lit("Pupil").alias("forename"),
        pl.lit(day - timedelta(days=400)).alias("entrydate"),
        pl.lit("C").alias("enrolstatus"),
        ncyear.fill_null("X").alias("ncyearactual"),
        pl.col("provision").alias("senprovision"),
        pl.lit("N").alias("plaa"),
        pl.lit("N").alias("servicechild"),
        pl.lit("WBRI").alias("ethnicity"),
        pl.lit(126).alias("termlysessionspossible"),
        pl.lit(60).alias("summerhalfterm2sessionspossible"),
    )


def _given(children: Sequence[Child], field: str) -> tuple[list[int], list[tuple[object, ...]]]:
    """The children (by number) whose ``field`` is given, and its rows, each led by the child's number."""
    chosen = [(n, getattr(c, field)) for n, c in enumerate(children) if getattr(c, field) is not None]
    return [n for n, _ in chosen], [(n, *row) for n, rows in chosen for row in rows]


def _sessions(
    people: pl.DataFrame, rng: np.random.Generator, schema: dict[str, Table], children: Sequence[Child]
) -> dict[str, pl.DataFrame]:
    """Each pupil's sessions by code in each period the census reports: a few absence codes (a child's own where
    given, in the term the census reports), the rest present (``/`` mornings, ``\\`` afternoons)."""
    fixed, given = _given(children, "absences")
    own = pl.DataFrame(given, schema={"n": pl.Int64, "attendancereason": pl.String, "sessions": pl.Int64}, orient="row")
    made = {}
    for period, possible in (("termly", 126), ("summerhalfterm2", 60)):
        module = f"{period}sessiondetailsonroll"
        if module not in schema:
            continue
        count = people.height
        rows = rng.poisson(1.5 if period == "termly" else 0.6, count).clip(0, 4)
        pupil = np.repeat(np.arange(count), rows)
        absent = pl.DataFrame(
            {
                "n": pupil,
                "attendancereason": rng.choice(list(_ABSENT), len(pupil), p=list(_ABSENT.values())),
                "sessions": rng.integers(1, 8, len(pupil)),
            }
        ).unique(["n", "attendancereason"], keep="first", maintain_order=True)
        absent = absent.with_columns(pl.col("n").cast(pl.Int64), pl.col("sessions").cast(pl.Int64)).filter(
            ~pl.col("n").is_in(fixed)
        )
        absent = pl.concat([absent, own] if period == "termly" else [absent])
        missed = absent.group_by("n").agg(pl.col("sessions").sum().alias("missed"))
        present = (
            pl.DataFrame({"n": np.arange(count)})
            .join(missed, on="n", how="left")
            .with_columns((possible - pl.col("missed").fill_null(0)).clip(0).alias("left"))
        )
        halves = [
            present.select("n", pl.lit(code).alias("attendancereason"), (pl.col("left") // 2 + extra).alias("sessions"))
            for code, extra in (("/", pl.col("left") % 2), ("\\", 0))
        ]
        frame = pl.concat([absent, *halves], how="vertical_relaxed")
        made[module] = _children_of(people, frame.sort("n"))
    return made


def _children_of(people: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    keys = people.select(pl.col("n").cast(pl.Int64), "NativeId", "pupilonrolltableid")
    return frame.with_columns(pl.col("n").cast(pl.Int64)).join(keys, on="n", maintain_order="left")


def _exclusions(
    people: pl.DataFrame, seed: int, year: int, term: str, schema: dict[str, Table], children: Sequence[Child]
) -> dict[str, pl.DataFrame]:
    """The exclusions whose start is in the two terms before the census's, from the pupils' histories (a child's own
    where given, else made up)."""
    module = "termlyexclusionsonroll"
    if module not in schema:
        return {}
    rng = np.random.default_rng([seed, 903])
    count = people.height
    many = rng.poisson(0.36, count)
    pupil = np.repeat(np.arange(count), many)
    span = (_EXCLUDED_TO - _EXCLUDED_FROM).days
    frame = pl.DataFrame(
        {
            "n": pupil,
            "startdate": pl.Series(rng.integers(0, span, len(pupil)) + (_EXCLUDED_FROM - _EPOCH).days)
            .cast(pl.Int32)
            .cast(pl.Date),
            "category": rng.choice(["SUSP", "LNCH", "PERM"], len(pupil), p=[0.87, 0.10, 0.03]),
            "sessions": rng.integers(1, 11, len(pupil)),
            "reason1": rng.choice(list(_REASONS), len(pupil)),
        }
    )
    fixed, given = _given(children, "exclusions")
    own = pl.DataFrame(
        given, schema={"n": pl.Int64, "startdate": pl.Date, "category": pl.String, "sessions": pl.Int64}, orient="row"
    )
    frame = frame.with_columns(pl.col("n").cast(pl.Int64), pl.col("sessions").cast(pl.Int64))
    frame = pl.concat([frame.filter(~pl.col("n").is_in(fixed)), own], how="diagonal_relaxed")
    first, last = _window(year, term)
    frame = frame.filter(pl.col("startdate").is_between(first, last))
    return {module: _children_of(people, frame)}


def _window(year: int, term: str) -> tuple[date, date]:
    """The two terms before the census's (made-up terms: autumn September-December, spring January-March, summer
    April-August)."""
    if term == "autumn":
        return date(year, 1, 1), date(year, 8, 31)
    if term == "spring":
        return date(year - 1, 4, 1), date(year - 1, 12, 31)
    return date(year - 1, 9, 1), date(year, 3, 31)


def _meals(people: pl.DataFrame, day: date, seed: int, schema: dict[str, Table]) -> dict[str, pl.DataFrame]:
    """A free meals period for about a quarter of the pupils, a third of them ended before census day."""
    module = next((m for m in schema if m.startswith("fsmperiod") and "pupilonrolltableid" in schema[m].columns), None)
    if module is None:
        return {}
    rng = np.random.default_rng([seed, 5])
    count = people.height
    chosen = np.flatnonzero(rng.random(count) < 0.25)
    begun = rng.integers(60, 6 * 365, len(chosen))
    ended = np.where(rng.random(len(chosen)) < 1 / 3, begun - rng.integers(1, 59, len(chosen)), -1)
    today = (day - _EPOCH).days
    frame = pl.DataFrame({"n": chosen, "fsmstartdate": today - begun, "fsmenddate": today - ended}).with_columns(
        pl.col("fsmstartdate").cast(pl.Int32).cast(pl.Date),
        pl.when(pl.col("fsmenddate") <= today).then(pl.col("fsmenddate")).cast(pl.Int32).cast(pl.Date),
        pl.lit("ENG").alias("ukcountry"),
    )
    return {module: _children_of(people, frame)}


def _needs(people: pl.DataFrame, schema: dict[str, Table]) -> dict[str, pl.DataFrame]:
    """The SEN need of rank 1 of each pupil with a plan or SEN support, where the term's census has it."""
    if "senneeds" not in schema:
        return {}
    sen = people.filter(pl.col("provision").is_in(["E", "K"])).select("n")
    frame = sen.with_columns(
        pl.lit(1).alias("sentyperank"),
        pl.col("n").mod(len(_NEEDS)).replace_strict(dict(enumerate(_NEEDS)), return_dtype=pl.String).alias("sentype"),
    )
    return {"senneeds": _children_of(people, frame)}


def _addresses(people: pl.DataFrame, schema: dict[str, Table]) -> dict[str, pl.DataFrame]:
    """An address blade (a made-up postcode only), which a reader passes over unread."""
    module = next((m for m in schema if m.startswith("addresses") and "pupilonrolltableid" in schema[m].columns), None)
    if module is None:
        return {}
    return {module: _children_of(people, people.select("n", pl.lit("ZZ99 9ZZ").alias("postcode")))}


def _laid_out(table: Table, frame: pl.DataFrame) -> pl.DataFrame:
    """Every column of the module in the schema's order as text (dates as COLLECT writes them), the ones not made
    blank; the ids and order every blade has filled."""
    key = f"{table.name}tableid"
    frame = frame.with_row_index("seq", offset=1).with_columns(
        pl.col("seq").cast(pl.String).alias(f"{table.name}orderseqcolumn"), pl.lit("MADEUP").alias("sourceid")
    )
    if key not in frame.columns:
        frame = frame.with_columns(pl.format("{}{}", pl.lit(table.name[:4].upper()), "seq").alias(key))
    cells = []
    for name, column in table.columns.items():
        if name not in frame.columns:
            cells.append(pl.lit(None, pl.String).alias(name))
        elif column.kind == "date":
            cells.append(pl.col(name).cast(pl.Datetime).dt.strftime(DATE_FORMAT).alias(name))
        else:
            cells.append(pl.col(name).cast(pl.String).alias(name))
    return frame.select(cells)


def seed_of(text: str) -> int:
    """A seed from a text (a council's name, say), the same on every machine."""
    return zlib.crc32(text.encode())
