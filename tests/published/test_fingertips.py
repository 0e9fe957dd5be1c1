"""Fingertips in its own formats: the FingertipsNext API's JSON (real answers) and the "all data" CSV (the real
values written in the documented layout) are read into the same figures, a withheld value is never a number, a
new layout is refused naming the difference, and the scheduled fetch asks the documented path of a local server."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polars as pl
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from collectors import ways_in
from collectors.published import fetch
from collectors.published.formats import read_published
from collectors.published.intake import import_release
from collectors.published.read import PublishedFormatError
from collectors.published.sources import SourceSet, SourceSpec, load_sources
from indicators.models import Indicator
from indicators.published import PublishedFigure, PublishedRelease
from onereturn.settings import Settings
from tests.published.local_api import serve

FILES = Path(__file__).resolve().parent / "files"
READMISSIONS_JSON = FILES / "api_response_benchmark_rag_41101.json"
READMISSIONS_CSV = FILES / "fingertips_41101_london.csv"
SOURCES = load_sources().sources
#: A catalogue-shaped indicator the real 41101 answers are stored under in these tests only.
TEST_INDICATOR = "test.emergency_readmissions_30d"


def _readmissions_spec() -> SourceSpec:
    """The bundled Year 6 obesity source (its documented CSV layout, levels and value notes), pointed at the
    indicator the reference answers hold: 41101, financial years, by sex."""
    base = SOURCES["fingertips_obesity_year6"].model_dump()
    base.update(
        id="fingertips_test_readmissions",
        file="fingertips_41101.csv",
        fingertips_indicators=[41101],
        fingertips_area_types=["regions"],
        figure=[
            {
                "indicator": TEST_INDICATOR,
                "value": "Value",
                "numerator": "Count",
                "denominator": "Denominator",
                "where": {"Indicator ID": "41101", "Category Type": ""},
                "breakdown": {"Sex": {"dimension": "sex", "codes": {"Persons": "", "Male": "M", "Female": "F"}}},
                "period": "financial_year_span",
            }
        ],
    )
    return SourceSpec.model_validate(base)


def _points() -> list[tuple[str, str, str, float | None, float | None]]:
    """Every point of the real answer: area, period, breakdown, value, count, as the API gives them."""
    doc = json.loads(READMISSIONS_JSON.read_text())
    sex = {"Persons": "", "Male": "sex=M", "Female": "sex=F"}
    found = []
    for area in doc["areaHealthData"]:
        for segment in area["indicatorSegments"]:
            for point in segment["healthData"]:
                year = int(point["datePeriod"]["from"][:4])
                period = f"FY{year}-{(year + 1) % 100:02d}"
                found.append((area["areaCode"], period, sex[segment["sex"]["value"]], point["value"], point["count"]))
    return found


def _as_tuples(figures: pl.DataFrame) -> list[tuple[str, str, str, float | None, float | None]]:
    return sorted(
        (r["org_code"], r["period"], r["breakdown"], r["value"], r["numerator"]) for r in figures.iter_rows(named=True)
    )


def test_a_real_fingertipsnext_answer_is_read_point_for_point() -> None:
    figures, rows = read_published(_readmissions_spec(), READMISSIONS_JSON.read_bytes())
    points = _points()
    assert rows == len(points) == 33
    assert _as_tuples(figures) == sorted(points)
    first = figures.filter((pl.col("period") == "FY2013-14") & (pl.col("breakdown") == "sex=F")).row(0, named=True)
    assert (first["value"], first["numerator"], first["symbol"], first["status"]) == (12.5, 52910.0, None, "final")


def test_the_documented_csv_layout_gives_the_same_figures_as_the_api() -> None:
    spec = _readmissions_spec()
    from_csv, rows = read_published(spec, READMISSIONS_CSV.read_bytes())
    from_json, _ = read_published(spec, READMISSIONS_JSON.read_bytes())
    assert rows == 33
    assert _as_tuples(from_csv) == _as_tuples(from_json)
    # Lineage: each figure names the CSV line it came from.
    with io.StringIO(READMISSIONS_CSV.read_text()) as handle:
        lines = list(csv.DictReader(handle))
    for figure in from_csv.iter_rows(named=True):
        line = lines[figure["file_row"] - 2]
        assert float(line["Value"]) == figure["value"]
        assert line["Time period"][:4] == figure["period"][2:6]


def test_an_older_answer_with_age_bands_on_each_point_is_read_by_calendar_year() -> None:
    base = SOURCES["fingertips_under18_conceptions"].model_dump()
    base["figure"] = [
        {
            "indicator": "health.under_18_conception_rate",
            "value": "Value",
            "numerator": "Count",
            "where": {"Indicator ID": "383", "Category Type": ""},
            "period": "calendar_year",
        }
    ]
    spec = SourceSpec.model_validate(base)
    data = (FILES / "api_response_benchmark_quintiles.json").read_bytes()
    figures, rows = read_published(spec, data)
    points = json.loads(data)["areaHealthData"][0]["indicatorSegments"][0]["healthData"]
    assert rows == figures.height == len(points) == 13
    assert figures["org_code"].unique().to_list() == ["A84022"]
    got = {r["period"]: (r["value"], r["numerator"]) for r in figures.iter_rows(named=True)}
    for point in points:
        assert got[f"CY{point['datePeriod']['from'][:4]}"] == (point["value"], point["count"])


def _csv_with(change: Any) -> bytes:
    rows = list(csv.reader(io.StringIO(READMISSIONS_CSV.read_text())))
    change(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def test_a_withheld_value_takes_its_notes_symbol_and_is_never_a_number() -> None:
    header = next(iter(csv.reader(io.StringIO(READMISSIONS_CSV.read_text()))))
    value, note = header.index("Value"), header.index("Value note")

    def withhold(rows: list[list[str]]) -> None:
        rows[1][value], rows[1][note] = "", "Value suppressed for disclosure control due to small count"
        rows[2][value] = ""  # no value and no note: not available

    figures, _ = read_published(_readmissions_spec(), _csv_with(withhold))
    by_row = {r["file_row"]: r for r in figures.iter_rows(named=True)}
    assert (by_row[2]["value"], by_row[2]["symbol"]) == (None, "c")
    assert by_row[2]["note"] == "Value suppressed for disclosure control due to small count"
    assert (by_row[3]["value"], by_row[3]["symbol"]) == (None, "x")
    assert by_row[4]["symbol"] is None
    assert by_row[4]["value"] is not None


def test_a_new_csv_layout_is_refused_naming_the_difference() -> None:
    def drop_last(rows: list[list[str]]) -> None:
        for row in rows:
            del row[-1]

    with pytest.raises(PublishedFormatError, match="missing Time period range"):
        read_published(_readmissions_spec(), _csv_with(drop_last))


def test_a_value_the_source_does_not_declare_is_refused_naming_it() -> None:
    def new_sex(rows: list[list[str]]) -> None:
        rows[1][7] = "Not known"

    with pytest.raises(PublishedFormatError, match=r"row 2: Sex 'Not known' is not one of the values"):
        read_published(_readmissions_spec(), _csv_with(new_sex))


def test_a_multi_year_period_is_refused_not_read_as_its_first_year() -> None:
    def span(rows: list[list[str]]) -> None:
        rows[1][11] = "2013/14 - 15/16"

    with pytest.raises(PublishedFormatError, match=r"Time period '2013/14 - 15/16' is not a period"):
        read_published(_readmissions_spec(), _csv_with(span))


def test_an_answer_in_another_layout_is_refused() -> None:
    doc = json.loads(READMISSIONS_JSON.read_text())
    del doc["areaHealthData"][0]["indicatorSegments"][0]["healthData"][0]["datePeriod"]
    with pytest.raises(PublishedFormatError, match="an item it needs is missing"):
        read_published(_readmissions_spec(), json.dumps(doc).encode())


def test_a_file_for_another_indicator_is_refused_not_read_as_nothing(store: Engine, store_settings: Settings) -> None:
    spec = SOURCES["fingertips_obesity_year6"]
    with pytest.raises(
        PublishedFormatError, match=r"none of its 33 row\(s\) is one source 'fingertips_obesity_year6' reads"
    ):
        import_release(
            store, store_settings, spec, READMISSIONS_CSV.read_bytes(), filename="x.csv", fetched_from="upload"
        )
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(PublishedRelease)).scalar_one() == 0


# --- the scheduled fetch, from a local server at FingertipsNext's documented path ------------------------------


@contextmanager
def fingertips_api(answers: dict[str, bytes], seen: list[str]) -> Iterator[str]:
    """``GET /indicators/{id}/data`` answering the real reference JSON, as FingertipsNext's OpenAPI gives it."""

    def answer(path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        seen.append(f"{path}?{urlencode(query, doseq=True)}")
        parts = path.strip("/").split("/")
        found = answers.get(parts[1]) if len(parts) == 3 and parts[::2] == ["indicators", "data"] else None
        if found is not None and query.get("area_type"):
            return 200, "application/json", found
        return 404, "application/json", b'{"title": "Not Found"}'

    with serve(answer) as base:
        yield base


@pytest.fixture
def readmissions(store: Engine, monkeypatch: pytest.MonkeyPatch) -> SourceSpec:
    """The 41101 source as the only one declared, and its indicator in the store."""
    spec = _readmissions_spec()
    monkeypatch.setattr(fetch, "load_sources", lambda: SourceSet(sources={spec.id: spec}))
    with Session(store) as session:
        session.add(
            Indicator(
                id=TEST_INDICATOR,
                title="Emergency readmissions within 30 days of discharge from hospital",
                plain_title="Emergency readmissions",
                definition="Fingertips indicator 41101",
                statistic="percentage",
                numerator_label="readmissions",
                denominator_label="discharges",
                multiplier=100,
                unit="%",
                polarity="lower_is_better",
                period_type="financial_year",
                time_basis="cumulative",
                breakdowns=["sex"],
                aggregation="none",
                purpose="outcome",
                method="test",
                source_body="dhsc",
            )
        )
        session.commit()
    return spec


def _settings(store_settings: Settings, base: str) -> Settings:
    return store_settings.model_copy(
        update={
            "published_fingertips_api": base,
            "published_fetch_attempts": 2,
            "published_fetch_backoff_seconds": 0,
            "published_fetch_timeout_seconds": 10,
        }
    )


def _fetched(store: Engine, settings: Settings) -> fetch.FetchReport:
    """A scheduled fetch as the scheduler and the command line make it: each release taken by the table of ways in."""
    return fetch.fetch_all(store, settings, take=ways_in.releases(store, settings))


def test_the_fetch_asks_fingertipsnext_and_stores_every_point_once(
    store: Engine, store_settings: Settings, readmissions: SourceSpec
) -> None:
    seen: list[str] = []
    with fingertips_api({"41101": READMISSIONS_JSON.read_bytes()}, seen) as base:
        settings = _settings(store_settings, base)
        report = _fetched(store, settings)
        assert report.failed == []
        assert [s for s, _ in report.imported] == [readmissions.id]
        assert seen == ["/indicators/41101/data?area_type=regions"]
        again = _fetched(store, settings)
        assert again.imported == []
        assert again.up_to_date == [readmissions.id]
    with Session(store) as session:
        stored = (
            session.execute(
                select(PublishedFigure).where(
                    PublishedFigure.indicator_id == TEST_INDICATOR, col(PublishedFigure.is_current)
                )
            )
            .scalars()
            .all()
        )
        assert sorted((f.org_code, f.period, f.breakdown, f.value, f.numerator) for f in stored) == sorted(_points())
        assert {f.publisher for f in stored} == {"ohid_fingertips"}
        release = session.execute(select(PublishedRelease)).scalar_one()
        assert release.fetched_from.endswith("/indicators/41101/data?area_type=regions")
        assert release.version == datetime.now(UTC).strftime("%Y-%m-%d")


def test_with_fingertips_down_the_failure_is_reported_and_nothing_is_stored(
    store: Engine, store_settings: Settings, readmissions: SourceSpec
) -> None:
    seen: list[str] = []
    with fingertips_api({}, seen) as base:
        report = _fetched(store, _settings(store_settings, base))
    assert [s for s, _ in report.failed] == [readmissions.id]
    assert "HTTP 404" in report.failed[0][1]
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(PublishedRelease)).scalar_one() == 0
        assert session.execute(select(func.count()).select_from(PublishedFigure)).scalar_one() == 0


# --- which Fingertips indicator the Year 6 obesity source reads ------------------------------------------------


def _year6_rows(indicator_id: str) -> bytes:
    """Rows in the "all data" CSV layout for Fingertips indicator ``indicator_id`` (values from the real answer)."""

    def recast(rows: list[list[str]]) -> None:
        for row in rows[1:]:
            row[0] = indicator_id

    return _csv_with(recast)


def test_the_year6_obesity_source_reads_the_annual_measure_not_the_five_years_combined() -> None:
    spec = SOURCES["fingertips_obesity_year6"]
    # 90323 is Year 6 obesity prevalence one year a figure; 92033 its five-years-combined form (the source cites both).
    assert spec.fingertips_indicators == [90323]
    assert spec.page.endswith("/90323")
    annual, _ = read_published(spec, _year6_rows("90323"))
    assert set(annual["indicator_id"]) == {"health.obese_children_year6", "pop.year6_children_measured"}
    combined, _ = read_published(spec, _year6_rows("92033"))
    assert combined.height == 0
