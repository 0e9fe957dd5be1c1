"""A publisher's figures reach the catalogue's rules as numbers, under the publisher's policy, and the rules find
exactly what they found when the figures were written out as an upload's text cells and read back: the same
problems (row, column, value, rule, severity, message), the same figures accepted and the same held."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.checks import Checked, check_figures, typed
from collectors.checks.checked import Validation
from collectors.checks.context import build_context
from collectors.checks.policy import Context, Policy
from collectors.checks.typed import validate_figures
from collectors.figures.validate import validate
from collectors.published.check import _previous_release, publisher_policy
from collectors.published.intake import _in_geography, import_release, read_release
from collectors.published.sources import SourceSpec, load_sources
from collectors.published.viewit import area_lookup
from onereturn.settings import Settings

SOURCES = load_sources().sources
#: Sources of every kind of figure the bundled files give: counts, rates and percentages.
CHECKED = ("ons_population_0_17", "dfe_cla_number", "dfe_care_leavers_accommodation")
#: A publisher that rounds every count on its own (NDTMS, to fives), whose parts need not add up to their total.
ROUNDED = "ndtms_viewit_adults_la"


def _as_text_cells(numbered: pl.DataFrame) -> pl.DataFrame:
    """The release's figures as an upload's text cells, as the publisher's check wrote them before it handed the
    rules numbers: a whole number without its decimal point, a withheld value as its symbol, no note."""

    def text(column: str) -> pl.Expr:
        number = pl.col(column)
        whole = number.is_finite() & (number == number.floor()) & (number.abs() < 1e15)
        return pl.when(whole).then(number.cast(pl.Int64).cast(pl.String)).otherwise(number.cast(pl.String))

    return numbered.select(
        pl.col("_figure").alias("row"),
        pl.col("indicator_id").alias("indicator"),
        pl.col("org_code").alias("org"),
        "period",
        "breakdown",
        pl.coalesce(text("value"), pl.col("symbol")).alias("value"),
        text("numerator").alias("numerator"),
        text("denominator").alias("denominator"),
        "status",
        pl.lit(None, pl.String).alias("note"),
    )


def _as_text_context(ctx: Context, figures: pl.DataFrame, rounded_to: int) -> Context:
    """The context the text cells were checked in: the designation checks satisfied by widening the agency's
    duties, the release's indicators marked not derived, the rules filtered."""
    given = figures["indicator_id"].unique()
    policy = publisher_policy(rounded_to)
    return replace(
        ctx,
        indicators=ctx.indicators.with_columns(
            pl.when(pl.col("id").is_in(given.implode()))
            .then(pl.lit(False))
            .otherwise(pl.col("derived"))
            .alias("derived")
        ),
        agency_orgs=ctx.known_orgs,
        agency_indicators=frozenset(given.to_list()),
        rules=policy.rules(ctx.rules),
    )


def _spoiled(figures: pl.DataFrame) -> pl.DataFrame:
    """The figures with every kind of fault the rules look for, spread over the file: negative and fractional
    counts, percentages above 100, jumps from the previous release, withheld values, numerators above their
    denominators."""
    n = pl.int_range(pl.len()) % 6
    value = pl.col("value")
    return figures.with_columns(
        pl.when(n == 0)
        .then(-value - 1)
        .when(n == 1)
        .then(value + 0.5)
        .when(n == 2)
        .then(value * 3 + 150)
        .when(n == 3)
        .then(None)
        .otherwise(value)
        .alias("value"),
        pl.when(n == 3).then(pl.lit("x")).otherwise(pl.col("symbol")).alias("symbol"),
        pl.when((n == 4) & pl.col("denominator").is_not_null())
        .then(pl.col("denominator") + 1)
        .otherwise(pl.col("numerator"))
        .alias("numerator"),
    )


def _both_ways(session: Session, spec: SourceSpec, figures: pl.DataFrame) -> tuple[Validation, Validation]:
    """The rules' findings on the figures handed over as numbers, and written out as text cells."""
    numbered = figures.with_row_index("_figure", offset=1).with_columns(pl.col("_figure").cast(pl.Int64))
    ctx = build_context(session, spec.publisher, compared=_previous_release(session, spec.publisher, figures))
    as_numbers = validate_figures(
        numbered.with_columns(pl.col("_figure").alias("file_row")), ctx, publisher_policy(spec.rounded_to)
    )
    as_text = validate(_as_text_cells(numbered), _as_text_context(ctx, figures, spec.rounded_to))
    return as_numbers, as_text


def _same(a: Validation, b: Validation) -> None:
    columns = ["row", "column", "value", "rule", "severity", "message"]
    assert a.problems.select(columns).sort(columns, nulls_last=True).to_dicts() == (
        b.problems.select(columns).sort(columns, nulls_last=True).to_dicts()
    )
    assert sorted(a.accepted["file_row"].to_list()) == sorted(b.accepted["file_row"].to_list())
    assert sorted(a.held["file_row"].to_list()) == sorted(b.held["file_row"].to_list())


@pytest.mark.parametrize("source", CHECKED)
def test_the_rules_find_the_same_in_numbers_as_they_found_in_text(
    store: Engine, store_settings: Settings, source: str
) -> None:
    """On the bundled release as published, and on it spoiled in every way the rules look for (with and without
    the publisher's previous release to compare with), the problems, the accepted and the held are the same."""
    spec = SOURCES[source]
    data = spec.bundled.read_bytes()
    figures, _ = read_release(spec, data)
    with Session(store) as session:
        # A few areas' figures of every indicator, period and breakdown: enough for every rule, in seconds.
        areas = sorted(_in_geography(session, figures)["org_code"].unique().to_list())[:4]
        figures = figures.filter(pl.col("org_code").is_in(areas))
        first, first_text = _both_ways(session, spec, _spoiled(figures))
    _same(first, first_text)
    assert first.error_count, "the spoiled release breaks the rules"
    import_release(store, store_settings, spec, data, filename=spec.file, fetched_from="upload")
    with Session(store) as session:
        clean, clean_text = _both_ways(session, spec, figures)
        spoiled, spoiled_text = _both_ways(session, spec, _spoiled(figures))
    _same(clean, clean_text)
    assert clean.error_count == 0
    _same(spoiled, spoiled_text)


def test_a_rounding_publishers_figures_are_held_to_the_same_rules_in_numbers(store: Engine) -> None:
    """NDTMS's rounded counts (its parts not held to add up to their totals): the same findings either way."""
    spec = SOURCES[ROUNDED]
    assert spec.rounded_to
    figures, _ = read_release(spec, spec.bundled.read_bytes(), areas=area_lookup(store))
    with Session(store) as session:
        areas = sorted(_in_geography(session, figures)["org_code"].unique().to_list())[:4]
        figures = figures.filter(pl.col("org_code").is_in(areas))
        clean, clean_text = _both_ways(session, spec, figures)
        spoiled, spoiled_text = _both_ways(session, spec, _spoiled(figures))
    _same(clean, clean_text)
    _same(spoiled, spoiled_text)
    assert spoiled.error_count


def test_a_publishers_figure_reaches_the_rules_as_a_number(
    store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The release's values, numerators and denominators are handed to the checks as numbers (never as text to be
    read back), a withheld value by its symbol, and the figures stored are the publisher's as read."""
    seen: list[dict[str, Any]] = []

    def spy(figures: pl.DataFrame, ctx: Context, policy: Policy, **kwargs: Any) -> Checked:
        seen.append(dict(figures.schema))
        return check_figures(figures, ctx, policy, **kwargs)

    monkeypatch.setattr(typed, "check_figures", spy)
    spec = SOURCES["dfe_care_leavers_accommodation"]
    done = import_release(
        store, store_settings, spec, spec.bundled.read_bytes(), filename=spec.file, fetched_from="upload"
    )
    assert done.release.stored_new > 0
    (schema,) = seen
    assert {c: schema[c] for c in ("value", "numerator", "denominator")} == dict.fromkeys(
        ("value", "numerator", "denominator"), pl.Float64
    )
    assert schema["symbol"] == pl.String
    # The checks read the figures by their own names: no renaming to a template's columns on the way.
    assert {"indicator_id", "org_code", "file_row"} <= schema.keys()
    assert not {"indicator", "org", "row"} & schema.keys()
