"""Browse the canonical catalogue: indicators, code lists and returns."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from api.deps import SessionDep
from api.paging import Limit, Offset, Page, page, page_of
from api.params import SEARCH_CHARS
from indicators import service as indicators
from indicators.schemas import CodeListPublic, IndicatorDetail, IndicatorPublic, RulePublic
from mappings import service as mappings
from mappings.schemas import ReturnDetail, ReturnPublic

router = APIRouter(prefix="/api", tags=["catalogue"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Not in the catalogue"}}

StatisticFilter = Literal["count", "percentage", "rate", "mean", "score", "duration", "judgement", "gap"]


@router.get(
    "/indicators",
    summary="List indicators",
    response_model=Page[IndicatorPublic],
    responses={404: {"description": "The return named is not defined"}},
)
def list_indicators(
    request: Request,
    session: SessionDep,
    q: Annotated[str | None, Query(description="Text in the id, title or definition", max_length=SEARCH_CHARS)] = None,
    statistic: StatisticFilter | None = None,
    return_id: Annotated[str | None, Query(alias="return", description="Only indicators this return asks for")] = None,
    status: Literal["active", "legacy", "abolished"] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[IndicatorPublic]:
    """List catalogue indicators, filtered by text, statistic, return or status."""
    items, total = mappings.indicator_page(
        session, text=q, statistic=statistic, return_id=return_id, status=status, limit=limit, offset=offset
    )
    return page(request, items, total=total, limit=limit, offset=offset)


@router.get("/indicators/{indicator_id}", summary="One indicator", response_model=IndicatorDetail, responses=NOT_FOUND)
def get_indicator(indicator_id: str, session: SessionDep) -> IndicatorDetail:
    """Show one indicator with the returns that use it and its code lists."""
    return mappings.indicator_detail(session, indicator_id)


@router.get("/codelists", summary="List code lists", response_model=Page[CodeListPublic])
def list_codelists(
    request: Request, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> Page[CodeListPublic]:
    """List every code list with its codes."""
    return page_of(request, indicators.get_codelists(session), limit=limit, offset=offset)


@router.get("/rules", summary="List plausibility rules", response_model=Page[RulePublic])
def list_rules(
    request: Request,
    session: SessionDep,
    indicator: Annotated[str | None, Query(description="Only rules that read this indicator")] = None,
    severity: Literal["error", "query", "information"] | None = None,
    kind: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[RulePublic]:
    """List the catalogue's plausibility rules: id, kind, severity, message and the indicators each checks."""
    rows = indicators.list_rules(session, indicator=indicator, severity=severity, kind=kind)
    return page_of(request, rows, limit=limit, offset=offset)


@router.get("/returns", summary="List returns", response_model=Page[ReturnPublic])
def list_returns(request: Request, session: SessionDep, limit: Limit = 100, offset: Offset = 0) -> Page[ReturnPublic]:
    """List every return with its recipient, level, period type and number of fields."""
    return page_of(request, mappings.list_returns(session), limit=limit, offset=offset)


@router.get("/returns/{return_id}", summary="One return", response_model=ReturnDetail, responses=NOT_FOUND)
def get_return(return_id: str, session: SessionDep) -> ReturnDetail:
    """Show one return with each field and the indicator it maps onto."""
    return mappings.get_return(session, return_id)
