"""SSDA903 figures by DfE's method, on hand-built episodes: one edge case of each published rule per test."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from collectors.records.ssda903_figures import LEFT_TO_TEMPLATE, Derivation, derive_ssda903
from collectors.records.ssda903_tables import COLUMNS, CollectionYear, prepare
from onereturn.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[3]
YEAR = 2024  # 1 April 2023 to 31 March 2024


def episode(child: str, decom: str, dec: str = "", **codes: Any) -> dict[str, Any]:
    """One Episodes row: a care order in a foster placement unless told otherwise."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS["Episodes"], "")
    row.update(CHILD=child, DECOM=decom, DEC=dec, RNE="S", LS="C2", CIN="N1", PLACE="U4", REC="E4A" if dec else "")
    row.update(codes)
    return row


def frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A table of text cells with the specification's columns (plus any extra a row names)."""
    columns = list(COLUMNS[table]) + [c for r in rows for c in r if c not in COLUMNS[table]]
    return pl.DataFrame(
        [{c: r.get(c, "") for c in dict.fromkeys(columns)} for r in rows], schema=dict.fromkeys(columns, pl.String)
    )


def derive(episodes: list[dict[str, Any]], **tables: list[dict[str, Any]]) -> Derivation:
    given = {"Episodes": frame("Episodes", episodes)} | {name: frame(name, rows) for name, rows in tables.items()}
    return derive_ssda903(given, year_ending=YEAR)


def children(out: Derivation, indicator: str, *, counted: bool = True) -> set[str]:
    """The children a figure counts (or, with counted=False, every child behind it)."""
    rec = out.figures[indicator].records
    if counted:
        rec = rec.filter("counted")
    return set(rec["child"].to_list())


def value(out: Derivation, indicator: str) -> float:
    return out.figures[indicator].value


def test_child_in_care_across_the_year_end_is_looked_after_on_31_march_not_started() -> None:
    out = derive([episode("A", "01/01/2023")])
    assert value(out, "cyp.lac_count") == 1
    assert value(out, "cyp.lac_during_year") == 1
    assert value(out, "cyp.lac_started") == 0
    assert value(out, "cyp.lac_ceased") == 0
    rec = out.figures["cyp.lac_count"].records.row(0, named=True)
    assert (rec["child"], rec["table"], rec["row"], str(rec["episode_start"])) == ("A", "Episodes", 0, "2023-01-01")


def test_a_respite_only_child_is_in_no_figure() -> None:
    out = derive(
        [
            episode("B", "10/05/2023", "12/05/2023", LS="V3", REC="E13"),
            episode("B", "01/03/2024", LS="V4"),
        ],
        Missing=[{"CHILD": "B", "DOB": "01/01/2010", "MISSING": "M", "MIS_START": "02/03/2024"}],
    )
    for indicator in ("cyp.lac_count", "cyp.lac_during_year", "cyp.lac_started", "cyp.lac_ceased", "cyp.lac_missing_n"):
        assert value(out, indicator) == 0, indicator


def test_respite_before_a_care_order_leaves_the_child_counted_on_31_march() -> None:
    out = derive([episode("C", "01/05/2023", "03/05/2023", LS="V3", REC="E13"), episode("C", "01/06/2023")])
    assert value(out, "cyp.lac_count") == 1
    assert value(out, "cyp.lac_started") == 1


def test_a_child_with_two_periods_of_care_in_the_year_is_one_child_started_and_ceased_once() -> None:
    out = derive(
        [
            episode("D", "01/05/2023", "01/06/2023", REC="E4A"),
            episode("D", "01/09/2023", "01/10/2023", REC="E13"),
        ]
    )
    assert value(out, "cyp.lac_started") == 1
    assert value(out, "cyp.lac_during_year") == 1
    assert value(out, "cyp.lac_ceased") == 1
    # The last occasion the child ceased is the one counted.
    ceased = out.figures["cyp.lac_ceased"].records
    assert ceased["row"].to_list() == [1]
    assert len(out.figures["cyp.lac_started"].records) == 2


def test_an_episode_ending_on_31_march_is_a_child_ceased_not_looked_after_on_31_march() -> None:
    out = derive([episode("E", "01/06/2023", "31/03/2024", REC="E4A")])
    assert value(out, "cyp.lac_count") == 0
    assert value(out, "cyp.lac_ceased") == 1


def test_an_episode_ending_on_31_march_followed_by_another_the_same_day_is_one_child_on_31_march() -> None:
    out = derive(
        [
            episode("F", "01/06/2023", "31/03/2024", REC="X1"),
            episode("F", "31/03/2024", RNE="L", LS="C1"),
        ]
    )
    assert value(out, "cyp.lac_count") == 1
    assert value(out, "cyp.lac_ceased") == 0
    assert out.figures["cyp.lac_count"].records["row"].to_list() == [1]


def test_episodes_ending_the_day_before_the_year_are_not_in_it_the_first_day_is() -> None:
    out = derive(
        [
            episode("G", "01/01/2023", "31/03/2023", REC="E13"),
            episode("H", "01/01/2023", "01/04/2023", REC="E13"),
        ]
    )
    assert children(out, "cyp.lac_during_year") == {"H"}
    assert children(out, "cyp.lac_ceased") == {"H"}


def test_foster_placements_are_the_u_codes_on_31_march() -> None:
    out = derive(
        [
            episode("I", "01/01/2023", PLACE="U1"),
            episode("J", "01/01/2023", PLACE="U6"),
            episode("K", "01/01/2023", PLACE="K2"),
            episode("L", "01/01/2023", PLACE="A5"),
        ]
    )
    assert children(out, "cyp.lac_in_foster_placement") == {"I", "J"}


def test_placed_more_than_20_miles_from_home_exactly_20_is_not() -> None:
    out = derive(
        [
            episode("M", "01/01/2023", PL_DISTANCE="20.0"),
            episode("N", "01/01/2023", PL_DISTANCE="20.1"),
            episode("O", "01/01/2023", PL_DISTANCE=""),
        ]
    )
    assert value(out, "cyp.lac_placed_20_miles_n") == 1
    assert children(out, "cyp.lac_placed_20_miles") == {"N"}
    assert value(out, "cyp.lac_placed_20_miles") == pytest.approx(100 / 3)
    assert out.figures["cyp.lac_placed_20_miles"].denominator == 3


def test_without_the_distance_field_the_20_miles_figures_stay_keyed() -> None:
    out = derive([episode("M", "01/01/2023")])
    assert "PL_DISTANCE" in out.left_to_template["cyp.lac_placed_20_miles"]
    assert "cyp.lac_placed_20_miles_n" not in out.figures


def test_looked_after_12_months_starts_on_1_april_of_the_year_before_at_the_latest() -> None:
    out = derive(
        [
            episode("P", "01/04/2023"),
            episode("Q", "02/04/2023"),
            # A period of care that began long before, continued by a change of legal status in the year.
            episode("R", "01/01/2020", "05/05/2023", REC="X1"),
            episode("R", "05/05/2023", RNE="L", LS="C1"),
            # Back in care in the year after leaving: the new period is under 12 months.
            episode("S", "01/01/2020", "05/05/2023", REC="E13"),
            episode("S", "05/06/2023"),
        ]
    )
    assert children(out, "cyp.lac_12_months") == {"P", "R"}


def oc2(child: str, dob: str, **answers: str) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS["OC2"], "")
    row.update(CHILD=child, DOB=dob, **answers)
    return row


def test_oc2_items_count_the_12_month_cohort_with_its_age_on_31_march() -> None:
    out = derive(
        [episode(c, "01/01/2020") for c in ("T", "U", "V", "W")] + [episode("X", "01/01/2024")],
        OC2=[
            oc2("T", "31/03/2019", HEALTH_CHECK="1", HEALTH_ASSESSMENT="1", SDQ_SCORE=""),  # 5 on 31 March
            oc2("U", "01/04/2019", HEALTH_CHECK="1", HEALTH_ASSESSMENT="0", IMMUNISATIONS="1"),  # still 4
            oc2("V", "31/03/2014", CONVICTED="1", SUBSTANCE_MISUSE="1", TEETH_CHECK="1", SDQ_SCORE="12"),  # 10
            oc2("W", "01/04/2014", CONVICTED="1", SDQ_SCORE="20"),  # still 9
            oc2("X", "01/01/2010", HEALTH_ASSESSMENT="1", CONVICTED="1"),  # not in the cohort
        ],
    )
    assert value(out, "cyp.lac_12_months") == 4
    assert children(out, "cyp.lac_health_assessment_n") == {"T"}
    assert value(out, "cyp.lac_health_assessment") == 25.0
    assert value(out, "cyp.lac_immunisations_n") == 1
    assert value(out, "cyp.lac_teeth_checked_n") == 1
    assert value(out, "cyp.lac_substance_misuse_n") == 1
    assert children(out, "cyp.lac_12_months_under_5") == {"U"}
    assert value(out, "cyp.lac_under5_development") == 100.0
    assert children(out, "cyp.lac_12_months_aged_10_plus") == {"V"}
    assert value(out, "cyp.lac_convicted") == 100.0
    sdq = out.figures["cyp.lac_sdq_mean"]
    assert (sdq.value, sdq.numerator, sdq.denominator) == (16.0, 32.0, 2.0)
    # Lineage reaches the OC2 row as well as the episode.
    assert set(out.figures["cyp.lac_health_assessment_n"].records["table"]) == {"Episodes", "OC2"}


def test_missing_counts_missing_not_away_in_the_year_over_children_looked_after_in_the_year() -> None:
    miss = [
        {"CHILD": "Y", "DOB": "01/01/2008", "MISSING": "M", "MIS_START": "01/06/2023"},
        {"CHILD": "Z", "DOB": "01/01/2008", "MISSING": "A", "MIS_START": "01/06/2023"},
        {"CHILD": "AA", "DOB": "01/01/2008", "MISSING": "M", "MIS_START": "31/03/2023"},
        {"CHILD": "Y", "DOB": "01/01/2008", "MISSING": "M", "MIS_START": "02/07/2023"},
    ]
    out = derive([episode(c, "01/01/2023") for c in ("Y", "Z", "AA", "AB")], Missing=miss)
    assert children(out, "cyp.lac_missing_n") == {"Y"}
    assert value(out, "cyp.lac_missing") == 25.0
    missing_rows = out.figures["cyp.lac_missing"].records.filter(pl.col("table") == "Missing")
    assert sorted(missing_rows["row"].to_list()) == [0, 3]


def leaver(child: str, dob: str, in_touch: str, activ: str, accom: str) -> dict[str, str]:
    return {"CHILD": child, "DOB": dob, "IN_TOUCH": in_touch, "ACTIV": activ, "ACCOM": accom}


def test_care_leavers_by_age_at_their_birthday_in_the_year_died_and_returned_home_left_out() -> None:
    out = derive(
        [episode("A", "01/01/2023")],
        OC3=[
            leaver("L1", "15/09/2006", "YES", "F2", "D1"),  # 17
            leaver("L2", "31/03/2006", "NO", "0", "0"),  # 18 on 31 March
            leaver("L3", "01/04/2006", "YES", "G5", "B2"),  # 17 (18 only on 1 April)
            leaver("L4", "10/10/2004", "YES", "F1", "U1"),  # 19
            leaver("L5", "10/10/2002", "YES", "P5", "S2"),  # 21
            leaver("L6", "10/10/2003", "DIED", "0", "0"),  # 20, died
            leaver("L7", "10/10/2003", "RHOM", "0", "0"),  # 20, returned home
            leaver("L8", "10/10/2003", "REFU", "0", "0"),  # 20, refuses contact
        ],
    )
    assert value(out, "cyp.care_leavers_17_18") == 3
    assert children(out, "cyp.care_leavers_17_18_in_touch_n") == {"L1", "L3"}
    assert children(out, "cyp.care_leavers_17_18_eet_n") == {"L1"}
    assert children(out, "cyp.care_leavers_17_18_suitable_accom_n") == {"L1"}
    assert value(out, "cyp.care_leavers_19_21") == 3
    assert value(out, "cyp.care_leavers_19_21_accom_total") == 3
    assert children(out, "cyp.care_leavers_19_21_eet_n") == {"L4", "L5"}
    assert children(out, "cyp.care_leavers_19_21_he_n") == {"L4"}
    assert children(out, "cyp.care_leavers_19_21_suitable_accom_n") == {"L4"}
    assert value(out, "cyp.care_leavers_19_21_in_touch") == pytest.approx(200 / 3)
    assert "cyp.care_leavers_17_18_he_n" not in out.figures


def test_social_workers_are_counted_once_per_child_in_the_year() -> None:
    sw = [
        # The footnote's example: one worker, another, then the first again is 2 social workers.
        {"CHILD": "A", "SW_ID": "S1", "SW_DECOM": "01/01/2023", "SW_DEC": "01/05/2023"},
        {"CHILD": "A", "SW_ID": "S2", "SW_DECOM": "01/05/2023", "SW_DEC": "01/09/2023"},
        {"CHILD": "A", "SW_ID": "S1", "SW_DECOM": "01/09/2023", "SW_DEC": ""},
        # Three workers, the first already assigned on 1 April.
        {"CHILD": "B", "SW_ID": "S1", "SW_DECOM": "01/01/2023", "SW_DEC": "01/04/2023"},
        {"CHILD": "B", "SW_ID": "S3", "SW_DECOM": "01/04/2023", "SW_DEC": "01/08/2023"},
        {"CHILD": "B", "SW_ID": "S4", "SW_DECOM": "01/08/2023", "SW_DEC": ""},
        # A worker whose episode ended before the year does not count.
        {"CHILD": "C", "SW_ID": "S5", "SW_DECOM": "01/01/2022", "SW_DEC": "31/03/2023"},
        {"CHILD": "C", "SW_ID": "S6", "SW_DECOM": "31/03/2023", "SW_DEC": "01/06/2023"},
        {"CHILD": "C", "SW_ID": "S7", "SW_DECOM": "01/06/2023", "SW_DEC": ""},
    ]
    out = derive([episode(c, "01/01/2023") for c in "ABC"], SWEpisodes=sw)
    assert value(out, "cyp.lac_sw_cohort") == 3
    assert children(out, "cyp.lac_3plus_social_workers_n") == {"B"}
    assert value(out, "cyp.lac_3plus_social_workers") == pytest.approx(100 / 3)


def adoption(child: str, order_on: str, placed_on: str, adopted_on: str) -> list[dict[str, Any]]:
    """A period of care: a care order, a placement order, placed for adoption, adopted."""
    return [
        episode(child, "01/01/2022", order_on, LS="C2", PLACE="U6", REC="X1"),
        episode(child, order_on, placed_on, RNE="L", LS="E1", PLACE="U6", REC="X1"),
        episode(child, placed_on, adopted_on, RNE="P", LS="E1", PLACE="A6", REC="E11"),
    ]


def ad1(child: str, match: str) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS["AD1"], "")
    row.update(CHILD=child, DOB="01/01/2020", DATE_INT=match, DATE_MATCH=match)
    return row


def test_authority_to_match_counts_a_match_before_the_order_as_zero_days() -> None:
    episodes = adoption("A", "01/03/2023", "01/06/2023", "01/12/2023") + adoption(
        "B", "01/03/2023", "01/06/2023", "01/12/2023"
    )
    # Adopted without a placement order: left out, as the scorecard leaves such children out.
    episodes += [episode("C", "01/01/2022", "01/12/2023", PLACE="A4", REC="E11")]
    out = derive(episodes, AD1=[ad1("A", "09/06/2023"), ad1("B", "01/02/2023"), ad1("C", "01/06/2023")])
    figure = out.figures["cyp.adoption_authority_to_match_days"]
    assert (figure.numerator, figure.denominator, figure.value) == (100.0, 2.0, 50.0)
    assert set(figure.records["child"]) == {"A", "B"}


def test_authority_to_match_stays_keyed_when_the_order_predates_the_file() -> None:
    # The period's start is not in the file and its first episode is already under the order.
    episodes = adoption("A", "01/03/2023", "01/06/2023", "01/12/2023")[1:]
    out = derive(episodes, AD1=[ad1("A", "09/06/2023")])
    assert "before the episodes in the file" in out.left_to_template["cyp.adoption_authority_to_match_days"]


def test_rates_per_10000_need_the_population() -> None:
    tables = {"Episodes": frame("Episodes", [episode("A", "01/01/2023"), episode("B", "01/05/2023")])}
    without = derive_ssda903(tables, year_ending=YEAR)
    assert "pop.resident_0_17" in without.left_to_template["cyp.lac_rate_per_10k"]
    with_pop = derive_ssda903(tables, year_ending=YEAR, population_0_17=40_000)
    assert with_pop.figures["cyp.lac_rate_per_10k"].value == 0.5
    assert with_pop.figures["cyp.lac_started_rate_per_10k"].value == 0.25


def test_an_empty_cohort_leaves_its_percentage_undefined() -> None:
    out = derive([episode("A", "01/01/2024")], OC2=[oc2("A", "01/01/2010")])
    assert value(out, "cyp.lac_12_months") == 0
    assert "undefined" in out.left_to_template["cyp.lac_health_assessment"]


def test_tables_are_checked_before_anything_is_derived() -> None:
    with pytest.raises(InvalidInput, match="Episodes"):
        prepare({"Header": frame("Header", [])})
    with pytest.raises(InvalidInput, match="not SSDA903"):
        prepare({"Episodes": frame("Episodes", []), "Children": pl.DataFrame()})
    with pytest.raises(InvalidInput, match="DECOM"):
        prepare({"Episodes": pl.DataFrame({"CHILD": ["A"]})})


def test_collection_year_bounds() -> None:
    year = CollectionYear(2024)
    assert (str(year.start), str(year.end), year.period) == ("2023-04-01", "2024-03-31", "FY2023-24")


def _catalogue_ids() -> set[str]:
    ids: set[str] = set()
    for path in (ROOT / "indicators" / "catalogue").glob("*.toml"):
        for value_ in tomllib.loads(path.read_text(encoding="utf-8")).values():
            if isinstance(value_, list):
                ids |= {item["id"] for item in value_ if isinstance(item, dict) and "id" in item}
    return ids


def test_every_ssda903_field_is_derived_or_left_to_the_template_with_a_reason() -> None:
    mapping = tomllib.loads((ROOT / "mappings" / "returns" / "dfe_ssda903.toml").read_text(encoding="utf-8"))
    wanted = {field["indicator"] for field in mapping["field"]}
    out = derive(
        [episode("A", "01/01/2020", PL_DISTANCE="3")],
        OC2=[oc2("A", "01/01/2010")],
        OC3=[leaver("L", "10/10/2004", "YES", "F1", "U1"), leaver("M", "10/10/2006", "YES", "F1", "U1")],
        Missing=[],
        SWEpisodes=[],
        AD1=[],
    )
    answered = set(out.figures) | set(out.left_to_template)
    assert wanted <= answered, wanted - answered
    assert set(out.figures).isdisjoint(LEFT_TO_TEMPLATE)
    # Every id derived or named is a catalogue indicator.
    assert answered <= _catalogue_ids(), answered - _catalogue_ids()


def header(child: str, dob: str) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS["Header"], "")
    row.update(CHILD=child, DOB=dob, SEX="1")
    return row


def test_long_term_stability_cohort_is_under_16_in_care_2_5_years_on_31_march() -> None:
    out = derive(
        [
            episode("A", "01/10/2021"),  # 30 months on 31 March 2024: in the cohort
            episode("B", "02/10/2021"),  # a day short
            episode("C", "01/01/2020"),  # 16 on 31 March: too old
            episode("D", "01/01/2020"),  # 15 the day before a birthday on 1 April
        ],
        Header=[
            header("A", "01/01/2015"),
            header("B", "01/01/2015"),
            header("C", "31/03/2008"),
            header("D", "01/04/2008"),
        ],
    )
    assert children(out, "cyp.lac_under16_2_5_years") == {"A", "D"}


def test_same_carer_2_years_counts_changes_of_placement_with_the_same_carers_and_adoptive_placements() -> None:
    out = derive(
        [
            # New carers a year ago (P): not 2 years with the same carer.
            episode("A", "01/01/2020", "01/04/2023", REC="X1"),
            episode("A", "01/04/2023", RNE="P", PLACE="U6"),
            # A change of placement with the same carers (T) and of legal status (L) keep the carers.
            episode("B", "01/01/2020", "01/04/2023", REC="X1"),
            episode("B", "01/04/2023", "01/06/2023", RNE="T", PLACE="U4", REC="X1"),
            episode("B", "01/06/2023", RNE="L", LS="E1"),
            # Carers since exactly 1 April 2022: 2 years on 31 March 2024.
            episode("C", "01/01/2020", "01/04/2022", REC="X1"),
            episode("C", "01/04/2022", RNE="P"),
            # Placed for adoption with new carers 6 months ago, after a foster placement of 3 years.
            episode("D", "01/01/2020", "01/01/2021", REC="X1"),
            episode("D", "01/01/2021", "01/10/2023", RNE="P", REC="X1"),
            episode("D", "01/10/2023", RNE="P", LS="E1", PLACE="A6"),
        ],
        Header=[header(c, "01/01/2015") for c in "ABCD"],
    )
    assert value(out, "cyp.lac_under16_2_5_years") == 4
    assert children(out, "cyp.lac_long_term_placement_n") == {"B", "C", "D"}
    assert value(out, "cyp.lac_long_term_placement") == 75.0


def test_long_term_stability_stays_keyed_when_the_period_of_care_began_before_the_file() -> None:
    # The file's first episode is a change of legal status in 2022: when care began is not in it.
    out = derive([episode("A", "01/06/2022", RNE="L")], Header=[header("A", "01/01/2015")])
    assert "began before the episodes in the file" in out.left_to_template["cyp.lac_long_term_placement"]
    # A change of legal status long enough ago settles both conditions without the period's start.
    out = derive([episode("A", "01/06/2021", RNE="L")], Header=[header("A", "01/01/2015")])
    assert children(out, "cyp.lac_long_term_placement_n") == {"A"}


def test_a_date_or_distance_that_cannot_be_read_is_refused_not_dropped() -> None:
    with pytest.raises(InvalidInput, match=r"row 2: DECOM is not a date dd/mm/yyyy \(1 such cells\)") as refused:
        derive([episode("A", "01/01/2023"), episode("B", "2023-01-01")])
    assert "2023-01-01" not in str(refused.value)  # a child's value is never quoted
    with pytest.raises(InvalidInput, match="PL_DISTANCE is not a number") as refused:
        derive([episode("A", "01/01/2023", PL_DISTANCE="far")])
    assert "far" not in str(refused.value)


def test_a_previous_permanence_date_in_dfes_partial_forms_is_taken_but_another_form_refused() -> None:
    partial = ["ZZ/05/2020", "ZZ/ZZ/2021", "ZZ/ZZ/ZZZZ", "04/03/2019", ""]
    rows = [{"CHILD": f"C{n}", "DOB": "01/01/2010", "PREV_PERM": "P2", "DATE_PERM": d} for n, d in enumerate(partial)]
    tables = prepare(
        {"Episodes": frame("Episodes", [episode("C0", "01/06/2023")]), "PrevPerm": frame("PrevPerm", rows)}
    )
    dates = tables["PrevPerm"]["DATE_PERM"].to_list()
    assert dates[:3] == [None, None, None]
    assert str(dates[3]) == "2019-03-04"
    for bad in ("zz/05/2020", "xx/10/2011", "2019-03-04"):
        rows[0]["DATE_PERM"] = bad
        with pytest.raises(InvalidInput, match=r"PrevPerm, row 1: DATE_PERM is not a date"):
            prepare({"Episodes": frame("Episodes", [episode("C0", "01/06/2023")]), "PrevPerm": frame("PrevPerm", rows)})
