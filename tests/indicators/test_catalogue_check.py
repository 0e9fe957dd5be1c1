"""`onereturn catalogue check`: the bundled catalogue passes; each kind of broken catalogue fails
with the file and line of the problem."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from cli.commands import app
from indicators.models import Indicator
from indicators.service import to_public
from mappings.catalogue import Catalogue, load_catalogue
from tests.indicators.catalogue_files import INDICATORS, REGISTER, RETURN, line_of, write

PUBLISHED = Path(__file__).parents[1] / "fixtures" / "compare"
#: The publishers' words for which way is better (DfE's LAIT, OHID's Fingertips), as the catalogue spells them.
POLARITY_WORDS = {
    "High": "higher_is_better",
    "Low": "lower_is_better",
    "High is good": "higher_is_better",
    "Low is good": "lower_is_better",
    "No judgement": "no_judgement",
}


def problems(tmp_path: Path, **files: str) -> list[tuple[str, int, str]]:
    cat = load_catalogue(*write(tmp_path, **files))
    return [(Path(p.file).name, p.line, p.kind) for p in cat.all_problems]


def test_the_small_catalogue_is_clean(tmp_path: Path) -> None:
    assert problems(tmp_path) == []


def test_bundled_catalogue_passes(bundled_catalogue: Catalogue) -> None:
    assert [str(p) for p in bundled_catalogue.all_problems] == []


def test_bundled_catalogue_size(bundled_catalogue: Catalogue) -> None:
    assert len(bundled_catalogue.indicators.indicators) >= 120
    core = bundled_catalogue.fields["county_cyp_core"]
    assert len(core) == 67
    assert len({f.spec.indicator for f in core}) == 63


def test_syntax_error(tmp_path: Path) -> None:
    broken = INDICATORS.replace('unit = "%"', 'unit = "%')
    assert problems(tmp_path, indicators=broken) == [("test.toml", line_of(broken, 'unit = "%'), "syntax-error")]


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    broken = INDICATORS.replace('unit = "%"', 'unit = "%"\nunits = "%"')
    assert problems(tmp_path, indicators=broken) == [("test.toml", line_of(broken, "units ="), "invalid-definition")]


def test_broken_numerator_reference(tmp_path: Path) -> None:
    broken = INDICATORS.replace('numerator = "t.leavers_eet_n"', 'numerator = "t.leavers_etc_n"')
    assert ("test.toml", line_of(broken, "numerator = "), "broken-reference") in problems(tmp_path, indicators=broken)


def test_broken_formula_term(tmp_path: Path) -> None:
    broken = INDICATORS.replace('/ t.leavers"', '/ t.leaver"')
    assert ("test.toml", line_of(broken, "formula ="), "broken-reference") in problems(tmp_path, indicators=broken)


def test_formula_syntax(tmp_path: Path) -> None:
    broken = INDICATORS.replace(
        'formula = "100 * t.leavers_eet_n / t.leavers"', 'formula = "100 * (t.leavers_eet_n / t.leavers"'
    )
    assert problems(tmp_path, indicators=broken) == [("test.toml", line_of(broken, "formula ="), "formula-syntax")]


def test_formula_cycle(tmp_path: Path) -> None:
    broken = INDICATORS.replace(
        'statistic = "count"\nunit = "young people"\npolarity = "no_judgement"',
        'statistic = "count"\nunit = "young people"\npolarity = "no_judgement"\nformula = "t.leavers_eet * 2"',
    )
    found = problems(tmp_path, indicators=broken)
    assert [k for _, _, k in found] == ["formula-cycle"]
    assert found[0][1] in (
        line_of(broken, "formula =", 1),
        line_of(broken, "formula =", 2),
        line_of(broken, "numerator ="),
    )


def test_unknown_codelist(tmp_path: Path) -> None:
    broken = INDICATORS.replace('breakdowns = ["sex"]', 'breakdowns = ["sex", "ethnicity"]', 1)
    assert problems(tmp_path, indicators=broken) == [("test.toml", line_of(broken, "ethnicity"), "unknown-codelist")]


def test_unknown_source_body(tmp_path: Path) -> None:
    broken = INDICATORS.replace('source_body = "local_authority"', 'source_body = "council"', 1)
    assert problems(tmp_path, indicators=broken) == [("test.toml", line_of(broken, "council"), "unknown-code")]


def test_same_numerator_denominator_and_method(tmp_path: Path) -> None:
    second = (
        INDICATORS.split("[[indicator]]")[3]
        .replace('id = "t.leavers_eet"', 'id = "t.leavers_eet_copy"')
        .replace("Percentage of care leavers", "Share of care leavers")
    )
    broken = INDICATORS + "\n[[indicator]]" + second
    found = problems(tmp_path, indicators=broken)
    assert ("test.toml", line_of(broken, "[[indicator]]", 4), "duplicate-measure") in found


def test_same_normalised_title(tmp_path: Path) -> None:
    broken = INDICATORS.replace(
        'title = "Care leavers aged 19-21"', 'title = "CARE LEAVERS in education, employment, or training"'
    )
    found = problems(tmp_path, indicators=broken)
    assert found == [("test.toml", line_of(broken, "CARE LEAVERS"), "duplicate-measure")]


def test_duplicate_id(tmp_path: Path) -> None:
    broken = INDICATORS.replace('id = "t.leavers"\n', 'id = "t.leavers_eet_n"\n')
    found = problems(tmp_path, indicators=broken)
    assert ("test.toml", line_of(broken, 'id = "t.leavers_eet_n"', 2), "duplicate-id") in found


def test_indicator_no_return_uses(tmp_path: Path) -> None:
    ret = RETURN.split("[[field]]")[0] + "[[field]]" + RETURN.split("[[field]]")[2]
    found = problems(tmp_path, ret=ret)
    assert [(f, k) for f, _, k in found] == [("test.toml", "unused-indicator"), ("test.toml", "unused-indicator")]
    assert found[0][1] == line_of(INDICATORS, 'id = "t.leavers"')


def test_field_pointing_at_abolished_indicator(tmp_path: Path) -> None:
    broken = INDICATORS.replace('formula = "100', 'status = "abolished"\nvalid_to = 2011-03-31\nformula = "100')
    assert problems(tmp_path, indicators=broken) == [
        ("test_return.toml", line_of(RETURN, 'indicator = "t.leavers_eet"'), "abolished-indicator")
    ]


def test_field_pointing_at_unknown_indicator(tmp_path: Path) -> None:
    ret = RETURN.replace('indicator = "t.leavers_eet"', 'indicator = "t.leavers_eat"')
    assert ("test_return.toml", line_of(ret, "t.leavers_eat"), "broken-reference") in problems(tmp_path, ret=ret)


def test_field_breakdown_code_not_in_codelist(tmp_path: Path) -> None:
    ret = RETURN.replace('breakdown = "sex=F"', 'breakdown = "sex=X"')
    assert problems(tmp_path, ret=ret) == [("test_return.toml", line_of(ret, "sex=X"), "unknown-code")]


def test_cli_check_prints_file_and_line_and_fails(tmp_path: Path) -> None:
    broken = INDICATORS.replace('numerator = "t.leavers_eet_n"', 'numerator = "t.nothing"')
    ind_dir, ret_dir = write(tmp_path, indicators=broken)
    result = CliRunner().invoke(app, ["catalogue", "check", "--indicators", str(ind_dir), "--returns", str(ret_dir)])
    assert result.exit_code == 1
    assert (
        f"test.toml:{line_of(broken, 't.nothing')}: broken-reference: t.leavers_eet: numerator 't.nothing'"
        in result.output
    )


def test_cli_check_passes_on_bundled_catalogue() -> None:
    result = CliRunner().invoke(app, ["catalogue", "check"])
    assert result.exit_code == 0, result.output
    assert "Catalogue OK" in result.output


@pytest.mark.parametrize("kind", ["percentage_without_denominator", "count_with_multiplier"])
def test_inconsistent_statistic(tmp_path: Path, kind: str) -> None:
    if kind == "percentage_without_denominator":
        broken = INDICATORS.replace('denominator = "t.leavers"\n', "")
    else:
        broken = INDICATORS.replace(
            'statistic = "count"\nunit = "young people"\npolarity = "higher',
            'statistic = "count"\nmultiplier = 100\nunit = "young people"\npolarity = "higher',
        )
    found = problems(tmp_path, indicators=broken)
    assert "invalid-definition" in {k for _, _, k in found}


def test_an_item_without_sources_fails(tmp_path: Path) -> None:
    broken = INDICATORS.replace('sources = [{ ref = "test_doc", section = "table 1" }]\n', "", 1)
    assert ("test.toml", line_of(INDICATORS, "[[indicator]]"), "missing-source") in problems(
        tmp_path, indicators=broken
    )


def test_a_field_without_sources_fails(tmp_path: Path) -> None:
    broken = RETURN.replace(
        'relation = "identical"\nsources = [{ ref = "test_doc", section = "table 1" }]', 'relation = "identical"'
    )
    assert ("test_return.toml", line_of(RETURN, "[[field]]"), "missing-source") in problems(tmp_path, ret=broken)


def test_a_deadline_without_sources_fails(tmp_path: Path) -> None:
    broken = RETURN.replace('deadline_sources = [{ ref = "test_doc", section = "dates" }]\n', "")
    assert ("test_return.toml", line_of(broken, "deadline ="), "missing-source") in problems(tmp_path, ret=broken)


def test_a_milestone_cites_its_rule(tmp_path: Path) -> None:
    ok = RETURN.replace(
        "[[field]]",
        'milestones = [{ name = "data loaded", rule = "fixed_after_period_end:05-31", sources = [{ ref = "test_doc", section = "dates" }] }]\n\n[[field]]',
        1,
    )
    assert problems(tmp_path, ret=ok) == []
    (tmp_path / "b").mkdir()
    bare = ok.replace(', sources = [{ ref = "test_doc", section = "dates" }] }]', " }]")
    assert ("test_return.toml", line_of(bare, "milestones ="), "missing-source") in problems(tmp_path / "b", ret=bare)


@pytest.mark.parametrize(
    "section", ["seed 004, section five", "shared/reference/README.md item 6", "NI 40 (recollection)"]
)
def test_an_internal_document_is_refused(tmp_path: Path, section: str) -> None:
    broken = INDICATORS.replace('section = "table 1"', f'section = "{section}"', 1)
    assert ("test.toml", line_of(INDICATORS, "sources = "), "internal-source") in problems(tmp_path, indicators=broken)


def test_an_unknown_source_is_refused(tmp_path: Path) -> None:
    broken = INDICATORS.replace('ref = "test_doc"', 'ref = "no_such_doc"', 1)
    assert ("test.toml", line_of(INDICATORS, "sources = "), "broken-reference") in problems(tmp_path, indicators=broken)


def test_a_public_source_needs_its_link(tmp_path: Path) -> None:
    broken = REGISTER.replace('url = "https://example.org/guide"\n', "")
    assert ("sources.toml", line_of(REGISTER, "[source.test_doc]"), "invalid-definition") in problems(
        tmp_path, register=broken
    )


def test_own_reading_is_allowed_and_counted(tmp_path: Path) -> None:
    own = INDICATORS.replace('ref = "test_doc"', 'ref = "own_reading"', 1)
    cat = load_catalogue(*write(tmp_path, indicators=own))
    assert cat.all_problems == []
    from indicators.sources import OWN_READING

    assert sum(c.ref == OWN_READING for loc in cat.indicators.indicators.values() for c in loc.spec.sources) == 1


def test_a_register_entry_naming_an_internal_document_is_refused(tmp_path: Path) -> None:
    broken = REGISTER.replace('title = "A published guide"', 'title = "seed 004 working notes"')
    assert ("sources.toml", line_of(REGISTER, "[source.test_doc]"), "internal-source") in problems(
        tmp_path, register=broken
    )


def test_the_register_needs_its_own_reading_entry(tmp_path: Path) -> None:
    broken = REGISTER.split("[source.test_doc]")[1]
    assert "missing-source" in {kind for _, _, kind in problems(tmp_path, register="[source.test_doc]" + broken)}


def test_a_definition_naming_an_internal_document_is_refused(tmp_path: Path) -> None:
    broken = INDICATORS.replace(
        'definition = "Number of care leavers aged 19-21 in education, employment or training."',
        'definition = "Number of care leavers aged 19-21 in EET (seed 004, section five)."',
    )
    assert ("test.toml", line_of(broken, "seed 004"), "internal-source") in problems(tmp_path, indicators=broken)


def test_a_polarity_cites_a_publisher_never_own_reading(tmp_path: Path) -> None:
    ok = INDICATORS
    assert problems(tmp_path, indicators=ok) == []
    line = line_of(ok, "polarity_source =")
    (tmp_path / "own").mkdir()
    own = ok.replace('polarity_source = { ref = "test_doc"', 'polarity_source = { ref = "own_reading"', 1)
    assert ("test.toml", line, "uncited-polarity") in problems(tmp_path / "own", indicators=own)
    (tmp_path / "unknown").mkdir()
    unknown = ok.replace('polarity_source = { ref = "test_doc"', 'polarity_source = { ref = "no_such_doc"', 1)
    assert ("test.toml", line, "broken-reference") in problems(tmp_path / "unknown", indicators=unknown)


def test_a_direction_without_a_source_is_refused(tmp_path: Path) -> None:
    # A direction ("higher is better") is served only with the publisher's statement of it: the catalogue refuses
    # one written without, as DfE's LAIT data dictionary gives counts such as repeat plans no direction ('-').
    bare = INDICATORS.replace('polarity_source = { ref = "test_doc", section = "table 1, polarity" }\n', "", 1)
    line = line_of(bare, 'polarity = "higher_is_better"')
    assert ("test.toml", line, "uncited-polarity") in problems(tmp_path, indicators=bare)


def test_a_polarity_source_is_stored_resolved_and_its_absence_as_none(session: Session) -> None:
    conceptions = session.get(Indicator, "health.under_18_conception_rate")
    assert conceptions is not None
    assert conceptions.polarity == "lower_is_better"
    assert conceptions.polarity_source is not None
    assert conceptions.polarity_source["url"] == "https://github.com/dhsc-govuk/FingertipsNext"
    assert "20401" in conceptions.polarity_source["section"]
    assert "Low is good" in conceptions.polarity_source["section"]
    healthy_65 = session.get(Indicator, "health.healthy_life_expectancy_65")
    assert healthy_65 is not None
    assert healthy_65.polarity_source is None
    public = to_public(conceptions)
    assert public.polarity_source is not None
    assert public.polarity_source.publisher.startswith("Department of Health and Social Care")
    assert to_public(healthy_65).polarity_source is None


def test_every_cited_polarity_is_the_one_its_publisher_states(bundled_catalogue: Catalogue) -> None:
    with (PUBLISHED / "lait_polarity.csv").open(encoding="utf-8", newline="") as f:
        lait = {r["Measure"]: r["Polarity"] for r in csv.DictReader(f)}
    with (PUBLISHED / "fingertips_indicators.csv").open(encoding="utf-8-sig", newline="") as f:
        fingertips = {r["IndicatorID"]: r["Polarity"] for r in csv.DictReader(f)}
    checked = 0
    for ind_id, loc in bundled_catalogue.indicators.indicators.items():
        cite = loc.spec.polarity_source
        if cite is None:
            continue
        if cite.ref == "dfe_lait_data_dictionary":
            named = re.search(r"measure '(.+)': Polarity", cite.section)
            assert named is not None, ind_id
            stated = lait[named.group(1)]
        elif cite.ref == "fingertips_metadata":
            named = re.search(r"indicator (\d+)", cite.section)
            assert named is not None, ind_id
            stated = fingertips[named.group(1)]
        else:
            pytest.fail(f"{ind_id}: no published list to check its polarity source {cite.ref!r} against")
        assert f"Polarity '{stated}'" in cite.section, ind_id
        assert POLARITY_WORDS[stated] == loc.spec.polarity, ind_id
        checked += 1
    assert checked >= 30
