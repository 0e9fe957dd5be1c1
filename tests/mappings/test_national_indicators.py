"""The National Indicator Set as catalogued: which NIs, each cited, each marked keyed locally or
derived centrally, and the burden report counting only what a local body keyed."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from exports.burden.report import burden
from indicators.models import Indicator
from indicators.sources import OWN_READING
from mappings.catalogue import Catalogue
from mappings.sources_doc import NATIONAL_INDICATORS, national_indicators, render

# Laid out by hand, the formatter told to leave it: indicator numbers read across the lines; one a line they would run to a page.
#: The NIs the catalogue carries, each cited to a page giving its number and title (the rest of the
#: 198 are listed in docs/sources.md as not found). A change here is a change of the catalogue.
CATALOGUED = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 16, 17, 18, 19, 20, 21, 23, 30, 32, 33, 35, 37, 38, 39, 40, 43, 45, 47,
    48, 49, 50, 51, 52, 53, 54, 55, 56, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 75, 79, 86, 87,
    92, 99, 100, 101, 102, 104, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 119, 120, 121, 122, 123, 124,
    125, 126, 129, 130, 131, 134, 135, 136, 137, 141, 142, 145, 146, 147, 148, 149, 150, 151, 152, 153, 154, 155, 156,
    157, 158, 163, 167, 169, 171, 172, 173, 175, 179, 180, 181, 182, 184, 185, 186, 187, 188, 191, 192, 193, 195, 196,
    197, 198, 199,
}  # fmt: skip


def test_the_nis_return_carries_the_cited_national_indicators(bundled_catalogue: Catalogue) -> None:
    held, missing = national_indicators(bundled_catalogue)
    assert set(held) == CATALOGUED
    assert len(held) == 132
    # NI 31 was dropped before the set began and NI 199 added, so 198 indicators numbered 1-199.
    assert 31 not in held
    assert 31 not in missing
    assert len(held) + len(missing) == len(NATIONAL_INDICATORS) == 198
    # The page lists what is left out, so a reader knows which NIs the catalogue cannot yet vouch for.
    page = render(bundled_catalogue)
    assert f"{len(held)} of the 198 National Indicators" in page
    assert all(f"NI {n}," in page or f"NI {n}." in page for n in missing)


def test_every_ni_field_cites_a_public_page(bundled_catalogue: Catalogue) -> None:
    for f in bundled_catalogue.fields["nis"]:
        assert any(c.ref != OWN_READING for c in f.spec.sources), f.spec.code


def test_each_added_ni_says_where_its_local_or_central_mark_comes_from(bundled_catalogue: Catalogue) -> None:
    added = [
        i.spec for i in bundled_catalogue.indicators.indicators.values() if i.file.endswith("national_indicators.toml")
    ]
    assert len(added) == 84
    for ind in added:
        assert ind.status == "legacy"
        assert ind.aliases[0].startswith("NI "), ind.id
        assert any(c.ref != OWN_READING for c in ind.sources), ind.id
        assert any("collection:" in c.section for c in ind.sources), ind.id
        if ind.collection == "central":
            assert ind.source_body != "local_authority", ind.id
    central = {i.aliases[0] for i in added if i.collection == "central"}
    assert central == {
        "NI 7",
        "NI 9",
        "NI 10",
        "NI 11",
        "NI 15",
        "NI 16",
        "NI 18",
        "NI 20",
        "NI 30",
        "NI 33",
        "NI 38",
        "NI 47",
        "NI 48",
        "NI 49",
        "NI 50",
        "NI 69",
        "NI 70",
        "NI 79",
        "NI 86",
        "NI 104",
        "NI 107",
        "NI 108",
        "NI 115",
        "NI 116",
        "NI 149",
        "NI 150",
        "NI 151",
        "NI 152",
        "NI 153",
        "NI 158",
        "NI 163",
        "NI 171",
        "NI 172",
        "NI 173",
        "NI 180",
        "NI 199",
    }


def test_burden_counts_a_centrally_derived_ni_only_once_it_is_marked_local(store: Engine) -> None:
    def council_cells() -> int:
        with Session(store) as session:
            report = burden(session, "FY2009-10")
        (council,) = [a for a in report.agencies if a.agency_code == "lewisham_council"]
        assert "nis" in council.returns
        return council.keyed_cells_without_service

    central_ids = ["nis.ni151_employment_rate_pct", "nis.ni152_out_of_work_benefits_pct"]
    before = council_cells()
    with Session(store) as session:
        for ind in session.exec(select(Indicator).where(Indicator.id.in_(central_ids))):  # type: ignore[attr-defined]
            assert ind.collection == "central"
            ind.collection = "local"
            session.add(ind)
        session.commit()
    after = council_cells()
    # One annual figure per NI for the council's one borough: keyed by hand only once marked local.
    assert after - before == len(central_ids)
