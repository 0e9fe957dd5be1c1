"""What an agency owes for a period: each figure (indicator, org unit, period, breakdown) its designated indicators
and org units ask of it, the periods of a collection period it reports, and the indicators out of force.

Read from the agencies and the catalogue as stored (``mappings.agencies`` loads them), and kept until either changes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from indicators.models import CatalogueVersion, Code, Indicator
from indicators.periods import Period, PeriodType, months_in, parse_period, quarter, snapshot
from indicators.service import indicators_by_id
from mappings.agencies import get_agency
from mappings.models import (
    Agency,
    AgencyIndicator,
    AgencyOrg,
    AgencyReturn,
    FieldMapping,
    Return,
)
from onereturn.errors import InvalidInput
from onereturn.memo import within_transaction


@dataclass(frozen=True, order=True)
class Obligation:
    """One figure an agency owes: indicator, org unit, period and breakdown key."""

    indicator_id: str
    org_code: str
    period: str
    breakdown: str


def owed_periods(period_type: PeriodType, within: Period) -> list[Period]:
    """List the periods of ``period_type`` an agency reports inside a collection period."""
    if period_type == "snapshot_date":
        return [snapshot(within.end)]
    if period_type == within.type:
        return [within]
    if period_type == "month":
        return months_in(within)
    if period_type == "quarter" and within.type == "financial_year":
        return [quarter(within.start.year, q) for q in range(1, 5)]
    return []


def breakdown_keys(dims: list[str], codes: dict[str, list[str]]) -> list[str]:
    """List the breakdown keys a template asks for: the total, then each code of each dimension alone."""
    keys = [""]
    for dim in sorted(dims):
        keys += [f"{dim}={code}" for code in codes.get(dim, [])]
    return keys


def _inputs(indicators: dict[str, Indicator], start: list[str]) -> set[str]:
    """Return every indicator the given ones are made from (formula terms, numerators, denominators), themselves included."""
    from indicators.formula import parse_formula, references

    seen: set[str] = set()
    stack = list(start)
    while stack:
        ind_id = stack.pop()
        if ind_id in seen or ind_id not in indicators:
            continue
        seen.add(ind_id)
        ind = indicators[ind_id]
        stack += [r for r in (ind.numerator, ind.denominator) if r]
        if ind.formula:
            stack += references(parse_formula(ind.formula))
    return seen


#: What each agency owes for each period, by the state of the definitions it is made from (see ``definitions_key``):
#: every page with deadlines asks it of every agency, and only a catalogue or an agency's change alters it.
_OWED: dict[tuple[Any, ...], tuple[Obligation, ...]] = {}
_OWED_KEPT = 4096
_owed_lock = threading.Lock()


def definitions_key(session: Session) -> tuple[Any, ...]:
    """What an agency's obligations are made from, read in one statement (once per transaction): the catalogue, the
    agencies and their links to orgs, indicators and returns."""

    def read() -> tuple[Any, ...]:
        parts: list[Any] = [
            columns(func.max(col(CatalogueVersion.id))).scalar_subquery(),
            columns(func.count()).select_from(Agency).scalar_subquery(),
            columns(func.max(col(Agency.updated_at))).scalar_subquery(),
        ]
        for link in (AgencyOrg, AgencyIndicator, AgencyReturn):
            # A link replaced by another (the same count) takes a new id, so the sum of the ids changes.
            parts += [
                columns(func.count(col(link.id))).scalar_subquery(),
                columns(func.coalesce(func.sum(col(link.id)), 0)).scalar_subquery(),
            ]
        row = session.execute(columns(*parts)).one()
        # The database too: two stores (a test's copies, or a service pointed at another) can reach the same counts.
        return (str(session.get_bind().engine.url), *tuple(row))

    return within_transaction(session, "definitions_key", read)


def catalogue_indicators(session: Session) -> dict[str, Indicator]:
    """Every indicator of the catalogue by id, read once per transaction."""
    return within_transaction(session, "catalogue_indicators", lambda: indicators_by_id(session))


def out_of_force_indicators(session: Session, agency_code: str, within: Period) -> set[str]:
    """Return the indicators an agency owes only for its returns that are not in force in the period."""
    from mappings.validity import in_force

    returns = (
        session.execute(
            select(Return)
            .join(AgencyReturn, col(AgencyReturn.return_id) == col(Return.id))
            .where(AgencyReturn.agency_code == agency_code)
        )
        .scalars()
        .all()
    )
    if all(in_force(r, within) for r in returns):
        return set()
    indicators = catalogue_indicators(session)

    def needs(ret_ids: list[str]) -> set[str]:
        if not ret_ids:
            return set()
        fields = session.execute(
            select(FieldMapping.indicator_id).where(col(FieldMapping.return_id).in_(ret_ids))
        ).scalars()
        return _inputs(indicators, list(fields))

    live = needs([r.id for r in returns if in_force(r, within)])
    ended = needs([r.id for r in returns if not in_force(r, within)])
    return ended - live


def obligations(session: Session, agency_code: str, period_text: str) -> list[Obligation]:
    """List every figure an agency owes for a collection period, in indicator, org, period order.

    Only returns in force in the period count: an indicator asked for only by a return that has
    ended (NHS Vital Signs after 2011) is not owed. Kept until the catalogue or an agency changes.
    """
    key = (*definitions_key(session), agency_code, period_text)
    with _owed_lock:
        kept = _OWED.get(key)
    if kept is not None:
        return list(kept)
    owed = _obligations(session, agency_code, period_text)
    with _owed_lock:
        if len(_OWED) >= _OWED_KEPT:
            _OWED.clear()
        _OWED[key] = tuple(owed)
    return owed


def _designated(session: Session, agency_code: str) -> tuple[list[Indicator], list[str], dict[str, list[str]]]:
    """An agency's indicators, org units and the codes of their breakdowns, the same for every period: read once
    per reading transaction (a calendar asks what each agency owes at every deadline)."""

    def read() -> tuple[list[Indicator], list[str], dict[str, list[str]]]:
        get_agency(session, agency_code)
        inds = list(
            session.execute(
                select(Indicator)
                .join(AgencyIndicator, col(AgencyIndicator.indicator_id) == col(Indicator.id))
                .where(AgencyIndicator.agency_code == agency_code)
            ).scalars()
        )
        orgs = list(
            session.execute(
                select(AgencyOrg.org_code).where(AgencyOrg.agency_code == agency_code).order_by(col(AgencyOrg.org_code))
            ).scalars()
        )
        dims = {d for i in inds for d in i.breakdowns}
        codes: dict[str, list[str]] = {}
        if dims:
            for code in session.execute(
                select(Code).where(col(Code.codelist_id).in_(dims)).order_by(col(Code.position))
            ).scalars():
                codes.setdefault(code.codelist_id, []).append(code.code)
        return inds, orgs, codes

    return within_transaction(session, ("agency_designated", agency_code), read)


def _obligations(session: Session, agency_code: str, period_text: str) -> list[Obligation]:
    inds, orgs, codes = _designated(session, agency_code)
    within = parse_period(period_text)
    ended = out_of_force_indicators(session, agency_code, within)
    out = []
    for ind in inds:
        if ind.status == "abolished" or ind.id in ended:
            continue
        periods = owed_periods(ind.period_type, within)  # type: ignore[arg-type]
        for org in orgs:
            for period in periods:
                out += [Obligation(ind.id, org, period.code, key) for key in breakdown_keys(ind.breakdowns, codes)]
    if not out and not inds:
        raise InvalidInput(f"Agency {agency_code!r} is the designated source of no indicator")
    return sorted(out)


def filled_by_publishers(session: Session, agency_code: str, within: Period) -> frozenset[str]:
    """The indicators an agency owes whose every use in its returns in force is a cell a publisher's figure fills:
    a field of a return naming, in ``from_publishers``, a publisher whose releases give the indicator (the field not
    refusing them). Its template does not ask for them; a return that needs the agency's own figure (one sent to that
    publisher) keeps them asked for."""
    from indicators.published_query import publishers_giving
    from mappings.validity import in_force

    returns = [
        r
        for r in session.execute(
            select(Return)
            .join(AgencyReturn, col(AgencyReturn.return_id) == col(Return.id))
            .where(AgencyReturn.agency_code == agency_code)
        ).scalars()
        if in_force(r, within)
    ]
    if not any(r.from_publishers for r in returns):
        return frozenset()
    given = publishers_giving(session)
    indicators = catalogue_indicators(session)
    filled: set[str] = set()
    asked: set[str] = set()
    fields = session.execute(
        select(FieldMapping).where(col(FieldMapping.return_id).in_([r.id for r in returns]))
    ).scalars()
    takes = {r.id: set(r.from_publishers) for r in returns}
    for f in fields:
        publishers = takes[f.return_id] if f.from_publishers else set()
        for ind in _inputs(indicators, [f.indicator_id]):
            (filled if publishers & given.get(ind, set()) else asked).add(ind)
    return frozenset(filled - asked)
