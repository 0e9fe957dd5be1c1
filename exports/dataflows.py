"""What the SDMX door reads from the store: each return as a dataflow, code lists, and released observations.

Observations come only from built returns (after roll-up, rounding and small-number
suppression), never from stored figures: the rows are those the return's SDMX-CSV export holds,
read from the snapshot kept for the period's current build, so a query rebuilds only a period whose
figures, catalogue, agencies or sign-offs changed since (or that was never written as SDMX-CSV).
The periods served are those a return has been built for (at close, or when anyone pulled it)
and, when a request names both ends of a window, every period of the return inside it; without
such a window, also every period its stored figures reach.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from exports import freshness
from exports import service as exports
from exports.changes import build_at, built_periods
from exports.models import BuildCell, ReturnBuild
from exports.sdmx.ml import Codelist
from exports.sdmx.rest import SERIES_DIMENSIONS, Flow, catalogue_codelist, data_rows
from indicators.models import Code, CodeList
from indicators.periods import FIRST_YEAR, LAST_YEAR, Period, PeriodOutOfRange, parse_period, utc
from mappings.catalogue import LEVEL_GROUPS
from mappings.deadlines import periods_between
from mappings.models import FieldMapping, OrgUnit, Return
from mappings.signoff.rules import periods_with_figures
from mappings.validity import in_force
from onereturn.errors import InvalidInput

#: Most periods one data request may build; a wider request is narrowed with startPeriod/endPeriod.
MAX_PERIODS = 36
#: Widest window (in years) whose periods are all built on request.
MAX_WINDOW_YEARS = 12

_YEAR = re.compile(r"^(\d{4})(?:-A1)?$")
_MONTH = re.compile(r"^(\d{4})-M?(\d{2})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_HALF = re.compile(r"^(\d{4})-S([12])$")


def flows(session: Session, return_ids: list[str]) -> list[Flow]:
    """Describe each named return as a dataflow: fields in order, and every area its level can hold."""
    out: list[Flow] = []
    for return_id in return_ids:
        ret = session.get(Return, return_id)
        if ret is None:
            continue
        fields = session.execute(
            select(FieldMapping.code, FieldMapping.label)
            .where(FieldMapping.return_id == return_id)
            .order_by(col(FieldMapping.position))
        ).all()
        types = LEVEL_GROUPS.get(ret.geography_level, (ret.geography_level,))
        stmt = select(OrgUnit.code, OrgUnit.name).where(col(OrgUnit.type).in_(types))
        if ret.orgs:
            stmt = stmt.where(col(OrgUnit.code).in_(ret.orgs))
        areas = session.execute(stmt.order_by(col(OrgUnit.code))).all()
        out.append(
            Flow(
                ret.id,
                ret.title,
                ret.recipient,
                [(str(c), str(label)) for c, label in fields],
                [(str(c), str(n)) for c, n in areas],
            )
        )
    return out


def catalogue_codelists(session: Session) -> list[Codelist]:
    """Return the catalogue's code lists (the codes breakdown keys are made of) as SDMX code lists."""
    codes: dict[str, list[tuple[str, str]]] = {}
    for list_id, code, label in session.execute(
        select(Code.codelist_id, Code.code, Code.label).order_by(col(Code.codelist_id), col(Code.position))
    ).all():
        codes.setdefault(str(list_id), []).append((str(code), str(label)))
    lists = session.execute(select(CodeList).order_by(col(CodeList.id))).scalars()
    return [catalogue_codelist(c.id, c.title, codes.get(c.id, [])) for c in lists]


def period_bound(text: str, *, end: bool, name: str) -> date:
    """Read an SDMX period (2024, 2024-Q2, 2024-S1, 2024-06, 2024-06-30) or a period code (FY2024-25) as a day.

    The start of the window is the first day of the period given, the end its last day.
    """
    try:
        span = _sdmx_span(text.strip())
    except ValueError:
        span = None  # a well-formed spelling of a day that does not exist, e.g. year 0 or 2025-02-30
    if span is None:
        try:
            period = parse_period(text.strip())
        except PeriodOutOfRange as exc:
            raise InvalidInput(
                f"{name}: {exc.message}",
                errors=[{"type": "period", "loc": ["query", name], "msg": exc.message, "input": text}],
            ) from None
        except InvalidInput:
            raise InvalidInput(
                f"{name} {text!r} is not a period: use 2024, 2024-Q2, 2024-S1, 2024-06, 2024-06-30 or a period code such as FY2024-25",
                errors=[{"type": "period", "loc": ["query", name], "msg": "Not a period", "input": text}],
            ) from None
        span = (period.start, period.end)
    if not (span[0].year >= FIRST_YEAR and span[1].year <= LAST_YEAR):
        raise InvalidInput(
            f"{name} {text!r} is outside the years {FIRST_YEAR} to {LAST_YEAR}",
            errors=[{"type": "period", "loc": ["query", name], "msg": "Outside the years served", "input": text}],
        )
    return span[1] if end else span[0]


def _sdmx_span(value: str) -> tuple[date, date] | None:
    """Return the first and last day of an SDMX reporting period, or None if it is not one."""
    span: tuple[date, date] | None = None
    if m := _YEAR.match(value):
        year = int(m[1])
        span = (date(year, 1, 1), date(year, 12, 31))
    elif m := _QUARTER.match(value):
        year, q = int(m[1]), int(m[2])
        span = (date(year, 3 * q - 2, 1), _month_end(year, 3 * q))
    elif m := _HALF.match(value):
        year, h = int(m[1]), int(m[2])
        span = (date(year, 6 * h - 5, 1), _month_end(year, 6 * h))
    elif (m := _MONTH.match(value)) and 1 <= int(m[2]) <= 12:
        year, month = int(m[1]), int(m[2])
        span = (date(year, month, 1), _month_end(year, month))
    elif m := _DAY.match(value):
        day = date(int(m[1]), int(m[2]), int(m[3]))
        span = (day, day)
    return span


def _month_end(year: int, month: int) -> date:
    return date(year, month, monthrange(year, month)[1])


def available_periods(session: Session, ret: Return) -> list[str]:
    """Name every period of a return a request without a window would serve (built, or reached by figures), in order."""
    built = [parse_period(text, ret.period_type) for text in built_periods(session, ret.id)]  # type: ignore[arg-type]
    found = {p.code: p for p in [*built, *(p for p in periods_with_figures(session, ret) if in_force(ret, p))]}
    return [p.code for p in sorted(found.values(), key=lambda p: (p.start, p.end))]


def periods_for(session: Session, ret: Return, start: date | None, end: date | None) -> list[Period]:
    """List the periods of a return to serve: built ones, plus every one inside a window closed at both ends;
    without such a window, every period (in force) that stored figures reach, built as a window's are."""
    found = {p.code: p for p in (parse_period(text, ret.period_type) for text in built_periods(session, ret.id))}  # type: ignore[arg-type]
    if start is None or end is None:
        found |= {p.code: p for p in periods_with_figures(session, ret) if in_force(ret, p)}
    if start is not None and end is not None:
        if end < start:
            raise InvalidInput(f"endPeriod ({end}) is before startPeriod ({start})")
        if end.year - start.year > MAX_WINDOW_YEARS:
            raise InvalidInput(
                f"A window of {end.year - start.year} years is too wide to build (at most {MAX_WINDOW_YEARS}); "
                "leave out startPeriod or endPeriod to get every period with figures"
            )
        found |= {p.code: p for p in periods_between(ret.period_type, start, end)}
    chosen = sorted(
        (p for p in found.values() if (start is None or p.start >= start) and (end is None or p.end <= end)),
        key=lambda p: (p.start, p.end),
    )
    if len(chosen) > MAX_PERIODS:
        raise InvalidInput(
            f"{len(chosen)} periods of {ret.id} match; at most {MAX_PERIODS} are served at once: narrow with startPeriod and endPeriod"
        )
    return chosen


@dataclass(frozen=True)
class KeyFilter:
    """The values asked for at each series dimension (None: any value)."""

    values: tuple[frozenset[str] | None, ...]

    def matches(self, row: dict[str, str]) -> bool:
        """Say whether an observation row is selected by the key."""
        return all(
            wanted is None or row[dim] in wanted for dim, wanted in zip(SERIES_DIMENSIONS, self.values, strict=True)
        )


def parse_key(key: str) -> KeyFilter:
    """Read an SDMX 2.1 series key: dot-separated positions, empty or ``*`` for any, ``+`` between several values."""
    if key in ("all", ""):
        return KeyFilter((None,) * len(SERIES_DIMENSIONS))
    positions = key.split(".")
    if len(positions) != len(SERIES_DIMENSIONS):
        raise InvalidInput(
            f"The key {key!r} has {len(positions)} positions; the dataflows have {len(SERIES_DIMENSIONS)}: "
            f"{'.'.join(SERIES_DIMENSIONS)} (leave a position empty or write * for any value; join values with +)",
            errors=[{"type": "sdmx_key", "loc": ["path", "key"], "msg": "Wrong number of key positions", "input": key}],
        )
    values = tuple(
        None if part in ("", "*") else frozenset(v for v in part.split("+") if v) or None for part in positions
    )
    return KeyFilter(values)


@dataclass(frozen=True)
class Observations:
    """What a data query selected: each period's current SDMX-CSV snapshot, read for its rows only when asked."""

    snapshots: list[exports.Snapshot]
    key: KeyFilter
    updated_after: datetime | None = None

    @property
    def prepared(self) -> datetime | None:
        """When the newest build behind the observations was made."""
        return max((utc(s.generated_at) for s in self.snapshots), default=None)

    @property
    def sources(self) -> tuple[str, ...]:
        """The content hash of each period's snapshot, in the periods' order: the rows are made of these alone."""
        return tuple(s.content_hash for s in self.snapshots)

    def rows(self, session: Session) -> list[dict[str, str]]:
        """The released observations the key selects (changed since ``updated_after`` when given), period by period."""
        rows: list[dict[str, str]] = []
        for snap in self.snapshots:
            found = data_rows(snap.data)
            if self.updated_after is not None:
                found = _changed(session, snap.build_id, found, self.updated_after)
            rows.extend(row for row in found if self.key.matches(row))
        return rows


def observations(
    session: Session,
    ret: Return,
    *,
    key: KeyFilter,
    start: date | None = None,
    end: date | None = None,
    updated_after: datetime | None = None,
) -> Observations:
    """Select the released observations of a return for the periods asked, filtered by key (and by change)."""
    snapshots = []
    for period in periods_for(session, ret, start, end):
        pulled = freshness.pull(session, ret.id, period.code, "sdmx-csv", period_type=ret.period_type)
        if pulled.pending:
            # Stale: answered as a build now would answer, as a data query always has been.
            pulled = freshness.pull(session, ret.id, period.code, "sdmx-csv", fresh=True, period_type=ret.period_type)
        snapshots.append(pulled.snapshot)
    return Observations(snapshots, key, updated_after)


def _changed(session: Session, build_id: int, rows: list[dict[str, str]], instant: datetime) -> list[dict[str, str]]:
    """Keep the rows of a build whose cells differ from the build current at ``instant`` (all of them if none was),
    by the cell digests stored with each build (``exports.changes``), as ``changed_since`` keeps a build's cells."""
    record = session.get(ReturnBuild, build_id)
    assert record is not None
    base = build_at(session, record.return_id, record.period, instant)
    if base is None or base.id is None:
        return rows
    if base.id == build_id:
        return []
    old = dict(session.execute(select(BuildCell.cell_id, BuildCell.digest).where(BuildCell.build_id == base.id)).all())
    # The digests were written in the order of the build's cells, which is the order of its SDMX-CSV rows.
    new = session.execute(
        select(BuildCell.cell_id, BuildCell.digest).where(BuildCell.build_id == build_id).order_by(col(BuildCell.id))
    ).all()
    if not old or len(new) != len(rows):
        # A build made before cell digests were kept cannot say what it showed: send everything.
        return rows
    return [row for row, (cell, digest) in zip(rows, new, strict=True) if old.get(cell) != digest]
