"""What the service answers about agencies and uploads, for the API's routes and the pages alike.

An agency as the public sees it, an upload's summary and report (its first problems, with links to the rest),
its queried figures, and a page of uploads or figures: each read here once, so a route and a page that show
the same thing show it from the same code.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlmodel import Session, col, select

from collectors.figures import service as collect
from collectors.figures.report import build_report
from collectors.problems import SHOWN, first_problems
from collectors.queries import list_held
from collectors.schemas import (
    AgencyPublic,
    FigurePublic,
    ProblemPublic,
    QueriedFigure,
    SubmissionReport,
    SubmissionSummary,
)
from indicators import service as indicators
from indicators.periods import parse_period
from indicators.store.models import Observation, Submission
from mappings.agencies import get_agency
from mappings.models import Agency, AgencyIndicator, AgencyOrg, AgencyReturn
from onereturn.settings import Settings


def agency_public(session: Session, agency: Agency) -> AgencyPublic:
    """One agency with its org units, returns and the indicators it is the designated source of."""
    code = agency.code

    def values(column: Any, model: Any) -> list[str]:
        return list(session.execute(select(column).where(model.agency_code == code).order_by(column)).scalars())

    return AgencyPublic(
        code=code,
        name=agency.name,
        body_type=agency.body_type,
        orgs=values(AgencyOrg.org_code, AgencyOrg),
        returns=values(AgencyReturn.return_id, AgencyReturn),
        indicators=values(AgencyIndicator.indicator_id, AgencyIndicator),
        published=str((agency.definition or {}).get("published", "")),
    )


def agencies(session: Session, own: str | None) -> list[AgencyPublic]:
    """Every agency by code, or only ``own`` (an agency sees only itself)."""
    stmt = select(Agency).order_by(col(Agency.code))
    if own is not None:
        stmt = stmt.where(Agency.code == own)
    return [agency_public(session, a) for a in session.execute(stmt).scalars()]


def agency(session: Session, code: str) -> AgencyPublic:
    """One agency by code (NotFound when there is none)."""
    return agency_public(session, get_agency(session, code))


def summary(sub: Submission, duplicate: bool = False) -> dict[str, Any]:
    """An upload's status and counts, as the API answers them."""
    return SubmissionSummary.model_validate(sub.model_dump() | {"duplicate": duplicate}).model_dump()


def report(
    sub: Submission | None, problems: pl.DataFrame, *, total: int | None = None, duplicate: bool = False, **extra: Any
) -> SubmissionReport:
    """An upload's report: its summary (or ``extra`` for a dry run) and its first problems, with links to the rest."""
    base = summary(sub, duplicate) if sub is not None else extra
    total = problems.height if total is None else total
    problems = problems.head(SHOWN)
    links = (
        {}
        if sub is None
        else {
            "self": f"/api/submissions/{sub.id}",
            "report_csv": f"/api/submissions/{sub.id}/report.csv",
            "report_xlsx": f"/api/submissions/{sub.id}/report.xlsx",
        }
    )
    return SubmissionReport(
        **base,
        problems=[ProblemPublic(**p) for p in problems.to_dicts()],
        problem_count=total,
        problems_truncated=total > problems.height,
        links=links,
    )


def stored_report(
    session: Session, submission_id: int, *, own: str | None, duplicate: bool = False
) -> SubmissionReport:
    """The report of an upload the caller may see (``own``: an agency's code, None for any)."""
    sub = collect.get_submission(session, submission_id, agency_code=own)
    problems, total = first_problems(session, submission_id)
    return report(sub, problems, total=total, duplicate=duplicate)


def report_workbook(session: Session, settings: Settings, submission_id: int, *, own: str | None) -> bytes:
    """The upload the caller may see as a workbook, every problem cell highlighted and commented."""
    sub = collect.get_submission(session, submission_id, agency_code=own)
    assert sub.id is not None
    return build_report(session, collect.raw_table_of(session.get_bind(), sub, settings), sub.id)


def submissions(session: Session, *, own: str | None, limit: int, offset: int) -> tuple[list[SubmissionSummary], int]:
    """One page of uploads, newest first (``own``: an agency's only), and how many there are in all."""
    rows, total = collect.list_submissions(session, agency_code=own, limit=limit, offset=offset)
    return [SubmissionSummary(**summary(r)) for r in rows], total


def queried(session: Session, submission_id: int) -> list[QueriedFigure]:
    """The figures an upload's queries hold back, open or answered, each with the queries raised on it."""
    problems = collect.submission_problems(session, submission_id).filter(pl.col("severity") == "query")
    out = []
    for h in list_held(session, submission_id):
        assert h.id is not None
        raised = [ProblemPublic(**p) for p in problems.filter(pl.col("row") == h.file_row).to_dicts()]
        out.append(
            QueriedFigure(
                id=h.id,
                row=h.file_row,
                indicator=h.indicator_id,
                org=h.org_code,
                period=h.period,
                breakdown=h.breakdown,
                value=h.value,
                numerator=h.numerator,
                denominator=h.denominator,
                symbol=h.symbol,
                state=h.state,
                note=h.note,
                answered_by=h.answered_by,
                answered_at=h.answered_at,
                queries=raised,
            )
        )
    return out


def figures(
    session: Session, *, period: str | None, limit: int, offset: int, **filters: Any
) -> tuple[list[FigurePublic], int]:
    """One page of stored figures with their provenance (``period`` in any spelling), and how many match in all."""
    rows, total = indicators.list_figures(
        session, period=parse_period(period).code if period else None, limit=limit, offset=offset, **filters
    )
    return [figure_public(o, sender) for o, sender in rows], total


def figure_public(o: Observation, sender: str | None) -> FigurePublic:
    """One stored figure as the API answers it, with the agency that sent it."""
    return FigurePublic(
        indicator=o.indicator_id,
        org=o.org_code,
        period=o.period,
        breakdown=o.breakdown,
        value=o.value,
        numerator=o.numerator,
        denominator=o.denominator,
        symbol=o.symbol,
        flag=o.flag,
        status=o.status,
        note=o.note,
        version=o.version,
        is_current=o.is_current,
        submission_id=o.submission_id,
        agency_code=sender,
        file_row=o.file_row,
        recorded_at=o.recorded_at,
    )
