"""List 1's school columns and List 2's rows from censuses made by hand, each pupil worked by hand: absence from the
term's per-code sessions and from its totals, an exclusion reported in two censuses counted once, pupil premium by
each route, a dual-registered pupil, a child known by a former UPN and a child the census does not hold."""

from __future__ import annotations

from datetime import date

import polars as pl

from collectors.census.lists import NOT_HELD, newest_two, school_columns, sen_support
from collectors.census.schema import missed_codes
from tests.census.census_builder import AUTUMN, SPRING, SUMMER, census, pupil

ON = date(2025, 6, 30)
A, B, C, D, E, F, G, H = (f"{letter}801200001001" for letter in "ABCDEFGH")


def _summer() -> list:  # type: ignore[type-arg]
    """The summer census (the spring term's absence; the autumn's and spring's exclusions) and the spring census."""
    summer = census(
        SUMMER,
        pupils=[
            pupil(1, A),
            pupil(2, B, enrolstatus="M"),
            pupil(3, B, enrolstatus="S", laestab="8302002", urn="112244"),
            pupil(4, C, plaa="A"),
            pupil(5, D, servicechild="Y"),
            pupil(6, E),
            pupil(7, "Y801200001001", formerupn="Z801200001001"),
            pupil(8, G),
        ],
        possible=[
            {"pupil": 1, "period": "spring", "sessions": 120},
            {"pupil": 2, "period": "spring", "sessions": 60},
            {"pupil": 3, "period": "spring", "sessions": 60},
        ],
        sessions=[
            # A: illness 6, unauthorised 4, present 100, off site 10: 10 of 120 missed.
            {"pupil": 1, "period": "spring", "code": "I", "sessions": 6},
            {"pupil": 1, "period": "spring", "code": "O", "sessions": 4},
            {"pupil": 1, "period": "spring", "code": "/", "sessions": 100},
            {"pupil": 1, "period": "spring", "code": "B", "sessions": 10},
            # B at two schools: 3 missed at one (G), 6 at the other (N), of 120 possible in all.
            {"pupil": 2, "period": "spring", "code": "G", "sessions": 3},
            {"pupil": 3, "period": "spring", "code": "N", "sessions": 6},
            {"pupil": 3, "period": "spring", "code": "D", "sessions": 54},
        ],
        exclusions=[
            {"pupil": 1, "category": "SUSP", "started": date(2024, 11, 5), "sessions": 2, "reason": "PA"},
            {"pupil": 1, "category": "PERM", "started": date(2025, 2, 10), "sessions": None, "reason": "PA"},
            {"pupil": 1, "category": "LNCH", "started": date(2025, 3, 3), "sessions": 1, "reason": "VP"},
        ],
        fsm=[{"pupil": 6, "started": date(2018, 9, 1), "ended": date(2020, 3, 1)}],
        premium=[{"upn": G.lower(), "fsm_ever6": False, "service_child": True}],
    )
    spring = census(
        SPRING,
        pupils=[pupil(11, A, primary_need="SEMH"), pupil(12, H)],
        exclusions=[
            # The same suspension, reported again by the summer census: counted once.
            {"pupil": 11, "category": "SUSP", "started": date(2024, 11, 5), "sessions": 2, "reason": "PA"},
            # Last academic year's: outside the window.
            {"pupil": 11, "category": "SUSP", "started": date(2024, 6, 10), "sessions": 1, "reason": "PA"},
        ],
        fsm=[{"pupil": 12, "started": date(2024, 9, 1), "ended": None}],
    )
    return [summer, spring]


def _by_key(censuses: list, looked_after: frozenset[str] = frozenset()) -> dict[str, dict]:  # type: ignore[type-arg]
    frame = school_columns(censuses, ON, looked_after)
    assert frame is not None
    return {r["key"]: r for r in frame.iter_rows(named=True)}


def test_the_newest_census_on_or_before_the_date_and_the_one_before_are_read() -> None:
    censuses = [*_summer(), census(AUTUMN)]
    newest, before = newest_two(censuses, date(2025, 3, 1))
    assert [c.census_day for c in newest] == [SPRING]
    assert [c.census_day for c in before] == [AUTUMN]
    assert school_columns(censuses, date(2024, 9, 1)) is None


def test_absence_is_sessions_missed_of_those_possible_grouped_as_dfe_groups_the_codes() -> None:
    assert {"I", "O", "G", "N"} <= missed_codes()
    assert not {"/", "B", "D", "X"} & missed_codes()
    rows = _by_key(_summer())
    assert rows[A]["Absence"] == 8.3  # 10 of 120
    assert "summed from its sessions by code" in rows[A]["src_Absence"]
    assert rows[B]["Absence"] == 7.5  # 9 of 120, over both schools
    assert rows[C]["Absence"] is None  # no sessions possible reported for the term
    assert rows[C]["src_Absence"] == "no sessions possible reported for the term"


def test_absence_reads_the_terms_totals_where_the_census_has_them() -> None:
    summer, spring = _summer()
    possible = summer.possible.with_columns(
        authorised=pl.Series([5, None, None], dtype=pl.Int64), unauthorised=pl.Series([3, None, None], dtype=pl.Int64)
    )
    with_totals = type(summer)(**{**summer.__dict__, "possible": possible})
    rows = _by_key([with_totals, spring])
    assert rows[A]["Absence"] == 6.7  # 8 of 120 from the totals, not the codes' 10
    assert "the term's totals" in rows[A]["src_Absence"]
    assert rows[B]["Absence"] == 7.5  # no totals: summed from the codes


def test_absence_sums_the_terms_of_the_newest_census_and_the_one_before() -> None:
    summer, spring = _summer()
    # The spring census reports the autumn term: A missed 5 (illness) and 3 (unauthorised) of 130.
    spring_a = census(
        SPRING,
        pupils=spring.pupils.to_dicts(),
        possible=[{"pupil": 11, "period": "termly", "sessions": 130}],
        sessions=[
            {"pupil": 11, "period": "termly", "code": "I", "sessions": 5},
            {"pupil": 11, "period": "termly", "code": "O", "sessions": 3},
            {"pupil": 11, "period": "termly", "code": "/", "sessions": 122},
        ],
    )
    rows = _by_key([summer, spring_a])
    assert rows[A]["Absence"] == 7.2  # (10 + 8) of (120 + 130), worked by hand
    assert rows[A]["src_Absence"].count("summed from its sessions by code") == 2
    assert "school census of 2025-01-16" in rows[A]["src_Absence"]
    assert "school census of 2025-05-15" in rows[A]["src_Absence"]
    assert rows[B]["Absence"] == 7.5  # only the summer census reports B's sessions


def test_absence_reads_an_older_schemas_totals_and_a_newer_ones_codes_together() -> None:
    """The autumn 2024 census (a schema with totals) and the spring 2025 one (codes only): P's totals are read, its
    per-code rows in the autumn census are not, and the autumn's annual period (2015 and 2016's) is not read."""
    autumn = census(
        AUTUMN,
        pupils=[pupil(21, A)],
        possible=[
            {"pupil": 21, "period": "termly", "sessions": 60, "authorised": 4, "unauthorised": 2},
            {"pupil": 21, "period": "summerhalfterm2", "sessions": 30, "authorised": 1, "unauthorised": 0},
            {"pupil": 21, "period": "annual", "sessions": 300, "authorised": 20, "unauthorised": 5},
        ],
        sessions=[{"pupil": 21, "period": "termly", "code": "I", "sessions": 20}],
    )
    spring = census(
        SPRING,
        pupils=[pupil(31, A)],
        possible=[{"pupil": 31, "period": "termly", "sessions": 120}],
        sessions=[
            {"pupil": 31, "period": "termly", "code": "I", "sessions": 6},
            {"pupil": 31, "period": "termly", "code": "O", "sessions": 3},
            {"pupil": 31, "period": "termly", "code": "/", "sessions": 111},
        ],
    )
    frame = school_columns([spring, autumn], date(2025, 3, 31))
    assert frame is not None
    (row,) = frame.filter(pl.col("key") == A).iter_rows(named=True)
    assert row["Absence"] == 7.6  # (4 + 2 + 1 + 0) + (6 + 3) = 16 of 60 + 30 + 120 = 210, worked by hand
    assert "the term's totals" in row["src_Absence"]
    assert "summed from its sessions by code" in row["src_Absence"]


def test_an_exclusion_reported_in_two_censuses_is_counted_once_in_the_academic_year() -> None:
    rows = _by_key(_summer())
    assert rows[A]["Suspensions"] == 2  # 5 November (twice reported) and the lunchtime one; June 2024 outside
    assert rows[A]["Permanent exclusions"] == 1
    assert "pupil 1" in rows[A]["src_Suspensions"]
    assert "2025-05-15" in rows[A]["src_Suspensions"]
    assert (rows[B]["Suspensions"], rows[B]["Permanent exclusions"]) == (0, 0)
    assert rows[B]["src_Suspensions"].startswith("no exclusion in the window")


def test_pupil_premium_by_each_route() -> None:
    rows = _by_key(_summer(), looked_after=frozenset({B}))
    routes = {k: (r["Pupil Premium"], r["src_Pupil Premium"].split(":")[0]) for k, r in rows.items()}
    assert routes[E] == ("Yes", "Ever-6 free school meals")  # FSM ended 2020-03-01, within six years of 15 May 2025
    assert routes[C] == ("Yes", "previously looked after (plaa)")
    assert routes[B] == ("Yes", "looked after at the inspection date")
    assert routes[D] == ("Yes", "service child")
    assert routes[G] == ("Yes", "GIAP's pupil premium download")
    assert routes[A][0] == "No"


def test_schools_a_former_upn_and_a_child_the_census_does_not_hold() -> None:
    rows = _by_key(_summer())
    assert (rows[B]["census_urn"], rows[B]["census_dual_urn"]) == ("112233", "112244")
    assert rows[A]["census_dual_urn"] is None
    assert "Z801200001001" in rows
    assert rows["Z801200001001"]["census_urn"] == "112233"
    assert H not in rows  # the spring census's pupil is not in the newest census
    assert "does not hold the child" in NOT_HELD


def test_list_2s_pupils_are_those_on_sen_support_at_their_main_school() -> None:
    spring = _summer()[1]
    k = census(
        SUMMER,
        pupils=[
            pupil(1, A, senprovision="K"),
            pupil(2, B, senprovision="E", enrolstatus="M"),
            pupil(3, B, senprovision="K", enrolstatus="S"),
            pupil(4, C, senprovision="K", on_roll=False),
            pupil(5, D, senprovision="K", primary_need="SLCN"),
        ],
    )
    rows = {r["key"]: r for r in sen_support([k, spring], ON).iter_rows(named=True)}
    assert set(rows) == {A, D}
    assert rows[A]["primary_need"] == "SEMH"  # the spring census's need: the summer census has none
    assert rows[D]["primary_need"] == "SLCN"
    assert rows[A]["src"].endswith("pupil 1")
