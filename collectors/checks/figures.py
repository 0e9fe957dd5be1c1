"""The checks on typed figures, by their own names (``indicator_id``, ``org_code``, ``period``, ``breakdown``,
``value`` ... and the ``file_row`` that says where each lies): the catalogue, the agency's duties, the periods and
breakdowns, the value rules, figures given twice, and the catalogue's plausibility rules with the figures stored.

Every way in hands its figures here typed (a template's cells read first by ``cells``); a problem names the figure's
part it is on (``indicator_id``, ``value`` ...) at its file row, and the way in says what its file calls that part.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from collectors.checks.blanks import blank_rows as blank_rows_notice
from collectors.checks.blanks import blank_upload
from collectors.checks.checked import Validation, empty_problems, found_on, problem_frame, refused
from collectors.checks.crosscheck import UPLOAD_COLUMNS, row_numbers
from collectors.checks.crosscheck import check as cross_check
from collectors.checks.policy import Context, Policy
from collectors.checks.values import type_errors
from indicators.breakdown import canonical_breakdown, parse_breakdown
from indicators.periods import PERIOD_TYPES, parse_period
from indicators.rules import Rule, bound_indicators, first_binding
from indicators.symbols import STATUSES
from onereturn.checks import pa
from onereturn.errors import InvalidInput

#: The parts of a figure a way in may leave out: each is then empty.
_OPTIONAL = ("breakdown", "status", "note")
#: The parts of a figure that name it, and the words a problem says of each when it is empty.
_NAMED_BY = {"indicator_id": "indicator", "org_code": "org", "period": "period"}


@dataclass
class Checked:
    """What the checks found, in the figures' terms: problems in the order found (each at its file row, in the
    figure's part), the figures that may be stored and those a query holds, and the rows left out as blank."""

    problems: list[pl.DataFrame]
    accepted: pl.DataFrame
    held: pl.DataFrame
    blank_rows: pl.Series
    #: Every figure was blank: nothing was checked.
    blank: bool = False


def check_figures(
    figures: pl.DataFrame, ctx: Context, policy: Policy, *, unreadable: pl.Series | None = None
) -> Checked:
    """Check typed figures against the catalogue, the agency's duties and the stored figures, as far as the way in's
    ``policy`` holds them to them; ``unreadable`` lists file rows whose cells could not be read (never blank, never
    stored: the way in reports them)."""
    df, blank_rows = _without_blank_rows(_normalised(figures, policy), unreadable)
    if df.is_empty():
        return Checked([], pl.DataFrame(), pl.DataFrame(), blank_rows, blank=True)
    problems = [
        found_on(df, pl.col(c).is_null(), c, "missing-value", pl.lit(f"{words} is empty"))
        for c, words in _NAMED_BY.items()
    ]
    # Only the definition columns the checks read are joined: each is a million-row column on a million-row upload.
    definitions = ctx.indicators.drop("breakdowns", *_UNREAD, strict=False).rename({"id": "indicator_id"})
    df = df.join(definitions, on="indicator_id", how="left")
    problems.append(type_errors(df))
    known = pl.col("statistic").is_not_null() & (pl.lit(policy.derived_given) | ~pl.col("derived").fill_null(False))
    problems += _reference_problems(df, ctx, known, policy)

    df = _periods(df)
    problems.append(
        found_on(df, known & pl.col("period_error").is_not_null(), "period", "bad-period", pl.col("period_error"))
    )
    df = _breakdowns(df, ctx)
    problems.append(
        found_on(
            df, known & pl.col("breakdown_error").is_not_null(), "breakdown", "bad-breakdown", pl.col("breakdown_error")
        )
    )

    df = _with_judgement_codes(df, ctx)
    problems.append(check_values(df.filter(known)))
    problems.append(_future_periods(df, known, ctx.today))

    df, duplicates, repeats = _duplicates(df)
    problems.append(duplicates)
    errors = pl.concat(problems)
    problems.clear()  # a million-row upload can have a million problems: keep one copy of them, not two
    refused = errors.filter(pl.col("severity") == "error")["row"].unique()
    if unreadable is not None:
        refused = pl.concat([refused, unreadable.cast(pl.Int64)])
    # From here on only the columns the rules and the store read are carried, not the whole enriched frame.
    df = df.select(*UPLOAD_COLUMNS, *_FIGURE_ONLY)
    good = df.filter(~pl.col("file_row").is_in(refused.implode()) & ~pl.col("file_row").is_in(repeats.implode()))
    del df
    rules = policy.rules(ctx.rules)
    ruling = cross_check(good, _stored(good, ctx, rules), rules, ctx.catalogue, ctx.codelists)
    stored = _figures(good)
    del good
    accepted = stored.filter(~pl.col("file_row").is_in(row_numbers(ruling.error_rows | ruling.held_rows)))
    held = stored.filter(pl.col("file_row").is_in(row_numbers(ruling.held_rows)))
    return Checked([errors, ruling.problems], accepted, held, blank_rows)


def _normalised(figures: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """The figures with every part present, their names and status in the catalogue's case, and a note kept only
    where the policy lets a note explain a figure."""
    df = figures.with_columns(pl.lit(None, pl.String).alias(c) for c in _OPTIONAL if c not in figures.columns)
    if not policy.notes_explain:
        df = df.with_columns(pl.lit(None, pl.String).alias("note"))
    return df.with_columns(
        pl.col("indicator_id").str.strip_chars().str.to_lowercase(),
        pl.col("org_code").str.strip_chars().str.to_uppercase(),
        pl.col("status").str.strip_chars().str.to_lowercase(),
        pl.col("breakdown").fill_null(""),
    )


def _without_blank_rows(df: pl.DataFrame, unreadable: pl.Series | None) -> tuple[pl.DataFrame, pl.Series]:
    """The figures with something to read, and the file rows of the blank ones left out.

    A row whose cells could not be read is never blank: the way in reports it; nor is a figure withheld by its symbol.
    """
    blank = (
        pl.col("value_text").is_null()
        & pl.col("numerator_text").is_null()
        & pl.col("denominator_text").is_null()
        & pl.col("symbol").is_null()
    )
    kept = unreadable.unique() if unreadable is not None and unreadable.len() else pl.Series([], dtype=pl.Int64)
    blank_rows = df.filter(blank & ~pl.col("file_row").is_in(kept.implode()))["file_row"]
    return df.filter(~blank | pl.col("file_row").is_in(kept.implode())), blank_rows


@dataclass(frozen=True)
class ValueRule:
    """A check on the typed, enriched frame: ``bad`` is true on rows that break it."""

    name: str
    column: str
    bad: pl.Expr
    message: pl.Expr


def value_rules() -> list[ValueRule]:
    """List the value rules, each checked by pandera on the typed frame."""
    v, n, d, stat = pl.col("value"), pl.col("numerator"), pl.col("denominator"), pl.col("statistic")
    given, n_given, d_given = pl.col("value_text"), pl.col("numerator_text"), pl.col("denominator_text")
    tolerance = 0.5 * pl.lit(10.0).pow(-pl.col("value_dp").cast(pl.Float64)) + 1e-9
    # Laid out by hand, the formatter told to leave it: a table of rules, each its name, column and test on one line, its message below.
    return [
        ValueRule("percentage-range", "value", (stat == "percentage") & ((v < pl.col("min_value")) | (v > pl.col("max_value"))),
             pl.format("{} is a percentage, so it must be between 0 and 100", given)),
        ValueRule("not-negative", "value", (stat != "percentage") & (pl.col("min_value") == 0) & (v < 0),
             pl.format("{} is negative; a {} cannot be", given, stat)),
        ValueRule("whole-count", "value", pl.col("whole") & (v != v.floor()),
             pl.format("{} is not a whole number; a count of {} must be", given, pl.col("unit"))),
        ValueRule("judgement-code", "value", (stat == "judgement") & ~pl.col("judgement_ok"),
             pl.format("{} is not a code of {}; expected one of {}", given, pl.col("judgement_codelist"), pl.col("judgement_codes"))),
        ValueRule("ratio-parts-not-negative", "numerator", (n < 0) | (d < 0),
             pl.format("numerator {} and denominator {} cannot be negative", n_given, d_given)),
        ValueRule("numerator-exceeds-denominator", "numerator", (stat == "percentage") & (n > d),
             pl.format("numerator {} is larger than denominator {}", n_given, d_given)),
        ValueRule("value-disagrees-with-ratio", "value",
             v.is_not_null() & n.is_not_null() & (d > 0) & ((v - n / d * pl.col("multiplier")).abs() > tolerance),
             pl.format("{} does not agree with {} / {} x {} = {}", given, n_given, d_given,
                       pl.col("multiplier"), (n / d * pl.col("multiplier")).round(4))),
        ValueRule("unknown-status", "status", pl.col("status").is_not_null() & ~pl.col("status").is_in(list(STATUSES)),
             pl.format("status {} is not one of {}", pl.col("status"), pl.lit(", ".join(STATUSES)))),
    ]  # fmt: skip


def _check(bad: pl.Expr) -> Callable[[pa.PolarsData], pl.LazyFrame]:
    ok = (~bad).fill_null(True)
    return lambda data: data.lazyframe.select(ok)


def check_values(df: pl.DataFrame) -> pl.DataFrame:
    """Run the value rules through a pandera schema and return their problems."""
    rules = value_rules()
    schema = pa.DataFrameSchema(
        columns={
            "value": pa.Column(pl.Float64, nullable=True),
            "numerator": pa.Column(pl.Float64, nullable=True),
            "denominator": pa.Column(pl.Float64, nullable=True),
        },
        checks=[pa.Check(_check(r.bad), name=r.name, error=r.name) for r in rules],
    )
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.filter(pl.col("index").is_not_null())
        found = []
        for number, rule in enumerate(rules):
            idx = cases.filter(pl.col("check_number") == number)["index"]
            if idx.len():
                hit = df[idx.to_list()]
                found.append(found_on(hit, pl.lit(True), rule.column, rule.name, rule.message))
        return pl.concat(found) if found else empty_problems()
    return empty_problems()


def _suggestions(unknown: list[str], known: list[str]) -> dict[str, str]:
    out = {}
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        out[name] = f" (did you mean {close[0]}?)" if close else ""
    return out


def _periods(df: pl.DataFrame) -> pl.DataFrame:
    pairs = df.select("period", "period_type").unique().filter(pl.col("period").is_not_null())
    codes: list[str | None] = []
    starts: list[date | None] = []
    errors: list[str | None] = []
    for text, kind in pairs.iter_rows():
        try:
            period = parse_period(text, kind if kind in PERIOD_TYPES else None)
            codes.append(period.code)
            starts.append(period.start)
            errors.append(None)
        except InvalidInput as exc:
            codes.append(None)
            starts.append(None)
            errors.append(exc.message)
    lookup = pairs.with_columns(
        pl.Series("period_code", codes, pl.String),
        pl.Series("period_start", starts, pl.Date),
        pl.Series("period_error", errors, pl.String),
    )
    return df.join(lookup, on=["period", "period_type"], how="left", nulls_equal=True)


def _breakdowns(df: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    # The indicator's breakdown dimensions are joined onto the distinct pairs, not onto every row.
    dims = ctx.indicators.select(pl.col("id").alias("indicator_id"), pl.col("breakdowns").alias("breakdown_dims"))
    pairs = df.select("breakdown", "indicator_id").unique().join(dims, on="indicator_id", how="left")
    keys: list[str | None] = []
    errors: list[str | None] = []
    for text, indicator, dims in pairs.iter_rows():
        try:
            parts = parse_breakdown(text)
            for dim, code in parts.items():
                if dims is not None and dim not in dims:
                    raise InvalidInput(f"{indicator} has no breakdown {dim!r} (it has {', '.join(dims) or 'none'})")
                if dim in ctx.codelists and code not in ctx.codelists[dim]:
                    close = difflib.get_close_matches(code, sorted(ctx.codelists[dim]), n=1)
                    hint = (
                        f" (did you mean {close[0]}?)"
                        if close
                        else f"; expected one of {', '.join(sorted(ctx.codelists[dim]))}"
                    )
                    raise InvalidInput(f"{code!r} is not a code of {dim}{hint}")
            keys.append(canonical_breakdown(parts))
            errors.append(None)
        except InvalidInput as exc:
            keys.append(None)
            errors.append(exc.message)
    lookup = pairs.select("breakdown", "indicator_id").with_columns(
        pl.Series("breakdown_key", keys, pl.String), pl.Series("breakdown_error", errors, pl.String)
    )
    return df.join(lookup, on=["breakdown", "indicator_id"], how="left", nulls_equal=True)


def _future_periods(df: pl.DataFrame, known: pl.Expr, today: date) -> pl.DataFrame:
    """A figure for a period that has not begun yet is an error."""
    return found_on(
        df,
        known & (pl.col("period_start") > today),
        "period",
        "future-period",
        pl.format(
            "{} has not begun yet (today is {}); figures can only be given for periods that have started",
            pl.col("period"),
            pl.lit(today.isoformat()),
        ),
    )


def _reference_problems(df: pl.DataFrame, ctx: Context, known: pl.Expr, policy: Policy) -> list[pl.DataFrame]:
    """Figures naming an indicator or org unit the catalogue does not know, or (as ``policy`` holds them to the
    agency's duties) that this agency does not answer for."""
    indicator, org = pl.col("indicator_id"), pl.col("org_code")
    found: list[pl.DataFrame] = []
    unknown = df.filter(indicator.is_not_null() & pl.col("statistic").is_null())["indicator_id"].unique().to_list()
    hints = _suggestions(unknown, ctx.indicators["id"].to_list())
    found.append(
        found_on(
            df,
            indicator.is_in(unknown),
            "indicator_id",
            "unknown-indicator",
            pl.format(
                "{} is not in the catalogue{}",
                indicator,
                indicator.replace_strict(hints, default="", return_dtype=pl.String),
            ),
        )
    )
    found.append(
        found_on(
            df,
            pl.lit(not policy.derived_given) & pl.col("derived").fill_null(False),
            "indicator_id",
            "derived-indicator",
            pl.format("{} is computed by the service from other figures; do not submit it", indicator),
        )
    )
    unknown_orgs = sorted(set(df["org_code"].drop_nulls().unique().to_list()) - ctx.known_orgs)
    org_hints = _suggestions(unknown_orgs, sorted(ctx.agency_orgs if policy.designated else ctx.known_orgs))
    found.append(
        found_on(
            df,
            org.is_in(unknown_orgs),
            "org_code",
            "unknown-org",
            pl.format(
                "{} is not a known org unit code{}",
                org,
                org.replace_strict(org_hints, default="", return_dtype=pl.String),
            ),
        )
    )
    if not policy.designated:
        return found
    found.append(
        found_on(
            df,
            known & ~indicator.is_in(list(ctx.agency_indicators)),
            "indicator_id",
            "not-designated",
            pl.format(
                "{} is supplied by the designated {} body, not by {}",
                indicator,
                pl.col("source_body"),
                pl.lit(ctx.agency_code),
            ),
        )
    )
    found.append(
        found_on(
            df,
            org.is_in(list(ctx.known_orgs)) & ~org.is_in(list(ctx.agency_orgs)),
            "org_code",
            "not-designated",
            pl.format("{} does not answer for {}", pl.lit(ctx.agency_code), org),
        )
    )
    return found


def _with_judgement_codes(df: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    """Add each figure's judgement code list as text and whether its value is one of the codes."""
    codes = pl.DataFrame(
        [(k, c) for k, vals in ctx.codelists.items() for c in vals],
        schema={"judgement_codelist": pl.String, "_code": pl.String},
        orient="row",
    )
    listed = codes.group_by("judgement_codelist").agg(pl.col("_code").sort().str.join(", ").alias("judgement_codes"))
    return df.join(listed, on="judgement_codelist", how="left").with_columns(
        pl.struct("judgement_codelist", "value_code")
        .is_in(
            codes.select(pl.struct(pl.col("judgement_codelist"), pl.col("_code").alias("value_code")))
            .to_series()
            .implode()
        )
        .alias("judgement_ok")
    )


def _stored(good: pl.DataFrame, ctx: Context, rules: tuple[Rule, ...]) -> pl.DataFrame:
    """Read the stored figures the rules compare the upload with: its indicators and their partners, for its org units."""
    if ctx.stored_for is None or good.is_empty():
        return ctx.current
    partners: dict[str, set[str]] = {}
    for rule in rules:
        if rule.kind in ("part_of_whole", "numerator_of_denominator"):
            bound = set(bound_indicators(rule, ctx.catalogue))
            for indicator in bound:
                partners.setdefault(indicator, set()).update(bound)
    earlier = frozenset(first_binding(list(rules), "change", ctx.catalogue, against="previous_period"))
    keys = good.select(
        "indicator_id",
        "org_code",
        pl.col("period_code").alias("period"),
        pl.col("breakdown_key").alias("breakdown"),
    )
    return ctx.stored_for(keys, {k: frozenset(v) for k, v in partners.items()}, earlier)


#: Definition columns no check reads row by row.
_UNREAD = ("decimals", "plausible_rule", "plausible_message")
#: Parts a stored figure takes from its row besides those the rules read.
_FIGURE_ONLY = ("numerator", "denominator", "symbol", "flag", "status")


def _figures(df: pl.DataFrame) -> pl.DataFrame:
    """The figures as the store keeps them: each by its canonical period and breakdown."""
    return df.select(
        "indicator_id",
        "org_code",
        pl.col("period_code").alias("period"),
        pl.col("breakdown_key").alias("breakdown"),
        "value",
        "numerator",
        "denominator",
        "symbol",
        "flag",
        pl.col("status").fill_null("final"),
        "note",
        "file_row",
    )


def _duplicates(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """Report every row of a figure given twice with different values (none is stored) and repeats of the same values."""
    key = ["indicator_id", "org_code", "period_code", "breakdown_key"]
    keyed = pl.all_horizontal(pl.col(k).is_not_null() for k in key)
    content = pl.struct("value", "numerator", "denominator", "symbol", "flag", "status")
    # Only keys given more than once need grouping; finding them first keeps a million-row upload fast.
    # A key's hash is compared, not the four strings: a collision only sends a row on to the grouping by the
    # key itself, which decides; comparing the strings would build a copy of them for a million rows.
    repeated = keyed & pl.struct(key).hash().is_duplicated()
    # Only the rows of repeated keys, and only the columns the messages need, are joined with their groups.
    given = df.filter(repeated).select(
        "file_row", *key, "value_text", "value", "numerator", "denominator", "symbol", "flag", "status"
    )
    groups = given.group_by(key).agg(
        pl.col("file_row").min().alias("first_row"),
        content.n_unique().alias("variants"),
        pl.col("file_row").sort().cast(pl.String).str.join(", ").alias("all_rows"),
    )
    dup = given.join(groups, on=key, how="left", nulls_equal=False)
    label = pl.concat_str(*key, separator=", ").str.strip_suffix(", ")
    conflict = (pl.col("variants") > 1).fill_null(False)
    repeat = ((pl.col("variants") == 1) & (pl.col("file_row") != pl.col("first_row"))).fill_null(False)
    found = pl.concat(
        [
            found_on(
                dup,
                conflict,
                "value",
                "conflicting-figure",
                pl.format(
                    "the same figure ({}) is given on rows {} with different values; none of them is stored until one row remains",
                    label,
                    pl.col("all_rows"),
                ),
            ),
            found_on(
                dup,
                repeat,
                "indicator_id",
                "repeated-figure",
                pl.format(
                    "the same figure ({}) with the same value is already given on row {}; stored once",
                    label,
                    pl.col("first_row"),
                ),
                "information",
                value=pl.col("indicator_id"),
            ),
        ]
    )
    return df, found, dup.filter(repeat)["file_row"]


def in_file_terms(
    checked: Checked,
    *,
    rows_read: int,
    columns: Mapping[str, str],
    first: pl.DataFrame | None = None,
    notes: Sequence[pl.DataFrame] = (),
) -> Validation:
    """What the checks found, put in a way in's terms: each problem's part of a figure named as ``columns`` says its
    file names it, after the problems the way in found reading the file (``first``) and before its ``notes``, and a
    note of the blank rows left out, in row order."""
    rows_blank = checked.blank_rows.len()
    if checked.blank:
        report = problem_frame([blank_upload(rows_read)])
        return refused(rows_read, report, "the file is blank: every figure's value is empty", rows_blank)
    named = {part: name for part, name in columns.items() if part != "file_row"}
    found = [problems.with_columns(pl.col("column").replace(named)) for problems in checked.problems]
    checked.problems.clear()  # one copy of a million problems, not two
    if first is not None:
        found.insert(0, first)
    found += notes
    if rows_blank:
        found.append(problem_frame([blank_rows_notice(checked.blank_rows.sort().to_list())]))
    problems = pl.concat(found).sort("row", "column", nulls_last=True)
    return Validation(rows_read, rows_blank, problems, checked.accepted, held=checked.held)
