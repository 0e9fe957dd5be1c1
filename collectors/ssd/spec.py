"""The Standard Safeguarding Dataset as data: its tables, columns, types, keys and references, read from the SSD's
own schema shipped in ``indicators/specifications/ssd/``, and the mapping of a collection year's DfE items onto it.

The schema is Data to Insight's (``ssd-data-model-next``, MIT); ``ssd_schema.json`` is derived from its YAML by
``tools/ssd_schema.py`` (a test fails when the two differ). The code lists are DfE's, as the catalogue holds them
from the returns' own specification files (``indicators/catalogue/codelists.toml``): an SSD column that feeds a
DfE item holds DfE's code (the SSD's guidance, e.g. PERS004A for ethnicity), or a local code the council maps.
"""

from __future__ import annotations

import csv
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import polars as pl

from indicators.catalogue import CATALOGUE_DIR, SPECIFICATIONS_DIR
from onereturn.errors import InvalidInput

SPEC_DIR = SPECIFICATIONS_DIR / "ssd"
MAPS_DIR = Path(__file__).resolve().parent / "maps"
CODELISTS = CATALOGUE_DIR / "codelists.toml"
#: The one table every extract has: every child id of the other tables is one of its people.
PERSON = "ssd_person"
#: Flags as the SSD writes them (the extract's shape, issue 64: "flags Y/N").
FLAGS = {"Y": True, "N": False}
#: The SSD's own sex codes (PERS002A guidance: F Female, M Male, U Unknown); the DfE files' codes are made from them.
SSD_SEX = ("F", "M", "U")


#: Dates as the SSD's SQL Server extracts write them: ``YYYY-MM-DD`` or ``YYYY-MM-DD HH:MM:SS[.fff]`` (issue 64).
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}:\d{2}(?:\.\d{1,7})?)?$")


def as_date(column: pl.Expr) -> pl.Expr:
    """A text column of the extract as dates; null where it is not one of the SSD's date forms or not a real day."""
    return pl.when(column.str.contains(DATE.pattern)).then(
        column.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    )


#: The involvement's role, the council's own ids (tables.md, ssd_involvements: NVARCHAR(200), local values): the
#: council's rule for which roles are the allocated worker reads it (its agency's ``ssd.worker_roles``).
ROLE = "invo_professional_role_id"


def role_key(role: str | None) -> str:
    """A role id as the rule compares it: without surrounding spaces or regard to case, as the payload's CW test."""
    return (role or "").strip().upper()


def of_roles(column: pl.Expr, roles: tuple[str, ...]) -> pl.Expr:
    """Whether each involvement's role is one of the council's ``roles``; true for every one when there are none
    (no rule: every involvement counts)."""
    if not roles:
        return pl.lit(True)
    return column.str.strip_chars().str.to_uppercase().is_in(sorted({role_key(r) for r in roles})).fill_null(False)


@dataclass(frozen=True)
class Table:
    """One SSD table: its columns with their types (text, date, integer, number, bit), key and references."""

    name: str
    columns: dict[str, str]
    key: tuple[str, ...]
    references: dict[str, str]


@dataclass(frozen=True)
class Item:
    """One item of a DfE return and the SSD column it is made from, with its kind and DfE code list."""

    ret: str
    table: str
    item: str
    ssd_table: str
    ssd_column: str
    kind: str
    codes: str
    source: str


@dataclass(frozen=True)
class Mapping:
    """A collection year's mapping from the SSD to the CIN census and SSDA903, as its file gives it."""

    year: str
    items: tuple[Item, ...]
    codes: dict[str, frozenset[str]] = field(default_factory=dict)

    def used(self) -> dict[str, frozenset[str]]:
        """The SSD columns some output of this year reads, by table."""
        return dict(self._used)

    def column(self, ssd_table: str, ssd_column: str) -> Item | None:
        """The first item made from this SSD column, if any."""
        return self._first.get((ssd_table, ssd_column))

    # Found once a mapping (its items a tuple, the mapping frozen): the intake asks for each column of each table,
    # and walking the items each time took a fifth of reading and checking an extract.
    @cached_property
    def _used(self) -> dict[str, frozenset[str]]:
        found: dict[str, set[str]] = {}
        for item in self.items:
            found.setdefault(item.ssd_table, set()).add(item.ssd_column)
        return {table: frozenset(columns) for table, columns in found.items()}

    @cached_property
    def _first(self) -> dict[tuple[str, str], Item]:
        first: dict[tuple[str, str], Item] = {}
        for item in self.items:
            first.setdefault((item.ssd_table, item.ssd_column), item)
        return first


@cache
def tables() -> dict[str, Table]:
    """Every table of the SSD schema shipped with the service."""
    data = json.loads((SPEC_DIR / "ssd_schema.json").read_text(encoding="utf-8"))
    return {
        name: Table(name, dict(t["columns"]), tuple(t["key"]), dict(t["references"]))
        for name, t in data["tables"].items()
    }


def mapped_years() -> tuple[str, ...]:
    """The collection years a mapping file is shipped for (``maps/<year>.csv``), earliest first."""
    return tuple(sorted(p.stem for p in MAPS_DIR.glob("*.csv")))


@cache
def mapping(year: str) -> Mapping:
    """The mapping for collection year ``year`` (2024-25); a clear error for a year no mapping file covers."""
    path = MAPS_DIR / f"{year}.csv"
    if not path.is_file():
        have = ", ".join(mapped_years())
        raise InvalidInput(f"the CIN census and SSDA903 are made from an SSD extract for {have}, not {year}")
    with path.open(encoding="utf-8", newline="") as handle:
        items = tuple(
            Item(**{("ret" if k == "return" else k): v for k, v in row.items()}) for row in csv.DictReader(handle)
        )
    lists = tomllib.loads(CODELISTS.read_text(encoding="utf-8"))["codelist"]
    codes = {name: frozenset(lists[name]["codes"]) for name in {i.codes for i in items} if name in lists}
    codes["ssd_sex"] = frozenset(SSD_SEX)
    return Mapping(year, items, codes)
