"""What validation reads of the store for one agency's upload: the catalogue's indicators, org units and code
lists (read once per catalogue version and shared), and the stored figures its rules compare with, read by key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from collectors.checks.policy import Context, Facts
from collectors.store import CURRENT_SCHEMA, FIGURE_COLUMNS, KEY, fetch_figures, raw_cursor, stage, stored_cells
from indicators.models import Code, Indicator
from indicators.rules import FixedCatalogue, Rule
from indicators.service import indicators_by_id, load_rules
from indicators.valuespec import value_specs
from mappings.models import AgencyIndicator, AgencyOrg, OrgUnit


def indicator_frame(session: Session, rules: list[Rule] | None = None) -> pl.DataFrame:
    """Return the catalogue's indicators as a frame of what validation checks (bounds from their ValueSpec)."""
    rows = session.execute(select(Indicator)).scalars().all()
    specs = value_specs({r.id: r for r in rows}, rules if rules is not None else load_rules(session))
    plausible = [specs[r.id].plausible_rule for r in rows]
    return pl.DataFrame(
        {
            "id": [r.id for r in rows],
            "statistic": [r.statistic for r in rows],
            "multiplier": [r.multiplier for r in rows],
            "decimals": [r.decimals for r in rows],
            "period_type": [r.period_type for r in rows],
            "derived": [r.formula is not None for r in rows],
            "source_body": [r.source_body for r in rows],
            "range_min": [r.range_min for r in rows],
            "range_max": [r.range_max for r in rows],
            "judgement_codelist": [r.judgement_codelist for r in rows],
            "breakdowns": [list(r.breakdowns) for r in rows],
            "unit": [r.unit for r in rows],
            "min_value": [specs[r.id].min_value for r in rows],
            "max_value": [specs[r.id].max_value for r in rows],
            "whole": [specs[r.id].whole for r in rows],
            "ratio": [specs[r.id].ratio for r in rows],
            "plausible_rule": [p.id if p else None for p in plausible],
            "plausible_message": [p.message if p else None for p in plausible],
        },
        schema_overrides={
            "range_min": pl.Float64,
            "range_max": pl.Float64,
            "judgement_codelist": pl.String,
            "breakdowns": pl.List(pl.String),
            "min_value": pl.Float64,
            "max_value": pl.Float64,
            "plausible_rule": pl.String,
            "plausible_message": pl.String,
        },
    )


def figures_for_rules(
    session: Session, keys: pl.DataFrame, partners: dict[str, frozenset[str]], earlier: frozenset[str]
) -> pl.DataFrame:
    """Return the current stored figures an upload's rules compare it with, read by key, never the whole store.

    ``keys`` are the upload's figure keys. Read: every figure of the same org unit and period as an
    uploaded one, of its indicator (any breakdown) or of the indicators ``partners`` pairs it with;
    and, for the indicators in ``earlier``, each uploaded series' latest earlier figure with a value
    (the upload's own keys aside, as the rules set the upload over the store).
    """
    keys = keys.select(KEY).drop_nulls()
    if keys.is_empty():
        return pl.DataFrame(schema=CURRENT_SCHEMA)
    cursor, dialect = raw_cursor(session)
    mark = "?" if dialect == "sqlite" else "%s"
    # On SQLite CROSS JOIN fixes the order: the staged keys drive, each answered by the figure key's index.
    join = "CROSS JOIN" if dialect == "sqlite" else "JOIN"
    pairs = pl.DataFrame(
        [(i, p) for i, others in partners.items() for p in others if p != i],
        schema={"indicator_id": pl.String, "partner": pl.String},
        orient="row",
    )
    # The (indicator, period) cells the store holds anything for, probed first: a new period reads nothing more.
    periods = keys.select("indicator_id", "period").unique()
    if pairs.height:
        periods = pl.concat(
            [periods, periods.join(pairs, on="indicator_id").select(pl.col("partner").alias("indicator_id"), "period")]
        ).unique()
    present = stored_cells(cursor, dialect, periods)
    frames = [pl.DataFrame(schema=CURRENT_SCHEMA)]
    if present.height:
        cells = keys.select("indicator_id", "org_code", "period").unique()
        if pairs.height:
            cells = pl.concat(
                [
                    cells,
                    cells.join(pairs, on="indicator_id").select(
                        pl.col("partner").alias("indicator_id"), "org_code", "period"
                    ),
                ]
            ).unique()
        cells = cells.join(present, on=["indicator_id", "period"], how="semi")
        stage(
            cursor,
            dialect,
            "rule_cell",
            ["indicator_id", "period", "org_code"],
            cells.select("indicator_id", "period", "org_code"),
        )
        cursor.execute(
            f"SELECT {FIGURE_COLUMNS} FROM rule_cell k {join} observation o ON o.indicator_id = k.indicator_id "
            "AND o.period = k.period AND o.org_code = k.org_code WHERE o.is_current"
        )
        frames.append(fetch_figures(cursor))
    asked = sorted(earlier & set(keys["indicator_id"].unique().to_list()))
    if asked:
        # A figure read both ways is kept once: the other frames hold one figure per key each.
        before = _latest_earlier(cursor, mark, dialect, asked, keys)
        frames.append(before.join(frames[-1].select(KEY), on=KEY, how="anti") if len(frames) > 1 else before)
    cursor.close()
    return pl.concat(frames)


_SERIES = ["indicator_id", "org_code", "breakdown"]


def _latest_earlier(cursor: Any, mark: str, dialect: str, indicators: list[str], keys: pl.DataFrame) -> pl.DataFrame:
    """Each uploaded figure's latest earlier stored figure with a value, walking each indicator's periods back.

    An indicator's periods come one index probe each (the key is ordered by indicator, then period),
    probed only as they are needed, a batch in one statement. They are read for the series still
    waiting in batches of 1, 2, 4… periods, newest first, or of as many periods as keep a round near
    ``_ROUND_PROBES`` reads of a figure when only a few series still wait: a series with a figure last
    period is answered by the first read, a few with no recent history (or none) by a few rounds more,
    never a read of the indicator's whole store. One indicator has one period type, so its period
    codes sort in time order. Every indicator with a series still waiting walks in the same rounds,
    one read a round for them all: a round's cost is its statements and frame operations, whatever
    the number of indicators; an indicator whose series are all answered walks no further.
    """
    asked = pl.col("indicator_id").is_in(indicators)
    # A million-row upload's keys are copied, hashed and made unique once each here, not twice.
    mine = keys if keys.select(asked.all()).item() else keys.filter(asked)
    found = [pl.DataFrame(schema=CURRENT_SCHEMA)]
    uploaded = mine.select(KEY).unique()
    waiting = uploaded.select(*_SERIES, "period")
    latest = dict(mine.group_by("indicator_id").agg(pl.col("period").max()).iter_rows())
    staged: pl.DataFrame | None = None
    # Each walking indicator's oldest period read so far: the next batch starts below it.
    walks = {indicator: str(latest[indicator]) for indicator in indicators}
    size = 0
    while waiting.height:
        size = 1 if size == 0 else max(size * 2, _ROUND_PROBES // waiting.height)
        batches = _next_batches(cursor, mark, walks, waiting, size)
        walks = {indicator: batch[-1] for indicator, batch in batches.items()}
        if not walks:
            break
        waiting = waiting.filter(pl.col("indicator_id").is_in(list(walks)))
        asking = _asking(waiting, batches)
        if asking.is_empty():
            continue
        read = _uncovered(
            pl.DataFrame(
                [(indicator, period) for indicator, batch in batches.items() for period in batch],
                schema={"indicator_id": pl.String, "period": pl.String},
                orient="row",
            ),
            asking,
            uploaded,
        )
        if read.is_empty():
            continue
        # A round asking for the same series as the last (a few series walking far back) leaves them staged.
        if staged is None or not _same_rows(asking, staged):
            stage(cursor, dialect, "rule_series", _SERIES, asking)
            staged = asking
        stage(cursor, dialect, "rule_period", ["indicator_id", "period"], read)
        cursor.execute(_earlier_read(dialect, probe=asking.height < _FEW_SERIES))
        hits = fetch_figures(cursor).join(uploaded, on=KEY, how="anti")
        if hits.is_empty():
            continue
        found.append(hits)
        waiting = _unanswered(waiting, hits)
    return pl.concat(found)


def _next_batches(
    cursor: Any, mark: str, walks: dict[str, str], waiting: pl.DataFrame, size: int
) -> dict[str, list[str]]:
    """The next ``size`` periods of each walking indicator a series still waits for, below the oldest read so far."""
    # An indicator none of whose series still waits probes no more periods.
    still = set(waiting.get_column("indicator_id").unique().to_list())
    batches = {
        indicator: _periods_before(cursor, mark, indicator, below, size)
        for indicator, below in walks.items()
        if indicator in still
    }
    # An indicator whose periods are all read drops out: what still waits of it has no earlier figure.
    return {indicator: batch for indicator, batch in batches.items() if batch}


def _asking(waiting: pl.DataFrame, batches: dict[str, list[str]]) -> pl.DataFrame:
    """The waiting series some period of this round's batches is older than: the series this round reads for."""
    reach = pl.DataFrame(
        [(indicator, batch[-1]) for indicator, batch in batches.items()],
        schema={"indicator_id": pl.String, "_oldest": pl.String},
        orient="row",
    )
    return waiting.join(reach, on="indicator_id").filter(pl.col("period") > pl.col("_oldest")).select(_SERIES).unique()


def _unanswered(waiting: pl.DataFrame, hits: pl.DataFrame) -> pl.DataFrame:
    """The waiting figures no hit of this round answers."""
    # The newest hit before each waiting figure's own period answers it.
    answered = (
        waiting.join(hits.select(*_SERIES, pl.col("period").alias("_at")), on=_SERIES)
        .filter(pl.col("_at") < pl.col("period"))
        .select(*_SERIES, "period")
        .unique()
    )
    return waiting.join(answered, on=[*_SERIES, "period"], how="anti")


#: The (series, period) reads a round of the latest-earlier walk may take when only a few series still wait: a
#: few milliseconds of index probes, against a round's own statements and frame operations.
_ROUND_PROBES = 4096


def _same_rows(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    return a.height == b.height and a.join(b, on=a.columns, how="anti").is_empty()


#: Fewer staged series than this are read from the store a (series, period) at a time on PostgreSQL.
_FEW_SERIES = 1000


def _earlier_read(dialect: str, *, probe: bool) -> str:
    """The statement reading the staged series' figures in the staged periods.

    On SQLite CROSS JOIN fixes the order: the series drive, each with its indicator's few periods, each pair one
    probe of the figure key. PostgreSQL, given many series, reads the staged periods' runs of the store and
    joins them to the series (faster than a probe per pair when most of a run is asked for); given few
    (``probe``), it read each series' whole history the same way and kept a few rows (51 ms for one series and
    511 periods in a store of 5,000,000 figures, against 2.6 ms probing each pair), so a lateral subquery,
    kept apart by OFFSET 0, makes each (series, period) one probe of the whole key.
    """
    wanted = "o.is_current AND o.value IS NOT NULL"
    if dialect == "sqlite" or not probe:
        join = "CROSS JOIN" if dialect == "sqlite" else "JOIN"
        return (
            f"SELECT {FIGURE_COLUMNS} FROM rule_series k {join} rule_period p ON p.indicator_id = k.indicator_id "
            f"{join} observation o ON o.indicator_id = k.indicator_id AND o.period = p.period "
            f"AND o.org_code = k.org_code AND o.breakdown = k.breakdown WHERE {wanted}"
        )
    return (
        f"SELECT {FIGURE_COLUMNS} FROM rule_series k JOIN rule_period p ON p.indicator_id = k.indicator_id "
        "CROSS JOIN LATERAL (SELECT * FROM observation o WHERE o.indicator_id = k.indicator_id AND o.period = p.period "
        f"AND o.org_code = k.org_code AND o.breakdown = k.breakdown AND {wanted} OFFSET 0) o"
    )


def _uncovered(read: pl.DataFrame, asking: pl.DataFrame, uploaded: pl.DataFrame) -> pl.DataFrame:
    """Drop the (indicator, period) pairs the upload itself gives for every asking series of the indicator.

    Such a period can answer none of them (the upload's own figures replace what is stored), so it is
    not read: an upload of three years' figures would otherwise read back two years of its own.
    """
    given = (
        uploaded.join(read, on=["indicator_id", "period"], how="semi")
        .join(asking, on=_SERIES, how="semi")
        .group_by("indicator_id", "period")
        .len()
    )
    if given.is_empty():
        return read
    wanted = asking.group_by("indicator_id").len("_asking")
    covered = given.join(wanted, on="indicator_id").filter(pl.col("len") == pl.col("_asking"))
    return read.join(covered, on=["indicator_id", "period"], how="anti")


def _periods_before(cursor: Any, mark: str, indicator: str, below: str, count: int) -> list[str]:
    """The indicator's ``count`` stored periods before ``below``, newest first: one index probe each, all in one statement."""
    cursor.execute(
        "WITH RECURSIVE walk(period, depth) AS ("
        f"SELECT (SELECT max(period) FROM observation WHERE indicator_id = {mark} AND period < {mark}), 1 "
        "UNION ALL SELECT (SELECT max(o.period) FROM observation o "
        f"WHERE o.indicator_id = {mark} AND o.period < walk.period), walk.depth + 1 "
        f"FROM walk WHERE walk.period IS NOT NULL AND walk.depth < {mark}"
        ") SELECT period FROM walk WHERE period IS NOT NULL ORDER BY depth",
        (indicator, below, indicator, count),
    )
    return [str(row[0]) for row in cursor.fetchall()]


def _stored_reader(
    session: Session,
) -> Callable[[pl.DataFrame, dict[str, frozenset[str]], frozenset[str]], pl.DataFrame]:
    bind = session.get_bind()

    def read(keys: pl.DataFrame, partners: dict[str, frozenset[str]], earlier: frozenset[str]) -> pl.DataFrame:
        with Session(bind) as own:
            return figures_for_rules(own, keys, partners, earlier)

    return read


@dataclass(frozen=True)
class _Shared:
    indicators: pl.DataFrame
    known_orgs: frozenset[str]
    codelists: dict[str, frozenset[str]]
    rules: tuple[Rule, ...]
    facts: dict[str, Facts]


_shared_cache: dict[tuple[str | int, ...], _Shared] = {}
_shared_lock = threading.Lock()


def shared_context(session: Session) -> _Shared:
    """What every upload needs (indicators, org units, code lists), read once per catalogue version."""
    from indicators.service import current_catalogue_version

    version = current_catalogue_version(session)
    counts = session.execute(
        sa_select(
            select(func.count()).select_from(OrgUnit).scalar_subquery(),
            select(func.count()).select_from(Indicator).scalar_subquery(),
            select(func.count()).select_from(Code).scalar_subquery(),
        )
    ).one()
    # Indicators, code lists and rules change with a catalogue load, which records a new version and hash; org units
    # are the geography and any added since; the counts also tell a row added by hand. Copies of one store (the
    # tests' stores, a restored backup) share all of these, so one reading serves them all.
    key: tuple[str | int, ...] = (version.content_hash if version else "", *(int(n) for n in counts))
    with _shared_lock:
        found = _shared_cache.get(key)
    if found is not None:
        return found
    codelists: dict[str, set[str]] = {}
    for list_id, code in session.execute(select(Code.codelist_id, Code.code)).all():
        codelists.setdefault(list_id, set()).add(code)
    rules = load_rules(session)
    indicators = indicators_by_id(session)
    found = _Shared(
        indicators=indicator_frame(session, rules),
        known_orgs=frozenset(session.execute(select(OrgUnit.code)).scalars()),
        codelists={k: frozenset(v) for k, v in codelists.items()},
        rules=tuple(rules),
        facts=FixedCatalogue(
            {
                i: Facts(
                    statistic=r.statistic,
                    unit=r.unit,
                    formula=r.formula,
                    breakdowns=tuple(r.breakdowns),
                    aggregation=r.aggregation,
                    numerator=r.numerator,
                    denominator=r.denominator,
                    range_min=r.range_min,
                    range_max=r.range_max,
                )
                for i, r in indicators.items()
            }
        ),
    )
    with _shared_lock:
        _shared_cache.clear()
        _shared_cache[key] = found
    return found


def build_context(
    session: Session, agency_code: str, *, today: date | None = None, compared: pl.DataFrame | None = None
) -> Context:
    """Read everything validation needs for one agency's upload; the stored figures its rules compare with are read
    lazily, unless ``compared`` gives the figures to compare with (a publisher's previous release)."""
    agency_inds = sorted(
        session.execute(
            select(AgencyIndicator.indicator_id).where(AgencyIndicator.agency_code == agency_code)
        ).scalars()
    )
    agency_orgs = sorted(
        session.execute(select(AgencyOrg.org_code).where(AgencyOrg.agency_code == agency_code)).scalars()
    )
    shared = shared_context(session)
    return Context(
        agency_code=agency_code,
        indicators=shared.indicators,
        known_orgs=shared.known_orgs,
        agency_orgs=frozenset(agency_orgs),
        agency_indicators=frozenset(agency_inds),
        codelists=shared.codelists,
        current=compared if compared is not None else pl.DataFrame(schema=CURRENT_SCHEMA),
        rules=shared.rules,
        today=today or datetime.now(UTC).date(),
        catalogue=shared.facts,
        stored_for=_stored_reader(session) if compared is None else None,
    )
