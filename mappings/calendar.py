"""The collection calendar: which returns fall due when, who submits them, and what each agency still owes.

Computed from the returns' deadline rules (``mappings/deadlines.py``) and the figures stored; the
scheduler's jobs, the API's calendar, the web pages and the command line all ask it.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from indicators.formula import collected_inputs
from indicators.periods import parse_period
from indicators.sources import cites_text
from indicators.store.models import Observation
from mappings import validity
from mappings.deadlines import SIGNOFF_AT_AGENCY, CalendarEntry, calendar, period_words, recipient_deadline
from mappings.models import Agency, AgencyReturn, FieldMapping, Return
from mappings.obligations import Obligation, catalogue_indicators, definitions_key, obligations
from onereturn.memo import within_transaction

#: Reminders go this many working days before an agency's deadline (and approvers' before the sign-off date).
REMIND_WORKING_DAYS = 5


def calendar_entries(session: Session, start: date, end: date) -> list[CalendarEntry]:
    """Compute every return's calendar entries for periods ending between two dates."""
    rows = [
        r
        for r in session.execute(select(Return).order_by(col(Return.id))).scalars()
        if r.status != "abolished" and r.deadline
    ]
    entries = calendar(
        [(r.id, r.period_type, r.deadline) for r in rows],
        start,
        end,
        lead_working_days=REMIND_WORKING_DAYS,
        milestones={r.id: [(m["name"], m["rule"]) for m in r.milestones] for r in rows if r.milestones},
        signoffs={r.id: r.signoff_rule for r in rows},
    )
    by_id = {r.id: r for r in rows}

    def in_force(entry: CalendarEntry) -> bool:
        # One rule for every part of the service: the NIS and Vital Signs stopped in 2011.
        return validity.in_force(by_id[entry.return_id], parse_period(entry.period))

    titles = {r.id: r.title for r in rows}
    return [replace(e, title=titles[e.return_id]) for e in entries if in_force(e)]


def agency_returns(session: Session) -> dict[str, list[str]]:
    """Map each submitting agency to the returns it submits."""
    out: dict[str, list[str]] = {}
    rows = session.execute(
        select(AgencyReturn.agency_code, AgencyReturn.return_id, Agency.body_type, Return.submitter)
        .join(Agency, col(Agency.code) == col(AgencyReturn.agency_code))
        .join(Return, col(Return.id) == col(AgencyReturn.return_id))
    ).all()
    for agency, ret, body, submitter in rows:
        if body == submitter:
            out.setdefault(agency, []).append(ret)
    return out


#: What each agency still owes for each period, by the state of the figures and definitions it is read from: the
#: calendar asks it of every agency at every deadline, and the dashboard asks the calendar three times a view.
_MISSING: dict[tuple[Any, ...], tuple[Obligation, ...]] = {}
_MISSING_KEPT = 8192
_missing_lock = threading.Lock()


def figures_key(session: Session) -> tuple[Any, ...]:
    """The state of the stored figures, read in one statement (once per transaction): a figure added or deleted
    changes it (a revision adds its new version, and only then is the old one no longer current)."""

    def read() -> tuple[Any, ...]:
        row = session.execute(
            columns(
                func.max(col(Observation.id)),
                func.count(col(Observation.id)),
                # SQLite gives a rolled-back or deleted last row's id to the next one: when it was recorded tells them apart.
                func.max(col(Observation.recorded_at)),
            )
        ).one()
        return tuple(row)

    return within_transaction(session, "figures_key", read)


def outstanding(
    session: Session, agency_code: str, period: str, indicator_ids: set[str] | None = None
) -> list[Obligation]:
    """List the figures an agency still owes for a period (owed, and no current figure stored); kept until the
    figures, the catalogue or an agency change."""
    wanted = None if indicator_ids is None else frozenset(indicator_ids)
    key = (*definitions_key(session), *figures_key(session), agency_code, period, wanted)
    with _missing_lock:
        kept = _MISSING.get(key)
    if kept is not None:
        return list(kept)
    owed = [o for o in obligations(session, agency_code, period) if wanted is None or o.indicator_id in wanted]
    missing = _not_stored(session, owed)
    with _missing_lock:
        if len(_MISSING) >= _MISSING_KEPT:
            _MISSING.clear()
        _MISSING[key] = tuple(missing)
    return missing


def _not_stored(session: Session, owed: list[Obligation]) -> list[Obligation]:
    if not owed:
        return []
    inds = sorted({o.indicator_id for o in owed})
    orgs = sorted({o.org_code for o in owed})
    periods = sorted({o.period for o in owed})
    stored = set(
        session.execute(
            select(Observation.indicator_id, Observation.org_code, Observation.period, Observation.breakdown).where(
                col(Observation.is_current),
                col(Observation.indicator_id).in_(inds),
                col(Observation.org_code).in_(orgs),
                col(Observation.period).in_(periods),
            )
        ).all()
    )
    return [o for o in owed if (o.indicator_id, o.org_code, o.period, o.breakdown) not in stored]


def return_indicators(session: Session, return_id: str) -> set[str]:
    """Return the collected indicators a return needs (through formulas)."""
    indicators = catalogue_indicators(session)
    fields = session.execute(select(FieldMapping.indicator_id).where(FieldMapping.return_id == return_id)).scalars()
    return set().union(*(collected_inputs(indicators, f) for f in fields))


def timetable_lines(session: Session, entries: list[list[str]]) -> list[str]:
    """List, for each (return, period), every dated step and the final deadline, with the rule's source."""
    out = []
    for return_id, period in entries:
        ret = session.get(Return, return_id)
        if ret is None or not ret.deadline:
            continue
        parsed = parse_period(period)
        steps = [(m["name"], m["rule"], m["sources"]) for m in ret.milestones]
        if ret.signoff_rule not in SIGNOFF_AT_AGENCY:
            steps.append(("signed off by your approver", ret.signoff_rule, ret.signoff_sources))
        steps.append(("return due to " + ret.recipient, ret.deadline, ret.deadline_sources))
        for name, rule, sources in steps:
            day = recipient_deadline(rule, parsed)
            out.append(
                f"- {return_id} {period}: {name} by {day:%a %d %b %Y} ({rule}; source: {cites_text(sources) or 'none'})"
            )
    return out


def owed_for_entry(
    session: Session, agency: str, return_id: str, period: str, needed: set[str] | None = None
) -> list[Obligation]:
    """List what an agency still owes for one return and period (``needed``: the return's indicators, if known)."""
    return outstanding(session, agency, period, return_indicators(session, return_id) if needed is None else needed)


def return_words(session: Session, return_id: str, period: str | None = None) -> str:
    """Name a return (and a period) as people say it: ``Children looked after return, 2024 to 2025 financial year``."""
    ret = session.get(Return, return_id)
    name = ret.title if ret is not None and ret.title else return_id
    return f"{name}, {period_words(period)}" if period else name
