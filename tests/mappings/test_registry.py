"""Agencies as data: imported from a spreadsheet with the agency files' checks, by row and column."""

from __future__ import annotations

import io

import pytest
import xlsxwriter
from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from mappings import registry
from mappings.agencies import remove_demo
from mappings.catalogue import LEVEL_GROUPS
from mappings.geography import load_geography
from mappings.keys.models import ApiKey
from mappings.models import Agency, AgencyIndicator, AgencyOrg
from mappings.service import load_bundled
from onereturn import db
from onereturn.errors import CatalogueError, InvalidInput

HEADER = "code,name,body_type,email,orgs,returns\n"


def without_demo(engine: Engine) -> None:
    """Turn the store into a deployment without the demo."""
    with db.session_scope(engine) as session:
        remove_demo(session)


def count(engine: Engine, model: type[Agency] | type[ApiKey]) -> int:
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def run_import(
    engine: Engine, text: str, name: str = "agencies.csv", *, dry_run: bool = False
) -> registry.ImportResult:
    with db.session_scope(engine) as session:
        return registry.import_agencies(session, text.encode(), name, dry_run=dry_run)


def test_all_upper_tier_english_authorities_from_one_file(store: Engine) -> None:
    kinds = LEVEL_GROUPS["upper_tier_la"]
    current = [u for u in load_geography().org_units if u["type"] in kinds and u["valid_to"] is None]
    assert len(current) == 153
    lines = [
        f'la_{str(u["code"]).lower()},"{u["name"]}",local_authority,,{u["code"]},county_cyp_core;dfe_ssda903;dfe_cin_census'
        for u in current
    ]
    without_demo(store)
    assert count(store, Agency) == 0
    assert count(store, ApiKey) == 0
    result = run_import(store, HEADER + "\n".join(lines) + "\n")
    assert len(result.created) == 153
    with Session(store) as session:
        orgs: dict[str, str] = dict(session.execute(select(AgencyOrg.agency_code, AgencyOrg.org_code)).all())
        per_agency: dict[str, int] = dict(
            session.execute(
                select(AgencyIndicator.agency_code, func.count()).group_by(AgencyIndicator.agency_code)
            ).all()
        )
    assert len(orgs) == 153
    assert orgs["la_e10000016"] == "E10000016"
    assert len(set(per_agency.values())) == 1
    assert min(per_agency.values()) > 20
    again = run_import(store, HEADER + "\n".join(lines) + "\n")
    assert len(again.unchanged) == 153
    # A second authority for Kent's figures is refused, naming both.
    with pytest.raises(InvalidInput) as caught:
        run_import(store, HEADER + "kent_two,Kent again,local_authority,,E10000016,dfe_ssda903\n")
    assert "would be asked of both la_e10000016 and kent_two" in caught.value.errors[0]["msg"]
    assert caught.value.errors[0]["loc"] == ["row", 2, "orgs"]


def test_resolution_from_the_store_matches_the_agency_files(session: Session) -> None:
    view = registry.CatalogueView.read(session)
    for agency in session.execute(select(Agency)).scalars():
        spec = registry.AgencyInput.model_construct(
            code=agency.code,
            name=agency.name,
            body_type=agency.body_type,
            email=agency.email,
            orgs=agency.definition["orgs"],
            returns=agency.definition["returns"],
            indicators=agency.definition["indicators"],
            provenance="",
        )
        resolved, issues = registry.resolve(view, None, spec)
        assert issues == []
        stored = sorted(
            session.execute(select(AgencyIndicator.indicator_id).where(AgencyIndicator.agency_code == agency.code))
            .scalars()
            .all()
        )
        assert resolved.indicators == stored, agency.code


def test_every_problem_is_reported_by_row_and_column_and_nothing_is_stored(store: Engine) -> None:
    before = count(store, Agency)
    text = HEADER + (
        "kent_cyp,Kent County Council,local_authority,perf@kent.example,E10000016,dfe_ssda903\n"
        "Bad Code,Ke,county,not-an-email,E99999999;type:shire,dfe_ssda903;no_such_return\n"
        "\n"
        "kent_cyp,Kent again,local_authority,,E10000016,\n"
    )
    with pytest.raises(InvalidInput) as caught:
        run_import(store, text)
    locs = {tuple(e["loc"]): e for e in caught.value.errors}
    assert set(locs) == {
        ("row", 3, "code"),
        ("row", 3, "name"),
        ("row", 3, "body_type"),
        ("row", 3, "email"),
        ("row", 3, "orgs"),
        ("row", 3, "returns"),
        ("row", 5, "code"),
    }
    assert "'county' is not a body_type code" in locs[("row", 3, "body_type")]["msg"]
    assert locs[("row", 3, "returns")]["input"] == "no_such_return"
    assert "also on row 2" in locs[("row", 5, "code")]["msg"]
    messages = [e["msg"] for e in caught.value.errors]
    assert "org unit 'E99999999' is not known" in messages
    assert any("'type:shire' selects no org type" in m for m in messages)
    assert count(store, Agency) == before


def test_clashes_with_stored_agencies_and_demo_codes(store: Engine) -> None:
    with pytest.raises(InvalidInput) as caught:
        run_import(store, HEADER + "notts_two,Notts again,local_authority,,E10000024,dfe_ssda903\n")
    assert "would be asked of both notts_cyp and notts_two" in str(caught.value.errors)
    with pytest.raises(InvalidInput) as caught:
        run_import(store, HEADER + "notts_cyp,Notts,local_authority,,E10000016,dfe_ssda903\n")
    assert "demo agency" in caught.value.errors[0]["msg"]
    # Two rows of one file that would ask the same figures.
    rows = "a_one,A one,local_authority,,E10000016,dfe_ssda903\nb_two,B two,local_authority,,type:county,nis\n"
    with pytest.raises(InvalidInput) as caught:
        run_import(store, HEADER + rows)
    assert caught.value.errors[0]["loc"] == ["row", 3, "orgs"]


def test_columns_are_checked(store: Engine) -> None:
    with pytest.raises(InvalidInput) as caught:
        run_import(store, "code,title,body_type\nx_y,X,local_authority\n")
    assert {tuple(e["loc"]) for e in caught.value.errors} == {
        ("row", 1, "title"),
        ("row", 1, "name"),
        ("row", 1, "orgs"),
    }
    with pytest.raises(InvalidInput, match="no agency rows"):
        run_import(store, HEADER)


def test_xlsx_and_semicolon_csv(store: Engine) -> None:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("Agencies")
    for r, row in enumerate(
        [
            ["code", "name", "body_type", "email", "orgs", "returns"],
            ["kent_cyp", "Kent CYP", "local_authority", "", "E10000016", "dfe_ssda903, dfe_cin_census"],
        ]
    ):
        sheet.write_row(r, 0, row)
    book.close()
    with db.session_scope(store) as session:
        result = registry.import_agencies(session, buffer.getvalue(), "agencies.xlsx")
        assert result.created == ["kent_cyp"]
        assert registry.describe(session, "kent_cyp").returns == ["dfe_cin_census", "dfe_ssda903"]
    result = run_import(
        store, "code;name;body_type;orgs;returns\nsurrey_cyp;Surrey CYP;local_authority;E10000030;nis\n"
    )
    assert result.created == ["surrey_cyp"]
    dry = run_import(store, HEADER + "kent_cyp,Kent CYP renamed,local_authority,,E10000016,dfe_ssda903\n", dry_run=True)
    assert dry.updated == ["kent_cyp"]
    with Session(store) as session:
        assert session.get(Agency, "kent_cyp").name == "Kent CYP"  # type: ignore[union-attr]


def test_links_are_rebuilt_after_a_catalogue_change(store: Engine) -> None:
    run_import(store, HEADER + "kent_cyp,Kent CYP,local_authority,,E10000016,dfe_ssda903\n")
    with db.session_scope(store) as session:
        before = registry.describe(session, "kent_cyp")
        # What a changed catalogue does to every agency's links before they are rebuilt.
        session.execute(delete(AgencyIndicator).where(col(AgencyIndicator.agency_code) == "kent_cyp"))
        assert registry.describe(session, "kent_cyp").indicators == []
        assert registry.relink(session) == 1
        assert registry.describe(session, "kent_cyp") == before


def test_the_demo_keeps_imported_agencies_and_refuses_to_clash_with_them(store: Engine) -> None:
    without_demo(store)
    run_import(store, HEADER + "notts_county,Nottinghamshire CC,local_authority,,E10000024,dfe_ssda903\n")
    with pytest.raises(CatalogueError) as caught, db.session_scope(store) as session:
        load_bundled(session, demo_keys=True)
    assert "notts_county (imported) and notts_cyp (demo)" in str(caught.value.errors)
    run_import(store, HEADER + "notts_county,Nottinghamshire CC,local_authority,,E10000025,dfe_ssda903\n")
    with db.session_scope(store) as session:
        load_bundled(session, demo_keys=True)
        codes = set(session.execute(select(Agency.code)).scalars())
    assert {"notts_county", "notts_cyp", "ons"} <= codes


def test_a_new_catalogue_version_keeps_imported_agencies_linked(store: Engine) -> None:
    import copy

    from mappings.catalogue import load_catalogue

    run_import(store, HEADER + "kent_cyp,Kent CYP,local_authority,,E10000016,dfe_ssda903;county_cyp_core\n")
    with Session(store) as session:
        before = registry.describe(session, "kent_cyp")
    changed = load_catalogue()
    changed.indicators = copy.copy(changed.indicators)
    digest = changed.indicators.digest.copy()
    digest.update(b"a reviewed change")
    changed.indicators.digest = digest
    with db.session_scope(store) as session:
        counts = load_bundled(session, catalogue=changed)
    assert counts["agencies_relinked"] == 1
    with Session(store) as session:
        after = registry.describe(session, "kent_cyp")
    assert after.indicators == before.indicators
    assert after.returns == ["county_cyp_core", "dfe_ssda903"]


def test_a_body_publishing_its_own_official_statistics_says_so_and_keeps_it(store: Engine) -> None:
    without_demo(store)
    text = (
        "code,name,body_type,orgs,indicators,published\n"
        'pop_source,"Population source",ons,type:upper_tier_la,pop.*,"Published as National Statistics"\n'
        'kent_cc,"Kent County Council",local_authority,E10000016,,\n'
    )
    run_import(store, text)
    with db.session_scope(store) as session:
        assert registry.describe(session, "pop_source").published == "Published as National Statistics"
        assert registry.describe(session, "kent_cc").published == ""
        from mappings.signoff.states import published_sources

        assert published_sources(session) == frozenset({"pop_source"})
        # A change that does not name it keeps it; one that empties it makes the body sign off like any other.
        registry.update_agency(session, "pop_source", registry.AgencyChange(name="Population source (ONS)"), source="t")
        assert registry.describe(session, "pop_source").published == "Published as National Statistics"
        registry.update_agency(session, "pop_source", registry.AgencyChange(published=""), source="t")
        assert published_sources(session) == frozenset()


def test_a_start_that_stores_the_same_bundled_agencies_again_changes_nothing_kept_until_an_agency_changes(
    store: Engine,
) -> None:
    from mappings.signoff.lineage import store_key

    with db.session_scope(store) as session:
        load_bundled(session, demo_keys=True)
    with Session(store) as session:
        stamps = dict(session.execute(select(Agency.code, Agency.updated_at)).all())
        key = store_key(session)
    with db.session_scope(store) as session:
        load_bundled(session, demo_keys=True)
    with Session(store) as session:
        # Stored again unchanged (as every start with the demo does): what is kept under the store's key stands.
        assert dict(session.execute(select(Agency.code, Agency.updated_at)).all()) == stamps
        assert store_key(session) == key
        notts = session.get(Agency, "notts_cyp")
        assert notts is not None
        notts.name = "Nottinghamshire (renamed)"
        session.commit()
    with db.session_scope(store) as session:
        load_bundled(session, demo_keys=True)
    with Session(store) as session:
        # A bundled agency that differs from its file is stored again, and says so.
        moved = session.get(Agency, "notts_cyp")
        assert moved is not None
        assert moved.name != "Nottinghamshire (renamed)"
        assert moved.updated_at > stamps["notts_cyp"]
        assert store_key(session) != key
