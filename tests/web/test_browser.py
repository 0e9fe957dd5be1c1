"""The web pages in a real browser: Debian's Chromium, driven by Playwright, against a real server.

The agency's journey runs with JavaScript off (the pages must work without it); every page is then
checked with axe-core with JavaScript on, and a screenshot of each is kept under
test-output/screenshots/.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import openpyxl
import pytest

from cli.synthetic.gias import synthetic_register
from tests.demo_store import serve_demo_copy
from tests.live import stop
from tests.signoffs import sign_off_over_http

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screenshots"
AGENCY = "demo-notts-cyp-2c9f41d07b"
LEWISHAM = "demo-lewisham-council-8d2e6a51"
COUNTY = "demo-synthetic-county-8e3d5a17c4"
OFFICER = "demo-officer-5e0b9c2a4f"
REGULATOR = "demo-regulator-dfe-7a3c18e2"
#: The demo's region (a hub of the made-up county): its own page.
HUB = "demo-synthetic-hub-3b7e91c04d"

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must have Debian's chromium at /usr/bin/chromium (./run test installs it as root)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

from axe_playwright_python.sync_playwright import Axe  # noqa: E402 (only once a browser is there to use it)
from playwright.sync_api import (  # noqa: E402
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    FilePayload,
    Page,
    sync_playwright,
)

# ./run test hands each test file to one pytest-xdist worker (--dist loadfile), so these tests share
# one server and one Chromium.
pytestmark = pytest.mark.slow


def _full_page(page: Page, path: str) -> None:
    """Keep a full-page screenshot for people to look at; Chromium now and then refuses one of a tall page under
    load ("Unable to capture screenshot"), and the second try, a moment later, is taken."""
    try:
        page.screenshot(path=path, full_page=True)
    except Error as exc:
        if "Unable to capture screenshot" not in str(exc):
            raise
        page.wait_for_timeout(500)
        page.screenshot(path=path, full_page=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``onereturn serve`` (uvicorn, SQLite, demo figures) on 127.0.0.1, on a copy of the store its first
    start loaded the demo into (``tests.demo_store``)."""
    data = tmp_path_factory.mktemp("web-server")
    process, base, _ = serve_demo_copy(tmp_path_factory, data, ONERETURN_SCHEDULER_EMBEDDED="false")
    try:
        yield base
    finally:
        stop(process, 20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots() -> Path:
    """The screenshot folder, emptied once per run."""
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True)
    return SHOTS


class Visit:
    """One person's browser: their context, page, and every host it asked for."""

    def __init__(self, browser: Browser, base: str, *, javascript: bool = True) -> None:
        self.base = base
        self.context: BrowserContext = browser.new_context(
            viewport={"width": 1200, "height": 900}, java_script_enabled=javascript, accept_downloads=True
        )
        self.hosts: set[str] = set()
        #: Every Content-Security-Policy violation seen, from the page's events and from the console.
        self.violations: list[str] = []
        if javascript:
            self.context.expose_function("__cspViolation", self._violation)
            self.context.add_init_script(CSP_LISTENER)
        self.page: Page = self.context.new_page()
        self.page.on("request", self._seen)
        self.page.on("console", self._console)

    def _seen(self, request: Any) -> None:
        url = urlsplit(request.url)
        # data: and blob: URLs are made inside the page (ReDoc's search worker), not fetched from a host.
        if url.scheme not in ("data", "blob"):
            self.hosts.add(url.netloc)

    def _violation(self, text: str) -> None:
        self.violations.append(text)

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium reports a refused script, style or image on the console even with JavaScript off.
        if "Content Security Policy" in message.text:
            self.violations.append(f"{self.page.url}: {message.text}")

    def go(self, path: str) -> Any:
        """Open a page of the service; return the response."""
        return self.page.goto(self.base + path)

    def sign_in(self, key: str) -> None:
        """Sign in with a key through the form."""
        self.go("/sign-in")
        self.page.fill("#key", key)
        self.page.click("button:has-text('Sign in')")

    def close(self) -> None:
        """Close the browser context; fail if any page it showed broke its Content-Security-Policy."""
        self.context.close()
        assert self.violations == [], "a page broke its Content-Security-Policy"


#: Reports each securitypolicyviolation event to the test, from every document before its own scripts run.
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolation(`${document.location.pathname}: ${e.violatedDirective} refused ${e.blockedURI || 'inline'}`
    + ` (${e.sourceFile || ''}:${e.lineNumber || ''})`)
})
"""


def _fill(path: Path, values: dict[str, str]) -> bytes:
    """Fill the template's value column for the given indicators, as a person in a spreadsheet program would."""
    book = openpyxl.load_workbook(path)
    sheet = book["Figures"]
    header = [c.value for c in sheet[1]]
    indicator, value = header.index("indicator") + 1, header.index("value") + 1
    for row in range(2, sheet.max_row + 1):
        code = sheet.cell(row=row, column=indicator).value
        if code in values:
            sheet.cell(row=row, column=value).value = values[code]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _share(visit: Visit, return_id: str, period: str) -> float:
    visit.go("/officer")
    cell = visit.page.locator(f"#completeness tr[data-return='{return_id}'][data-period='{period}'] .app-share")
    return float(cell.inner_text().rstrip("%"))


def _upload(visit: Visit, data: bytes, name: str) -> None:
    visit.go("/upload")
    visit.page.set_input_files(
        "#file", files=[FilePayload(name=name, mimeType="application/octet-stream", buffer=data)]
    )
    visit.page.check("input[name=mode][value=default]")
    visit.page.click("button:has-text('Upload')")


def test_agency_fixes_two_mistakes_and_the_officer_sees_it(
    browser: Browser, server: str, tmp_path: Path, shots: Path
) -> None:
    """(a) and (b): the agency's whole journey with JavaScript off, then the officer's dashboard."""
    officer = Visit(browser, server)
    officer.sign_in(OFFICER)
    agency = Visit(browser, server, javascript=False)
    agency.sign_in(AGENCY)
    assert agency.page.url.endswith("/agency")
    # The period the officer's dashboard is collecting now: its deadline is either still to come (due next) or
    # passed with figures owed (overdue).
    officer.go("/officer")
    period = officer.page.locator("#completeness tr[data-return='county_cyp_core']").get_attribute("data-period")
    assert period
    before = _share(officer, "county_cyp_core", period)
    row = agency.page.locator(
        f"#due-now tr[data-return='county_cyp_core'][data-period='{period}'], "
        f"#overdue tr[data-return='county_cyp_core'][data-period='{period}']"
    )
    assert row.count() == 1

    with agency.page.expect_download() as download:
        row.get_by_role("link", name=re.compile("Download template")).click()
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)
    assert download.value.suggested_filename.endswith(".xlsx")

    # Close to the figures stored for the year before, so the corrected file raises no query about the change.
    wrong = {"cyp.cin_count": "four thousand", "cyp.cpp_count": "-400", "cyp.cpp_2_years_plus_n": "9"}
    _upload(agency, _fill(template, wrong), "notts-first-try.xlsx")
    page = agency.page
    assert re.search(r"/submissions/\d+$", page.url)
    assert "2 problems to fix" in page.locator(".govuk-error-summary").inner_text()
    marked = page.locator("#upload-rows tr[data-problem='error']")
    assert marked.count() == 2
    texts = " ".join(marked.all_inner_texts())
    assert "four thousand" in texts
    assert "-400" in texts
    assert "app-row--error" in (marked.first.get_attribute("class") or "")
    _full_page(page, str(shots / "agency-report-two-problems.png"))

    right = {"cyp.cin_count": "4000", "cyp.cpp_count": "400", "cyp.cpp_2_years_plus_n": "9"}
    _upload(agency, _fill(template, right), "notts-second-try.xlsx")
    assert page.locator("#accepted").inner_text().startswith("Figures accepted")
    assert page.locator("#status").inner_text() == "Accepted"
    assert page.locator("#upload-rows tr[data-problem]").count() == 0
    accepted_id = page.url.rsplit("/", 1)[-1]
    _full_page(page, str(shots / "agency-report-accepted.png"))
    assert agency.hosts == {urlsplit(server).netloc}

    officer.go("/officer")
    assert officer.page.locator(f"a[href='/submissions/{accepted_id}']").count() == 1
    # The dashboard counts what a regulator would receive, so the council's approver signs the figures off first.
    sign_off_over_http(server, {"X-API-Key": AGENCY}, "notts_cyp", "county_cyp_core", period)
    after = _share(officer, "county_cyp_core", period)
    assert after > before
    _full_page(officer.page, str(shots / "officer-dashboard-after-upload.png"))
    agency.close()
    officer.close()


def test_regulator_downloads_the_same_bytes_as_the_api(
    browser: Browser, server: str, tmp_path: Path, shots: Path
) -> None:
    """(c): the file from the regulator's page is the API's, byte for byte; the page then says nothing changed."""
    regulator = Visit(browser, server, javascript=False)
    regulator.sign_in(REGULATOR)
    link = regulator.page.locator("a[href='/regulator/download/dfe_ssda903/FY2024-25.csv']")
    with regulator.page.expect_download() as download:
        link.click()
    saved = tmp_path / "ssda903.csv"
    download.value.save_as(saved)
    api = httpx.get(server + "/api/returns/dfe_ssda903/FY2024-25.csv", headers={"X-API-Key": REGULATOR}, timeout=120)
    assert api.status_code == 200
    assert saved.read_bytes() == api.content
    regulator.go("/regulator")
    _full_page(regulator.page, str(shots / "regulator-after-download.png"))
    change = regulator.page.locator("#changes ~ .app-pair[data-return='dfe_ssda903']")
    assert "Nothing has changed since" in change.inner_text()
    regulator.close()


def test_a_wrong_key_gets_a_clear_message(browser: Browser, server: str, shots: Path) -> None:
    """(d): a mistyped key is refused with a message saying what to do, and no session."""
    visit = Visit(browser, server)
    visit.sign_in("demo-notts-cyp-0000000000")
    _full_page(visit.page, str(shots / "public-sign-in-wrong-key.png"))
    summary = visit.page.locator(".govuk-error-summary")
    assert "That key was not recognised" in summary.inner_text()
    assert visit.page.url.endswith("/sign-in")
    assert not [c for c in visit.context.cookies() if c["name"] == "onereturn_session"]
    visit.close()


def test_another_agencys_submission_is_not_found(browser: Browser, server: str) -> None:
    """(e): an agency asking for another agency's submission gets 404, exactly as the API answers."""
    listing = httpx.get(server + "/api/submissions", headers={"X-API-Key": OFFICER}, timeout=60).json()
    other = next(s["id"] for s in listing["items"] if s["agency_code"] != "notts_cyp")
    visit = Visit(browser, server)
    visit.sign_in(AGENCY)
    response = visit.go(f"/submissions/{other}")
    assert response.status == 404
    assert visit.page.locator("h1").inner_text() == "Page not found"
    api = httpx.get(f"{server}/api/submissions/{other}", headers={"X-API-Key": AGENCY}, timeout=60)
    assert api.status_code == 404
    visit.close()


PAGES = {
    None: ["/sign-in", "/glossary"],
    AGENCY: ["/agency", "/upload", "/submissions", "/history", "/compare?indicator=pop.resident_0_17"],
    OFFICER: [
        "/officer",
        "/officer/approvals",
        "/calendar",
        "/catalogue",
        "/catalogue?q=looked+after",
        "/catalogue/indicators/cyp.cin_count",
        "/catalogue/returns/dfe_ssda903",
        # The county's core data set after DfE's 2024/25 releases, each cell with where its figure comes from.
        "/catalogue/returns/county_cyp_core?period=FY2025-26-Q3",
        "/catalogue/different-methods",
        "/burden?period=FY2024-25",
        "/submissions",
        "/outbox",
        "/agencies",
        "/keys",
        "/compare?org=E08000009&indicator=pop.resident_0_17",
        "/compare/flags?org=E10000024",
        "/officer/establishments",
    ],
    REGULATOR: ["/regulator"],
    # The SEND team's pages, on the made-up county's SEN2 file with a made-up register of establishments loaded.
    COUNTY: ["/send?year=2024-25", "/send/2024-25/caseload", "/send/2024-25/sen_needs_all_plans"],
    # The region's page: its member, its pooled tables and each table's disclosure risk.
    HUB: ["/region"],
}


def _name(role: str | None, path: str) -> str:
    who = {
        None: "public",
        AGENCY: "agency",
        OFFICER: "officer",
        REGULATOR: "regulator",
        COUNTY: "county",
        HUB: "region",
    }[role]
    slug = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
    return f"{who}-{slug}.png"


def _check(axe: Axe, page: Page, where: str, found: dict[str, list[str]], counts: dict[str, dict[str, int]]) -> None:
    violations = axe.run(page).response["violations"]
    tally: dict[str, int] = {}
    for v in violations:
        tally[v.get("impact") or "none"] = tally.get(v.get("impact") or "none", 0) + 1
    counts[where] = tally
    found[where] = [f"{v['id']}: {v['help']}" for v in violations if v.get("impact") in ("serious", "critical")]


def test_every_page_passes_axe(browser: Browser, server: str, shots: Path) -> None:
    """(f): no serious or critical axe-core violation on any page; a screenshot of each is kept."""
    axe = Axe()
    found: dict[str, list[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    bad = (
        b"indicator,org,period,value\ncyp.cin_count,E10000024,2025-03-31,lots\ncyp.cpp_count,E10000024,2025-03-31,-1\n"
    )
    sent = httpx.post(server + "/api/submissions", headers={"X-API-Key": AGENCY}, files={"file": ("bad.csv", bad)})
    assert sent.status_code == 422, sent.text
    extract, links = synthetic_register(1, 50_000, date(2025, 1, 10))
    register = {"file": ("edubasealldata20250110.csv", extract), "links": ("links_edubasealldata20250110.csv", links)}
    loaded = httpx.post(server + "/api/establishments", headers={"X-API-Key": OFFICER}, files=register, timeout=60)
    assert loaded.status_code == 201, loaded.text
    hosts: set[str] = set()
    for role, paths in PAGES.items():
        visit = Visit(browser, server)
        if role is not None:
            visit.sign_in(role)
        submission = None
        for path in paths:
            response = visit.go(path)
            assert response.status == 200, path
            _full_page(visit.page, str(shots / _name(role, path)))
            _check(axe, visit.page, _name(role, path), found, counts)
            if path == "/submissions" and role == AGENCY:
                submission = f"/submissions/{sent.json()['id']}"
        if submission:
            visit.go(submission)
            assert visit.page.locator("#upload-rows tr[data-problem='error']").count() == 2
            _full_page(visit.page, str(shots / _name(role, "/submission-report-with-problems")))
            _check(axe, visit.page, _name(role, "/submission-report-with-problems"), found, counts)
        hosts |= visit.hosts
        visit.close()
    for path, name in (("/docs", "docs"), ("/redoc", "redoc")):
        visit = Visit(browser, server)
        visit.go(path)
        visit.page.wait_for_selector(".swagger-ui .info" if name == "docs" else "h1")
        visit.page.screenshot(path=str(shots / f"public-{name}.png"))
        hosts |= visit.hosts
        visit.close()
    (shots.parent / "axe.json").write_text(json.dumps(counts, indent=1, sort_keys=True))
    assert len(counts) == sum(len(p) for p in PAGES.values()) + 1
    assert {path: v for path, v in found.items() if v} == {}
    assert hosts == {urlsplit(server).netloc}, "a page asked another host for something"


def test_pages_keep_to_their_content_security_policy(browser: Browser, server: str) -> None:
    """A page loads with its one inline script allowed by hash and nothing refused; an inline style or a
    second inline script put into it is refused, and the test sees the refusal."""
    visit = Visit(browser, server)
    visit.sign_in(OFFICER)
    response = visit.go("/officer")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "style-src 'self';" in policy
    assert "unsafe-inline" not in policy
    # GOV.UK Frontend's inline snippet ran under the policy: the body is marked as able to run its scripts.
    assert "govuk-frontend-supported" in (visit.page.locator("body").get_attribute("class") or "")
    visit.page.wait_for_load_state("networkidle")
    assert visit.violations == []
    visit.page.evaluate(
        """() => {
        document.querySelector('main').insertAdjacentHTML('beforeend', '<p style="color: red">styled</p>')
        const script = document.createElement('script')
        script.textContent = 'document.title = "changed"'
        document.body.appendChild(script)
    }"""
    )
    visit.page.wait_for_timeout(300)
    assert visit.page.title() != "changed"
    refused = " ".join(visit.violations)
    assert "style-src" in refused
    assert "script-src" in refused
    visit.violations.clear()
    visit.close()


def test_a_council_sends_its_records_and_follows_them_to_dfes_findings(
    browser: Browser, server: str, tmp_path: Path, shots: Path
) -> None:
    """The records journey: the page says at once the files were received, follows the stage by itself (a static
    script; with JavaScript off, a refresh), then shows DfE's findings by rule and, a click on, by child."""
    from cli.synthetic import synthetic_903
    from tests.collectors.records.samples import TABLES_903

    axe = Axe()
    found: dict[str, list[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    visit = Visit(browser, server)
    visit.sign_in(AGENCY)
    visit.go("/upload")
    _check(axe, visit.page, "agency-upload-records-form", found, counts)
    page = visit.page
    page.set_input_files(
        "#files", files=[FilePayload(name=p.name, mimeType="text/csv", buffer=p.read_bytes()) for p in TABLES_903]
    )
    page.fill("#collection_year", "2024-25")
    page.click("button:has-text('Send the records')")
    assert re.search(r"/submissions/\d+$", page.url)
    # At once: the files are received and being checked (DfE's rules take seconds; this page came first).
    assert page.locator("#received").inner_text().count("Your files were received") == 1
    assert page.locator("#stage").get_attribute("data-stage") in ("received", "reading", "dfe_rules")
    _full_page(page, str(shots / "agency-records-received.png"))
    _check(axe, page, "agency-records-received", found, counts)
    # The page follows the stage by itself until DfE's findings are in.
    page.wait_for_selector("#outcome", timeout=180_000)
    assert page.locator("#stage").get_attribute("data-stage") == "rejected"
    assert page.locator("#rules tr[data-rule='dfe:187']").count() == 1
    _full_page(page, str(shots / "agency-records-rejected.png"))
    _check(axe, page, "agency-records-rejected", found, counts)
    page.locator("#rules tr[data-rule='dfe:187'] a").click()
    # The click returns once the findings page's address is committed, before its rows are read on a busy machine.
    page.locator("#findings tr[data-rule='dfe:187']").first.wait_for(timeout=60_000)
    assert page.locator("#findings tr:not([data-rule='dfe:187'])").count() == 1  # the header row
    _full_page(page, str(shots / "agency-records-findings-by-child.png"))
    _check(axe, page, "agency-records-findings-by-child", found, counts)
    visit.close()

    # With JavaScript off the page refreshes itself until the records are stored.
    quiet = Visit(browser, server, javascript=False)
    quiet.sign_in(AGENCY)
    quiet.go("/upload")
    made = synthetic_903(7, 40, "2024-25", tmp_path / "903")
    quiet.page.set_input_files(
        "#files", files=[FilePayload(name=p.name, mimeType="text/csv", buffer=p.read_bytes()) for p in made]
    )
    quiet.page.fill("#collection_year", "2024-25")
    quiet.page.click("button:has-text('Send the records')")
    assert "Your files were received" in quiet.page.locator("#received").inner_text()
    quiet.page.wait_for_selector("#outcome", timeout=180_000)
    assert quiet.page.locator("#outcome").inner_text().startswith("Records checked and figures stored")
    _full_page(quiet.page, str(shots / "agency-records-stored.png"))
    quiet.close()
    assert {where: v for where, v in found.items() if v} == {}


def test_a_council_sends_its_ssd_extract_and_its_approver_reads_the_files_made(
    browser: Browser, server: str, tmp_path: Path, shots: Path
) -> None:
    """The records form takes an SSD extract, says so and lists each file made with where it has got to; the
    approver's record files page gives their state and download once DfE's rules passed them, and its payloads page
    the children changed."""
    from cli.synthetic.ssd import synthetic_ssd

    axe, found, counts = Axe(), dict[str, list[str]](), dict[str, dict[str, int]]()
    visit = Visit(browser, server)
    visit.sign_in(COUNTY)
    visit.go("/upload")
    extract = synthetic_ssd(23, 40, "2024-25", tmp_path / "ssd", looked_after=20, la="E10000007")
    page = visit.page
    page.set_input_files("#files", files=[FilePayload(name=extract.name, mimeType="application/zip",
                                                      buffer=extract.read_bytes())])  # fmt: skip
    page.fill("#collection_year", "2024-25")
    page.click("button:has-text('Send the records')")
    assert "Your SSD extract was checked and 2 files made from it" in page.locator("#extract-taken").inner_text()
    assert page.locator("#made tr[data-submission]").count() == 2
    for name in ("agency-ssd-extract-taken", "agency-record-files", "agency-csc-api"):
        if name == "agency-record-files":
            page.click("a:has-text('the files made from your SSD extract')")
            # The page follows the files by itself (a static script) until DfE's rules have ended on both.
            page.wait_for_selector("#stage:not([data-follow-stage])", timeout=300_000)
            states = page.locator("#files tr[data-status]").evaluate_all("rows => rows.map(r => r.dataset.status)")
            assert len(states) == 2
            # A file DfE's rules passed is offered to send; one they refused says so and links its findings.
            passed = [state for state in states if state in ("accepted", "queried", "partially_accepted")]
            assert page.locator("#files a:has-text('Download')").count() == len(passed), states
            assert page.locator("#files a:has-text('See DfE')").count() == states.count("rejected"), states
        elif name == "agency-csc-api":
            page.click("a:has-text('See the children changed')")
            assert int(page.locator("#children").inner_text().replace(",", "")) > 0
        _full_page(page, str(shots / f"{name}.png"))
        _check(axe, page, name, found, counts)
    visit.close()
    assert {where: v for where, v in found.items() if v} == {}


def test_an_approver_signs_off_a_revised_return(browser: Browser, server: str, shots: Path) -> None:
    """The approver's sign-off page: the demo's signed-off state, then a revised figure reopens the return, the
    approver reads what signing off releases, ticks the declaration and signs off; axe on each state."""
    axe = Axe()
    found: dict[str, list[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    path = "/signoffs/dfe_ssda903/FY2024-25"
    # The demo signs its figures off as it loads, but an earlier journey on this server may have uploaded
    # Nottinghamshire's figures since (revised ones reopen the return; added ones leave it signed off and to be
    # signed again): start from a return with nothing left to sign whatever ran before.
    signable = httpx.get(
        f"{server}/api/signoffs/notts_cyp/dfe_ssda903/FY2024-25", headers={"X-API-Key": AGENCY}, timeout=60
    ).json()["signable"]
    if signable:
        sign_off_over_http(server, {"X-API-Key": AGENCY}, "notts_cyp", "dfe_ssda903", "FY2024-25")
    visit = Visit(browser, server)
    visit.sign_in(AGENCY)
    page = visit.page
    assert visit.go(path).status == 200
    # Signed off: the page says who and when, and offers nothing to sign.
    assert page.locator("#state-tag").inner_text() == "Signed off"
    assert page.locator("#signed-by").count() == 1
    assert page.locator("#sign-off").count() == 0
    _full_page(page, str(shots / "agency-signoff-signed-by-demo.png"))
    _check(axe, page, "agency-signoff-signed", found, counts)

    # A revised figure (one more than the stored one, so no query is raised) reopens the return.
    review = httpx.get(
        f"{server}/api/signoffs/notts_cyp/dfe_ssda903/FY2024-25", headers={"X-API-Key": AGENCY}, timeout=60
    ).json()
    cell = next(c for c in review["cells"] if c["cell_id"] == "EPI.CLA_31MAR|E10000024|")
    revised = int(cell["display"].replace(",", "")) + 1
    body = f"indicator,org,period,value\ncyp.lac_count,E10000024,2025-03-31,{revised}\n".encode()
    sent = httpx.post(server + "/api/submissions", headers={"X-API-Key": AGENCY}, files={"file": ("r.csv", body)})
    assert sent.status_code == 201, sent.text
    visit.go(path)
    assert page.locator("#state-tag").inner_text() == "Reopened"
    changed = page.locator("#change-list").inner_text()
    assert f"{revised:,}" in changed
    assert "New or revised" in changed
    assert "\t" + "cyp.lac_count" not in changed
    assert page.locator("#cell-table tr[data-cell='EPI.CLA_31MAR|E10000024|']").inner_text().endswith(f"{revised:,}")
    _full_page(page, str(shots / "agency-signoff-reopened.png"))
    _check(axe, page, "agency-signoff-reopened", found, counts)

    page.check("#confirm")
    page.click("#sign-off")
    assert page.url.endswith("?signed=true")
    assert page.locator("#signed .govuk-panel__title").inner_text() == "Return signed off"
    assert page.locator("#state-tag").inner_text() == "Signed off"
    assert page.locator("#sign-off").count() == 0
    _full_page(page, str(shots / "agency-signoff-done.png"))
    _check(axe, page, "agency-signoff-done", found, counts)
    visit.close()
    assert {where: v for where, v in found.items() if v} == {}


def test_the_regulator_sees_a_period_waiting_for_one_bodys_sign_off(browser: Browser, server: str, shots: Path) -> None:
    """The regulator's page: a revised figure from Lewisham holds the CIN census back, and the sign-off column
    names Lewisham and says how many of the bodies have signed off; once Lewisham signs off, all have; axe on both."""
    axe = Axe()
    found: dict[str, list[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    lewisham = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
    # An earlier journey on this server may have sent the synthetic county's SSD extract since the demo signed its
    # figures off (the CIN census made from it revises them): start from every body but Lewisham signed off.
    county = {"X-API-Key": COUNTY}
    waiting = httpx.get(f"{server}/api/signoffs/synthetic_county/dfe_cin_census/FY2024-25", headers=county, timeout=60)
    if waiting.json()["signable"]:
        sign_off_over_http(server, county, "synthetic_county", "dfe_cin_census", "FY2024-25")
    review = httpx.get(
        f"{server}/api/signoffs/lewisham_council/dfe_cin_census/FY2024-25", headers=lewisham, timeout=60
    ).json()
    cell = next(c for c in review["cells"] if c["cell_id"] == "CIN.AT31MAR|E09000023|")
    revised = int(cell["display"].replace(",", "")) + 1
    body = f"indicator,org,period,value\ncyp.cin_count,E09000023,2025-03-31,{revised}\n".encode()
    sent = httpx.post(server + "/api/submissions", headers=lewisham, files={"file": ("cin.csv", body)}, timeout=120)
    assert sent.status_code == 201, sent.text

    visit = Visit(browser, server)
    visit.sign_in(REGULATOR)
    page = visit.page
    assert visit.go("/regulator").status == 200
    status = page.locator("tr[data-return='dfe_cin_census'][data-period='FY2024-25'] .app-signoff-status")
    text = status.inner_text()
    assert "Not yet signed off by London Borough of Lewisham" in text, text
    assert re.search(r"\((\d+) of (\d+) signed off\)", text), text
    assert "lewisham_council" not in text
    assert status.get_attribute("data-released") == "false"
    status.scroll_into_view_if_needed()
    _full_page(page, str(shots / "regulator-signoff-waiting.png"))
    _check(axe, page, "regulator-signoff-waiting", found, counts)

    sign_off_over_http(server, lewisham, "lewisham_council", "dfe_cin_census", "FY2024-25")
    visit.go("/regulator")
    text = status.inner_text()
    assert text.startswith("Signed off by all"), text
    assert "Last signed off" in text
    assert status.get_attribute("data-released") == "true"
    _full_page(page, str(shots / "regulator-signoff-all.png"))
    _check(axe, page, "regulator-signoff-all", found, counts)
    visit.close()
    assert {where: v for where, v in found.items() if v} == {}


def test_the_officer_sends_a_signed_off_return_back(browser: Browser, server: str, shots: Path) -> None:
    """The officer's approvals: the queue filtered with JavaScript off, then a signed-off return opened from it, a
    send-back without a reason refused, then with one; the queue shows it returned; axe on each state."""
    axe = Axe()
    found: dict[str, list[str]] = {}
    counts: dict[str, dict[str, int]] = {}
    agency, return_id, period = "lewisham_council", "dfe_cin_census", "FY2024-25"
    review = f"{server}/api/signoffs/{agency}/{return_id}/{period}"
    # The demo signs its figures off as it loads; start from a signed-off return whatever ran before.
    if httpx.get(review, headers={"X-API-Key": OFFICER}, timeout=60).json()["signoff"]["state"] != "signed_off":
        sign_off_over_http(server, {"X-API-Key": LEWISHAM}, agency, return_id, period)
    row = f"table[data-return='{return_id}'] tr[data-agency='{agency}'][data-period='{period}']"

    # The filters are a plain form: they work without JavaScript.
    quiet = Visit(browser, server, javascript=False)
    quiet.sign_in(OFFICER)
    quiet.go("/officer")
    quiet.page.click("a[href='/officer/approvals']:has-text('See every agency')")
    quiet.page.select_option("#return", return_id)
    quiet.page.select_option("#period", period)
    quiet.page.click("#show")
    assert f"return={return_id}" in quiet.page.url
    assert quiet.page.locator(f"{row}").get_attribute("data-state") == "signed_off"
    assert quiet.page.locator("table[data-return]").count() == 1
    quiet.close()

    visit = Visit(browser, server)
    visit.sign_in(OFFICER)
    page = visit.page
    assert visit.go("/officer/approvals").status == 200
    assert page.locator("#count-awaiting").count() == 1
    _full_page(page, str(shots / "officer-approvals-queue.png"))
    _check(axe, page, "officer-approvals-queue", found, counts)
    page.locator(f"{row} a").click()
    assert page.url.endswith(f"/officer/approvals/{agency}/{return_id}/{period}")
    assert page.locator("#state-tag").inner_text() == "Signed off"
    assert page.locator("#signed-by").count() == 1
    assert page.locator("#declaration").inner_text().startswith("I confirm")
    _full_page(page, str(shots / "officer-approval-signed-off.png"))
    _check(axe, page, "officer-approval-signed-off", found, counts)

    page.click("#send-back")
    assert "Why are you sending it back" in page.locator("#reason").evaluate("e => e.labels[0].innerText")
    assert "Enter why you are sending the return back" in page.locator(".govuk-error-summary").inner_text()
    assert page.locator("#reason-error").count() == 1
    assert page.locator("#state-tag").inner_text() == "Signed off"
    _full_page(page, str(shots / "officer-approval-no-reason.png"))
    _check(axe, page, "officer-approval-no-reason", found, counts)

    page.fill("#reason", "The children in need count leaves out the Deptford team's referrals")
    page.click("#send-back")
    assert page.url.endswith("?done=returned")
    assert "You sent the return back" in page.locator("#done").inner_text()
    assert page.locator("#state-tag").inner_text() == "Returned"
    assert "Deptford" in page.locator("#history-table tr[data-to='returned']").inner_text()
    assert page.locator("#send-back").count() == 0
    _full_page(page, str(shots / "officer-approval-returned.png"))
    _check(axe, page, "officer-approval-returned", found, counts)

    visit.go(f"/officer/approvals?state=returned&return={return_id}")
    assert page.locator(row).get_attribute("data-state") == "returned"
    assert "Deptford" in page.locator(row).inner_text()
    _full_page(page, str(shots / "officer-approvals-returned.png"))
    _check(axe, page, "officer-approvals-returned", found, counts)
    state = httpx.get(review, headers={"X-API-Key": OFFICER}, timeout=60).json()["signoff"]
    assert (state["state"], state["reason"]) == (
        "returned",
        "The children in need count leaves out the Deptford team's referrals",
    )
    visit.close()
    assert {where: v for where, v in found.items() if v} == {}
