"""The agency's upload, end to end on a real database: exact reports, storing, versions, modes."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from collectors.figures.service import submission_problems, submit
from collectors.figures.template import template_rows
from indicators.store.models import Observation, Submission
from onereturn.keptfiles import KeptFileMissing
from onereturn.settings import Settings
from tests.helpers import kept_bytes, kept_names

SPECIMENS = Path(__file__).parent / "specimens" / "collect"
HEADER = "indicator,org,period,breakdown,value,numerator,denominator,status,note\n"


def csv(*rows: str) -> bytes:
    return (HEADER + "\n".join(rows) + "\n").encode()


def figures(engine: Engine, **where: str) -> list[Observation]:
    with Session(engine) as session:
        stmt = select(Observation).order_by(
            col(Observation.indicator_id), col(Observation.period), col(Observation.version)
        )
        for key, value in where.items():
            stmt = stmt.where(getattr(Observation, key) == value)
        return list(session.execute(stmt).scalars())


def test_every_rule_is_reported_exactly(store: Engine, store_settings: Settings) -> None:
    data = (SPECIMENS / "every_rule.csv").read_bytes()
    outcome = submit(store, store_settings, agency_code="notts_cyp", filename="every_rule.csv", data=data)
    assert outcome.submission is not None
    assert outcome.submission.id is not None
    with Session(store) as session:
        report = submission_problems(session, outcome.submission.id)
    found = sorted((r["row"] or 0, r["column"], r["rule"], r["severity"]) for r in report.iter_rows(named=True))
    assert found == sorted(
        [
            (0, "value", "blank-rows", "information"),
            (2, "value", "conflicting-figure", "error"),
            (3, "value", "conflicting-figure", "error"),
            (4, "value", "type-error", "error"),
            (5, "value", "not-negative", "error"),
            (6, "value", "whole-count", "error"),
            (7, "value", "percentage-range", "error"),
            (9, "numerator", "numerator-exceeds-denominator", "error"),
            (9, "value", "value-disagrees-with-ratio", "error"),
            (10, "value", "value-disagrees-with-ratio", "error"),
            (11, "indicator", "unknown-indicator", "error"),
            (12, "indicator", "derived-indicator", "error"),
            (13, "org", "not-designated", "error"),
            (14, "org", "unknown-org", "error"),
            (15, "indicator", "not-designated", "error"),
            (16, "period", "bad-period", "error"),
            (17, "breakdown", "bad-breakdown", "error"),
            (18, "status", "unknown-status", "error"),
            (21, "indicator", "missing-value", "error"),
        ]
    )
    messages = {(r["row"], r["rule"]): r["message"] for r in report.iter_rows(named=True)}
    assert messages[(3, "conflicting-figure")] == (
        "the same figure (cyp.cin_count, E10000024, 2024-06-30) is given on rows 2, 3 with different values; "
        "none of them is stored until one row remains"
    )
    assert messages[(None, "blank-rows")] == "1 row(s) were left blank and not read: row(s) 22"
    assert messages[(4, "type-error")] == "abc is not a number (nor one of the symbols x z c .. : -)"
    assert messages[(7, "percentage-range")] == "120 is a percentage, so it must be between 0 and 100"
    assert messages[(10, "value-disagrees-with-ratio")] == "40 does not agree with 30 / 60 x 100 = 50.0"
    assert messages[(11, "unknown-indicator")] == "cyp.lac_cnt is not in the catalogue (did you mean cyp.lac_count?)"
    assert (
        messages[(12, "derived-indicator")]
        == "cyp.cpp_rate_per_10k is computed by the service from other figures; do not submit it"
    )
    assert messages[(13, "not-designated")] == "notts_cyp does not answer for E10000025"
    assert messages[(16, "bad-period")] == "Period FY2024-25 is a financial year, but a snapshot date is expected"
    assert messages[(17, "bad-breakdown")] == "cyp.lac_placed_20_miles_n has no breakdown 'sex' (it has none)"
    sub = outcome.submission
    assert (sub.status, sub.rows_read, sub.rows_accepted, sub.error_count) == ("partially_accepted", 22, 4, 18)
    stored = {(o.indicator_id, o.period): o for o in figures(store)}
    # Neither of the two conflicting rows for cyp.cin_count is stored.
    assert set(stored) == {
        ("cyp.return_interviews_in_timescale", "FY2024-25-Q1"),
        ("cyp.cpp_count", "2024-03-31"),
        ("cyp.lac_count", "2024-03-31"),
        ("cyp.lac_sdq_mean", "2024-06-30"),
    }
    assert (stored[("cyp.cpp_count", "2024-03-31")].value, stored[("cyp.cpp_count", "2024-03-31")].symbol) == (
        None,
        "x",
    )
    lac = stored[("cyp.lac_count", "2024-03-31")]
    assert (lac.value, lac.flag) == (1204.0, "u")
    assert stored[("cyp.lac_sdq_mean", "2024-06-30")].status == "provisional"
    rate = stored[("cyp.return_interviews_in_timescale", "FY2024-25-Q1")]
    assert (rate.value, rate.numerator, rate.denominator) == (50.0, 30.0, 60.0)


@pytest.mark.parametrize("symbol", ["x", "z", "c", "..", ":", "-"])
def test_every_no_figure_symbol_is_stored_with_its_reason(store: Engine, store_settings: Settings, symbol: str) -> None:
    data = csv(f"cyp.cin_count,E10000024,2024-06-30,,{symbol},,,,")
    outcome = submit(store, store_settings, agency_code="notts_cyp", filename="s.csv", data=data)
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted"
    (obs,) = figures(store)
    assert (obs.value, obs.symbol) == (None, symbol)


@pytest.mark.parametrize(
    ("text", "value", "flag"), [("12 u", 12.0, "u"), ("12u", 12.0, "u"), ("1,204", 1204.0, None), ("7", 7.0, None)]
)
def test_numbers_with_low_reliability_flag_and_thousands(
    store: Engine, store_settings: Settings, text: str, value: float, flag: str | None
) -> None:
    submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="u.csv",
        data=csv(f'cyp.cin_count,E10000024,2024-06-30,,"{text}",,,,'),
    )
    (obs,) = figures(store)
    assert (obs.value, obs.flag) == (value, flag)


def test_identical_reupload_changes_nothing(store: Engine, store_settings: Settings) -> None:
    data = csv("cyp.cin_count,E10000024,2024-06-30,,512,,,,", "cyp.cpp_count,E10000024,2024-06-30,,301,,,,")
    first = submit(store, store_settings, agency_code="notts_cyp", filename="a.csv", data=data)
    again = submit(store, store_settings, agency_code="notts_cyp", filename="renamed.csv", data=data)
    assert again.duplicate
    assert again.submission is not None
    assert first.submission is not None
    assert again.submission.id == first.submission.id
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(Submission)).scalar_one() == 1
    assert len(figures(store)) == 2


def test_sending_an_earlier_file_again_makes_its_figures_current_again(store: Engine, store_settings: Settings) -> None:
    """An earlier file sent after a later one is applied as a new upload: a repeat is of what is current."""
    earlier = csv("cyp.cin_count,E10000024,2024-06-30,,440,,,,")
    later = csv("cyp.cin_count,E10000024,2024-06-30,,452,,,,")
    first = submit(store, store_settings, agency_code="notts_cyp", filename="a.csv", data=earlier)
    submit(store, store_settings, agency_code="notts_cyp", filename="b.csv", data=later)
    again = submit(store, store_settings, agency_code="notts_cyp", filename="a.csv", data=earlier)
    assert first.submission is not None
    assert again.submission is not None
    assert not again.duplicate
    assert again.submission.id != first.submission.id
    assert (again.submission.status, again.submission.rows_revised) == ("accepted", 1)
    assert [o.value for o in figures(store) if o.is_current] == [440]
    # Now that it is current, the same file once more is a repeat of it and changes nothing.
    repeat = submit(store, store_settings, agency_code="notts_cyp", filename="a.csv", data=earlier)
    assert repeat.duplicate
    assert repeat.submission is not None
    assert repeat.submission.id == again.submission.id
    assert [o.value for o in figures(store) if o.is_current] == [440]


def test_revision_history_keeps_every_version(store: Engine, store_settings: Settings) -> None:
    submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="v1.csv",
        data=csv("cyp.cin_count,E10000024,2024-06-30,,500,,,,"),
    )
    held = submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="v2.csv",
        data=csv("cyp.cin_count,E10000024,2024-06-30,,1000,,,,"),
    )
    assert held.submission is not None
    # A query alone holds its figure without rejecting the upload.
    assert (held.submission.status, held.submission.error_count, held.submission.queries_open) == ("queried", 0, 1)
    assert held.problems is not None
    assert held.problems["rule"].to_list() == ["change.revision"]
    assert held.problems["severity"].to_list() == ["query"]
    assert "add a note" in held.problems["message"][0]
    assert [o.value for o in figures(store)] == [500.0]
    revised = submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="v3.csv",
        data=csv("cyp.cin_count,E10000024,2024-06-30,,1000,,,final,Two large sibling groups became children in need"),
    )
    assert revised.submission is not None
    assert revised.submission.status == "accepted"
    assert revised.submission.rows_revised == 1
    versions = figures(store)
    assert [(o.version, o.value, o.is_current) for o in versions] == [(1, 500.0, False), (2, 1000.0, True)]
    assert versions[1].note == "Two large sibling groups became children in need"
    assert versions[1].submission_id == revised.submission.id
    assert versions[1].file_row == 2
    with Session(store) as session:
        earlier = session.get(Submission, held.submission.id)
        assert earlier is not None
        # The figure given again with a note closes the earlier upload's query.
        assert (earlier.status, earlier.queries_open) == ("superseded", 0)
    small = submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="v4.csv",
        data=csv("cyp.cin_count,E10000024,2024-06-30,,1010,,,,"),
    )
    assert small.submission is not None
    assert small.submission.rows_revised == 1
    assert [o.version for o in figures(store)] == [1, 2, 3]


def test_unchanged_figures_are_not_new_versions(store: Engine, store_settings: Settings) -> None:
    submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="a.csv",
        data=csv("cyp.cin_count,E10000024,2024-06-30,,500,,,,"),
    )
    second = submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="b.csv",
        data=csv("cyp.cin_count,E10000024,2024-06-30,,500,,,,", "cyp.cpp_count,E10000024,2024-06-30,,301,,,,"),
    )
    assert second.submission is not None
    assert (second.submission.rows_new, second.submission.rows_unchanged, second.submission.rows_revised) == (1, 1, 0)
    assert len(figures(store)) == 2


def test_atomic_mode_stores_nothing_when_any_row_fails(store: Engine, store_settings: Settings) -> None:
    data = csv("cyp.cin_count,E10000024,2024-06-30,,512,,,,", "cyp.cpp_count,E10000024,2024-06-30,,many,,,,")
    outcome = submit(store, store_settings, agency_code="notts_cyp", filename="a.csv", data=data, mode="atomic")
    assert outcome.submission is not None
    assert outcome.submission.status == "rejected"
    assert "atomic" in outcome.submission.message
    assert figures(store) == []
    default = submit(store, store_settings, agency_code="notts_cyp", filename="a.csv", data=data)
    assert default.submission is not None
    assert default.submission.status == "partially_accepted"
    assert len(figures(store)) == 1


def test_dry_run_stores_nothing_at_all(store: Engine, store_settings: Settings) -> None:
    data = csv("cyp.cin_count,E10000024,2024-06-30,,512,,,,", "cyp.cpp_count,E10000024,2024-06-30,,-1,,,,")
    outcome = submit(store, store_settings, agency_code="notts_cyp", filename="a.csv", data=data, mode="dry_run")
    assert outcome.submission is None
    assert outcome.problems is not None
    assert outcome.problems["rule"].to_list() == ["not-negative"]
    assert figures(store) == []
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(Submission)).scalar_one() == 0
    assert kept_names(store, store_settings, "uploads") == []


def test_a_file_no_way_reads_is_rejected_with_its_report_and_not_kept(store: Engine, store_settings: Settings) -> None:
    """A file that is no file of figures could be anything, a child's record among them: its report stays, not it;
    sent again it is a new upload, kept no longer either."""
    for data, rule in (
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "unsupported_file"),
        (b"name,born\nA,1\n", "missing-column"),
    ):
        for _ in range(2):
            outcome = submit(store, store_settings, agency_code="notts_cyp", filename="figures.pdf", data=data)
            assert outcome.submission is not None
            assert (outcome.submission.status, outcome.submission.purged_at is not None) == ("rejected", True)
            assert outcome.problems is not None
            assert rule in outcome.problems["rule"].to_list()
            with pytest.raises(KeptFileMissing):
                kept_bytes(store, store_settings, outcome.submission.raw_path)
    assert kept_names(store, store_settings, "uploads") == []


def test_missing_required_column_rejects_the_file(store: Engine, store_settings: Settings) -> None:
    data = b"indicator,org,value\ncyp.cin_count,E10000024,5\n"
    outcome = submit(store, store_settings, agency_code="notts_cyp", filename="a.csv", data=data)
    assert outcome.submission is not None
    assert outcome.submission.status == "rejected"
    assert outcome.problems is not None
    assert outcome.problems.select("column", "rule").rows() == [("period", "missing-column")]


def test_breakdowns_are_stored_under_one_canonical_key(store: Engine, store_settings: Settings) -> None:
    data = csv(
        "drugs.new_presentations,PRV-LEW-01,2024-03,,40,,,,",
        'drugs.new_presentations,PRV-LEW-01,2024-03,"sex=F; age_band_ndtms=25-29",4,,,,',
        "drugs.new_presentations,PRV-LEW-01,Mar 2024,age_band_ndtms=25-29;sex=F,4,,,,",
        "drugs.new_presentations,PRV-LEW-01,2024-03,sex=Q,4,,,,",
    )
    outcome = submit(store, store_settings, agency_code="lewisham_drugs", filename="d.csv", data=data)
    assert outcome.problems is not None
    assert outcome.problems.select("row", "rule").rows() == [(4, "repeated-figure"), (5, "bad-breakdown")]
    assert sorted(o.breakdown for o in figures(store)) == ["", "age_band_ndtms=25-29;sex=F"]


def test_template_lists_exactly_what_is_owed(store: Engine) -> None:
    with Session(store) as session:
        quarter = template_rows(session, "notts_cyp", "FY2024-25-Q1")
        year = template_rows(session, "notts_cyp", "FY2024-25")
        drugs = template_rows(session, "lewisham_drugs", "2024-03")
    assert {r.period for r in quarter} == {"2024-06-30", "FY2024-25-Q1"}
    assert all(not r.indicator.startswith(("pop.", "drugs.")) for r in year)
    assert "cyp.cpp_rate_per_10k" not in {r.indicator for r in year}, "derived figures are never asked for"
    assert len({(r.indicator, r.org, r.period, r.breakdown) for r in year}) == len(year), "each figure once"
    assert {r.period for r in year} == {"FY2024-25", "2025-03-31", *(f"FY2024-25-Q{q}" for q in range(1, 5))}
    new = [r for r in drugs if r.indicator == "drugs.new_presentations"]
    assert [r.breakdown for r in new][:3] == ["", "age_band_ndtms=18-24", "age_band_ndtms=25-29"]


def test_outstanding_template_leaves_out_accepted_figures(store: Engine, store_settings: Settings) -> None:
    with Session(store) as session:
        before = template_rows(session, "notts_cyp", "FY2024-25-Q1")
    submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="a.csv",
        data=csv("cyp.cin_count,E10000024,2024-06-30,,512,,,,"),
    )
    with Session(store) as session:
        after = template_rows(session, "notts_cyp", "FY2024-25-Q1", outstanding=True)
        hinted = template_rows(session, "notts_cyp", "FY2024-25-Q1")
    assert len(after) == len(before) - 1
    assert next(r.last_value for r in hinted if r.indicator == "cyp.cin_count") == "512"


def test_row_limit(store: Engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", max_upload_rows=2)
    data = csv(*(f"cyp.cin_count,E10000024,2024-0{m}-30,,5,,,," for m in (4, 6, 9)))
    outcome = submit(store, settings, agency_code="notts_cyp", filename="a.csv", data=data)
    assert outcome.problems is not None
    assert outcome.problems["rule"].to_list() == ["payload_too_large"]


def test_filled_xlsx_template_round_trip(store: Engine, store_settings: Settings) -> None:
    from collectors.figures.template import build_template

    with Session(store) as session:
        data, _name = build_template(session, "notts_cyp", "FY2024-25-Q1", "xlsx")
    sheet = pl.read_excel(io.BytesIO(data), sheet_name="Figures", infer_schema_length=0)
    percentage = pl.col("unit") == "%"
    filled = sheet.with_columns(
        pl.when(percentage).then(pl.lit("75")).otherwise(pl.lit("3")).alias("value"),
        pl.when(percentage).then(pl.lit("3")).alias("numerator"),
        pl.when(percentage).then(pl.lit("4")).alias("denominator"),
    )
    buffer = io.BytesIO()
    filled.write_excel(buffer, worksheet="Figures")
    outcome = submit(store, store_settings, agency_code="notts_cyp", filename="filled.xlsx", data=buffer.getvalue())
    assert outcome.submission is not None
    assert outcome.problems is not None
    assert outcome.problems.height == 0, outcome.problems
    assert outcome.submission.status == "accepted"
    assert outcome.submission.rows_accepted == sheet.height
    assert len(figures(store)) == sheet.height


def test_counts_with_decimals_take_fractions(store: Engine, store_settings: Settings) -> None:
    outcome = submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="fte.csv",
        data=csv("cyp.csw_in_post_fte,E10000024,2024-03-31,,420.1,,,,"),
    )
    assert outcome.submission is not None
    assert outcome.submission.status == "accepted"
    assert [o.value for o in figures(store)] == [420.1]


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity"])
def test_not_a_number_and_infinity_are_type_errors(store: Engine, store_settings: Settings, text: str) -> None:
    outcome = submit(
        store,
        store_settings,
        agency_code="notts_cyp",
        filename="n.csv",
        data=csv(f"cyp.cin_count,E10000024,2024-06-30,,{text},,,,"),
    )
    assert outcome.problems is not None
    assert outcome.problems.select("row", "column", "rule").rows() == [(2, "value", "type-error")]
    assert figures(store) == []
