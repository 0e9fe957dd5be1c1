"""Fixtures of the page tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from onereturn.settings import Settings
from tests.apps import client_on


@pytest.fixture
def web(store: Engine, store_settings: Settings) -> Iterator[TestClient]:
    """A browser-like client (cookies kept, redirects not followed) on a private database whose requests commit."""
    with client_on(store_settings, store, follow_redirects=False) as client:
        yield client
