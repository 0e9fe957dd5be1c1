"""Made-up figures apart: the demo's synthetic county (made-up children) has an org unit of its own, with a code no
ONS area has, in a tree of its own, so its figures are never Derbyshire's and enter no real roll-up, neighbour group,
quartile or England figure; a store made when it sat on Derbyshire's code moves its figures at load, nothing lost."""

from __future__ import annotations

import re

from sqlalchemy import Engine, delete, insert
from sqlmodel import Session, col, func, select

from collectors.figures.service import submit
from collectors.published.intake import import_release
from collectors.published.sources import load_sources
from exports.signoff import sign_off_all
from indicators.store.models import Observation, Submission
from mappings.comparison.figures import geography
from mappings.levels import figures_at_level
from mappings.models import AgencyOrg, OrgParent, OrgUnit
from mappings.service import load_bundled
from mappings.signoff.figures import Figure, digest_of, value_text
from mappings.signoff.models import SignOff, SignOffEvent
from mappings.signoff.states import Actor
from onereturn.settings import Settings

AGENCY = "synthetic_county"
OWN = "SYNTHETIC-COUNTY"
DERBYSHIRE = "E10000007"
EAST_MIDLANDS = "E12000004"
ENGLAND = "E92000001"
MADE_UP = 205.0


def _upload(store: Engine, settings: Settings, org: str) -> Submission:
    text = f"indicator,org,period,breakdown,value\ncyp.lac_count,{org},2025-03-31,,{MADE_UP:g}\n"
    outcome = submit(store, settings, agency_code=AGENCY, filename="lac.csv", data=text.encode(), submitted_by="t")
    sub = outcome.submission
    assert sub is not None
    assert sub.status == "accepted", sub.message
    return sub


def _value(session: Session, level: str, org: str) -> float | None:
    rows = figures_at_level(session, "cyp.lac_count", "2025-03-31", level, org=org)[1]
    return next((r["value"] for r in rows if r["breakdown"] == ""), None)  # type: ignore[return-value]


def test_the_synthetic_county_has_an_org_unit_of_its_own_outside_england(engine: Engine) -> None:
    with Session(engine) as session:
        unit = session.get(OrgUnit, OWN)
        orgs = session.execute(select(AgencyOrg.org_code).where(AgencyOrg.agency_code == AGENCY)).scalars().all()
        parents = session.execute(select(OrgParent.parent_code).where(OrgParent.child_code == OWN)).scalars().all()
        grandparents = session.execute(
            select(OrgParent.parent_code).where(col(OrgParent.child_code).in_(parents))
        ).scalars()
        _, peers, region = geography(session)
    assert unit is not None
    assert unit.type == "illustrative_council"
    assert not re.fullmatch(r"[ENSW]\d{8}", OWN)  # no ONS (GSS) code looks like it
    assert list(orgs) == [OWN]
    assert list(parents) == ["ILLUSTRATIVE"]
    assert list(grandparents) == []  # not a region, not England: a tree of its own
    assert OWN not in peers
    assert OWN not in region


def test_a_synthetic_figure_is_not_derbyshires_nor_in_any_real_roll_up(store: Engine, store_settings: Settings) -> None:
    with Session(store) as session:
        own = session.execute(select(AgencyOrg.org_code).where(AgencyOrg.agency_code == AGENCY)).scalars().one()
    _upload(store, store_settings, own)
    with Session(store) as session:
        assert _value(session, "county", DERBYSHIRE) != MADE_UP
        assert _value(session, "region", EAST_MIDLANDS) != MADE_UP
        assert _value(session, "england", ENGLAND) != MADE_UP
        assert _value(session, "illustrative_council", OWN) == MADE_UP


def test_a_store_made_on_derbyshires_code_moves_the_synthetic_figures_at_load(
    store: Engine, store_settings: Settings
) -> None:
    with Session(store) as session:
        # The store as an earlier release made it: the synthetic county answering for Derbyshire's code.
        session.execute(delete(AgencyOrg).where(col(AgencyOrg.agency_code) == AGENCY))
        session.execute(insert(AgencyOrg).values(agency_code=AGENCY, org_code=DERBYSHIRE))
        session.commit()
    sub = _upload(store, store_settings, DERBYSHIRE)
    with Session(store) as session:
        signed = sign_off_all(session, Actor("test approver"), return_ids=["dfe_ssda903"])
        session.commit()
        assert [s.agency_code for s in signed] == [AGENCY]
        figures = session.execute(select(func.count()).select_from(Observation)).scalar_one()

        counts = load_bundled(session)
        session.commit()
        assert counts["figures_moved"] == 1
        assert counts["signoffs_redigested"] == 1

        moved = session.execute(select(Observation).where(Observation.submission_id == sub.id)).scalars().one()
        assert moved.org_code == OWN
        assert moved.value == MADE_UP
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == figures  # none lost
        assert _value(session, "county", DERBYSHIRE) != MADE_UP
        row = session.execute(select(SignOff).where(SignOff.agency_code == AGENCY)).scalars().one()
        assert row.state == "signed_off"
        assert row.digest == digest_of(
            [Figure(int(moved.id or 0), moved.indicator_id, OWN, moved.period, "", value_text(moved.value, None, None))]
        )
        event = (
            session.execute(
                select(SignOffEvent).where(SignOffEvent.signoff_id == row.id).order_by(col(SignOffEvent.id).desc())
            )
            .scalars()
            .first()
        )
        assert event is not None
        assert f"moved from {DERBYSHIRE} to {OWN}" in event.detail

        again = load_bundled(session)  # nothing left to move
        assert again["figures_moved"] == 0
        assert again["signoffs_redigested"] == 0


def test_the_synthetic_county_takes_derbyshires_population_and_no_other_figure_of_it(
    store: Engine, store_settings: Settings
) -> None:
    sources = load_sources().sources
    for source in ("ons_population_0_17", "dfe_csww"):
        spec = sources[source]
        import_release(store, store_settings, spec, spec.bundled.read_bytes(), filename=spec.file, fetched_from="t")
    with Session(store) as session:
        population = figures_at_level(session, "pop.resident_0_17", "CY2024", "illustrative_council", org=OWN)[1]
        derbyshire = _level_value(session, "pop.resident_0_17", "CY2024", "county", DERBYSHIRE)
        workforce = figures_at_level(session, "cyp.csw_in_post_fte", "2024-09-30", "illustrative_council", org=OWN)[1]
        assert _level_value(session, "cyp.csw_in_post_fte", "2024-09-30", "county", DERBYSHIRE) is not None
    # Its rates' base is Derbyshire's published population, named in the lineage; Derbyshire's own figures are not its.
    assert derbyshire is not None
    assert [r["value"] for r in population if r["breakdown"] == ""] == [derbyshire]
    assert [r for r in workforce if r["value"] is not None] == []


def _level_value(session: Session, indicator: str, period: str, level: str, org: str) -> float | None:
    rows = figures_at_level(session, indicator, period, level, org=org)[1]
    return next((r["value"] for r in rows if r["breakdown"] == ""), None)  # type: ignore[return-value]
