"""The performance officer's pages: dashboard, calendar, catalogue, burden and outbox."""

from __future__ import annotations

import calendar as month_grid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select

from api import paging
from api.burden_counts import burden_with_lists
from api.deps import SessionDep
from api.params import SEARCH_CHARS, PeriodText
from api.scopes import read_scope
from api.web.approvals import queue_of
from api.web.charts import Bar, stacked_bars
from api.web.render import page
from api.web.shared import (
    BURDEN,
    CALENDAR,
    OUTBOX,
    PageRoute,
    Rule,
    VisitorDep,
    allowed,
    calendar_items,
    collecting,
)
from collectors import answers
from exports import service as exports
from exports.burden.report import last_financial_year
from exports.changes import reopened_builds
from exports.signoff.queries import Filters, tally
from indicators.formula import collected_inputs
from indicators.periods import parse_period
from indicators.service import indicators_by_id
from mappings import service as mappings
from mappings.models import FieldMapping, Return
from mappings.signoff.standing import OVERDUE_WORDS
from mappings.validity import in_force
from onereturn import clock, outbox
from onereturn.errors import InvalidInput, OneReturnError

router = APIRouter(route_class=PageRoute, include_in_schema=False)
#: The officer's own pages (dashboard, catalogue browser): officers only, with the scopes their routes need.
OFFICER: Rule = ({"submissions:read", "returns:read"}, {"officer"}, None)


def _titles(session: SessionDep) -> dict[str, str]:
    return {r.id: r.title for r in mappings.list_returns(session)}


def _moment(entry: dict[str, Any]) -> tuple[str, str, str]:
    return (entry["return_id"], entry["period"], entry["at"])


@router.get("/officer")
def dashboard(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """Next deadlines, overdue agencies, completeness per return, recent submissions and re-opened builds."""
    allowed(visitor, OFFICER)
    today = clock.now().date()
    titles = _titles(session)
    upcoming = calendar_items(session, visitor, today, today + timedelta(days=60))
    late = calendar_items(session, visitor, today - timedelta(days=365), today, status="overdue")
    now_collecting = collecting(session, visitor, today)
    # Before the lists of builds: a return whose figures changed since its last build is built again here.
    completeness = _completeness(session, now_collecting, titles)
    recent_items, recent_total = answers.submissions(
        session, own=read_scope(visitor.principal).agency, limit=8, offset=0
    )
    recent = paging.page(request, recent_items, total=recent_total, limit=8, offset=0)
    reopened = [
        {
            "return_id": b.return_id,
            "title": titles.get(b.return_id, ""),
            "period": b.period,
            "build_id": b.id,
            "built_at": b.generated_at,
            "revised": revised,
        }
        for b, revised in reopened_builds(session)
    ]
    queue = queue_of(session, visitor, Filters(), now=now_collecting)
    return page(
        request,
        "officer/dashboard.html",
        visitor,
        title="Dashboard",
        deadlines=_next_deadlines(upcoming, titles),
        completeness=completeness,
        recent=recent,
        reopened=reopened,
        approvals=tally(queue),
        overdue_agencies=_overdue_agencies(late, titles),
    )


def _next_deadlines(items: list[dict[str, Any]], titles: dict[str, str]) -> list[dict[str, Any]]:
    """The next ten deadlines; a sign-off due with the figures (no date of its own) said on the figures' line."""
    figures_due = {_moment(e) for e in items if e["kind"] == "agency_deadline"}
    signoffs_due = {_moment(e) for e in items if e["kind"] == "signoff_deadline"}
    return [
        {
            **e,
            "title": titles.get(e["return_id"], e["return_id"]),
            "also_signoff": e["kind"] == "agency_deadline" and _moment(e) in signoffs_due,
        }
        for e in items
        if e["kind"] in ("agency_deadline", "recipient_deadline")
        or (e["kind"] == "signoff_deadline" and _moment(e) not in figures_due)
    ][:10]


def _overdue_agencies(items: list[dict[str, Any]], titles: dict[str, str]) -> list[dict[str, Any]]:
    """Each agency behind: deadlines missed and figures owed, returns not signed off, the oldest date; most owed first."""
    overdue: dict[str, dict[str, Any]] = {}
    for e in items:
        for agency, reason in e["overdue"].items():
            # Figures missing are counted once, at the agency deadline; a sign-off date adds only the returns
            # whose figures are all in and not signed off.
            counted = (e["kind"], reason) in (
                ("agency_deadline", "figures_missing"),
                ("signoff_deadline", "not_signed_off"),
            )
            if not counted:
                continue
            row = overdue.setdefault(
                agency,
                {"agency": agency, "deadlines": 0, "owed": 0, "returns": set(), "unsigned": [], "oldest": e["at"]},
            )
            title = titles.get(e["return_id"], e["return_id"])
            if reason == "figures_missing":
                row["deadlines"] += 1
                row["owed"] += e["owed"][agency]
                row["returns"].add(title)
            else:
                row["unsigned"].append(
                    {"return_id": e["return_id"], "title": title, "period": e["period"], "state": e["unsigned"][agency]}
                )
            row["oldest"] = min(row["oldest"], e["at"])
    return sorted(overdue.values(), key=lambda r: (-r["owed"], -len(r["unsigned"]), r["agency"]))


def _completeness(
    session: SessionDep, now_collecting: dict[str, dict[str, Any]], titles: dict[str, str]
) -> list[dict[str, Any]]:
    """The share of cells filled in each return being collected, from its last build (or why it cannot be built)."""
    completeness: list[dict[str, Any]] = []
    for return_id, entry in sorted(now_collecting.items()):
        period = entry["period"]
        try:
            # The last build while nothing it shows has changed: a view does not build every return again.
            record = exports.current_build(session, return_id, period)
        except OneReturnError as exc:
            completeness.append(
                {"return_id": return_id, "title": titles.get(return_id, ""), "period": period, "error": exc.message}
            )
            continue
        shown = sum(n for status, n in record.completeness.items() if status in ("present", "suppressed"))
        completeness.append(
            {
                "return_id": return_id,
                "title": titles.get(return_id, ""),
                "period": record.period,
                "share": round(shown / record.cell_count, 4) if record.cell_count else 0.0,
                "cells": record.cell_count,
                "by_status": record.completeness,
            }
        )
    return completeness


@router.get("/calendar")
def month(request: Request, session: SessionDep, visitor: VisitorDep, month: str | None = None) -> HTMLResponse:
    """A month of deadlines as a calendar grid, with the link to subscribe."""
    allowed(visitor, CALENDAR)
    try:
        first = date.fromisoformat(f"{month}-01") if month else clock.now().date().replace(day=1)
    except ValueError:
        raise InvalidInput(f"{month!r} is not a month; write it as 2025-06") from None
    last = first.replace(day=month_grid.monthrange(first.year, first.month)[1])
    entries = calendar_items(session, visitor, first, last)
    titles = _titles(session)
    by_day: dict[int, list[dict[str, Any]]] = {}
    for e in entries:
        e["late_words"] = sorted({OVERDUE_WORDS[r] for r in e["overdue"].values()})
        at = datetime.fromisoformat(e["at"])
        by_day.setdefault(at.day, []).append({**e, "title": titles.get(e["return_id"], e["return_id"])})
    weeks = month_grid.Calendar(firstweekday=0).monthdayscalendar(first.year, first.month)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = last + timedelta(days=1)
    agency = visitor.principal.agency_code
    return page(
        request,
        "officer/calendar.html",
        visitor,
        title=f"Calendar: {first.strftime('%B %Y')}",
        first=first,
        weeks=weeks,
        by_day=by_day,
        previous=previous.strftime("%Y-%m"),
        following=following.strftime("%Y-%m"),
        previous_name=previous.strftime("%B %Y"),
        following_name=following.strftime("%B %Y"),
        entries=entries,
        titles=titles,
        ics="/api/calendar.ics" + (f"?agency={agency}" if agency else ""),
    )


@router.get("/catalogue")
def catalogue(
    request: Request, session: SessionDep, visitor: VisitorDep, q: Annotated[str, Query(max_length=SEARCH_CHARS)] = ""
) -> HTMLResponse:
    """Search the indicators; list the returns."""
    allowed(visitor, OFFICER)
    found = None
    if q.strip():
        items, total = mappings.indicator_page(session, text=q.strip(), limit=50, offset=0)
        found = paging.page(request, items, total=total, limit=50, offset=0)
    returns = paging.page_of(request, mappings.list_returns(session), limit=100, offset=0)
    return page(request, "officer/catalogue.html", visitor, title="Catalogue", q=q, found=found, returns=returns)


@router.get("/catalogue/indicators/{indicator_id}")
def indicator(request: Request, session: SessionDep, visitor: VisitorDep, indicator_id: str) -> HTMLResponse:
    """One indicator: its definition and every return field that uses it, with the relation."""
    allowed(visitor, OFFICER)
    detail = mappings.indicator_detail(session, indicator_id)
    return page(
        request,
        "officer/indicator.html",
        visitor,
        title=detail.plain_title or detail.title,
        ind=detail,
        current="/catalogue",
    )


@router.get("/catalogue/returns/{return_id}")
def return_detail(
    request: Request, session: SessionDep, visitor: VisitorDep, return_id: str, period: PeriodText = ""
) -> HTMLResponse:
    """One return: its fields and the indicator each maps onto; with a period, every cell built for it with where
    its figure comes from (the body's upload and row, or the publisher's release and row) or why it is empty."""
    allowed(visitor, OFFICER)
    detail = mappings.get_return(session, return_id)
    cells = _cells_with_sources(session, return_id, period.strip()) if period.strip() else None
    return page(
        request,
        "officer/return.html",
        visitor,
        title=detail.title,
        ret=detail,
        period=period.strip(),
        cells=cells,
        current="/catalogue",
    )


def _cells_with_sources(session: Session, return_id: str, period: str) -> list[dict[str, Any]]:
    """Each cell of the return built for the period, as an officer reads it: its value, the period of its figure and
    where the figure comes from, in the return's order."""
    from exports.release import build_ungated
    from mappings.validity import check_period

    check_period(session, return_id, period)
    ret = session.get(Return, return_id)
    assert ret is not None
    built = build_ungated(session, ret, parse_period(period, ret.period_type).code)  # type: ignore[arg-type]
    labels = {f.code: f.label for f in built.fields}
    summary = {row["cell_id"]: row for row in built.lineage_summary.iter_rows(named=True)}
    periods: dict[str, str] = {}
    for cell_id, figure_period in built.lineage.select("cell_id", "figure_period").iter_rows():
        periods.setdefault(str(cell_id), str(figure_period))
    out = []
    for cell in built.cell_records:
        behind = summary.get(cell["cell_id"])
        said = cell["reason"] or (f"{behind['sources']} ({behind['provenance']})" if behind else "")
        out.append(
            {
                **cell,
                "label": labels.get(cell["field_code"], ""),
                "figure_period": periods.get(cell["cell_id"], ""),
                "source": said,
            }
        )
    return out


@router.get("/catalogue/different-methods")
def different_methods(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """Every field that measures an indicator's idea a different way, beside the indicator it stands for."""
    allowed(visitor, OFFICER)
    indicators = indicators_by_id(session)
    titles = _titles(session)
    pairs = []
    for f in session.execute(
        select(FieldMapping).where(FieldMapping.relation == "different_method").order_by(col(FieldMapping.return_id))
    ).scalars():
        mine = indicators.get(f.indicator_id)
        theirs = indicators.get(f.counterpart or "")
        pairs.append(
            {"return_id": f.return_id, "title": titles.get(f.return_id, ""), "field": f, "mine": mine, "theirs": theirs}
        )
    return page(
        request, "officer/different.html", visitor, title="Figures measured two ways", pairs=pairs, current="/catalogue"
    )


@router.get("/burden")
def burden(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    period: PeriodText = "",
    minutes: Annotated[float, Query(gt=0, le=600)] = 3.0,
    cell_minutes: Annotated[float, Query(gt=0, le=600)] = 0.5,
) -> HTMLResponse:
    """The burden saved per agency and the overlap per return, as charts drawn on the server."""
    allowed(visitor, BURDEN)
    period = period.strip() or last_financial_year(datetime.now(UTC).date())
    report = burden_with_lists(
        session, request.app.state.engine, request.app.state.settings, period, minutes, cell_minutes
    )
    per_agency = _per_agency_chart(report)
    titles = _titles(session)
    needs = _return_needs(session, report["period"])
    rows: list[dict[str, Any]] = []
    for ret, own in sorted(needs.items()):
        others = set().union(*(n for r, n in needs.items() if r != ret))
        rows.append({"return_id": ret, "title": titles.get(ret, ret), "needs": len(own), "shared": len(own & others)})
    per_return = stacked_bars(
        [Bar(r["title"], (r["needs"] - r["shared"], r["shared"])) for r in rows],
        legend=("only this return needs it", "another return needs it too"),
        title=f"Indicators each return in force in {report['period']} needs, and how many another needs too",
        unit="indicators",
    )
    return page(
        request,
        "officer/burden.html",
        visitor,
        title="Burden",
        report=report,
        per_agency=per_agency,
        per_return=per_return,
        return_rows=rows,
        period=period,
        minutes=minutes,
        cell_minutes=cell_minutes,
        titles=titles,
    )


def _per_agency_chart(report: dict[str, Any]) -> str:
    """The cells each agency would key without the service, stacked by who keys them now."""
    # Four parts at most (each told apart by its lightness): a child-level cell of an inspection list still keyed is
    # keyed by hand, one filled from the council's records is keyed by nobody, as a publisher's figure is.
    return stacked_bars(
        [
            Bar(
                a["agency_name"] or a["agency_code"],
                (
                    a["keyed_cells_without_service"]
                    - a["saved"]
                    + a["annex_a_keyed"]
                    + a["list1_keyed"]
                    + a["list2_keyed"],
                    a["saved"],
                    a["derived_by_service"],
                    a["from_publishers"] + a["awaiting_publishers"] + a["child_cells_filled"],
                ),
            )
            for a in report["agencies"]
        ],
        legend=(
            "still keyed by hand",
            "keyed once instead of several times",
            "worked out by the service",
            "keyed by nobody: from or awaiting a publisher, or a child-level cell from records",
        ),
        title=f"Cells each agency would key without the service, returns and inspection lists, {report['period']}",
        unit="cells",
    )


def _return_needs(session: SessionDep, period: str) -> dict[str, set[str]]:
    """The collected indicators each return in force in the period needs (as the burden report counts them)."""
    indicators = indicators_by_id(session)
    within = parse_period(period)
    live = {r.id for r in session.execute(select(Return)).scalars() if in_force(r, within)}
    needs: dict[str, set[str]] = {}
    for f in session.execute(select(FieldMapping).where(col(FieldMapping.return_id).in_(live))).scalars():
        bucket = needs.setdefault(f.return_id, set())
        if f.relation != "different_method":
            bucket |= collected_inputs(indicators, f.indicator_id)
    return needs


@router.get("/outbox")
def outbox_page(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """Reminders and notices, newest first, with whether each has gone."""
    allowed(visitor, OUTBOX)
    items, total = outbox.listed(session, agency_code=read_scope(visitor.principal).agency, limit=100, offset=0)
    messages = paging.page(request, items, total=total, limit=100, offset=0)
    return page(request, "officer/outbox.html", visitor, title="Outbox", messages=messages)
