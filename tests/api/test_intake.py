"""Nothing is read before it is allowed: the key before the body, the size while the body streams."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import Engine
from starlette import formparsers

from api.intake import ENVELOPE
from api.main import create_app
from onereturn.settings import Settings
from tests.helpers import assert_canonical_error, kept_names

NOTTS = "demo-notts-cyp-2c9f41d07b"
BOUNDARY = "onereturnboundary"
CHUNK = 256 * 1024


class Body:
    """A multipart upload sent in chunks, counting how much of it the server pulled."""

    def __init__(self, file_bytes: int) -> None:
        self.file_bytes = file_bytes
        self.pulled = 0
        self._chunks = self._make()

    def _make(self) -> Iterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        line = b"cyp.cin_count,E10000024,2024-06-30,,512,,,,\n"
        yield b"indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
        sent = 0
        while sent < self.file_bytes:
            block = line * (CHUNK // len(line))
            yield block
            sent += len(block)
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    def next(self) -> tuple[bytes, bool]:
        """The next chunk, and whether more follow."""
        try:
            chunk = next(self._chunks)
        except StopIteration:
            return b"", False
        self.pulled += len(chunk)
        return chunk, True


def send_upload(app: Any, body: Body, *, key: str | None, content_length: int | None = None) -> tuple[int, Any]:
    """Drive the ASGI app with one upload whose body is pulled only as the app asks for it (chunked by default)."""
    headers = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
    if key is not None:
        headers.append((b"x-api-key", key.encode()))
    if content_length is None:
        headers.append((b"transfer-encoding", b"chunked"))
    else:
        headers.append((b"content-length", str(content_length).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/submissions",
        "raw_path": b"/api/submissions",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "app": app,
    }
    replies: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        chunk, more = body.next()
        return {"type": "http.request", "body": chunk, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        replies.append(message)

    anyio.run(app, scope, receive, send)
    status = next(m["status"] for m in replies if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in replies if m["type"] == "http.response.body")
    return status, json.loads(content)


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every temporary file the multipart parser spools an upload into."""
    files: list[Any] = []

    class Recording(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.written = 0
            files.append(self)

        def write(self, s: Any) -> int:
            self.written += len(s)
            return super().write(s)

    monkeypatch.setattr(formparsers, "SpooledTemporaryFile", Recording)
    return files


@pytest.mark.parametrize("key", [None, "demo-not-a-real-key-000000"])
def test_an_upload_without_a_valid_key_is_401_with_its_body_unread(
    store: Engine, tmp_path: Path, spooled: list[Any], key: str | None
) -> None:
    app = create_app(Settings(data_dir=tmp_path), engine=store)
    body = Body(file_bytes=20 * 1024 * 1024)
    status, reply = send_upload(app, body, key=key)
    assert status == 401
    assert_canonical_error(reply, 401)
    assert body.pulled == 0
    assert spooled == []


@pytest.mark.parametrize("declared", [False, True])
def test_the_size_limit_is_enforced_while_the_body_streams(
    store: Engine, tmp_path: Path, spooled: list[Any], declared: bool
) -> None:
    limit = 2 * 1024 * 1024
    app = create_app(Settings(data_dir=tmp_path, max_upload_bytes=limit), engine=store)
    body = Body(file_bytes=40 * 1024 * 1024)
    # A declared length under the limit that the body then exceeds must not get past the count either.
    status, reply = send_upload(app, body, key=NOTTS, content_length=limit if declared else None)
    assert status == 413
    assert_canonical_error(reply, 413)
    assert body.pulled <= limit + ENVELOPE + CHUNK
    assert max(f.written for f in spooled) <= limit + ENVELOPE
    assert all(f.closed for f in spooled)
    assert kept_names(store, Settings(data_dir=tmp_path), "uploads") == []


def test_an_upload_within_the_limit_streams_through(store: Engine, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, max_upload_bytes=2 * 1024 * 1024), engine=store)
    status, reply = send_upload(app, Body(file_bytes=CHUNK), key=NOTTS)
    assert status in (200, 201), reply
    assert reply["rows_read"] > 5000


def test_wrong_keys_on_uploads_are_throttled_before_any_body_is_read(store: Engine, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path), engine=store)
    statuses = []
    for _ in range(7):
        body = Body(file_bytes=CHUNK)
        statuses.append(send_upload(app, body, key="demo-not-a-real-key-000000")[0])
        assert body.pulled == 0
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
