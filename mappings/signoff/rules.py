"""What stands in the way of a sign-off (errors in the latest upload, open queries), and which periods figures reach."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from indicators.periods import Period, parse_period
from indicators.store.models import RECORDS_KIND, HeldFigure, Observation, Submission
from mappings.child_level import return_of as child_return_of
from mappings.models import Return
from mappings.revisions import feeds
from mappings.signoff.states import return_of
from onereturn.errors import InvalidInput
from onereturn.memo import within_transaction


def _records_for(sub: Submission, return_id: str, start: date, end: date) -> bool:
    """Whether a record-level upload is for the return and overlaps the period: its return and collection year.

    An upload refused before its files were read names no return, so it is for none: a rejected file of one
    record-level return never stands in the way of another.
    """
    if child_return_of(sub.source_format) != return_id:
        return False
    return overlaps(f"FY{sub.collection_year.strip()}", start, end)


def _errors_reach(sub: Submission, return_id: str, span: Period, reach: dict[str, frozenset[str]]) -> bool:
    """Whether a figures upload's rows in error were for the return and period: their indicator reaches the
    return and their period overlaps it."""
    return any(
        return_id in reach.get(indicator, ()) and overlaps(period, span.start, span.end)
        for indicator, period in sub.error_scope or ()
    )


def blockers(session: Session, agency_code: str, return_id: str, period: str) -> list[dict[str, Any]]:
    """What stops an agency signing off a return for a period: errors in its latest upload for them, and open queries.

    An upload is for a return and period as what it carried says: a record-level upload for its return and
    collection year; a figures upload for each return its figures (stored or held) reach, in their periods, and
    for each its rows in error were for (their indicator and period). Errors stand in the way only of those:
    a file refused whole (blank, columns missing, unreadable) is for nothing, so it neither blocks nor clears;
    an upload made before the rows in error were kept counts its errors for every return of its figures'
    periods. Only the latest upload for the return and period counts, so an upload for another return or
    period neither blocks nor clears it. Open queries count where their figure reaches the return and overlaps
    the period, whichever upload came later.
    """
    ret = return_of(session, return_id)
    span = parse_period(period, ret.period_type)  # type: ignore[arg-type]
    uploads, carried, open_rows = _agency_uploads(session, agency_code)
    reach, _context = feeds(session)
    relevant: set[int] = set()
    overlapping: set[int] = set()
    for submission_id, indicator_id, figure_period in carried:
        if overlaps(figure_period, span.start, span.end):
            overlapping.add(submission_id)
            if return_id in reach.get(indicator_id, ()):
                relevant.add(submission_id)
    counted: set[int] = set()
    erring: set[int] = set()
    for i, sub in uploads.items():
        if sub.kind == RECORDS_KIND:
            if _records_for(sub, return_id, span.start, span.end):
                counted.add(i)
                if sub.error_count:
                    erring.add(i)
            continue
        if sub.error_scope is None:
            errs = bool(sub.error_count) and i in overlapping
        else:
            errs = bool(sub.error_count) and _errors_reach(sub, return_id, span, reach)
        if errs:
            erring.add(i)
        if i in relevant or errs:
            counted.add(i)
    found: list[dict[str, Any]] = []
    latest = uploads[max(counted)] if counted else None
    if latest is not None and latest.id in erring:
        found.append(
            {
                "type": "errors",
                "loc": ["submission", latest.id],
                "input": latest.error_count,
                "msg": f"Upload {latest.id} ({latest.filename}) has {latest.error_count} error(s): correct them and upload again",
            }
        )
    for held_id, indicator_id, held_period, submission_id in open_rows:
        if return_id not in reach.get(indicator_id, ()) or not overlaps(held_period, span.start, span.end):
            continue
        found.append(
            {
                "type": "query",
                "loc": ["submission", submission_id, "queries", held_id],
                "input": indicator_id,
                "msg": f"The query on {indicator_id} for {held_period} (upload {submission_id}) is not answered",
            }
        )
    return found


def _agency_uploads(
    session: Session, agency_code: str
) -> tuple[dict[int, Submission], list[tuple[int, str, str]], list[tuple[int, str, str, int]]]:
    """An agency's uploads, what each carried (submission, indicator, period: figures stored or held) and its open
    queries: read once in a transaction that only reads, where a queue asks ``blockers`` for each of its rows."""

    def read() -> tuple[dict[int, Submission], list[tuple[int, str, str]], list[tuple[int, str, str, int]]]:
        stmt = select(Submission).where(Submission.agency_code == agency_code, Submission.mode != "dry_run")
        uploads = {int(sub.id): sub for sub in session.execute(stmt).scalars() if sub.id is not None}
        carried = [
            select(Observation.submission_id, Observation.indicator_id, Observation.period)
            .join(Submission, col(Submission.id) == col(Observation.submission_id))
            .where(Submission.agency_code == agency_code, Submission.kind != RECORDS_KIND)
            .distinct(),
            select(HeldFigure.submission_id, HeldFigure.indicator_id, HeldFigure.period)
            .join(Submission, col(Submission.id) == col(HeldFigure.submission_id))
            .where(Submission.agency_code == agency_code, Submission.kind != RECORDS_KIND)
            .distinct(),
        ]
        rows = [(int(i), str(ind), str(p)) for query in carried for i, ind, p in session.execute(query).all()]
        open_rows = session.execute(
            select(HeldFigure.id, HeldFigure.indicator_id, HeldFigure.period, HeldFigure.submission_id)
            .join(Submission, col(Submission.id) == col(HeldFigure.submission_id))
            .where(Submission.agency_code == agency_code, HeldFigure.state == "open")
        ).all()
        return uploads, rows, [(int(h), str(ind), str(p), int(sid)) for h, ind, p, sid in open_rows]

    return within_transaction(session, ("signoff.blockers", agency_code), read)


def overlaps(code: str, start: date, end: date) -> bool:
    try:
        span = parse_period(code)
    except InvalidInput:
        return False
    return span.start <= end and span.end >= start


def periods_with_figures(session: Session, ret: Return, *, uploaded: bool = False) -> list[Period]:
    """The periods of a return that stored figures reach, in order: those a figure of one of its indicators overlaps.

    ``uploaded``: only figures an agency uploaded (not reference figures loaded with the catalogue).
    """
    from mappings.deadlines import periods_between

    reach, _context = feeds(session)
    indicators = [i for i, returns in reach.items() if ret.id in returns]
    if not indicators:
        return []
    stmt = select(Observation.period).where(col(Observation.indicator_id).in_(indicators), col(Observation.is_current))
    if uploaded:
        stmt = stmt.where(col(Observation.submission_id).is_not(None))
    codes = session.execute(stmt.distinct()).scalars()
    spans = []
    for code in codes:
        try:
            span = parse_period(code)
        except InvalidInput:
            continue
        spans.append((span.start, span.end))
    if not spans:
        return []
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    # Up to a year past the last figure: a snapshot taken on 31 March falls in a return whose period ends later.
    candidates = periods_between(ret.period_type, first, date(last.year + 1, last.month, min(last.day, 28)))
    return [p for p in candidates if any(s <= p.end and e >= p.start for s, e in spans)]
