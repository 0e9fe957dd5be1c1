"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from sqlalchemy import Engine
from starlette.types import ASGIApp

from api import capacity, web
from api.errors import install_error_handlers
from api.hygiene import Hygiene
from api.intake import BodyGuard
from api.openapi import install_openapi
from api.register_upload import REGISTER_UPLOADS
from api.routes import (
    admin,
    agencies,
    annex_a,
    calendar,
    catalogue,
    compare,
    csc_api,
    england,
    establishments,
    exports,
    figures,
    groups,
    health,
    orgs,
    published,
    record_files,
    regions,
    sen2,
    signoffs,
    submissions,
)
from api.sdmx import routes as sdmx
from api.strict import reject_unknown_parameters
from api.throttle import KeyThrottle
from collectors.door.lease import release_on_stop
from collectors.records.privacy import key_status
from exports.blobs import BYTES
from onereturn.db import get_engine
from onereturn.settings import Settings, get_settings
from onereturn.workspace import clear_left

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    run_scheduler: bool = False,
    batch_read_audit: bool = False,
    upload_processes: bool = False,
    freeze_heap: bool = False,
) -> FastAPI:
    """Build the application on the given settings and engine; ``run_scheduler`` embeds the job scheduler,
    ``batch_read_audit`` writes the audit events of reads in batches off the request, ``upload_processes``
    processes uploads in worker processes of their own and ``freeze_heap`` keeps what the worker made as it
    started out of the collector's way until it stops (all three as ``serve`` does)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The settings and engine the app holds, which every request reads too: one source for both.
        settings: Settings = app.state.settings
        BYTES.keep_on_disk(settings.data_dir / "snapshot-cache", settings.snapshot_disk_bytes)
        # SDMX data messages too large for memory share the folder and its room with the snapshots they are made of.
        sdmx.MESSAGES.keep_on_disk(settings.data_dir / "snapshot-cache", settings.snapshot_disk_bytes)
        # Children's files a process killed mid-work left in the private folder go before any work starts.
        await anyio.to_thread.run_sync(clear_left, settings)
        _say_if_keys_refused(app.state.engine, settings)
        await capacity.start(app, settings)
        if batch_read_audit:
            from api.callbatch import AuditBatcher

            app.state.audit_batcher = AuditBatcher(app.state.engine)
        if upload_processes:
            from api.uploadpool import UploadPool

            app.state.upload_pool = UploadPool(settings, app.state.engine)
            await anyio.to_thread.run_sync(app.state.upload_pool.wait_ready)
        running = None
        if run_scheduler:
            import scheduler

            running = scheduler.start_embedded(app.state.engine, settings)
        if freeze_heap:
            await _freeze_heap()
        try:
            yield
        finally:
            await _stop(app, running, settings, thaw=freeze_heap)

    app = OneReturnApp(
        title="onereturn",
        version=version("onereturn"),
        description="Collect each performance figure once; fan it out to every statutory return that needs it.",
        lifespan=lifespan,
        # Every route refuses query and form parameters it does not declare.
        dependencies=[Depends(reject_unknown_parameters)],
        # /docs and /redoc are the web pages' own, served from vendored assets (no CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or get_engine(settings)
    install_error_handlers(app)
    app.state.key_throttle = KeyThrottle()
    capacity.install(app, settings, web.shared.unavailable_page_for)
    register = dict.fromkeys(
        REGISTER_UPLOADS, (settings.establishments_max_bytes, "ONERETURN_ESTABLISHMENTS_MAX_BYTES")
    )
    app.add_middleware(BodyGuard, limit=settings.max_upload_bytes, larger=register)
    _install_routes(app)
    return app


async def _freeze_heap() -> None:
    """Import what a first comparison needs, then keep the worker's startup heap out of the collector's way."""
    from mappings.comparison.intervals import preload
    from onereturn.memory import freeze_startup_heap

    # The first comparison ("where to look", a compare page) would otherwise wait a second or more for
    # SciPy's import; the service's own processes import it as they start (frozen with the rest below).
    await anyio.to_thread.run_sync(preload)

    # Measured under load, each full collection of a worker walked its startup heap: 20 of them
    # in a minute, 160-236 ms each, every request of the worker waiting meanwhile.
    freeze_startup_heap()


async def _stop(app: FastAPI, running: Any, settings: Settings, *, thaw: bool) -> None:
    """Stop what the application started, in the order it depends on: jobs, audit batches, upload processes."""
    if running is not None:
        import scheduler

        scheduler.stop_embedded(running, settings.stop_seconds)
    batcher = getattr(app.state, "audit_batcher", None)
    if batcher is not None:
        batcher.close()
    pool = getattr(app.state, "upload_pool", None)
    if pool is not None:
        app.state.upload_pool = None
        await anyio.to_thread.run_sync(pool.close)
    # What this process still held (a record-level upload in a worker thread or a job) is cut off now:
    # marked so, the next start takes it up at once rather than once its lease runs out.
    await anyio.to_thread.run_sync(release_on_stop, app.state.engine)
    if thaw:
        from onereturn.memory import thaw_startup_heap

        thaw_startup_heap()


def _say_if_keys_refused(engine: Engine, settings: Settings) -> None:
    """Say at the start, not at a council's first upload, that this host's records keys would be refused."""
    try:
        status = key_status(engine, settings)
    except Exception as exc:  # a store not yet reachable is the readiness check's to report, not a start's to stop
        log.warning("the records keys could not be checked at start: %s", exc.__class__.__name__)
        return
    if status["status"] == "refused":
        log.error("record-level work is refused on this host: %s", status["detail"])


def _install_routes(app: FastAPI) -> None:
    """Add the API's routers, its OpenAPI document and the web pages."""
    app.include_router(health.router)
    app.include_router(catalogue.router)
    app.include_router(orgs.router)
    app.include_router(agencies.router)
    app.include_router(submissions.router)
    app.include_router(figures.router)
    app.include_router(exports.router)
    app.include_router(calendar.router)
    app.include_router(sdmx.router)
    app.include_router(admin.router)
    app.include_router(signoffs.router)
    app.include_router(published.router)
    app.include_router(compare.router)
    app.include_router(annex_a.router)
    app.include_router(record_files.router)
    app.include_router(sen2.router)
    app.include_router(england.router)
    app.include_router(establishments.router)
    app.include_router(csc_api.router)
    app.include_router(groups.router)
    app.include_router(regions.router)
    install_openapi(app)
    web.install(app)


def served_app() -> FastAPI:
    """The app as each worker of `onereturn serve --workers N` runs it (settings from the environment)."""
    settings = get_settings()
    return create_app(settings, batch_read_audit=True, upload_processes=settings.upload_processes, freeze_heap=True)


class OneReturnApp(FastAPI):
    """The FastAPI app wrapped, outside even its error handlers, in the HTTP hygiene layer."""

    def build_middleware_stack(self) -> ASGIApp:
        """Build FastAPI's stack, then put the hygiene layer around all of it (500s included)."""
        return Hygiene(super().build_middleware_stack(), behind_tls=self.state.settings.behind_tls)
