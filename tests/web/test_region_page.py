"""A region's own page (SQLite and PostgreSQL): its key signs in to it, and it shows the member councils and what each
consents to, each table with a link to download it (the API's bytes), and each table's disclosure risk as measured on
the table built; a council's key is refused it saying why."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.regions.pooled import build
from collectors.regions.risk import QUASI_SETS, measure
from mappings.regions import consent
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.regions.world import COUNCILS, REGION, Files, Region, make_files, onboard
from tests.web.pages import csrf_token


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return make_files(tmp_path_factory.mktemp("region-page-files"))


@pytest.fixture
def region(store: Engine, store_settings: Settings, files: Files) -> Region:
    made = onboard(store, store_settings, files)
    with Session(store) as session:
        for code in COUNCILS:
            consent.give(session, code, REGION, ["pan"] + (["sufficiency"] if code == "notts_cyp" else []), by="t")
        session.commit()
    return made


@pytest.fixture
def web(store: Engine, store_settings: Settings) -> Iterator[TestClient]:
    with client_on(store_settings, store, follow_redirects=False) as client:
        yield client


def signed_in(web: TestClient, key: str) -> str:
    form = web.get("/sign-in")
    response = web.post("/sign-in", data={"key": key, "csrf_token": csrf_token(form.text)})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_the_regions_key_signs_in_to_its_page(
    web: TestClient, region: Region, store: Engine, store_settings: Settings
) -> None:
    assert signed_in(web, region.region_key) == "/region"
    assert web.get("/").headers["location"] == "/region"
    shown = web.get("/region")
    assert shown.status_code == 200, shown.text
    html = shown.text
    assert 'href="/region"' in html  # its own navigation
    for code in COUNCILS:
        assert f'data-council="{code}"' in html
    notts = html.split('data-council="notts_cyp"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'data-consents="(\w+)"', notts) == ["yes", "yes"]
    leics = html.split('data-council="leics_cs"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'data-consents="(\w+)"', leics) == ["yes", "no"]
    for table in ("ssda903_header", "ssda903_episodes", "cin_census", "sen2_persons"):
        assert f'href="/region/pan/{table}.csv"' in html
        assert f'id="risk-{table}"' in html
    assert 'href="/region/sufficiency/placements.csv"' in html
    # The header's risk as measured on the table built: the share unique on council, birth month, sex, ethnicity.
    header = build(store, store_settings, REGION, "pan", "ssda903_header").frame
    risk = measure(header, QUASI_SETS[0])
    shown_risk = html.split('id="risk-ssda903_header"', 1)[1].split("</table>", 1)[0]
    first_unique = re.search(r"data-unique>([^<]+)<", shown_risk)
    assert first_unique is not None
    assert first_unique.group(1) == f"{risk.unique} ({risk.share(risk.unique):.0%})"
    assert 'data-option="ethnicity_to_main_group"' in shown_risk
    downloaded = web.get("/region/pan/ssda903_header.csv")
    assert downloaded.status_code == 200
    assert downloaded.content == header.write_csv().encode()
    assert downloaded.headers["X-Councils"] == ",".join(sorted({g for g, *_ in COUNCILS.values()}))
    assert web.get("/region/marketing/x.csv").status_code == 404
    # Its key still reads nothing of a council's own.
    assert web.get("/agency").status_code == 403


def test_a_councils_key_is_refused_the_regions_page(web: TestClient, region: Region) -> None:
    assert signed_in(web, region.approvers["notts_cyp"]) == "/agency"
    refused = web.get("/region")
    assert refused.status_code == 403
    assert "read with a key of the region" in refused.text
    assert web.get("/region/pan/ssda903_header.csv").status_code == 403
