"""Sources as data: the bundled catalogue cites a public document (or its own reading) for every item,
docs/sources.md is what the catalogue gives, and the code lists are the ones the returns define."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from indicators.sources import OWN_READING
from mappings.catalogue import Catalogue
from mappings.sources_doc import SOURCES_DOC, citing_items, counts, render

SPEC_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "liia"


def test_bundled_catalogue_has_no_item_without_a_source(bundled_catalogue: Catalogue) -> None:
    kinds = {p.kind for p in bundled_catalogue.all_problems}
    assert not kinds & {"missing-source", "internal-source"}
    cat = bundled_catalogue
    assert all(cl.spec.sources for cl in cat.indicators.codelists.values())
    assert all(i.spec.sources for i in cat.indicators.indicators.values())
    assert all(r.spec.sources and (r.spec.deadline_sources or not r.spec.deadline) for r in cat.returns.values())
    assert all(f.spec.sources for fields in cat.fields.values() for f in fields)


def test_no_citation_names_an_internal_document(bundled_catalogue: Catalogue) -> None:
    for item, cite in citing_items(bundled_catalogue):
        assert "seed" not in cite.section.lower(), item
        assert "readme" not in cite.section.lower(), item


def test_committed_sources_page_is_current(bundled_catalogue: Catalogue) -> None:
    assert SOURCES_DOC.read_text(encoding="utf-8") == render(bundled_catalogue), (
        "docs/sources.md is stale: run `onereturn catalogue sources`"
    )


def test_counts_separate_public_sources_from_own_reading(bundled_catalogue: Catalogue) -> None:
    n = counts(bundled_catalogue)
    pairs = citing_items(bundled_catalogue)
    assert n["citations"] == sum(c.ref != OWN_READING for _, c in pairs)
    assert 0 < n["items_only_own_reading"] <= n["items_with_own_reading"] < n["items"]


def _ssda903_codes(column: str) -> set[str]:
    text = (SPEC_DIR / "SSDA903_schema_2024.yml").read_text()
    block = text[text.index(f"      {column}:") :]
    block = block[: block.index("canbeblank")]
    return set(re.findall(r'- code: "([A-Z0-9]+)"', block))


def _cin_codes(simple_type: str) -> dict[str, str]:
    text = (SPEC_DIR / "CIN_schema_2024.xsd").read_text()
    block = text[text.index(f'<xs:simpleType name="{simple_type}">') :]
    block = block[: block.index("</xs:simpleType>")]
    found = re.findall(r'value="([A-Z0-9]+)"><xs:annotation><xs:documentation>([^<]+)<', block)
    return dict(found)


def test_ethnicity_codes_are_the_dfe_codes(bundled_catalogue: Catalogue) -> None:
    codes = bundled_catalogue.indicators.codelists["ethnicity_dfe"].spec.codes
    assert codes == _cin_codes("ethnicitytype")
    assert set(codes) == _ssda903_codes("ETHNIC")
    assert {"WROM", "CHNE"} <= set(codes)
    assert not {"ACHN", "OARB"} & set(codes)


def test_vital_signs_identical_links_are_the_same_figure(bundled_catalogue: Catalogue) -> None:
    cat = bundled_catalogue
    ret = cat.returns["vital_signs"].spec
    assert (ret.geography_level, ret.submitter, ret.valid_from, ret.valid_to) == (
        "pct",
        "nhs_commissioner",
        date(2008, 4, 1),
        date(2011, 3, 31),
    )
    assert ret.deadline
    assert ret.deadline_sources
    inds = cat.indicators.indicators
    for f in cat.fields["vital_signs"]:
        ind = inds[f.spec.indicator].spec
        refs = {c.ref for c in f.spec.sources}
        if f.spec.code.startswith("NI "):
            assert "clg_ni_handbook_2008" in refs, f.spec.code  # the NI definition
        assert refs - {"clg_ni_handbook_2008"}, f.spec.code  # and the Vital Signs side
        if f.spec.relation == "identical":
            # Quarterly Vital Signs figures are the same figure only for an indicator the service can
            # sum to a quarter exactly; an annual NI is another figure.
            assert ind.period_type in ("month", "quarter"), f.spec.code
            assert f.spec.unit in (None, ind.unit), f.spec.code


def test_ni40_is_derived_centrally_and_never_summed(bundled_catalogue: Catalogue) -> None:
    ni40 = bundled_catalogue.indicators.indicators["drugs.ni40_ocu_in_effective_treatment"].spec
    assert (ni40.collection, ni40.aggregation, ni40.formula) == ("central", "none", None)
    assert "opiate and/or crack cocaine" in ni40.definition
    (field,) = [f for f in bundled_catalogue.fields["nis"] if f.spec.code == "NI 40"]
    assert field.spec.indicator == ni40.id


def test_ni185_is_the_2008_09_decc_return(bundled_catalogue: Catalogue) -> None:
    pct = bundled_catalogue.indicators.indicators["env.la_operations_co2_ni185_reduction_pct"].spec
    assert "2008/09 baseline" in pct.definition
    assert "Department of Energy and Climate Change" in pct.definition
    assert any(c.ref == "decc_ni185_186" for c in pct.sources)


@pytest.mark.parametrize(
    ("codelist", "column"),
    [
        ("ssda903_legal_status", "LS"),
        ("ssda903_category_of_need", "CIN"),
        ("ssda903_placement", "PLACE"),
        ("ssda903_reason_new_episode", "RNE"),
        ("ssda903_reason_episode_ceased", "REC"),
    ],
)
def test_ssda903_code_lists_are_the_specification_codes(
    bundled_catalogue: Catalogue, codelist: str, column: str
) -> None:
    codes = bundled_catalogue.indicators.codelists[codelist].spec.codes
    assert set(codes) == _ssda903_codes(column)
