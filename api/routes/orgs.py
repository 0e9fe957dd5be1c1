"""Browse the geography: org units, their hierarchy and crosswalks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.deps import SessionDep
from api.paging import Limit, Offset, Page, page
from api.params import SEARCH_CHARS, IsoDate
from mappings import service as mappings
from mappings.catalogue import LEVEL_GROUPS, ORG_TYPES
from mappings.schemas import OrgUnitDetail, OrgUnitPublic

router = APIRouter(prefix="/api", tags=["geography"])


@router.get("/orgs", summary="List org units", response_model=Page[OrgUnitPublic])
def list_orgs(
    request: Request,
    session: SessionDep,
    type: Annotated[
        str | None, Query(description=f"An org type or group: {', '.join((*ORG_TYPES, *LEVEL_GROUPS))}")
    ] = None,
    parent: Annotated[str | None, Query(description="Only direct children of this code")] = None,
    q: Annotated[str | None, Query(description="Text in the name or code", max_length=SEARCH_CHARS)] = None,
    on: Annotated[IsoDate | None, Query(description="Only units (and parent links) valid on this date")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[OrgUnitPublic]:
    """List org units, filtered by type, parent, text and date."""
    if type is not None and type not in ORG_TYPES and type not in LEVEL_GROUPS:
        from onereturn.errors import InvalidInput

        raise InvalidInput(
            f"Unknown org type {type!r}; expected one of {', '.join((*ORG_TYPES, *LEVEL_GROUPS))}",
            errors=[{"type": "enum", "loc": ["query", "type"], "msg": "Unknown org type", "input": type}],
        )
    rows, total = mappings.list_org_units(session, type=type, parent=parent, text=q, on=on, limit=limit, offset=offset)
    return page(request, [OrgUnitPublic.model_validate(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get(
    "/orgs/{code}",
    summary="One org unit",
    response_model=OrgUnitDetail,
    responses={404: {"description": "Unknown code"}},
)
def get_org(code: str, session: SessionDep) -> OrgUnitDetail:
    """Show one org unit with its parents, children and weighted crosswalk links."""
    return mappings.get_org_unit(session, code)
