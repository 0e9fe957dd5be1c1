"""The school census's schema for a year and term, read as data from the service's copy of the London councils'
schemas (``collectors/census/schemas/``, MIT; where each file comes from and what the copy corrects is in the
``SOURCE.md`` beside them), and DfE's attendance codes with the type each counts as.

A year here is the schema's, as the files' names give it: the autumn census of 2024 is ``2024 autumn``, the spring
census of January 2025 is ``2025 spring``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from collectors.census.records import TERMS
from onereturn.errors import InvalidInput

FOLDER = Path(__file__).with_name("schemas")
SCHEMAS = FOLDER / "school_census_schema_2015_2026.csv"
ATTENDANCE = FOLDER / "attendance_codes.csv"
#: The years whose schemas the service holds.
YEARS = range(2015, 2027)
#: How COLLECT writes a date (``2024-Oct-16 00:00:00``), as every year's schema gives it.
DATE_FORMAT = "%Y-%b-%d %H:%M:%S"
#: What a session under an attendance code counts as (``attendance_codes.csv``'s ``counts_as``) when it is missed.
MISSED = ("authorised absence", "unauthorised absence")


@dataclass(frozen=True)
class Column:
    """One column of a table: its kind (``string``, ``upn``, ``integer``, ``float``, ``date``, ``category``,
    ``postcode``, ``regex``, ``time``; the service's own files add ``day``, ``laestab`` and ``urn``), whether it may
    be blank, and its codes where it is a category."""

    name: str
    kind: str
    blank: bool
    codes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Table:
    """One module of the census (a blade): its columns in the schema's order."""

    name: str
    columns: dict[str, Column]

    @property
    def parent(self) -> str | None:
        """The column naming the row's parent (``pupilonrolltableid`` in a pupil's sessions), if it has one."""
        return next(
            (c for c in self.columns if c.endswith("tableid") and c != f"{self.name}tableid" and c != "NativeId"),
            None,
        )


def _kind(text: str) -> str:
    # The flat table writes a type and its detail together: ``numeric:integer``, ``string:postcode``, ``date:<format>``.
    head, _, detail = text.partition(":")
    if head == "numeric":
        return detail
    if head == "string" and detail in ("postcode", "regex"):
        return detail
    return "string" if head == "string" else head


@cache
def _flat() -> pl.DataFrame:
    return pl.read_csv(SCHEMAS, infer_schema=False)


@cache
def schema_for(year: int, term: str) -> dict[str, Table]:
    """The census's tables for ``year`` and ``term``; InvalidInput naming the years and terms held."""
    if year not in YEARS or term not in TERMS:
        raise InvalidInput(
            f"the service holds the school census's schemas for {YEARS[0]}–{YEARS[-1]} and the terms "
            f"{', '.join(TERMS)}, not {year} {term}"
        )
    rows = _flat().filter(pl.col("year") == str(year), pl.col("term") == term)
    if rows.is_empty():
        raise InvalidInput(f"the service holds no schema for the school census of {year} {term} (2015's is autumn's)")
    tables: dict[str, dict[str, Column]] = {}
    for table, column, kind, blank, codes in rows.select("table", "column", "type", "canbeblank", "codes").iter_rows():
        # A UPN is a string to the schemas; the service checks its check letter too.
        read = "upn" if column in UPN_COLUMNS else _kind(kind)
        tables.setdefault(table, {})[column] = Column(
            column, read, blank == "True", frozenset(codes.split("|")) if codes else frozenset()
        )
    return {name: Table(name, columns) for name, columns in tables.items()}


def module_of(heading: list[str]) -> str | None:
    """The module a blade's heading belongs to: the ``<module>`` of its ``<module>tableid`` column that has its
    ``<module>orderseqcolumn`` beside it (a child's blade carries its parent's table id too)."""
    names = set(heading)
    return next(
        (c[: -len("tableid")] for c in heading if c.endswith("tableid") and f"{c[:-7]}orderseqcolumn" in names),
        None,
    )


@cache
def _headings() -> dict[tuple[str, frozenset[str]], tuple[str, ...]]:
    grouped = _flat().group_by("year", "term", "table", maintain_order=True).agg("column")
    held: dict[tuple[str, frozenset[str]], list[str]] = {}
    for year, term, table, columns in grouped.iter_rows():
        held.setdefault((table, frozenset(columns)), []).append(f"{year} {term}")
    return {key: tuple(value) for key, value in held.items()}


def schemas_with(table: str, heading: list[str]) -> tuple[str, ...]:
    """The years and terms (``2024 autumn``) whose schema gives ``table`` exactly the columns of ``heading``."""
    return _headings().get((table, frozenset(heading)), ())


@cache
def attendance_codes() -> pl.DataFrame:
    """DfE's attendance codes: ``code``, DfE's ``dfe_type`` and what a session under it ``counts_as``."""
    return pl.read_csv(ATTENDANCE, infer_schema=False).select(
        pl.col("census_attendancereason").alias("code"),
        pl.col("dfe_attendance_type").alias("dfe_type"),
        "counts_as",
    )


def missed_codes() -> frozenset[str]:
    """The attendance codes a session is missed under (authorised or unauthorised absence)."""
    codes = attendance_codes().filter(pl.col("counts_as").is_in(MISSED))
    return frozenset(codes.get_column("code").to_list())


#: DfE's check letters, the weighted sum's remainder 0 to 22 in order (I, O and S are never used): the UK Government
#: Data Standards Catalogue, "Unique Pupil Number" 2.0 (govtalk.gov.uk/gdsc, agreed 18 November 2004), validations 1-6;
#: the house's own reading of it for the CIN census is ``collectors.figures.identifiers.upn_check_letter``.
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
#: A temporary UPN's last character is a letter, counted at the value its place among the check letters gives it.
_LAST = {**{str(d): d for d in range(10)}, **{letter: at for at, letter in enumerate(UPN_LETTERS)}}
_UPN_SHAPE = rf"^[{UPN_LETTERS}][0-9]{{11}}[0-9{UPN_LETTERS}]$"
#: Columns that hold a UPN and so are checked for DfE's check letter.
UPN_COLUMNS = frozenset({"upn", "formerupn"})
#: A whole number, as COLLECT writes it or with a zero fraction (``134.0``, as exports made by spreadsheets write it).
_WHOLE = r"^\s*[0-9]+(?:\.0+)?\s*$"


def upn_valid(upn: pl.Expr) -> pl.Expr:
    """Whether each UPN has DfE's shape and check letter: the digits at places 2 to 13 weighted by their place, summed,
    modulo 23 (a temporary UPN's last letter counted at its value), read from :data:`UPN_LETTERS`."""
    digits = [upn.str.slice(at, 1).cast(pl.Int64, strict=False) * (at + 1) for at in range(1, 12)]
    last = upn.str.slice(12, 1).replace_strict(_LAST, default=None, return_dtype=pl.Int64) * 13
    letter = (pl.sum_horizontal(*digits, last) % 23).replace_strict(
        dict(enumerate(UPN_LETTERS)), default=None, return_dtype=pl.String
    )
    return upn.str.contains(_UPN_SHAPE).fill_null(False) & (letter == upn.str.slice(0, 1)).fill_null(False)


#: The kinds of the service's own files (the slim template, GIAP's downloads) the schemas do not have: each its
#: shape and the rule a refusal gives.
OWN_KINDS = {
    "laestab": (r"^[0-9]{7}$", "not a LAESTAB (the council's three digits and the school's four)"),
    "urn": (r"^[0-9]{6}$", "not a URN (six digits)"),
}
#: Dates in the service's own files: as the ISO standard writes them, or as GIAP's downloads may (day first).
_DAYS = ("%Y-%m-%d", "%d/%m/%Y")


def typed(column: Column) -> pl.Expr:
    """The column's text as its kind reads it: null where a cell is blank or cannot be read so."""
    text = pl.col(column.name)
    if column.kind in OWN_KINDS:
        return pl.when(text.str.contains(OWN_KINDS[column.kind][0])).then(text)
    if column.kind == "day":
        return pl.coalesce(text.str.strptime(pl.Date, form, strict=False) for form in _DAYS)
    if column.kind == "integer":
        return pl.when(text.str.contains(_WHOLE)).then(text.str.strip_chars().cast(pl.Float64).cast(pl.Int64))
    if column.kind == "float":
        return text.str.strip_chars().cast(pl.Float64, strict=False)
    if column.kind == "date":
        return text.str.strptime(pl.Datetime, DATE_FORMAT, strict=False).dt.date()
    if column.kind == "category" and column.codes:
        return pl.when(text.is_in(sorted(column.codes))).then(text)
    if column.kind == "upn":
        return pl.when(upn_valid(text)).then(text)
    return text


def rule(column: Column) -> str:
    """What the column's rule asks, in the words a refusal gives (never a value)."""
    if column.kind in OWN_KINDS:
        return OWN_KINDS[column.kind][1]
    if column.kind == "day":
        return "not a date written 2024-10-03 or 03/10/2024"
    if column.kind == "integer":
        return "not a whole number"
    if column.kind == "float":
        return "not a number"
    if column.kind == "date":
        return "not a date as COLLECT writes it (2024-Oct-16 00:00:00)"
    if column.kind == "category" and column.codes:
        return "not one of the schema's codes"
    if column.kind == "upn":
        return "not a UPN with DfE's check letter"
    return "not as the schema reads it"
