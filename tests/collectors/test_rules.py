"""The catalogue's plausibility rules on real uploads: against the upload and the stored figures, in three tiers."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.door.spine import Outcome
from collectors.figures.service import submission_problems, submit
from indicators.store.models import HeldFigure, Observation
from onereturn.settings import Settings

HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"
NOTTS = "E10000024"


def csv(*rows: str) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode()


def upload(engine: Engine, settings: Settings, *rows: str, agency: str = "notts_cyp") -> Outcome:
    return submit(engine, settings, agency_code=agency, filename="f.csv", data=csv(*rows))


def found(engine: Engine, outcome: Outcome) -> list[tuple[int | None, str, str, str]]:
    assert outcome.submission is not None
    assert outcome.submission.id is not None
    with Session(engine) as session:
        report = submission_problems(session, outcome.submission.id)
    return [(r["row"], r["rule"], r["severity"], r["message"]) for r in report.iter_rows(named=True)]


def stored(engine: Engine, indicator: str) -> list[float | None]:
    with Session(engine) as session:
        rows = session.execute(
            select(Observation).where(Observation.indicator_id == indicator, col(Observation.is_current))
        ).scalars()
        return [o.value for o in rows]


def test_part_larger_than_its_whole_in_one_upload_is_an_error_on_both_rows(
    store: Engine, store_settings: Settings
) -> None:
    out = upload(
        store,
        store_settings,
        f"cyp.lac_12_months,{NOTTS},2026-03-31,,640,,,,",
        f"cyp.lac_12_months_aged_10_plus,{NOTTS},2026-03-31,,700,,,,",
    )
    rule = "part.lac_12_months_aged_10_plus_within_lac_12_months"
    assert [(r, ru, sev) for r, ru, sev, _ in found(store, out)] == [(2, rule, "error"), (3, rule, "error")]
    message = found(store, out)[1][3]
    assert message == (
        "Children aged 10 or over looked after for 12 months are some of all children looked after for 12 months: "
        "cyp.lac_12_months_aged_10_plus is 700 but cyp.lac_12_months is only 640 (row 2)."
    )
    assert stored(store, "cyp.lac_12_months_aged_10_plus") == []
    assert stored(store, "cyp.lac_12_months") == []


def test_part_uploaded_today_is_checked_against_the_whole_stored_before(
    store: Engine, store_settings: Settings
) -> None:
    first = upload(store, store_settings, f"cyp.lac_12_months,{NOTTS},2026-03-31,,640,,,,")
    assert first.submission is not None
    assert first.submission.status == "accepted"
    later = upload(store, store_settings, f"cyp.lac_health_assessment_n,{NOTTS},2026-03-31,,980,,,,")
    ((row, rule, severity, message),) = found(store, later)
    assert (row, rule, severity) == (2, "ratio.lac_health_assessment", "error")
    assert message.endswith(
        "cyp.lac_health_assessment_n is 980 but cyp.lac_12_months is only 640 (already stored for 2026-03-31)."
    )
    assert later.submission is not None
    assert later.submission.status == "rejected"
    # A whole revised downwards below a stored part is caught from the other side.
    lower = upload(store, store_settings, f"cyp.lac_health_assessment_n,{NOTTS},2026-03-31,,600,,,,")
    assert lower.submission is not None
    assert lower.submission.status == "accepted"
    shrink = upload(store, store_settings, f"cyp.lac_12_months,{NOTTS},2026-03-31,,500,,,,revised after audit")
    assert [r[1] for r in found(store, shrink) if r[2] == "error"] == ["ratio.lac_health_assessment"]
    assert stored(store, "cyp.lac_12_months") == [640.0]


def test_breakdown_parts_must_add_up_to_the_total(store: Engine, store_settings: Settings) -> None:
    out = upload(
        store,
        store_settings,
        "drugs.new_presentations,PRV-LEW-01,2024-03,,100,,,,",
        "drugs.new_presentations,PRV-LEW-01,2024-03,sex=F,40,,,,",
        "drugs.new_presentations,PRV-LEW-01,2024-03,sex=M,40,,,,",
        "drugs.new_presentations,PRV-LEW-01,2024-03,sex=U,40,,,,",
        agency="lewisham_drugs",
    )
    problems = found(store, out)
    assert [(r, ru) for r, ru, _, _ in problems] == [(i, "breakdown.sex_sums_to_total") for i in (2, 3, 4, 5)]
    assert problems[1][3] == (
        "The figures of drugs.new_presentations by sex (F 40, M 40, U 40) add up to 120, "
        "which does not match the total of 100 (row 2)."
    )
    assert problems[0][3].endswith("the total of 100 (this row).")
    assert stored(store, "drugs.new_presentations") == []


def test_parts_that_add_up_are_accepted_even_when_some_are_missing(store: Engine, store_settings: Settings) -> None:
    out = upload(
        store,
        store_settings,
        "drugs.new_presentations,PRV-LEW-01,2024-03,,100,,,,",
        "drugs.new_presentations,PRV-LEW-01,2024-03,sex=F,40,,,,",
        "drugs.new_presentations,PRV-LEW-01,2024-03,sex=M,55,,,,",
        agency="lewisham_drugs",
    )
    assert found(store, out) == []


def test_counts_beyond_any_plausible_size_are_errors(store: Engine, store_settings: Settings) -> None:
    out = upload(store, store_settings, f"cyp.lac_count,{NOTTS},2026-03-31,,1.2e29,,,,")
    ((row, rule, severity, message),) = found(store, out)
    assert (row, rule, severity) == (2, "plausible.children", "error")
    assert message.startswith("1.2e+29 children is more than any area of England can have")
    assert stored(store, "cyp.lac_count") == []


def test_change_against_the_previous_period_is_a_query(store: Engine, store_settings: Settings) -> None:
    upload(store, store_settings, f"cyp.lac_count,{NOTTS},2025-03-31,,901,,,,")
    out = upload(store, store_settings, f"cyp.lac_count,{NOTTS},2026-03-31,,999999,,,,")
    ((row, rule, severity, message),) = found(store, out)
    assert (row, rule, severity) == (2, "change.since_previous_period", "query")
    assert message.startswith("999,999 is more than 50% away from 901, the figure for 2025-03-31;")
    assert out.submission is not None
    # A query alone holds its figure but is neither an error nor a partial acceptance.
    assert (out.submission.status, out.submission.error_count, out.submission.query_count) == ("queried", 0, 1)
    assert stored(store, "cyp.lac_count") == [901.0]
    noted = upload(store, store_settings, f"cyp.lac_count,{NOTTS},2026-03-31,,999999,,,,new duty: every child counted")
    assert noted.submission is not None
    assert noted.submission.status == "accepted"
    assert sorted(v for v in stored(store, "cyp.lac_count") if v is not None) == [901.0, 999999.0]


def test_percentage_below_one_asks_whether_it_meant_out_of_100(store: Engine, store_settings: Settings) -> None:
    out = upload(
        store,
        store_settings,
        f"cyp.lac_iro_consultation,{NOTTS},FY2025-26-Q1,,0.8,,,,",
        f"cyp.lac_iro_consultation,{NOTTS},FY2025-26-Q2,,0.46,23,50,,",
        f"cyp.lac_iro_consultation,{NOTTS},FY2025-26-Q3,,80,40,50,,",
    )
    problems = [(r, ru, sev) for r, ru, sev, _ in found(store, out)]
    # Row 3's 0.46 disagrees with 23/50 = 46%: an error; row 2 gets both queries; row 4 is right.
    assert (2, "percentage.scale", "query") in problems
    assert (2, "percentage.parts_given", "query") in problems
    assert (3, "value-disagrees-with-ratio", "error") in problems
    assert not [p for p in problems if p[0] == 4]
    scale = next(m for r, ru, _, m in found(store, out) if (r, ru) == (2, "percentage.scale"))
    assert "did you mean 80%?" in scale
    parts = next(m for r, ru, _, m in found(store, out) if (r, ru) == (2, "percentage.parts_given"))
    assert "without its numerator and denominator" in parts
    assert stored(store, "cyp.lac_iro_consultation") == [80.0]


def test_future_periods_are_refused(store: Engine, store_settings: Settings) -> None:
    out = upload(store, store_settings, f"cyp.lac_count,{NOTTS},2099-03-31,,901,,,,")
    ((row, rule, severity, message),) = found(store, out)
    assert (row, rule, severity) == (2, "future-period", "error")
    assert message.startswith("2099-03-31 has not begun yet (today is ")


@pytest.mark.parametrize("same", [True, False])
def test_duplicates_report_every_conflicting_row_and_store_none(
    store: Engine, store_settings: Settings, same: bool
) -> None:
    out = upload(
        store,
        store_settings,
        f"cyp.cin_count,{NOTTS},2026-03-31,,4014,,,,",
        f"cyp.cpp_count,{NOTTS},2026-03-31,,577,,,,",
        f"cyp.cin_count,{NOTTS},2026-03-31,,{4014 if same else 4100},,,,",
    )
    problems = [(r, ru, sev) for r, ru, sev, _ in found(store, out)]
    if same:
        assert problems == [(4, "repeated-figure", "information")]
        assert stored(store, "cyp.cin_count") == [4014.0]
    else:
        assert problems == [(2, "conflicting-figure", "error"), (4, "conflicting-figure", "error")]
        assert stored(store, "cyp.cin_count") == []
    assert stored(store, "cyp.cpp_count") == [577.0]


def test_blank_template_says_it_is_blank(store: Engine, store_settings: Settings) -> None:
    out = upload(
        store, store_settings, f"cyp.cin_count,{NOTTS},2026-03-31,,,,,,", f"cyp.cpp_count,{NOTTS},2026-03-31,,,,,,"
    )
    assert out.submission is not None
    assert (out.submission.status, out.submission.error_count) == ("rejected", 1)
    ((row, rule, severity, message),) = found(store, out)
    assert (row, rule, severity) == (None, "blank-upload", "error")
    assert message.startswith("the file is blank: all 2 row(s) of figures have no value")


def test_queried_figures_wait_and_are_recorded(store: Engine, store_settings: Settings) -> None:
    upload(store, store_settings, f"cyp.lac_count,{NOTTS},2025-03-31,,901,,,,")
    out = upload(
        store,
        store_settings,
        f"cyp.lac_count,{NOTTS},2026-03-31,,2000,,,,",
        f"cyp.cin_count,{NOTTS},2026-03-31,,4014,,,,",
    )
    assert out.submission is not None
    assert (out.submission.status, out.submission.rows_accepted, out.submission.queries_open) == ("queried", 1, 1)
    with Session(store) as session:
        (held,) = session.execute(select(HeldFigure)).scalars()
        assert (held.indicator_id, held.value, held.state, held.file_row) == ("cyp.lac_count", 2000.0, "open", 2)


def test_change_is_measured_from_the_latest_earlier_figure_with_a_value(
    store: Engine, store_settings: Settings
) -> None:
    # Stored: 901 for 2022, no figure (x) for 2023, nothing for 2024; a second series only for 2025, a third never.
    upload(
        store, store_settings, f"cyp.lac_count,{NOTTS},2022-03-31,,901,,,,", f"cyp.lac_count,{NOTTS},2023-03-31,,x,,,,"
    )
    upload(store, store_settings, f"cyp.lac_12_months,{NOTTS},2025-03-31,,400,,,,")
    out = upload(
        store,
        store_settings,
        f"cyp.lac_count,{NOTTS},2026-03-31,,999999,,,,",
        f"cyp.lac_12_months,{NOTTS},2026-03-31,,410,,,,",
        f"cyp.lac_12_months_aged_10_plus,{NOTTS},2026-03-31,,5,,,,",
    )
    ((row, rule, _, message),) = found(store, out)
    assert (row, rule) == (2, "change.since_previous_period")
    assert message.startswith("999,999 is more than 50% away from 901, the figure for 2022-03-31;")
    # A figure of the upload replaces the stored one it names: with 2022 sent as no figure, nothing earlier has a value.
    again = upload(
        store,
        store_settings,
        f"cyp.lac_count,{NOTTS},2022-03-31,,x,,,,",
        f"cyp.lac_count,{NOTTS},2026-03-31,,999999,,,,",
    )
    assert found(store, again) == []
