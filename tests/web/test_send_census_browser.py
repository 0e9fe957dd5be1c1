"""The SEND team's page with a school census kept, and the officer's burden page counting it, in a real browser:
Debian's Chromium against the service under uvicorn, each page checked with axe-core and a screenshot kept under
test-output/screenshots/ for people to look at."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from onereturn.settings import Settings
from tests.apps import lent_app
from tests.census.test_lists_store import NOTTS, ON, A, B, _keep_census, _plan
from tests.collectors.sen2.builder import person, sen2_xml
from tests.live import live_server

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must have Debian's chromium at /usr/bin/chromium (./run test installs it as root)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402 (only once a browser is there to use it)
from playwright.sync_api import Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def served(store: Engine, store_settings: Settings, tmp_path: Path) -> Iterator[str]:
    """The service on a store where the council sent its SEN2 file and keeps its school census."""
    with lent_app(store_settings, store) as app, live_server(app) as base:
        people = [person(A, date(2014, 3, 1), "F", _plan(100001)), person(B, date(2013, 5, 5), "M", _plan(None))]
        files = [("files", ("sen2.xml", sen2_xml(people), "application/xml"))]
        sent = httpx.post(f"{base}/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"}, files=files)
        assert sent.status_code == 201, sent.text
        _keep_census(store, store_settings, tmp_path / "census")
        yield base


def _serious(page: Page) -> list[str]:
    found = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in found if v.get("impact") in ("serious", "critical")]


def _signed_in(page: Page, base: str, key: str) -> None:
    page.goto(f"{base}/sign-in")
    page.fill("#key", key)
    page.click("button:has-text('Sign in')")


def test_the_send_page_and_the_burden_page_with_a_census_pass_axe(served: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        _signed_in(page, served, NOTTS["X-API-Key"])
        page.goto(f"{served}/send?year=2024-25&inspection_date={ON}")
        assert page.locator("#census-filled").count() == 1
        assert "Download List 1 and List 2" in page.content()
        page.screenshot(path=str(SHOTS / "agency-send-census.png"), full_page=True)
        assert _serious(page) == []
        page.context.clear_cookies()
        _signed_in(page, served, "demo-officer-5e0b9c2a4f")
        page.goto(f"{served}/burden?period=FY2024-25")
        assert page.locator("#list2-burden").count() == 1
        page.screenshot(path=str(SHOTS / "officer-burden-census.png"), full_page=True)
        for table in ("list1-burden", "list2-burden"):
            page.locator(f"#{table}").screenshot(path=str(SHOTS / f"officer-burden-{table}.png"))
        assert _serious(page) == []
        browser.close()
