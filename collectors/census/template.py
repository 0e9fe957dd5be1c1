"""The census for a council whose system cannot export COLLECT's blades: the service's own slim template, one row per
pupil's enrolment in the census with the items the lists need, read into the same tables with the same checks as the
blades (its codes are the year's and term's schema's); and DfE's GIAP downloads (pupil premium, census) known by
their headings (``collectors/census/schemas/giap_download_fields.csv``).

The template's columns, for a year and term, are :func:`template_columns`; ``docs/census.md`` says what each holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from functools import cache
from pathlib import Path

import polars as pl

from collectors.census import blades
from collectors.census.blades import MAX_BYTES, CensusRead
from collectors.census.records import PREMIUM, CensusRecords, conformed, empty
from collectors.census.schema import FOLDER, Column, Table, missed_codes, schema_for
from collectors.census.tables import REFUSALS
from onereturn.errors import InvalidInput
from onereturn.listing import clip, name_a_few
from onereturn.settings import get_settings
from onereturn.workspace import private_folder

#: How many exclusions one row of the template holds.
EXCLUSIONS = 3
#: The pupil's items, each read as the year's and term's ``pupilonroll`` column of the same name reads it (``sex`` is
#: ``gender`` in the schemas before 2023).
PUPIL_ITEMS = (
    "upn",
    "formerupn",
    "uniquelearnernumber",
    "sex",
    "enrolstatus",
    "ncyearactual",
    "senprovision",
    "plaa",
    "servicechild",
)
GIAP = FOLDER / "giap_download_fields.csv"
#: GIAP's downloads the service reads, by their record's name in ``giap_download_fields.csv``.
GIAP_PREMIUM = "PupilPremiumOutputRecord"
GIAP_CENSUS = ("CensusAutumnOutputRecord", "CensusSpringOutputRecord", "CensusSummerOutputRecord")
#: GIAP's pupil premium columns, by the premium table's column they fill: each an integer in GIAP's own record
#: (``int?``), read as true when above nought (a reading: GIAP's code gives the type, not the values).
_PREMIUMS = {
    "fsm_ever6": "Deprivation Pupil Premium",
    "service_child": "Service Child Premium",
    "adopted_from_care": "Adopted from Care Premium",
    "looked_after": "Looked After Premium",
}
#: GIAP's census columns, by the pupil item they fill.
_GIAP_PUPIL = {
    "upn": "UPN",
    "formerupn": "FormerUPN",
    "sex": "Sex",
    "born": "DOB",
    "laestab": "LAEstab",
    "urn": "URN",
    "enrolstatus": "EnrolStatus",
    "entered": "EntryDate",
    "ncyear": "NCyearActual",
    "senprovision": "SENProvision",
    "primary_need": "PrimarySENeedsType",
}


def template_table(year: int, term: str) -> Table:
    """The slim template's columns for a year and term, each with the kind and codes its census's schema gives."""
    schema = schema_for(year, term)
    pupil = schema["pupilonroll"].columns
    excluded = schema["termlyexclusionsonroll"].columns
    codes = next(t.columns["attendancereason"].codes for n, t in schema.items() if "sessiondetails" in n)
    columns = [Column("laestab", "laestab", False), Column("urn", "urn", True)]
    # An item a year's schema lacks (``plaa`` before 2016) is read as text; ``sex`` was ``gender`` before 2023.
    same = [pupil.get(i) or pupil.get("gender" if i == "sex" else i) or Column(i, "string", True) for i in PUPIL_ITEMS]
    columns += [replace(column, name=i) for i, column in zip(PUPIL_ITEMS, same, strict=True)]
    columns += [Column(c, "day", c not in ("dob",)) for c in ("dob", "entrydate", "leavingdate")]
    columns += [
        Column("sentype", "string", True),
        Column("fsmstartdate", "day", True),
        Column("fsmenddate", "day", True),
        Column("termlysessionspossible", "integer", True),
    ]
    columns += [Column(f"sessions_{code}", "integer", True) for code in sorted(missed_codes() & codes)]
    for k in range(1, EXCLUSIONS + 1):
        columns += [
            replace(excluded["category"], name=f"exclusion{k}_category"),
            Column(f"exclusion{k}_startdate", "day", True),
            Column(f"exclusion{k}_sessions", "integer", True),
            replace(excluded.get("reason1") or excluded["reason"], name=f"exclusion{k}_reason"),
        ]
    return Table("template", {c.name: c for c in columns})


def template_columns(year: int, term: str) -> list[str]:
    """The slim template's heading for a year and term."""
    return list(template_table(year, term).columns)


def read_template(
    files: Sequence[tuple[str, Path]],
    *,
    year: int | None = None,
    term: str | None = None,
    source: str | None = None,
    census_day: date | None = None,
    max_bytes: int = MAX_BYTES,
) -> CensusRead:
    """Read and check a census sent in the slim template (one CSV, or several of one census); the census day given or
    DfE's where the service knows it."""
    refusals: list[pl.DataFrame] = []
    frames = []
    with private_folder(get_settings(), "census-") as workdir:
        sent = list(blades.unpacked(files, workdir, max_bytes))
        year, term, source = blades.census_of(sent, year, term, source)
        table = template_table(year, term)
        for name, path in sent:
            heading = blades.heading_of(name, path)
            missing = [c for c in table.columns if c not in heading]
            if missing:
                raise InvalidInput(f"{clip(name)} is not the census template: it has no {name_a_few(missing)} column")
            text = blades.read_text(name, path, list(table.columns))
            blades.no_formulas(name, text, list(table.columns))
            frame, refused = blades.checked(name, table, text)
            frames.append(frame)
            refusals.append(refused)
    day = census_day or blades.known_day(year, term)
    return blades.assembled(_modules(pl.concat(frames), day), year, term, source, refusals)


def _modules(frame: pl.DataFrame, day: date) -> dict[str, pl.DataFrame]:
    """The template's rows as the census's modules: pupils on roll and not (a leaving date), their sessions by code,
    exclusions, free meals period, need of rank 1, and a ``schoolcensus`` row a school."""
    frame = frame.with_columns(pl.col("laestab").alias("NativeId"), pl.col("row").cast(pl.String).alias("tableid"))
    modules: dict[str, pl.DataFrame] = {
        "schoolcensus": frame.filter(pl.col("laestab").is_not_null())
        .group_by("laestab", maintain_order=True)
        .agg(pl.col("urn").drop_nulls().first())
        .select(
            pl.col("laestab").alias("NativeId"),
            pl.lit("template").alias("schoolcensustableid"),
            pl.col("laestab").str.slice(0, 3).alias("lea"),
            pl.col("laestab").str.slice(3).alias("estab"),
            "urn",
            pl.lit(day).alias("referencedate"),
        )
    }
    sessions = [c for c in frame.columns if c.startswith("sessions_")]
    for on_roll, module in ((True, "pupilonroll"), (False, "pupilnolongeronroll")):
        rows = frame.filter(pl.col("leavingdate").is_null() == on_roll)
        parent = pl.col("tableid").alias(f"{module}tableid")
        where = ("file", "table", "row", "NativeId", parent)
        modules[module] = rows.select(*where, *PUPIL_ITEMS, "dob", "entrydate", "leavingdate", "termlysessionspossible")
        suffix = "onroll" if on_roll else "offroll"
        modules[f"termlysessiondetails{suffix}"] = (
            rows.unpivot(sessions, index=["file", "table", "row", "NativeId", "tableid"], value_name="sessions")
            .drop_nulls("sessions")
            .select(*where, pl.col("variable").str.strip_prefix("sessions_").alias("attendancereason"), "sessions")
        )
        modules[f"termlyexclusions{suffix}"] = pl.concat(
            rows.select(
                *where,
                *(
                    pl.col(f"exclusion{k}_{c}").alias(c if c != "reason" else "reason1")
                    for c in ("category", "startdate", "sessions", "reason")
                ),
            )
            for k in range(1, EXCLUSIONS + 1)
        ).filter(pl.any_horizontal(pl.col(c).is_not_null() for c in ("category", "startdate", "sessions")))
        modules[f"fsmperiod{suffix}"] = rows.filter(pl.col("fsmstartdate").is_not_null()).select(
            *where, "fsmstartdate", "fsmenddate"
        )
    modules["senneeds"] = frame.filter(pl.col("leavingdate").is_null() & pl.col("sentype").is_not_null()).select(
        "file",
        "table",
        "row",
        "NativeId",
        pl.col("tableid").alias("pupilonrolltableid"),
        pl.lit(1).alias("sentyperank"),
        "sentype",
    )
    return modules


@cache
def giap_headings() -> dict[str, frozenset[str]]:
    """Each GIAP download's columns, by its record's name."""
    fields = pl.read_csv(GIAP, infer_schema=False).group_by("dataset_record", maintain_order=True).agg("column_header")
    return {record: frozenset(columns) for record, columns in fields.iter_rows()}


def read_giap(
    files: Sequence[tuple[str, Path]],
    *,
    year: int,
    term: str,
    source: str,
    census_day: date | None = None,
) -> CensusRead:
    """Read GIAP's pupil premium download into ``premium`` and its census downloads into ``pupils``, each known by its
    heading; InvalidInput for a file that is none of them."""
    refusals: list[pl.DataFrame] = []
    premium: list[pl.DataFrame] = []
    pupils: list[pl.DataFrame] = []
    codes = schema_for(year, term)["pupilonroll"].columns
    for name, path in files:
        record = _giap_record(name, blades.heading_of(name, path))
        table = _giap_table(record, codes)
        text = blades.read_text(name, path, list(table.columns))
        blades.no_formulas(name, text, list(table.columns))
        frame, refused = blades.checked(name, table, text)
        refusals.append(refused)
        (premium if record == GIAP_PREMIUM else pupils).append(frame)
    records = CensusRecords(
        year,
        term,
        census_day or blades.known_day(year, term),
        source,
        pupils=_giap_pupils(pupils),
        possible=empty("possible"),
        sessions=empty("sessions"),
        exclusions=empty("exclusions"),
        fsm=empty("fsm"),
        schools=empty("schools"),
        premium=_premium(premium),
    )
    found = pl.concat([r for r in refusals if r.height] or [pl.DataFrame(schema=REFUSALS)])
    return CensusRead(conformed(records), found, records.pupils.height)


def _giap_record(name: str, heading: list[str]) -> str:
    record = next((r for r, columns in giap_headings().items() if columns == frozenset(heading)), None)
    if record is None:
        raise InvalidInput(f"{clip(name)} is none of GIAP's downloads: its heading is not one GIAP writes")
    if record != GIAP_PREMIUM and record not in GIAP_CENSUS:
        raise InvalidInput(
            f"{clip(name)} is GIAP's {record.removesuffix('OutputRecord')} download: the service reads GIAP's pupil "
            "premium and census downloads"
        )
    return record


def _giap_table(record: str, codes: dict[str, Column]) -> Table:
    if record == GIAP_PREMIUM:
        columns = [replace(codes["upn"], name="UPN")]
        columns += [Column(header, "integer", True) for header in _PREMIUMS.values()]
    else:
        kinds = {"DOB": "day", "EntryDate": "day", "LAEstab": "laestab", "URN": "urn"}
        same = {
            "UPN": "upn",
            "FormerUPN": "formerupn",
            "Sex": "sex",
            "EnrolStatus": "enrolstatus",
            "NCyearActual": "ncyearactual",
            "SENProvision": "senprovision",
        }
        columns = [replace(codes[item], name=header) for header, item in same.items() if item in codes]
        columns += [Column(h, k, True) for h, k in kinds.items()] + [Column("PrimarySENeedsType", "string", True)]
    return Table(record, {c.name: c for c in columns})


def _premium(frames: list[pl.DataFrame]) -> pl.DataFrame:
    if not frames:
        return empty("premium")
    frame = pl.concat(frames, how="diagonal_relaxed")
    flags = (pl.col(header).gt(0).alias(column) for column, header in _PREMIUMS.items())
    return frame.select(pl.col("UPN").alias("upn"), *flags).select(pl.col(c).cast(t) for c, t in PREMIUM.items())


def _giap_pupils(frames: list[pl.DataFrame]) -> pl.DataFrame:
    if not frames:
        return empty("pupils")
    frame = pl.concat(frames, how="diagonal_relaxed").with_row_index("pupil")
    columns = {"pupil": pl.col("pupil"), "on_roll": pl.lit(True)}
    columns |= {item: pl.col(header) for item, header in _GIAP_PUPIL.items() if header in frame.columns}
    return frame.select(*(columns.get(c, pl.lit(None)).cast(t).alias(c) for c, t in empty("pupils").schema.items()))


def read_sent(files: Sequence[tuple[str, Path]], *, max_bytes: int = MAX_BYTES) -> CensusRead:
    """A census however a council sends it, each file told by its heading: COLLECT's blades or the slim template, and
    GIAP's pupil premium download beside either (its flags the census's ``premium``); GIAP's downloads alone are read
    as GIAP's, their year, term and source from their names."""
    with private_folder(get_settings(), "census-") as workdir:
        sent = list(blades.unpacked(files, workdir, max_bytes))
        headings = {name: blades.heading_of(name, path) for name, path in sent}
        known = set(giap_headings().values())
        giap = [(n, p) for n, p in sent if frozenset(headings[n]) in known]
        rest = [(n, p) for n, p in sent if (n, p) not in giap]
        if not rest:
            year, term, source = blades.census_of(giap, None, None, None)
            return read_giap(giap, year=year, term=term, source=source)
        template = all(headings[n][:3] == _TEMPLATE_START for n, _ in rest)
        read = (read_template if template else blades.read_census)(rest, max_bytes=max_bytes)
        if not giap:
            return read
        if any(_giap_record(n, headings[n]) != GIAP_PREMIUM for n, _ in giap):
            raise InvalidInput("GIAP's census downloads are read alone, not beside the census's own files")
        r = read.records
        extra = read_giap(giap, year=r.year, term=r.term, source=r.source, census_day=r.census_day)
        records = conformed(replace(r, premium=pl.concat([r.premium, extra.records.premium])))
        return CensusRead(records, pl.concat([read.refused, extra.refused]), read.pupils_read)


#: The first three columns of every year's slim template (``template_table``).
_TEMPLATE_START = ["laestab", "urn", "upn"]
