"""Validate an upload read as text: cast, enrich from the catalogue, check with pandera, report.

Stage one casts the text cells and reports every cell that will not cast (so one bad cell
never hides another); stage two checks the typed, catalogue-enriched frame with a pandera
schema built from the rules below. The result is data: a problem table (row, column, value,
rule, severity, message) and the accepted figures, never an exception.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import polars as pl

from collectors import crosscheck
from collectors.blanks import blank_rows as blank_rows_notice
from collectors.blanks import blank_upload
from collectors.values import parse_values
from indicators.breakdown import canonical_breakdown, parse_breakdown
from indicators.periods import PERIOD_TYPES, parse_period
from indicators.rules import Rule, bound_indicators, first_binding
from indicators.symbols import NO_FIGURE, STATUSES
from onereturn.checks import pa
from onereturn.errors import InvalidInput

REQUIRED = ("indicator", "org", "period", "value")
OPTIONAL = ("breakdown", "numerator", "denominator", "status", "note")
#: Beside figures given as numbers: a withheld value's symbol, and the low-reliability flag.
TYPED_MARKS = ("symbol", "flag")
#: Template columns that help the person filling it in; ignored on upload.
INFORMATIVE = ("title", "org_name", "unit", "allowed", "last_value")


@dataclass(frozen=True)
class Context:
    """What validation needs to know, read once per upload."""

    agency_code: str
    #: One row per indicator: id, statistic, multiplier, decimals, period_type, derived, source_body,
    #: range_min, range_max, judgement_codelist, breakdowns (list of dimension ids).
    indicators: pl.DataFrame
    known_orgs: frozenset[str]
    agency_orgs: frozenset[str]
    agency_indicators: frozenset[str]
    codelists: dict[str, frozenset[str]]
    #: Current figures for keys in the upload: indicator_id, org_code, period, breakdown, obs_id,
    #: version, value, numerator, denominator, symbol, flag, status, note.
    current: pl.DataFrame
    #: The catalogue's plausibility rules, in catalogue order.
    rules: tuple[Rule, ...] = ()
    #: Figures for periods that begin after this day are refused.
    today: date = field(default_factory=lambda: datetime.now(UTC).date())
    #: Every indicator's definition, for the rules (id -> Facts).
    catalogue: dict[str, Facts] = field(default_factory=dict)
    #: Reads what the rules compare an upload with, by the upload's keys (the store's reader): the same
    #: org units and periods of its indicators and their partners, and each series' latest earlier
    #: figure for the indicators given. ``current`` is used without it.
    stored_for: Callable[[pl.DataFrame, dict[str, frozenset[str]], frozenset[str]], pl.DataFrame] | None = None


@dataclass(frozen=True)
class Policy:
    """Which checks a way in's figures are held to; the defaults are an agency's upload, held to them all."""

    #: Only the indicators and org units the agency answers for (its duties); off for a publisher, who publishes
    #: its figures for every area.
    designated: bool = True
    #: An indicator the catalogue works out from other figures may be given (a publisher publishes its rates).
    derived_given: bool = False
    #: A figure's note explains it and so answers a query; a publisher's value note never does.
    notes_explain: bool = True
    #: Which of the catalogue's plausibility rules apply (None: every one).
    rule: Callable[[Rule], bool] | None = None

    def rules(self, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        """The rules of ``rules`` this policy applies."""
        return rules if self.rule is None else tuple(r for r in rules if self.rule(r))


#: An agency's upload (a template or a file of figures, or figures derived from its records): every check.
EVERY_CHECK = Policy()


@dataclass(frozen=True)
class Facts:
    """What the rules read of an indicator's definition."""

    statistic: str
    unit: str
    formula: str | None
    breakdowns: tuple[str, ...]
    aggregation: str
    numerator: str | None
    denominator: str | None
    range_min: float | None
    range_max: float | None


@dataclass
class Validation:
    """What validation found: every problem, and the figures that may be stored."""

    rows_read: int
    rows_blank: int
    problems: pl.DataFrame
    accepted: pl.DataFrame
    fatal: bool = False
    #: Figures a query holds back until a note explains them (same columns as accepted).
    held: pl.DataFrame = field(default_factory=pl.DataFrame)
    #: Why a fatal problem refused the whole file.
    reason: str = ""

    def _count(self, severity: str) -> int:
        return int((self.problems["severity"] == severity).sum())

    @property
    def error_count(self) -> int:
        """Count the errors."""
        return self._count("error")

    @property
    def query_count(self) -> int:
        """Count the queries."""
        return self._count("query")

    @property
    def information_count(self) -> int:
        """Count the information notices."""
        return self._count("information")

    @property
    def warning_count(self) -> int:
        """Count the problems that block no row: queries and information."""
        return self.query_count + self.information_count


def empty_problems() -> pl.DataFrame:
    """Return a problem table with no rows."""
    return pl.DataFrame(schema=crosscheck.PROBLEM_SCHEMA)


def problem_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Build a problem table from dicts."""
    return pl.DataFrame(rows, schema=crosscheck.PROBLEM_SCHEMA) if rows else empty_problems()


def _problems(
    df: pl.DataFrame,
    mask: pl.Expr,
    column: str,
    rule: str,
    message: pl.Expr,
    severity: str = "error",
    value: pl.Expr | None = None,
) -> pl.DataFrame:
    return df.filter(mask).select(
        pl.col("row").cast(pl.Int64),
        pl.lit(column, pl.String).alias("column"),
        (value if value is not None else pl.col(column)).cast(pl.String).alias("value"),
        pl.lit(rule, pl.String).alias("rule"),
        pl.lit(severity, pl.String).alias("severity"),
        message.cast(pl.String).alias("message"),
    )


@dataclass(frozen=True)
class ValueRule:
    """A check on the typed, enriched frame: ``bad`` is true on rows that break it."""

    name: str
    column: str
    bad: pl.Expr
    message: pl.Expr


def value_rules() -> list[ValueRule]:
    """List the value rules, each checked by pandera on the typed frame."""
    v, n, d, stat = pl.col("value_num"), pl.col("numerator_num"), pl.col("denominator_num"), pl.col("statistic")
    tolerance = 0.5 * pl.lit(10.0).pow(-pl.col("value_dp").cast(pl.Float64)) + 1e-9
    # Laid out by hand, the formatter told to leave it: a table of rules, each its name, column and test on one line, its message below.
    return [
        ValueRule("percentage-range", "value", (stat == "percentage") & ((v < pl.col("min_value")) | (v > pl.col("max_value"))),
             pl.format("{} is a percentage, so it must be between 0 and 100", pl.col("value"))),
        ValueRule("not-negative", "value", (stat != "percentage") & (pl.col("min_value") == 0) & (v < 0),
             pl.format("{} is negative; a {} cannot be", pl.col("value"), stat)),
        ValueRule("whole-count", "value", pl.col("whole") & (v != v.floor()),
             pl.format("{} is not a whole number; a count of {} must be", pl.col("value"), pl.col("unit"))),
        ValueRule("judgement-code", "value", (stat == "judgement") & ~pl.col("judgement_ok"),
             pl.format("{} is not a code of {}; expected one of {}", pl.col("value"), pl.col("judgement_codelist"), pl.col("judgement_codes"))),
        ValueRule("ratio-parts-not-negative", "numerator", (n < 0) | (d < 0),
             pl.format("numerator {} and denominator {} cannot be negative", pl.col("numerator"), pl.col("denominator"))),
        ValueRule("numerator-exceeds-denominator", "numerator", (stat == "percentage") & (n > d),
             pl.format("numerator {} is larger than denominator {}", pl.col("numerator"), pl.col("denominator"))),
        ValueRule("value-disagrees-with-ratio", "value",
             v.is_not_null() & n.is_not_null() & (d > 0) & ((v - n / d * pl.col("multiplier")).abs() > tolerance),
             pl.format("{} does not agree with {} / {} x {} = {}", pl.col("value"), pl.col("numerator"), pl.col("denominator"),
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
            "value_num": pa.Column(pl.Float64, nullable=True),
            "numerator_num": pa.Column(pl.Float64, nullable=True),
            "denominator_num": pa.Column(pl.Float64, nullable=True),
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
                found.append(_problems(hit, pl.lit(True), rule.column, rule.name, rule.message))
        return pl.concat(found) if found else empty_problems()
    return empty_problems()


def _suggestions(unknown: list[str], known: list[str]) -> dict[str, str]:
    out = {}
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        out[name] = f" (did you mean {close[0]}?)" if close else ""
    return out


def _type_errors(df: pl.DataFrame) -> pl.DataFrame:
    frames = [
        _problems(
            df,
            pl.col("_number").is_not_null() & pl.col("value_num").is_null(),
            "value",
            "type-error",
            pl.coalesce(
                pl.col("value_why"),
                pl.format(
                    "{} is not a number (nor one of the symbols {})", pl.col("value"), pl.lit(" ".join(NO_FIGURE))
                ),
            ),
            value=pl.col("value"),
        ),
    ]
    for c in ("numerator", "denominator"):
        frames.append(
            _problems(
                df,
                pl.col(c).is_not_null() & pl.col(f"{c}_num").is_null(),
                c,
                "type-error",
                pl.coalesce(pl.col(f"{c}_why"), pl.format("{} is not a number", pl.col(c))),
            )
        )
    return pl.concat(frames)


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
    dims = ctx.indicators.select(pl.col("id").alias("indicator"), pl.col("breakdowns").alias("breakdown_dims"))
    pairs = df.select("breakdown", "indicator").unique().join(dims, on="indicator", how="left")
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
    lookup = pairs.select("breakdown", "indicator").with_columns(
        pl.Series("breakdown_key", keys, pl.String), pl.Series("breakdown_error", errors, pl.String)
    )
    return df.join(lookup, on=["breakdown", "indicator"], how="left", nulls_equal=True)


def _prepare(raw: pl.DataFrame, policy: Policy) -> tuple[pl.DataFrame, list[str]]:
    # Figures handed over typed say a withheld value by its symbol (and flag) beside an empty number.
    marks = [c for c in TYPED_MARKS if c in raw.columns] if raw.schema["value"].is_numeric() else []
    ignored = [c for c in raw.columns if c not in ("row", *REQUIRED, *OPTIONAL, *INFORMATIVE, *marks)]
    df = raw.with_columns(pl.lit(None, pl.String).alias(c) for c in OPTIONAL if c not in raw.columns)
    if not policy.notes_explain:
        df = df.with_columns(pl.lit(None, pl.String).alias("note"))
    df = df.select("row", *REQUIRED, *OPTIONAL, *marks).with_columns(
        pl.col("indicator").str.strip_chars().str.to_lowercase(),
        pl.col("org").str.strip_chars().str.to_uppercase(),
        pl.col("status").str.strip_chars().str.to_lowercase(),
        pl.col("breakdown").fill_null(""),
    )
    return df, ignored


def validate(
    raw: pl.DataFrame, ctx: Context, *, unresolved: pl.DataFrame | None = None, policy: Policy = EVERY_CHECK
) -> Validation:
    """Check an upload (text cells plus ``row``, or numbers given as numbers) against the catalogue, the agency's
    duties and the stored figures, as far as the way in's ``policy`` holds it to them.

    ``unresolved`` lists workbook cells (row, column, formula) holding a formula with no saved
    result: their rows are errors, never read as a value.
    """
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        return _missing_columns(raw, missing)
    df, ignored = _prepare(raw, policy)
    df, blank_rows = _without_blank_rows(df, unresolved)
    rows_blank = blank_rows.len()
    problems: list[pl.DataFrame] = [_formula_problems(unresolved)]
    if df.is_empty():
        report = problem_frame([blank_upload(raw.height)])
        return Validation(
            rows_read=raw.height,
            rows_blank=rows_blank,
            problems=report,
            accepted=pl.DataFrame(),
            fatal=True,
            reason="the file is blank: every figure's value is empty",
        )
    for c in ("indicator", "org", "period"):
        problems.append(_problems(df, pl.col(c).is_null(), c, "missing-value", pl.lit(f"{c} is empty")))

    # Only the definition columns the checks read are joined: each is a million-row column on a million-row upload.
    definitions = ctx.indicators.drop("breakdowns", *_UNREAD, strict=False).rename({"id": "indicator"})
    df = df.join(definitions, on="indicator", how="left")
    df = parse_values(df)
    problems.append(_type_errors(df))
    known = pl.col("statistic").is_not_null() & (pl.lit(policy.derived_given) | ~pl.col("derived").fill_null(False))
    problems += _reference_problems(df, ctx, known, policy)

    df = _periods(df)
    problems.append(
        _problems(df, known & pl.col("period_error").is_not_null(), "period", "bad-period", pl.col("period_error"))
    )
    df = _breakdowns(df, ctx)
    problems.append(
        _problems(
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
    bad_rows = errors.filter(pl.col("severity") == "error")["row"].unique()
    # From here on only the columns the rules and the store read are carried, not the whole enriched frame.
    df = df.select(*crosscheck.UPLOAD_COLUMNS, *_FIGURE_ONLY)
    good = df.filter(~pl.col("row").is_in(bad_rows.implode()) & ~pl.col("row").is_in(repeats.implode()))
    del df
    rules = policy.rules(ctx.rules)
    ruling = crosscheck.check(good, _stored(good, ctx, rules), rules, ctx.catalogue, ctx.codelists)
    ruled = ruling.problems
    figures = _figures(good)
    del good
    accepted = figures.filter(~pl.col("file_row").is_in(crosscheck.row_numbers(ruling.error_rows | ruling.held_rows)))
    held = figures.filter(pl.col("file_row").is_in(crosscheck.row_numbers(ruling.held_rows)))
    del figures
    all_problems = _with_notes([errors, ruled], ignored, blank_rows)
    return Validation(rows_read=raw.height, rows_blank=rows_blank, problems=all_problems, accepted=accepted, held=held)


def _with_notes(found: list[pl.DataFrame], ignored: list[str], blank_rows: pl.Series) -> pl.DataFrame:
    """The problems found, with a note of each column ignored and of the blank rows left out, in row order."""
    notes = [*found]
    if ignored:
        ignoring = "column {!r} is not one the service reads; it was ignored".format
        notes.append(_column_notes(ignored, "ignored-column", "information", ignoring))
    if blank_rows.len():
        notes.append(problem_frame([blank_rows_notice(blank_rows.sort().to_list())]))
    return pl.concat(notes).sort("row", "column", nulls_last=True)


def _without_blank_rows(df: pl.DataFrame, unresolved: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.Series]:
    """The rows with something to read, and the numbers of the blank rows left out.

    A row holding a formula with no saved result is never blank: it is an error (see ``validate``); nor is a typed
    figure withheld by its symbol.
    """
    blank = pl.col("value").is_null() & pl.col("numerator").is_null() & pl.col("denominator").is_null()
    if "symbol" in df.columns:
        blank &= pl.col("symbol").is_null()
    formula_rows = (
        unresolved["row"].unique() if unresolved is not None and unresolved.height else pl.Series([], dtype=pl.Int64)
    )
    blank_rows = df.filter(blank & ~pl.col("row").is_in(formula_rows.implode()))["row"]
    return df.filter(~blank | pl.col("row").is_in(formula_rows.implode())), blank_rows


def _future_periods(df: pl.DataFrame, known: pl.Expr, today: date) -> pl.DataFrame:
    """A figure for a period that has not begun yet is an error."""
    return _problems(
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


def _column_notes(columns: list[str], rule: str, severity: str, message: Callable[[str], str]) -> pl.DataFrame:
    """One problem on the header (row 1) for each column named."""
    rows: list[dict[str, object]] = [
        {"row": 1, "column": c, "value": None, "rule": rule, "severity": severity, "message": message(c)}
        for c in columns
    ]
    return problem_frame(rows)


def _missing_columns(raw: pl.DataFrame, missing: list[str]) -> Validation:
    found = ", ".join(c for c in raw.columns if c != "row")
    report = _column_notes(
        missing, "missing-column", "error", lambda c: f"the file has no {c!r} column (it has: {found})"
    )
    return Validation(
        rows_read=raw.height,
        rows_blank=0,
        problems=report,
        accepted=pl.DataFrame(),
        fatal=True,
        reason="the file is missing required columns",
    )


def _reference_problems(df: pl.DataFrame, ctx: Context, known: pl.Expr, policy: Policy) -> list[pl.DataFrame]:
    """Rows naming an indicator or org unit the catalogue does not know, or (as ``policy`` holds it to its duties)
    that this agency does not answer for."""
    found: list[pl.DataFrame] = []
    unknown = (
        df.filter(pl.col("indicator").is_not_null() & pl.col("statistic").is_null())["indicator"].unique().to_list()
    )
    hints = _suggestions(unknown, ctx.indicators["id"].to_list())
    found.append(
        _problems(
            df,
            pl.col("indicator").is_in(unknown),
            "indicator",
            "unknown-indicator",
            pl.format(
                "{} is not in the catalogue{}",
                pl.col("indicator"),
                pl.col("indicator").replace_strict(hints, default="", return_dtype=pl.String),
            ),
        )
    )
    found.append(
        _problems(
            df,
            pl.lit(not policy.derived_given) & pl.col("derived").fill_null(False),
            "indicator",
            "derived-indicator",
            pl.format("{} is computed by the service from other figures; do not submit it", pl.col("indicator")),
        )
    )
    unknown_orgs = sorted(set(df["org"].drop_nulls().unique().to_list()) - ctx.known_orgs)
    org_hints = _suggestions(unknown_orgs, sorted(ctx.agency_orgs if policy.designated else ctx.known_orgs))
    found.append(
        _problems(
            df,
            pl.col("org").is_in(unknown_orgs),
            "org",
            "unknown-org",
            pl.format(
                "{} is not a known org unit code{}",
                pl.col("org"),
                pl.col("org").replace_strict(org_hints, default="", return_dtype=pl.String),
            ),
        )
    )
    if not policy.designated:
        return found
    found.append(
        _problems(
            df,
            known & ~pl.col("indicator").is_in(list(ctx.agency_indicators)),
            "indicator",
            "not-designated",
            pl.format(
                "{} is supplied by the designated {} body, not by {}",
                pl.col("indicator"),
                pl.col("source_body"),
                pl.lit(ctx.agency_code),
            ),
        )
    )
    found.append(
        _problems(
            df,
            pl.col("org").is_in(list(ctx.known_orgs)) & ~pl.col("org").is_in(list(ctx.agency_orgs)),
            "org",
            "not-designated",
            pl.format("{} does not answer for {}", pl.lit(ctx.agency_code), pl.col("org")),
        )
    )
    return found


def _with_judgement_codes(df: pl.DataFrame, ctx: Context) -> pl.DataFrame:
    """Add each row's judgement code list as text and whether its value is one of the codes."""
    codes = pl.DataFrame(
        [(k, c) for k, vals in ctx.codelists.items() for c in vals],
        schema={"judgement_codelist": pl.String, "_code": pl.String},
        orient="row",
    )
    listed = codes.group_by("judgement_codelist").agg(pl.col("_code").sort().str.join(", ").alias("judgement_codes"))
    return df.join(listed, on="judgement_codelist", how="left").with_columns(
        pl.struct("judgement_codelist", "_number")
        .is_in(
            codes.select(pl.struct(pl.col("judgement_codelist"), pl.col("_code").alias("_number")))
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
        pl.col("indicator").alias("indicator_id"),
        pl.col("org").alias("org_code"),
        pl.col("period_code").alias("period"),
        pl.col("breakdown_key").alias("breakdown"),
    )
    return ctx.stored_for(keys, {k: frozenset(v) for k, v in partners.items()}, earlier)


#: Definition columns no check reads row by row.
_UNREAD = ("decimals", "plausible_rule", "plausible_message")
#: Columns a stored figure takes from its row besides those the rules read.
_FIGURE_ONLY = ("numerator_num", "denominator_num", "symbol", "flag", "status")


def _figures(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(
        pl.col("indicator").alias("indicator_id"),
        pl.col("org").alias("org_code"),
        pl.col("period_code").alias("period"),
        pl.col("breakdown_key").alias("breakdown"),
        pl.col("value_num").alias("value"),
        pl.col("numerator_num").alias("numerator"),
        pl.col("denominator_num").alias("denominator"),
        "symbol",
        "flag",
        pl.col("status").fill_null("final"),
        "note",
        pl.col("row").alias("file_row"),
    )


def _duplicates(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """Report every row of a figure given twice with different values (none is stored) and repeats of the same values."""
    key = ["indicator", "org", "period_code", "breakdown_key"]
    keyed = pl.all_horizontal(pl.col(k).is_not_null() for k in key)
    content = pl.struct("value_num", "numerator_num", "denominator_num", "symbol", "flag", "status")
    # Only keys given more than once need grouping; finding them first keeps a million-row upload fast.
    # A key's hash is compared, not the four strings: a collision only sends a row on to the grouping by the
    # key itself, which decides; comparing the strings would build a copy of them for a million rows.
    repeated = keyed & pl.struct(key).hash().is_duplicated()
    # Only the rows of repeated keys, and only the columns the messages need, are joined with their groups.
    given = df.filter(repeated).select(
        "row", *key, "value", "value_num", "numerator_num", "denominator_num", "symbol", "flag", "status"
    )
    groups = given.group_by(key).agg(
        pl.col("row").min().alias("first_row"),
        content.n_unique().alias("variants"),
        pl.col("row").sort().cast(pl.String).str.join(", ").alias("all_rows"),
    )
    dup = given.join(groups, on=key, how="left", nulls_equal=False)
    label = pl.concat_str("indicator", "org", "period_code", "breakdown_key", separator=", ").str.strip_suffix(", ")
    conflict = (pl.col("variants") > 1).fill_null(False)
    repeat = ((pl.col("variants") == 1) & (pl.col("row") != pl.col("first_row"))).fill_null(False)
    found = pl.concat(
        [
            _problems(
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
            _problems(
                dup,
                repeat,
                "indicator",
                "repeated-figure",
                pl.format(
                    "the same figure ({}) with the same value is already given on row {}; stored once",
                    label,
                    pl.col("first_row"),
                ),
                "information",
                value=pl.col("indicator"),
            ),
        ]
    )
    return df, found, dup.filter(repeat)["row"]


def _formula_problems(unresolved: pl.DataFrame | None) -> pl.DataFrame:
    if unresolved is None or unresolved.is_empty():
        return empty_problems()
    return unresolved.select(
        pl.col("row").cast(pl.Int64),
        pl.col("column").cast(pl.String),
        pl.col("formula").cast(pl.String).alias("value"),
        pl.lit("formula-without-result", pl.String).alias("rule"),
        pl.lit("error", pl.String).alias("severity"),
        pl.format(
            "this cell holds the formula {} but no calculated result was saved with it, so its value is unknown; "
            "open the file in Excel (or paste the values) and save it again",
            pl.col("formula"),
        ).alias("message"),
    )
