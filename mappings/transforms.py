"""Pure transforms from stored figures to the cells of a return: frames in, frames out.

Building a return for a period runs, per field: period conversion → geography roll-up →
breakdown recode → scale → rounding → suppression. Every function here takes and returns a
frame of :data:`PART_SCHEMA` so the steps chain, and each carries the lineage (``obs_ids`` with
the share ``weights`` of each stored figure) through to the cell. Nothing here touches the
database or a file.

The rules they keep (DESIGN.md, "Rules of correctness"):

- rates and percentages combine as a ratio of sums of numerators and denominators, never as an
  average of rates; a rate stored without its numerator and denominator is refused, with the
  reason, rather than guessed;
- a crosswalk weight applies to counts, numerators and denominators, then the rate is
  recomputed; a rate is never multiplied by a weight;
- periods convert only as the time basis allows: a cumulative flow sums over the sub-periods,
  a snapshot or rolling figure takes the period-end value, a rate is recomputed;
- a result some of whose parts are absent or not available is ``missing`` (value null):
  ``missing_parts`` counts the stored figures lacking and ``reason`` names them, while
  ``obs_ids`` still lists the figures that were found, so the gap can be traced;
- rounding works on the decimal a figure is written as (``1.005`` rounds half up to ``1.01``
  although the float is a shade below), see :func:`round_half_up`;
- small numbers are suppressed, then further cells so that no suppressed cell can be worked
  out by subtraction (secondary suppression).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import polars as pl

from indicators.breakdown import canonical_breakdown, parse_breakdown
from indicators.periods import Period, PeriodType
from indicators.symbols import NO_FIGURE
from mappings.obligations import owed_periods

FIGURE_SCHEMA = pl.Schema(
    {
        "obs_id": pl.Int64(),
        "indicator_id": pl.String(),
        "org_code": pl.String(),
        "period": pl.String(),
        "breakdown": pl.String(),
        "value": pl.Float64(),
        "numerator": pl.Float64(),
        "denominator": pl.Float64(),
        "symbol": pl.String(),
    }
)
PART_SCHEMA = pl.Schema(
    {
        **{name: dtype for name, dtype in FIGURE_SCHEMA.items() if name != "obs_id"},
        "status": pl.String(),
        "reason": pl.String(),
        "how": pl.String(),
        "parts": pl.Int64(),
        "missing_parts": pl.Int64(),
        "obs_ids": pl.List(pl.Int64()),
        "weights": pl.List(pl.Float64()),
    }
)

PRESENT = "present"
MISSING = "missing"
NOT_AVAILABLE = "not_available"
NOT_DERIVABLE = "not_derivable"
SUPPRESSED = "suppressed"

#: Why a cell is hidden to protect another: it says nothing about which cell, or its value.
SECONDARY_REASON = "suppressed as well, so that a suppressed figure cannot be worked out by subtraction from the total"
#: What each "no figure" symbol records (the same symbols the upload accepts).
SYMBOL_MEANINGS = NO_FIGURE
#: The steps ``how`` can record, in pipeline order (the order they are written in).
STEPS = ("converted", "rolled_up", "apportioned", "recoded")
AGGREGATIONS = ("sum", "ratio_of_sums", "weighted_mean", "none")
TIME_BASES = ("snapshot", "cumulative", "rolling_12_months")
#: Statistics whose small numerators are suppressed (for counts it is the value itself).
RATIO_STATISTICS = ("percentage", "rate")

_IDENTITY = ["indicator_id", "org_code", "period", "breakdown"]
_FIGURE = ["value", "numerator", "denominator"]
_RoundMode = Literal["half_to_even", "half_away_from_zero"]
#: Rounding goes through a decimal of this precision; above _DECIMAL_LIMIT a float has no
#: fractional digits worth rounding, so the plain float rounding is exact there.
_DECIMAL = pl.Decimal(38, 18)
_DECIMAL_LIMIT = 1e15


def as_parts(figures: pl.DataFrame) -> pl.DataFrame:
    """Turn stored figures (FIGURE_SCHEMA) into parts: each present, or not available with its symbol's meaning."""
    f = figures.select(pl.col(name).cast(dtype) for name, dtype in FIGURE_SCHEMA.items())
    has_symbol = pl.col("symbol").is_not_null()
    no_value = pl.col("value").is_null()
    meaning = pl.col("symbol").replace_strict(SYMBOL_MEANINGS, default=pl.format("no figure ({})", pl.col("symbol")))
    return _conform(
        f.with_columns(
            value=pl.when(has_symbol).then(None).otherwise(pl.col("value")),
            status=pl.when(has_symbol)
            .then(pl.lit(NOT_AVAILABLE))
            .when(no_value)
            .then(pl.lit(MISSING))
            .otherwise(pl.lit(PRESENT)),
            # A row with neither a value nor a symbol says nothing; treat it as the gap it is.
            reason=pl.when(has_symbol).then(meaning).when(no_value).then(pl.lit("stored without a value or a symbol")),
            how=pl.lit(""),
            parts=pl.lit(1, dtype=pl.Int64),
            missing_parts=pl.when(has_symbol | no_value).then(1).otherwise(0),
            obs_ids=pl.concat_list(pl.col("obs_id")),
            weights=pl.concat_list(pl.lit(1.0)),
        )
    )


def convert_period(
    parts: pl.DataFrame,
    target: Period,
    *,
    period_type: PeriodType,
    time_basis: str,
    aggregation: str,
    multiplier: int,
) -> pl.DataFrame:
    """Convert parts of ``period_type`` to one row per (indicator, org, breakdown) for ``target``."""
    _check_parts(parts)
    _check_choice("time_basis", time_basis, TIME_BASES)
    _check_choice("aggregation", aggregation, AGGREGATIONS)
    keys = parts.select("indicator_id", "org_code", "breakdown").unique().sort(pl.all())
    expected = owed_periods(period_type, target)
    if not expected:
        reason = f"{_label(period_type)} figures cannot be converted to the {_label(target.type)} {target.code}"
        return _conform(
            keys.with_columns(
                period=pl.lit(target.code),
                status=pl.lit(NOT_DERIVABLE),
                reason=pl.lit(reason),
                how=pl.lit(""),
                parts=0,
                missing_parts=0,
                obs_ids=_EMPTY_IDS,
                weights=_EMPTY_WEIGHTS,
            )
        )
    # A snapshot-date figure keeps its own date: the return says "as at", not the period.
    out_period = expected[-1].code if period_type == "snapshot_date" else target.code
    if time_basis != "cumulative" or len(expected) == 1:
        return _pick(parts, keys, expected[-1].code, out_period)
    members = pl.DataFrame({"member": [p.code for p in expected], "position": range(len(expected))})
    grid = (
        keys.join(members, how="cross")
        .join(parts.rename({"period": "member"}), on=["indicator_id", "org_code", "breakdown", "member"], how="left")
        .sort("indicator_id", "org_code", "breakdown", "position")
        .with_columns(period=pl.lit(out_period), w=pl.lit(1.0))
    )
    refuse: pl.Expr | None = None
    if aggregation == "none":
        refuse = pl.format(
            "{} is not additive, so its {} figures cannot be added up into {}",
            pl.col("indicator_id"),
            pl.lit(_label(period_type)),
            pl.lit(target.code),
        )
    elif aggregation == "weighted_mean":
        refuse = pl.lit(
            f"a weighted mean cannot be added up over the {len(expected)} {_label(period_type)}s of {target.code}"
        )
    return _combine(
        grid,
        aggregation=aggregation,
        multiplier=multiplier,
        verb=f"recomputed for {target.code}",
        steps={"converted": pl.lit(True)},
        refuse=refuse,
    )


def own_periods(parts: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Parts of many periods, by period, each as :func:`convert_period` gives that period's parts for itself.

    One pass for a whole history (a comparison's years) instead of one conversion a period: a figure of the
    period asked for is its own answer, so only its record of steps is rewritten, row for row as ``_pick`` does.
    """
    _check_parts(parts)
    ordered = _conform(
        parts.sort("indicator_id", "org_code", "breakdown", maintain_order=True).with_columns(
            how=_how({"converted": pl.lit(False)})
        )
    )
    return {str(k[0]): f for k, f in ordered.partition_by("period", as_dict=True, maintain_order=True).items()}


def roll_up(parts: pl.DataFrame, links: pl.DataFrame, *, aggregation: str, multiplier: int) -> pl.DataFrame:
    """Roll parts up (or apportion them) from each link's from_code to its to_code, weighted by the link."""
    _check_parts(parts)
    _check_choice("aggregation", aggregation, AGGREGATIONS)
    links = links.select(
        pl.col("from_code").cast(pl.String), pl.col("to_code").cast(pl.String), pl.col("weight").cast(pl.Float64)
    )
    doubled = links.filter(pl.struct("from_code", "to_code").is_duplicated())
    if not doubled.is_empty():
        first = doubled.row(0, named=True)
        raise ValueError(f"the link {first['from_code']} → {first['to_code']} is given twice")
    figure_keys = ["indicator_id", "period", "breakdown"]
    # Each parent owes a row for every figure any of its children has; then every child of
    # that parent is expected, so an absent child shows as a gap instead of a smaller total.
    wanted = (
        links.join(parts.select("org_code", *figure_keys).unique(), left_on="from_code", right_on="org_code")
        .select("to_code", *figure_keys)
        .unique()
    )
    grid = (
        wanted.join(links, on="to_code")
        .join(parts, left_on=["from_code", *figure_keys], right_on=["org_code", *figure_keys], how="left")
        .rename({"to_code": "org_code", "from_code": "member", "weight": "w"})
        .sort("org_code", *figure_keys, "member")
    )
    refuse = None
    if aggregation == "none":
        refuse = pl.format("{} is not additive, so it cannot be rolled up", pl.col("indicator_id"))
    return _combine(
        grid,
        aggregation=aggregation,
        multiplier=multiplier,
        verb="rolled up",
        steps={"rolled_up": (pl.col("w") == 1.0).all(), "apportioned": (pl.col("w") != 1.0).any()},
        refuse=refuse,
    )


def recode(
    parts: pl.DataFrame, dim: str, mapping: dict[str, str], *, aggregation: str, multiplier: int
) -> pl.DataFrame:
    """Fold the codes of ``dim`` in each breakdown key into their targets in ``mapping``, combining the figures."""
    _check_parts(parts)
    _check_choice("aggregation", aggregation, AGGREGATIONS)
    sources: dict[str, list[str]] = {}
    for code, target in mapping.items():
        sources.setdefault(target, []).append(code)
    # The plan lists, for every target key, the source keys that make it up (all of them, so an
    # absent band shows as a gap); keys are few, so this is plain Python over unique keys.
    plan_rows: set[tuple[str, str, str]] = set()
    for key in parts.get_column("breakdown").unique().to_list():
        codes = parse_breakdown(key)
        if codes.get(dim) not in mapping:
            continue
        target = mapping[codes[dim]]
        new_key = canonical_breakdown({**codes, dim: target})
        plan_rows |= {(new_key, canonical_breakdown({**codes, dim: s}), f"{dim}={s}") for s in sources[target]}
    plan = pl.DataFrame(
        sorted(plan_rows),
        schema={"new_breakdown": pl.String, "breakdown": pl.String, "member": pl.String},
        orient="row",
    )
    kept = parts.join(plan, on="breakdown", how="anti")
    clash = kept.join(plan.select(pl.col("new_breakdown").alias("breakdown")).unique(), on="breakdown", how="semi")
    if not clash.is_empty():
        raise ValueError(
            f"breakdown {clash.item(0, 'breakdown')!r} is both stored and made by recoding {dim}; "
            "a mapping's target must not be a code it leaves alone"
        )
    sizes = plan.group_by("new_breakdown").agg(size=pl.len())
    place = ["indicator_id", "org_code", "period"]
    groups = parts.join(plan, on="breakdown").select(*place, "new_breakdown").unique().join(sizes, on="new_breakdown")
    # A target with one source is a relabelling: the figure goes through whatever its aggregation.
    single = (
        groups.filter(pl.col("size") == 1)
        .join(plan, on="new_breakdown")
        .join(parts, on=[*place, "breakdown"])
        .with_columns(
            how=_how({"recoded": pl.col("breakdown") != pl.col("new_breakdown")}),
            breakdown=pl.col("new_breakdown"),
        )
    )
    grid = (
        groups.filter(pl.col("size") > 1)
        .join(plan, on="new_breakdown")
        .join(parts, on=[*place, "breakdown"], how="left")
        .drop("breakdown")
        .rename({"new_breakdown": "breakdown"})
        .sort(*place, "breakdown", "member")
        .with_columns(w=pl.lit(1.0))
    )
    combined = _combine(
        grid, aggregation=aggregation, multiplier=multiplier, verb="recoded", steps={"recoded": pl.lit(True)}
    )
    return pl.concat([_conform(kept), _conform(single), combined]).sort(_IDENTITY)


def round_half_up(expr: pl.Expr, decimals: int) -> pl.Expr:
    """Round to ``decimals`` places, halves away from zero, on the decimal the float is written as."""
    return _round(expr, decimals, "half_away_from_zero")


@lru_cache(maxsize=256)
def scaled_rounded(scale: float, decimals: int, rule: Literal["half_up", "half_even"]) -> pl.Expr:
    """The value column (not its numerator or denominator) multiplied by ``scale`` and rounded to ``decimals`` places
    by the return's rule (halves up, or to even), as one expression: a return's fields are scaled and rounded in one
    query."""
    # Made once for each scale, decimals and rule (a return's fields share a few): an expression is never changed.
    modes: dict[str, _RoundMode] = {"half_up": "half_away_from_zero", "half_even": "half_to_even"}
    _check_choice("rule", rule, tuple(modes))
    value = pl.col("value") if scale == 1 else pl.col("value") * scale
    return _round(value, decimals, modes[rule]).alias("value")


def suppress(
    cells: pl.DataFrame,
    *,
    low: float,
    high: float,
    symbol: str,
    secondary: bool,
    groups: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Suppress small counts and rates with small numerators, then (with ``secondary``) the cells that would reveal them."""
    if secondary and groups is None:
        raise ValueError("secondary suppression needs the groups of cells that add up")
    if cells.get_column("cell_id").is_duplicated().any():
        raise ValueError("cell_id must be unique")
    statistic = pl.col("statistic")
    primary = (pl.col("status") == PRESENT) & (
        ((statistic == "count") & pl.col("value").is_between(low, high))
        | (statistic.is_in(RATIO_STATISTICS) & pl.col("numerator").is_between(low, high))
    )
    if "hidden_value" not in cells.columns:
        cells = cells.with_columns(hidden_value=pl.lit(None, dtype=pl.Float64))
    out = _hide(cells, primary, symbol, pl.lit(f"values from {low:g} to {high:g} are suppressed"))
    if not secondary or groups is None:
        return out
    revealing = _secondary(out, groups)
    if not revealing:
        return out
    # The reason never names the cell it protects: naming it would point at the small number.
    return _hide(
        out,
        pl.col("cell_id").is_in(list(revealing)),
        symbol,
        pl.lit(SECONDARY_REASON),
    )


# --- helpers -----------------------------------------------------------------------------

_EMPTY_IDS = pl.lit([], dtype=pl.List(pl.Int64))
_EMPTY_WEIGHTS = pl.lit([], dtype=pl.List(pl.Float64))


def _label(period_type: str) -> str:
    return period_type.replace("_", " ")


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {', '.join(allowed)}")


def _check_parts(parts: pl.DataFrame) -> None:
    missing = [c for c in PART_SCHEMA if c not in parts.columns]
    if missing:
        raise ValueError(f"parts lack the column(s) {', '.join(missing)}; build them with as_parts")
    # A figure twice would be counted twice in every sum downstream.
    doubled = parts.filter(pl.struct(_IDENTITY).is_duplicated())
    if not doubled.is_empty():
        row = doubled.row(0, named=True)
        raise ValueError(
            "the figure {indicator_id} / {org_code} / {period} / {breakdown!r} is given twice".format(**row)
        )


#: Each PART_SCHEMA column in its type, and as a null of that type where a frame has none (made once: every
#: transform ends by conforming its frame).
_TYPED = {name: pl.col(name).cast(dtype) for name, dtype in PART_SCHEMA.items()}
_NULLS = {name: pl.lit(None, dtype=dtype).alias(name) for name, dtype in PART_SCHEMA.items()}


def _conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Select the PART_SCHEMA columns in order and type; a figure column not there is null."""
    present = set(frame.columns)
    return frame.select(_TYPED[name] if name in present else _NULLS[name] for name in PART_SCHEMA)


def _how(flags: dict[str, pl.Expr], *, within_group: bool = False) -> pl.Expr:
    """Merge the steps already recorded in ``how`` with new ones, in pipeline order."""
    pieces = []
    for step in STEPS:
        had = pl.col("how").fill_null("").str.contains(step, literal=True)
        done = (had.any() if within_group else had) | flags.get(step, pl.lit(False))
        pieces.append(pl.when(done).then(pl.lit(step)))
    return pl.concat_str(pieces, separator="+", ignore_nulls=True)


def _pick(parts: pl.DataFrame, keys: pl.DataFrame, period: str, out_period: str) -> pl.DataFrame:
    """Answer each key with its one figure for ``period`` (the period's own, or its period-end one)."""
    absent = pl.col("status").is_null()
    picked = keys.join(
        parts.filter(pl.col("period") == period), on=["indicator_id", "org_code", "breakdown"], how="left"
    )
    return _conform(
        picked.with_columns(
            period=pl.lit(out_period),
            status=pl.col("status").fill_null(MISSING),
            reason=pl.when(absent).then(pl.lit(f"no figure for {period}")).otherwise(pl.col("reason")),
            how=pl.when(absent).then(pl.lit("")).otherwise(_how({"converted": pl.lit(period != out_period)})),
            parts=pl.col("parts").fill_null(0),
            missing_parts=pl.when(absent).then(1).otherwise(pl.col("missing_parts")),
            obs_ids=pl.when(absent).then(_EMPTY_IDS).otherwise(pl.col("obs_ids")),
            weights=pl.when(absent).then(_EMPTY_WEIGHTS).otherwise(pl.col("weights")),
        )
    )


def _combine(
    grid: pl.DataFrame,
    *,
    aggregation: str,
    multiplier: int,
    verb: str,
    steps: dict[str, pl.Expr],
    refuse: pl.Expr | None = None,
) -> pl.DataFrame:
    """Combine the members of each group into one figure.

    ``grid`` has the output identity columns, ``member`` (a label for reasons), ``w`` (the share
    of the member that goes in) and the member's part columns, null where the member is absent.
    """
    keys = [c for c in _IDENTITY if c in grid.columns]
    summed = _member_sums(grid, keys, aggregation, steps)
    value, num, den, zero_den = _combined_figure(aggregation, multiplier)
    has = pl.col("lacking") != ""
    if aggregation == "ratio_of_sums":
        lack_text = pl.format(
            "no numerator and denominator for {}: a rate cannot be {} without its numerator and denominator",
            pl.col("lacking"),
            pl.lit(verb),
        )
    else:
        lack_text = pl.format(
            "no denominator for {}: a mean cannot be {} without the denominators that weight it",
            pl.col("lacking"),
            pl.lit(verb),
        )
    # With a member missing the denominators are partial; the gap is what to report then.
    zero_den = zero_den & (pl.col("gone") == "")
    underivable = pl.lit(refuse is not None) | (pl.col("broken") != "") | has | zero_den
    why_not = pl.concat_str(
        [
            refuse if refuse is not None else pl.lit(None, dtype=pl.String),
            pl.when(pl.col("broken") != "").then(pl.col("broken")),
            pl.when(has).then(lack_text),
            pl.when(zero_den).then(pl.lit("the denominators add up to 0")),
        ],
        separator="; ",
        ignore_nulls=True,
    )
    out_status = (
        pl.when(underivable)
        .then(pl.lit(NOT_DERIVABLE))
        .when(pl.col("gone") != "")
        .then(pl.lit(MISSING))
        .otherwise(pl.lit(PRESENT))
    )
    ok = pl.col("status") == PRESENT
    result = summed.with_columns(status=out_status).with_columns(
        value=pl.when(ok).then(value),
        numerator=pl.when(ok).then(num),
        denominator=pl.when(ok).then(den),
        symbol=pl.lit(None, dtype=pl.String),
        reason=pl.when(pl.col("status") == NOT_DERIVABLE)
        .then(why_not)
        .when(pl.col("status") == MISSING)
        .then(pl.format("no figure for {}", pl.col("gone"))),
    )
    return _conform(result)


def _member_sums(grid: pl.DataFrame, keys: list[str], aggregation: str, steps: dict[str, pl.Expr]) -> pl.DataFrame:
    """Sum each group's members (weighted by their share) and name the members broken, lacking parts or gone."""
    status = pl.col("status")
    w = pl.col("w")
    present = status == PRESENT
    gone = status.is_null() | status.is_in([MISSING, NOT_AVAILABLE])
    lacks = pl.lit(False)
    if aggregation == "ratio_of_sums":
        lacks = present & (pl.col("numerator").is_null() | pl.col("denominator").is_null())
    elif aggregation == "weighted_mean":
        lacks = present & pl.col("denominator").is_null()
    return grid.group_by(keys, maintain_order=True).agg(
        broken=pl.format("{}: {}", pl.col("member"), pl.col("reason")).filter(status == NOT_DERIVABLE).str.join("; "),
        lacking=pl.col("member").filter(lacks).str.join(", "),
        gone=pl.col("member").filter(gone).str.join(", "),
        missing_parts=pl.when(status.is_null())
        .then(1)
        .when(gone)
        .then(pl.max_horizontal(pl.col("missing_parts"), 1))
        .otherwise(0)
        .sum(),
        parts=pl.col("parts").sum(),
        value_sum=(w * pl.col("value")).sum(),
        num_sum=(w * pl.col("numerator")).sum(),
        den_sum=(w * pl.col("denominator")).sum(),
        mean_sum=(w * pl.col("denominator") * pl.col("value")).sum(),
        num_all=pl.col("numerator").is_not_null().all(),
        den_all=pl.col("denominator").is_not_null().all(),
        obs_ids=pl.col("obs_ids").list.explode(keep_nulls=False, empty_as_null=False),
        # The weight goes on every stored figure behind the member, so shares multiply down the chain.
        weights=(pl.col("weights") * w).list.explode(keep_nulls=False, empty_as_null=False),
        how=_how(steps, within_group=True),
    )


def _combined_figure(aggregation: str, multiplier: int) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """The combined value, numerator and denominator of a group's sums, and whether its denominator is 0."""
    num: pl.Expr = pl.when(pl.col("num_all")).then(pl.col("num_sum"))
    den: pl.Expr = pl.when(pl.col("den_all")).then(pl.col("den_sum"))
    zero_den = pl.lit(False)
    if aggregation == "sum":
        value = pl.col("value_sum")
    elif aggregation == "ratio_of_sums":
        value, num, den = pl.col("num_sum") / pl.col("den_sum") * multiplier, pl.col("num_sum"), pl.col("den_sum")
        zero_den = pl.col("den_sum") == 0
    elif aggregation == "weighted_mean":
        value, den = pl.col("mean_sum") / pl.col("den_sum"), pl.col("den_sum")
        zero_den = pl.col("den_sum") == 0
    else:
        value = pl.lit(None, dtype=pl.Float64)
    return value, num, den, zero_den


def _round(expr: pl.Expr, decimals: int, mode: _RoundMode) -> pl.Expr:
    """Round ``expr`` by ``mode`` on the shortest decimal that reads back as the same float.

    Polars rounds the binary float (2.5 → 2 by default, and 1.005 → 1.00 even halves away from
    zero, because the float 1.005 is 1.00499999…). A figure is keyed in and printed as a
    decimal, so the decimal is what gets rounded: the float is written as its shortest
    round-trip text, read as an exact decimal, rounded there and turned back into a float.
    """
    if not 0 <= decimals <= 12:
        raise ValueError(f"decimals must be from 0 to 12, not {decimals}")
    exact = expr.cast(pl.String).cast(_DECIMAL, strict=False).round(decimals, mode=mode).cast(pl.Float64)
    return (
        pl.when(expr.is_finite() & (expr.abs() < _DECIMAL_LIMIT)).then(exact).otherwise(expr.round(decimals, mode=mode))
    )


def _hide(cells: pl.DataFrame, which: pl.Expr, symbol: str, reason: pl.Expr) -> pl.DataFrame:
    """Suppress the cells ``which`` selects: keep the value aside, blank it, say why."""
    return cells.with_columns(
        hidden_value=pl.when(which).then(pl.col("value")).otherwise(pl.col("hidden_value")),
        value=pl.when(which).then(None).otherwise(pl.col("value")),
        symbol=pl.when(which).then(pl.lit(symbol)).otherwise(pl.col("symbol")),
        status=pl.when(which).then(pl.lit(SUPPRESSED)).otherwise(pl.col("status")),
        reason=pl.when(which).then(reason).otherwise(pl.col("reason")),
    )


def _secondary(cells: pl.DataFrame, groups: pl.DataFrame) -> dict[str, str]:
    """Choose the further cells to suppress: each maps to the suppressed cell it protects.

    A group adds up (total = sum of parts), so a group with exactly one suppressed member gives
    that member away by subtraction. Each round takes every such group and suppresses its
    smallest present part (ties by cell_id), or the total when no part is left. Groups are
    handled in group_id order within a round, skipping one that an earlier choice of the same
    round already covered, so a cell shared by two groups is not matched by two new ones.
    Every round suppresses at least one more cell or stops, so it ends.
    """
    members = groups.select(
        pl.col("cell_id").cast(pl.String), pl.col("group_id").cast(pl.String), pl.col("role").cast(pl.String)
    ).join(cells.select("cell_id", "value", "status"), on="cell_id", how="left")
    member_sets: dict[str, set[str]] = {
        g: set(ids) for g, ids in members.group_by("group_id").agg(pl.col("cell_id")).iter_rows()
    }
    hidden = set(cells.filter(pl.col("status") == SUPPRESSED).get_column("cell_id").to_list())
    chosen: dict[str, str] = {}
    while True:
        state = members.with_columns(hidden=pl.col("cell_id").is_in(list(hidden)))
        needy = (
            state.group_by("group_id")
            .agg(count=pl.col("hidden").sum(), lone=pl.col("cell_id").filter(pl.col("hidden")).first())
            .filter(pl.col("count") == 1)
        )
        picks = (
            state.join(needy, on="group_id")
            .filter(~pl.col("hidden") & (pl.col("status") == PRESENT) & pl.col("value").is_not_null())
            .with_columns(is_total=pl.col("role") == "total")
            .sort("group_id", "is_total", "value", "cell_id")
            .group_by("group_id", maintain_order=True)
            .first()
        )
        fresh: set[str] = set()
        for group_id, cell_id, lone in picks.select("group_id", "cell_id", "lone").iter_rows():
            if member_sets[group_id] & fresh:
                continue
            fresh.add(cell_id)
            chosen[cell_id] = lone
        if not fresh:
            # Either every group is safe, or the only unsafe ones have nothing left to hide.
            return chosen
        hidden |= fresh
