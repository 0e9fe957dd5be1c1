"""The officer's page of published figures: the publishers' data sets declared, the releases read, an upload of a
publisher's file unchanged, and each cell where a body's own figure and the publisher's differ."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from api.deps import SessionDep
from api.published_upload import MAX_PUBLISHED_FILE, ReleaseTooLarge, store_upload
from api.web.render import Visitor, page
from api.web.shared import OFFICER_ONLY, PageRoute, VisitorDep, allowed, check_csrf
from collectors.published.intake import confirm_held, confirm_release_held
from collectors.published.sources import load_sources
from indicators.published import PublishedRelease
from indicators.published_query import differences, held_published
from onereturn.errors import InvalidInput

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _page(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    done: str = "",
    offset: int = 0,
) -> HTMLResponse:
    sources = list(load_sources().sources.values())
    releases = list(
        session.execute(select(PublishedRelease).order_by(col(PublishedRelease.id).desc()).limit(50)).scalars()
    )
    found, total = differences(session, limit=200, offset=max(offset, 0))
    held, _ = held_published(session, limit=200)
    return page(
        request,
        "officer/published.html",
        visitor,
        title=("Error: " if errors else "") + "Published figures",
        sources=sources,
        releases=releases,
        differences=found,
        held=held,
        total=total,
        errors=errors or {},
        done=done,
        offset=max(offset, 0),
        status_code=status_code,
        current="/officer/published",
    )


@router.get("/officer/published")
def published(
    request: Request, session: SessionDep, visitor: VisitorDep, offset: int = 0, done: str = ""
) -> HTMLResponse:
    """The publishers' data sets, the releases read and where a body's own figure differs from the publisher's."""
    allowed(visitor, OFFICER_ONLY)
    return _page(request, session, visitor, done=done, offset=offset)


@router.post("/officer/published")
def upload(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    source: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Read a publisher's file, uploaded unchanged, as a release of the chosen source."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, OFFICER_ONLY)
    spec = load_sources().sources.get(source)
    errors: dict[str, str] = {}
    if spec is None:
        errors["source"] = "Choose the publisher's data set the file is a release of"
    if file is None or not file.filename:
        errors["file"] = "Select the publisher's file, as downloaded"
    if errors:
        return _page(request, session, visitor, errors=errors, status_code=400)
    assert spec is not None
    assert file is not None
    try:
        got = store_upload(request, visitor.principal, spec, file)
    except ReleaseTooLarge:
        too_large = {"file": f"The file is over {MAX_PUBLISHED_FILE:,} bytes"}
        return _page(request, session, visitor, errors=too_large, status_code=400)
    except InvalidInput as exc:
        return _page(request, session, visitor, errors={"file": exc.message}, status_code=exc.status_code)
    said: Any = "unchanged" if got.duplicate else got.release.id
    return RedirectResponse(f"/officer/published?done={said}", status_code=303)


def _noted(
    note: Annotated[str, Form(max_length=2000)] = "", csrf_token: Annotated[str, Form()] = ""
) -> tuple[str, str]:
    return note, csrf_token


#: A confirmation form's fields: the officer's note and the CSRF token.
Noted = Annotated[tuple[str, str], Depends(_noted)]


@router.post("/officer/published/queries/{held_id}")
def confirm(request: Request, session: SessionDep, visitor: VisitorDep, held_id: int, noted: Noted) -> Response:
    """Confirm a publisher's figure a query held, with the officer's note."""

    def held(note: str) -> object:
        return confirm_held(session, held_id, note=note, confirmed_by=visitor.principal.name)

    return _confirmed(request, session, visitor, noted, held, field=f"note-{held_id}", done="confirmed")


@router.post("/officer/published/releases/{release_id}/queries")
def confirm_release(
    request: Request, session: SessionDep, visitor: VisitorDep, release_id: int, noted: Noted
) -> Response:
    """Confirm every figure a query still holds from one release, with one note."""

    def release_held(note: str) -> object:
        return confirm_release_held(session, release_id, note=note, confirmed_by=visitor.principal.name)

    return _confirmed(
        request, session, visitor, noted, release_held, field=f"release-note-{release_id}", done="confirmed-all"
    )


def _confirmed(
    request: Request,
    session: Session,
    visitor: Visitor,
    noted: tuple[str, str],
    confirm: Callable[[str], object],
    *,
    field: str,
    done: str,
) -> Response:
    """An officer's confirmation of held figures with the note, committed; its refusal shown beside the note's field."""
    note, csrf_token = noted
    check_csrf(visitor, csrf_token)
    allowed(visitor, OFFICER_ONLY)
    try:
        confirm(note)
    except InvalidInput as exc:
        session.rollback()
        return _page(request, session, visitor, errors={field: exc.message}, status_code=exc.status_code)
    session.commit()
    return RedirectResponse(f"/officer/published?done={done}#held", status_code=303)
