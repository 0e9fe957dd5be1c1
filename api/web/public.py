"""Pages for everyone: sign in with a key, sign out, the glossary, and the API documentation served offline."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape

from api import callrecord as trail
from api.auth import admit
from api.deps import SessionDep
from api.principal import Principal
from api.web.render import ACRONYMS, TERMS, page
from api.web.sessions import close_session, open_session
from api.web.shared import SESSION_COOKIE, BadForm, PageRoute, VisitorDep, check_csrf, safe_next, visitor_of
from mappings.keys import REGION_SCOPE
from onereturn.errors import TooManyRequests, Unauthorized

router = APIRouter(route_class=PageRoute, include_in_schema=False)
#: A sign-in form's CSRF token lives in its own cookie until a session exists (double submit).
SIGNIN_COOKIE = "onereturn_signin"
HOMES = {"agency": "/agency", "officer": "/officer", "regulator": "/regulator"}


def home_of(principal: Principal) -> str:
    """The start page of a key: a region's key has its region's page, every other its kind's."""
    return "/region" if REGION_SCOPE in principal.scopes else HOMES[principal.kind]


def _secure(request: Request) -> bool:
    return bool(request.app.state.settings.behind_tls)


@router.get("/")
def home(request: Request, session: SessionDep) -> Response:
    """Send a visitor to their own start page, or to sign in."""
    visitor = visitor_of(request, session)
    if visitor is None:
        return RedirectResponse("/sign-in", status_code=303)
    return RedirectResponse(home_of(visitor.principal), status_code=303)


def _sign_in_page(request: Request, *, error: str = "", next_page: str = "", status_code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = page(
        request,
        "sign_in.html",
        None,
        title="Error: Sign in" if error else "Sign in",
        status_code=status_code,
        error=error,
        next_page=next_page,
        signin_token=token,
    )
    response.set_cookie(
        SIGNIN_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/sign-in", max_age=3600
    )
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, session: SessionDep, next: str | None = None) -> Response:
    """Ask for the key."""
    if visitor_of(request, session) is not None:
        return RedirectResponse(safe_next(next) or "/", status_code=303)
    return _sign_in_page(request, next_page=safe_next(next) or "")


@router.post("/sign-in")
def sign_in(
    request: Request,
    session: SessionDep,
    key: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the key and open a session; a wrong key gets the form back with a clear message."""
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        raise BadForm
    key = key.strip()
    if not key:
        return _sign_in_page(request, error="Enter your key", next_page=safe_next(next) or "", status_code=400)
    try:
        # The API's own key check: a revoked key fails, and an address trying many keys is held back.
        principal = admit(request, session, key)
    except TooManyRequests as exc:
        trail.record_failure(request, session, None, exc)
        return _sign_in_page(request, error=exc.message, next_page=safe_next(next) or "", status_code=429)
    except Unauthorized as exc:
        trail.record_failure(request, session, None, exc)
        return _sign_in_page(
            request,
            error="That key was not recognised. Check you copied all of it, or ask your performance officer for a new one.",
            next_page=safe_next(next) or "",
            status_code=401,
        )
    token, _row = open_session(session, principal.key_id)
    trail.annotate(request, object="web session")
    trail.record_success(request, session, principal)
    response = RedirectResponse(safe_next(next) or home_of(principal), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request), path="/")
    response.delete_cookie(SIGNIN_COOKIE, path="/sign-in")
    return response


@router.post("/sign-out")
def sign_out(
    request: Request, session: SessionDep, visitor: VisitorDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """End the session."""
    check_csrf(visitor, csrf_token)
    close_session(session, visitor.token)
    response = RedirectResponse("/signed-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return response


@router.get("/signed-out")
def signed_out(request: Request) -> HTMLResponse:
    """Confirm the sign-out."""
    return page(request, "signed_out.html", None, title="You have signed out")


@router.get("/glossary")
def glossary(request: Request, session: SessionDep) -> HTMLResponse:
    """Explain the words and acronyms the service uses."""
    return page(
        request, "glossary.html", visitor_of(request, session), title="Glossary", terms=TERMS, acronym_list=ACRONYMS
    )


#: The API documentation's own policy. Swagger UI's stylesheet draws its icons from data: URIs; ReDoc runs its
#: search in a worker made from a blob: URL and writes its styles into <style> elements: styled-components' ones
#: carry this response's nonce, and the one stylesheet its bundle inserts as it loads (before it can be given the
#: nonce) is allowed by its hash, as is the empty element it starts as (ReDoc 2.5.4; the browser tests fail on a
#: refused style). Their scripts are this origin's files, started by static init files.
REDOC_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
)
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'{styles}; img-src 'self' data:; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)

_DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="/assets/app/favicon.svg" type="image/svg+xml">
{head}</head>
<body class="app-docs">
{body}
</body>
</html>
"""


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """The interactive API documentation, from the vendored Swagger UI."""
    openapi = escape(request.app.openapi_url or "/openapi.json")
    html = _DOCS_PAGE.format(
        title="onereturn API",
        head='<link rel="stylesheet" href="/assets/swagger-ui/swagger-ui.css">\n',
        body=f'<div id="swagger-ui" data-openapi="{openapi}"></div>\n'
        '<script src="/assets/swagger-ui/swagger-ui-bundle.js"></script>\n'
        '<script src="/assets/app/swagger-init.js"></script>',
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_POLICY.format(styles="")})


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """The API reference, from the vendored ReDoc."""
    openapi = escape(request.app.openapi_url or "/openapi.json")
    nonce = secrets.token_urlsafe(18)
    html = _DOCS_PAGE.format(
        title="onereturn API reference",
        head='<link rel="stylesheet" href="/assets/app/docs.css">\n',
        body=f'<noscript>The API reference needs JavaScript; <a href="{openapi}">the OpenAPI document</a> is plain JSON.'
        f'</noscript>\n<div id="redoc" data-spec="{openapi}" data-nonce="{nonce}"></div>\n'
        '<script src="/assets/redoc/redoc.standalone.js"></script>\n'
        '<script src="/assets/app/redoc-init.js"></script>',
    )
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": DOCS_POLICY.format(
                styles=" ".join(("", f"'nonce-{nonce}'", *REDOC_STYLE_HASHES))
            )
        },
    )
