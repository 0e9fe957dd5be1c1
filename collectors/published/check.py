"""Hold a publisher's release to the catalogue's own rules before any of it is stored.

The release's figures go through the same checks as an agency's upload (``collectors/checks/__init__.py`` with the
catalogue's rules, ``collectors/checks/crosscheck.py``): ranges, negative counts, whole counts, a part never above its
whole, a numerator never above its denominator, breakdown codes and periods that exist and have begun. Any error
refuses the whole release (a publisher's file is stored whole or not at all), naming the uploaded file, its row
and the rule. The catalogue's change rules that compare a figure with its previous version compare it here with
the publisher's previous release: a larger jump is a query, the figure held until an officer confirms it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import polars as pl
from sqlmodel import Session

from collectors.checks.checked import Validation, empty_problems
from collectors.checks.context import build_context
from collectors.checks.crosscheck import fmt
from collectors.checks.policy import Policy
from collectors.checks.typed import ROW_MENTION, validate_figures
from collectors.store import CURRENT_SCHEMA, KEY
from indicators.published_query import current_published, figure_label
from indicators.rules import Rule
from onereturn.errors import InvalidInput

#: How many of a refused release's problems are listed with the refusal (the first is in the message).
LISTED = 50


class ImplausibleRelease(InvalidInput):
    """A publisher's release with a figure the catalogue's rules refuse: nothing of it is stored."""


@dataclass
class Ruling:
    """What the rules made of a release: the figures a query holds (their keys, one a figure however many a file
    row gives), the queries (problems named by file row and column), and the figures checked (those for areas the
    geography holds)."""

    held: pl.DataFrame
    queries: pl.DataFrame
    checked: pl.DataFrame


def no_figures() -> pl.DataFrame:
    """An empty frame of figure keys."""
    return pl.DataFrame(schema=dict.fromkeys(KEY, pl.String))


def check_release(
    session: Session,
    publisher: str,
    figures: pl.DataFrame,
    *,
    filename: str,
    rounded_to: int = 0,
    columns: dict[str, str] | None = None,
) -> Ruling:
    """Check a release's figures (those for areas the geography holds) against the catalogue's rules; raise
    ``ImplausibleRelease`` naming the file, row, columns and rule of the first error, or say which figures a query
    holds.

    ``rounded_to``: the multiple the publisher rounds every count to (NDTMS: 5), as its source declares;
    ``columns``: the file's column each indicator is read from, so a problem names it."""
    if figures.is_empty():
        return Ruling(no_figures(), empty_problems(), figures)
    # One file row may give dozens of figures (NDTMS: 54): the rules see each figure as a row of its own, so a
    # query holds that figure alone and names its own values, and are then put back in the file's terms.
    numbered = figures.with_row_index("_figure", offset=1).with_columns(pl.col("_figure").cast(pl.Int64))
    places = _Places(numbered, columns or {})
    ctx = build_context(session, publisher, compared=_previous_release(session, publisher, figures))
    # Each figure is a row of its own to the checks, numbered as one: a query holds that figure alone.
    given = numbered.with_columns(pl.col("_figure").alias("file_row"))
    result = validate_figures(given, ctx, publisher_policy(rounded_to))
    _refuse_errors(result, filename, places)
    if rounded_to:
        _parts_within_totals(numbered, places, filename)
    held = (
        numbered.join(result.held.select(pl.col("file_row").alias("_figure")), on="_figure", how="semi").select(KEY)
        if result.held.height
        else no_figures()
    )
    queries = places.in_file_terms(result.problems.filter(pl.col("severity") == "query"), labelled=True)
    return Ruling(held, queries, figures)


class _Places:
    """Where each numbered figure of a release lies in the publisher's file (its row and column), and what it is
    (indicator, area, period, breakdown), so problems found figure by figure are named as the file is read."""

    def __init__(self, numbered: pl.DataFrame, columns: dict[str, str]) -> None:
        self._numbered = numbered
        self.columns = columns
        # Several figures a row (NDTMS's measures, Fingertips' Count and Denominator): each indicator a message
        # names is followed by the file's column it was read from.
        named = sorted(columns, key=len, reverse=True)
        many = len(set(columns.values())) > 1
        self._ids = (
            re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, named)) + r")(?![\w.])") if many and named else None
        )

    @cached_property
    def rows(self) -> dict[int, int]:
        """Each numbered figure's file row; made when a problem is first named (most releases have none)."""
        return dict(zip(self._numbered["_figure"].to_list(), self._numbered["file_row"].to_list(), strict=True))

    @cached_property
    def indicators(self) -> dict[int, str]:
        """Each numbered figure's indicator; made when a problem is first named."""
        return dict(zip(self._numbered["_figure"].to_list(), self._numbered["indicator_id"].to_list(), strict=True))

    def row(self, figure: int | None) -> int | None:
        """The file row of a numbered figure."""
        return None if figure is None else self.rows.get(figure, figure)

    def column(self, figure: int | None, fallback: str | None) -> str | None:
        """The file's column a numbered figure was read from (``fallback`` where unknown)."""
        return self.columns.get(self.indicators.get(figure, ""), fallback) if figure is not None else fallback

    def message(self, text: str, own: int | None = None) -> str:
        """A rule's message in the file's terms: file rows for figure numbers (``this row`` for the problem's own
        file row ``own``), each indicator with its column."""

        def where(found: re.Match[str]) -> str:
            row = self.row(int(found.group(1)))
            return "(this row)" if row == own else f"(row {row})"

        text = ROW_MENTION.sub(where, text)
        if self._ids is not None:
            text = self._ids.sub(lambda m: f"{m.group(1)} ({self.columns[m.group(1)]})", text)
        return text

    def _labels(self, figures: pl.Series) -> dict[int, str]:
        """What each of ``figures`` is (indicator, area, period, breakdown), in words: only those a problem names."""
        named = self._numbered.filter(pl.col("_figure").is_in(figures.drop_nulls().implode()))
        return {r[0]: figure_label(*r[1:]) for r in named.select("_figure", *KEY).iter_rows()}

    def in_file_terms(self, problems: pl.DataFrame, *, labelled: bool = False) -> pl.DataFrame:
        """Problems named by file row and column, each said once (a part and its whole in one file row break one
        rule once); ``labelled``: each message opens with the figure it is about."""
        labels = self._labels(problems["row"]) if labelled else {}
        rows = [
            {
                "row": self.row(r["row"]),
                "column": self.column(r["row"], r["column"]),
                "value": r["value"],
                "rule": r["rule"],
                "severity": r["severity"],
                "message": (f"{labels[r['row']]}: " if r["row"] in labels else "")
                + self.message(r["message"], self.row(r["row"])),
            }
            for r in problems.iter_rows(named=True)
        ]
        if not rows:
            return problems.clear()
        return pl.DataFrame(rows, schema=problems.schema).unique(["row", "rule", "message"], maintain_order=True)


#: The rule a rounded publisher's breakdowns are held to in place of their sum (``breakdown_sum``).
PART_WITHIN_TOTAL = "breakdown-part-within-total"


def _parts_within_totals(numbered: pl.DataFrame, places: _Places, filename: str) -> None:
    """Refuse a rounded publisher's figure for one code of a breakdown (women) above the same figure over every
    code of it (all sexes): the rounded parts need not add up to the total, but rounding keeps their order."""
    present = numbered.filter(pl.col("value").is_not_null())
    # Each breakdown's totals (itself without one of its codes) worked out once per distinct breakdown, a few dozen
    # in a file, rather than on every figure (42,120 in NDTMS's Barnet export), then joined to its figures.
    totals_of = (
        present.select("breakdown")
        .unique()
        .filter(pl.col("breakdown") != "")
        .with_columns(pl.col("breakdown").str.split(";").alias("_codes"))
        .with_columns(pl.col("_codes").alias("_over"))
        .explode("_over")
        .select(
            "breakdown",
            pl.col("_codes")
            .list.set_difference(pl.concat_list(pl.col("_over")))
            .list.sort()
            .list.join(";")
            .alias("_total_key"),
        )
    )
    parts = present.join(totals_of, on="breakdown")
    totals = present.select(
        "indicator_id",
        "org_code",
        "period",
        pl.col("breakdown").alias("_total_key"),
        pl.col("value").alias("_total"),
        pl.col("_figure").alias("_total_figure"),
    )
    above = (
        parts.join(totals, on=["indicator_id", "org_code", "period", "_total_key"])
        .filter(pl.col("value") > pl.col("_total"))
        .sort("file_row", "_figure")
    )
    if above.is_empty():
        return
    first = above.row(0, named=True)
    column = places.column(first["_figure"], first["indicator_id"])
    total_row = places.row(first["_total_figure"])
    where = "this row" if total_row == first["file_row"] else f"row {total_row}"
    whole = first["_total_key"] or "every code"
    raise ImplausibleRelease(
        f"{filename} row {first['file_row']}: {first['indicator_id']} ({column}) for {first['breakdown']} is "
        f"{fmt(first['value'])} but for {whole} only {fmt(first['_total'])} ({where}): a part of a breakdown is never "
        f"above its total, and rounding keeps their order (rule {PART_WITHIN_TOTAL}); {above.height} such figure(s), "
        "so nothing of the release was stored",
        errors=[
            {
                "type": PART_WITHIN_TOTAL,
                "loc": [filename, f"row {r['file_row']}", places.column(r["_figure"], "value")],
                "msg": f"{r['indicator_id']} for {r['breakdown']} is {fmt(r['value'])}, above {fmt(r['_total'])}",
                "input": fmt(r["value"]),
            }
            for r in above.head(LISTED).iter_rows(named=True)
        ],
    )


def publisher_policy(rounded_to: int = 0) -> Policy:
    """The checks a publisher's release is held to: the catalogue's errors, and the change from the figure's
    previous version (here: the publisher's previous release); not an agency's duties (a publisher answers for
    every figure it publishes, for every area, a rate the catalogue works out included), and a publisher's value
    note never answers a query (it is not an officer's explanation)."""

    def applies(rule: Rule) -> bool:
        # Each count rounded on its own: the rounded parts need not add up to the rounded total. (Rounding keeps
        # order, so a part is still never above its whole: ``_parts_within_totals``.)
        if rounded_to and rule.kind == "breakdown_sum":
            return False
        return rule.severity == "error" or (rule.kind == "change" and rule.param("against") == "previous_version")

    return Policy(designated=False, derived_given=True, notes_explain=False, rule=applies)


def _refuse_errors(result: Validation, filename: str, places: _Places) -> None:
    errors = places.in_file_terms(result.problems.filter(pl.col("severity") == "error")).sort(
        "row", nulls_last=True, maintain_order=True
    )
    if result.fatal and errors.is_empty():
        raise ImplausibleRelease(f"{filename}: {result.reason}; nothing was stored")
    if errors.is_empty():
        return
    first = errors.row(0, named=True)
    rows = errors["row"].n_unique()
    raise ImplausibleRelease(
        f"{filename} row {first['row']}: {first['message']} (rule {first['rule']}); {errors.height} problem(s) in "
        f"{rows} row(s) break the catalogue's rules, so nothing of the release was stored",
        errors=[
            {
                "type": r["rule"],
                "loc": [filename, f"row {r['row']}", r["column"]],
                "msg": r["message"],
                "input": r["value"],
            }
            for r in errors.head(LISTED).iter_rows(named=True)
        ],
    )


def _previous_release(session: Session, publisher: str, figures: pl.DataFrame) -> pl.DataFrame:
    """The publisher's current figures for the release's indicators, as the store's current figures are read."""
    indicators = figures["indicator_id"].unique().to_list()
    found = current_published(session, publisher=publisher, indicator_ids=indicators).rename({"id": "obs_id"})
    frame = found.select([k for k in CURRENT_SCHEMA if k != "note"])
    return frame.with_columns(pl.lit(None, pl.String).alias("note")).join(figures.select(KEY), on=KEY, how="semi")
