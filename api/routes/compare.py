"""Compare a council's figure with its statistical neighbours, region and England (JSON and a workbook)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.auth import FiguresRead
from api.deps import SessionDep
from api.params import PeriodText
from api.scopes import read_scope
from exports.burden.comparison_workbook import write_comparisons
from mappings.comparison.assembly import cached_comparison, council_name, flags_for
from mappings.comparison.service import as_json
from mappings.signoff.lineage import store_key

router = APIRouter(prefix="/api", tags=["compare"])

Indicator = Annotated[str, Query(description="A catalogue indicator id", min_length=1, max_length=128)]
Org = Annotated[str, Query(description="The council's GSS code", min_length=1, max_length=32)]
Period = Annotated[
    PeriodText, Query(description="The period, as the indicator's figures are stored", min_length=1, max_length=16)
]
Group = Annotated[
    str, Query(description="statistical_neighbours (DfE's), or an officer-defined group's id", max_length=64)
]

#: What a comparison answers 404 for.
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such indicator, organisation or comparator group"},
    422: {"description": "A malformed indicator, org, group or period, or a period with no figure to compare"},
}


@router.get("/compare", summary="A council's figure beside its neighbours, region and England", responses=NOT_FOUND)
def compare(
    session: SessionDep,
    principal: FiguresRead,
    indicator: Indicator,
    org: Org,
    period: Period,
    group: Group = "statistical_neighbours",
) -> dict[str, Any]:
    """Compare one indicator, period and council: ranks, neighbours' mean, quartile, trend, intervals and England.

    An agency sees its own figures and the published figures of every other body, never another body's
    figure not yet published; an officer sees every figure. A figure not yet published is marked so.
    """
    agency = read_scope(principal).agency
    return as_json(
        cached_comparison(session, indicator, org, period, state=store_key(session), agency=agency, group=group)
    )


@router.get("/compare/flags", summary="Where to look: the council's indicators that stand out", responses=NOT_FOUND)
def flags(session: SessionDep, principal: FiguresRead, org: Org) -> dict[str, Any]:
    """Every indicator (rates worked out from their terms included) where the council is in the bottom quartile
    or differs from England beyond chance, at its latest period, with the comparison's words for why."""
    agency = read_scope(principal).agency
    state = store_key(session)
    name = council_name(session, org, state=state)
    found = flags_for(session, org, agency, state=state)
    return {
        "org": {"code": org, "name": name},
        "flags": [
            {
                "indicator": f["indicator"],
                "title": f["title"],
                "period": f["period"],
                "value": f["c"].own.value,
                "quartile": f["c"].quartile,
                "quartile_words": f["c"].quartile_words,
                "quartile_rule": f["c"].quartile_end,
                "bottom_quartile": f["c"].bottom_quartile,
                "against_england": f["c"].own.outcome,
                "method": f["c"].method,
            }
            for f in found
        ],
    }


@router.get(
    "/compare.xlsx",
    summary="A workbook of comparisons, one sheet per indicator",
    response_class=Response,
    responses={
        200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}},
        **NOT_FOUND,
    },
)
def compare_workbook(
    session: SessionDep,
    principal: FiguresRead,
    org: Org,
    period: Period,
    indicator: Annotated[
        list[str], Query(description="Catalogue indicator ids, one sheet each", min_length=1, max_length=200)
    ],
    group: Group = "statistical_neighbours",
) -> Response:
    """Download the comparisons of a set of indicators for one council and period as one workbook."""
    agency = read_scope(principal).agency
    state = store_key(session)
    comparisons = [
        cached_comparison(session, i, org, period, state=state, agency=agency, group=group, strict_period=False)
        for i in dict.fromkeys(indicator)
    ]
    data = write_comparisons(comparisons)
    name = f"compare_{org}_{period}.xlsx".replace("/", "-")
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
