"""The API apps the tests talk to: made once per kind of settings in a test process, and lent to one test at a time.

Making an app is cheap; its first requests are not. FastAPI works out each route's parameters, dependencies and
response models for every app it serves, the first time a request is matched against them: 150-250 ms of CPU for
this service's routes, in a test that often makes one request or a few. An app lent again is pointed at the test's
own settings and store, and keeps nothing of the test before it: its key throttles and dependency overrides are made
anew, and its start (the lifespan each client runs) sets the rest again from the settings it is given.

Only apps made with ``create_app``'s defaults are lent, and only to settings equal to theirs but for the data folder,
since the middleware keeps what it read of the settings when the app was made. Two clients at once get two apps.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.main import create_app
from api.throttle import KeyPace, KeyThrottle
from onereturn.settings import Settings

#: The apps no test holds now, by their settings but the data folder.
_idle: dict[str, list[FastAPI]] = {}


def _kind(settings: Settings) -> str:
    """Settings that may share an app: equal in everything but the data folder."""
    return settings.model_dump_json(exclude={"data_dir"})


@contextmanager
def lent_app(settings: Settings, engine: Engine) -> Iterator[FastAPI]:
    """An app on ``settings`` and ``engine`` for the block: an idle one made for settings like these, or a new one."""
    idle = _idle.setdefault(_kind(settings), [])
    app = idle.pop() if idle else create_app(settings, engine=engine)
    app.state.settings = settings
    app.state.engine = engine
    app.state.key_throttle = KeyThrottle()
    app.state.key_pace = KeyPace()
    app.dependency_overrides.clear()
    try:
        yield app
    finally:
        app.dependency_overrides.clear()
        idle.append(app)


@contextmanager
def client_on(settings: Settings, engine: Engine, **client: Any) -> Iterator[TestClient]:
    """A started test client (``client`` its options) on a lent app on ``settings`` and ``engine``."""
    with lent_app(settings, engine) as app, TestClient(app, **client) as test_client:
        yield test_client
