"""A region's own page, for its key: its member councils and what each consents to, each use case's tables with a
link to download them, and each table's disclosure risk (how many of its children the columns a re-identifier may
know tell apart), with what each further degrading would change before the region asks for it. The downloads are
the API's own routes (``api/routes/regions.py``), so the page never gives what the route would refuse."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.access.region import pooled_csv, region_reader
from api.auth import check
from api.deps import SessionDep
from api.web.render import Visitor, page
from api.web.shared import PageRoute, VisitorDep
from collectors.regions.pooled import Built, build, make, pending
from collectors.regions.risk import Measured, Risk, table_risk
from collectors.regions.sufficiency import pending_placements, placements
from mappings.regions import consent
from mappings.regions.policy import use_cases
from onereturn.errors import NotFound

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: Each further degrading a use case may ask for, in words.
OPTIONS = {
    "dates_to_month": "every date to the month",
    "ethnicity_to_main_group": "ethnicity to its main group",
    "sector_to_district": "postcode sector to district",
}


def _region(session: SessionDep, visitor: Visitor) -> str:
    """The visitor's region, once its key is known to be a region's own (a council's key is refused saying why)."""
    check(visitor.principal, set(), {"agency"}, needs="a key of the region's own agency", region_door=True)
    region = visitor.principal.agency_code or ""
    region_reader(session, visitor.principal, region, officer=False)
    return region


def _cell(risk: Risk, count: int) -> str:
    return f"{count} ({risk.share(count):.0%})"


def _risk_rows(measured: list[Measured]) -> list[dict[str, Any]]:
    """Each set of what is known as the page's row: the children, those unique and in small classes, and the share
    unique with each option not yet asked."""
    return [
        {
            "known": ", ".join(m.risk.known),
            "columns": ", ".join(m.risk.columns),
            "children": m.risk.children,
            "unique": _cell(m.risk, m.risk.unique),
            "under_3": _cell(m.risk, m.risk.under_3),
            "under_5": _cell(m.risk, m.risk.under_5),
            "options": {o: _cell(r, r.unique) for o, r in m.with_option.items()},
        }
        for m in measured
    ]


def _table(case_name: str, built: Built, asked: tuple[str, ...]) -> dict[str, Any]:
    name = built.table.name
    href = f"/region/{case_name}/{name}.csv"
    measured = table_risk(built.frame, built.table, asked) if not built.frame.is_empty() else []
    return {
        "name": name,
        "grain": built.table.grain,
        "href": href,
        "rows": built.frame.height,
        "children": built.frame["child_key"].n_unique() if not built.frame.is_empty() else 0,
        "councils": sorted({held.gss for held in built.sources}),
        "left_out": built.left_out,
        "risk": _risk_rows(measured),
        "options": [o for o in OPTIONS if any(o in m.with_option for m in measured)],
    }


@router.get("/region")
def region_page(request: Request, session: SessionDep, visitor: VisitorDep) -> HTMLResponse:
    """The region's members and their consent, its tables to download and each table's disclosure risk."""
    region = _region(session, visitor)
    engine, settings = request.app.state.engine, request.app.state.settings
    agency = consent.region_agency(session, region)
    gss = consent.members(session, region)
    members = [
        {"council": held.council, "gss": gss.get(held.council, ""), "use_cases": held.use_cases}
        for held in consent.consents(session, region)
    ]
    every = [(case, name) for case in use_cases().values() for name in case.tables]
    # Every table of the page in one build: each council's files read once, not once for each table.
    made = make(
        engine,
        settings,
        [
            pending_placements(engine, settings, region)
            if case.name == "sufficiency"
            else pending(engine, settings, region, case.name, name)
            for case, name in every
        ],
    )
    cases = [
        {
            "case": case,
            "tables": [
                _table(case.name, built, case.degrade) for (of, _), built in zip(every, made, strict=True) if of is case
            ],
            "asked": [OPTIONS[o] for o in case.degrade],
        }
        for case in use_cases().values()
    ]
    return page(
        request,
        "region/region.html",
        visitor,
        title=agency.name,
        region=region,
        name=agency.name,
        members=members,
        cases=cases,
        option_words=OPTIONS,
    )


@router.get("/region/{case}/{table}.csv")
def region_table(request: Request, session: SessionDep, visitor: VisitorDep, case: str, table: str) -> Response:
    """One of the region's tables as the API gives it (the same bytes, headers and audit)."""
    region = _region(session, visitor)
    engine, settings = request.app.state.engine, request.app.state.settings
    if case == "sufficiency" and table == "placements":
        built = placements(engine, settings, region)
    elif case == "pan":
        built = build(engine, settings, region, case, table)
    else:
        raise NotFound(f"{case[:40]!r} holds no table {table[:40]!r}; the use cases are {', '.join(use_cases())}")
    return pooled_csv(request, built, region, f"{case}_{table}")
