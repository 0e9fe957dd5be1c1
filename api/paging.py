"""One envelope for every list the API returns: the items, how many match in all, and links to the next and previous pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query, Request
from pydantic import BaseModel

T = TypeVar("T")

#: Query parameters every list route takes.
Limit = Annotated[int, Query(ge=1, le=1000, description="Most items in one page")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip")]


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next: str | None
    prev: str | None


def _link(request: Request, limit: int, offset: int) -> str:
    url = request.url.include_query_params(limit=limit, offset=offset)
    return f"{url.path}?{url.query}"


def page(request: Request, items: Sequence[T], *, total: int, limit: int, offset: int) -> Page[T]:
    """Wrap one page of items (already limited and offset) with the total and links to the pages either side."""
    after = offset + len(items)
    return Page[T](
        items=list(items),
        total=total,
        limit=limit,
        offset=offset,
        next=_link(request, limit, after) if after < total else None,
        prev=_link(request, limit, max(offset - limit, 0)) if offset > 0 else None,
    )


def page_of(request: Request, everything: Sequence[T], *, limit: int, offset: int) -> Page[T]:
    """Cut one page out of a whole list held in memory, and wrap it."""
    return page(request, everything[offset : offset + limit], total=len(everything), limit=limit, offset=offset)
