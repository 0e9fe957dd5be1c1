"""The officer's comparator groups page: the group service the API calls, behind the same checks and audit actions.

Each form posts with the session's CSRF token; every page route is named after the API route it calls, so a change
made here is audited under the same action (``group.create``, ``group.update``, ``group.delete``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.callrecord import annotate
from api.deps import SessionDep
from api.web.render import Visitor, page
from api.web.shared import OFFICER_ONLY, PageRoute, VisitorDep, allowed, check_csrf
from mappings.comparison import kept_groups as groups
from mappings.comparison.kept_groups import GroupChange, GroupInput
from onereturn.errors import InvalidInput

router = APIRouter(route_class=PageRoute, include_in_schema=False)

GROUPS = "/officer/groups"
#: How each form field is named in an error summary.
LABELS = {"id": "Id", "title": "Name", "source": "Who chose the councils, and why", "members": "Councils"}


@dataclass(frozen=True)
class GroupFields:
    """The fields both group forms post: the name, who chose the councils and why, the councils, the CSRF token."""

    title: str
    source: str
    members: str
    csrf_token: str


def _group_fields(
    title: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    members: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> GroupFields:
    return GroupFields(title, source, members, csrf_token)


FormFields = Annotated[GroupFields, Depends(_group_fields)]


def _members(text: str) -> list[str]:
    """GSS codes from a text box: one a line, or separated by commas or spaces."""
    return [c for c in text.replace(",", " ").split() if c]


def _errors(exc: ValidationError | InvalidInput) -> dict[str, str]:
    """Each problem by the form field it belongs to."""
    if isinstance(exc, InvalidInput):
        field = "members" if "member code" in exc.message else "id"
        return {field: exc.message}
    out: dict[str, str] = {}
    for e in exc.errors(include_url=False):
        field = str(e["loc"][0]) if e["loc"] else "id"
        out.setdefault(field if field in LABELS else "id", f"{LABELS.get(field, field)}: {e['msg']}")
    return out


def _render(
    request: Request,
    session: SessionDep,
    visitor: Visitor,
    *,
    group_id: str | None = None,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
    done: str = "",
) -> HTMLResponse:
    listing = groups.public_groups(session)
    group = groups.public(session, groups.get_group(session, group_id)) if group_id else None
    title = f"Group: {group.title}" if group else "Comparator groups"
    return page(
        request,
        "officer/groups.html",
        visitor,
        title=("Error: " if errors else "") + title,
        status_code=status_code,
        listing=listing,
        group=group,
        errors=errors or {},
        form=form or {},
        done=done,
    )


@router.get(GROUPS)
def groups_page(request: Request, session: SessionDep, visitor: VisitorDep, done: str = "") -> HTMLResponse:
    """Every group officers keep, and a form to add one."""
    allowed(visitor, OFFICER_ONLY)
    return _render(request, session, visitor, done=done[:80])


@router.post(GROUPS, name="create_group")
def create_group(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    fields: FormFields,
    id: Annotated[str, Form()] = "",
) -> Response:
    """Add a group; its councils are checked against the geography."""
    check_csrf(visitor, fields.csrf_token)
    allowed(visitor, OFFICER_ONLY)
    title, source, members = fields.title, fields.source, fields.members
    form = {"id": id, "title": title, "source": source, "members": members}
    try:
        body = GroupInput(id=id, title=title, source=source, members=_members(members))
        annotate(request, object=f"group {body.id}", detail=f"{len(body.members)} members")
        groups.create_group(session, body)
    except (ValidationError, InvalidInput) as exc:
        if isinstance(exc, InvalidInput):
            request.state.page_error = exc
        return _render(request, session, visitor, errors=_errors(exc), form=form, status_code=400)
    return RedirectResponse(f"{GROUPS}/{body.id}?done=added", status_code=303)


@router.get(GROUPS + "/{group_id}")
def group_page(request: Request, session: SessionDep, visitor: VisitorDep, group_id: str, done: str = "") -> Response:
    """One group: rename it, change its councils, or delete it."""
    allowed(visitor, OFFICER_ONLY)
    return _render(request, session, visitor, group_id=group_id, done=done[:80])


@router.post(GROUPS + "/{group_id}", name="update_group")
def update_group(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    group_id: str,
    fields: FormFields,
) -> Response:
    """Rename a group or change its councils."""
    check_csrf(visitor, fields.csrf_token)
    allowed(visitor, OFFICER_ONLY)
    title, source, members = fields.title, fields.source, fields.members
    form = {"title": title, "source": source, "members": members}
    try:
        body = GroupChange(title=title, source=source, members=_members(members))
        annotate(request, object=f"group {group_id}", detail=", ".join(sorted(body.model_dump(exclude_none=True))))
        groups.update_group(session, group_id, body)
    except (ValidationError, InvalidInput) as exc:
        if isinstance(exc, InvalidInput):
            request.state.page_error = exc
        return _render(request, session, visitor, group_id=group_id, errors=_errors(exc), form=form, status_code=400)
    return RedirectResponse(f"{GROUPS}/{group_id}?done=changed", status_code=303)


@router.post(GROUPS + "/{group_id}/delete", name="delete_group")
def delete_group(
    request: Request, session: SessionDep, visitor: VisitorDep, group_id: str, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Delete a group: it leaves every list and comparison."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, OFFICER_ONLY)
    annotate(request, object=f"group {group_id}")
    groups.delete_group(session, group_id)
    return RedirectResponse(f"{GROUPS}?done=deleted", status_code=303)
