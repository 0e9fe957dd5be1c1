"""The web pages over HTTP: sign-in sessions, CSRF, what each key may see, answering a query, offline assets."""

from __future__ import annotations

import fnmatch
import html
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.hygiene import GOVUK_JS_ENABLED, OTHER_POLICY, PAGE_POLICY, script_hash
from api.main import create_app
from api.web.render import STATIC
from mappings.keys.models import ApiKey
from onereturn.settings import Settings
from tests.apps import client_on
from tests.web.pages import AGENCY, DFE, OFFICER, OTHER_AGENCY, csrf_token, sign_in

ROOT = Path(__file__).resolve().parents[2]


def test_sign_in_sets_a_locked_down_cookie(web: TestClient) -> None:
    form = web.get("/sign-in")
    response = web.post("/sign-in", data={"key": AGENCY, "csrf_token": csrf_token(form.text)})
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("onereturn_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie
    assert response.headers["location"] == "/agency"


def test_cookie_is_secure_behind_tls(store: Engine, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, behind_tls=True), engine=store)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        form = client.get("/sign-in")
        response = client.post("/sign-in", data={"key": AGENCY, "csrf_token": csrf_token(form.text)})
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("onereturn_session="))
    assert "Secure" in cookie


def test_sign_in_without_its_csrf_token_is_refused(web: TestClient) -> None:
    web.get("/sign-in")
    response = web.post("/sign-in", data={"key": AGENCY, "csrf_token": "forged"})
    assert response.status_code == 400
    assert "The form has expired" in response.text
    assert "onereturn_session" not in web.cookies


def test_a_wrong_key_says_what_to_do(web: TestClient) -> None:
    form = web.get("/sign-in")
    response = web.post("/sign-in", data={"key": "not-a-key-at-all", "csrf_token": csrf_token(form.text)})
    assert response.status_code == 401
    assert "That key was not recognised" in response.text
    assert 'href="#key"' in response.text


def test_pages_need_a_session(web: TestClient) -> None:
    response = web.get("/submissions/1")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/submissions/1"


def test_sign_out_ends_the_session_for_good(web: TestClient) -> None:
    csrf = sign_in(web, AGENCY)
    stolen = web.cookies["onereturn_session"]
    assert web.post("/sign-out", data={"csrf_token": csrf}).status_code == 303
    web.cookies.set("onereturn_session", stolen)
    assert web.get("/agency").status_code == 303


def test_sign_out_needs_the_csrf_token(web: TestClient) -> None:
    sign_in(web, AGENCY)
    assert web.post("/sign-out", data={"csrf_token": "forged"}).status_code == 400
    assert web.get("/agency").status_code == 200


def test_a_revoked_key_ends_its_sessions(web: TestClient, store: Engine) -> None:
    sign_in(web, AGENCY)
    with Session(store) as session:
        for key in session.execute(select(ApiKey).where(ApiKey.agency_code == "notts_cyp")).scalars():
            key.revoked_at = datetime.now(UTC)
        session.commit()
    assert web.get("/agency").status_code == 303


def test_an_upload_without_the_csrf_token_stores_nothing(web: TestClient) -> None:
    sign_in(web, AGENCY)
    before = web.get("/submissions").text.count('href="/submissions/')
    csv = b"indicator,org,period,value\ncyp.cin_count,E10000024,2025-03-31,4000\n"
    response = web.post("/upload", data={"mode": "default"}, files={"file": ("f.csv", csv, "text/csv")})
    assert response.status_code == 400
    assert web.get("/submissions").text.count('href="/submissions/') == before


@pytest.mark.parametrize(
    ("key", "path", "status"),
    [
        (AGENCY, "/officer", 403),
        (AGENCY, "/regulator", 403),
        (DFE, "/agency", 403),
        (DFE, "/regulator/download/ndtms_adult_monthly/2024-03.csv", 404),
        (OFFICER, "/regulator/download/dfe_ssda903/FY2024-25.csv", 200),
        (OFFICER, "/officer/approvals", 200),
        (AGENCY, "/officer/approvals", 403),
        (DFE, "/officer/approvals", 403),
        (DFE, "/officer/approvals/notts_cyp/dfe_ssda903/FY2024-25", 403),
        (OTHER_AGENCY, "/officer/approvals/notts_cyp/dfe_ssda903/FY2024-25", 404),
    ],
)
def test_pages_show_only_what_the_api_would(web: TestClient, key: str, path: str, status: int) -> None:
    sign_in(web, key)
    assert web.get(path).status_code == status


def test_another_agencys_submission_is_not_found(web: TestClient) -> None:
    csv = b"indicator,org,period,value\ncyp.lac_count,E09000023,2025-03-31,400\n"
    theirs = web.post("/api/submissions", headers={"X-API-Key": OTHER_AGENCY}, files={"file": ("l.csv", csv)})
    assert theirs.status_code == 201, theirs.text
    sign_in(web, AGENCY)
    page = web.get(f"/submissions/{theirs.json()['id']}")
    assert page.status_code == 404
    assert "Page not found" in page.text
    assert "E09000023" not in page.text


def test_a_query_is_answered_with_a_note(web: TestClient) -> None:
    first = b"indicator,org,period,value\ncyp.cin_count,E10000024,2025-03-31,4000\n"
    assert (
        web.post("/api/submissions", headers={"X-API-Key": AGENCY}, files={"file": ("a.csv", first)}).status_code == 201
    )
    csrf = sign_in(web, AGENCY)
    jump = b"indicator,org,period,value\ncyp.cin_count,E10000024,2025-03-31,9000\n"
    sent = web.post("/upload", data={"mode": "default", "csrf_token": csrf}, files={"file": ("b.csv", jump)})
    assert sent.status_code == 303
    report = web.get(sent.headers["location"])
    assert "Queries you can answer with a note" in report.text
    action = re.search(r'action="(/submissions/\d+/rows/2/note)"', report.text)
    assert action
    answered = web.post(action.group(1), data={"note": "A new referral team cleared a backlog", "csrf_token": csrf})
    assert answered.status_code == 303
    assert "Figures accepted" in web.get(answered.headers["location"]).text
    figures = web.get("/api/figures?indicator=cyp.cin_count&org=E10000024", headers={"X-API-Key": AGENCY}).json()
    current = [f for f in figures["items"] if f["period"] == "2025-03-31" and f["is_current"]]
    assert [(f["value"], f["note"]) for f in current] == [(9000, "A new referral team cleared a backlog")]


def test_the_report_highlights_problem_rows(web: TestClient) -> None:
    csrf = sign_in(web, AGENCY)
    bad = (
        b"indicator,org,period,value\ncyp.cin_count,E10000024,2025-03-31,lots\ncyp.cpp_count,E10000024,2025-03-31,500\n"
    )
    sent = web.post("/upload", data={"mode": "default", "csrf_token": csrf}, files={"file": ("c.csv", bad)})
    page = web.get(sent.headers["location"]).text
    assert page.count('data-problem="error"') == 1
    assert re.search(r'<tr class="govuk-table__row app-row--error" id="row-2" data-problem="error">', page)
    assert 'href="#row-2"' in page


def test_a_dry_run_stores_nothing(web: TestClient) -> None:
    csrf = sign_in(web, AGENCY)
    csv = b"indicator,org,period,value\ncyp.cin_count,E10000024,2025-03-31,4000\n"
    response = web.post("/upload", data={"mode": "dry_run", "csrf_token": csrf}, files={"file": ("d.csv", csv)})
    assert response.status_code == 200
    assert "Check of your file" in response.text
    listing = web.get("/api/submissions", headers={"X-API-Key": AGENCY}).json()
    assert listing["total"] == 0


def test_the_regulator_sees_what_changed_since_its_download(web: TestClient) -> None:
    sign_in(web, DFE)
    assert web.get("/regulator/download/dfe_ssda903/FY2024-25.csv").status_code == 200
    assert "Nothing has changed since" in web.get("/regulator").text
    csv = b"indicator,org,period,value\ncyp.lac_count,E10000024,2025-03-31,911\n"
    assert (
        web.post("/api/submissions", headers={"X-API-Key": AGENCY}, files={"file": ("e.csv", csv)}).status_code == 201
    )
    page = web.get("/regulator").text
    assert re.search(r"[1-9]\d* cells? changed since", page)
    since = re.search(r'href="(/regulator/download/dfe_ssda903/FY2024-25.csv\?updated_after=[^"]+)"', page)
    assert since
    only = web.get(since.group(1).replace("&amp;", "&"))
    assert only.status_code == 200
    assert int(only.headers["X-Changed-Cells"]) >= 1
    # The revised cell waits for Nottinghamshire's approver; once signed off, the page says when.
    cell = re.search(r'<li data-cell="EPI.CLA_31MAR\|E10000024\|">(.*?)</li>', page, re.S)
    assert cell
    assert "not yet signed off by Nottinghamshire County Council" in cell.group(1)
    sign_off_over_client(web, AGENCY, "notts_cyp", "dfe_ssda903", "FY2024-25")
    page = web.get("/regulator").text
    cell = re.search(r'<li data-cell="EPI.CLA_31MAR\|E10000024\|">(.*?)</li>', page, re.S)
    assert cell
    assert "signed off again" in cell.group(1)
    assert "not yet signed off" not in cell.group(1)


def sign_off_over_client(client: TestClient, key: str, agency: str, return_id: str, period: str) -> None:
    """Sign off one agency's return for a period as its approver does over the API."""
    path = f"/api/signoffs/{agency}/{return_id}/{period}"
    review = client.get(path, headers={"X-API-Key": key})
    assert review.status_code == 200, review.text
    signed = client.post(
        f"{path}/sign-off",
        headers={"X-API-Key": key},
        json={"declaration": review.json()["declaration"], "digest": review.json()["digest"]},
    )
    assert signed.status_code == 200, signed.text


def _status_cell(page: str, return_id: str, period: str) -> str:
    table = page.split(f'id="return-{return_id}"', 1)[1].split("</table>", 1)[0]
    row = re.search(rf'<th scope="row" class="govuk-table__header">{period}</th>(.*?)</tr>', table, re.S)
    assert row, f"no row for {period}"
    status = re.search(r'<td class="govuk-table__cell app-signoff-status"[^>]*>(.*?)</td>', row.group(1), re.S)
    assert status
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", status.group(1))).split())


def test_the_regulator_sees_whom_each_period_waits_for_and_the_page_builds_each_period_once(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    from sqlalchemy import event

    from tests.helpers import upload
    from tests.signoffs import sign_off_everything

    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,901,,,,")
    upload(store, store_settings, "lewisham_council", "cyp.lac_count,E09000023,2025-03-31,,480,,,,")
    sign_off_everything(store)
    sign_in(web, DFE)
    page = web.get("/regulator").text
    assert _status_cell(page, "dfe_ssda903", "FY2024-25").startswith("Signed off by all 2 Last signed off")
    # A revision reopens Nottinghamshire's sign-off: the period now waits for it, by name.
    upload(store, store_settings, "notts_cyp", "cyp.lac_count,E10000024,2025-03-31,,902,,,,")
    page = web.get("/regulator").text
    waiting = _status_cell(page, "dfe_ssda903", "FY2024-25")
    assert waiting.startswith(
        "Waiting Not yet signed off by Nottinghamshire County Council, Children and Young People's Services "
        "(1 of 2 signed off) Last signed off"
    ), waiting
    assert "notts_cyp" not in waiting

    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store, "before_cursor_execute", count)
    try:
        again = web.get("/regulator").text
    finally:
        event.remove(store, "before_cursor_execute", count)
    assert _status_cell(again, "dfe_ssda903", "FY2024-25") == waiting
    # Nothing changed since the last view, so no period is built again: only the sign-offs are read, once.
    assert sum("FROM signoff " in s or "FROM signoff\n" in s for s in statements) == 1, statements
    assert not any("FROM observation" in s and "indicator_id IN" in s for s in statements)
    assert len(statements) <= 25, len(statements)


def test_glossary_explains_acronyms(web: TestClient) -> None:
    page = web.get("/glossary").text
    assert '<abbr title="National Drug Treatment Monitoring System">NDTMS</abbr>' in page


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_api_docs_load_nothing_from_another_host(web: TestClient, path: str) -> None:
    page = web.get(path)
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources
    assert all(s.startswith("/") for s in sources), sources
    for s in sources:
        assert web.get(s).status_code == 200, s


def test_pages_load_nothing_from_another_host(web: TestClient) -> None:
    page = web.get("/sign-in").text
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
    css = web.get("/assets/govuk/govuk-frontend.min.css").text
    assert "GDS Transport" not in css
    assert "@font-face" not in css
    assert "govuk-crest" not in css


def test_assets_and_templates_are_package_data() -> None:
    """A non-editable install ships every template and vendored asset."""
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api"]
    web_root = STATIC.parent
    files = [p for p in web_root.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"]
    assert len(files) > 20
    for path in files:
        relative = path.relative_to(ROOT / "api").as_posix()
        assert any(fnmatch.fnmatch(relative, p) and relative.count("/") == p.count("/") for p in patterns), relative


def test_acronyms_in_return_titles_are_spelt_out(web: TestClient) -> None:
    sign_in(web, DFE)
    page = web.get("/regulator").text
    assert '(<abbr title="the DfE return on children looked after">SSDA903</abbr>)' in page
    assert '<abbr title="Statistical Data and Metadata eXchange' in page


def test_burden_is_drawn_on_the_server_for_returns_in_force(web: TestClient) -> None:
    sign_in(web, OFFICER)
    page = web.get("/burden?period=FY2024-25").text
    assert page.count('<svg xmlns="http://www.w3.org/2000/svg" role="img"') == 2
    assert "<script" not in page.split("<main", 1)[1].split("</main>", 1)[0]
    returns = re.search(r'<table class="govuk-table app-table--small" id="return-burden">(.*?)</table>', page, re.S)
    assert returns
    assert "National Indicator Set" not in returns.group(1)
    # The caption names each part by the colour the chart draws it in (tests/web/test_charts.py holds the colours).
    caption = " ".join(
        re.sub(r"<[^>]+>", " ", page.split("Each bar is the cells", 1)[1].split("</figcaption>", 1)[0]).split()
    )
    for said in (
        "dark blue is still keyed by hand",
        "blue is keyed once",
        "orange is worked out",
        "yellow is keyed by nobody: a publisher",
        "a child's cell filled from the council's record-level files",
    ):
        assert said in caption


@pytest.mark.parametrize(("wanted", "lands"), [("/history", "/history"), ("//elsewhere.example/x", "/agency")])
def test_sign_in_returns_to_the_page_asked_for_on_this_site_only(web: TestClient, wanted: str, lands: str) -> None:
    form = web.get("/sign-in", params={"next": wanted})
    response = web.post("/sign-in", data={"key": AGENCY, "csrf_token": csrf_token(form.text), "next": wanted})
    assert response.headers["location"] == lands


def test_pages_are_audited_like_the_api(web: TestClient) -> None:
    csv = b"indicator,org,period,value\ncyp.cin_count,E10000024,2025-03-31,4000\n"
    sent = web.post("/api/submissions", headers={"X-API-Key": AGENCY}, files={"file": ("a.csv", csv)})
    form = web.get("/sign-in")
    web.post("/sign-in", data={"key": "demo-notts-cyp-0000000000", "csrf_token": csrf_token(form.text)})
    sign_in(web, AGENCY)
    assert web.get(f"/submissions/{sent.json()['id']}").status_code == 200
    assert web.get("/officer").status_code == 403
    trail = web.get("/api/audit", headers={"X-API-Key": OFFICER}, params={"limit": 50}).json()["items"]
    seen = {(e["action"], e["object"], e["outcome"]) for e in trail if "notts_cyp" in e["principal"]}
    assert ("submission.read", f"/submissions/{sent.json()['id']}", "ok") in seen
    assert ("dashboard", "/officer", "refused") in seen
    assert ("sign.in", "web session", "ok") in seen
    assert any(e["action"] == "sign.in" and e["outcome"] == "refused" for e in trail)


def test_the_officer_issues_and_revokes_a_key_in_the_pages(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    csrf = sign_in(web, OFFICER)
    issued = web.post(
        "/keys", data={"role": "agency", "label": "Notts data team", "agency": "notts_cyp", "csrf_token": csrf}
    )
    assert issued.status_code == 200
    key = re.search(r'<code class="app-key" id="issued-key">([^<]+)</code>', issued.text)
    assert key
    assert key.group(1) not in web.get("/keys").text  # shown once only
    with client_on(store_settings, store, follow_redirects=False) as holder:
        sign_in(holder, key.group(1))
        assert holder.get("/agency").status_code == 200
        prefix = re.search(
            r'data-prefix="([^"]+)"[^>]*>\s*<td class="govuk-table__cell"><code>[^<]+</code></td>\s*<td class="govuk-table__cell">Notts data team',
            web.get("/keys").text,
        )
        assert prefix
        assert web.post(f"/keys/{prefix.group(1)}/revoke", data={"csrf_token": csrf}).status_code == 303
        assert holder.get("/agency").status_code == 303


def test_a_key_for_an_unknown_agency_is_refused_in_the_form(web: TestClient) -> None:
    csrf = sign_in(web, OFFICER)
    response = web.post("/keys", data={"role": "agency", "label": "x", "agency": "nobody", "csrf_token": csrf})
    assert response.status_code == 400
    assert "is not known" in response.text
    assert 'href="#agency"' in response.text


def test_agencies_and_keys_are_for_officers_only(web: TestClient) -> None:
    sign_in(web, AGENCY)
    assert web.get("/keys").status_code == 403
    assert web.get("/agencies").status_code == 403


PAGES_BY_KEY = {
    None: ["/sign-in", "/glossary", "/signed-out"],
    AGENCY: ["/agency", "/upload", "/submissions", "/history", "/officer", "/submissions/999999"],
    OFFICER: [
        "/officer",
        "/officer/approvals",
        "/officer/approvals/notts_cyp/dfe_ssda903/FY2024-25",
        "/calendar",
        "/catalogue",
        "/catalogue/indicators/cyp.cin_count",
        "/burden?period=FY2024-25",
        "/outbox",
        "/agencies",
        "/keys",
    ],
    DFE: ["/regulator"],
}


def test_every_page_carries_the_full_policy_and_only_hashed_inline_script(
    store: Engine, store_settings: Settings
) -> None:
    """Each page's one inline script is the hashed one and no page has an inline style; JSON keeps its policy."""
    for key, paths in PAGES_BY_KEY.items():
        with client_on(store_settings, store, follow_redirects=False) as client:
            if key:
                sign_in(client, key)
            for path in paths:
                response = client.get(path)
                assert response.headers["content-type"].startswith("text/html"), path
                assert response.headers["content-security-policy"] == PAGE_POLICY, path
                inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", response.text, re.S)
                assert inline == [GOVUK_JS_ENABLED], path
                assert script_hash(inline[0]) in PAGE_POLICY
                assert not re.search(r"<style|\sstyle=", response.text), path
    with client_on(store_settings, store) as client:
        for response in (client.get("/health"), client.get("/api/figures", headers={"X-API-Key": OFFICER})):
            assert response.headers["content-type"].startswith("application/json")
            assert response.headers["content-security-policy"] == OTHER_POLICY


def test_the_page_policy_allows_only_this_origin() -> None:
    directives = dict(d.split(" ", 1) for d in PAGE_POLICY.split("; "))
    assert directives == {
        "default-src": "'self'",
        "script-src": f"'self' {script_hash(GOVUK_JS_ENABLED)}",
        "style-src": "'self'",
        "img-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    # The hash is the base64 SHA-256 of the script's exact text, as CSP Level 3 defines a hash-source.
    assert script_hash("alert(1)") == "'sha256-bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI='"


def test_the_api_documentation_has_its_own_policy_with_a_fresh_nonce(web: TestClient) -> None:
    docs = web.get("/docs")
    assert "script-src 'self';" in docs.headers["content-security-policy"]
    assert "<script>" not in docs.text
    nonces = set()
    for _ in range(2):
        redoc = web.get("/redoc")
        policy = redoc.headers["content-security-policy"]
        nonce = re.search(r"'nonce-([^']+)'", policy)
        assert nonce
        assert f'data-nonce="{nonce.group(1)}"' in redoc.text
        assert "unsafe-inline" not in policy
        nonces.add(nonce.group(1))
    assert len(nonces) == 2
