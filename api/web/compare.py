"""Compare pages: an indicator's figure for a council beside its neighbours, region and England, and the flags list."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from api.deps import SessionDep
from api.params import PeriodText
from api.scopes import read_scope
from api.web.charts import Level, comparison_bars, trend_lines
from api.web.render import Visitor, page
from api.web.shared import FIGURES, PageRoute, VisitorDep, allowed
from indicators.periods import parse_period
from mappings.comparison.assembly import cached_comparison, flags_for, indicators_with_figures
from mappings.comparison.groups import officer_groups, statistical_neighbours
from mappings.comparison.service import PEER_TYPES, Comparison
from mappings.models import AgencyOrg, OrgUnit
from mappings.signoff.lineage import store_key
from onereturn.errors import NotFound

router = APIRouter(route_class=PageRoute, include_in_schema=False)

OUTCOME_WORDS = {
    "better": "better than England",
    "worse": "worse than England",
    "higher": "higher than England",
    "lower": "lower than England",
    "similar": "similar to England",
}


def _councils(session: Session, visitor: Visitor) -> list[tuple[str, str]]:
    """The councils the visitor may compare: every upper-tier council for an officer, its own for an agency."""
    stmt = select(OrgUnit.code, OrgUnit.name).where(col(OrgUnit.type).in_(PEER_TYPES)).order_by(col(OrgUnit.name))
    agency = read_scope(visitor.principal).agency
    if agency is not None:
        own = select(AgencyOrg.org_code).where(AgencyOrg.agency_code == agency)
        stmt = stmt.where(col(OrgUnit.code).in_(own))
    return [(str(c), str(n)) for c, n in session.execute(stmt)]


def _own(session: Session, visitor: Visitor, org: str) -> list[tuple[str, str]]:
    councils = _councils(session, visitor)
    if org and org not in {c for c, _ in councils}:
        raise NotFound(f"No council {org!r} among those you may compare")
    return councils


def _chart(c: Comparison) -> str:
    levels = []
    # A count of a region or England dwarfs a council's: those stay in the table only, where they still read.
    areas = () if c.indicator.statistic == "count" else (c.region, c.england)
    for r in [*c.rows, *(x for x in areas if x is not None)]:
        note = f"withheld ({r.symbol})" if r.symbol else "no figure"
        levels.append(
            Level(
                r.name,
                r.value,
                note,
                r.interval.lower if r.interval else None,
                r.interval.upper if r.interval else None,
                r.role == "council",
            )
        )
    if c.neighbours_mean is not None:
        levels.insert(len(c.rows), Level("Neighbours' mean", c.neighbours_mean))
    return comparison_bars(levels, title=f"{c.indicator.title}, {c.org_name}, {c.period}", unit=c.indicator.unit[:20])


def _trend(c: Comparison) -> str:
    if len(c.trend) < 2:
        return ""
    periods = [t.period for t in c.trend]
    # The axis is time: each period sits at its end date, so 2010 and 2021 are eleven years apart, not one step.
    at = [float(parse_period(p).end.toordinal()) for p in periods]
    series: list[tuple[str, list[float | None]]] = [
        (f"{c.org_name} (this council)", [t.value for t in c.trend]),
        ("Neighbours' mean", [t.neighbours_mean for t in c.trend]),
    ]
    if c.indicator.statistic != "count":
        series.append(("England", [t.england for t in c.trend]))
    return trend_lines(periods, series, title=f"{c.indicator.title}, {c.org_name}, over the years", at=at)


@router.get("/compare")
def compare_page(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    indicator: str = "",
    org: str = "",
    period: PeriodText = "",
    group: str = "statistical_neighbours",
) -> HTMLResponse:
    """One indicator for one council and period beside its group, region and England: chart, table and trend."""
    allowed(visitor, FIGURES)
    councils = _own(session, visitor, org)
    org = org or (councils[0][0] if councils else "")
    agency = read_scope(visitor.principal).agency
    state = store_key(session)
    indicators = indicators_with_figures(session, org, agency, state=state) if org else []
    if not indicator and indicators:
        indicator = indicators[0][0]
    if not period:
        period = next((p for i, _, p in indicators if i == indicator), "")
    comparison = None
    if org and indicator and period:
        comparison = cached_comparison(session, indicator, org, period, state=state, agency=agency, group=group)
    # Officers' groups are the officers' own: an agency compares with DfE's statistical neighbours.
    groups = [("statistical_neighbours", "DfE statistical neighbours")] + [
        (g.id, g.title) for g in (officer_groups(session).values() if agency is None else ())
    ]
    return page(
        request,
        "compare.html",
        visitor,
        title="Compare",
        current="/compare",
        c=comparison,
        chart=_chart(comparison) if comparison else "",
        trend=_trend(comparison) if comparison else "",
        councils=councils,
        indicators=indicators,
        org=org,
        indicator=indicator,
        period=period,
        group=group,
        groups=groups,
        outcome_words=OUTCOME_WORDS,
        has_neighbours=bool(org and statistical_neighbours(org)),
    )


@router.get("/compare/flags")
def flags_page(request: Request, session: SessionDep, visitor: VisitorDep, org: str = "") -> HTMLResponse:
    """Every indicator where the council sits in the bottom quartile or differs from England significantly."""
    allowed(visitor, FIGURES)
    councils = _own(session, visitor, org)
    org = org or (councils[0][0] if councils else "")
    agency = read_scope(visitor.principal).agency
    flags = flags_for(session, org, agency, state=store_key(session)) if org else []
    name = dict(councils).get(org, org)
    return page(
        request,
        "compare_flags.html",
        visitor,
        title="Where to look",
        current="/compare",
        flags=flags,
        councils=councils,
        org=org,
        name=name,
        outcome_words=OUTCOME_WORDS,
    )
