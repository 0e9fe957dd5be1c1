"""Entity tags on responses whose bytes identify themselves, and 304 when the client already has them."""

from __future__ import annotations

import hashlib

from fastapi import Request
from fastapi.responses import Response


def etag_for(content_hash: str) -> str:
    """Spell a content hash as a strong entity tag."""
    return f'"{content_hash}"'


def client_has(request: Request, etag: str) -> bool:
    """Say whether the request's If-None-Match names this entity tag (weak tags compare equal, ``*`` matches any)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in tags or etag in tags


def conditional(
    request: Request, data: bytes, *, media_type: str, headers: dict[str, str], content_hash: str | None = None
) -> Response:
    """Answer with the bytes and their ETag, or 304 with no body when If-None-Match already names them."""
    etag = etag_for(content_hash or hashlib.sha256(data).hexdigest())
    # The key travels in a header, so a shared cache must not keep one principal's answer for another.
    sent = {**headers, "ETag": etag, "Cache-Control": "private, no-cache", "Vary": "X-API-Key, Accept"}
    if client_has(request, etag):
        kept = {k: v for k, v in sent.items() if k in ("ETag", "Cache-Control", "Vary", "X-Snapshot-Id", "Link")}
        return Response(status_code=304, headers=kept)
    return Response(data, media_type=media_type, headers=sent)
