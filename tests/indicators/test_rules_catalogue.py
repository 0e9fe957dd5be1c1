"""Plausibility rules in the catalogue: the checker validates every reference, and the bundled rules are sound."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.commands import app
from indicators.catalogue import CATALOGUE_DIR
from mappings.catalogue import Catalogue, load_catalogue
from tests.indicators.catalogue_files import INDICATORS, line_of, write

GOOD = """\
[file]
provenance = "Test rules."

[[rule]]
id = "t.eet_within_leavers"
kind = "part_of_whole"
part = "t.leavers_eet_n"
whole = "t.leavers"
severity = "error"
message = "{part} is {part_value} but {whole} is only {whole_value}{whole_where}."
source = "test"

[[rule]]
id = "t.ratio"
kind = "numerator_of_denominator"
indicator = "t.leavers_eet"
severity = "error"
message = "{part} is {part_value} but {whole} is only {whole_value}{whole_where}."
source = "test"

[[rule]]
id = "t.sex_sums"
kind = "breakdown_sum"
dimension = "sex"
statistics = ["count"]
severity = "error"
message = "{indicator} by {dimension} adds up to {parts_sum}, not {total}."
source = "test"

[[rule]]
id = "t.people"
kind = "plausible_range"
units = ["young people"]
min = 0
max = 1000000
severity = "error"
message = "{value} {unit} is more than plausible."
source = "test"

[[rule]]
id = "t.change"
kind = "change"
against = "previous_period"
threshold = 0.5
statistics = ["count"]
severity = "query"
message = "{value} moved from {last_value} ({last_period}); {outcome}."
source = "test"
"""


def rule_problems(tmp_path: Path, rules: str) -> list[tuple[int, str, str]]:
    ind_dir, ret_dir = write(tmp_path)
    (ind_dir / "rules.toml").write_text(rules)
    cat = load_catalogue(ind_dir, ret_dir)
    return [(p.line, p.kind, p.message) for p in cat.all_problems if Path(p.file).name == "rules.toml"]


def test_good_rules_are_clean(tmp_path: Path) -> None:
    assert rule_problems(tmp_path, GOOD) == []


@pytest.mark.parametrize(
    ("old", "new", "at", "expected"),
    [
        (
            'part = "t.leavers_eet_n"',
            'part = "t.leaver_eet_n"',
            "part =",
            "part 't.leaver_eet_n' is not an indicator (did you mean 't.leavers_eet_n'?)",
        ),
        (
            'indicator = "t.leavers_eet"',
            'indicator = "t.leavers"',
            'indicator = "t.leavers"',
            "t.leavers has no numerator and denominator indicators to compare",
        ),
        ('dimension = "sex"', 'dimension = "age"', "dimension =", "breakdown 'age' is not a code list"),
        (
            'units = ["young people"]',
            'units = ["young persons"]',
            "units =",
            "no indicator has the unit 'young persons' (did you mean 'young people'?)",
        ),
        (
            'message = "{value} {unit} is more than plausible."',
            'message = "{value} {units} is more than plausible."',
            "{units}",
            "message uses units, which a plausible_range rule does not fill",
        ),
        ("threshold = 0.5\n", "", ("[[rule]]", 5), "a change rule needs threshold"),
    ],
)
def test_each_broken_rule_is_reported_at_its_line(
    tmp_path: Path, old: str, new: str, at: str | tuple[str, int], expected: str
) -> None:
    broken = GOOD.replace(old, new, 1)
    assert broken != GOOD
    found = rule_problems(tmp_path, broken)
    assert len(found) == 1, found
    line, _kind, message = found[0]
    assert expected in message
    needle, occurrence = at if isinstance(at, tuple) else (at, 1)
    assert line == line_of(broken, needle, occurrence)


def test_duplicate_rule_ids_are_reported(tmp_path: Path) -> None:
    found = rule_problems(tmp_path, GOOD + GOOD.split("\n", 3)[3])
    assert {kind for _, kind, _ in found} == {"duplicate-id"}
    assert len(found) == 5


def test_rules_whose_parts_never_meet_are_reported(tmp_path: Path) -> None:
    monthly = INDICATORS.replace('period_type = "financial_year"', 'period_type = "month"', 1)
    ind_dir, ret_dir = write(tmp_path, indicators=monthly)
    (ind_dir / "rules.toml").write_text(GOOD)
    messages = [p.message for p in load_catalogue(ind_dir, ret_dir).all_problems if p.kind == "broken-rule"]
    assert any("so they never meet" in m for m in messages), messages


def test_catalogue_check_command_reports_a_broken_rule(tmp_path: Path) -> None:
    ind_dir, ret_dir = write(tmp_path)
    (ind_dir / "rules.toml").write_text(GOOD.replace('whole = "t.leavers"', 'whole = "t.nobody"'))
    result = CliRunner().invoke(app, ["catalogue", "check", "--indicators", str(ind_dir), "--returns", str(ret_dir)])
    assert result.exit_code == 1
    assert "rules.toml:" in result.output
    assert "broken-rule: t.eet_within_leavers: whole 't.nobody' is not an indicator" in result.output


def test_bundled_rules_cover_every_kind(bundled_catalogue: Catalogue) -> None:
    kinds: dict[str, int] = {}
    for loc in bundled_catalogue.indicators.rules.values():
        kinds[loc.spec.kind] = kinds.get(loc.spec.kind, 0) + 1
    assert set(kinds) == {
        "part_of_whole",
        "numerator_of_denominator",
        "breakdown_sum",
        "plausible_range",
        "usual_range",
        "change",
        "ratio_parts_given",
        "percentage_scale",
    }
    rules = bundled_catalogue.indicators.rules
    assert rules["part.lac_12_months_aged_10_plus_within_lac_12_months"].spec.whole == "cyp.lac_12_months"
    assert rules["ratio.lac_health_assessment"].spec.severity == "error"


def test_docs_list_every_bundled_rule(bundled_catalogue: Catalogue) -> None:
    from indicators.catalogue import rules_markdown

    docs = (CATALOGUE_DIR.parent.parent / "docs" / "rules.md").read_text()
    assert docs == rules_markdown(bundled_catalogue.indicators), "regenerate: onereturn catalogue rules > docs/rules.md"


def test_a_fixed_catalogue_binds_each_bundled_rule_as_a_plain_one_and_works_each_out_once(
    bundled_catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation's catalogue (read once per version, never changed) remembers which indicators each rule checks:
    the same as worked out afresh, for every bundled rule, and worked out once however many uploads ask."""
    from indicators import rules as rules_module
    from indicators.rules import FixedCatalogue, bound_indicators, to_rule

    plain = {i: located.spec for i, located in bundled_catalogue.indicators.indicators.items()}
    fixed = FixedCatalogue(plain)
    checked = [to_rule(located.spec) for located in bundled_catalogue.indicators.rules.values()]
    assert len(checked) >= 10
    for rule in checked:
        assert bound_indicators(rule, fixed) == bound_indicators(rule, plain)
    worked_out: list[str] = []
    real = rules_module._bound

    def counted(rule: rules_module.Rule, indicators: dict[str, object]) -> list[str]:
        worked_out.append(rule.id)
        return real(rule, indicators)

    monkeypatch.setattr(rules_module, "_bound", counted)
    for rule in checked:
        bound_indicators(rule, fixed)
        bound_indicators(rule, plain)
    assert worked_out == [rule.id for rule in checked]
    # A rule of another version with the same id but other settings is worked out for itself.
    other = rules_module.Rule(checked[0].id, checked[0].kind, "error", "", "", {**checked[0].params, "units": ["none"]})
    assert bound_indicators(other, fixed) == bound_indicators(other, plain)
