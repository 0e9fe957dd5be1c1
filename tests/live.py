"""The real service under uvicorn on 127.0.0.1, in a thread, for tests that speak HTTP as a client would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from tests.served_rules import SERVED

#: Where ``onereturn serve`` is started from, as the README starts it.
_CHECKOUT = Path(__file__).resolve().parents[1]


#: One client for every health poll. A new httpx client makes an SSL context (about 20 ms of CPU, certificates
#: read), and a poll every 0.1 s made one each time, taking that CPU from the very start it waited for. No
#: connection is kept between polls, so each poll reaches whatever listens on the port now.
_POLL = httpx.Client(timeout=2, limits=httpx.Limits(max_keepalive_connections=0))


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 now (a refused or timed-out connection is a no)."""
    try:
        return _POLL.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_answering(url: str, process: subprocess.Popen[bytes], seconds: float, every: float = 0.1) -> bool:
    """Poll ``url`` every ``every`` seconds until it answers 200 (True), the process ends or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while process.poll() is None and time.monotonic() < deadline:
        if answers(url):
            return True
        time.sleep(every)
    return False


def free_port() -> int:
    """Return a loopback port that nothing listens on now."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve the app on a free loopback port until the block ends; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    waiting = threading.Event()
    while thread.is_alive() and not server.started:
        waiting.wait(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def serve_process(data: Path, name: str = "server", **settings: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    """Start ``onereturn serve`` on SQLite in ``data`` with the demo and the given ``ONERETURN_*`` settings, on a
    port the system picks (another if it is taken meanwhile); return it, its base URL and its log,
    ``<name>-<port>.log``, once it answers."""
    env = {
        **os.environ,
        "ONERETURN_DATA_DIR": str(data),
        "ONERETURN_DATABASE_URL": "",
        "ONERETURN_LOAD_DEMO": "true",
        # One upload process, not the two a user's server starts: each is a Python process importing the upload path
        # and reading the catalogue (about 2 s of CPU), and only tests of the upload processes need two; they say so.
        "ONERETURN_UPLOAD_SLOTS": "1",
        # DfE's rules answer an input this run has answered before from what they said then (tests/served_rules.py).
        **({"ONERETURN_VALIDATORS_PYTHON": os.environ[SERVED]} if SERVED in os.environ else {}),
        **settings,
    }
    for _ in range(3):
        port = free_port()
        log_path = data / f"{name}-{port}.log"
        command = [
            str(Path(sys.executable).with_name("onereturn")),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        with log_path.open("wb") as log:
            process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=_CHECKOUT)
        base = f"http://127.0.0.1:{port}"
        if wait_until_answering(base + "/health", process, 300, every=0.3):
            return process, base, log_path
        process.kill()
        process.wait()
        text = log_path.read_text(errors="replace")
        if "address already in use" not in text.lower():
            raise RuntimeError(f"The server did not start:\n{text}")
    raise RuntimeError("Three ports the system picked were taken before the server could listen on them")


def stop(process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Ask a process to stop (SIGTERM), and kill it if it has not within ``seconds``: a test never waits unbounded."""
    process.terminate()
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=seconds)
