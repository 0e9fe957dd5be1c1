"""The demo's population and DfE figures come through the published-figures intake from the publishers' own
files; the synthetic county's record-level rates are filled from the population so loaded (Derbyshire's, whose
postcodes its made-up children have, labelled so); its made-up figures stand beside no real council's."""

from __future__ import annotations

import polars as pl
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from cli.demo import RECORDS_LA, RECORDS_ORG, demo_files
from collectors.figures.service import submit
from indicators.periods import parse_period
from indicators.published_query import differences, published_figures
from indicators.store.models import Observation, Submission
from mappings.models import AgencyIndicator
from mappings.resolve import Resolver
from onereturn.settings import Settings
from tests.apps import client_on
from tests.demo_store import demo_said, demo_store_fixture

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
#: Stores with the publishers' files read through the intake (``load_published``), then the synthetic county's
#: records uploaded (``load_records_demo``) or not; each loaded once per process and copied per test.
store = demo_store_fixture("store", "published", "records")
published_store = demo_store_fixture("published_store", "published")


def test_the_demo_population_comes_from_the_publishers_file_and_fills_the_records_rates(
    store: Engine, store_template: str
) -> None:
    published = demo_said(store_template, "published", "records")["published"]
    assert next(u.agency for u in published) == "ons"
    assert all(u.status == "accepted" for u in published)
    with Session(store) as session:
        pop = session.execute(
            select(Observation, Submission)
            .join(Submission, col(Submission.id) == col(Observation.submission_id))
            .where(
                Observation.indicator_id == "pop.resident_0_17",
                Observation.org_code == RECORDS_LA,
                col(Observation.is_current),
            )
        ).all()
        assert pop
        assert {sub.kind for _, sub in pop} == {"published"}
        assert {sub.agency_code for _, sub in pop} == {"ons"}
        rates = Resolver(session, parse_period("2025-03-31")).resolve("cyp.lac_rate_per_10k", [RECORDS_ORG])
        assert rates.height == 1
        row = rates.row(0, named=True)
        count = session.execute(
            select(Observation.value).where(
                Observation.indicator_id == "cyp.lac_count",
                Observation.org_code == RECORDS_ORG,
                Observation.period == "2025-03-31",
                col(Observation.is_current),
            )
        ).scalar_one()
        assert row["value"] is not None
        # The made-up council's rate is over the published population of the real council it stands in for, and its
        # lineage names that figure (Derbyshire's, ONS's); Derbyshire itself takes no figure from it.
        assert row["denominator"] in {o.value for o, _ in pop}
        assert abs(row["value"] - 10000 * count / row["denominator"]) < 0.5
        assert {o.id for o, _ in pop} & set(row["obs_ids"])


def test_the_synthetic_countys_figures_stand_beside_no_real_councils(
    store: Engine, store_settings: Settings, store_client: TestClient
) -> None:
    for agency, path in demo_files():
        if agency == "notts_cyp":
            submit(store, store_settings, agency_code=agency, filename=path.name, data=path.read_bytes())
    with Session(store) as session:
        found, total = differences(session, org_code=RECORDS_LA)
        dfe = published_figures(session, indicator_ids=["cyp.lac_count"], org_codes=[RECORDS_LA], period="2025-03-31")
        stored = session.execute(
            select(Observation.org_code, Observation.value, Submission.agency_code)
            .join(Submission, col(Submission.id) == col(Observation.submission_id))
            .where(
                Observation.indicator_id == "cyp.lac_count",
                col(Observation.org_code).in_([RECORDS_LA, RECORDS_ORG]),
                Observation.period == "2025-03-31",
                col(Observation.is_current),
            )
        ).all()
    # Derbyshire's count is DfE's, in the store as DfE's; the made-up council's own is on its own code.
    assert (total, found) == (0, [])
    by_org = {org: (value, agency) for org, value, agency in stored}
    assert by_org[RECORDS_LA] == (dfe["value"][0], "dfe_statistics")
    assert by_org[RECORDS_ORG][1] == "synthetic_county"
    assert by_org[RECORDS_ORG][0] != dfe["value"][0]
    answer = store_client.get("/api/published/differences", headers=OFFICER, params={"org": RECORDS_LA})
    assert answer.status_code == 200
    assert answer.json()["total"] == 0
    # Where a council's own figure equals the publisher's (the demo's Nottinghamshire figures are DfE's), none.
    with Session(store) as session:
        own = session.execute(
            select(Observation.value).where(
                Observation.indicator_id == "cyp.lac_count",
                Observation.org_code == "E10000024",
                Observation.period == "2025-03-31",
                col(Observation.is_current),
            )
        ).scalar_one()
        beside = published_figures(
            session, indicator_ids=["cyp.lac_count"], org_codes=["E10000024"], period="2025-03-31"
        )
    assert own == beside["value"][0] == 901
    nottinghamshire = store_client.get("/api/published/differences", headers=OFFICER, params={"org": "E10000024"})
    assert nottinghamshire.json()["total"] == 0


def test_burden_counts_the_publishers_figures_apart(published_store: Engine) -> None:
    from exports.burden.report import burden

    store = published_store
    with Session(store) as session:
        report = burden(session, "FY2024-25")
    by = {p.publisher: p for p in report.from_publishers}
    assert set(by) == {"ons", "dfe_statistics"}
    # ONS's estimates overlapping April 2024 to March 2025 (mid-2024 and mid-2025 would; the file ends at 2024),
    # for England, its regions and councils: all in the store as ONS's.
    with Session(store) as session:
        expected = session.execute(
            select(func.count())
            .select_from(Observation)
            .where(
                Observation.indicator_id == "pop.resident_0_17",
                Observation.period == "CY2024",
                col(Observation.is_current),
            )
        ).scalar_one()
    assert by["ons"].figures == by["ons"].in_store == expected
    # The rates of DfE's looked-after return read the population as their denominator.
    assert by["ons"].by_return["dfe_ssda903"] == expected
    # DfE's figures of the councils that answer for their own sit beside theirs; the rest are in the store as DfE's.
    assert 0 < by["dfe_statistics"].in_store < by["dfe_statistics"].figures
    with Session(store) as session:
        beside = published_figures(session, publisher="dfe_statistics").filter(pl.col("stored_as") == "beside")
        # DfE itself (the agency "dfe") is the designated source of the attainment, absence and exclusion figures of
        # every council: its published figures of those sit beside the cells it answers for, whichever the council.
        dfe_own = set(
            session.execute(select(AgencyIndicator.indicator_id).where(AgencyIndicator.agency_code == "dfe")).scalars()
        )
    councils_own = beside.filter(~pl.col("indicator_id").is_in(list(dfe_own)))
    # The made-up council answers for no real council's code, so DfE's Derbyshire figures are DfE's own in the store.
    assert set(councils_own["org_code"].unique().to_list()) == {"E10000024", "E09000023"}


def test_the_burden_answer_and_the_officers_page_list_the_publishers_figures(
    published_store: Engine, store_settings: Settings
) -> None:
    from tests.web.pages import OFFICER as OFFICER_KEY
    from tests.web.pages import sign_in

    store = published_store
    with client_on(store_settings, store, follow_redirects=False) as web:
        report = web.get("/api/burden", params={"period": "FY2024-25"}, headers=OFFICER).json()
        by = {p["publisher"]: p for p in report["from_publishers"]}
        assert set(by) == {"ons", "dfe_statistics"}
        assert by["ons"]["figures"] == by["ons"]["in_store"] > 0
        sign_in(web, OFFICER_KEY)
        page = web.get("/burden", params={"period": "FY2024-25"}).text
    assert 'id="publishers-burden"' in page
    assert "From publishers, keyed by nobody" in page
