"""An unexpected error answers a whole 500 and leaves the client's kept-alive connection usable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine

from api.main import create_app
from onereturn.settings import Settings
from tests.live import live_server


def test_a_500_leaves_the_kept_alive_connection_usable(engine: Engine, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path), engine=engine)

    @app.get("/api/broken")
    def broken() -> None:
        raise RuntimeError("an unexpected error")

    connections: list[str] = []

    def trace(event: str, _info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            connections.append(event)

    with live_server(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        failed = client.get("/api/broken", extensions={"trace": trace})
        assert failed.status_code == 500
        assert failed.json()["errors"][0]["type"] == "internal_error", "the 500 is whole"
        assert failed.headers.get("connection", "keep-alive").lower() != "close"
        # The next request goes on the same connection: before, the server cut it after the 500, so this one was
        # reset or had to open another.
        after = client.get("/health", extensions={"trace": trace})
        assert after.status_code == 200, after.text
    assert len(connections) == 1, f"{len(connections)} connections opened for two requests"
