"""Comparisons on DfE's and Fingertips' real published files: neighbours, mean, quartile, intervals, tests."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import polars as pl
import pytest
from scipy import stats
from sqlmodel import Session

from indicators.models import Indicator
from mappings.comparison.groups import group_for, officer_groups, statistical_neighbours
from mappings.comparison.intervals import Interval, against_england, poisson_count, rate, wilson
from mappings.comparison.service import Figure, IndicatorInfo, as_json, compare, competition_ranks, quartile

FIXTURES = Path(__file__).parents[1] / "fixtures" / "compare"
NEIGHBOURS = (
    Path(__file__).parents[2] / "mappings" / "comparators" / "New_Statistical_Neighbour_Groupings_April_2021.csv"
)

REPEAT_PLANS = IndicatorInfo(
    "cyp.cpp_second_or_subsequent_pct",
    "Second or subsequent child protection plans",
    "percentage",
    100,
    "lower_is_better",
    polarity_source="DfE LAIT data dictionary, measure 'Percentage of children who became the subject of a plan for a "
    "second or subsequent time': Polarity 'Low'",
)
CLA_RATE = IndicatorInfo("cyp.lac_rate_per_10k", "Children looked after per 10,000", "rate", 10000, "no_judgement")


def _ees(name: str) -> pl.DataFrame:
    return pl.read_csv(FIXTURES / name, infer_schema=False).rename(lambda c: c.lstrip("\ufeff"))


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _repeat_plans(year: str) -> tuple[dict[str, Figure], dict[str, str], list[str]]:
    d = _ees("d3_cpps_subsequent_plan_2013_to_2025.csv").filter(pl.col("time_period") == year)
    figures: dict[str, Figure] = {}
    names: dict[str, str] = {}
    peers: list[str] = []
    for r in d.iter_rows(named=True):
        level = r["geographic_level"]
        code = {"National": r["country_code"], "Regional": r["region_code"], "Local authority": r["new_la_code"]}[level]
        value = _number(r["CPP_subsequent_percent"])
        symbol = None if value is not None else r["CPP_subsequent_percent"]
        figures[code] = Figure(code, value, symbol, _number(r["CPP_subsequent"]), _number(r["CPP_start"]))
        names[code] = r["la_name"] or r["region_name"] or r["country_name"]
        if level == "Local authority":
            peers.append(code)
    return figures, names, peers


def _dfe_neighbour_numbers(la_number: str) -> list[str]:
    with NEIGHBOURS.open(newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            if row["LA num"] == la_number:
                return [row[f"SN{i}"] for i in range(1, 11)]
    raise AssertionError(la_number)


def _code_of_number(year: str) -> dict[str, str]:
    d = _ees("d3_cpps_subsequent_plan_2013_to_2025.csv").filter(
        (pl.col("time_period") == year) & (pl.col("geographic_level") == "Local authority")
    )
    return dict(zip(d["old_la_code"].to_list(), d["new_la_code"].to_list(), strict=True))


# Camden (inner London), Trafford (metropolitan), Kent (county), Somerset (recoded in 2023), Cornwall.
COUNCILS = [
    ("202", "E09000007"),
    ("358", "E08000009"),
    ("886", "E10000016"),
    ("933", "E06000066"),
    ("908", "E06000052"),
]


@pytest.mark.parametrize(("number", "code"), COUNCILS)
def test_the_ten_neighbours_are_those_dfe_names_with_their_codes_in_ees(number: str, code: str) -> None:
    group = statistical_neighbours(code)
    assert group is not None
    by_number = _code_of_number("2025")
    expected = [by_number[n] for n in _dfe_neighbour_numbers(number)]
    assert [m.codes[0] for m in group.members] == expected
    assert len(group.members) == 10
    assert "April 2021" in group.source
    assert all(m.closeness for m in group.members)


def test_a_council_dfe_does_not_group_has_no_neighbours_and_says_so() -> None:
    assert statistical_neighbours("E92000001") is None
    # Cumberland, made in April 2023, is in no DfE grouping (April 2021): an empty group that says why.
    assert statistical_neighbours("E06000063") is None
    empty = group_for("E06000063")
    assert empty.members == ()
    assert "do not name E06000063" in empty.note
    assert "region and England" in empty.note
    with pytest.raises(KeyError, match="No comparator group 'nope'"):
        group_for("E09000007", "nope")


def test_officer_groups_name_known_councils() -> None:
    group = officer_groups()["core_cities_england"]
    codes = set(_code_of_number("2025").values())
    assert {c for m in group.members for c in m.codes} <= codes
    assert all(m.name != m.codes[0] for m in group.members)


@pytest.mark.parametrize("year", ["2016", "2021", "2025"])
@pytest.mark.parametrize(("number", "code"), COUNCILS[:3])
def test_neighbours_values_and_mean_are_the_published_ones(year: str, number: str, code: str) -> None:
    figures, names, peers = _repeat_plans(year)
    group = statistical_neighbours(code)
    assert group is not None
    c = compare(REPEAT_PLANS, year, code, figures, group=group, names=names, peers=peers, region_code=None)
    by_number = _code_of_number(year)
    file = _ees("d3_cpps_subsequent_plan_2013_to_2025.csv").filter(pl.col("time_period") == year)
    published = dict(zip(file["new_la_code"].to_list(), file["CPP_subsequent_percent"].to_list(), strict=True))
    neighbour_rows = [r for r in c.rows if r.role == "neighbour"]
    numbers = _dfe_neighbour_numbers(number)
    # A neighbour made in a later reorganisation (West Northamptonshire, 2021) has no figure for earlier years.
    assert [r.code for r in neighbour_rows if r.code in published] == [by_number[n] for n in numbers if n in by_number]
    assert all(r.value is None and r.symbol is None for r in neighbour_rows if r.code not in published)
    values = []
    for r in neighbour_rows:
        if r.code not in published:
            continue
        v = _number(published[r.code])
        assert r.value == v
        if v is None:
            assert r.rank is None
            assert r.symbol == published[r.code]
        else:
            values.append(v)
    assert c.neighbours_counted == len(values)
    assert c.neighbours_mean == pytest.approx(sum(values) / len(values))
    assert c.own.value == _number(published[code])
    assert c.england is not None
    assert c.england.value == _number(
        file.filter(pl.col("geographic_level") == "National")["CPP_subsequent_percent"][0]
    )


@pytest.mark.parametrize(("year", "code"), [("2025", "E09000007"), ("2019", "E08000009"), ("2014", "E10000016")])
def test_the_quartile_is_against_every_council_in_the_file(year: str, code: str) -> None:
    figures, names, peers = _repeat_plans(year)
    group = statistical_neighbours(code)
    assert group is not None
    c = compare(REPEAT_PLANS, year, code, figures, group=group, names=names, peers=peers)
    numbers = [f.value for p in peers if (f := figures[p]).value is not None]
    own = figures[code].value
    assert own is not None
    # Lower is better: the better peers are those with a lower share of repeat plans.
    better = sum(1 for v in numbers if v < own)
    assert c.peers_counted == len(numbers) < len(peers) or c.peers_counted == len(peers)
    assert c.peer_rank == better + 1
    assert c.quartile == math.floor(4 * better / len(numbers)) + 1
    assert c.bottom_quartile == (c.quartile == 4)


def test_ties_share_the_better_rank_and_quartile_and_withheld_values_are_not_counted() -> None:
    assert competition_ranks({"a": 5.0, "b": 7.0, "c": 7.0, "d": 9.0}, "higher_is_better") == {
        "d": 1,
        "b": 2,
        "c": 2,
        "a": 4,
    }
    assert competition_ranks({"a": 5.0, "b": 7.0, "c": 7.0}, "lower_is_better") == {"a": 1, "b": 2, "c": 2}
    assert quartile(7.0, [9.0, 7.0, 7.0, 5.0], "higher_is_better") == (2, 2, 4)
    figures = {
        "E09000007": Figure("E09000007", 20.0),
        "E09000033": Figure("E09000033", None, "c"),
        "E09000013": Figure("E09000013", 10.0),
    }
    c = compare(REPEAT_PLANS, "2025", "E09000007", figures, group=group_for("E09000007"), names={}, peers=list(figures))
    withheld = next(r for r in c.rows if r.code == "E09000033")
    assert withheld.value is None
    assert withheld.symbol == "c"
    assert withheld.rank is None
    # Two values among three councils: too few for quarters (at least four, and half the councils, are needed).
    assert c.peers_counted == 2
    assert c.quartile is None
    assert "2 of 3 upper-tier councils have a value" in c.quartile_note
    assert c.neighbours_counted == 1
    assert c.neighbours_mean == 10.0


def test_without_polarity_no_quarter_is_called_the_bottom() -> None:
    figures, names, peers = _repeat_plans("2025")
    info = IndicatorInfo("x", "x", "percentage", 100, "no_judgement")
    worst = max(
        (f for f in figures.values() if f.value is not None and f.org_code in peers), key=lambda f: f.value or 0
    )
    lowest = min(
        (f for f in figures.values() if f.value is not None and f.org_code in peers), key=lambda f: f.value or 0
    )
    group = statistical_neighbours(lowest.org_code)
    assert group is not None
    c = compare(info, "2025", lowest.org_code, figures, group=group, names=names, peers=peers)
    assert c.quartile == 4
    assert not c.bottom_quartile
    assert worst.org_code != lowest.org_code
    # Which end quartile 1 is, said without calling any end better.
    assert c.quartile_words.startswith("quartile 4 of 4, ranked ")
    assert c.quartile_words.endswith(
        "(quartile 1 holds the highest values (no source says which way is better, so none is called best))"
    )
    assert "bottom" not in c.quartile_words
    assert as_json(c)["quartile_rule"].startswith("quartile 1 holds the highest values")
    cited = compare(REPEAT_PLANS, "2025", lowest.org_code, figures, group=group, names=names, peers=peers)
    assert cited.quartile == 1  # the lowest value is the best where lower is better
    assert cited.quartile_end == "quartile 1 is the best quarter: the lowest values"
    assert as_json(cited)["quartile_rule"].startswith("quartile 1 is the best quarter: the lowest values")
    high = compare(
        IndicatorInfo("y", "y", "percentage", 100, "higher_is_better", polarity_source="a source"),
        "2025",
        worst.org_code,
        figures,
        group=group,
        names=names,
        peers=peers,
    )
    assert high.quartile_end == "quartile 1 is the best quarter: the highest values"


def test_byars_intervals_agree_with_the_intervals_fingertips_published() -> None:
    data = json.loads((FIXTURES / "api_response_benchmark_rag_41101.json").read_text(encoding="utf-8"))
    polarity = {"LowIsGood": "lower_is_better", "HighIsGood": "higher_is_better"}[data["polarity"]]
    checked = decided = 0
    for area in data["areaHealthData"]:
        for segment in area["indicatorSegments"]:
            for h in segment["healthData"]:
                if h["lowerCi"] is None or not h["value"]:
                    continue
                # An indirectly standardised ratio: value = 100 * observed / expected, so expected follows from
                # the published count and value; Fingertips gives Byar's interval on the count over it. The value
                # is published to 0.1, so some value within its rounding must give the published interval at 0.1.
                intervals = [
                    rate(h["count"], 100 * h["count"] / (h["value"] + step / 1000), 100) for step in range(-50, 51)
                ]
                assert all(ci.method == "byars" for ci in intervals)
                same = [
                    ci for ci in intervals if (round(ci.lower, 1), round(ci.upper, 1)) == (h["lowerCi"], h["upperCi"])
                ]
                assert same, (area["areaCode"], h["datePeriod"], h["lowerCi"], h["upperCi"])
                # Fingertips' test against England, on Fingertips' own interval.
                england = h["benchmarkComparison"]["benchmarkValue"]
                outcome = h["benchmarkComparison"]["outcome"].lower()
                assert (
                    against_england(Interval(h["lowerCi"], h["upperCi"], 0.95, "byars"), england, polarity) == outcome
                )
                # And on ours, wherever the rounding of England's value and of the interval cannot decide it.
                ci = same[len(same) // 2]
                if min(abs(england - ci.lower), abs(england - ci.upper)) > 0.1:
                    assert against_england(ci, england, polarity) == outcome
                    decided += 1
                checked += 1
    assert checked >= 30
    assert decided >= 25


def test_rates_with_few_events_take_the_exact_interval_and_proportions_wilson() -> None:
    low, high, method = poisson_count(0)
    assert method == "exact_poisson"
    assert low == 0
    assert high == pytest.approx(3.689, abs=1e-3)
    assert poisson_count(9)[2] == "exact_poisson"
    assert poisson_count(10)[2] == "byars"
    ci = wilson(15130, 61840)
    assert ci.lower < 100 * 15130 / 61840 < ci.upper
    for k, n in ((15130, 61840), (3, 40), (0, 12), (12, 12)):
        two_sided = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        mine = wilson(k, n, multiplier=1)
        assert (mine.lower, mine.upper) == pytest.approx((two_sided.low, two_sided.high), abs=1e-12)
    with pytest.raises(ValueError, match="numerator"):
        wilson(5, 3)


def test_a_published_rate_with_its_counts_is_tested_against_england() -> None:
    d = _ees("cla_number_and_rate_per_10k_children.csv").filter(
        (pl.col("time_period") == "2025") & (pl.col("population_type") == "Children looked after on 31 March each year")
    )
    figures: dict[str, Figure] = {}
    peers = []
    for r in d.iter_rows(named=True):
        code = r["new_la_code"] or r["region_code"] or r["country_code"]
        count, pop = _number(r["children_count"]), _number(r["population_estimate"])
        figures[code] = Figure(code, _number(r["rate_per_10000"]), None, count, pop)
        if r["geographic_level"] == "Local authority":
            peers.append(code)
    c = compare(CLA_RATE, "2025", "E08000009", figures, group=group_for("E08000009"), names={}, peers=peers)
    own, eng = c.own, c.england
    assert own.interval is not None
    assert own.interval.method == "byars"
    assert eng is not None
    assert eng.value is not None
    expected = (
        "similar"
        if own.interval.lower <= eng.value <= own.interval.upper
        else ("higher" if own.interval.lower > eng.value else "lower")
    )
    assert own.outcome == expected
    assert c.method is not None
    assert "Byar" in c.method


def test_a_count_is_never_called_the_bottom_quarter() -> None:
    figures, names, peers = _repeat_plans("2025")
    counts = {c: Figure(c, f.numerator, None if f.numerator is not None else "x") for c, f in figures.items()}
    info = IndicatorInfo(
        "cyp.cpp_subsequent_n", "Second or subsequent plans", "count", 1, "lower_is_better", polarity_source="a source"
    )
    most = max((f for c, f in counts.items() if c in peers and f.value is not None), key=lambda f: f.value or 0)
    group = statistical_neighbours(most.org_code)
    assert group is not None
    c = compare(info, "2025", most.org_code, counts, group=group, names=names, peers=peers)
    assert c.quartile == 4
    assert not c.bottom_quartile


def test_an_uncited_polarity_is_neither_shown_nor_used() -> None:
    figures, names, peers = _repeat_plans("2025")
    uncited = IndicatorInfo(*[getattr(REPEAT_PLANS, k) for k in ("id", "title", "statistic", "multiplier", "polarity")])
    highest = max((figures[p] for p in peers if figures[p].value is not None), key=lambda f: f.value or 0)
    group = statistical_neighbours(highest.org_code)
    assert group is not None
    # England's figure with counts small enough that the council's interval leaves it out.
    england = Figure("E92000001", 1.0, None, 1, 100)
    figures = {**figures, "E92000001": england}
    cited = compare(REPEAT_PLANS, "2025", highest.org_code, figures, group=group, names=names, peers=peers)
    bare = compare(uncited, "2025", highest.org_code, figures, group=group, names=names, peers=peers)
    # Cited "lower is better": the highest share is the worst quarter and worse than England.
    assert cited.quartile == 4
    assert cited.bottom_quartile
    assert cited.own.outcome == "worse"
    # Without a source the same figures are put highest first, and nothing is called worse or the bottom.
    assert bare.quartile == 1
    assert not bare.bottom_quartile
    assert bare.own.outcome == "higher"
    assert bare.indicator.polarity_words.startswith("Not shown")
    answer = as_json(bare)
    assert answer["indicator"]["polarity"] == "no_judgement"
    assert answer["indicator"]["polarity_source"] is None
    assert as_json(cited)["indicator"]["polarity_source"] == REPEAT_PLANS.polarity_source


def test_the_catalogue_polarity_reaches_a_comparison_only_with_its_source(session: Session) -> None:
    rereferrals = session.get(Indicator, "cyp.cin_rereferrals")
    missing = session.get(Indicator, "cyp.lac_missing")
    assert rereferrals is not None
    assert missing is not None
    # Only re-referrals cite a publisher (DfE's LAIT) for "lower is better"; the catalogue gives children going
    # missing no direction, as no source is cited for one.
    assert rereferrals.polarity == "lower_is_better"
    assert missing.polarity == "no_judgement"
    cited, bare = IndicatorInfo.of(rereferrals), IndicatorInfo.of(missing)
    assert cited.judged
    assert cited.polarity == "lower_is_better"
    assert "Department for Education" in cited.polarity_source
    assert "Polarity 'Low'" in cited.polarity_source
    assert not bare.judged
    assert bare.polarity == "no_judgement"
    assert bare.polarity_source == ""


def test_intervals_agree_with_ohids_own_expected_results() -> None:
    # OHID's PHEindicatormethods states these intervals as the right answers of phe_proportion and phe_rate.
    with (FIXTURES / "phe_indicator_methods_expected.csv").open(encoding="utf-8", newline="") as f:
        expected = list(csv.DictReader(f))
    methods = {"Wilson": "wilson", "Byars": "byars", "Exact": "exact_poisson"}
    for row in expected:
        count, denominator, multiplier = float(row["numerator"]), float(row["denominator"]), float(row["multiplier"])
        ci = (wilson if row["statistic"] == "proportion" else rate)(count, denominator, multiplier)
        assert ci.method == methods[row["method"]], row
        assert ci.lower == pytest.approx(float(row["lower95_0cl"]), rel=1e-9), row
        assert ci.upper == pytest.approx(float(row["upper95_0cl"]), rel=1e-9), row
    assert {r["method"] for r in expected} == set(methods)
    assert len(expected) >= 30
