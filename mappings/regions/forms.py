"""The form each column a region's use case keeps as sent must have before it is pooled, as data
(``forms.toml``): a code of the specification's code list the repository holds, a pattern, or a typed value. A value
not of its form is blanked and counted, so no free text a council typed into a kept column (a name in a URN) reaches
the region, whatever DfE's rules checked."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from lxml import etree

from indicators.catalogue import SPECIFICATIONS_DIR
from mappings.regions.policy import TablePolicy, use_cases
from onereturn.errors import InvalidInput
from onereturn.untrusted_xml import HARDENED

FILE = Path(__file__).resolve().with_name("forms.toml")
#: SEN2's schemas, one per survey, where the SEN2 reader keeps them.
SEN2_SCHEMAS = Path(__file__).resolve().parents[2] / "collectors" / "sen2" / "schemas"
_XS = "{http://www.w3.org/2001/XMLSchema}"
#: The polars types a typed form takes (a text of the form is read to it; anything else is blanked).
TYPES: dict[str, tuple[type[pl.DataType], ...]] = {
    "date": (pl.Date,),
    "boolean": (pl.Boolean,),
    "integer": (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64),
    "number": (pl.Int64, pl.Int32, pl.Float64, pl.Float32),
}


@dataclass(frozen=True)
class Form:
    """A kept column's form: its codes (split by ``joined``), its pattern, or its type."""

    codes: frozenset[str] | None = None
    joined: str | None = None
    pattern: str | None = None
    type: str | None = None

    def ok(self, column: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        """True where the value is of this form (a null is of every form: nothing was sent)."""
        if self.type is not None:
            if isinstance(dtype, TYPES[self.type]):
                return pl.lit(True)
            return _parses(column.cast(pl.String), self.type)
        text = column.cast(pl.String).str.strip_chars()
        if self.pattern is not None:
            return column.is_null() | text.str.contains(f"^(?:{self.pattern})$")
        assert self.codes is not None
        if self.joined is None:
            return column.is_null() | text.is_in(sorted(self.codes))
        parts = text.str.split(self.joined).list.eval(pl.element().str.strip_chars())
        return column.is_null() | parts.list.eval(pl.element().is_in(sorted(self.codes))).list.all()


def _parses(text: pl.Expr, kind: str) -> pl.Expr:
    cleaned = text.str.strip_chars()
    if kind == "date":
        read = (
            cleaned.str.to_date("%Y-%m-%d", strict=False).is_not_null()
            | cleaned.str.to_date("%d/%m/%Y", strict=False).is_not_null()
        )
    elif kind == "boolean":
        read = cleaned.str.to_lowercase().is_in(["true", "false", "0", "1"])
    else:
        read = cleaned.str.contains(r"^-?[0-9]+$" if kind == "integer" else r"^-?[0-9]+(?:\.[0-9]+)?$")
    return text.is_null() | read


#: A line of the SSDA903 schema: a table (4 spaces in), a column (6) or a category's code.
_YML_LINE = re.compile(r'^(?P<indent> *)(?:- code: "(?P<code>[^"]*)"|(?P<name>[A-Za-z0-9_]+):\s*$)')


@cache
def _ssda903() -> dict[tuple[str, str], frozenset[str]]:
    """Each SSDA903 table and column's category codes, read from the schema's plain lines (tables, columns, codes)."""
    found: dict[tuple[str, str], set[str]] = {}
    table = column = ""
    for line in (SPECIFICATIONS_DIR / "SSDA903_schema_2024.yml").read_text(encoding="utf-8").splitlines():
        match = _YML_LINE.match(line)
        if match is None:
            continue
        if match["code"] is not None:
            found.setdefault((table, column), set()).add(match["code"])
        elif len(match["indent"]) == 4:
            table = match["name"]
        elif len(match["indent"]) == 6:
            column = match["name"]
    return {key: frozenset(codes) for key, codes in found.items()}


def _enumerations(paths: Iterable[Path], name: str) -> set[str]:
    found: set[str] = set()
    for path in paths:
        tree = etree.parse(str(path), etree.XMLParser(**HARDENED))
        for simple in tree.iter(f"{_XS}simpleType"):
            if simple.get("name") == name:
                found |= {e.get("value") or "" for e in simple.iter(f"{_XS}enumeration")}
    return found


def codes_of(where: str) -> frozenset[str]:
    """The codes a specification's code list holds (``ssda903:Table.COLUMN``, ``cin:type``, ``sen2:type``)."""
    spec, _, place = where.partition(":")
    if spec == "ssda903":
        table, _, column = place.partition(".")
        found = set(_ssda903().get((table, column), frozenset()))
    elif spec == "cin":
        found = _enumerations([SPECIFICATIONS_DIR / "CIN_schema_2024.xsd"], place)
    elif spec == "sen2":
        found = _enumerations(sorted(SEN2_SCHEMAS.glob("sen2_schema_*.xsd")), place)
    else:
        raise ValueError(f"{FILE.name}: {where!r} names no specification the repository holds")
    if not found:
        raise ValueError(f"{FILE.name}: {where!r} holds no code")
    return frozenset(found)


def _form(source: str, name: str, body: dict[str, Any]) -> Form:
    if "type" in body:
        if body["type"] not in TYPES:
            raise ValueError(f"{FILE.name}: {source}.{name}: unknown type {body['type']}")
        return Form(type=body["type"])
    if "pattern" in body:
        re.compile(body["pattern"])
        return Form(pattern=body["pattern"])
    given = body["codes"]
    codes = set(given) if isinstance(given, list) else {c for w in given.split("|") for c in codes_of(w)}
    return Form(codes=frozenset(codes | set(body.get("also", []))), joined=body.get("joined"))


@cache
def forms() -> dict[str, dict[str, Form]]:
    """Every source's kept columns and their forms, read once; a column a use case keeps with no form is refused."""
    held = tomllib.loads(FILE.read_text(encoding="utf-8"))
    found = {source: {name: _form(source, name, body) for name, body in cols.items()} for source, cols in held.items()}
    for case in use_cases().values():
        for table in case.tables.values():
            missing = [
                c.name for c in table.columns if c.action == "keep" and c.name not in found.get(table.source, {})
            ]
            if missing:
                raise ValueError(f"{FILE.name}: {table.source} has no form for {', '.join(missing)}")
    return found


def conform(rows: pl.DataFrame, table: TablePolicy, blanked: dict[str, int]) -> pl.DataFrame:
    """The rows with each kept column's values not of its form blanked, each counted by column into ``blanked``."""
    held = forms().get(table.source, {})
    kept = [c.name for c in table.columns if c.action == "keep" and c.name in rows.columns]
    unknown = [name for name in kept if name not in held]
    if unknown:
        raise InvalidInput(f"the {table.name} table keeps {', '.join(unknown)} with no form to check it against")
    if not kept or rows.is_empty():
        return rows
    checks = rows.select(held[name].ok(pl.col(name), rows.schema[name]).fill_null(False).alias(name) for name in kept)
    for name in kept:
        bad = checks.height - int(checks[name].sum())
        if bad:
            blanked[name] = blanked.get(name, 0) + bad
    return rows.with_columns(pl.when(checks[name]).then(pl.col(name)).otherwise(None).alias(name) for name in kept)
