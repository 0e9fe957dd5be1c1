"""The comparison pages: chart and table, the trend, the flags list, and what an agency may open."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collectors.figures.service import submit
from onereturn.settings import Settings
from tests.web.pages import AGENCY, OFFICER, sign_in

ONS = Path(__file__).parents[1] / "fixtures" / "compare"
HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
NOTTS = "E10000024"


def _load(store: Engine, settings: Settings) -> None:
    for name in ("ons_CY2023.csv", "ons_CY2024.csv"):
        assert submit(store, settings, agency_code="ons", filename=name, data=(ONS / name).read_bytes()).submission
    # Notts' own count of children looked after, not yet published.
    row = "cyp.lac_count,E10000024,2025-03-31,,1100,,,,\n"
    assert submit(store, settings, agency_code="notts_cyp", filename="f.csv", data=(HEADER + row).encode()).submission


def _main(page: str) -> str:
    return page.split("<main", 1)[1].split("</main>", 1)[0]


def test_the_officer_sees_chart_table_and_trend_without_script_or_inline_style(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    _load(store, store_settings)
    sign_in(web, OFFICER)
    r = web.get("/compare", params={"org": NOTTS, "indicator": "pop.resident_0_17"})
    assert r.status_code == 200, r.text
    main = _main(r.text)
    assert main.count('<svg xmlns="http://www.w3.org/2000/svg" role="img"') == 2  # the comparison and the trend
    assert "<script" not in main
    assert "style=" not in main
    assert "(this council)" in main
    # The latest period is chosen and the trend lists both years.
    assert "CY2024" in main
    trend = re.search(r'id="trend-table">(.*?)</table>', main, re.S)
    assert trend is not None
    assert "CY2023" in trend.group(1)
    table = re.search(r'id="compare-table">(.*?)</table>', main, re.S)
    assert table is not None
    assert table.group(1).count('data-role="neighbour"') == 10
    assert 'data-role="england"' in table.group(1)
    assert "Department for Education" in main


def test_a_figure_not_yet_published_is_marked(web: TestClient, store: Engine, store_settings: Settings) -> None:
    _load(store, store_settings)
    sign_in(web, OFFICER)
    main = _main(web.get("/compare", params={"org": NOTTS, "indicator": "cyp.lac_count"}).text)
    assert "not yet published" in main


def test_an_agency_compares_its_own_council_only(web: TestClient, store: Engine, store_settings: Settings) -> None:
    _load(store, store_settings)
    sign_in(web, AGENCY)
    own = web.get("/compare", params={"org": NOTTS, "indicator": "pop.resident_0_17"})
    assert own.status_code == 200
    assert "E09000023" not in re.search(r'<select class="govuk-select" id="org".*?</select>', own.text, re.S).group(0)  # type: ignore[union-attr]
    other = web.get("/compare", params={"org": "E09000023", "indicator": "pop.resident_0_17"})
    assert other.status_code == 404


def test_the_flags_page_lists_what_differs_and_links_to_each_comparison(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    _load(store, store_settings)
    sign_in(web, OFFICER)
    r = web.get("/compare/flags", params={"org": NOTTS})
    assert r.status_code == 200
    main = _main(r.text)
    # A count has no polarity and no interval: nothing of these figures is flagged.
    assert 'id="no-flags"' in main
    assert "<script" not in main


def test_the_dashboard_and_each_figure_link_to_the_comparison(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    _load(store, store_settings)
    sign_in(web, OFFICER)
    assert 'href="/compare/flags"' in _main(web.get("/officer").text)
    web.cookies.clear()
    sign_in(web, AGENCY)
    history = web.get("/history").text
    assert 'href="/compare?org=E10000024&amp;indicator=cyp.lac_count&amp;period=2025-03-31"' in history


def test_which_way_is_better_is_shown_with_its_source_or_said_to_be_unknown(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    _load(store, store_settings)
    row = "cyp.neet_16_17,E10000024,2025-03-31,,5.2,52,1000,,\n"
    sent = submit(store, store_settings, agency_code="notts_cyp", filename="n.csv", data=(HEADER + row).encode())
    assert sent.submission is not None
    assert sent.submission.rows_accepted == 1
    sign_in(web, OFFICER)
    cited = _main(web.get("/compare", params={"org": NOTTS, "indicator": "cyp.neet_16_17"}).text)
    polarity = re.search(r'id="polarity">(.*?)</dd>', cited, re.S)
    assert polarity is not None
    assert "Lower is better" in polarity.group(1)
    assert "Department for Education" in polarity.group(1)
    assert "16-17 NEET (from 2016)" in polarity.group(1)
    # One council's value is too few for quarters: the page says so rather than placing it.
    assert 'id="quartile">not placed: 1 of ' in cited
    # Children looked after: no publisher's statement of which way is better is cited, so none is shown.
    bare = _main(web.get("/compare", params={"org": NOTTS, "indicator": "cyp.lac_count"}).text)
    polarity = re.search(r'id="polarity">(.*?)</dd>', bare, re.S)
    assert polarity is not None
    assert "Not shown: no source found says which way is better" in polarity.group(1)
    assert "1 is the highest values" in bare or "not placed" in bare


def test_the_trend_axis_is_labelled_in_round_numbers() -> None:
    from api.web.charts import trend_lines

    svg = trend_lines(
        ["CY2022", "CY2023", "CY2024"],
        [
            ("Trafford (this council)", [55659.0, 56279.0, 56737.0]),
            ("Neighbours' mean", [107423.4, 109027.7, 110151.7]),
        ],
        title="Resident children, Trafford, over the years",
    )
    labels = re.findall(r'text-anchor="end" fill="#0b0c0c">([^<]+)</text>', svg)
    # Round steps around every value, not the lowest, middle and highest of the values (55,659, 82,905.4 and
    # 110,151.7), which no reader can place a line against.
    assert labels == ["40,000", "60,000", "80,000", "100,000", "120,000"]


def test_the_trend_is_drawn_on_a_time_axis() -> None:
    from api.web.charts import trend_lines

    at = [float(d) for d in (733862, 737880, 738245)]  # 31 March 2010, 2021 and 2022 as day numbers
    svg = trend_lines(
        ["2010-03-31", "2021-03-31", "2022-03-31"],
        [("Nottinghamshire (this council)", [10.0, 20.0, 30.0])],
        title="Children looked after, Nottinghamshire, over the years",
        at=at,
    )
    xs = [
        float(x) for x, y in re.findall(r'<circle cx="([0-9.]+)" cy="([0-9.]+)"', svg) if y != "14.0"
    ]  # not the legend
    assert len(xs) == 3
    # Eleven years between the first two points and one between the last two: the gaps are 11 to 1, not equal.
    assert abs((xs[1] - xs[0]) / (xs[2] - xs[1]) - (at[1] - at[0]) / (at[2] - at[1])) < 0.01


def test_a_council_no_grouping_names_has_a_page_that_says_why(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    # Cumberland (E06000063) was made in April 2023, after DfE's April 2021 groupings.
    row = "pop.resident_0_17,E06000063,CY2024,,52000,,,,\npop.resident_0_17,E12000002,CY2024,,1600000,,,,\n"
    assert submit(store, store_settings, agency_code="ons", filename="c.csv", data=(HEADER + row).encode()).submission
    sign_in(web, OFFICER)
    r = web.get("/compare", params={"org": "E06000063", "indicator": "pop.resident_0_17", "period": "CY2024"})
    assert r.status_code == 200, r.text
    main = _main(r.text)
    note = re.search(r'id="group-note">(.*?)</p>', main, re.S)
    assert note is not None
    assert "do not name E06000063" in note.group(1)
    table = re.search(r'id="compare-table">(.*?)</table>', main, re.S)
    assert table is not None
    assert 'data-role="region"' in table.group(1)
    assert 'data-role="england"' in table.group(1)
    assert 'data-role="neighbour"' not in table.group(1)
    flags = web.get("/compare/flags", params={"org": "E06000063"})
    assert flags.status_code == 200, flags.text
