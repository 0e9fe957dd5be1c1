"""The web pages: server-rendered GOV.UK-style pages for agencies, officers and regulators, and the offline API docs."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.web import (
    admin,
    agency,
    annex_a,
    approvals,
    census,
    compare,
    groups,
    officer,
    public,
    published,
    record_files,
    records,
    region_page,
    regions,
    regulator,
    send,
    signoffs,
)
from api.web.render import STATIC


def install(app: FastAPI) -> None:
    """Add the pages, the vendored assets under /assets, and /docs and /redoc served from them."""
    app.mount("/assets", StaticFiles(directory=STATIC), name="assets")
    for module in (
        public,
        agency,
        records,
        record_files,
        regions,
        region_page,
        annex_a,
        signoffs,
        approvals,
        officer,
        compare,
        groups,
        regulator,
        admin,
        published,
        send,
        census,
    ):
        app.include_router(module.router)
