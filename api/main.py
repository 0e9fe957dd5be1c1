"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

from fastapi import FastAPI
from sqlalchemy import Engine

from api.errors import install_error_handlers
from api.routes import catalogue, health, orgs
from db import get_engine
from settings import Settings, get_settings


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the application on the given settings and engine (defaults: the environment's)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = engine or get_engine(settings)
        yield

    app = FastAPI(
        title="onereturn",
        version=version("onereturn"),
        description="Collect each performance figure once; fan it out to every statutory return that needs it.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine or get_engine(settings)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(catalogue.router)
    app.include_router(orgs.router)
    return app
