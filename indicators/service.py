"""Read the catalogue from the database."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from indicators.catalogue import IndicatorCatalogue
from indicators.models import CatalogueRule, CatalogueVersion, Code, CodeList, Indicator
from indicators.periods import utc
from indicators.rules import Rule, bound_indicators, to_rule
from indicators.schemas import CodeListPublic, CodePublic, IndicatorPublic, RulePublic
from indicators.store.models import Observation, Submission
from onereturn.errors import NotFound
from onereturn.listing import LIKE_ESCAPE, containing
from onereturn.readings import Kept, as_text

#: The catalogue's indicators, as read from the rows of the indicator table (onereturn/readings.py says why).
_INDICATORS: Kept[dict[str, Indicator]] = Kept()


def indicators_by_id(session: Session) -> dict[str, Indicator]:
    """Every stored indicator by id, in the store's order: a dict of the caller's own, of indicators shared with
    other callers (read only; none belongs to a session) while the indicator table reads the same."""
    reading = as_text(session, *Indicator.__table__.columns)  # type: ignore[attr-defined]
    return dict(_INDICATORS.get(reading, lambda: _read_indicators(session)))


def _read_indicators(session: Session) -> dict[str, Indicator]:
    # Read by a session of their own on the caller's connection (the same transaction), then let go of: shared
    # objects must belong to no session, which a commit would expire or a close detach half-read.
    with Session(bind=session.connection()) as reading:
        found = {i.id: i for i in reading.execute(select(Indicator)).scalars()}
        reading.expunge_all()
    return found


def to_public(row: Indicator) -> IndicatorPublic:
    """Render a stored indicator for the API."""
    values = {name: getattr(row, name) for name in IndicatorPublic.model_fields if name != "derived"}
    return IndicatorPublic(**values, derived=row.is_derived)


def list_indicators(
    session: Session,
    *,
    text: str | None = None,
    statistic: str | None = None,
    status: str | None = None,
    ids: Collection[str] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[Indicator], int]:
    """Return one page of indicators matching the filters, and how many match in all."""
    stmt = select(Indicator)
    if text:
        like = containing(text)
        stmt = stmt.where(
            or_(
                func.lower(col(Indicator.id)).like(like, escape=LIKE_ESCAPE),
                func.lower(col(Indicator.title)).like(like, escape=LIKE_ESCAPE),
                func.lower(col(Indicator.plain_title)).like(like, escape=LIKE_ESCAPE),
                func.lower(col(Indicator.definition)).like(like, escape=LIKE_ESCAPE),
            )
        )
    if statistic:
        stmt = stmt.where(Indicator.statistic == statistic)
    if status:
        stmt = stmt.where(Indicator.status == status)
    if ids is not None:
        stmt = stmt.where(col(Indicator.id).in_(list(ids)))
    total = int(session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    rows = session.execute(stmt.order_by(Indicator.id).limit(limit).offset(offset)).scalars().all()
    return list(rows), total


def get_indicator(session: Session, indicator_id: str) -> Indicator:
    """Return one indicator, or raise NotFound naming it."""
    row = session.get(Indicator, indicator_id)
    if row is None:
        raise NotFound(f"Indicator {indicator_id!r} is not in the catalogue")
    return row


def get_codelists(session: Session, ids: Collection[str] | None = None) -> list[CodeListPublic]:
    """Return code lists with their codes, all of them or those named."""
    stmt = select(CodeList).order_by(CodeList.id)
    if ids is not None:
        stmt = stmt.where(col(CodeList.id).in_(list(ids)))
    lists = session.execute(stmt).scalars().all()
    codes = session.execute(select(Code).order_by(col(Code.codelist_id), col(Code.position))).scalars().all()
    by_list: dict[str, list[CodePublic]] = {}
    for code in codes:
        by_list.setdefault(code.codelist_id, []).append(CodePublic(code=code.code, label=code.label))
    return [
        CodeListPublic(id=c.id, title=c.title, source=c.source, sources=c.sources, codes=by_list.get(c.id, []))
        for c in lists
    ]


def list_figures(
    session: Session,
    *,
    indicator: str | None = None,
    org: str | None = None,
    period: str | None = None,
    breakdown: str | None = None,
    history: bool = False,
    orgs_allowed: Collection[str] | None = None,
    updated_after: datetime | None = None,
    as_of: datetime | None = None,
    agency: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[tuple[Observation, str | None]], int]:
    """Return stored figures (current only, or every version) with the agency that sent each.

    ``updated_after`` keeps the versions recorded after an instant; ``as_of`` shows the store as it
    stood at an instant: the version of each figure current then (every version made by then, with history).
    ``agency`` keeps only the figures that agency uploaded.
    """
    stmt = select(Observation, Submission.agency_code).join(
        Submission, col(Submission.id) == col(Observation.submission_id), isouter=True
    )
    if as_of is not None:
        stmt = stmt.where(col(Observation.recorded_at) <= utc(as_of))
        if not history:
            stmt = stmt.where(~_newer_version_by(utc(as_of)))
    elif not history:
        stmt = stmt.where(col(Observation.is_current))
    if updated_after is not None:
        stmt = stmt.where(col(Observation.recorded_at) > utc(updated_after))
    if indicator:
        stmt = stmt.where(Observation.indicator_id == indicator)
    if org:
        stmt = stmt.where(Observation.org_code == org)
    if period:
        stmt = stmt.where(Observation.period == period)
    if breakdown is not None:
        stmt = stmt.where(Observation.breakdown == breakdown)
    if orgs_allowed is not None:
        stmt = stmt.where(col(Observation.org_code).in_(list(orgs_allowed)))
    if agency is not None:
        stmt = stmt.where(Submission.agency_code == agency)
    total = int(session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    # The figure key's order, so a page is read off its index rather than sorting every match.
    ordered = stmt.order_by(
        col(Observation.indicator_id),
        col(Observation.period),
        col(Observation.org_code),
        col(Observation.breakdown),
        col(Observation.version),
    )
    rows = session.execute(ordered.limit(limit).offset(offset)).all()
    return [(obs, agency) for obs, agency in rows], total


def _newer_version_by(instant: datetime) -> ColumnElement[bool]:
    """Say whether a later version of the same figure had been recorded by ``instant``."""
    later = aliased(Observation)
    return exists().where(
        and_(
            col(later.indicator_id) == col(Observation.indicator_id),
            col(later.org_code) == col(Observation.org_code),
            col(later.period) == col(Observation.period),
            col(later.breakdown) == col(Observation.breakdown),
            col(later.version) > col(Observation.version),
            col(later.recorded_at) <= instant,
        )
    )


def store_rules(session: Session, cat: IndicatorCatalogue) -> None:
    """Write the catalogue's rules to the database (the caller has cleared the old ones)."""
    for position, (rule_id, loc) in enumerate(cat.rules.items()):
        rule = to_rule(loc.spec)
        session.add(
            CatalogueRule(
                id=rule_id,
                kind=rule.kind,
                severity=rule.severity,
                message=rule.message,
                source=rule.source,
                params=rule.params,
                position=position,
                file=loc.file,
                line=loc.line,
            )
        )


def load_rules(session: Session) -> list[Rule]:
    """Read every stored rule, in catalogue order."""
    rows = session.execute(select(CatalogueRule).order_by(col(CatalogueRule.position))).scalars()
    return [Rule(r.id, r.kind, r.severity, r.message, r.source, dict(r.params)) for r in rows]


def list_rules(
    session: Session, *, indicator: str | None = None, severity: str | None = None, kind: str | None = None
) -> list[RulePublic]:
    """List the plausibility rules with the indicators each checks, optionally only those about one indicator."""
    indicators = indicators_by_id(session)
    out = []
    for rule in load_rules(session):
        bound = bound_indicators(rule, indicators)
        if indicator is not None and indicator not in bound and rule.param("indicator") != indicator:
            continue
        if severity is not None and rule.severity != severity:
            continue
        if kind is not None and rule.kind != kind:
            continue
        out.append(
            RulePublic(
                id=rule.id,
                kind=rule.kind,
                severity=rule.severity,
                message=rule.message,
                source=rule.source,
                params=rule.params,
                indicators=bound,
            )
        )
    return out


def current_catalogue_version(session: Session) -> CatalogueVersion | None:
    """Return the latest catalogue load, if any."""
    stmt = select(CatalogueVersion).order_by(col(CatalogueVersion.id).desc()).limit(1)
    return session.execute(stmt).scalars().first()
