"""Each use case of a region as data (``use_cases.toml``): its tables, each source column kept, degraded or dropped,
and its retention in years, as the regional pipeline writes its own per use case."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, cast

from onereturn.errors import InvalidInput

FILE = Path(__file__).resolve().with_name("use_cases.toml")
Action = Literal["keep", "first_of_month", "sector", "drop", "key"]
ACTIONS: tuple[Action, ...] = ("keep", "first_of_month", "sector", "drop", "key")
#: What a use case may do further to every table it holds (``degrade = [...]`` in ``use_cases.toml``): each date to
#: the first of its month, each DfE ethnicity code to its main group, each postcode sector to its district.
DEGRADES = ("dates_to_month", "ethnicity_to_main_group", "sector_to_district")


@dataclass(frozen=True)
class ColumnPolicy:
    """One source column and what the use case does to it, with why."""

    name: str
    action: Action
    why: str


@dataclass(frozen=True)
class TablePolicy:
    """One pooled table: its name, the source it is read from (``903:Episodes``), its grain and its columns."""

    name: str
    source: str
    grain: str
    columns: tuple[ColumnPolicy, ...]

    @property
    def written(self) -> tuple[str, ...]:
        """The source columns the table writes (kept or degraded), in order; the key is written as ``child_key``."""
        return tuple(c.name for c in self.columns if c.action in ("keep", "first_of_month", "sector"))

    def action(self, column: str) -> Action:
        """What the table does to ``column``; a column the policy does not name is refused, never passed through."""
        for found in self.columns:
            if found.name == column:
                return found.action
        raise InvalidInput(
            f"the {self.name} table's policy does not say what is done with the column {column!r}: "
            "nothing is written until it does (mappings/regions/use_cases.toml)"
        )


@dataclass(frozen=True)
class UseCase:
    """A use case a council consents to: its title, retention in years, why, and its tables."""

    name: str
    title: str
    retention_years: int
    why: str
    tables: dict[str, TablePolicy]
    #: The further degrading the use case asks for, of :data:`DEGRADES` (none: each column as its policy says).
    degrade: tuple[str, ...] = ()


@cache
def use_cases() -> dict[str, UseCase]:
    """Every use case of ``use_cases.toml``, read once and checked (a column's action is one of :data:`ACTIONS`)."""
    held = tomllib.loads(FILE.read_text(encoding="utf-8"))["use_case"]
    found: dict[str, UseCase] = {}
    for name, body in held.items():
        tables: dict[str, TablePolicy] = {}
        for table in body["table"]:
            columns = []
            for column in table["columns"]:
                if column["action"] not in ACTIONS:
                    raise ValueError(
                        f"{FILE.name}: {table['name']}.{column['name']}: unknown action {column['action']}"
                    )
                columns.append(ColumnPolicy(column["name"], cast(Action, column["action"]), column["why"]))
            tables[table["name"]] = TablePolicy(table["name"], table["source"], table["grain"], tuple(columns))
        degrade = tuple(body.get("degrade", ()))
        unknown = sorted(set(degrade) - set(DEGRADES))
        if unknown:
            raise ValueError(f"{FILE.name}: {name}: unknown degrade {', '.join(unknown)}; known: {', '.join(DEGRADES)}")
        found[name] = UseCase(name, body["title"], int(body["retention_years"]), body["why"], tables, degrade)
    return found


def use_case(name: str) -> UseCase:
    """The use case called ``name``; one that does not exist is refused, naming those that do."""
    known = use_cases()
    if name not in known:
        raise InvalidInput(
            f"{name[:40]!r} is not a use case of a region; the use cases are {', '.join(sorted(known))}",
            errors=[
                {"type": "unknown_use_case", "loc": ["body", "use_cases"], "msg": "not a use case", "input": name[:40]}
            ],
        )
    return known[name]
