"""Sources as data: the bundled catalogue cites a public document (or its own reading) for every item,
docs/sources.md is what the catalogue gives, and the code lists are the ones the returns define."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]  # pyyaml comes with the locked test dependencies

from indicators.sources import OWN_READING
from mappings.catalogue import Catalogue
from mappings.sources_doc import SOURCES_DOC, citing_items, counts, render

SPEC_DIR = Path(__file__).resolve().parent.parent.parent / "indicators" / "specifications"


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


_XS = "{http://www.w3.org/2001/XMLSchema}"


def _ssda903_lists() -> dict[tuple[str, str], list[tuple[str, str | None]]]:
    """Every coded column of the SSDA903 file: (table, column) -> [(code, label or None)] in the file's order."""
    spec = yaml.safe_load((SPEC_DIR / "SSDA903_schema_2024.yml").read_text(encoding="utf-8"))
    return {
        (table, column): [(str(c["code"]).strip(), c.get("name")) for c in cell["category"]]
        for table, columns in spec["column_map"].items()
        for column, cell in columns.items()
        if "category" in cell
    }


def _cin_lists() -> dict[str, list[tuple[str, str | None]]]:
    """Every named enumerated type of the CIN census schema: type -> [(code, label or None)] in the file's order."""
    root = ET.parse(SPEC_DIR / "CIN_schema_2024.xsd").getroot()
    out: dict[str, list[tuple[str, str | None]]] = {}
    for simple in root.iter(f"{_XS}simpleType"):
        values = list(simple.iter(f"{_XS}enumeration"))
        if simple.get("name") and values:
            docs = [v.find(f"{_XS}annotation/{_XS}documentation") for v in values]
            out[str(simple.get("name"))] = [
                (str(v.get("value")).strip(), d.text.strip() if d is not None and d.text else None)
                for v, d in zip(values, docs, strict=True)
            ]
    return out


#: Which column of the SSDA903 file each catalogue code list encodes; a list may serve several columns.
SSDA903_LISTS = {
    ("Header", "ETHNIC"): "ethnicity_dfe",
    ("Header", "SEX"): "ssda903_sex",
    ("UASC", "SEX"): "ssda903_sex",
    ("Header", "MOTHER"): "ssda903_true_false",
    ("AD1", "FOSTER_CARE"): "ssda903_true_false",
    ("AD1", "SEX_ADOPTR"): "ssda903_adopter_sex",
    ("AD1", "LS_ADOPTR"): "ssda903_adopter_legal_status",
    ("Episodes", "RNE"): "ssda903_reason_new_episode",
    ("Episodes", "LS"): "ssda903_legal_status",
    ("Episodes", "CIN"): "ssda903_category_of_need",
    ("Episodes", "PLACE"): "ssda903_placement",
    ("Episodes", "PLACE_PROVIDER"): "ssda903_placement_provider",
    ("Episodes", "REC"): "ssda903_reason_episode_ceased",
    ("Episodes", "REASON_PLACE_CHANGE"): "ssda903_reason_place_change",
    ("Missing", "MISSING"): "ssda903_missing",
    ("OC2", "SDQ_REASON"): "ssda903_sdq_reason",
    **{
        ("OC2", column): "ssda903_true_false"
        for column in (
            "CONVICTED",
            "HEALTH_CHECK",
            "IMMUNISATIONS",
            "TEETH_CHECK",
            "HEALTH_ASSESSMENT",
            "SUBSTANCE_MISUSE",
            "INTERVENTION_RECEIVED",
            "INTERVENTION_OFFERED",
        )
    },
    ("OC3", "IN_TOUCH"): "ssda903_care_leaver_in_touch",
    ("OC3", "ACTIV"): "ssda903_care_leaver_activity",
    ("OC3", "ACCOM"): "ssda903_care_leaver_accommodation",
    ("PlacedAdoption", "REASON_PLACED_CEASED"): "ssda903_reason_placed_ceased",
    ("PrevPerm", "PREV_PERM"): "ssda903_previous_permanence",
    ("Reviews", "REVIEW_CODE"): "ssda903_review_participation",
    ("SocialWorker", "SW_REASON"): "ssda903_social_worker_change_reason",
}

#: Which enumerated type of the CIN census schema each catalogue code list encodes.
CIN_LISTS = {
    "ethnicitytype": "ethnicity_dfe",
    "gendertype": "cin_gender",
    "disabilitytype": "cin_disability",
    "referralsourcetype": "cin_referral_source",
    "primaryneedcodetype": "cin_primary_need",
    "reasonforclosuretype": "cin_reason_for_closure",
    "categoryofabuse": "cin_category_of_abuse",
    "assessmentfactorstype": "cin_assessment_factors",
    "unknownupntype": "cin_upn_unknown",
    "yesnotype": "cin_yes_no",
}


def test_every_code_list_of_the_specifications_is_in_the_catalogue() -> None:
    assert set(_ssda903_lists()) == set(SSDA903_LISTS)
    assert set(_cin_lists()) == set(CIN_LISTS)
    assert ("SocialWorker", "SW_REASON") in _ssda903_lists()  # the file's "PCCHAN " is read stripped
    assert ("SocialWorker", "SW_REASON") in SSDA903_LISTS


@pytest.mark.parametrize(("table", "column"), sorted(SSDA903_LISTS))
def test_ssda903_code_list_is_the_specification_list(bundled_catalogue: Catalogue, table: str, column: str) -> None:
    codes = bundled_catalogue.indicators.codelists[SSDA903_LISTS[table, column]].spec.codes
    spec = _ssda903_lists()[table, column]
    if SSDA903_LISTS[table, column] == "ethnicity_dfe":
        # Ordered and labelled as the CIN census schema has it, which writes a few labels differently.
        assert set(codes) == {code for code, _ in spec}
        return
    assert list(codes) == [code for code, _ in spec]
    # Where the file gives no label, the code takes the label the file gives it in another column of the
    # same list (MOTHER's 0 and 1 are FOSTER_CARE's False and True), else its column and code.
    given = {
        code: label
        for (t, c), name in SSDA903_LISTS.items()
        if name == SSDA903_LISTS[table, column]
        for code, label in _ssda903_lists()[t, c]
        if label
    }
    for code, label in spec:
        assert codes[code] == (label or given.get(code) or f"{column} {code}"), (code, codes[code], label)


@pytest.mark.parametrize("simple_type", sorted(CIN_LISTS))
def test_cin_code_list_is_the_specification_list(bundled_catalogue: Catalogue, simple_type: str) -> None:
    codes = bundled_catalogue.indicators.codelists[CIN_LISTS[simple_type]].spec.codes
    spec = _cin_lists()[simple_type]
    assert list(codes) == [code for code, _ in spec]
    element = {"unknownupntype": "UPNunknown", "yesnotype": "yesnotype"}.get(simple_type, "")
    for code, label in spec:
        assert codes[code] == (label or f"{element} {code}"), (code, codes[code], label)


def test_spec_code_lists_cite_their_specification(bundled_catalogue: Catalogue) -> None:
    lists = bundled_catalogue.indicators.codelists
    for list_id in set(SSDA903_LISTS.values()) - {"ethnicity_dfe"}:
        assert [c.ref for c in lists[list_id].spec.sources] == ["liia_ssda903_schema_2024"], list_id
    for list_id in set(CIN_LISTS.values()) - {"ethnicity_dfe"}:
        assert [c.ref for c in lists[list_id].spec.sources] == ["liia_cin_schema_2024"], list_id


def test_ethnicity_codes_are_the_dfe_codes(bundled_catalogue: Catalogue) -> None:
    codes = bundled_catalogue.indicators.codelists["ethnicity_dfe"].spec.codes
    assert codes == dict(_cin_lists()["ethnicitytype"])
    assert set(codes) == {code for code, _ in _ssda903_lists()["Header", "ETHNIC"]}
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


ROOT = Path(__file__).resolve().parent.parent.parent
#: A development machine's folders that a user's clone does not have (built so this file does not match itself).
_DEV_FOLDER = re.compile("/" + "work/|shared/" + "reference|cd /" + "work")


def _shipped() -> list[Path]:
    """The files the project ships: those git tracks (not the environments and outputs made beside them)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60)
    return [ROOT / name for name in listed.stdout.decode().split("\0") if name]


def test_no_shipped_file_names_a_development_folder() -> None:
    found = [
        str(path.relative_to(ROOT))
        for path in _shipped()
        if path.suffix in {".py", ".toml", ".md", ".yml", ".html", ".js"}
        and path.is_file()
        and _DEV_FOLDER.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    # Only the pattern that refuses such citations, and the test that feeds it one.
    assert sorted(found) == ["indicators/sources.py", "tests/indicators/test_catalogue_check.py"]


#: Catalogue items resting wholly on the service's own reading: no public source was found for them
#: (docs/sources.md lists each, and an indicator's citation says what was searched). Six are the sign-off
#: dates of returns whose recipient publishes none, set at the agencies' deadline.
ITEMS_ONLY_OWN_READING = 16


def test_items_resting_wholly_on_own_reading_are_held(bundled_catalogue: Catalogue) -> None:
    assert counts(bundled_catalogue)["items_only_own_reading"] == ITEMS_ONLY_OWN_READING


def test_catalogue_check_reports_items_resting_wholly_on_own_reading() -> None:
    from typer.testing import CliRunner

    from cli.commands import app

    result = CliRunner().invoke(app, ["catalogue", "check"])
    assert result.exit_code == 0, result.output
    assert f"{ITEMS_ONLY_OWN_READING} wholly" in result.output


def test_every_indicator_on_own_reading_alone_says_what_was_searched(bundled_catalogue: Catalogue) -> None:
    unsearched = [
        ind.spec.id
        for ind in bundled_catalogue.indicators.indicators.values()
        if all(c.ref == OWN_READING for c in ind.spec.sources)
        and not any("searched:" in c.section for c in ind.spec.sources)
    ]
    assert unsearched == []


def test_derived_rates_scale_by_their_multiplier(bundled_catalogue: Catalogue) -> None:
    # A rate per 1,000 computed per 100,000 is a different figure (NI 136 was once written so).
    for ind in bundled_catalogue.indicators.indicators.values():
        spec = ind.spec
        if spec.formula and spec.statistic in ("rate", "percentage"):
            factor = re.match(r"\s*(\d+)\s*\*", spec.formula)
            assert factor is not None, spec.id
            assert int(factor.group(1)) == spec.multiplier, spec.id
