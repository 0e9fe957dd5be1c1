"""Officers' comparator groups over the API: list, read, create, rename or change, delete (officers only).

Each change is audited at the door in the request's own transaction, as every call is (``api.callrecord``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.auth import OfficerOnly
from api.callrecord import annotate
from api.deps import SessionDep
from mappings.comparison import kept_groups as groups
from mappings.comparison.kept_groups import GroupChange, GroupInput, GroupPublic

router = APIRouter(prefix="/api/groups", tags=["comparison"])
OFFICER_ONLY: dict[int | str, dict[str, Any]] = {
    401: {"description": "No key, or a key not known or revoked"},
    403: {"description": "Not an officer's key"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {**OFFICER_ONLY, 404: {"description": "No such group"}}
INVALID: dict[int | str, dict[str, Any]] = {422: {"description": "Not valid; member codes the geography lacks named"}}


@router.get("", summary="List officers' comparator groups", response_model=list[GroupPublic], responses=OFFICER_ONLY)
def list_groups(session: SessionDep, _principal: OfficerOnly) -> list[GroupPublic]:
    """Every comparator group officers keep (``group=<id>`` in the comparison), by title."""
    return groups.public_groups(session)


@router.get("/{group_id}", summary="One comparator group", response_model=GroupPublic, responses=NOT_FOUND)
def read_group(group_id: str, session: SessionDep, _principal: OfficerOnly) -> GroupPublic:
    """One group with its members' names."""
    return groups.public(session, groups.get_group(session, group_id))


@router.post(
    "",
    summary="Add a comparator group",
    status_code=201,
    response_model=GroupPublic,
    responses={**OFFICER_ONLY, **INVALID, 409: {"description": "The id is in use"}},
)
def create_group(request: Request, body: GroupInput, session: SessionDep, _principal: OfficerOnly) -> GroupPublic:
    """Add a group of councils by GSS code; every code is checked against the geography."""
    annotate(request, object=f"group {body.id}", detail=f"{len(body.members)} members")
    return groups.public(session, groups.create_group(session, body))


@router.patch(
    "/{group_id}",
    summary="Rename or change a comparator group",
    response_model=GroupPublic,
    responses={**NOT_FOUND, **INVALID},
)
def update_group(
    request: Request, group_id: str, body: GroupChange, session: SessionDep, _principal: OfficerOnly
) -> GroupPublic:
    """Change the fields given: a new title renames it, new members replace its members (checked)."""
    annotate(request, object=f"group {group_id}", detail=", ".join(sorted(body.model_dump(exclude_none=True))))
    return groups.public(session, groups.update_group(session, group_id, body))


@router.delete("/{group_id}", summary="Delete a comparator group", status_code=204, responses=NOT_FOUND)
def delete_group(request: Request, group_id: str, session: SessionDep, _principal: OfficerOnly) -> Response:
    """Delete a group: it leaves every list and comparison (a seeded one is not loaded again)."""
    annotate(request, object=f"group {group_id}")
    groups.delete_group(session, group_id)
    return Response(status_code=204)
