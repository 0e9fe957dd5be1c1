"""CIN census figures by DfE's published method, on hand-built children: one edge case of each rule per test."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from collectors.records.cin_figures import LEFT_TO_TEMPLATE, assessment_deadline, derive_cin
from collectors.records.cin_tables import YES_NO_CODES, collection_year_of, read_cin_tables
from collectors.records.ssda903_figures import Derivation
from indicators.catalogue import load_indicator_files
from onereturn.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "records" / "cin"
YEAR = 2024  # 1 April 2023 to 31 March 2024


def _leaf(name: str, value: Any) -> str:
    return "" if value is None else f"<{name}>{value}</{name}>"


def plan(start: str, end: str | None = None, previous: int = 0, reviews: tuple[str, ...] = ()) -> str:
    """One ChildProtectionPlans block."""
    review = "<Reviews>" + "".join(_leaf("CPPreviewDate", r) for r in reviews) + "</Reviews>" if reviews else ""
    return (
        "<ChildProtectionPlans>"
        + _leaf("CPPstartDate", start)
        + _leaf("CPPendDate", end)
        + "<InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse><LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>"
        + _leaf("NumberOfPreviousCPP", previous)
        + review
        + "</ChildProtectionPlans>"
    )


def episode(
    referral: str,
    closure: str | None = None,
    *,
    nfa: str = "false",
    reason: str = "RC1",
    assessments: tuple[tuple[str, str | None], ...] = (),
    plans: tuple[str, ...] = (),
) -> str:
    """One CINdetails block: a referral, its assessments (start, authorisation) and plans."""
    blocks = "".join(
        "<Assessments>"
        + _leaf("AssessmentActualStartDate", s)
        + _leaf("AssessmentAuthorisationDate", a)
        + "</Assessments>"
        for s, a in assessments
    )
    return (
        "<CINdetails>"
        + _leaf("CINreferralDate", referral)
        + "<ReferralSource>1A</ReferralSource><PrimaryNeedCode>N1</PrimaryNeedCode>"
        + _leaf("CINclosureDate", closure)
        + (_leaf("ReasonForClosure", reason) if closure else "")
        + blocks
        + _leaf("ReferralNFA", nfa)
        + "".join(plans)
        + "</CINdetails>"
    )


def child(la_id: str, *episodes: str, sex: str = "GenderCurrent", disabilities: tuple[str, ...] = ()) -> str:
    """One Child with its episodes of need."""
    dis = (
        "<Disabilities>" + "".join(_leaf("Disability", d) for d in disabilities) + "</Disabilities>"
        if disabilities
        else ""
    )
    return (
        f"<Child><ChildIdentifiers><LAchildID>{la_id}</LAchildID><PersonBirthDate>2015-05-01</PersonBirthDate>"
        f"<{sex}>1</{sex}></ChildIdentifiers><ChildCharacteristics><Ethnicity>WBRI</Ethnicity>{dis}"
        f"</ChildCharacteristics>{''.join(episodes)}</Child>"
    )


def census(*children: str, year: int = YEAR) -> bytes:
    """A census file around the given children."""
    return (
        f"<Message><Header><CollectionDetails><Collection>CIN</Collection><Year>{year}</Year>"
        f"<ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails></Header>"
        f"<Children>{''.join(children)}</Children></Message>"
    ).encode()


def derive(*children: str, previous: tuple[str, ...] | None = None, population: float | None = None) -> Derivation:
    earlier = read_cin_tables(census(*previous, year=YEAR - 1)) if previous is not None else None
    return derive_cin(
        read_cin_tables(census(*children)), year_ending=YEAR, population_0_17=population, previous_year=earlier
    )


def value(out: Derivation, indicator: str) -> float:
    return out.figures[indicator].value


def counted(out: Derivation, indicator: str) -> set[str]:
    return set(out.figures[indicator].records.filter("counted")["child"].to_list())


# --- reading the file --------------------------------------------------------------------------


def test_reader_takes_gender_current_or_sex_and_keeps_positions() -> None:
    tables = read_cin_tables(
        census(
            child("A", episode("2023-05-01"), disabilities=("HAND", "HEAR")),
            child("B", episode("2023-06-01"), sex="Sex"),
        )
    )
    assert tables["Children"]["Sex"].to_list() == ["1", "1"]
    assert tables["Disabilities"]["Disability"].to_list() == ["HAND", "HEAR"]
    assert tables["CINdetails"]["_row"].to_list() == [0, 1]
    assert tables["CINdetails"]["CINreferralDate"].to_list() == [date(2023, 5, 1), date(2023, 6, 1)]
    assert tables["CINdetails"]["ReferralNFA"].to_list() == [False, False]


def test_reader_reads_the_yes_no_type_in_every_allowed_spelling() -> None:
    eps = [episode(f"2023-05-0{i}", nfa=v) for i, v in enumerate(("true", "FALSE", "1", "0"), start=1)]
    assert read_cin_tables(census(child("A", *eps)))["CINdetails"]["ReferralNFA"].to_list() == [
        True,
        False,
        True,
        False,
    ]


def test_reader_knows_exactly_the_catalogue_yes_no_codes() -> None:
    assert set(YES_NO_CODES) == set(load_indicator_files().codelists["cin_yes_no"].spec.codes)


def test_reader_accepts_a_first_plan_with_zero_previous_plans() -> None:
    tables = read_cin_tables(census(child("A", episode("2023-05-01", plans=(plan("2023-06-01", previous=0),)))))
    assert tables["ChildProtectionPlans"]["NumberOfPreviousCPP"].to_list() == [0]


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE Message [<!ENTITY a "aaaa">]><Message>&a;</Message>',
        b'<!DOCTYPE Message SYSTEM "file:///etc/passwd"><Message/>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE M [<!ENTITY a "a">]><Message>&a;</Message>'.encode("utf-16"),
        b"<Message>" + b"<a>" * 20 + b"</a>" * 20 + b"</Message>",
        b"<Message><Children>",
        b"<NotACensus/>",
    ],
)
def test_hostile_or_broken_files_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        read_cin_tables(data)


def test_an_unreadable_date_is_refused_not_dropped_and_not_quoted() -> None:
    with pytest.raises(InvalidInput, match=r"CINdetails record 1: CINreferralDate cannot be read as a date") as refused:
        read_cin_tables(census(child("A", episode("01/05/2023"))))
    assert "01/05/2023" not in str(refused.value)
    with pytest.raises(InvalidInput, match=r"ReferralNFA cannot be read as yes or no") as refused:
        read_cin_tables(census(child("A", episode("2023-05-01", nfa="perhaps-7731"))))
    assert "perhaps-7731" not in str(refused.value)


def test_collection_year_comes_from_the_header() -> None:
    assert collection_year_of(census(child("A", episode("2023-05-01")))) == YEAR


# --- episodes of need -------------------------------------------------------------------------


def test_a_child_with_two_episodes_in_the_year_counts_twice_in_starts_and_ends_once_on_31_march() -> None:
    out = derive(child("A", episode("2023-05-01", "2023-07-01"), episode("2023-10-01")))
    assert value(out, "cyp.cin_episodes_started") == 2
    assert value(out, "cyp.cin_episodes_ended") == 1
    assert value(out, "cyp.cin_count") == 1
    assert value(out, "cyp.cin_referrals") == 2
    rec = out.figures["cyp.cin_count"].records.row(0, named=True)
    assert (rec["child"], rec["table"], rec["row"], rec["episode_start"]) == ("A", "CINdetails", 1, date(2023, 10, 1))


def test_an_episode_closed_on_31_march_is_not_open_on_31_march_but_ended_in_the_year() -> None:
    out = derive(child("A", episode("2022-01-01", "2024-03-31")), child("B", episode("2024-03-31")))
    assert counted(out, "cyp.cin_count") == {"B"}
    assert counted(out, "cyp.cin_episodes_ended") == {"A"}
    assert counted(out, "cyp.cin_episodes_started") == {"B"}


def test_rates_per_10000_need_the_population() -> None:
    kids = [child(f"C{i}", episode("2023-05-01", plans=(plan("2023-06-01"),))) for i in range(3)]
    assert "cyp.cin_rate_per_10k" in derive(*kids).left_to_template
    out = derive(*kids, population=20000)
    assert value(out, "cyp.cin_rate_per_10k") == pytest.approx(1.5)
    assert value(out, "cyp.cpp_rate_per_10k") == pytest.approx(1.5)


# --- referrals --------------------------------------------------------------------------------


def test_rereferral_on_the_anniversary_counts_the_day_after_does_not() -> None:
    # 2022-06-01 to 2023-06-01 is day 365: within 12 months; 2022-05-31 to 2023-06-01 is day 366.
    out = derive(
        child("A", episode("2023-06-01")),
        child("B", episode("2023-06-01")),
        previous=(child("A", episode("2022-06-01", "2022-08-01")), child("B", episode("2022-05-31", "2022-08-01"))),
    )
    assert counted(out, "cyp.cin_rereferrals_n") == {"A"}
    assert value(out, "cyp.cin_rereferrals") == pytest.approx(50.0)


def test_rereferral_across_29_february_on_day_366_is_within_12_months() -> None:
    # 1 March 2023 to 1 March 2024 is 366 days (29 February 2024 lies between) and exactly 12
    # months; 28 February 2023 to 1 March 2024 is 367 days, more than 12 months.
    out = derive(
        child("A", episode("2024-03-01")),
        child("B", episode("2024-03-01")),
        child("C", episode("2023-05-01", "2023-06-01"), episode("2023-11-01")),
        previous=(child("A", episode("2023-03-01", "2023-03-05")), child("B", episode("2023-02-28", "2023-03-05"))),
    )
    assert counted(out, "cyp.cin_rereferrals_n") == {"A", "C"}
    assert value(out, "cyp.cin_rereferrals_n") == 2
    assert value(out, "cyp.cin_referrals") == 4


def test_rereferrals_are_left_to_the_template_without_the_previous_year() -> None:
    out = derive(child("A", episode("2023-06-01")))
    assert "previous year" in out.left_to_template["cyp.cin_rereferrals"]
    assert "cyp.cin_rereferrals_n" not in out.figures


def test_referrals_with_no_further_action() -> None:
    out = derive(child("A", episode("2023-06-01", "2023-06-02", nfa="true")), child("B", episode("2023-06-01")))
    assert counted(out, "cyp.cin_referrals_nfa_n") == {"A"}
    assert value(out, "cyp.cin_referrals_nfa") == pytest.approx(50.0)


def test_referrals_closed_with_no_further_action_or_not_in_need_start_no_episode_of_need() -> None:
    out = derive(
        child("NFA", episode("2023-06-01", "2023-06-02", nfa="true", reason="RC8")),
        child("RC8", episode("2023-06-01", "2023-07-20", reason="RC8")),
        child("RC9", episode("2023-06-01", "2023-07-20", reason="RC9")),
        child("NEED", episode("2023-06-01", "2023-09-01", reason="RC7")),
        child("OPEN", episode("2023-06-01")),
    )
    assert value(out, "cyp.cin_referrals") == 5
    assert counted(out, "cyp.cin_referrals_nfa_n") == {"NFA"}
    # 5 referrals - 1 with no further action - 2 assessed as not in need (RC8, RC9).
    assert counted(out, "cyp.cin_episodes_started") == {"NEED", "OPEN"}
    assert counted(out, "cyp.cin_episodes_ended") == {"NEED"}
    assert counted(out, "cyp.cin_count") == {"OPEN"}


def test_an_nfa_referral_with_no_closure_yet_is_not_open_on_31_march() -> None:
    out = derive(child("A", episode("2024-03-30", nfa="true")), child("B", episode("2024-03-30")))
    assert counted(out, "cyp.cin_count") == {"B"}
    assert counted(out, "cyp.cin_episodes_started") == {"B"}


# --- DfE's published identity -----------------------------------------------------------------

ALL_YEARS = ROOT / "tests" / "fixtures" / "dfe" / "all_years"
#: The published rows (year, level, council code) where episodes started differ from
#: referrals - no further action - assessed not in need, by DfE's own figures.
IDENTITY_DOES_NOT_HOLD = {
    ("2013", "National", None),
    ("2013", "Local authority", "E06000018"),
    ("2013", "Local authority", "E06000026"),
    ("2013", "Local authority", "E09000029"),
    ("2013", "Local authority", "E10000032"),
    ("2014", "National", None),
    ("2014", "Local authority", "E06000018"),
    ("2014", "Local authority", "E08000035"),
    ("2014", "Local authority", "E10000008"),
    ("2014", "Local authority", "E10000018"),
    ("2014", "Local authority", "E10000020"),
    ("2014", "Local authority", "E10000032"),
    ("2015", "National", None),
    ("2015", "Local authority", "E06000018"),
    ("2015", "Local authority", "E06000022"),
    ("2015", "Local authority", "E10000019"),
    ("2015", "Local authority", "E10000020"),
    ("2015", "Local authority", "E10000021"),
    ("2015", "Local authority", "E10000032"),
    ("2016", "National", None),
    ("2016", "Local authority", "E06000018"),
    ("2016", "Local authority", "E06000030"),
    ("2016", "Local authority", "E08000027"),
    ("2016", "Local authority", "E08000036"),
    ("2016", "Local authority", "E09000013"),
    ("2016", "Local authority", "E09000028"),
    ("2016", "Local authority", "E10000021"),
    ("2016", "Local authority", "E10000032"),
    ("2017", "National", None),
    ("2017", "Local authority", "E06000036"),
    ("2017", "Local authority", "E10000032"),
    ("2018", "National", None),
    ("2018", "Local authority", "E09000024"),
    ("2018", "Local authority", "E10000018"),
    ("2018", "Local authority", "E10000032"),
    ("2019", "National", None),
    ("2019", "Local authority", "E10000018"),
    ("2019", "Local authority", "E10000032"),
    ("2020", "National", None),
    ("2020", "Local authority", "E08000004"),
    ("2020", "Local authority", "E10000032"),
    ("2021", "National", None),
    ("2021", "Local authority", "E10000032"),
    ("2022", "National", None),
    ("2022", "Local authority", "E10000032"),
}


def test_dfe_published_episodes_started_are_referrals_less_nfa_and_not_in_need() -> None:
    key = ["time_period", "geographic_level", "new_la_code"]
    numbers = ["referral_count", "no_further_action_count", "not_in_need_count", "Started_episodes"]
    b1 = pl.read_csv(ALL_YEARS / "b1_children_in_need_2013_to_2025.csv", infer_schema_length=0)
    c1 = pl.read_csv(
        ALL_YEARS / "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv", infer_schema_length=0
    )
    rows = (
        b1.join(c1.drop("la_name"), on=key, how="inner", nulls_equal=True)
        .with_columns(pl.col(n).cast(pl.Int64, strict=False) for n in numbers)
        .drop_nulls(numbers)  # suppressed ("c", "x") in one of the four
        .with_columns(
            (
                pl.col("referral_count")
                - pl.col("no_further_action_count")
                - pl.col("not_in_need_count")
                - pl.col("Started_episodes")
            ).alias("gap")
        )
    )
    assert rows.height == 1858
    # England's figures are rounded to the nearest 10 (four of them: up to 20 apart); councils' are not.
    allowed = pl.when(pl.col("geographic_level") == "National").then(20).otherwise(0)
    off = rows.filter(pl.col("gap").abs() > allowed)
    assert set(off.select(key).iter_rows()) == IDENTITY_DOES_NOT_HOLD
    england_2025 = rows.filter(pl.col("time_period") == "2025", pl.col("geographic_level") == "National").row(
        0, named=True
    )
    assert (england_2025["referral_count"], england_2025["Started_episodes"]) == (632830, 396870)
    assert england_2025["gap"] == 0


# --- assessments ------------------------------------------------------------------------------


def test_45th_working_day_across_the_easter_and_may_bank_holidays() -> None:
    # Referral Mon 4 March 2024. Bank holidays in England: Good Friday 29 March, Easter Monday
    # 1 April and the Early May bank holiday 6 May, so working day 45 is Thu 9 May 2024.
    assert assessment_deadline(date(2024, 3, 4)) == date(2024, 5, 9)


def test_assessment_on_the_45th_working_day_is_in_time_the_next_working_day_is_not() -> None:
    # Referral Mon 3 April 2023. Five bank holidays fall in the next 45 working days (Good Friday
    # 7 April, Easter Monday 10 April, Early May 1 May, the coronation 8 May, Spring 29 May), so
    # working day 45 is Mon 12 June 2023.
    assert assessment_deadline(date(2023, 4, 3)) == date(2023, 6, 12)
    out = derive(
        child("A", episode("2023-04-03", assessments=(("2023-04-04", "2023-06-12"),))),
        child("B", episode("2023-04-03", assessments=(("2023-04-04", "2023-06-13"),))),
        child("C", episode("2023-02-01", assessments=(("2023-02-02", "2023-03-20"),))),
    )
    assert value(out, "cyp.cin_assessments_completed") == 2  # C's was completed before the year
    assert counted(out, "cyp.cin_assessments_in_timescale_n") == {"A"}
    assert value(out, "cyp.cin_assessments_in_timescale") == pytest.approx(50.0)


def test_an_assessment_not_yet_authorised_is_not_completed() -> None:
    out = derive(child("A", episode("2024-03-01", assessments=(("2024-03-02", None),))))
    assert value(out, "cyp.cin_assessments_completed") == 0
    assert "cyp.cin_assessments_in_timescale" in out.left_to_template


# --- child protection plans -------------------------------------------------------------------


def test_a_plan_starting_on_31_march_is_started_and_open_on_31_march() -> None:
    out = derive(child("A", episode("2024-02-01", plans=(plan("2024-03-31"),))))
    assert counted(out, "cyp.cpp_started") == {"A"}
    assert counted(out, "cyp.cpp_count") == {"A"}
    assert value(out, "cyp.cpp_2_years_plus_n") == 0


def test_a_plan_ending_on_31_march_is_not_open_on_31_march() -> None:
    out = derive(child("A", episode("2023-02-01", plans=(plan("2023-03-01", "2024-03-31"),))))
    assert value(out, "cyp.cpp_count") == 0
    assert value(out, "cyp.cpp_started") == 0


def test_plan_open_on_31_march_lasting_two_years_or_more() -> None:
    out = derive(
        child("A", episode("2021-01-01", plans=(plan("2022-03-31"),))),  # exactly 2 years on 31 March 2024
        child("B", episode("2021-01-01", plans=(plan("2022-04-01"),))),  # a day short
        child("C", episode("2020-01-01", plans=(plan("2020-06-01"),))),
    )
    assert value(out, "cyp.cpp_count") == 3
    assert counted(out, "cyp.cpp_2_years_plus_n") == {"A", "C"}
    assert value(out, "cyp.cpp_2_years_plus") == pytest.approx(200 / 3)


def test_second_plans_by_previous_count_or_earlier_plan_in_the_file() -> None:
    out = derive(
        child("A", episode("2023-04-01", plans=(plan("2023-05-01", previous=0),))),
        child("B", episode("2023-04-01", plans=(plan("2023-05-01", previous=2),))),
        child("C", episode("2022-01-01", plans=(plan("2022-02-01", "2023-04-20"), plan("2023-09-01")))),
    )
    assert value(out, "cyp.cpp_started") == 3
    assert counted(out, "cyp.cpp_subsequent_n") == {"B", "C"}
    assert value(out, "cyp.cpp_subsequent") == pytest.approx(200 / 3)


def test_a_child_starting_two_plans_in_the_year_is_one_child() -> None:
    out = derive(child("A", episode("2023-04-01", plans=(plan("2023-05-01", "2023-06-01"), plan("2023-09-01")))))
    assert value(out, "cyp.cpp_started") == 1
    assert value(out, "cyp.cpp_subsequent_n") == 1


def test_figures_without_a_published_rule_are_left_with_the_reason() -> None:
    out = derive(child("A", episode("2023-06-01")))
    for indicator in LEFT_TO_TEMPLATE:
        assert out.left_to_template[indicator]
        assert indicator not in out.figures


def _mapped(return_id: str) -> set[str]:
    mapping = tomllib.loads((ROOT / "mappings" / "returns" / f"{return_id}.toml").read_text(encoding="utf-8"))
    return {field["indicator"] for field in mapping["field"] if "indicator" in field}


def test_every_cin_census_field_and_same_count_indicator_is_derived_or_left_with_a_reason() -> None:
    same_count = re.compile(r"cyp\.(cin_|cpp_|ni59_|ni60_|ni64_|ni68_)")
    wanted = _mapped("dfe_cin_census") | {
        i for r in ("county_cyp_core", "nis_children") for i in _mapped(r) if same_count.match(i)
    }
    out = derive(
        child("A", episode("2023-05-01", assessments=(("2023-05-02", "2023-06-01"),), plans=(plan("2023-05-10"),))),
        previous=(),
        population=10000,
    )
    answered = set(out.figures) | set(out.left_to_template)
    assert wanted <= answered, wanted - answered
    assert set(out.figures).isdisjoint(LEFT_TO_TEMPLATE)
    assert set(out.left_to_template) == set(LEFT_TO_TEMPLATE)
    catalogue = set(load_indicator_files().indicators)
    assert answered <= catalogue, answered - catalogue


# --- the fake census file ---------------------------------------------------------------------


def _independent_counts(text: str, start: date, end: date) -> dict[str, int]:
    """Counts over the XML text with regular expressions, written apart from the library."""
    counts = {"open": 0, "started": 0, "ended": 0, "nfa": 0, "referrals": 0, "not_in_need": 0}
    for block in re.findall(r"<CINdetails>(.*?)</CINdetails>", text, flags=re.S):
        referral = date.fromisoformat(re.search(r"<CINreferralDate>([^<]+)<", block).group(1))  # type: ignore[union-attr]
        closure_match = re.search(r"<CINclosureDate>([^<]+)<", block)
        closure = date.fromisoformat(closure_match.group(1)) if closure_match else None
        nfa = re.search(r"<ReferralNFA>([^<]+)<", block).group(1).strip().lower() in ("true", "1")  # type: ignore[union-attr]
        reason = re.search(r"<ReasonForClosure>([^<]+)<", block)
        not_in_need = reason is not None and reason.group(1).strip() in ("RC8", "RC9")
        if start <= referral <= end:
            counts["referrals"] += 1
            counts["nfa"] += nfa
            counts["not_in_need"] += not_in_need and not nfa
        if nfa or not_in_need:
            continue
        if referral <= end and (closure is None or closure > end):
            counts["open"] += 1
        if start <= referral <= end:
            counts["started"] += 1
        if closure is not None and start <= closure <= end:
            counts["ended"] += 1
    return counts


def test_fake_census_file_matches_an_independent_count() -> None:
    data = (FIXTURES / "fake_CIN_data.xml").read_bytes()
    year = collection_year_of(data)
    assert year == 2022
    out = derive_cin(read_cin_tables(data), year_ending=year)
    expected = _independent_counts(data.decode(), date(2021, 4, 1), date(2022, 3, 31))
    # Every referral in DfE's fake file is marked no further action, so it starts no episode of need.
    assert expected["referrals"] == expected["nfa"] > 0
    assert value(out, "cyp.cin_count") == expected["open"]
    assert value(out, "cyp.cin_episodes_started") == expected["started"]
    assert value(out, "cyp.cin_referrals") == expected["referrals"]
    # DfE's identity (B1, C1): episodes started = referrals - no further action - assessed not in need.
    assert expected["started"] == expected["referrals"] - expected["nfa"] - expected["not_in_need"]
    assert value(out, "cyp.cin_episodes_ended") == expected["ended"]
    assert value(out, "cyp.cin_referrals_nfa_n") == expected["nfa"]
    assert value(out, "cyp.cpp_count") == 0  # the file holds no plans


def test_fake_census_with_sex_and_plans_reads() -> None:
    tables = read_cin_tables((FIXTURES / "CIN_Census_2024.xml").read_bytes())
    assert tables["Children"]["Sex"].to_list() == ["1", "M"]
    assert tables["ChildProtectionPlans"]["NumberOfPreviousCPP"].to_list() == [10]
    assert tables["Reviews"]["CPPreviewDate"].to_list() == [date(2023, 2, 15)]
    out = derive_cin(tables, year_ending=2023)
    # The first child's plan ran from 17 February 2022 to 14 March 2023: open on 31 March 2022 only.
    assert value(out, "cyp.cpp_count") == 0
    assert value(out, "cyp.cin_episodes_ended") == 1
