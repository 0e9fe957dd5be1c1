"""Browsing the catalogue and geography over the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from mappings.catalogue import Catalogue


def test_health_answers_without_database(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["version"]


def test_ready_reports_what_is_loaded(client: TestClient, bundled_catalogue: Catalogue) -> None:
    body = client.get("/health/ready").json()
    assert body["indicators"] == len(bundled_catalogue.indicators.indicators) >= 120
    assert body["org_units"] >= 300


def test_openapi_docs_are_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/indicators", "/api/indicators/{indicator_id}", "/api/orgs", "/api/orgs/{code}"} <= set(paths)


def test_list_indicators_counts_and_pages(client: TestClient, bundled_catalogue: Catalogue) -> None:
    first = client.get("/api/indicators", params={"limit": 10}).json()
    assert first["total"] == len(bundled_catalogue.indicators.indicators)
    assert len(first["items"]) == 10
    second = client.get("/api/indicators", params={"limit": 10, "offset": 10}).json()
    assert {i["id"] for i in first["items"]}.isdisjoint({i["id"] for i in second["items"]})


def test_filter_indicators_by_text_statistic_and_return(client: TestClient, bundled_catalogue: Catalogue) -> None:
    by_text = client.get("/api/indicators", params={"q": "care leavers", "limit": 1000}).json()
    assert by_text["total"] > 0
    assert all("care leaver" in f"{i['title']} {i['definition']} {i['plain_title']}".lower() for i in by_text["items"])
    pct = client.get("/api/indicators", params={"statistic": "percentage", "limit": 1000}).json()
    assert pct["total"] > 0
    assert all(i["statistic"] == "percentage" for i in pct["items"])
    core = client.get("/api/indicators", params={"return": "county_cyp_core", "limit": 1000}).json()
    assert core["total"] == 63
    assert {i["id"] for i in core["items"]} == {f.spec.indicator for f in bundled_catalogue.fields["county_cyp_core"]}


def test_one_indicator_shows_its_uses_and_codelists(client: TestClient, bundled_catalogue: Catalogue) -> None:
    field = bundled_catalogue.fields["county_cyp_core"][0]
    body = client.get(f"/api/indicators/{field.spec.indicator}").json()
    assert body["id"] == field.spec.indicator
    assert any(u["return_id"] == "county_cyp_core" and u["code"] == field.spec.code for u in body["used_by"])
    broken_down = next(i for i in bundled_catalogue.indicators.indicators.values() if i.spec.breakdowns)
    detail = client.get(f"/api/indicators/{broken_down.spec.id}").json()
    assert {c["id"] for c in detail["codelists"]} >= set(broken_down.spec.breakdowns)


def test_derived_indicators_say_so(client: TestClient, bundled_catalogue: Catalogue) -> None:
    derived = next(i for i in bundled_catalogue.indicators.indicators.values() if i.spec.formula)
    body = client.get(f"/api/indicators/{derived.spec.id}").json()
    assert body["derived"] is True
    assert body["formula"] == derived.spec.formula


def test_unknown_indicator_is_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/indicators/cyp.nothing_here")
    assert response.status_code == 404
    assert response.json()["error"] == "Indicator 'cyp.nothing_here' is not in the catalogue"


def test_orgs_by_type_parent_and_date(client: TestClient) -> None:
    utla = client.get("/api/orgs", params={"type": "upper_tier_la", "on": "2024-01-01", "limit": 1000}).json()
    assert 140 <= utla["total"] <= 160
    regions = client.get("/api/orgs", params={"type": "region"}).json()
    assert regions["total"] == 9
    london = next(r for r in regions["items"] if r["name"] == "London")
    boroughs = client.get("/api/orgs", params={"parent": london["code"], "limit": 1000}).json()
    assert {o["type"] for o in boroughs["items"]} == {"london_borough"}
    assert boroughs["total"] == 33


def test_org_detail_has_parents_and_crosswalk(client: TestClient) -> None:
    body = client.get("/api/orgs/E06000001").json()
    assert body["name"] == "Hartlepool"
    assert "region" in {p["type"] for p in body["parents"]}
    assert body["crosswalk"]
    assert abs(sum(c["weight"] for c in body["crosswalk"] if c["basis"] == "lsoa11_share_of_lad") - 1) < 1e-9


def test_abolished_districts_drop_out_by_date(client: TestClient) -> None:
    before = client.get("/api/orgs", params={"q": "Aylesbury Vale", "on": "2019-06-01"}).json()
    after = client.get("/api/orgs", params={"q": "Aylesbury Vale", "on": "2021-06-01"}).json()
    assert before["total"] == 1
    assert after["total"] == 0


def test_returns_list_and_detail(client: TestClient, bundled_catalogue: Catalogue) -> None:
    listing = client.get("/api/returns").json()
    assert listing["total"] == len(bundled_catalogue.returns)
    core = client.get("/api/returns/county_cyp_core").json()
    assert len(core["fields"]) == 67
    assert client.get("/api/returns/nothing").status_code == 404


def test_indicators_and_returns_show_their_sources(client: TestClient) -> None:
    ind = client.get("/api/indicators/cyp.lac_count").json()
    assert ind["sources"]
    assert all({"publisher", "title", "year", "url", "section"} <= set(s) for s in ind["sources"])
    assert any(s["url"].startswith("https://github.com/dfe-analytical-services") for s in ind["sources"])
    ret = client.get("/api/returns/dfe_ssda903").json()
    assert ret["sources"]
    assert ret["deadline_sources"]
    (loaded,) = ret["milestones"]
    assert (loaded["name"], loaded["rule"]) == ("data loaded", "fixed_after_period_end:05-31")
    assert any("31 May" in s["section"] for s in loaded["sources"])
    assert all(f["sources"] for f in ret["fields"])
    lists = client.get("/api/indicators/cyp.lac_count").json()["codelists"]
    assert all(c["sources"] for c in lists)
