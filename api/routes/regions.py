"""A region's hub: a council's consent to its region per use case, and the region's pooled outputs.

``PUT /api/agencies/{council}/consent/{region}`` with ``{"use_cases": ["pan", ...]}`` sets what the council consents
to (its approver's key), ``GET`` reads it (the council's key or an officer's), ``DELETE`` withdraws it all; each
change is audited with the use cases before and after. ``GET /api/regions/{region}`` says who the members are, what
each consented to and the tables of each use case; ``GET /api/regions/{region}/pan/{table}.csv`` gives a pooled
child-level table and ``.../sufficiency/placements.csv`` the placements open on a date, built when asked from the
consenting councils' newest records (``collectors/regions/``), for the region's own key only. Nothing built is kept.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.access.region import give, history, own_council, pooled_csv, region_reader, withdraw
from api.auth import FUNCTION, require
from api.callrecord import annotate
from api.deps import SessionDep
from api.principal import Principal
from collectors.regions.figures import Part, regional_figures
from collectors.regions.pooled import Built, build
from collectors.regions.sufficiency import placements
from mappings.regions import consent
from mappings.regions.consent import Consent
from mappings.regions.policy import use_cases

router = APIRouter(prefix="/api", tags=["regions"])

ConsentRead = Annotated[Principal, Depends(require(set(), {"officer", "agency"}), scope=FUNCTION)]
ConsentChange = Annotated[
    Principal, Depends(require(set(), {"agency"}, needs="the council's approver key"), scope=FUNCTION)
]
RegionRead = Annotated[
    Principal,
    Depends(
        require(set(), {"officer", "agency"}, needs="a key of the region's agency", region_door=True), scope=FUNCTION
    ),
]
#: The pooled tables hold children: the region's own key only, never an officer's or a regulator's.
PooledRead = Annotated[
    Principal,
    Depends(require(set(), {"agency"}, needs="a key of the region's own agency", region_door=True), scope=FUNCTION),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Not the region's own key (a council's, an officer's or a regulator's)"},
    404: {"description": "No such region (or not this key's), no such use case or table"},
}


class ConsentBody(BaseModel):
    """The use cases a council consents to for a region (replacing those it consented to before)."""

    model_config = ConfigDict(extra="forbid")

    use_cases: list[Annotated[str, Field(max_length=40)]] = Field(
        max_length=10, description='Use cases, e.g. ["pan", "sufficiency"]; [] consents to none'
    )


class ConsentPublic(BaseModel):
    """A council's consent to a region as held."""

    council: str
    region: str
    use_cases: list[str]
    changed_at: str | None
    changed_by: str


def _public(held: Consent) -> ConsentPublic:
    return ConsentPublic(
        council=held.council,
        region=held.region,
        use_cases=list(held.use_cases),
        changed_at=held.changed_at.isoformat() if held.changed_at else None,
        changed_by=held.changed_by,
    )


@router.get("/agencies/{council}/consent/{region}", summary="A council's consent to its region", responses=_RESPONSES)
def consent_read(council: str, region: str, session: SessionDep, principal: ConsentRead) -> ConsentPublic:
    """The use cases the council consents to for the region now (none: not given, or withdrawn)."""
    own_council(principal, council, change=False)
    return _public(consent.consent_of(session, council, region))


@router.get(
    "/agencies/{council}/consent/{region}/history",
    summary="Every change of a council's consent to a region, whatever its membership now",
    responses=_RESPONSES,
)
def consent_history(council: str, region: str, session: SessionDep, principal: ConsentRead) -> dict[str, Any]:
    """Each give, change and withdrawal of the council's consent to the region (its approver's acts, and each ended
    when the council left the region), oldest first; read by the council's own key or an officer's."""
    return {"council": council, "region": region, "changes": history(session, principal, council, region)}


@router.put(
    "/agencies/{council}/consent/{region}",
    summary="Give or change a council's consent to its region (its approver)",
    responses={**_RESPONSES, 422: {"description": "Not a member of the region, or a use case that does not exist"}},
)
def consent_give(
    request: Request, council: str, region: str, body: ConsentBody, session: SessionDep, principal: ConsentChange
) -> ConsentPublic:
    """Set the use cases the council consents to: a use case left out is withdrawn; every change is audited."""
    return _public(give(request, session, principal, council, region, body.use_cases))


@router.delete(
    "/agencies/{council}/consent/{region}",
    summary="Withdraw a council's consent to its region (its approver)",
    responses=_RESPONSES,
)
def consent_withdraw(
    request: Request, council: str, region: str, session: SessionDep, principal: ConsentChange
) -> ConsentPublic:
    """Withdraw every use case: the council's children are in no output of the region built after it."""
    return _public(withdraw(request, session, principal, council, region))


@router.get("/regions/{region}", summary="A region: its members, their consent and its tables", responses=_RESPONSES)
def region_overview(region: str, session: SessionDep, principal: RegionRead) -> dict[str, Any]:
    """Each member council with the use cases it consents to, and each use case's tables, retention and why."""
    region_reader(session, principal, region, officer=True)
    agency = consent.region_agency(session, region)
    cases = use_cases()
    members = consent.members(session, region)
    return {
        "region": region,
        "name": agency.name,
        "members": [
            {"council": held.council, "gss": members[held.council], "use_cases": list(held.use_cases)}
            for held in consent.consents(session, region)
        ],
        "use_cases": [
            {
                "use_case": case.name,
                "title": case.title,
                "retention_years": case.retention_years,
                "why": case.why,
                "tables": [
                    {"table": t.name, "grain": t.grain, "href": f"/api/regions/{region}/{case.name}/{t.name}.csv"}
                    for t in case.tables.values()
                ],
            }
            for case in cases.values()
        ],
    }


def _csv(request: Request, built: Built, region: str, name: str) -> Response:
    """The built table as a download (``api/access/region.py``, shared with the region's page)."""
    return pooled_csv(request, built, region, name)


@router.get(
    "/regions/{region}/pan/{table}.csv",
    summary="A pooled child-level table of the region (the region's own key)",
    responses={200: {"content": {"text/csv": {}}}, **_RESPONSES},
)
def pan_table(request: Request, region: str, table: str, session: SessionDep, principal: PooledRead) -> Response:
    """One of the pan use case's tables, pooled from the councils that consent to it, each child by its key."""
    region_reader(session, principal, region, officer=False)
    engine, settings = request.app.state.engine, request.app.state.settings
    return _csv(request, build(engine, settings, region, "pan", table), region, f"pan_{table}")


@router.get(
    "/regions/{region}/sufficiency/placements.csv",
    summary="Placements open on a date, with the placing and the host council (the region's own key)",
    responses={200: {"content": {"text/csv": {}}}, **_RESPONSES},
)
def sufficiency_placements(
    request: Request,
    region: str,
    session: SessionDep,
    principal: PooledRead,
    on: Annotated[
        date | None,
        Query(description="The date the episodes are open on, YYYY-MM-DD (default: the newest 31 March held)"),
    ] = None,
) -> Response:
    """Each episode open on the date, from the councils that consent to sufficiency: its placing council and the
    council whose area the placement is in (from ONS's postcode directory), the provider and the placement type."""
    region_reader(session, principal, region, officer=False)
    engine, settings = request.app.state.engine, request.app.state.settings
    return _csv(request, placements(engine, settings, region, on), region, "sufficiency_placements")


@router.get(
    "/regions/{region}/figures",
    summary="The region's figures from its councils' records (the region's key)",
    responses=_RESPONSES,
)
def region_figures(request: Request, region: str, session: SessionDep, principal: PooledRead) -> dict[str, Any]:
    """Each figure the councils that consent to pan stored from their SSDA903 and CIN census (and those worked out
    from them), the region's (counts added, rates as the ratio of sums) and England's published figure, small
    numbers withheld as the catalogue's rules say."""
    region_reader(session, principal, region, officer=False)
    figures, left = regional_figures(request.app.state.engine, region)
    annotate(
        request, object=f"figures of {region}", detail=f"{len(figures)} figures; {len(left)} council file(s) left out"
    )
    return {
        "region": region,
        "left_out": left,
        "items": [
            {
                "indicator": f.indicator,
                "period": f.period,
                "region": _part(f.region),
                "england": f.england,
                "councils": [_part(p) for p in f.councils],
                "small_numbers": f.rule,
            }
            for f in figures
        ],
    }


def _part(part: Part) -> dict[str, Any]:
    return {
        "council": part.council,
        "value": part.value,
        "numerator": part.numerator,
        "denominator": part.denominator,
        "symbol": part.symbol,
    }
