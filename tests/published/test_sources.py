"""Published sources are data the catalogue check reads: a mapping onto an unknown indicator, symbol, column
or period type is refused with its file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.commands import app
from collectors.published.sources import SOURCES_DIR, load_sources


def test_the_bundled_sources_pass_the_catalogue_check() -> None:
    result = CliRunner().invoke(app, ["catalogue", "check"])
    assert result.exit_code == 0, result.output
    assert set(load_sources().sources) == {
        "ons_population_0_17",
        "dfe_cla_number",
        "dfe_cin_b1",
        "dfe_cin_c1",
        "dfe_cpp_d3",
        "dfe_cpp_d5",
        "dfe_csww",
        "dfe_cla_placement_stability",
        "dfe_care_leavers_accommodation",
        "fingertips_under18_conceptions",
        "fingertips_obesity_year6",
        "fingertips_unmet_need_opiates",
        "fingertips_unmet_need_alcohol",
        "ndtms_viewit_adults_la",
        "ndtms_viewit_adults_england",
        "dfe_ehcp_caseload",
        "dfe_ehcp_newplans",
        "dfe_ehcp_requests",
        "dfe_ehcp_timeliness",
        "dfe_care_leavers_activity",
        "dfe_cla_health_outcomes",
        "dfe_cla_ks2",
        "dfe_cla_ks4",
        "dfe_cla_absence",
        "dfe_lait",
        "dfe_nccis_participation",
    }


def test_a_source_mapping_onto_unknowns_is_refused_with_its_file(tmp_path: Path) -> None:
    text = (SOURCES_DIR / "dfe_cla_number.toml").read_text()
    broken = (
        text.replace('"cyp.lac_started"', '"cyp.no_such_indicator"', 1)
        .replace('indicator = "cyp.lac_ceased"', 'indicator = "cyp.lac_count"', 1)
        .replace('u = "u" }', 'u = "?" }', 1)
        .replace('value = "children_count"', 'value = "children_number"', 1)
    )
    (tmp_path / "broken.toml").write_text(broken)
    result = CliRunner().invoke(app, ["catalogue", "check", "--published", str(tmp_path)])
    assert result.exit_code == 1
    out = result.output
    assert "mappings/published/broken.toml:1: unknown-indicator: 'cyp.no_such_indicator'" in out
    assert "period-type: cyp.lac_count is a snapshot_date indicator" in out
    assert "unknown-symbol: symbol 'u' maps to '?'" in out
    assert "unknown-column: cyp.lac_count: column 'children_number' is not in the file" in out


def test_a_source_mapping_onto_a_derived_indicator_is_refused(tmp_path: Path) -> None:
    text = (SOURCES_DIR / "dfe_cin_c1.toml").read_text()
    (tmp_path / "rate.toml").write_text(text.replace('"cyp.cin_rereferrals_n"', '"cyp.cin_rereferrals"', 1))
    result = CliRunner().invoke(app, ["catalogue", "check", "--published", str(tmp_path)])
    assert result.exit_code == 1
    assert "mappings/published/rate.toml:1: derived-indicator: cyp.cin_rereferrals is worked out" in result.output


def test_a_breakdown_the_indicator_does_not_have_is_refused(tmp_path: Path) -> None:
    text = (SOURCES_DIR / "fingertips_obesity_year6.toml").read_text()
    (tmp_path / "split.toml").write_text(
        text.replace('"Female" = "F"', '"Female" = "W"', 1)
        .replace('dimension = "sex"', 'dimension = "ethnicity_5"', 2)
        .replace('dimension = "ethnicity_5"', 'dimension = "sex"', 1)
    )
    result = CliRunner().invoke(app, ["catalogue", "check", "--published", str(tmp_path)])
    assert result.exit_code == 1
    assert "unknown-code: health.obese_children_year6: Sex 'Female' maps to 'W', not a sex code" in result.output
    assert "unknown-breakdown: pop.year6_children_measured has no breakdown by 'ethnicity_5'" in result.output


def test_a_return_never_takes_the_figures_of_the_publisher_it_is_sent_to(tmp_path: Path) -> None:
    """DfE's SSDA903 return naming DfE's published statistics among the publishers filling its empty cells would send
    DfE its own figures: the catalogue check refuses it, and a publisher no source declares."""
    from mappings.catalogue import RETURNS_DIR

    for path in RETURNS_DIR.glob("*.toml"):
        text = path.read_text(encoding="utf-8")
        if path.name == "dfe_ssda903.toml":
            text = text.replace(
                'layout = "', 'from_publishers = ["dfe_statistics", "no_such_publisher"]\nlayout = "', 1
            )
        (tmp_path / path.name).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["catalogue", "check", "--returns", str(tmp_path)])
    assert result.exit_code == 1
    assert (
        "own-figures: dfe_ssda903 is sent to Department for Education, which publishes 'dfe_statistics''s figures"
        in result.output
    )
    assert "unknown-publisher: dfe_ssda903: from_publishers names 'no_such_publisher'" in result.output


def test_the_sources_are_read_again_when_a_file_is_added_changed_or_removed(tmp_path: Path) -> None:
    text = (SOURCES_DIR / "dfe_cla_number.toml").read_text()
    (tmp_path / "a.toml").write_text(text)
    first = load_sources(tmp_path)
    again = load_sources(tmp_path)
    assert again.sources == first.sources
    assert again.sources is not first.sources, "each caller has a dict of its own"
    again.sources.clear()
    assert load_sources(tmp_path).sources == first.sources
    # Changed, to the same length, at once: its content tells.
    (tmp_path / "a.toml").write_text(text.replace('"cyp.lac_started"', '"cyp.lac_startex"', 1))
    changed = load_sources(tmp_path)
    assert "cyp.lac_startex" in {f.indicator for f in changed.sources["dfe_cla_number"].figure}
    (tmp_path / "b.toml").write_text(text)
    assert [p.kind for p in load_sources(tmp_path).problems] == ["duplicate"]
    (tmp_path / "a.toml").unlink()
    (tmp_path / "b.toml").write_text("[source\n")
    assert [p.kind for p in load_sources(tmp_path).problems] == ["syntax"]
    assert load_sources(tmp_path).sources == {}
