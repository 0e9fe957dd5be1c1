"""Reopening: a sign-off whose vouched-for figures an upload revises needs vouching for again.

The store's writer says what an upload's write displaced (each figure written with ``obs_id``, the version it
replaced, null for a new one) and knows nothing of sign-off; sign-off reads it here, in the same transaction.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlmodel import Session, col, select

from indicators.formula import collected_inputs
from indicators.models import Indicator
from indicators.periods import Period, parse_period
from indicators.published import PublishedFigure
from indicators.service import indicators_by_id
from indicators.store.models import Observation, Submission
from mappings.filling import LONGER, SHOWS_NEWEST
from mappings.models import FieldMapping, Return
from mappings.signoff.models import SignOff
from mappings.signoff.states import ACCEPTED, REOPENED, SIGNED_OFF, Actor, move


def reopen_for_upload(session: Session, submission_id: int, changed: pl.DataFrame) -> int:
    """Reopen the agency's signed-off (or accepted) returns an upload's written figures (``changed``, each with
    ``obs_id``, the version it replaced, null for a new figure) reach; return how many."""
    who = session.execute(
        select(Submission.agency_code, Submission.filename).where(col(Submission.id) == submission_id)
    ).first()
    if changed.is_empty() or who is None or not who[0]:
        return 0
    standing = list(
        session.execute(
            select(SignOff).where(SignOff.agency_code == who[0], col(SignOff.state).in_((SIGNED_OFF, ACCEPTED)))
        ).scalars()
    )
    revised = _revised(changed, standing)
    left = [r for r in standing if r.id not in {s.id for s in revised}]
    displaced = _displaced(session, changed, left, (who[0], submission_id))
    upload = f"upload {submission_id} ({who[1]})"
    for rows, cause in (
        (revised, f"{upload} changed its figures"),
        (displaced, f"{upload} gave the body's own figure where a publisher's was released"),
    ):
        for row in rows:
            row.reason = cause
            move(session, row, REOPENED, Actor(cause), detail=cause)
    return len(revised) + len(displaced)


def _revised(changed: pl.DataFrame, standing: list[SignOff]) -> list[SignOff]:
    """The sign-offs that vouched for a version a change replaces.

    A figure added since a sign-off is held back until signed off (``exports.release.gate``) and leaves the sign-off
    standing, as does a change to another agency's, or another return's, figures.
    """
    replaced = {int(i) for i in changed["obs_id"].drop_nulls().to_list()}
    return [row for row in standing if not replaced.isdisjoint(row.figure_ids)]


#: A stored figure's key, as ``changed`` holds it.
_KEY = ("indicator_id", "org_code", "period", "breakdown")


def _displaced(
    session: Session, changed: pl.DataFrame, standing: list[SignOff], upload: tuple[str, int]
) -> list[SignOff]:
    """The sign-offs of returns in which a figure the upload adds now fills a cell a publisher's figure filled when
    they were signed off.

    A return reading a publisher's figure where the body has none (``Return.from_publishers``) released that figure
    with the body's sign-off; the body's own figure, once it has one, wins the cell (``mappings.filling``), so the
    released value would be withdrawn while the sign-off still stood. Reopened, the sign-off asks for the body's
    vouching again, as a revision does, and the reminders of what it has not signed off name it.
    """
    added = changed.filter(pl.col("obs_id").is_null())
    reading = [r for r in standing if (ret := session.get(Return, r.return_id)) is not None and ret.from_publishers]
    if added.is_empty() or not reading:
        return []
    indicators = indicators_by_id(session)
    new = [(str(i), str(o), str(p), str(b or "")) for i, o, p, b in added.select(*_KEY).iter_rows()]
    found = []
    for row in reading:
        ret = session.get(Return, row.return_id)
        assert ret is not None
        period = parse_period(row.period)
        read = _read_from_publishers(session, ret, indicators)
        mine = [k for k in new if k[0] in read and _reaches(k[2], period, indicators[k[0]].period_type)]
        if _publisher_filled(session, ret, mine, period, upload, indicators):
            found.append(row)
    return found


def _read_from_publishers(session: Session, ret: Return, indicators: dict[str, Indicator]) -> set[str]:
    """The collected indicators the return's fields read from publishers where the body has no figure."""
    fields = session.execute(
        select(FieldMapping).where(FieldMapping.return_id == ret.id, col(FieldMapping.from_publishers))
    ).scalars()
    return {t for f in fields for t in collected_inputs(indicators, f.indicator_id)}


def _reaches(code: str, period: Period, period_type: str) -> bool:
    """Whether a figure of period ``code`` fills a cell of a return of ``period``: within it, or, where the return
    shows an item's newest figure, of the item's longer period ended by its end."""
    figure = parse_period(code)
    if period.contains(figure):
        return True
    return period.type in SHOWS_NEWEST and period_type in LONGER and figure.end <= period.end


def _publisher_filled(
    session: Session,
    ret: Return,
    keys: list[tuple[str, str, str, str]],
    period: Period,
    upload: tuple[str, int],
    indicators: dict[str, Indicator],
) -> bool:
    """Whether, for a cell of one of the new figures, a publisher the return reads had a figure reaching the return's
    period while the body had none of its own before this upload (so the publisher's filled it)."""
    if not keys:
        return False
    wanted = {(i, o, b) for i, o, _, b in keys}
    ids, orgs = sorted({k[0] for k in keys}), sorted({k[1] for k in keys})

    def reaching(rows: Any) -> set[tuple[str, str, str]]:
        return {
            (str(i), str(o), str(b or ""))
            for i, o, p, b in rows
            if (str(i), str(o), str(b or "")) in wanted and _reaches(str(p), period, indicators[str(i)].period_type)
        }

    pub = PublishedFigure
    theirs = reaching(
        session.execute(
            select(pub.indicator_id, pub.org_code, pub.period, pub.breakdown).where(
                col(pub.is_current),
                col(pub.publisher).in_(list(ret.from_publishers)),
                col(pub.indicator_id).in_(ids),
                col(pub.org_code).in_(orgs),
            )
        ).all()
    )
    if not theirs:
        return False
    obs = Observation
    own = reaching(
        session.execute(
            select(obs.indicator_id, obs.org_code, obs.period, obs.breakdown)
            .join(Submission, col(Submission.id) == col(obs.submission_id))
            .where(
                col(obs.is_current),
                col(obs.indicator_id).in_(ids),
                col(obs.org_code).in_(orgs),
                Submission.agency_code == upload[0],
                col(obs.submission_id) != upload[1],
            )
        ).all()
    )
    # Where another figure of the body's own reached the period before this upload, no publisher's filled the cell.
    return bool(theirs - own)
