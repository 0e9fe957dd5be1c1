"""The county core data set filled from DfE's published figures where Nottinghamshire has none of its own: each cell
equal to the publisher's own row, read here from the bundled file; the council's own figure winning; a later
release revising the cell; and an annual figure shown in the quarters after it."""

from __future__ import annotations

import csv
import html
import io
import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import Engine
from sqlmodel import Session, select

from collectors import ways_in
from collectors.published.sources import FILES_DIR, SourceSpec, load_sources
from exports.build import Builder, return_with_fields
from exports.built import BuiltReturn
from exports.changes import reopened_builds
from exports.service import build
from indicators.formula import evaluate, parse_formula
from indicators.periods import parse_period
from indicators.service import indicators_by_id
from mappings.catalogue import RETURNS_DIR
from mappings.models import BuildRevision
from mappings.revisions import track
from onereturn.settings import Settings
from tests.demo_store import demo_store_fixture, loaded_store
from tests.helpers import upload_clean

# The conftest's store with DfE's and ONS's files read through the published intake (``store_client`` uses it too).
store = demo_store_fixture("store", "published")

NOTTS = "E10000024"
#: The first quarter after DfE's 2024/25 releases (key stage 2 and 4, the early years profile, the outcomes files).
QUARTER = "FY2025-26-Q3"
AT = datetime(2026, 1, 20, tzinfo=UTC)
CORE = tomllib.loads((RETURNS_DIR / "county_cyp_core.toml").read_text(encoding="utf-8"))
#: The fields a publisher's file fills (the others say why none does: ``unpublished``).
FILLED = [f["code"] for f in CORE["field"] if "unpublished" not in f]
#: Built once per backend: every item's test reads the same build.
_BUILT: dict[str, BuiltReturn] = {}


@pytest.fixture(scope="module")
def read_store(store_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One copy per backend of the store ``store`` copies, for the item tests, which only read it: a private copy per
    item (76 of them, each a database and its kept files copied) was most of this file's time."""
    with loaded_store(
        store_template, tmp_path_factory, tmp_path_factory.mktemp("core-items"), ("published",)
    ) as engine:
        yield engine


def _core(engine: Engine, period: str = QUARTER) -> BuiltReturn:
    with Session(engine) as session:
        ret, fields = return_with_fields(session, "county_cyp_core")
        return Builder(session, period, ret.period_type).build(ret, fields, AT)


def _built(engine: Engine) -> BuiltReturn:
    key = engine.dialect.name
    if key not in _BUILT:
        _BUILT[key] = _core(engine)
    return _BUILT[key]


def _cell(built: BuiltReturn, code: str) -> dict[str, Any]:
    rows = built.cells.filter(
        (pl.col("field_code") == code) & (pl.col("org_code") == NOTTS) & (pl.col("breakdown") == "")
    )
    assert rows.height == 1
    return rows.row(0, named=True)


@cache
def _parquet(spec_file: str) -> pl.DataFrame:
    """A publisher's bundled parquet file, read once for every item's test."""
    return pl.read_parquet(FILES_DIR / spec_file)


@cache
def _csv_rows(spec_file: str) -> list[list[str]]:
    """A publisher's bundled CSV file's rows, header first, read once for every item's test as the file holds them."""
    return list(csv.reader(io.StringIO((FILES_DIR / spec_file).read_text(encoding="utf-8-sig"))))


def _file_row(spec: SourceSpec, row: int) -> dict[str, Any]:
    """The publisher's row ``row`` of its bundled file, read here as the file holds it (a CSV's header is row 1)."""
    if spec.format == "lait_parquet":
        return _parquet(spec.file).row(row - 1, named=True)
    records = _csv_rows(spec.file)
    return dict(zip(records[0], records[row - 1], strict=True))


def _publishers_value(spec: SourceSpec, indicator: str, row: dict[str, Any]) -> float:
    """The figure of ``indicator`` the publisher's row gives, by the column its source names."""
    figure = next(
        f for f in spec.figure if f.indicator == indicator and all(str(row[c]) == v for c, v in f.where.items())
    )
    return float(row[figure.value])


@pytest.mark.parametrize("code", FILLED)
def test_each_item_is_the_publishers_own_figure(read_store: Engine, code: str) -> None:
    """Every item a stored publisher's file gives fills Nottinghamshire's cell with the value of the publisher's own
    row (a rate worked out from the rows' terms), and its lineage names that file and row."""
    built = _built(read_store)
    cell = _cell(built, code)
    assert cell["status"] == "present", cell
    assert "published" in cell["how"], cell
    assert "no figure of the body's own fills the cell" in cell["reason"]
    behind = built.lineage.filter(pl.col("cell_id") == cell["cell_id"])
    assert behind.height >= 1
    assert behind["observation_id"].is_null().all()
    assert behind["published_figure_id"].is_not_null().all()
    specs = {s.file: s for s in load_sources().sources.values()}
    values: dict[str, float] = {}
    for line in behind.iter_rows(named=True):
        spec = specs[line["filename"]]
        row = _file_row(spec, line["file_row"])
        values[line["indicator_id"]] = _publishers_value(spec, line["indicator_id"], row)
        assert f"{line['filename']} row" in cell["reason"]
    with Session(read_store) as session:
        indicator = indicators_by_id(session)[cell["indicator_id"]]
    expected = evaluate(parse_formula(indicator.formula), values) if indicator.formula else values[indicator.id]
    assert expected is not None
    # Rounded half up on the decimal the figure is written as, as a return rounds it (19.95 to one place is 20.0).
    shown = Decimal(repr(expected)).quantize(Decimal(1).scaleb(-cell["decimals"]), rounding=ROUND_HALF_UP)
    assert cell["value"] == float(shown), code


def test_the_council_s_own_figure_wins_and_a_later_release_revises_the_publishers_cell(
    store: Engine, store_settings: Settings
) -> None:
    """Nottinghamshire's own participation figure fills its cell, not DfE's; DfE's NEET figure, revised by a later
    release, revises the cell and re-opens the build that showed it; and the council's template asks for neither."""
    from collectors.figures.template import template_rows

    with Session(store) as session:
        asked = {r.indicator for r in template_rows(session, "notts_cyp", "FY2025-26")}
    assert not asked & {"cyp.participation_16_17", "cyp.neet_16_17", "cyp.not_known_16_17"}
    assert "cyp.lac_iro_consultation" in asked
    upload_clean(store, store_settings, "notts_cyp", f"cyp.participation_16_17,{NOTTS},2025-03-31,,91.5,1830,2000,,")
    with Session(store) as session:
        track(session, "county_cyp_core", parse_period(QUARTER))
        session.commit()
        record, first = build(session, "county_cyp_core", QUARTER)
        session.commit()
        first_build = record.id
    # The council's own figure is its cell's, held until its approver signs it off; DfE's needs no sign-off.
    own = _cell(first, "3.14")
    assert own["status"] == "unsigned"
    assert own["reason"].startswith("not yet signed off by Nottinghamshire County Council")
    assert first.lineage.filter(pl.col("cell_id") == own["cell_id"])["observation_id"].is_not_null().all()
    assert (_cell(first, "4.19")["status"], _cell(first, "4.19")["value"]) == ("present", 1.5)
    spec = load_sources().sources["dfe_nccis_participation"]
    text = (FILES_DIR / spec.file).read_text(encoding="utf-8")
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if f",{NOTTS}," in line)
    columns = lines[0].split(",")
    row = lines[at].split(",")
    row[columns.index("NEET_percent")] = "1.6"
    lines[at] = ",".join(row)
    ways_in.take(
        store,
        store_settings,
        ways_in.ReleaseSent(spec=spec, data="\n".join(lines).encode(), filename=spec.file, fetched_from="upload"),
    )
    with Session(store) as session:
        revision = session.execute(
            select(BuildRevision.revision).where(
                BuildRevision.return_id == "county_cyp_core", BuildRevision.period == QUARTER
            )
        ).scalar_one()
        reopened = {(b.id, tuple(revised)) for b, revised in reopened_builds(session)}
    assert revision >= 1, "the later release leaves the quarter's build current"
    assert (first_build, (f"cyp.neet_16_17 {NOTTS} 2025-02-28",)) in reopened
    again = _core(store)
    assert _cell(again, "4.19")["value"] == 1.6
    assert _cell(again, "3.14")["value"] == 91.5


def test_a_year_s_figure_fills_the_quarters_after_it_with_its_own_period(
    store: Engine, store_settings: Settings
) -> None:
    """A figure keyed for a financial year fills the quarters after the year ends, saying whose year it is, and
    none before; a return naming no publisher takes no publisher's figure."""
    upload_clean(store, store_settings, "notts_cyp", f"cyp.outdoor_education_participants,{NOTTS},FY2023-24,,1200,,,,")
    during = _cell(_core(store, "FY2023-24-Q3"), "1.01")
    assert during["status"] == "missing"
    after = _cell(_core(store, "FY2024-25-Q2"), "1.01")
    assert (after["status"], after["value"]) == ("present", 1200.0)
    assert after["reason"] == "the newest figure, for FY2023-24"


def test_the_officer_reads_where_each_of_the_county_s_figures_comes_from(
    store: Engine, store_settings: Settings
) -> None:
    """The officer's page of the core data set for a quarter lists each cell with its value, the period of its
    figure and where it comes from: DfE's release and row, or why the cell is empty."""
    from tests.apps import client_on
    from tests.web.pages import OFFICER, sign_in

    with client_on(store_settings, store, follow_redirects=False) as web:
        sign_in(web, OFFICER)
        page = web.get("/catalogue/returns/county_cyp_core", params={"period": QUARTER})
    assert page.status_code == 200, page.text
    text = html.unescape(page.text)
    assert f"county_cyp_core for {QUARTER}: {len(FILLED)} of 67 cells filled" in text
    row = re.search(r'<tr class="govuk-table__row" data-cell="4\.10\|E10000024\|">(.*?)</tr>', text, re.S)
    assert row is not None
    assert "AY2024-25" in row[1]
    assert "published by Department for Education (published statistics), for AY2024-25 (source dfe_lait" in row[1]
    empty = re.search(r'data-cell="3\.12\|E10000024\|">(.*?)</tr>', text, re.S)
    assert empty is not None
    assert "Ofsted's management information on school inspections" in empty[1]


def test_quarters_built_together_are_each_as_a_quarter_built_alone(store: Engine) -> None:
    """Quarters built by builders sharing what they read and work out (the years' figures shown as the newest, the
    publishers' figures, as the sign-offs and the exports build them) are each, cell for cell and figure for figure,
    what a build of that quarter alone gives."""
    periods = ["FY2023-24-Q4", "FY2024-25-Q1", "FY2024-25-Q2", "FY2025-26-Q3", "FY2024-25-Q4"]
    together: dict[str, BuiltReturn] = {}
    with Session(store) as session:
        ret, fields = return_with_fields(session, "county_cyp_core")
        first: Builder | None = None
        for period in periods:
            builder = Builder(session, period, ret.period_type, sharing=first)
            first = first or builder
            together[period] = builder.build(ret, fields, AT)
    for period in periods:
        alone = _core(store, period)
        assert_frame_equal(together[period].cells, alone.cells)
        assert_frame_equal(together[period].lineage, alone.lineage)
        assert together[period].completeness == alone.completeness
