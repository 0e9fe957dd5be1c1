"""What every page shares: who is signed in, CSRF checks, and errors shown as pages rather than JSON."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import BackgroundTasks, Depends, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api import callrecord as trail
from api import uploading
from api.auth import check, principal_of_key
from api.capacity import UploadSlot
from api.deps import SessionDep
from api.params import bounded_window
from api.scopes import Resource, read_scope
from api.web.render import Visitor, page
from api.web.sessions import csrf_ok, find_session
from indicators.models import Indicator
from indicators.periods import parse_period, read_collection_year
from mappings.calendar_view import Status, calendar_rows
from mappings.keys import APPROVER_SCOPE
from mappings.signoff.schemas import ChangePublic
from onereturn import clock
from onereturn.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    OneReturnError,
    ServiceBusy,
    TooManyRequests,
    Unauthorized,
)

SESSION_COOKIE = "onereturn_session"
#: The pages show the calendar's entries as the API's first page of them, at its longest.
CALENDAR_PAGE = 1000


class SignInNeeded(Exception):
    """The page needs a signed-in visitor; send the browser to the sign-in page."""


class BadForm(Exception):
    """A form came back without its CSRF token (or with another session's)."""

    status_code = 400


def visitor_of(request: Request, session: Session) -> Visitor | None:
    """Find the signed-in visitor of a request, or None."""
    token = request.cookies.get(SESSION_COOKIE)
    row = find_session(session, token)
    if row is None or token is None:
        return None
    try:
        principal = principal_of_key(session, row.key_id)
    except Unauthorized:
        session.delete(row)
        return None
    return Visitor(principal, row, token)


def _visitor(request: Request, session: SessionDep) -> Iterator[Visitor]:
    """The signed-in visitor; the page is audited as the API's calls are (in the request's transaction)."""
    visitor = visitor_of(request, session)
    if visitor is None:
        raise SignInNeeded
    request.state.principal = visitor.principal
    request.state.visitor = visitor
    try:
        yield visitor
    except Exception as exc:
        trail.record_failure(request, session, visitor.principal, exc)
        raise
    # PageRoute turns a refusal into an error page before this runs, and leaves the error here.
    failed = getattr(request.state, "page_error", None)
    if failed is not None:
        trail.record_failure(request, session, visitor.principal, failed)
    else:
        trail.record_success(request, session, visitor.principal)


#: Ended with the route function, as the session it uses is (api.deps): the page's audit event is committed with it.
VisitorDep = Annotated[Visitor, Depends(_visitor, scope="function")]


#: The rules the API's routes admit their callers by (api/auth.py), for the pages calling those routes:
#: scopes, kinds of key, and the resource the read scope (api/scopes.py) must allow.
Rule = tuple[set[str], set[str] | None, Resource | None]
SUBMIT: Rule = ({"figures:submit"}, {"agency", "officer"}, None)
SUBMISSIONS: Rule = ({"submissions:read"}, None, "submissions")
FIGURES: Rule = ({"figures:read"}, None, "figures")
RETURNS: Rule = ({"returns:read"}, None, "returns")
TEMPLATES: Rule = ({"submissions:read"}, None, "templates")
CALENDAR: Rule = ({"submissions:read"}, None, "calendar")
OUTBOX: Rule = ({"submissions:read"}, None, "outbox")
BURDEN: Rule = ({"returns:read"}, None, "burden")
OFFICER_ONLY: Rule = (set(), {"officer"}, None)
#: An agency's own sign-off page (the API's review of what signing off releases).
SIGNOFF_READ: Rule = (set(), {"agency"}, "signoffs")
#: Signing off: an agency key with the approver's scope (the API's sign-off route).
SIGN_OFF: Rule = ({APPROVER_SCOPE}, {"agency"}, None)
#: The review of one agency's sign-off (the API's: the officer, and the agency itself).
SIGNOFF_REVIEW: Rule = (set(), {"officer", "agency"}, "signoffs")
#: The officer's approvals queue, accepting and sending back (the API's accept and send-back routes: officers only).
APPROVALS: Rule = (set(), {"officer"}, "signoffs")

#: What the upload form offers to do with a file of figures.
UPLOAD_MODES = {
    "default": "Store the rows that are right, and tell me about the others",
    "atomic": "Store nothing unless every row is right",
    "dry_run": "Only check the file; store nothing",
}


def allowed(visitor: Visitor, rule: Rule) -> Visitor:
    """Let a visitor through only if the API would let their key through the same rule (the same function)."""
    scopes, kinds, reads = rule
    check(visitor.principal, scopes, kinds, reads=reads)
    return visitor


def check_csrf(visitor: Visitor, posted: str | None) -> None:
    """Refuse a form whose CSRF token is not the session's."""
    if not csrf_ok(visitor.web, posted):
        raise BadForm


@dataclass(frozen=True)
class RecordsForm:
    """A page's form of record-level files, its CSRF token checked and an upload slot held: the files chosen, the
    collection year typed, and the page's background tasks (the upload's, when no upload pool runs)."""

    files: list[UploadFile]
    collection_year: str
    background: BackgroundTasks


def _records_sent(
    visitor: VisitorDep,
    background: BackgroundTasks,
    _slot: UploadSlot,
    files: Annotated[list[UploadFile] | None, File()] = None,
    collection_year: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> RecordsForm:
    """The form every page sending record-level files posts, once its CSRF token is checked."""
    check_csrf(visitor, csrf_token)
    # A file input left empty still sends one part, with no name.
    return RecordsForm([f for f in files or [] if f.filename], collection_year, background)


RecordsSent = Annotated[RecordsForm, Depends(_records_sent)]

_STATUS = {NotFound: 404, Forbidden: 403, InvalidInput: 400, Unauthorized: 401}


def _error_page(request: Request, visitor: Visitor | None, exc: Exception) -> HTMLResponse:
    if isinstance(exc, BadForm):
        return page(
            request,
            "error.html",
            visitor,
            title="The form has expired",
            status_code=400,
            heading="The form has expired",
            message="For your security the form could not be sent. Go back, refresh the page and try again.",
        )
    assert isinstance(exc, OneReturnError)
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), exc.status_code)
    if status == 404:
        return page(
            request,
            "error.html",
            visitor,
            title="Page not found",
            status_code=404,
            heading="Page not found",
            message="If you typed the web address, check it is correct. You can only see your own submissions and figures.",
        )
    if status == 403:
        return page(
            request,
            "error.html",
            visitor,
            title="You cannot see this page",
            status_code=403,
            heading="You cannot see this page",
            message=exc.message,
        )
    return page(
        request,
        "error.html",
        visitor,
        title="There is a problem",
        status_code=status,
        heading="There is a problem",
        message=exc.message,
    )


def unavailable_page(request: Request, retry_after: str) -> HTMLResponse:
    """The page a browser gets when the database cannot be reached or is busy: 503, with when to try again."""
    response = page(
        request,
        "error.html",
        None,
        title="Sorry, the service is unavailable",
        status_code=503,
        heading="Sorry, the service is unavailable",
        message=f"The service cannot reach its records just now. Nothing you sent was lost: a change is saved whole or "
        f"not at all. Try again in {retry_after} seconds; if you sent a form, check whether it was saved before "
        "sending it again.",
    )
    response.headers["Retry-After"] = retry_after
    return response


def unavailable_page_for(request: Request, retry_after: str) -> HTMLResponse | None:
    """The unavailable page when the request was routed to a web page; None for the API's callers."""
    if not isinstance(request.scope.get("route"), PageRoute):
        return None
    return unavailable_page(request, retry_after)


class PageRoute(APIRoute):
    """A page route: sign-in redirects, CSRF failures and domain errors come back as HTML pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler so errors render as pages in the service layout."""
        handler = super().get_route_handler()

        async def wrapped(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInNeeded:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/sign-in?next={_quote(target)}", status_code=303)
            except RequestValidationError as exc:
                # A parameter the page cannot take (a period no type could read, a date outside the years served):
                # 400 naming it, as a page, not the API's JSON.
                invalid = _invalid_parameters(exc)
                request.state.page_error = invalid
                return _error_page(request, await _visitor_for_error(request), invalid)
            except (OneReturnError, BadForm) as exc:
                request.state.page_error = exc
                response = _error_page(request, await _visitor_for_error(request), exc)
                if isinstance(exc, ServiceBusy | TooManyRequests):
                    response.headers["Retry-After"] = str(exc.retry_after)
                return response

        return wrapped


def _invalid_parameters(exc: RequestValidationError) -> InvalidInput:
    """The parameters a page could not take, named, as one refusal."""
    said = [f"{e.get('loc', ['', '?'])[-1]}: {e.get('msg', '')}" for e in exc.errors()]
    return InvalidInput("; ".join(said[:5]) or "The request could not be read")


async def _visitor_for_error(request: Request) -> Visitor | None:
    """Who is signed in, for the navigation of an error page (even one refused before the page found out)."""
    visitor: Visitor | None = getattr(request.state, "visitor", None)
    if visitor is not None or SESSION_COOKIE not in request.cookies:
        return visitor

    def find() -> Visitor | None:
        try:
            with Session(request.app.state.engine) as own:
                return visitor_of(request, own)
        except SQLAlchemyError:  # the error page is drawn even when the store cannot say who is signed in
            return None

    return await run_in_threadpool(find)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def safe_next(target: str | None) -> str | None:
    """Keep a post-sign-in destination only if it is a path on this site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def collecting_now(entries: Iterable[dict[str, Any]], today: date) -> dict[str, dict[str, Any]]:
    """Each return's agency deadline for its latest period that has ended: the period being collected now."""
    out: dict[str, dict[str, Any]] = {}
    # A period still running cannot be reported yet, so its deadline is only upcoming.
    for entry in sorted(entries, key=lambda e: str(e["at"])):
        if entry["kind"] == "agency_deadline" and parse_period(entry["period"]).end < today:
            out[entry["return_id"]] = entry
    return out


def collecting(session: Session, visitor: Visitor, today: date) -> dict[str, dict[str, Any]]:
    """Each return's agency deadline for the period being collected now, with the agencies owing it and what each owes."""
    return collecting_now(
        calendar_items(session, visitor, today - timedelta(days=400), today + timedelta(days=400)), today
    )


def calendar_items(
    session: Session, visitor: Visitor, start: date, end: date, status: Status | None = None
) -> list[dict[str, Any]]:
    """The calendar's entries from ``start`` to ``end`` as the API's first page lists them for the visitor's key."""
    first, last = bounded_window(start, end)
    rows = calendar_rows(
        session, first=first, last=last, now=clock.now(), agency=read_scope(visitor.principal).agency, status=status
    )
    return rows[:CALENDAR_PAGE]


def due_next(entries: Iterable[dict[str, Any]], now: datetime) -> dict[str, dict[str, Any]]:
    """Each return's next agency deadline still to come after ``now`` (a passed one is overdue or done, not next)."""
    out: dict[str, dict[str, Any]] = {}
    for entry in sorted(entries, key=lambda e: datetime.fromisoformat(str(e["at"]))):
        if entry["kind"] == "agency_deadline" and datetime.fromisoformat(str(entry["at"])) > now:
            out.setdefault(entry["return_id"], entry)
    return out


def _value_words(value: str) -> str:
    """A digest line's value (``12.0 final``, ``[x] provisional``) as a person reads it: ``12``, ``x (provisional)``."""
    shown, _, status = value.partition(" ")
    if shown.startswith("["):
        words = shown.strip("[]") or "no value"
    else:
        number = float(shown)
        words = f"{number:,.0f}" if number.is_integer() else f"{number:,}"
    return words if status in ("", "final") else f"{words} ({status})"


def signoff_changes(session: Session, changed: list[ChangePublic]) -> list[dict[str, str]]:
    """The figures changed since the last sign-off, each as the indicator's title, organisation, breakdown and value."""
    words = {"added": "New or revised", "removed": "No longer given"}
    rows: list[dict[str, str]] = []
    for figure in changed:
        indicator = session.get(Indicator, figure.indicator_id)
        rows.append(
            {
                "change": words[figure.change],
                "indicator": indicator.title if indicator is not None else figure.indicator_id,
                "indicator_id": figure.indicator_id,
                "org_code": figure.org_code,
                "period": figure.period,
                "breakdown": figure.breakdown or "Total",
                "value": _value_words(figure.value),
            }
        )
    return rows


def api_upload(
    request: Request, session: Session, visitor: Visitor, background: BackgroundTasks, **fields: Any
) -> dict[str, Any]:
    """Send an upload page's form through the API's own upload route, as the signed-in key; the body it answers."""
    # The page runs in a request thread; the upload is received on the event loop, as the API's route receives it.
    # The page route holds the upload slot itself.
    result = anyio.from_thread.run(
        partial(uploading.receive, request, session, visitor.principal, background, **fields)
    )
    body: dict[str, Any] = json.loads(bytes(result.body))
    return body


def api_records_upload(
    request: Request,
    session: Session,
    visitor: Visitor,
    background: BackgroundTasks,
    files: list[UploadFile],
    collection_year: str,
) -> dict[str, Any]:
    """Send a page's record-level files for a collection year through the API's upload, as the signed-in key."""
    return api_upload(
        request,
        session,
        visitor,
        background,
        file=None,
        files=files,
        collection_year=collection_year,
        mode="default",
        agency=None,
        sheet=None,
    )


#: Who may send a council's children's records from its pages: the council's own key.
SEND_RECORDS: Rule = ({"figures:submit"}, {"agency"}, "submissions")


def send_records_form(
    request: Request, session: Session, visitor: Visitor, sent: RecordsSent, *, year_error: str, select: str
) -> tuple[str, str | None, dict[str, Any]]:
    """A council's records page's form sent through the API's upload, by the council's own key: its code, the year
    read (None where it is not one) and the answer's ``body``, or what the page shows of why not (its ``form_error``,
    or the upload's ``refusals``)."""
    allowed(visitor, SEND_RECORDS)
    code = visitor.principal.agency_code
    assert code is not None
    return (code, *_sent(request, session, visitor, sent, year_error, select))


def _sent(
    request: Request, session: Session, visitor: Visitor, sent: RecordsSent, year_error: str, select: str
) -> tuple[str | None, dict[str, Any]]:
    try:
        year = read_collection_year(sent.collection_year.strip())
    except InvalidInput:
        return None, {"form_error": year_error}
    if not sent.files:
        return year, {"form_error": select}
    try:
        return year, {"body": api_records_upload(request, session, visitor, sent.background, sent.files, year)}
    except OneReturnError as exc:
        return year, {"refusals": exc.errors or [{"loc": [], "msg": exc.message}], "refused": exc.message}
