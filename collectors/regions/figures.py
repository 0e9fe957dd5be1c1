"""A region's figures from its councils' records, months before DfE publishes them: the figures each council that
consents to ``pan`` stored from its newest SSDA903 and CIN census (derived from its records by ``collectors.records``
as the upload was taken), and those the catalogue works out from them alone (a rate from its numerator and
denominator), read from the figure store as the returns read them (``mappings.resolve``), beside the region's and
England's published figure.

The region's count is the councils' counts added; its rate is the ratio of sums (the councils' numerators over
their denominators, never an average of their rates). A child known to two councils is counted by each, as DfE's own
figures for each council count it. Small numbers are withheld by the returns' own suppression
(``mappings.transforms.suppress``): the rule of the returns the figure fills, else the widest any return of the
catalogue carries; and the region's figure is withheld whenever a council's is, so no figure shown, nor the
difference of two builds, holds a withheld value.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.regions.pooled import plan
from collectors.regions.sources import Held, ends
from indicators.formula import parse_formula, references
from indicators.models import Indicator
from indicators.periods import Period, financial_year, snapshot
from indicators.published_query import published_figures
from indicators.service import indicators_by_id
from indicators.store.models import RECORDS_KIND, Observation, Submission
from mappings.geography import ENGLAND
from mappings.models import FieldMapping, Return
from mappings.regions.policy import use_case
from mappings.resolve import Resolver
from mappings.transforms import PRESENT, SUPPRESSED, suppress
from onereturn import clock


@dataclass
class Part:
    """One council's figure: its value and, for a rate, its numerator and denominator; withheld with a symbol."""

    council: str
    value: float | None
    numerator: float | None
    denominator: float | None
    symbol: str | None = None


@dataclass
class RegionFigure:
    """One figure of the region for a period: each council's, the region's, England's published, and the rule."""

    indicator: str
    period: str
    councils: list[Part]
    region: Part
    england: float | None = None
    rule: str = ""
    notes: list[str] = field(default_factory=list)


def regional_figures(engine: Engine, region: str, *, today: date | None = None) -> tuple[list[RegionFigure], list[str]]:
    """Every figure the consenting councils' newest SSDA903 and CIN census stored, and those worked out from them
    alone; and who was left out."""
    case = use_case("pan")
    today = today or clock.now().date()
    held: list[Held] = []
    left: list[str] = []
    for library in ("903", "cin"):
        found, missing = plan(engine, region, case, library, today)
        left += missing
        held += [one for _, _, one in found if one is not None]
    with Session(engine) as session:
        figures = list(_combined(session, _stored(session, held)))
    return sorted(figures, key=lambda f: (f.indicator, f.period)), left


def _stored(session: Session, held: list[Held]) -> dict[tuple[str, str], list[Part]]:
    """Each council's figures by indicator and period: those its upload's return stored for the upload's year (its
    financial year and its 31 March), and those the catalogue works out from them alone, each resolved as a return's."""
    indicators = indicators_by_id(session)
    periods: dict[str, Period] = {}
    wanted: dict[tuple[str, str], set[str]] = {}
    for one in held:
        year = ends(one.collection_year)
        for period in (financial_year(year - 1), snapshot(date(year, 3, 31))):
            periods[period.code] = period
            rows = session.exec(
                select(Observation.indicator_id)
                .join(Submission, col(Submission.id) == col(Observation.submission_id))
                .where(
                    col(Observation.org_code) == one.gss,
                    col(Observation.period) == period.code,
                    col(Observation.breakdown) == "",
                    col(Observation.is_current),
                    col(Submission.kind) == RECORDS_KIND,
                    col(Submission.source_format) == one.library,
                )
            ).all()
            wanted.setdefault((period.code, one.gss), set()).update(rows)
    for (code, _), ids in wanted.items():
        ids |= {
            i.id
            for i in indicators.values()
            if i.formula and i.period_type == periods[code].type and set(references(parse_formula(i.formula))) <= ids
        }
    parts: dict[tuple[str, str], list[Part]] = {}
    for code, period in periods.items():
        orgs = sorted({gss for (at, gss), found in wanted.items() if at == code and found})
        asked = sorted({i for (at, _), found in wanted.items() if at == code for i in found})
        if not asked:
            continue
        resolver = Resolver(session, period, indicators=indicators)
        resolver.resolve_many(asked, orgs)
        for indicator in asked:
            for gss, value, numerator, denominator in (
                resolver.resolve(indicator, orgs)
                .filter((pl.col("breakdown") == "") & (pl.col("status") == PRESENT))
                .select("org_code", "value", "numerator", "denominator")
                .iter_rows()
            ):
                if indicator in wanted[(code, gss)]:
                    parts.setdefault((indicator, code), []).append(Part(gss, value, numerator, denominator))
    return parts


def _combined(session: Session, parts: dict[tuple[str, str], list[Part]]) -> Iterator[RegionFigure]:
    """Each indicator and period's councils added up, England's published figure beside, the rule applied."""
    ids = sorted({indicator for indicator, _ in parts})
    england = published_figures(session, indicator_ids=ids, org_codes=[ENGLAND])
    totals = england.filter(england["breakdown"] == "")
    published = {(i, p): v for i, p, v in totals.select("indicator_id", "period", "value").iter_rows()}
    rules, widest = _rules(session, ids), _widest(session)
    for (indicator, period), found in parts.items():
        figure = RegionFigure(indicator, period, sorted(found, key=lambda p: p.council), _region(found))
        figure.england = published.get((indicator, period))
        _withhold(figure, rules.get(indicator, widest), default=indicator not in rules)
        yield figure


def _region(found: list[Part]) -> Part:
    """The region's figure: counts added, a rate as the ratio of the sums of its parts."""
    if any(p.numerator is None or p.denominator is None for p in found):
        return Part("region", sum(p.value or 0.0 for p in found), None, None)
    numerator = sum(p.numerator or 0.0 for p in found)
    denominator = sum(p.denominator or 0.0 for p in found)
    # The rate's scale (100 for a percentage), as each council's figure was made with it.
    scale = next(
        (p.value * p.denominator / p.numerator for p in found if p.numerator and p.value and p.denominator), 1.0
    )
    value = scale * numerator / denominator if denominator else None
    return Part("region", value, numerator, denominator)


def _rules(session: Session, ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each indicator's small-number rule: the widest of the returns it fills that carry one, with the return named."""
    # A rate's numerator and denominator, kept as figures of their own, are held to the rate's rule: else the count
    # withheld in the rate would be read beside it.
    parts = session.exec(
        select(Indicator.id, Indicator.numerator, Indicator.denominator).where(
            col(Indicator.numerator).in_(ids) | col(Indicator.denominator).in_(ids)
        )
    ).all()
    wholes: dict[str, set[str]] = {i: {i} for i in ids}
    for rate, numerator, denominator in parts:
        for part in (numerator, denominator):
            if part in wholes:
                wholes[part].add(rate)
    rows = session.exec(
        select(FieldMapping.indicator_id, Return.id, Return.suppression)
        .join(Return, col(Return.id) == col(FieldMapping.return_id))
        .where(col(FieldMapping.indicator_id).in_({w for ws in wholes.values() for w in ws}))
    ).all()
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for indicator, filled in wholes.items():
        for mapped, return_id, rule in rows:
            if mapped in filled and rule and (indicator not in found or rule["high"] > found[indicator][1]["high"]):
                found[indicator] = (return_id, dict(rule))
    return found


def _widest(session: Session) -> tuple[str, dict[str, Any]] | None:
    """The widest small-number rule any return of the catalogue carries, with the return named."""
    rows = session.exec(select(Return.id, Return.suppression).where(col(Return.suppression).is_not(None))).all()
    held = [(return_id, dict(rule)) for return_id, rule in rows if rule]
    return max(held, key=lambda r: (r[1]["high"], r[0]), default=None)


def _withhold(figure: RegionFigure, held: tuple[str, dict[str, Any]] | None, *, default: bool = False) -> None:
    """Withhold each small council figure by the returns' own suppression (``mappings.transforms.suppress``: the rule's
    range, symbol and secondary suppression over the councils and the region's total that adds them up); then the
    region's figure too wherever any council's is withheld, so that no figure shown ever includes a withheld value
    and no two builds (before and after a council consents) can be subtracted to recover one."""
    if held is None:
        figure.rule = "no return of the catalogue carries a small-number rule: shown whole"
        return
    return_id, rule = held
    low, high, symbol = rule["low"], rule["high"], rule["symbol"]
    figure.rule = f"{return_id}'s: {low:g} to {high:g} withheld as {symbol}" + (
        ", and one more" if rule.get("secondary") else ""
    )
    if default:
        figure.rule = (
            f"no return this figure fills carries a rule in the catalogue, so the widest any does: {figure.rule}"
        )
    parts = [*figure.councils, figure.region]
    cells = pl.DataFrame(
        {
            "cell_id": [f"c{n}" for n in range(len(figure.councils))] + ["region"],
            "statistic": ["count" if _is_count(p) else "rate" for p in parts],
            "value": [_children(p) if _is_count(p) else p.value for p in parts],
            "numerator": [None if _is_count(p) else _children(p) for p in parts],
        },
        schema={"cell_id": pl.String, "statistic": pl.String, "value": pl.Float64, "numerator": pl.Float64},
    ).with_columns(status=pl.lit(PRESENT), symbol=pl.lit(None, pl.String), reason=pl.lit(None, pl.String))
    groups = pl.DataFrame(
        {"cell_id": cells["cell_id"], "group_id": "region", "role": ["part"] * len(figure.councils) + ["total"]}
    )
    secondary = bool(rule.get("secondary"))
    out = suppress(cells, low=low, high=high, symbol=symbol, secondary=secondary, groups=groups if secondary else None)
    hidden = set(out.filter(pl.col("status") == SUPPRESSED)["cell_id"])
    if hidden - {"region"}:
        hidden.add("region")
    for cell_id, part in zip(cells["cell_id"], parts, strict=True):
        if cell_id in hidden:
            part.value = part.numerator = part.denominator = None
            part.symbol = symbol


def _is_count(part: Part) -> bool:
    return part.numerator is None or part.denominator is None


def _children(part: Part) -> float | None:
    """The children a figure counts: a count's value, a rate's numerator (a mean's denominator, the smaller)."""
    if _is_count(part):
        return part.value
    return min(part.numerator or 0.0, part.denominator or 0.0)
