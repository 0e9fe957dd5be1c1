"""Compare a council's figure with its statistical neighbours, region and England (JSON and a workbook)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Query, Response
from sqlmodel import Session

from api.auth import FiguresRead
from api.deps import SessionDep
from api.scopes import read_scope
from exports.compare_xlsx import write_comparisons
from exports.release import store_key
from indicators.published_query import published_figures
from mappings.compare import (
    Comparison,
    Figure,
    Geo,
    as_json,
    comparison_for,
    geography,
    load_figures,
    periods_of,
    with_published,
)
from mappings.groups import group_mark
from onereturn.errors import NotFound

router = APIRouter(prefix="/api", tags=["compare"])

Indicator = Annotated[str, Query(description="A catalogue indicator id", min_length=1, max_length=128)]
Org = Annotated[str, Query(description="The council's GSS code", min_length=1, max_length=32)]
Period = Annotated[
    str, Query(description="The period, as the indicator's figures are stored", min_length=1, max_length=16)
]
Group = Annotated[
    str, Query(description="statistical_neighbours (DfE's), or an officer-defined group's id", max_length=64)
]

#: Comparisons by what they depend on: the store's state, who reads (an agency sees less) and what was asked;
#: beside them what every comparison of the same state reads, the geography and an indicator's figures.
_CACHE: OrderedDict[tuple[Any, ...], Comparison] = OrderedDict()
_FIGURES: OrderedDict[tuple[Any, ...], dict[str, dict[str, Figure]]] = OrderedDict()
_GEO: OrderedDict[tuple[Any, ...], Geo] = OrderedDict()
_KEPT = 1024
_lock = threading.Lock()


def _kept(cache: OrderedDict[tuple[Any, ...], Any], key: tuple[Any, ...], make: Callable[[], Any], most: int) -> Any:
    with _lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    value = make()
    with _lock:
        cache[key] = value
        while len(cache) > most:
            cache.popitem(last=False)
    return value


def _figures(session: Session, indicator: str, agency: str | None) -> dict[str, dict[str, Figure]]:
    """The indicator's figures a reader sees, with the publishers' figures kept beside a body's own (every
    reader may see a published figure) standing in where the reader sees no figure of the cell."""
    published = published_figures(session, indicator_ids=[indicator]).filter(pl.col("breakdown") == "")
    periods = set(periods_of(session, indicator)) | set(published["period"].to_list())
    rows = published.select("period", "org_code", "value", "symbol", "numerator", "denominator").iter_rows()
    return with_published(load_figures(session, indicator, sorted(periods), agency=agency), rows)


def cached_comparison(
    session: Session, indicator: str, org: str, period: str, *, agency: str | None, group: str
) -> Comparison:
    """One comparison, built once until the store changes; NotFound names an unknown indicator or group."""
    state = store_key(session)

    def build() -> Comparison:
        try:
            history = _kept(
                _FIGURES,
                (state, agency, indicator),
                lambda: _figures(session, indicator, agency),
                64,
            )
            geo = _kept(_GEO, state, lambda: geography(session), 4)
            return comparison_for(
                session, indicator, org, period, agency=agency, group_id=group, history=history, geo=geo
            )
        except KeyError as exc:
            raise NotFound(str(exc.args[0])) from None

    # An officer's group changed (renamed, members changed) is a new key: its kept comparisons are not reused.
    mark = group_mark(session, group)
    result: Comparison = _kept(_CACHE, (state, agency, indicator, org, period, group, mark), build, _KEPT)
    return result


def clear_caches() -> None:
    """Forget every kept comparison, figure and geography (a benchmark's cold start)."""
    with _lock:
        for cache in (_CACHE, _FIGURES, _GEO):
            cache.clear()


#: What a comparison answers 404 for.
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such indicator, organisation or comparator group"}
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
    return as_json(cached_comparison(session, indicator, org, period, agency=agency, group=group))


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
    comparisons = [
        cached_comparison(session, i, org, period, agency=agency, group=group) for i in dict.fromkeys(indicator)
    ]
    data = write_comparisons(comparisons)
    name = f"compare_{org}_{period}.xlsx".replace("/", "-")
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
