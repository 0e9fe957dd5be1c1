"""The areas of any period: the units valid in it, their nesting and their crosswalks, from rows read once.

A figure asked for at a level where none is stored is made from the units nesting in it (one family of units, so
nothing is counted twice) or, where areas do not nest, through the weighted crosswalk (``mappings.resolve``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from indicators.periods import Period
from mappings.models import Crosswalk, OrgParent, OrgUnit
from onereturn.readings import Kept, as_text

#: Families of units that each partition a parent; a parent is rolled up from the first family it has.
FAMILIES: tuple[tuple[str, ...], ...] = (
    ("region",),
    ("county", "unitary", "metropolitan_district", "london_borough", "non_metropolitan_district"),
    ("nuts1",),
    ("nuts2",),
    ("nuts3",),
    ("ccg",),
    ("stp",),
    ("nhs_region",),
    ("phe_centre",),
    ("provider",),
)


@dataclass(frozen=True)
class GeographyRows:
    """Every unit, nesting edge and crosswalk link with the dates it is valid, read once for any period."""

    units: list[tuple[str, str, str, date | None, date | None]]
    edges: list[tuple[str, str, date | None, date | None]]
    crosswalk: list[tuple[str, str, float, str]]
    #: The geography of each stretch between the rows' dates of change, made on first use (see :meth:`geography`).
    _geographies: dict[tuple[bool, ...], Geography] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def _changes(self) -> list[date]:
        """Every date a unit or a nesting edge begins or ends on."""
        return sorted(
            {d for u in self.units for d in u[3:] if d is not None}
            | {d for e in self.edges for d in e[2:] if d is not None}
        )

    def geography(self, period: Period) -> Geography:
        """The geography valid during ``period``, one for all periods between the same dates of change.

        Made once for these rows (a loop over every unit, edge and link: 50 ms for England); the rows, and so this,
        are made again when the geography changes. A geography is never changed once made, so sharers cannot clash.
        """
        span = tuple(b for d in self._changes for b in (d <= period.end, d >= period.start))
        made = self._geographies.get(span)
        if made is None:
            made = self._geographies.setdefault(span, Geography.made(period, self))
        return made

    @classmethod
    def read(cls, session: Session) -> GeographyRows:
        """Read them from the store (made again only where the rows read differently, ``onereturn/readings.py``)."""
        columns = (_UNIT_COLUMNS, _EDGE_COLUMNS, _CROSSWALK_COLUMNS)
        reading = tuple(row for table in columns for row in (*as_text(session, *table), ("",)))

        def rows(*columns: Any) -> list[Any]:
            return [tuple(row) for row in session.execute(sa_select(*(col(c) for c in columns))).all()]

        return _GEOGRAPHY.get(
            reading, lambda: cls(rows(*_UNIT_COLUMNS), rows(*_EDGE_COLUMNS), rows(*_CROSSWALK_COLUMNS))
        )


_UNIT_COLUMNS = (OrgUnit.code, OrgUnit.type, OrgUnit.name, OrgUnit.valid_from, OrgUnit.valid_to)
_EDGE_COLUMNS = (OrgParent.child_code, OrgParent.parent_code, OrgParent.valid_from, OrgParent.valid_to)
_CROSSWALK_COLUMNS = (Crosswalk.from_code, Crosswalk.to_code, Crosswalk.weight, Crosswalk.basis)
#: The geography's rows, as read from the three tables (shared read only).
_GEOGRAPHY: Kept[GeographyRows] = Kept()


@dataclass
class Geography:
    """The units valid in one period: their types, names, nesting and crosswalks."""

    period: Period
    types: dict[str, str]
    names: dict[str, str]
    children: dict[str, dict[tuple[str, ...], list[str]]] = field(default_factory=dict)
    crosswalk: dict[str, dict[str, list[tuple[str, float]]]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, period: Period, rows: GeographyRows | None = None) -> Geography:
        """Read the geography valid during ``period`` (from ``rows`` when they were read already)."""
        return (rows or GeographyRows.read(session)).geography(period)

    @classmethod
    def made(cls, period: Period, rows: GeographyRows) -> Geography:
        """The geography valid during ``period``, made from ``rows``."""

        def valid(start: date | None, end: date | None) -> bool:
            return (start is None or start <= period.end) and (end is None or end >= period.start)

        units = [(c, t, n) for c, t, n, start, end in rows.units if valid(start, end)]
        geo = cls(period, {c: t for c, t, _ in units}, {c: n for c, _, n in units})
        family_of = {t: fam for fam in FAMILIES for t in fam}
        for child, parent, start, end in rows.edges:
            kind = geo.types.get(child)
            if kind is None or parent not in geo.types or not valid(start, end):
                continue
            geo.children.setdefault(parent, {}).setdefault(family_of.get(kind, (kind,)), []).append(child)
        for frm, to, weight, basis in rows.crosswalk:
            if frm in geo.types and to in geo.types:
                geo.crosswalk.setdefault(to, {}).setdefault(basis, []).append((frm, weight))
        return geo

    def nested(self, parent: str) -> list[str]:
        """Return the children of ``parent`` in the first family that partitions it."""
        families = self.children.get(parent, {})
        for family in FAMILIES:
            if family in families:
                return sorted(families[family])
        return []

    def of_types(self, types: Iterable[str]) -> list[str]:
        """Return the codes of every unit of the given types."""
        wanted = set(types)
        return sorted(c for c, t in self.types.items() if t in wanted)
