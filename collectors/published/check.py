"""Hold a publisher's release to the catalogue's own rules before any of it is stored.

The release's figures go through the same validation as an agency's upload (``collectors/validate.py`` with the
catalogue's rules, ``collectors/crosscheck.py``): ranges, negative counts, whole counts, a part never above its
whole, a numerator never above its denominator, breakdown codes and periods that exist and have begun. Any error
refuses the whole release (a publisher's file is stored whole or not at all), naming the uploaded file, its row
and the rule. The catalogue's change rules that compare a figure with its previous version compare it here with
the publisher's previous release: a larger jump is a query, the figure held until an officer confirms it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl
from sqlmodel import Session

from collectors.context import build_context
from collectors.store import CURRENT_SCHEMA, KEY
from collectors.validate import Validation, empty_problems, validate
from indicators.published_query import current_published
from onereturn.errors import InvalidInput

#: How many of a refused release's problems are listed with the refusal (the first is in the message).
LISTED = 50


class ImplausibleRelease(InvalidInput):
    """A publisher's release with a figure the catalogue's rules refuse: nothing of it is stored."""


@dataclass
class Ruling:
    """What the rules made of a release: the file rows a query holds, and the queries (an upload's problem rows)."""

    held_rows: set[int]
    queries: pl.DataFrame


def check_release(
    session: Session, publisher: str, figures: pl.DataFrame, *, filename: str, rounded_to: int = 0
) -> Ruling:
    """Check a release's figures (those for areas the geography holds) against the catalogue's rules; raise
    ``ImplausibleRelease`` naming the file, row and rule of the first error, or say which rows a query holds.

    ``rounded_to``: the multiple the publisher rounds every count to (NDTMS: 5), as its source declares."""
    if figures.is_empty():
        return Ruling(set(), empty_problems())
    ctx = build_context(session, publisher)
    # The publisher answers for every figure it publishes, for every area: the designation checks are not its.
    indicators = ctx.indicators.with_columns(
        # A rate the catalogue works out from its terms is still a figure the publisher may publish.
        pl.when(pl.col("id").is_in(figures["indicator_id"].unique().implode()))
        .then(pl.lit(False))
        .otherwise(pl.col("derived"))
        .alias("derived")
    )
    ctx = replace(
        ctx,
        indicators=indicators,
        agency_orgs=ctx.known_orgs,
        agency_indicators=frozenset(figures["indicator_id"].unique().to_list()),
        # Errors, and the change from the figure's previous version (here: the publisher's previous release).
        rules=tuple(
            r
            for r in ctx.rules
            if (r.severity == "error" or (r.kind == "change" and r.param("against") == "previous_version"))
            # Each count rounded on its own: the rounded parts need not add up to the rounded total. (Rounding
            # keeps order, so a part is still never above its whole.)
            and not (rounded_to and r.kind == "breakdown_sum")
        ),
        current=_previous_release(session, publisher, figures),
        stored_for=None,
    )
    result = validate(_as_upload(figures), ctx)
    _refuse_errors(result, filename)
    held = set(result.held["file_row"].to_list()) if result.held.height else set()
    return Ruling(held, result.problems.filter(pl.col("severity") == "query"))


def _as_upload(figures: pl.DataFrame) -> pl.DataFrame:
    """The release's figures as an upload's text cells: a value as its number, a withheld one as its symbol."""

    def text(column: str) -> pl.Expr:
        number = pl.col(column)
        whole = number.is_finite() & (number == number.floor()) & (number.abs() < 1e15)
        return pl.when(whole).then(number.cast(pl.Int64).cast(pl.String)).otherwise(number.cast(pl.String))

    return figures.select(
        pl.col("file_row").alias("row"),
        pl.col("indicator_id").alias("indicator"),
        pl.col("org_code").alias("org"),
        "period",
        "breakdown",
        pl.coalesce(text("value"), pl.col("symbol")).alias("value"),
        text("numerator").alias("numerator"),
        text("denominator").alias("denominator"),
        "status",
        # A publisher's value note is not an officer's explanation: it never answers a query.
        pl.lit(None, pl.String).alias("note"),
    )


def _refuse_errors(result: Validation, filename: str) -> None:
    errors = result.problems.filter(pl.col("severity") == "error").sort("row", nulls_last=True)
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
