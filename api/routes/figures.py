"""Figures (``/api/figures``): the stored figures with their provenance, or officers' roll-ups to a level."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from api.auth import FiguresRead
from api.deps import SessionDep
from api.paging import Offset, page, page_of
from api.params import IsoDatetime, PeriodText
from api.scopes import ReadScope, read_scope
from collectors import answers
from mappings.levels import figures_at_level
from onereturn.errors import Forbidden, InvalidInput

router = APIRouter(prefix="/api", tags=["collection"])


@router.get(
    "/figures",
    summary="Stored and rolled-up figures",
    responses={404: {"description": "Another agency (with an agency key)"}},
)
def figures(
    request: Request,
    session: SessionDep,
    principal: FiguresRead,
    indicator: str | None = None,
    org: str | None = None,
    period: Annotated[
        PeriodText | None, Query(description="Any spelling of a period, e.g. FY2024-25, 2024/25, 2024-06")
    ] = None,
    breakdown: str | None = None,
    agency: Annotated[str | None, Query(description="Only figures this agency uploaded")] = None,
    history: Annotated[bool, Query(description="Every version, not only the current one")] = False,
    level: Annotated[
        str | None,
        Query(
            description="Roll up to this level (region, nuts2, health_area, england ...); needs indicator and period"
        ),
    ] = None,
    updated_after: Annotated[
        IsoDatetime | None, Query(description="Only figures recorded after this instant (ISO 8601; UTC if no zone)")
    ] = None,
    as_of: Annotated[
        IsoDatetime | None, Query(description="The figures as they stood at this instant (the versions current then)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 100,
    offset: Offset = 0,
) -> Any:
    """List stored figures with their provenance (an agency sees only its own uploads), or (officers, with ``level``) roll-ups."""
    scope = read_scope(principal)
    if level is not None:
        indicator, period = _rollup_asked(scope, agency, indicator, period, stored_only=(updated_after, as_of))
        canonical, rolled = figures_at_level(session, indicator, period, level, org)
        listed = page_of(request, rolled, limit=limit, offset=offset).model_dump()
        return {"indicator": indicator, "period": canonical, "level": level, **listed}
    if agency is not None:
        scope.check_agency(agency)
    data, total = answers.figures(
        session,
        indicator=indicator,
        org=org,
        period=period,
        breakdown=breakdown,
        history=history,
        agency=scope.agency or agency,
        updated_after=updated_after,
        as_of=as_of,
        limit=limit,
        offset=offset,
    )
    return page(request, data, total=total, limit=limit, offset=offset)


def _rollup_asked(
    scope: ReadScope, agency: str | None, indicator: str | None, period: str | None, *, stored_only: tuple[Any, Any]
) -> tuple[str, str]:
    """Refuse a roll-up asked by an agency or with an argument that applies to stored figures only."""
    if scope.agency is not None:
        raise Forbidden("Roll-ups across areas read other bodies' figures; they are for officers")
    if agency is not None:
        raise InvalidInput("A roll-up combines every agency's figures; drop agency or level")
    if not indicator or not period:
        raise InvalidInput("A roll-up needs indicator and period as well as level")
    if any(given is not None for given in stored_only):
        raise InvalidInput(
            "Roll-ups are made from the current figures; updated_after and as_of apply to stored figures"
        )
    return indicator, period
