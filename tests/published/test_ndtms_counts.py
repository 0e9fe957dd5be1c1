"""NDTMS's and OHID's published files held to what a count can be: no year before the publisher publishes, no part
above its whole, and a jump from the last release held figure by figure, each query naming its own figure."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from collectors.published.check import ImplausibleRelease
from collectors.published.intake import import_release
from collectors.published.read import PublishedFormatError
from collectors.published.sources import SourceSpec, load_sources
from indicators.periods import parse_period
from indicators.published import PublishedFigure, PublishedRelease
from indicators.store.models import HeldFigure, Observation, Submission
from mappings.resolve import Resolver
from mappings.transforms import as_parts
from onereturn.settings import Settings

SOURCES = load_sources().sources
LA = SOURCES["ndtms_viewit_adults_la"]
ENGLAND = SOURCES["ndtms_viewit_adults_england"]
OPIATES = SOURCES["fingertips_unmet_need_opiates"]
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
LA_URL = "/api/published/sources/ndtms_viewit_adults_la/releases"
BARNET = "E09000003"


def _edited(spec: SourceSpec, row: int, changes: dict[str, str]) -> bytes:
    """The bundled file with the data row numbered ``row`` (as the file is, the header being row 1) changed."""
    text = spec.bundled.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    for column, value in changes.items():
        rows[row - 1][header.index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if "\r\n" in text else "\n").writerows(rows)
    return out.getvalue().encode()


def _count(session: Session, model: type) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def _nothing_stored(store: Engine) -> None:
    with Session(store) as session:
        assert _count(session, PublishedRelease) == 0
        assert _count(session, PublishedFigure) == 0
        stored = select(func.count()).where(col(Observation.indicator_id).startswith("ndtms."))
        assert session.execute(stored).scalar_one() == 0
        assert session.execute(select(func.count()).where(col(Submission.kind) == "published")).scalar_one() == 0


@pytest.mark.parametrize(("spec", "column"), [(LA, "ReportingPeriod"), (ENGLAND, "ReportingPeriod_Data")])
def test_a_year_before_ndtms_published_is_refused_and_nothing_stored(
    spec: SourceSpec, column: str, store: Engine, store_settings: Settings
) -> None:
    """One row's period set to 1850/51: ViewIt publishes from 2009/10, so the file is no release of NDTMS's."""
    assert spec.first_year == 2009
    data = _edited(spec, 2, {column: "1850/51"})
    with pytest.raises(PublishedFormatError) as refused:
        import_release(store, store_settings, spec, data, filename="edited.csv", fetched_from="upload")
    message = refused.value.message
    assert message.startswith(f"edited.csv row 2: {column} '1850/51' is before 2009, the first year source")
    assert "\n" not in message
    _nothing_stored(store)


def test_the_genuine_ndtms_files_begin_in_the_first_year_declared() -> None:
    """The declared first year is the one NDTMS's own exports begin with: no genuine row is refused."""
    for spec, column in ((LA, "ReportingPeriod"), (ENGLAND, "ReportingPeriod_Data")):
        rows = list(csv.DictReader(io.StringIO(spec.bundled.read_text(encoding="utf-8-sig"))))
        assert min(int(r[column][:4]) for r in rows) == spec.first_year


def test_a_fingertips_year_before_its_first_is_refused() -> None:
    """20401 is published from 1998 (FingertipsNext's metadata); the unmet-need excerpts declare no first year, as
    no stored source gives one."""
    from collectors.published.read import period_of

    spec = SOURCES["fingertips_under18_conceptions"]
    assert spec.first_year == 1998
    rows = pl.DataFrame({"Time period": ["1997", "1998"], "file_row": [2, 3]})
    with pytest.raises(PublishedFormatError, match=r"row 2: Time period '1997' is before 1998"):
        period_of(spec, spec.figure[0], rows)
    assert OPIATES.first_year is None
    assert SOURCES["fingertips_unmet_need_alcohol"].first_year is None


def test_exits_above_the_people_in_treatment_refuse_the_release(store: Engine, store_settings: Settings) -> None:
    """Barnet's first row (2009/10, women aged 18-29): 75 in treatment, so 175 successful completions cannot be.
    One line names the file, row, both columns and the rule, and nothing is stored."""
    data = _edited(LA, 2, {"exits_successfulcompletion_allintx": "175"})
    with pytest.raises(ImplausibleRelease) as refused:
        import_release(store, store_settings, LA, data, filename="edited.csv", fetched_from="upload")
    message = refused.value.message
    assert "\n" not in message
    assert message.startswith("edited.csv row 2: ")
    assert "ndtms.exits_successful_completion (exits_successfulcompletion_allintx) is 175" in message
    assert "ndtms.adults_in_treatment (intreatment_allintx) is only 75" in message
    assert "(rule part.ndtms_exits_successful_completion_within_adults_in_treatment)" in message
    assert refused.value.errors[0]["loc"][:2] == ["edited.csv", "row 2"]
    # The part and its whole lie in one file row: the broken rule is said once, not once for each figure.
    assert len(refused.value.errors) == 1
    assert "1 problem(s) in 1 row(s)" in message
    _nothing_stored(store)


def test_new_presentations_above_the_people_in_treatment_refuse_the_release(
    store: Engine, store_settings: Settings
) -> None:
    data = _edited(LA, 2, {"newpresentation_newtx": "80"})
    with pytest.raises(ImplausibleRelease, match=r"rule part\.ndtms_new_presentations_within_adults_in_treatment"):
        import_release(store, store_settings, LA, data, filename="edited.csv", fetched_from="upload")
    _nothing_stored(store)


def test_a_breakdown_above_its_total_refuses_the_release(store: Engine, store_settings: Settings) -> None:
    """Women aged 18-29 in treatment for opiates (row 14) set to 500, where women of every age in treatment for
    opiates are 145 (row 17): NDTMS's parts need not add up once rounded, but none is above its total."""
    data = _edited(LA, 14, {"intreatment_allintx": "500"})
    with pytest.raises(ImplausibleRelease) as refused:
        import_release(store, store_settings, LA, data, filename="edited.csv", fetched_from="upload")
    message = refused.value.message
    # Above each of its three totals (all ages, every drug group, both sexes); the first is named.
    assert message.startswith(
        "edited.csv row 14: ndtms.adults_in_treatment (intreatment_allintx) for "
        "age_group_ndtms=18-29;drug_group=opiate;sex=F is 500 but for drug_group=opiate;sex=F only 145 (row 17)"
    )
    assert "3 such figure(s)" in message
    assert "(rule breakdown-part-within-total)" in message
    assert "\n" not in message
    _nothing_stored(store)


def test_a_fingertips_count_above_its_denominator_is_refused_not_held(store: Engine, store_settings: Settings) -> None:
    """West Sussex 2018/19: 99,999 users not in treatment of 2,585 estimated is refused as a numerator above its
    denominator, in the file's first release or a later one."""
    import_release(
        store, store_settings, OPIATES, OPIATES.bundled.read_bytes(), filename="a.csv", fetched_from="upload"
    )
    data = _edited(OPIATES, 2, {"Count": "99999"})
    with pytest.raises(ImplausibleRelease) as refused:
        import_release(store, store_settings, OPIATES, data, filename="edited.csv", fetched_from="upload")
    message = refused.value.message
    assert message.startswith("edited.csv row 2: The numerator of ohid.ocu_not_in_treatment_pct")
    assert "ohid.ocu_not_in_treatment (Count) is 99,999" in message
    assert "ohid.ocu_estimated (Denominator) is only 2,585.33" in message
    assert "(rule ratio.ocu_not_in_treatment_pct)" in message
    with Session(store) as session:
        assert _count(session, PublishedRelease) == 1
        assert _count(session, HeldFigure) == 0


def test_no_proportion_the_service_works_out_is_over_100_percent(store: Engine) -> None:
    """Figures stored before the rule (or kept beside the store) with 175 completions of 75 in treatment give no
    completion percentage of 233%: the cell is not worked out, and says why."""

    def figures(indicator: str, value: float) -> pl.DataFrame:
        return as_parts(
            pl.DataFrame(
                {
                    "obs_id": [1],
                    "indicator_id": [indicator],
                    "org_code": [BARNET],
                    "period": ["FY2020-21"],
                    "breakdown": [""],
                    "value": [value],
                    "numerator": [None],
                    "denominator": [None],
                    "symbol": [None],
                },
                schema_overrides={"numerator": pl.Float64, "denominator": pl.Float64, "symbol": pl.String},
            )
        )

    with Session(store) as session:
        resolver = Resolver(session, parse_period("FY2020-21"))
        resolver.use("ndtms.scnr_completed_not_re_presenting", figures("ndtms.scnr_completed_not_re_presenting", 175))
        resolver.use("ndtms.scnr_in_treatment", figures("ndtms.scnr_in_treatment", 75))
        row = resolver.resolve("ndtms.successful_completion_pct", [BARNET]).row(0, named=True)
        assert row["value"] is None
        assert row["status"] == "not_derivable"
        assert "a part cannot be more than its whole" in row["reason"]
        fine = Resolver(session, parse_period("FY2020-21"))
        fine.use("ndtms.scnr_completed_not_re_presenting", figures("ndtms.scnr_completed_not_re_presenting", 25))
        fine.use("ndtms.scnr_in_treatment", figures("ndtms.scnr_in_treatment", 75))
        kept = fine.resolve("ndtms.successful_completion_pct", [BARNET]).row(0, named=True)
        assert kept["status"] == "present"
        assert kept["value"] == pytest.approx(100 * 25 / 75)


#: Barnet's 2021/22 total row (file row 725): three of its 54 figures more than doubled in an edited file.
TOTAL_ROW = 725
JUMPS = {
    "intreatment_allintx": ("ndtms.adults_in_treatment", "1465", "2930"),
    "newpresentation_newtx": ("ndtms.new_presentations", "650", "1300"),
    "exits_droppedout_allintx": ("ndtms.exits_dropped_out", "220", "660"),
}


def _jumped() -> bytes:
    rows = list(csv.DictReader(io.StringIO(LA.bundled.read_text(encoding="utf-8-sig"))))
    row = rows[TOTAL_ROW - 2]
    assert (row["ReportingPeriod"], row["sex"], row["age_group"], row["drug_group"]) == (
        "2021/22",
        "TOTAL",
        "TOTAL",
        "Total",
    )
    assert {c: row[c] for c in JUMPS} == {c: old for c, (_, old, _) in JUMPS.items()}
    return _edited(LA, TOTAL_ROW, {c: new for c, (_, _, new) in JUMPS.items()})


def test_three_changed_figures_open_three_queries_each_naming_its_own(store_client: TestClient, store: Engine) -> None:
    """An edited export changing three figures of one row holds those three, not the row's 54 (nor every row):
    each query names its indicator, area, period, breakdown, new and last accepted value; the rest is stored."""
    first = store_client.post(LA_URL, headers=OFFICER, files={"file": (LA.file, LA.bundled.read_bytes())})
    assert first.status_code == 201, first.text
    jumped = store_client.post(LA_URL, headers=OFFICER, files={"file": ("edited.csv", _jumped())})
    assert jumped.status_code == 201, jumped.text
    release = jumped.json()["release"]
    assert release["held"] == 3
    held = store_client.get("/api/published/queries", headers=OFFICER).json()
    assert held["total"] == 3
    by_indicator = {h["indicator_id"]: h for h in held["items"]}
    for indicator, old, new in JUMPS.values():
        item = by_indicator[indicator]
        assert (item["org_code"], item["period"], item["breakdown"], item["file_row"]) == (
            BARNET,
            "FY2021-22",
            "",
            TOTAL_ROW,
        )
        assert item["value"] == float(new)
        assert item["last_value"] == float(old)
        assert item["rule"] == "change.revision"
        assert item["message"].startswith(f"{indicator} for {BARNET}, FY2021-22, total: ")
        assert f"{int(new):,} changes the last accepted {int(old):,}" in item["message"]
    with Session(store) as session:
        assert _count(session, HeldFigure) == 3


def test_an_officer_confirms_a_releases_held_figures_with_one_note(store_client: TestClient, store: Engine) -> None:
    """One confirmed on its own, the other two together with one note: each becomes NDTMS's current figure."""
    store_client.post(LA_URL, headers=OFFICER, files={"file": (LA.file, LA.bundled.read_bytes())})
    release = store_client.post(LA_URL, headers=OFFICER, files={"file": ("edited.csv", _jumped())}).json()["release"]
    items = store_client.get("/api/published/queries", headers=OFFICER).json()["items"]
    one = next(h for h in items if h["indicator_id"] == "ndtms.adults_in_treatment")
    done = store_client.post(f"/api/published/queries/{one['id']}", headers=OFFICER, json={"note": "NDTMS revised"})
    assert done.status_code == 200, done.text
    url = f"/api/published/releases/{release['id']}/queries"
    assert store_client.post(url, headers=OFFICER, json={"note": ""}).status_code == 422
    assert (
        store_client.post(url, headers={"X-API-Key": "demo-regulator-ohid-c4d91f60"}, json={"note": "x"}).status_code
        == 403
    )
    together = store_client.post(url, headers=OFFICER, json={"note": "NDTMS's revised release for 2021/22"})
    assert together.status_code == 200, together.text
    confirmed = together.json()
    assert sorted(h["indicator_id"] for h in confirmed) == ["ndtms.exits_dropped_out", "ndtms.new_presentations"]
    assert {h["state"] for h in confirmed} == {"answered"}
    assert {h["note"] for h in confirmed} == {"NDTMS's revised release for 2021/22"}
    assert store_client.get("/api/published/queries", headers=OFFICER).json()["total"] == 0
    again = store_client.post(url, headers=OFFICER, json={"note": "again"})
    assert again.status_code == 422
    assert (
        store_client.post("/api/published/releases/999999/queries", headers=OFFICER, json={"note": "x"}).status_code
        == 404
    )
    with Session(store) as session:
        current = dict(
            session.execute(
                select(PublishedFigure.indicator_id, PublishedFigure.value).where(
                    PublishedFigure.org_code == BARNET,
                    PublishedFigure.period == "FY2021-22",
                    PublishedFigure.breakdown == "",
                    col(PublishedFigure.indicator_id).in_([i for i, _, _ in JUMPS.values()]),
                    col(PublishedFigure.is_current),
                )
            ).all()
        )
        assert current == {i: float(new) for i, _, new in JUMPS.values()}
        assert session.get(Submission, release["submission_id"]).queries_open == 0  # type: ignore[union-attr]
