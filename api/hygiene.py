"""HTTP hygiene on every response: security headers, no caching of keyed data, a request id.

It wraps the whole application (outside the error handlers), so even a 500 or a 413 answered
before routing carries the headers and the request id.
"""

from __future__ import annotations

import base64
import hashlib
import logging

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from onereturn.logs import begin_request, new_request_id

log = logging.getLogger(__name__)

#: Headers that carry credentials: a response to a request with any of them is not to be stored.
CREDENTIAL_HEADERS = (b"x-api-key", b"authorization", b"cookie")
#: Sent on every response.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}

#: The one inline script the pages carry: GOV.UK Frontend's page template marks the body as able to run its
#: scripts (govuk-frontend-jinja's template.html, as GOV.UK Frontend's own template does), allowed by its hash.
GOVUK_JS_ENABLED = (
    "document.body.className += ' js-enabled' + "
    "('noModule' in HTMLScriptElement.prototype ? ' govuk-frontend-supported' : '');"
)


def script_hash(source: str) -> str:
    """The CSP source expression allowing exactly one inline script: 'sha256-<base64 of its SHA-256>'."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


#: Every HTML page: only this origin's scripts, styles and images, no plugins, no framing, forms post only here.
PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        f"script-src 'self' {script_hash(GOVUK_JS_ENABLED)}",
        "style-src 'self'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
#: Everything that is not a page (JSON, CSV, files): nothing to run, never framed.
OTHER_POLICY = "frame-ancestors 'none'"
#: Sent when the service is declared to be behind TLS (ONERETURN_BEHIND_TLS): browsers then refuse plain HTTP.
HSTS = "max-age=31536000; includeSubDomains"


class Hygiene:
    """Give each request an id and every response the security headers and a CSP (and no-store when keyed)."""

    def __init__(self, app: ASGIApp, *, behind_tls: bool) -> None:
        self.app = app
        self.behind_tls = behind_tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = new_request_id(headers.get(b"x-request-id", b"").decode("latin-1"))
        credentials = tuple(headers[h].decode("latin-1") for h in CREDENTIAL_HEADERS if h in headers)
        begin_request(request_id, credentials)
        scope.setdefault("state", {})["request_id"] = request_id
        answered = False

        async def send_with_headers(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    out[name] = value
                # A page that needs its own policy (the API documentation) sets it; every other gets one here.
                if "content-security-policy" not in out:
                    html = out.get("content-type", "").startswith("text/html")
                    out["Content-Security-Policy"] = PAGE_POLICY if html else OTHER_POLICY
                out["X-Request-Id"] = request_id
                if credentials:
                    out["Cache-Control"] = "no-store"
                if self.behind_tls:
                    out["Strict-Transport-Security"] = HSTS
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # Starlette's outermost layer answers an unexpected error with the 500 its handler made (which logged
            # it), then raises it again for the server; uvicorn, seeing an error after an answer began, closes the
            # connection, so the client's next request on a kept-alive connection was reset. A whole answer sent
            # ends the matter here; an error before or during one is the server's to handle (it closes the answer).
            if not answered:
                raise
            log.debug("an error after a whole answer was sent; the error handler logged it")
