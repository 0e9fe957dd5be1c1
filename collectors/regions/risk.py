"""A pooled table's disclosure risk, measured on the table as built: of its children, how many are told apart by the
columns a re-identifier would already hold of a child (council, birth month, sex, ethnicity, postcode sector, an
exact date), as k-anonymity counts it, and what each further degrading a use case may ask for would change.

A child's class on a set of columns is the number of children (distinct ``child_key``) sharing its values there;
where a table holds several rows of one child (episodes, events), the child is as exposed as its smallest class,
since a re-identifier needs to know one of them. A child alone in its class is *unique*; a class smaller than 3 or 5
is one of k-anonymity's smallest. A missing value counts as a value: knowing it is missing tells children apart too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from collectors.regions.degrade import ETHNICITY, further
from mappings.regions.policy import DEGRADES, TablePolicy

#: What a re-identifier may know of a child, and the columns of the pooled tables that hold it.
HELD: dict[str, tuple[str, ...]] = {
    "council": ("council",),
    "birth month": ("DOB", "PersonBirthDate", "born"),
    "sex": ("SEX", "Sex", "sex"),
    "ethnicity": ETHNICITY,
    "postcode sector": ("HOME_POST",),
    "exact date": ("DECOM", "CINreferralDate"),
}
_BASE = ("council", "birth month", "sex", "ethnicity")
#: The sets of what a re-identifier knows that each table is measured on.
QUASI_SETS: tuple[tuple[str, ...], ...] = (_BASE, (*_BASE, "postcode sector"), (*_BASE, "exact date"))


@dataclass(frozen=True)
class Risk:
    """How many of a table's children the columns tell apart: unique, in classes under 3 and under 5."""

    known: tuple[str, ...]
    columns: tuple[str, ...]
    children: int
    unique: int
    under_3: int
    under_5: int

    def share(self, count: int) -> float:
        """``count`` as a share of the table's children (0 for a table with none)."""
        return count / self.children if self.children else 0.0


@dataclass(frozen=True)
class Measured:
    """One set of what is known, measured on the table as built, and with each further degrading not yet asked."""

    risk: Risk
    with_option: dict[str, Risk]


def columns_of(frame: pl.DataFrame, known: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The things known that the table holds, and its columns holding them, in order."""
    held = [(thing, name) for thing in known for name in HELD[thing] if name in frame.columns]
    return tuple(dict.fromkeys(t for t, _ in held)), tuple(n for _, n in held)


def measure(frame: pl.DataFrame, known: Iterable[str]) -> Risk:
    """The table's children told apart by what the columns holding ``known`` say of them."""
    things, columns = columns_of(frame, known)
    rows = frame.select("child_key", *columns).filter(pl.col("child_key").is_not_null()).unique()
    if not columns or rows.is_empty():
        children = rows["child_key"].n_unique() if not rows.is_empty() else 0
        return Risk(things, columns, children, int(children == 1), int(0 < children < 3), int(0 < children < 5))
    smallest = (
        rows.with_columns(pl.col("child_key").n_unique().over(columns).alias("k"))
        .group_by("child_key")
        .agg(pl.col("k").min())
    )
    k = smallest["k"]
    return Risk(things, columns, smallest.height, int((k == 1).sum()), int((k < 3).sum()), int((k < 5).sum()))


def table_risk(frame: pl.DataFrame, table: TablePolicy, asked: Iterable[str] = ()) -> list[Measured]:
    """Each set of what is known that the table holds, measured as built (with the degrading ``asked`` already done)
    and with each other option of :data:`DEGRADES` that would change it done too, so the region sees its effect
    before it asks for it."""
    done = set(asked)
    # An option that would change nothing in this table (no date, ethnicity or sector in it) is not offered.
    tried = {option: further(frame, table, [option]) for option in DEGRADES if option not in done}
    options = {option: changed for option, changed in tried.items() if not changed.equals(frame)}
    measured: list[Measured] = []
    seen: set[tuple[str, ...]] = set()
    for known in QUASI_SETS:
        things, columns = columns_of(frame, known)
        if not columns or columns in seen:
            continue
        seen.add(columns)
        measured.append(Measured(measure(frame, things), {o: measure(f, things) for o, f in options.items()}))
    return measured
