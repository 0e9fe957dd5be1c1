"""The burden's cells of an agency's returns, counted from the returns as built for the period: the cells each
return's fields have in it (a field's breakdowns are those its figures have, beside its total), each counted as
filled by a publisher only where a publisher's figure is behind it, and as filled from record-level files only where
a figure worked out from them is.

A cell of a field the return fills from publishers (``from_publishers``, or a figure derived centrally that a
publisher publishes itself) that no publisher has filled yet is counted apart, "awaiting its publisher": the body is
not asked for it, so nobody keys it, and no publisher has filled it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlmodel import Session

from exports.built import BuiltReturn
from exports.release import build_ungated
from indicators.formula import collected_inputs
from indicators.models import Indicator
from indicators.periods import Period
from mappings.models import FieldMapping, Return
from mappings.signoff.lineage import store_key

#: The statuses of a cell a figure fills (a publisher's "not available" fills none: nobody has the figure).
FILLED = ("present", "suppressed")

#: A figure's key: (indicator, org, period, breakdown).
FigureKey = tuple[str, str, str, str]


@dataclass
class ReturnsCells:
    """An agency's cells of its returns for a period, counted as filled."""

    cells: int = 0
    derived: int = 0
    from_publishers: int = 0
    #: Cells of fields a publisher fills that no publisher's figure has filled yet: keyed by nobody, filled by nobody.
    awaiting_publishers: int = 0
    #: The keyed cells (collected figures the body keys into the return without the service), by figure key.
    keyed: list[FigureKey] = field(default_factory=list)
    #: Per return, how many of its keyed cells a figure worked out from the body's record-level files fills.
    by_return: dict[str, int] = field(default_factory=dict)


#: Counts made, by the store's state (``store_key``: its figures, catalogue, agencies and publishers' figures, and the
#: day), the agency, its returns and periods, and its org units: a view of the burden page after nothing changed
#: builds no return again. Counts name no figure.
_COUNTED: OrderedDict[tuple[Any, ...], ReturnsCells] = OrderedDict()
_COUNTED_HELD = 64
_COUNTED_LOCK = threading.Lock()


@dataclass
class Builds:
    """Each return's ungated build for a period, made once however many agencies ask (builders shared by period)."""

    session: Session
    shared: dict[str, Any] = field(default_factory=dict)
    made: dict[tuple[str, str], BuiltReturn] = field(default_factory=dict)
    _state: tuple[Any, ...] | None = None

    @property
    def state(self) -> tuple[Any, ...]:
        """The store's state the builds are made in, read once."""
        if self._state is None:
            self._state = store_key(self.session)
        return self._state

    def of(self, ret: Return, period: str) -> BuiltReturn:
        """The return built for the period with every figure, as sign-off reads it."""
        key = (ret.id, period)
        if key not in self.made:
            self.made[key] = build_ungated(self.session, ret, period, self.shared)
        return self.made[key]

    def rows_of(self, built: BuiltReturn, orgs: set[str]) -> set[str]:
        """The org units of a build's rows an agency answers for: its own, and those rolled up from its own (a PCT's
        row from the borough it covered)."""
        geo = self.shared[built.period].resolver.geo
        return {org for org in set(built.cells["org_code"].to_list()) if _covers(geo, org, orgs)}


@dataclass(frozen=True)
class Known:
    """What the counting reads of the catalogue and the publishers once, for every agency."""

    indicators: dict[str, Indicator]
    #: Per indicator, the publishers whose current releases give it.
    given: dict[str, set[str]]
    #: The indicators whose designated source publishes its figures itself.
    published: set[str]
    #: The agencies whose stored figures are a publisher's (a release's figures stored as its own).
    publishers: frozenset[str]

    @property
    def signature(self) -> int:
        """What the counting reads of each indicator, as one number: an indicator edited in place (its collection,
        formula or period type) changes it, where the store's state may not."""
        return hash(tuple((i, d.collection, d.formula, d.period_type) for i, d in sorted(self.indicators.items())))


def publishers_fill(known: Known, ret: Return, f: FieldMapping) -> bool:
    """Whether the return's field is a publisher's to fill: read from publishers that give every figure it is made
    of, or a figure derived centrally that its designated source publishes itself or a publisher's files give."""
    inputs = collected_inputs(known.indicators, f.indicator_id)
    takes = set(ret.from_publishers) if f.from_publishers else set()
    if takes and all(takes & known.given.get(t, set()) for t in inputs):
        return True
    if locally_keyed(known.indicators, f.indicator_id):
        return False
    return all(t in known.published or known.given.get(t) for t in inputs)


def locally_keyed(indicators: dict[str, Indicator], indicator_id: str) -> bool:
    """Say whether a field's figure was keyed by a local body at all (a figure derived centrally from a national
    data set, ``collection = "central"`` in the catalogue, never was, so it is no local burden)."""
    return any(indicators[i].collection == "local" for i in collected_inputs(indicators, indicator_id))


def filled_by(built: BuiltReturn, orgs: set[str], publishers: frozenset[str]) -> tuple[set[str], pl.DataFrame]:
    """The cells of the org units a publisher's figures alone fill, and the lineage of those org units' cells."""
    lineage = built.lineage.filter(pl.col("org_code").is_in(list(orgs)))
    theirs = pl.col("published_figure_id").is_not_null() | pl.col("agency_code").is_in(list(publishers))
    by_cell = lineage.group_by("cell_id").agg(theirs.all().alias("_theirs"))
    return set(by_cell.filter(pl.col("_theirs"))["cell_id"].to_list()), lineage


def count_cells(
    builds: Builds,
    known: Known,
    own: list[tuple[Return, list[Period]]],
    fields: dict[str, list[FieldMapping]],
    orgs: list[str],
    records_keys: set[FigureKey],
) -> ReturnsCells:
    """Count an agency's cells of its returns (each with the periods of its type in the asked period), each as the
    return's build for that period filled it (counted once for a state of the store)."""
    key = (
        builds.state,
        known.signature,
        tuple((r.id, tuple(p.code for p in ps)) for r, ps in own),
        tuple(sorted(orgs)),
        hash(frozenset(records_keys)),
    )
    with _COUNTED_LOCK:
        if (held := _COUNTED.get(key)) is not None:
            _COUNTED.move_to_end(key)
            return held
    out = ReturnsCells()
    for ret, periods in own:
        by_code = {f.code: f for f in fields.get(ret.id, []) if f.relation != "different_method"}
        for period in periods:
            built = builds.of(ret, period.code)
            wanted = builds.rows_of(built, set(orgs))
            theirs, lineage = filled_by(built, wanted, known.publishers)
            from_records = _from_records(lineage, records_keys)
            cells = built.cells.filter(
                pl.col("org_code").is_in(list(wanted)) & pl.col("field_code").is_in(list(by_code))
            )
            for cell_id, code, org, breakdown, status in cells.select(
                "cell_id", "field_code", "org_code", "breakdown", "status"
            ).iter_rows():
                f = by_code[code]
                _count(out, known, ret, f, (cell_id, org, breakdown, status, period.code), theirs, from_records)
    with _COUNTED_LOCK:
        _COUNTED[key] = out
        while len(_COUNTED) > _COUNTED_HELD:
            _COUNTED.popitem(last=False)
    return out


def _count(
    out: ReturnsCells,
    known: Known,
    ret: Return,
    f: FieldMapping,
    cell: tuple[str, str, str, str, str],
    theirs: set[str],
    from_records: set[str],
) -> None:
    """Count one cell of a return's build into the agency's counts."""
    cell_id, org, breakdown, status, period = cell
    ind = known.indicators[f.indicator_id]
    filled = status in FILLED
    by_publisher = filled and cell_id in theirs
    if publishers_fill(known, ret, f) and (by_publisher or not filled):
        out.cells += 1
        if ind.formula:
            out.derived += 1
        elif by_publisher:
            out.from_publishers += 1
        else:
            out.awaiting_publishers += 1
        return
    if not locally_keyed(known.indicators, f.indicator_id):
        # A figure derived centrally is no local burden, unless a publisher's figure fills its cell.
        if by_publisher:
            out.cells += 1
            out.derived += 1 if ind.formula else 0
            out.from_publishers += 0 if ind.formula else 1
        return
    out.cells += 1
    if ind.formula:
        out.derived += 1
        return
    out.keyed.append((ind.id, org, period, breakdown))
    if cell_id in from_records:
        out.by_return[ret.id] = out.by_return.get(ret.id, 0) + 1


def _covers(geo: Any, org: str, orgs: set[str], depth: int = 0) -> bool:
    """Whether the org unit is one of ``orgs`` or is made from one of them (as deep as a resolver rolls up)."""
    if org in orgs:
        return True
    return depth < 4 and any(_covers(geo, child, orgs, depth + 1) for child in geo.nested(org))


def _from_records(lineage: pl.DataFrame, records_keys: set[FigureKey]) -> set[str]:
    """The cells a figure worked out from the body's record-level files is behind."""
    if not records_keys or lineage.is_empty():
        return set()
    found = set()
    for cell_id, ind, org, period, breakdown in lineage.select(
        "cell_id", "indicator_id", "figure_org", "figure_period", "figure_breakdown"
    ).iter_rows():
        if (ind, org, period, breakdown or "") in records_keys:
            found.add(cell_id)
    return found
