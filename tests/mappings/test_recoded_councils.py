"""Recoded councils: the geography knows ONS's successor codes with the day they began, so a publisher's row under a
council's new code lands on its council; a row for a code the geography lacks is named with its release, and a
store made before the codes were known gets them at its next load."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from collectors.published.intake import import_release
from collectors.published.sources import load_sources
from indicators.periods import parse_period
from indicators.published import PublishedFigure
from mappings.areas import Geography
from mappings.geography import load_geography
from mappings.models import AgencyOrg, OrgParent, OrgUnit
from mappings.service import load_bundled
from onereturn.settings import Settings

CSWW = load_sources().sources["dfe_csww"]
#: ONS's codes before and after 1 April 2025 (SI 2024/1328): Barnsley, Sheffield.
RECODED = {"E08000016": "E08000038", "E08000019": "E08000039"}
YORKSHIRE = "E12000003"


def test_barnsley_and_sheffield_take_their_new_codes_on_1_april_2025() -> None:
    geo = load_geography()
    units = {str(u["code"]): u for u in geo.org_units}
    for old, new in RECODED.items():
        assert units[old]["valid_to"] == date(2025, 3, 31)
        assert units[new]["valid_from"] == date(2025, 4, 1)
        assert units[new]["name"] == units[old]["name"]
        assert units[new]["type"] == "metropolitan_district"
        assert "SI 2024/1328" in str(units[new]["source"]) or "reorganisations.csv" in str(units[new]["source"])
        # The new code has its predecessor's region, so it rolls up to Yorkshire and The Humber and England.
        assert (new, YORKSHIRE) in {(str(e["child_code"]), str(e["parent_code"])) for e in geo.org_parents}


def test_the_region_holds_the_new_codes_from_april_2025_and_the_old_ones_before(engine: Engine) -> None:
    with Session(engine) as session:
        before = Geography.load(session, parse_period("FY2024-25"))
        after = Geography.load(session, parse_period("2025-09-30"))
    for old, new in RECODED.items():
        assert old in before.nested(YORKSHIRE)
        assert new not in before.nested(YORKSHIRE)
        assert new in after.nested(YORKSHIRE)
        assert old not in after.nested(YORKSHIRE)


def _csww(store: Engine, settings: Settings, data: bytes) -> tuple[int, dict[str, int], str]:
    done = import_release(store, settings, CSWW, data, filename=CSWW.file, fetched_from="upload")
    return done.release.skipped, done.release.unknown_areas, done.release.message


def test_dfe_2025_workforce_rows_for_sheffield_and_barnsley_land_on_them(
    store: Engine, store_settings: Settings
) -> None:
    skipped, unknown, _ = _csww(store, store_settings, CSWW.bundled.read_bytes())
    with Session(store) as session:
        landed = {
            (f.org_code, f.indicator_id)
            for f in session.execute(
                select(PublishedFigure).where(
                    col(PublishedFigure.org_code).in_(list(RECODED.values())), PublishedFigure.period == "2025-09-30"
                )
            ).scalars()
        }
    assert landed == {
        (new, ind) for new in RECODED.values() for ind in ("cyp.csw_in_post_fte", "cyp.csw_vacancies_fte")
    }
    assert not set(RECODED.values()) & set(unknown)
    assert skipped == sum(unknown.values())


def test_a_row_for_a_code_the_geography_lacks_is_named_with_its_release(
    store: Engine, store_settings: Settings
) -> None:
    text = CSWW.bundled.read_text(encoding="utf-8-sig").replace(",E08000039,Sheffield,", ",E08000099,Nowhere,")
    skipped, unknown, message = _csww(store, store_settings, text.encode())
    # Two figures (in post, vacancies) of the one 2025 row: counted, named in the answer and kept with the release.
    assert unknown["E08000099"] == 2
    assert skipped == sum(unknown.values())
    assert "E08000099, 2 figure(s)" in message
    with Session(store) as session:
        stored = session.execute(select(PublishedFigure).where(PublishedFigure.org_code == "E08000099")).first()
    assert stored is None


def test_a_store_made_before_the_new_codes_gets_them_at_its_next_load(store: Engine) -> None:
    with Session(store) as session:
        # The store as it was before the geography knew the recoding.
        session.execute(delete(AgencyOrg).where(col(AgencyOrg.org_code).in_(list(RECODED.values()))))
        session.execute(delete(OrgParent).where(col(OrgParent.child_code).in_(list(RECODED.values()))))
        session.execute(delete(OrgUnit).where(col(OrgUnit.code).in_(list(RECODED.values()))))
        session.execute(update(OrgUnit).where(col(OrgUnit.code).in_(list(RECODED))).values(valid_to=None))
        session.execute(update(OrgParent).where(col(OrgParent.child_code).in_(list(RECODED))).values(valid_to=None))
        session.commit()
        counts = load_bundled(session)
        session.commit()
        assert counts["geography_units_refreshed"] >= 4
        again = load_bundled(session)
        assert again["geography_units_refreshed"] == 0
        assert again["geography_edges_refreshed"] == 0
        for old, new in RECODED.items():
            assert session.get(OrgUnit, old).valid_to == date(2025, 3, 31)  # type: ignore[union-attr]
            assert session.get(OrgUnit, new).valid_from == date(2025, 4, 1)  # type: ignore[union-attr]
        after = Geography.load(session, parse_period("2025-09-30"))
        publishers = set(session.execute(select(AgencyOrg.org_code).where(AgencyOrg.agency_code == "dfe")).scalars())
    assert set(RECODED.values()) <= set(after.nested(YORKSHIRE))
    # The publishers that answer for every council answer for the new codes too.
    assert set(RECODED.values()) <= publishers
