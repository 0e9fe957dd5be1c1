"""A publisher's API served on 127.0.0.1 for the fetch tests: each GET answered by a function of its path and query."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

#: An answer to one request: status, content type and body.
Answer = Callable[[str, dict[str, list[str]]], tuple[int, str, bytes]]


@contextmanager
def serve(answer: Answer) -> Iterator[str]:
    """Serve ``answer`` on a free loopback port; give the base address (no trailing slash) and stop within seconds."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            status, kind, body = answer(url.path, parse_qs(url.query))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
