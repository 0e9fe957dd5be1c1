"""Check an upload's figures against the catalogue's plausibility rules, together with the figures already stored.

Every rule comes from the catalogue (indicators/rules.py says what each kind means). A rule
between figures reads the upload and the store as one: a part uploaded today is compared with the
whole stored last month, and an uploaded figure replaces the stored one it revises. A problem is
reported on every uploaded row the rule reads; a stored figure is named in the message instead.

Errors keep their rows out of the store; a query holds its row until a note explains it (a note
in the file answers it at once); information changes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from indicators.rules import Rule, first_binding

KEY = ["indicator_id", "org_code", "period_code", "breakdown_key"]
#: The columns of an upload's validated rows that the rules read.
UPLOAD_COLUMNS = (
    *KEY,
    "file_row",
    "value_text",
    "value",
    "numerator_text",
    "denominator_text",
    "note",
    "range_min",
    "range_max",
    "ratio",
)
_NEEDS_NOTE = "add a note explaining it to have it accepted, or answer the query"
_NOTED = "accepted with the note given"


#: Problems gathered as Python values before they are moved into a frame: a million-row upload can raise a
#: query on every row, and a million dicts would take far more memory than the same rows in a frame.
_BATCH = 20_000
#: One problem of an upload: the file row and column, the value, the rule broken, error or query, and the words.
PROBLEM_SCHEMA = {
    "row": pl.Int64,
    "column": pl.String,
    "value": pl.String,
    "rule": pl.String,
    "severity": pl.String,
    "message": pl.String,
}


@dataclass
class Findings:
    """Problems found by the rules, and the upload rows they keep out (errors) or hold (queries without a note)."""

    problems: pl.DataFrame
    error_rows: set[int]
    held_rows: set[int]


def fmt(x: float | None) -> str:
    """Write a number the way a person reads it: 901, 0.8, 1.2e+29."""
    if x is None:
        return ""
    if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:,.6g}" if abs(x) < 1e15 else f"{x:.6g}"


class _Reporter:
    def __init__(self) -> None:
        self.findings = Findings(pl.DataFrame(schema=PROBLEM_SCHEMA), set(), set())
        self._rows: list[tuple[int, str, str | None, str, str, str]] = []
        self._frames: list[pl.DataFrame] = []

    def add(self, rule: Rule, row: int, column: str, cell: str | None, note: str | None, **fill: Any) -> None:
        outcome = _NOTED if note else _NEEDS_NOTE
        message = rule.message.format_map(_Fill(fill | {"outcome": outcome}))
        self._rows.append((row, column, cell, rule.id, rule.severity, message))
        if len(self._rows) >= _BATCH:
            self._flush()
        if rule.severity == "error":
            self.findings.error_rows.add(row)
        elif rule.severity == "query" and not note:
            self.findings.held_rows.add(row)

    def add_figure(self, rule: Rule, r: dict[str, Any], column: str = "value", **fill: Any) -> None:
        """Report a rule on one uploaded figure's row: its cell, note, indicator and value filled in for the message."""
        self.add(
            rule,
            r["file_row"],
            column,
            r["value_text"],
            r["note"],
            indicator=r["indicator_id"],
            value=fmt(r["value"]),
            **fill,
        )

    def _flush(self) -> None:
        if self._rows:
            self._frames.append(pl.DataFrame(self._rows, schema=PROBLEM_SCHEMA, orient="row"))
            self._rows = []

    def done(self) -> Findings:
        """Return the findings, every problem in one frame in the order found."""
        self._flush()
        if self._frames:
            self.findings.problems = pl.concat(self._frames, rechunk=True)
            self._frames = []
        return self.findings


class _Fill(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _where(row: int | None, period: str) -> str:
    return f" (row {row})" if row is not None else f" (already stored for {period})"


def figures(upload: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """One frame of every known figure: the upload's rows, and the stored ones the upload does not replace."""
    up = upload.select(*KEY, pl.col("value").alias("v"), pl.col("file_row").cast(pl.Int64), "note")
    stored = current.select(
        "indicator_id",
        "org_code",
        pl.col("period").alias("period_code"),
        pl.col("breakdown").alias("breakdown_key"),
        pl.col("value").alias("v"),
        pl.lit(None, pl.Int64).alias("file_row"),
        pl.lit(None, pl.String).alias("note"),
    )
    if up.is_empty():
        # Nothing to leave out: the renamed columns share the stored figures' memory, where a join would copy them.
        return stored
    return pl.concat([up, stored.join(up.select(KEY), on=KEY, how="anti")])


def check(
    upload: pl.DataFrame,
    current: pl.DataFrame,
    rules: tuple[Rule, ...],
    indicators: dict[str, Any],
    codelists: dict[str, frozenset[str]],
) -> Findings:
    """Apply every rule to the upload's rows (already free of row-level errors) and the stored figures."""
    # Only the columns the rules read: every filter below copies what it keeps, a million rows at a time.
    upload = upload.select(*(c for c in UPLOAD_COLUMNS if c in upload.columns))
    rep = _Reporter()
    _plausible(upload, rules, indicators, rep)
    kept = _without_errors(upload, rep)
    known = figures(kept, current)
    present = set(known["indicator_id"].unique().to_list())
    for rule in rules:
        if rule.kind == "part_of_whole":
            if {rule.param("part"), rule.param("whole")} <= present:
                _part_of_whole(known, rule, rule.param("part"), rule.param("whole"), rep)
        elif rule.kind == "numerator_of_denominator":
            ind = indicators.get(rule.param("indicator"))
            if ind is not None and {ind.numerator, ind.denominator} <= present:
                _part_of_whole(known, rule, ind.numerator, ind.denominator, rep, indicator=rule.param("indicator"))
        elif rule.kind == "breakdown_sum":
            _breakdown_sum(known, present, rule, indicators, len(codelists.get(str(rule.param("dimension")), ())), rep)
    kept = _without_errors(kept, rep)
    stored = figures(upload.clear(), current)
    _queries(kept, known, stored, rules, indicators, rep)
    return rep.done()


def row_numbers(rows: set[int]) -> pl.Series:
    """File rows as one list value for ``is_in``."""
    # A Python list given to is_in is read value by value as one literal: for half a million rows that
    # took about 100 MiB more at the upload's peak than an integer series made at once.
    return pl.Series("row", list(rows), dtype=pl.Int64).implode()


def _without_errors(rows: pl.DataFrame, rep: _Reporter) -> pl.DataFrame:
    """The rows no rule has found an error in so far (the same frame, not a copy, when there are none)."""
    errors = rep.findings.error_rows
    return rows.filter(~pl.col("file_row").is_in(row_numbers(errors))) if errors else rows


def _plausible(upload: pl.DataFrame, rules: tuple[Rule, ...], indicators: dict[str, Any], rep: _Reporter) -> None:
    bound = first_binding(list(rules), "plausible_range", indicators)
    if not bound:
        return
    limits = pl.DataFrame(
        {
            "indicator_id": list(bound),
            "_rule": [r.id for r in bound.values()],
            "_min": [r.param("min") for r in bound.values()],
            "_max": [r.param("max") for r in bound.values()],
        },
        schema={"indicator_id": pl.String, "_rule": pl.String, "_min": pl.Float64, "_max": pl.Float64},
    )
    v = pl.col("value")
    outside = ((v < pl.col("_min")).fill_null(False)) | ((v > pl.col("_max")).fill_null(False))
    by_id = {r.id: r for r in rules}
    for r in upload.join(limits, on="indicator_id").filter(outside).iter_rows(named=True):
        rule = by_id[r["_rule"]]
        rep.add_figure(
            rule,
            r,
            unit=indicators[r["indicator_id"]].unit,
            min=fmt(r["_min"]),
            max=fmt(r["_max"]),
        )


def _part_of_whole(
    known: pl.DataFrame, rule: Rule, part: str, whole: str, rep: _Reporter, indicator: str | None = None
) -> None:
    on = ["org_code", "period_code", "breakdown_key"]
    parts = known.filter(pl.col("indicator_id") == part).select(
        *on, pl.col("v").alias("pv"), pl.col("file_row").alias("prow"), pl.col("note").alias("pnote")
    )
    wholes = known.filter(pl.col("indicator_id") == whole).select(
        *on, pl.col("v").alias("wv"), pl.col("file_row").alias("wrow"), pl.col("note").alias("wnote")
    )
    bad = parts.join(wholes, on=on).filter(
        (pl.col("pv") > pl.col("wv")) & (pl.col("prow").is_not_null() | pl.col("wrow").is_not_null())
    )
    for r in bad.iter_rows(named=True):
        fill = {
            "indicator": indicator or part,
            "part": part,
            "whole": whole,
            "part_value": fmt(r["pv"]),
            "whole_value": fmt(r["wv"]),
            "whole_where": _where(r["wrow"], r["period_code"]),
            "part_where": _where(r["prow"], r["period_code"]),
        }
        if r["prow"] is not None:
            rep.add(rule, r["prow"], "value", fmt(r["pv"]), r["pnote"], **(fill | {"part_where": " (this row)"}))
        if r["wrow"] is not None:
            rep.add(rule, r["wrow"], "value", fmt(r["wv"]), r["wnote"], **(fill | {"whole_where": " (this row)"}))


def _breakdown_sum(
    known: pl.DataFrame, present: set[str], rule: Rule, indicators: dict[str, Any], n_codes: int, rep: _Reporter
) -> None:
    from indicators.rules import bound_indicators

    dim = str(rule.param("dimension"))
    targets = bound_indicators(rule, indicators)
    if present.isdisjoint(targets):
        # None of the figures known (the upload's and those stored beside them) is of an indicator the rule sums.
        return
    code_re = rf"(?:^|;){re.escape(dim)}=([^;]*)"
    rest = (
        pl.col("breakdown_key")
        .str.split(";")
        .list.eval(pl.element().filter(~pl.element().str.starts_with(f"{dim}=")))
        .list.join(";")
    )
    parts = (
        known.filter(pl.col("indicator_id").is_in(targets) & pl.col("breakdown_key").str.contains(code_re))
        .with_columns(rest.alias("rest"), pl.col("breakdown_key").str.extract(code_re, 1).alias("code"))
        .filter(pl.col("v").is_not_null())
    )
    if parts.is_empty():
        return
    group = ["indicator_id", "org_code", "period_code", "rest"]
    sums = parts.group_by(group).agg(
        pl.col("v").sum().alias("parts_sum"),
        pl.col("code").n_unique().alias("codes"),
        pl.format("{} {}", "code", pl.col("v")).sort().str.join(", ").alias("listed"),
        pl.col("file_row").drop_nulls().alias("rows"),
        pl.struct("code", "v", "file_row", "note").alias("items"),
    )
    totals = known.filter(pl.col("breakdown_key").is_not_null()).select(
        "indicator_id",
        "org_code",
        "period_code",
        pl.col("breakdown_key").alias("rest"),
        pl.col("v").alias("total"),
        pl.col("file_row").alias("trow"),
        pl.col("note").alias("tnote"),
    )
    joined = sums.join(totals, on=group).filter(pl.col("total").is_not_null())
    tol = 1e-9 * pl.max_horizontal(pl.col("total").abs(), pl.lit(1.0))
    over = pl.col("parts_sum") > pl.col("total") + tol
    complete_mismatch = (
        (pl.col("codes") >= n_codes) & ((pl.col("parts_sum") - pl.col("total")).abs() > tol)
        if n_codes
        else pl.lit(False)
    )
    bad = joined.filter((over | complete_mismatch) & ((pl.col("rows").list.len() > 0) | pl.col("trow").is_not_null()))
    for r in bad.iter_rows(named=True):
        listed = ", ".join(f"{i['code']} {fmt(i['v'])}" for i in sorted(r["items"], key=lambda i: i["code"]))
        fill = {
            "indicator": r["indicator_id"],
            "dimension": dim,
            "parts": listed,
            "parts_sum": fmt(r["parts_sum"]),
            "total": fmt(r["total"]),
            "total_where": _where(r["trow"], r["period_code"]),
        }
        for item in r["items"]:
            if item["file_row"] is not None:
                rep.add(rule, item["file_row"], "value", fmt(item["v"]), item["note"], **fill)
        if r["trow"] is not None:
            rep.add(rule, r["trow"], "value", fmt(r["total"]), r["tnote"], **(fill | {"total_where": " (this row)"}))


def _queries(
    kept: pl.DataFrame,
    known: pl.DataFrame,
    stored: pl.DataFrame,
    rules: tuple[Rule, ...],
    indicators: dict[str, Any],
    rep: _Reporter,
) -> None:
    for rule in rules:
        if rule.kind == "usual_range":
            _usual_range(kept, rule, indicators, rep)
        elif rule.kind == "ratio_parts_given":
            _ratio_parts(kept, rule, indicators, rep)
        elif rule.kind == "percentage_scale":
            _percentage_scale(kept, rule, indicators, rep)
    for against in ("previous_version", "previous_period"):
        bound = first_binding(list(rules), "change", indicators, against=against)
        by_rule: dict[str, list[str]] = {}
        for ind_id, rule in bound.items():
            by_rule.setdefault(rule.id, []).append(ind_id)
        for rule_id, ids in by_rule.items():
            rule = next(r for r in rules if r.id == rule_id)
            _change(kept, stored if against == "previous_version" else known, rule, ids, rep)


def _covered(kept: pl.DataFrame, rule: Rule, indicators: dict[str, Any]) -> pl.DataFrame:
    from indicators.rules import bound_indicators

    return kept.filter(pl.col("indicator_id").is_in(bound_indicators(rule, indicators)))


def _usual_range(kept: pl.DataFrame, rule: Rule, indicators: dict[str, Any], rep: _Reporter) -> None:
    v = pl.col("value")
    odd = ((v < pl.col("range_min")) | (v > pl.col("range_max"))).fill_null(False)
    for r in _covered(kept, rule, indicators).filter(odd).iter_rows(named=True):
        rep.add_figure(
            rule,
            r,
            min=fmt(r["range_min"]),
            max=fmt(r["range_max"]),
        )


def _ratio_parts(kept: pl.DataFrame, rule: Rule, indicators: dict[str, Any], rep: _Reporter) -> None:
    rows = _covered(kept, rule, indicators).filter(
        pl.col("ratio")
        & pl.col("value").is_not_null()
        & (pl.col("numerator_text").is_null() | pl.col("denominator_text").is_null())
    )
    for r in rows.iter_rows(named=True):
        missing = [w for w in ("numerator", "denominator") if r[f"{w}_text"] is None]
        rep.add_figure(
            rule,
            r,
            column=missing[0],
            missing=" and ".join(missing),
        )


def _percentage_scale(kept: pl.DataFrame, rule: Rule, indicators: dict[str, Any], rep: _Reporter) -> None:
    top = float(rule.param("max"))
    v = pl.col("value")
    for r in _covered(kept, rule, indicators).filter((v > 0) & (v <= top)).iter_rows(named=True):
        rep.add_figure(
            rule,
            r,
            scaled=fmt(round(r["value"] * 100, 6)),
        )


def _change(kept: pl.DataFrame, known: pl.DataFrame, rule: Rule, ids: list[str], rep: _Reporter) -> None:
    """Compare with the stored version of the same figure, or with the latest earlier period of it."""
    threshold = float(rule.param("threshold"))
    # Selected first: the filter then copies only the columns kept.
    rows = kept.select("file_row", *KEY, "value_text", "value", "note").filter(
        pl.col("indicator_id").is_in(ids) & pl.col("value").is_not_null()
    )
    if rows.is_empty():
        return
    if rule.param("against") == "previous_version":
        last = known.select(*KEY, pl.col("v").alias("last"), pl.col("period_code").alias("last_period"))
        joined = rows.join(last, on=KEY, how="inner")
    else:
        # Sorted by series and period, the row before a figure of the same series is its latest earlier period.
        # (One indicator has one period type, so its period codes sort in time order.)
        series = ["indicator_id", "org_code", "breakdown_key"]
        same = pl.all_horizontal(pl.col(c) == pl.col(c).shift(1) for c in series)
        ordered = (
            known.filter(pl.col("indicator_id").is_in(ids) & pl.col("v").is_not_null())
            .with_columns(pl.struct(series).hash().alias("_series"))
            .sort("_series", "period_code")
            .with_columns(
                pl.when(same).then(pl.col("v").shift(1)).alias("last"),
                pl.when(same).then(pl.col("period_code").shift(1)).alias("last_period"),
            )
            .filter(pl.col("file_row").is_not_null() & pl.col("last").is_not_null())
            .select("file_row", "last", "last_period")
        )
        joined = rows.join(ordered, on="file_row", how="inner")
    v, last_v = pl.col("value"), pl.col("last")
    moved = (last_v != 0) & ((v - last_v).abs() / last_v.abs() > threshold)
    for r in joined.filter(moved.fill_null(False)).iter_rows(named=True):
        rep.add_figure(
            rule,
            r,
            last_value=fmt(r["last"]),
            last_period=r["last_period"],
            threshold=fmt(threshold * 100),
        )
