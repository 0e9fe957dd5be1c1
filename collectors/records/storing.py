"""A record-level upload's derived figures stored: checked as any upload's figures are (``collectors.checks.typed``), a
figure keyed in a template kept over a derived one, and the rest stored through the shared tail with the records
behind each figure, DfE's findings by child and each child's id sealed, written alongside (``spine.Alongside``).

Children are named in the store only by their pseudonym (``collectors.records.privacy``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from collectors.checks.checked import problem_frame
from collectors.checks.context import build_context
from collectors.checks.typed import FIGURE_SCHEMA, named_by_figure, rowless, validate_figures
from collectors.door import lease
from collectors.door.spine import Alongside, Stored, store_accepted
from collectors.records.models import RecordChild, RecordLineage, RecordProblem
from collectors.records.privacy import Keys
from collectors.records.receiving import WAY
from collectors.records.ssda903_figures import Derivation
from indicators.store.models import RECORDS_KIND as KIND
from indicators.store.models import Observation, Submission
from onereturn.db import bulk_insert

#: Figures the service's catalogue keeps as the ONS population aged 0-17, the base of the rates per 10,000.
POPULATION = "pop.resident_0_17"
#: The rule named on a figure derived from the records that a template also gives.
CONFLICT_RULE = "records_keyed_conflict"
_BATCH = 20_000
#: ``record_lineage``'s columns but the submission's, as the lineage of an upload's figures is built.
_LINEAGE_SCHEMA = pl.Schema(
    {
        "indicator_id": pl.String,
        "org_code": pl.String,
        "period": pl.String,
        "child": pl.String,
        "record_table": pl.String,
        "record_row": pl.Int64,
        "episode_start": pl.Date,
        "counted": pl.Boolean,
    }
)


@dataclass
class Run:
    """What one run made of an upload: the problems for everyone, the findings by child, and what to store."""

    problems: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    children: set[str] = field(default_factory=set)
    #: The deployment's keys, once the files were opened with them.
    keys: Keys | None = None
    #: The pseudonym of each child id met in this run, made once per child (``Keys.pseudonyms``); never kept after it.
    named: dict[str, str] = field(default_factory=dict)


def problem(
    rule: str, severity: str, message: str, column: str | None = None, value: str | None = None
) -> dict[str, Any]:
    """One problem of the upload as a whole (no row), in a report's columns."""
    return {"row": None, "column": column, "value": value, "rule": rule, "severity": severity, "message": message}


def ons_population(engine: Engine, org: str, year_ending: int) -> float | None:
    """The stored ONS population aged 0-17 of the council for the year, the base of the rates per 10,000."""
    period = f"FY{year_ending - 1}-{year_ending % 100:02d}"
    with Session(engine) as session:
        value = session.execute(
            select(Observation.value).where(
                Observation.indicator_id == POPULATION,
                Observation.org_code == org,
                Observation.period == period,
                Observation.breakdown == "",
                col(Observation.is_current),
            )
        ).scalar()
    return float(value) if value is not None else None


def _period_of(derived: Derivation, period_type: str | None) -> str | None:
    """The collection year as a period of the indicator's type: the financial year, or its 31 March snapshot."""
    if period_type == "financial_year":
        return derived.year.period
    if period_type == "snapshot_date":
        return derived.year.end.isoformat()
    return None


def _figures(derived: Derivation, org: str, periods: dict[str, str]) -> pl.DataFrame:
    """The derived figures, numbered from 1 in indicator order, for the checks every figure passes."""
    rows = [
        (
            f.indicator,
            org,
            periods[f.indicator],
            "",
            f.value,
            f.numerator,
            f.denominator,
            "final",
            "derived from the council's record-level return",
            n,
        )
        for n, f in enumerate(sorted(derived.figures.values(), key=lambda f: f.indicator), start=1)
        if f.indicator in periods
    ]
    return pl.DataFrame(rows, schema=FIGURE_SCHEMA, orient="row")


def _keyed(session: Session, frame: pl.DataFrame, org: str) -> dict[str, tuple[float | None, int]]:
    """Current figures of these indicators and periods for the council that came from a template or file of figures."""
    found: dict[str, tuple[float | None, int]] = {}
    for period, group in frame.group_by("period"):
        rows = session.execute(
            select(Observation.indicator_id, Observation.value, Observation.submission_id)
            .join(Submission, col(Submission.id) == col(Observation.submission_id))
            .where(
                col(Observation.indicator_id).in_(group["indicator_id"].to_list()),
                Observation.org_code == org,
                Observation.period == str(period[0]),
                Observation.breakdown == "",
                col(Observation.is_current),
                Submission.kind != KIND,
            )
        ).all()
        found |= {indicator: (value, int(sub)) for indicator, value, sub in rows}
    return found


def store(
    engine: Engine,
    submission: Submission,
    outcome: Run,
    derived: Derivation,
    org: str,
    keys: Keys,
    *,
    rows_read: int,
) -> None:
    """Check the derived figures as any upload's, keep a keyed figure over a derived one, and store the rest with lineage."""
    assert submission.id is not None
    sid = submission.id
    with Session(engine) as session:
        ctx = build_context(session, submission.agency_code)
        types = dict(ctx.indicators.select("id", "period_type").iter_rows())
        periods = {i: p for i in derived.figures if (p := _period_of(derived, types.get(i))) is not None}
        for indicator in sorted(set(derived.figures) - set(periods)):
            derived.leave(
                indicator,
                f"the catalogue keeps it by {types.get(indicator) or 'no known period type'}, "
                "not by the collection year",
            )
        frame = _figures(derived, org, periods)
        keyed = _keyed(session, frame, org)
    theirs = frame.filter(pl.col("indicator_id").is_in(sorted(ctx.agency_indicators)))
    _say_not_stored(outcome, submission.agency_code, frame, theirs, keyed, derived, periods)
    theirs = theirs.filter(~pl.col("indicator_id").is_in(sorted(keyed)))
    result = rowless(validate_figures(theirs, ctx, WAY.checks()))
    # No row of the council's files holds a derived figure: its problems name the figure.
    problems = pl.concat(
        [named_by_figure(result.problems, theirs), problem_frame(outcome.problems)], how="vertical_relaxed"
    )
    outcome.problems = []
    lineage = _lineage_rows(derived, result.accepted.select("indicator_id", "period").rows(), org, keys, outcome)
    counts = {"rows_read": rows_read, **severity_counts(problems, outcome.findings)}

    def summary(stored: Stored) -> str:
        return (
            f"{stored.accepted} figure(s) derived from the records and stored ({stored.new} new, {stored.revised} "
            f"revised, {stored.unchanged} unchanged); {len(derived.left_to_template)} left to the template"
            + (f"; {len(keyed)} also keyed in a template, the keyed figure kept" if keyed else "")
        )

    alongside = Alongside(
        still_mine=lambda session: lease.mine(session, sid),
        write=lambda session, _: write_child_rows(session, sid, outcome, keys, lineage),
    )
    store_accepted(
        engine,
        submission,
        result,
        problems=problems,
        summary=summary,
        stage="stored",
        alongside=alongside,
        counts=counts,
    )


def _say_not_stored(
    outcome: Run,
    agency_code: str,
    frame: pl.DataFrame,
    theirs: pl.DataFrame,
    keyed: dict[str, tuple[float | None, int]],
    derived: Derivation,
    periods: dict[str, str],
) -> None:
    """Say of each derived figure not stored why: another agency gives it, a template keyed it, or it is left to one."""
    own = set(theirs["indicator_id"])
    for indicator in sorted(set(frame["indicator_id"]) - own):
        outcome.problems.append(
            problem(
                "records_not_source",
                "information",
                f"{indicator} was derived, but {agency_code} is not its designated source, so it was not stored",
                column="indicator",
                value=indicator,
            )
        )
    for indicator, (value, sub) in sorted(keyed.items()):
        if indicator not in own:
            continue
        mine = derived.figures[indicator].value
        given = value if value is None else f"{value:g}"
        outcome.problems.append(
            problem(
                CONFLICT_RULE,
                "query",
                f"{indicator} {periods[indicator]}: the records give {mine:g}, and submission {sub} keyed {given} "
                "in a template; the keyed figure is kept (upload a corrected template to change it)",
                column="indicator",
                value=indicator,
            )
        )
    for indicator, reason in sorted(derived.left_to_template.items()):
        outcome.problems.append(
            problem(
                "records_left_to_template",
                "information",
                f"{indicator} is left to the template: {reason}",
                column="indicator",
                value=indicator,
            )
        )


def _lineage_rows(
    derived: Derivation, stored: list[tuple[str, str]], org: str, keys: Keys, outcome: Run
) -> pl.DataFrame:
    """The records behind each stored figure, the child by pseudonym, in ``record_lineage``'s columns."""
    if not stored:
        return pl.DataFrame(schema=_LINEAGE_SCHEMA)
    behind = pl.concat(
        [
            derived.figures[indicator].records.with_columns(indicator_id=pl.lit(indicator), period=pl.lit(period))
            for indicator, period in stored
        ],
        how="vertical_relaxed",
    )
    # Thousands of rows but a few thousand children: each child's pseudonym is made once and looked up.
    children = behind["child"].unique().to_list()
    outcome.children.update(children)
    names = keys.pseudonyms(children, outcome.named)
    return behind.select(
        pl.col("indicator_id"),
        pl.lit(org).alias("org_code"),
        pl.col("period"),
        pl.col("child").replace_strict(names, return_dtype=pl.String),
        pl.col("table").alias("record_table"),
        pl.col("row").alias("record_row"),
        pl.col("episode_start"),
        pl.col("counted").fill_null(False),
    ).cast(_LINEAGE_SCHEMA)


def severity_counts(problems: pl.DataFrame, findings: list[dict[str, Any]]) -> dict[str, int]:
    def count(severity: str) -> int:
        return int((problems["severity"] == severity).sum()) + sum(1 for f in findings if f["severity"] == severity)

    errors, queries, information = count("error"), count("query"), count("information")
    return {
        "error_count": errors,
        "query_count": queries,
        "information_count": information,
        "warning_count": queries + information,
    }


def write_child_rows(
    session: Session, submission_id: int, outcome: Run, keys: Keys, lineage: pl.DataFrame | None
) -> None:
    """Write the findings by child, the records behind the figures, and each child's id encrypted."""
    session.execute(delete(RecordProblem).where(col(RecordProblem.submission_id) == submission_id))
    session.execute(delete(RecordLineage).where(col(RecordLineage.submission_id) == submission_id))
    session.execute(delete(RecordChild).where(col(RecordChild.submission_id) == submission_id))
    columns = ("submission_id", "rule", "severity", "message", "record_table", "child", "row", "fields")
    finding_rows = [(submission_id, *(f[c] for c in columns[1:])) for f in outcome.findings]
    bulk_insert(session, "record_problem", columns, _batches(finding_rows))
    if lineage is not None and lineage.height:
        rows = lineage.select(pl.lit(submission_id, dtype=pl.Int64).alias("submission_id"), *_LINEAGE_SCHEMA)
        batches = (part.rows() for part in rows.iter_slices(_BATCH))
        bulk_insert(session, "record_lineage", ("submission_id", *_LINEAGE_SCHEMA), batches)
    children = sorted(outcome.children)
    names = keys.pseudonyms(children, outcome.named)
    sealed = [(submission_id, names[c], keys.seal_text(c)) for c in children]
    unique = list({row[1]: row for row in sealed}.values())
    bulk_insert(session, "record_child", ("submission_id", "pseudonym", "child_sealed"), _batches(unique))


def _batches(rows: list[tuple[Any, ...]]) -> Iterable[list[tuple[Any, ...]]]:
    return (rows[i : i + _BATCH] for i in range(0, len(rows), _BATCH))
