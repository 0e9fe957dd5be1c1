"""The school census page in a real browser (Debian's Chromium, Playwright) on the demo's store: the made-up
county's censuses kept, a census sent through the page's form, one refused; axe-core on each, a screenshot of each
kept under test-output/screenshots/."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from collectors.census.synthetic import Child, made_upn, write_census
from tests.demo_store import serve_demo_copy
from tests.live import stop

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
COUNTY = "demo-synthetic-county-8e3d5a17c4"

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must have Debian's chromium at /usr/bin/chromium (./run test installs it as root)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402 (only once a browser is there to use it)
from playwright.sync_api import FilePayload, Page, sync_playwright  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``onereturn serve`` on a copy of the store the demo's first start loaded (its censuses among it)."""
    data = tmp_path_factory.mktemp("census-web")
    process, base, _ = serve_demo_copy(tmp_path_factory, data, ONERETURN_SCHEDULER_EMBEDDED="false")
    try:
        yield base
    finally:
        stop(process, 20)


def _serious(page: Page) -> list[str]:
    violations = Axe().run(page).response["violations"]
    return [f"{v['id']}: {v['help']}" for v in violations if v.get("impact") in ("serious", "critical")]


def _census(folder: Path) -> list[FilePayload]:
    folder.mkdir()
    child = Child(made_upn("830", 90), date(2013, 3, 1), "F", "E", "8302000", "100000")
    files = write_census(folder, [child], year=2025, term="summer", others=60, seed=9, lea="830")
    return [FilePayload(name=name, mimeType="text/csv", buffer=path.read_bytes()) for name, path in files]


def test_the_county_reads_its_censuses_sends_one_and_is_told_why_a_bad_one_is_refused(
    server: str, tmp_path: Path
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    found: dict[str, list[str]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.goto(server + "/sign-in")
        page.fill("#key", COUNTY)
        page.click("button:has-text('Sign in')")
        page.goto(server + "/census")
        assert page.locator("#kept tbody tr").count() == 2
        assert "16 January 2025" in page.locator("#kept").inner_text()
        page.screenshot(path=str(SHOTS / "county-census.png"), full_page=True)
        found["county-census"] = _serious(page)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("2025_summer_la_pupilonroll.csv", "pupilonrolltableid,NativeId\n1,2\n")
        page.set_input_files("#files", files=[FilePayload(name="2025_summer_la.zip", mimeType="application/zip",
                                                          buffer=out.getvalue()[:-30])])  # fmt: skip
        page.fill("#collection_year", "2024-25")
        page.click("button:has-text('Send the census')")
        assert "There is a problem" in page.locator(".govuk-error-summary").inner_text()
        page.screenshot(path=str(SHOTS / "county-census-refused.png"), full_page=True)
        found["county-census-refused"] = _serious(page)
        page.set_input_files("#files", files=_census(tmp_path / "summer"))
        page.fill("#collection_year", "2024-25")
        page.click("button:has-text('Send the census')")
        assert "61 pupils read" in page.locator("#sent").inner_text()
        assert page.locator("#kept tbody tr").count() == 3
        page.screenshot(path=str(SHOTS / "county-census-sent.png"), full_page=True)
        found["county-census-sent"] = _serious(page)
        browser.close()
    assert {where: v for where, v in found.items() if v} == {}
