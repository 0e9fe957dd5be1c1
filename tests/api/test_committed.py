"""A success answer means the change is committed: what a write route changed is there for the very next request,
on a new connection, and a write whose commit fails is answered with an error and leaves the store as it was.

The request's session used to be committed after the answer was sent (FastAPI's "request" scope for a dependency
with yield): a key just issued was refused on its first use, and a revoked key still served, about half the time.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, inspect, text

from api.throttle import KeyThrottle
from mappings.catalogue import DEFAULT_DECLARATION
from onereturn.settings import Settings
from tests.apps import lent_app
from tests.collectors.records.samples import TABLES_903
from tests.live import live_server
from tests.web.pages import csrf_token

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
KENT = {"code": "kent_cyp", "name": "Kent CYP", "body_type": "local_authority", "orgs": ["E10000016"]}
#: Rounds of issue, use, revoke (or rotate), use: two revokes and a rotate, then one sign-in and sign-out. With
#: commits slowed (below), an answer sent before its commit fails every round, not about half of them as without
#: the slowing, so one round of each kind is already certain to show it; more rounds only repeat the same requests.
ROUNDS = 3


@contextmanager
def _app(store: Engine, settings: Settings) -> Iterator[FastAPI]:
    with lent_app(settings, store) as app:
        # Every refused key here is expected: the throttle would answer 429 in their place.
        app.state.key_throttle = KeyThrottle(failures=10**6)
        yield app


def test_every_change_is_there_for_the_very_next_request(store: Engine, store_settings: Settings) -> None:
    """Each step on a connection of its own, right after the answer before it: an issued key works, a revoked key
    and a rotated key's old secret are refused, an agency change is served, a signed-out session is over."""
    wrong: list[str] = []
    # Each commit takes a while, as on a busy store: an answer sent before its commit is then always early.
    with slow_commits(store, 0.1), _app(store, store_settings) as app, live_server(app) as base:

        def call(method: str, path: str, cookies: httpx.Cookies | None = None, **kwargs: Any) -> httpx.Response:
            # A client of its own: a new connection, as a second caller (or a load balancer) would use.
            with httpx.Client(base_url=base, timeout=60, follow_redirects=False, cookies=cookies) as client:
                return client.request(method, path, **kwargs)

        assert call("POST", "/api/agencies", headers=OFFICER, json=KENT).status_code == 201
        for n in range(ROUNDS):
            issued = call(
                "POST",
                "/api/keys",
                headers=OFFICER,
                json={"role": "agency", "agency": "notts_cyp", "label": f"round {n}"},
            )
            assert issued.status_code == 201, issued.text
            key, prefix = issued.json()["key"], issued.json()["prefix"]
            if (used := call("GET", "/api/submissions", headers={"X-API-Key": key}).status_code) != 200:
                wrong.append(f"round {n}: an issued key was answered {used} on its first use")
            if n % 3 == 2:
                rotated = call("POST", f"/api/keys/{prefix}/rotate", headers=OFFICER)
                assert rotated.status_code == 201, rotated.text
                if (used := call("GET", "/api/submissions", headers={"X-API-Key": key}).status_code) != 401:
                    wrong.append(f"round {n}: a rotated key's old secret was answered {used}")
                fresh = {"X-API-Key": rotated.json()["key"]}
                if (used := call("GET", "/api/submissions", headers=fresh).status_code) != 200:
                    wrong.append(f"round {n}: a rotated key's new secret was answered {used}")
            else:
                assert call("POST", f"/api/keys/{prefix}/revoke", headers=OFFICER).status_code == 200
                if (used := call("GET", "/api/submissions", headers={"X-API-Key": key}).status_code) != 401:
                    wrong.append(f"round {n}: a revoked key was answered {used}")
            name = f"Kent CYP {n}"
            assert call("PATCH", "/api/agencies/kent_cyp", headers=OFFICER, json={"name": name}).status_code == 200
            if (shown := call("GET", "/api/agencies/kent_cyp", headers=OFFICER).json()["name"]) != name:
                wrong.append(f"round {n}: an agency renamed {name!r} was served as {shown!r}")
        for n in range(ROUNDS // 3):
            form = call("GET", "/sign-in")
            signed = call(
                "POST",
                "/sign-in",
                data={"key": NOTTS["X-API-Key"], "csrf_token": csrf_token(form.text)},
                cookies=form.cookies,
            )
            assert signed.status_code == 303, signed.text
            home = call("GET", LIGHT_PAGE[NOTTS["X-API-Key"]], cookies=signed.cookies)
            if home.status_code != 200:
                wrong.append(f"sign-in {n}: the new session was answered {home.status_code}")
                continue
            out = call("POST", "/sign-out", data={"csrf_token": csrf_token(home.text)}, cookies=signed.cookies)
            assert out.status_code == 303, out.text
            if (after := call("GET", LIGHT_PAGE[NOTTS["X-API-Key"]], cookies=signed.cookies).status_code) == 200:
                wrong.append(f"sign-out {n}: the ended session was answered {after}")
    assert not wrong, "\n".join(wrong)


@contextmanager
def slow_commits(engine: Engine, seconds: float) -> Iterator[None]:
    """Every commit on ``engine`` waits ``seconds`` in the driver before it is made."""
    real = engine.dialect.do_commit

    def slow(dbapi_connection: Any) -> None:
        time.sleep(seconds)
        real(dbapi_connection)

    engine.dialect.do_commit = slow  # type: ignore[method-assign]
    try:
        yield
    finally:
        engine.dialect.do_commit = real  # type: ignore[method-assign]


@contextmanager
def commits_fail(engine: Engine) -> Iterator[None]:
    """Every commit on ``engine`` fails in the driver, as one on a full disk or a store that went away does."""
    real = engine.dialect.do_commit
    failure = (
        sqlite3.OperationalError("disk I/O error") if engine.dialect.name == "sqlite" else psycopg.errors.DiskFull()
    )

    def refuse(_dbapi_connection: Any) -> None:
        raise failure

    engine.dialect.do_commit = refuse  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        engine.dialect.do_commit = real  # type: ignore[method-assign]


def store_digest(engine: Engine) -> dict[str, str]:
    """Every table's rows, hashed in key order: equal digests mean nothing was changed."""
    digests = {}
    with engine.connect() as conn:
        tables = [t for t in sorted(inspect(conn).get_table_names()) if t != "alembic_version"]
        if engine.dialect.name == "postgresql":
            # Each row's text, sorted and hashed by the server, every table in one query: the same rows give the
            # same digest, and none is sent over (two digests a test, 76 tests, thousands of catalogue rows).
            query = " UNION ALL ".join(
                f"SELECT '{t}', md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r::text), '')) FROM \"{t}\" AS r"
                for t in tables
            )
            return {str(table): str(digest) for table, digest in conn.execute(text(query)).all()}
        # The same on SQLite, which has no md5: each row's text (quote() spells every value exactly, blobs too) made
        # and sorted by SQLite, only hashed here.
        cursor = conn.connection.cursor()
        for table in tables:
            names = [row[1] for row in cursor.execute(f'PRAGMA table_info("{table}")').fetchall()]
            spelled = " || char(31) || ".join(f'quote("{name}")' for name in names)
            rows = cursor.execute(f'SELECT {spelled} FROM "{table}" ORDER BY 1').fetchall()
            digests[table] = hashlib.sha256("\n".join(row[0] for row in rows).encode()).hexdigest()
    return digests


#: A light page of each kind of visitor to read the session's CSRF token from: the landing pages build every
#: return's deadlines and figures, which took a second a sign-in here and is not what these tests are about.
LIGHT_PAGE = {NOTTS["X-API-Key"]: "/submissions", OFFICER["X-API-Key"]: "/keys"}


def signed_in(client: TestClient, key: str) -> str:
    """Sign in through the form; return the session's CSRF token."""
    form = client.get("/sign-in")
    response = client.post("/sign-in", data={"key": key, "csrf_token": csrf_token(form.text)})
    assert response.status_code == 303, response.text
    landing = client.get(LIGHT_PAGE[key])
    assert landing.status_code == 200
    return csrf_token(landing.text)


def _issued(client: TestClient) -> str:
    issued = client.post("/api/keys", headers=OFFICER, json={"role": "agency", "agency": "notts_cyp", "label": "x"})
    assert issued.status_code == 201, issued.text
    return str(issued.json()["prefix"])


def _queried(client: TestClient) -> tuple[int, int]:
    """An upload holding one figure under query (a jump from the figure before); its id and the query's row."""
    rows = "indicator,org,period,value\ncyp.cin_count,E10000024,2025-03-31,{}\n"
    assert (
        client.post("/api/submissions", headers=NOTTS, files={"file": ("a.csv", rows.format(4000))}).status_code == 201
    )
    held = client.post("/api/submissions", headers=NOTTS, files={"file": ("b.csv", rows.format(9000))})
    assert held.status_code == 201, held.text
    return int(held.json()["id"]), 2


CSV = b"indicator,org,period,value\ncyp.lac_count,E10000024,2025-03-31,1234\n"
IMPORT = b"code,name,body_type,orgs,returns\nkent_cyp,Kent CYP,local_authority,E10000016,dfe_ssda903\n"
NOTE = "A new team cleared a backlog"
Send = Callable[[], httpx.Response]


def upload(c: TestClient) -> Send:
    return lambda: c.post("/api/submissions", headers=NOTTS, files={"file": ("f.csv", CSV)})


def answer_query(c: TestClient) -> Send:
    submission_id, _row = _queried(c)
    held = c.get(f"/api/submissions/{submission_id}/queries", headers=NOTTS).json()["items"][0]
    return lambda: c.post(f"/api/submissions/{submission_id}/queries/{held['id']}", headers=NOTTS, json={"note": NOTE})


def add_agency(c: TestClient) -> Send:
    return lambda: c.post("/api/agencies", headers=OFFICER, json=KENT)


def change_agency(c: TestClient) -> Send:
    assert c.post("/api/agencies", headers=OFFICER, json=KENT).status_code == 201
    return lambda: c.patch("/api/agencies/kent_cyp", headers=OFFICER, json={"name": "Kent"})


def import_agencies(c: TestClient) -> Send:
    return lambda: c.post("/api/agencies/import", headers=OFFICER, files={"file": ("a.csv", IMPORT)})


def issue_key(c: TestClient) -> Send:
    return lambda: c.post("/api/keys", headers=OFFICER, json={"role": "officer", "label": "deputy"})


def revoke_key(c: TestClient) -> Send:
    prefix = _issued(c)
    return lambda: c.post(f"/api/keys/{prefix}/revoke", headers=OFFICER)


def rotate_key(c: TestClient) -> Send:
    prefix = _issued(c)
    return lambda: c.post(f"/api/keys/{prefix}/rotate", headers=OFFICER)


def sign_in(c: TestClient) -> Send:
    token = csrf_token(c.get("/sign-in").text)
    return lambda: c.post("/sign-in", data={"key": NOTTS["X-API-Key"], "csrf_token": token})


def sign_out(c: TestClient) -> Send:
    csrf = signed_in(c, NOTTS["X-API-Key"])
    return lambda: c.post("/sign-out", data={"csrf_token": csrf})


def upload_page(c: TestClient) -> Send:
    csrf = signed_in(c, NOTTS["X-API-Key"])
    return lambda: c.post("/upload", data={"mode": "default", "csrf_token": csrf}, files={"file": ("f.csv", CSV)})


def records_page(c: TestClient) -> Send:
    csrf = signed_in(c, NOTTS["X-API-Key"])
    tables = [("files", (p.name, p.read_bytes(), "text/csv")) for p in TABLES_903]
    return lambda: c.post("/upload/records", data={"collection_year": "2024-25", "csrf_token": csrf}, files=tables)


ANNEX_COLUMNS = b"Child Unique ID,List 3: Allocated Team\nX1,Team North\n"


def annex_columns(c: TestClient) -> Send:
    return lambda: c.post(
        "/api/agencies/notts_cyp/annex-a/columns", headers=NOTTS, files={"file": ("c.csv", ANNEX_COLUMNS)}
    )


def annex_columns_page(c: TestClient) -> Send:
    csrf = signed_in(c, NOTTS["X-API-Key"])
    return lambda: c.post("/annex-a/columns", data={"csrf_token": csrf}, files={"file": ("c.csv", ANNEX_COLUMNS)})


def note_page(c: TestClient) -> Send:
    submission_id, row = _queried(c)
    csrf = signed_in(c, NOTTS["X-API-Key"])
    return lambda: c.post(f"/submissions/{submission_id}/rows/{row}/note", data={"note": NOTE, "csrf_token": csrf})


def issue_key_page(c: TestClient) -> Send:
    csrf = signed_in(c, OFFICER["X-API-Key"])
    form = {"role": "agency", "label": "Notts data team", "agency": "notts_cyp", "csrf_token": csrf}
    return lambda: c.post("/keys", data=form)


def revoke_key_page(c: TestClient) -> Send:
    prefix, csrf = _issued(c), signed_in(c, OFFICER["X-API-Key"])
    return lambda: c.post(f"/keys/{prefix}/revoke", data={"csrf_token": csrf})


def rotate_key_page(c: TestClient) -> Send:
    prefix, csrf = _issued(c), signed_in(c, OFFICER["X-API-Key"])
    return lambda: c.post(f"/keys/{prefix}/rotate", data={"csrf_token": csrf})


SIGNOFF = "/api/signoffs/notts_cyp/dfe_ssda903/FY2024-25"


def _read(c: TestClient) -> dict[str, str]:
    """What the approver sends back to sign off: the declaration and the digest of the review read."""
    review = c.get(SIGNOFF, headers=NOTTS).json()
    return {"declaration": DEFAULT_DECLARATION, "digest": review["digest"]}


def _signed(c: TestClient) -> None:
    """Nottinghamshire's figure uploaded and signed off by its approver."""
    assert c.post("/api/submissions", headers=NOTTS, files={"file": ("f.csv", CSV)}).status_code == 201
    signed = c.post(f"{SIGNOFF}/sign-off", headers=NOTTS, json=_read(c))
    assert signed.status_code == 200, signed.text


def sign_off(c: TestClient) -> Send:
    assert c.post("/api/submissions", headers=NOTTS, files={"file": ("f.csv", CSV)}).status_code == 201
    read = _read(c)
    return lambda: c.post(f"{SIGNOFF}/sign-off", headers=NOTTS, json=read)


def unapprove(c: TestClient) -> Send:
    _signed(c)
    return lambda: c.post(f"{SIGNOFF}/unapprove", headers=NOTTS)


def accept(c: TestClient) -> Send:
    _signed(c)
    return lambda: c.post(f"{SIGNOFF}/accept", headers=OFFICER)


def send_back(c: TestClient) -> Send:
    _signed(c)
    return lambda: c.post(f"{SIGNOFF}/return", headers=OFFICER, json={"reason": "The count looks a year old"})


def sign_off_page(c: TestClient) -> Send:
    assert c.post("/api/submissions", headers=NOTTS, files={"file": ("f.csv", CSV)}).status_code == 201
    csrf = signed_in(c, NOTTS["X-API-Key"])
    form = {**_read(c), "csrf_token": csrf, "confirm": "yes"}
    return lambda: c.post("/signoffs/dfe_ssda903/FY2024-25", data=form)


def withdraw_page(c: TestClient) -> Send:
    _signed(c)
    csrf = signed_in(c, NOTTS["X-API-Key"])
    return lambda: c.post("/signoffs/dfe_ssda903/FY2024-25/withdraw", data={"csrf_token": csrf})


APPROVAL = "/officer/approvals/notts_cyp/dfe_ssda903/FY2024-25"


def accept_page(c: TestClient) -> Send:
    _signed(c)
    csrf = signed_in(c, OFFICER["X-API-Key"])
    return lambda: c.post(f"{APPROVAL}/accept", data={"csrf_token": csrf})


def send_back_page(c: TestClient) -> Send:
    _signed(c)
    csrf = signed_in(c, OFFICER["X-API-Key"])
    return lambda: c.post(f"{APPROVAL}/return", data={"csrf_token": csrf, "reason": "The count looks a year old"})


#: ONS's population file as published, with Waltham Forest's 2012 estimate revised: a release that changes one figure.
_ONS = Path(__file__).resolve().parents[2] / "collectors" / "published" / "files"
REVISED_ONS = (
    (_ONS / "ons_mid-year_population_estimates_2012_to_2024.csv").read_bytes().replace(b",62744\n", b",62745\n")
)


def publish(c: TestClient) -> Send:
    files = {"file": ("ons.csv", REVISED_ONS)}
    return lambda: c.post("/api/published/sources/ons_population_0_17/releases", headers=OFFICER, files=files)


def publish_page(c: TestClient) -> Send:
    csrf = signed_in(c, OFFICER["X-API-Key"])
    data = {"source": "ons_population_0_17", "csrf_token": csrf}
    return lambda: c.post("/officer/published", data=data, files={"file": ("ons.csv", REVISED_ONS)})


GROUP = {"id": "east_mids", "title": "East Midlands counties", "source": "our choice", "members": ["E10000024"]}


def add_group(c: TestClient) -> Send:
    return lambda: c.post("/api/groups", headers=OFFICER, json=GROUP)


def change_group(c: TestClient) -> Send:
    return lambda: c.patch("/api/groups/core_cities_england", headers=OFFICER, json={"title": "Core cities"})


def delete_group(c: TestClient) -> Send:
    return lambda: c.delete("/api/groups/core_cities_england", headers=OFFICER)


def add_group_page(c: TestClient) -> Send:
    csrf = signed_in(c, OFFICER["X-API-Key"])
    data = {"id": "east_mids", "title": "East Midlands", "source": "ours", "members": "E10000024", "csrf_token": csrf}
    return lambda: c.post("/officer/groups", data=data)


def change_group_page(c: TestClient) -> Send:
    csrf = signed_in(c, OFFICER["X-API-Key"])
    data = {"title": "Core cities", "source": "ours", "members": "E08000025 E08000035", "csrf_token": csrf}
    return lambda: c.post("/officer/groups/core_cities_england", data=data)


def delete_group_page(c: TestClient) -> Send:
    csrf = signed_in(c, OFFICER["X-API-Key"])
    return lambda: c.post("/officer/groups/core_cities_england/delete", data={"csrf_token": csrf})


_NOTTS_2024 = b"Nottinghamshire,Children aged 0 to 17 years,171572"


def _held_figure(c: TestClient) -> int:
    """A publisher's figure held by a query: ONS's file, then the same with Nottinghamshire's estimate tripled."""
    return _held(c)["id"]


def _held(c: TestClient) -> dict[str, int]:
    """The held figure's id and its release's, as ``_held_figure`` makes them."""
    url = "/api/published/sources/ons_population_0_17/releases"
    bundled = (_ONS / "ons_mid-year_population_estimates_2012_to_2024.csv").read_bytes()
    assert _NOTTS_2024 in bundled
    assert c.post(url, headers=OFFICER, files={"file": ("ons.csv", bundled)}).status_code == 201
    jumped = bundled.replace(_NOTTS_2024, b"Nottinghamshire,Children aged 0 to 17 years,514716")
    assert c.post(url, headers=OFFICER, files={"file": ("jumped.csv", jumped)}).status_code == 201
    held = c.get("/api/published/queries", headers=OFFICER).json()["items"][0]
    return {"id": int(held["id"]), "release_id": int(held["release_id"])}


def confirm_held(c: TestClient) -> Send:
    held = _held_figure(c)
    return lambda: c.post(f"/api/published/queries/{held}", headers=OFFICER, json={"note": "ONS rebased it"})


def confirm_held_page(c: TestClient) -> Send:
    held = _held_figure(c)
    csrf = signed_in(c, OFFICER["X-API-Key"])
    return lambda: c.post(f"/officer/published/queries/{held}", data={"note": "ONS rebased it", "csrf_token": csrf})


def confirm_release(c: TestClient) -> Send:
    release = _held(c)["release_id"]
    url = f"/api/published/releases/{release}/queries"
    return lambda: c.post(url, headers=OFFICER, json={"note": "ONS rebased them"})


def confirm_release_page(c: TestClient) -> Send:
    release = _held(c)["release_id"]
    csrf = signed_in(c, OFFICER["X-API-Key"])
    url = f"/officer/published/releases/{release}/queries"
    return lambda: c.post(url, data={"note": "ONS rebased them", "csrf_token": csrf})


#: A region of which Nottinghamshire (it sends the SSDA903) is a member, imported as the officer onboards one.
REGION = b"code,name,body_type,orgs,provenance\nmidlands_hub,Midlands hub,region,E10000024,a test region\n"
CONSENT = "/api/agencies/notts_cyp/consent/midlands_hub"


def _region(c: TestClient) -> None:
    imported = c.post("/api/agencies/import", headers=OFFICER, files={"file": ("r.csv", REGION)})
    assert imported.status_code < 300, imported.text


def give_consent(c: TestClient) -> Send:
    _region(c)
    return lambda: c.put(CONSENT, headers=NOTTS, json={"use_cases": ["pan"]})


def withdraw_consent(c: TestClient) -> Send:
    _region(c)
    assert c.put(CONSENT, headers=NOTTS, json={"use_cases": ["pan"]}).status_code == 200
    return lambda: c.delete(CONSENT, headers=NOTTS)


def consent_page(c: TestClient) -> Send:
    _region(c)
    csrf = signed_in(c, NOTTS["X-API-Key"])
    return lambda: c.post("/consent/midlands_hub", data={"use_cases": "pan", "csrf_token": csrf})


def withdraw_page_consent(c: TestClient) -> Send:
    _region(c)
    assert c.put(CONSENT, headers=NOTTS, json={"use_cases": ["pan"]}).status_code == 200
    csrf = signed_in(c, NOTTS["X-API-Key"])
    return lambda: c.post("/consent/midlands_hub/withdraw", data={"csrf_token": csrf})


def send_page(c: TestClient) -> Send:
    from tests.collectors.sen2.test_sen2_breakdowns import hand_worked

    csrf = signed_in(c, NOTTS["X-API-Key"])
    sen2 = [("files", ("sen2.xml", hand_worked(), "application/xml"))]
    return lambda: c.post("/send", data={"collection_year": "2024-25", "csrf_token": csrf}, files=sen2)


def census_page(c: TestClient) -> Send:
    import tempfile

    from collectors.census.synthetic import write_census

    csrf = signed_in(c, NOTTS["X-API-Key"])
    with tempfile.TemporaryDirectory() as folder:
        made = write_census(Path(folder), [], year=2025, term="spring", others=20, seed=1)
        blades = [("files", (name, path.read_bytes(), "text/csv")) for name, path in made]
    return lambda: c.post("/census", data={"collection_year": "2024-25", "csrf_token": csrf}, files=blades)


def _register() -> dict[str, tuple[str, bytes, str]]:
    from tests.mappings.test_establishments import LINKS, NAME, links_file, register_file

    return {"file": (NAME, register_file(), "text/csv"), "links": (LINKS, links_file(), "text/csv")}


def load_register(c: TestClient) -> Send:
    return lambda: c.post("/api/establishments", headers=OFFICER, files=_register())


def load_register_page(c: TestClient) -> Send:
    csrf = signed_in(c, OFFICER["X-API-Key"])
    return lambda: c.post("/officer/establishments", data={"csrf_token": csrf}, files=_register())


#: For every write route: what readies its write (run with commits working) and returns the write itself. A write
#: route missing here fails test_every_write_route_is_tried, so a new one cannot be left out.
WRITES: dict[tuple[str, str], Callable[[TestClient], Send]] = {
    ("POST", "/api/submissions"): upload,
    ("POST", "/api/submissions/{submission_id}/queries/{figure_id}"): answer_query,
    ("POST", "/api/agencies"): add_agency,
    ("PATCH", "/api/agencies/{code}"): change_agency,
    ("POST", "/api/agencies/import"): import_agencies,
    ("POST", "/api/keys"): issue_key,
    ("POST", "/api/keys/{prefix}/revoke"): revoke_key,
    ("POST", "/api/keys/{prefix}/rotate"): rotate_key,
    ("POST", "/sign-in"): sign_in,
    ("POST", "/sign-out"): sign_out,
    ("POST", "/upload"): upload_page,
    ("POST", "/upload/records"): records_page,
    ("POST", "/submissions/{submission_id}/rows/{row}/note"): note_page,
    ("POST", "/keys"): issue_key_page,
    ("POST", "/keys/{prefix}/revoke"): revoke_key_page,
    ("POST", "/keys/{prefix}/rotate"): rotate_key_page,
    ("POST", "/api/signoffs/{agency}/{return_id}/{period}/sign-off"): sign_off,
    ("POST", "/api/signoffs/{agency}/{return_id}/{period}/unapprove"): unapprove,
    ("POST", "/api/signoffs/{agency}/{return_id}/{period}/accept"): accept,
    ("POST", "/api/signoffs/{agency}/{return_id}/{period}/return"): send_back,
    ("POST", "/signoffs/{return_id}/{period}"): sign_off_page,
    ("POST", "/signoffs/{return_id}/{period}/withdraw"): withdraw_page,
    ("POST", "/officer/approvals/{agency}/{return_id}/{period}/accept"): accept_page,
    ("POST", "/officer/approvals/{agency}/{return_id}/{period}/return"): send_back_page,
    ("POST", "/api/published/sources/{source_id}/releases"): publish,
    ("POST", "/officer/published"): publish_page,
    ("POST", "/api/agencies/{code}/annex-a/columns"): annex_columns,
    ("POST", "/annex-a/columns"): annex_columns_page,
    ("POST", "/api/groups"): add_group,
    ("PATCH", "/api/groups/{group_id}"): change_group,
    ("DELETE", "/api/groups/{group_id}"): delete_group,
    ("POST", "/officer/groups"): add_group_page,
    ("POST", "/officer/groups/{group_id}"): change_group_page,
    ("POST", "/officer/groups/{group_id}/delete"): delete_group_page,
    ("POST", "/api/published/queries/{held_id}"): confirm_held,
    ("POST", "/officer/published/queries/{held_id}"): confirm_held_page,
    ("POST", "/api/published/releases/{release_id}/queries"): confirm_release,
    ("POST", "/officer/published/releases/{release_id}/queries"): confirm_release_page,
    ("PUT", "/api/agencies/{council}/consent/{region}"): give_consent,
    ("DELETE", "/api/agencies/{council}/consent/{region}"): withdraw_consent,
    ("POST", "/consent/{region}"): consent_page,
    ("POST", "/consent/{region}/withdraw"): withdraw_page_consent,
    ("POST", "/send"): send_page,
    ("POST", "/census"): census_page,
    ("POST", "/api/establishments"): load_register,
    ("POST", "/officer/establishments"): load_register_page,
}


def write_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every route of the app, API and pages, that is not a read."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                found.update((m, route.path) for m in route.methods or () if m not in ("GET", "HEAD"))
            inner = getattr(getattr(route, "original_router", None), "routes", None) or getattr(route, "routes", None)
            if inner:
                walk(list(inner))

    walk(list(app.routes))
    return found


def test_every_write_route_is_tried(store: Engine, store_settings: Settings) -> None:
    with _app(store, store_settings) as app:
        assert write_routes(app) == set(WRITES)


@pytest.mark.parametrize("route", sorted(WRITES), ids=" ".join)
def test_a_write_whose_commit_fails_is_an_error_and_changes_nothing(
    store: Engine, store_settings: Settings, route: tuple[str, str]
) -> None:
    with _app(store, store_settings) as app, TestClient(app, follow_redirects=False) as client:
        write = WRITES[route](client)
        before = store_digest(store)
        with commits_fail(store):
            answer = write()
        assert answer.status_code >= 400, (answer.status_code, answer.text[:500])
        assert answer.status_code != 500, answer.text[:500]
        assert store_digest(store) == before, "a failed commit left part of its change behind"
        # The same write, with commits working again, succeeds: the failure was the commit's alone.
        assert write().status_code < 400
