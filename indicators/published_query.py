"""Read published figures back: every current figure a publisher gave, and each cell where a body's own figure
and the publisher's differ."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from indicators.periods import Period, parse_period
from indicators.published import PublishedFigure, PublishedRelease
from indicators.store.figures import KEY_TYPES, NUMBER_TYPES
from indicators.store.models import PUBLISHED_KIND, HeldFigure, Observation, Submission, SubmissionProblem

#: A published figure's key and values, as the publisher's file gives them and as they are stored.
FIGURE_VALUES = {
    **KEY_TYPES,
    **NUMBER_TYPES,
    "symbol": pl.String,
    "flag": pl.String,
    "status": pl.String,
}

#: The columns ``published_figures`` gives, one row per current published figure.
PUBLISHED_SCHEMA = {
    **FIGURE_VALUES,
    "publisher": pl.String,
    "source_id": pl.String,
    "release_id": pl.Int64,
    "release_version": pl.String,
    "file_row": pl.Int64,
    "stored_as": pl.String,
}


def published_figures(
    session: Session,
    *,
    indicator_ids: list[str] | None = None,
    org_codes: list[str] | None = None,
    period: str | None = None,
    publisher: str | None = None,
) -> pl.DataFrame:
    """Every current published figure (PUBLISHED_SCHEMA), filtered by indicator, org, period and publisher."""
    where: list[Any] = [col(PublishedFigure.is_current)]
    if indicator_ids is not None:
        where.append(col(PublishedFigure.indicator_id).in_(indicator_ids))
    if org_codes is not None:
        where.append(col(PublishedFigure.org_code).in_(org_codes))
    if period is not None:
        where.append(col(PublishedFigure.period) == period)
    if publisher is not None:
        where.append(col(PublishedFigure.publisher) == publisher)
    pub = PublishedFigure
    rows = session.execute(
        sa_select(
            *_figure_values(),
            col(pub.publisher),
            col(PublishedRelease.source_id),
            col(pub.release_id),
            col(PublishedRelease.version),
            col(pub.file_row),
            col(pub.stored_as),
        )
        .join(PublishedRelease, col(PublishedRelease.id) == col(PublishedFigure.release_id))
        .where(*where)
        .order_by(col(pub.indicator_id), col(pub.period), col(pub.org_code))
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=PUBLISHED_SCHEMA, orient="row")


#: A published total as a comparison reads it: indicator, period, org, value, symbol, numerator and denominator.
PublishedTotal = tuple[str, str, str, float | None, str | None, float | None, float | None]


def published_totals(
    session: Session, indicator_ids: list[str], periods: list[str] | None = None
) -> list[PublishedTotal]:
    """The current published figures of the indicators with no breakdown (of ``periods`` only, when given), in
    indicator, period and org order, as :func:`published_figures` gives them (its numbers as floats): one read
    for many indicators."""
    if not indicator_ids:
        return []
    pub = PublishedFigure
    numbers = (col(pub.value), col(pub.symbol), col(pub.numerator), col(pub.denominator))
    where = [col(pub.is_current), col(pub.indicator_id).in_(indicator_ids), col(pub.breakdown) == ""]
    if periods is not None:
        where.append(col(pub.period).in_(periods))
    rows = session.execute(
        sa_select(col(pub.indicator_id), col(pub.period), col(pub.org_code), *numbers)
        .join(PublishedRelease, col(PublishedRelease.id) == col(pub.release_id))
        .where(*where)
        .order_by(col(pub.indicator_id), col(pub.period), col(pub.org_code), col(pub.id))
    ).all()
    return [
        (ind, period, org, _number(value), symbol, _number(num), _number(den))
        for ind, period, org, value, symbol, num, den in rows
    ]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


#: A publisher's current figure as a new release of the same indicators is checked against it: its key and values,
#: and the id and version of its row.
CURRENT_PUBLISHED = {**FIGURE_VALUES, "id": pl.Int64, "version": pl.Int64}


def _figure_values() -> list[Any]:
    """The published figure's columns of FIGURE_VALUES, in its order."""
    return [col(getattr(PublishedFigure, name)) for name in FIGURE_VALUES]


def current_published(session: Session, *, publisher: str, indicator_ids: list[str]) -> pl.DataFrame:
    """The publisher's current figures of the given indicators (CURRENT_PUBLISHED), in the store's order."""
    if not indicator_ids:
        return pl.DataFrame(schema=CURRENT_PUBLISHED)
    pub = PublishedFigure
    found = session.execute(
        sa_select(*_figure_values(), col(pub.id), col(pub.version)).where(
            col(pub.publisher) == publisher, col(pub.is_current), col(pub.indicator_id).in_(indicator_ids)
        )
    ).all()
    return pl.DataFrame([tuple(r) for r in found], schema=CURRENT_PUBLISHED, orient="row")


class Difference(BaseModel):
    """One cell where a body's own figure and the publisher's differ: both values and both sources."""

    model_config = ConfigDict(frozen=True)

    indicator_id: str
    org_code: str
    period: str
    breakdown: str
    own_value: float | None
    own_symbol: str | None
    own_agency: str
    own_submission_id: int | None
    own_file: str
    own_file_row: int | None
    published_value: float | None
    published_symbol: str | None
    publisher: str
    source_id: str
    release_id: int
    release_version: str
    published_file_row: int
    #: How far the body's figure is from the publisher's (own minus published), when both are numbers.
    difference: float | None


def differences(
    session: Session,
    *,
    indicator_id: str | None = None,
    org_code: str | None = None,
    period: str | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> tuple[list[Difference], int]:
    """Cells where a publisher's figure sits beside another body's own and the two differ; with the total."""
    pub, obs = PublishedFigure, Observation
    differ = or_(
        and_(col(obs.value).is_(None), col(pub.value).is_not(None)),
        and_(col(obs.value).is_not(None), col(pub.value).is_(None)),
        col(obs.value) != col(pub.value),
        and_(col(obs.symbol).is_(None), col(pub.symbol).is_not(None)),
        and_(col(obs.symbol).is_not(None), col(pub.symbol).is_(None)),
        col(obs.symbol) != col(pub.symbol),
    )
    where: list[Any] = [col(pub.is_current), col(pub.stored_as) == "beside", differ]
    if indicator_id is not None:
        where.append(col(pub.indicator_id) == indicator_id)
    if org_code is not None:
        where.append(col(pub.org_code) == org_code)
    if period is not None:
        where.append(col(pub.period) == period)
    query = (
        sa_select(
            col(pub.indicator_id),
            col(pub.org_code),
            col(pub.period),
            col(pub.breakdown),
            col(obs.value),
            col(obs.symbol),
            col(Submission.agency_code),
            col(obs.submission_id),
            col(Submission.filename),
            col(obs.file_row),
            col(pub.value),
            col(pub.symbol),
            col(pub.publisher),
            col(PublishedRelease.source_id),
            col(pub.release_id),
            col(PublishedRelease.version),
            col(pub.file_row),
        )
        .join(
            obs,
            and_(
                col(obs.indicator_id) == col(pub.indicator_id),
                col(obs.period) == col(pub.period),
                col(obs.org_code) == col(pub.org_code),
                col(obs.breakdown) == col(pub.breakdown),
                col(obs.is_current),
            ),
        )
        .join(Submission, col(Submission.id) == col(obs.submission_id))
        .join(PublishedRelease, col(PublishedRelease.id) == col(pub.release_id))
        .where(*where)
    )
    total = int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())
    rows = session.execute(
        query.order_by(col(pub.indicator_id), col(pub.period), col(pub.org_code), col(pub.breakdown))
        .limit(limit)
        .offset(offset)
    ).all()
    return [_difference(r) for r in rows], total


def _difference(row: Any) -> Difference:
    named = dict(zip([n for n in Difference.model_fields if n != "difference"], row, strict=True))
    own, published = named["own_value"], named["published_value"]
    return Difference(**named, difference=None if own is None or published is None else own - published)


@dataclass
class PublisherBurden:
    """A publisher's figures for a period: from publishers, keyed by nobody."""

    publisher: str
    #: Current published figures whose period overlaps the period, in the store or beside a body's own.
    figures: int
    #: Of those, figures the store holds as the publisher's (it is their designated source).
    in_store: int
    #: Per return: the publisher's stored figures its fields read (directly, or as a rate's denominator).
    by_return: dict[str, int]


def publisher_burden(session: Session, period: Period, return_inputs: dict[str, set[str]]) -> list[PublisherBurden]:
    """Count each publisher's figures for ``period`` and, per return (``return_inputs``: the collected indicators
    each return's fields read), the stored ones it reads: figures keyed by nobody."""
    rows = session.execute(
        sa_select(
            col(PublishedFigure.publisher),
            col(PublishedFigure.indicator_id),
            col(PublishedFigure.period),
            col(PublishedFigure.stored_as),
        ).where(col(PublishedFigure.is_current))
    ).all()
    spans: dict[str, bool] = {}
    counts: dict[str, PublisherBurden] = {}
    for publisher, indicator, code, stored_as in rows:
        if code not in spans:
            span = parse_period(code)
            spans[code] = span.start <= period.end and span.end >= period.start
        if not spans[code]:
            continue
        entry = counts.setdefault(publisher, PublisherBurden(publisher, 0, 0, {}))
        entry.figures += 1
        if stored_as != "store":
            continue
        entry.in_store += 1
        for return_id, inputs in return_inputs.items():
            if indicator in inputs:
                entry.by_return[return_id] = entry.by_return.get(return_id, 0) + 1
    return [counts[p] for p in sorted(counts)]


def figure_label(indicator_id: str, org_code: str, period: str, breakdown: str) -> str:
    """How a query on a publisher's figure names it: indicator, area, period and breakdown (``total`` for none)."""
    return f"{indicator_id} for {org_code}, {period}, {breakdown or 'total'}"


class HeldPublished(BaseModel):
    """A publisher's figure a query holds (a jump from its previous release) until an officer confirms it."""

    model_config = ConfigDict(frozen=True)

    id: int
    release_id: int
    source_id: str
    filename: str
    file_row: int
    indicator_id: str
    org_code: str
    period: str
    breakdown: str
    value: float | None
    symbol: str | None
    #: The publisher's last accepted figure for the same cell, which the held one would replace (while open).
    last_value: float | None = None
    state: str
    rule: str
    message: str
    note: str | None
    answered_by: str | None


def held_published(
    session: Session,
    *,
    open_only: bool = True,
    limit: int = 100,
    offset: int = 0,
    release_id: int | None = None,
) -> tuple[list[HeldPublished], int]:
    """The publishers' figures held by a query, oldest release first, each with the query that holds it
    (``release_id``: one release's only)."""
    where: list[Any] = [col(Submission.kind) == PUBLISHED_KIND]
    if open_only:
        where.append(col(HeldFigure.state) == "open")
    if release_id is not None:
        where.append(col(PublishedRelease.id) == release_id)
    base = (
        sa_select(
            HeldFigure,
            col(PublishedRelease.id),
            col(PublishedRelease.source_id),
            col(PublishedRelease.filename),
            col(PublishedRelease.publisher),
        )
        .join(Submission, col(Submission.id) == col(HeldFigure.submission_id))
        .join(PublishedRelease, col(PublishedRelease.submission_id) == col(Submission.id))
        .where(*where)
    )
    total = int(session.execute(sa_select(func.count()).select_from(base.subquery())).scalar_one())
    rows = session.execute(base.order_by(col(HeldFigure.id)).limit(limit).offset(offset)).all()
    out = []
    for held, release, source_id, filename, publisher in rows:
        problem = _query_of(session, held)
        out.append(
            HeldPublished(
                id=held.id,
                release_id=release,
                source_id=source_id,
                filename=filename,
                file_row=held.file_row,
                indicator_id=held.indicator_id,
                org_code=held.org_code,
                period=held.period,
                breakdown=held.breakdown,
                value=held.value,
                symbol=held.symbol,
                last_value=_last_accepted(session, publisher, held) if held.state == "open" else None,
                state=held.state,
                rule=problem.rule if problem else "",
                message=problem.message if problem else "",
                note=held.note,
                answered_by=held.answered_by,
            )
        )
    return out, total


def _query_of(session: Session, held: HeldFigure) -> SubmissionProblem | None:
    """The query holding this very figure: its file row may give many figures, each query names its own."""
    found = list(
        session.execute(
            select(SubmissionProblem).where(
                col(SubmissionProblem.submission_id) == held.submission_id,
                col(SubmissionProblem.row) == held.file_row,
                col(SubmissionProblem.severity) == "query",
            )
        ).scalars()
    )
    label = figure_label(held.indicator_id, held.org_code, held.period, held.breakdown) + ":"
    own = [p for p in found if p.message.startswith(label)]
    # A release read before queries named their figure: its row's query is this figure's only when it is alone.
    return own[0] if own else (found[0] if len(found) == 1 else None)


def _last_accepted(session: Session, publisher: str, held: HeldFigure) -> float | None:
    """The publisher's current figure for the held figure's cell."""
    return session.execute(
        select(PublishedFigure.value).where(
            col(PublishedFigure.publisher) == publisher,
            col(PublishedFigure.indicator_id) == held.indicator_id,
            col(PublishedFigure.org_code) == held.org_code,
            col(PublishedFigure.period) == held.period,
            col(PublishedFigure.breakdown) == held.breakdown,
            col(PublishedFigure.is_current),
        )
    ).scalar()


def publishers_giving(session: Session) -> dict[str, set[str]]:
    """The publishers whose current releases give each indicator (for any area or period)."""
    given: dict[str, set[str]] = {}
    for publisher, indicator in session.execute(
        sa_select(col(PublishedFigure.publisher), col(PublishedFigure.indicator_id))
        .where(col(PublishedFigure.is_current))
        .distinct()
    ).all():
        given.setdefault(str(indicator), set()).add(str(publisher))
    return given
