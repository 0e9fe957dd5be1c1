"""The units of geography a return's rows are for, and an indicator's figures at any level for a period, each with how
it was made (what the figures route answers)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from mappings.areas import Geography
from mappings.catalogue import LEVEL_GROUPS
from mappings.illustrative import ILLUSTRATIVE_COUNCIL
from mappings.models import Agency, AgencyOrg, AgencyReturn, Return
from mappings.resolve import Resolver

#: The ``orgs`` entry of a return file that asks for every area of the return's level.
EVERY_AREA = "*"


def level_orgs(geo: Geography, level_types: Iterable[str], *, only: Iterable[str] = ()) -> list[str]:
    """Return the units of a return's level valid in the period (restricted to ``only`` when given)."""
    chosen = set(only)
    codes = geo.of_types(level_types)
    return [c for c in codes if c in chosen] if chosen else codes


def figures_at_level(
    session: Session, indicator_id: str, period_text: str, level: str, org: str | None = None
) -> tuple[str, list[dict[str, object]]]:
    """Return an indicator's figures for a period at any level, each with how it was made and from how many parts."""
    from indicators.periods import parse_period
    from mappings.catalogue import LEVEL_GROUPS, ORG_TYPES
    from onereturn.errors import InvalidInput, NotFound

    if level not in ORG_TYPES and level not in LEVEL_GROUPS:
        raise InvalidInput(f"Unknown level {level!r}; expected one of {', '.join((*ORG_TYPES, *LEVEL_GROUPS))}")
    resolver = Resolver(session, parse_period(period_text))
    if indicator_id not in resolver.indicators:
        raise NotFound(f"Indicator {indicator_id!r} is not in the catalogue")
    orgs = level_orgs(resolver.geo, LEVEL_GROUPS.get(level, (level,)), only=[org] if org else [])
    parts = resolver.resolve(indicator_id, orgs)
    rows: list[dict[str, object]] = [
        {
            "org": r["org_code"],
            "org_name": resolver.geo.names.get(r["org_code"], ""),
            "period": r["period"],
            "breakdown": r["breakdown"],
            "value": r["value"],
            "numerator": r["numerator"],
            "denominator": r["denominator"],
            "status": r["status"],
            "reason": r["reason"],
            "how": r["how"],
            "parts": r["parts"],
            "missing_parts": r["missing_parts"],
            "observation_ids": r["obs_ids"],
        }
        for r in parts.sort("org_code", "breakdown").iter_rows(named=True)
    ]
    return resolver.period.code, rows


def collected_orgs(session: Session, ret: Return) -> list[str]:
    """Return the org units a return is collected for: those its designated submitting agencies answer for."""
    rows = session.execute(
        select(AgencyOrg.org_code)
        .join(AgencyReturn, col(AgencyReturn.agency_code) == col(AgencyOrg.agency_code))
        .join(Agency, col(Agency.code) == col(AgencyOrg.agency_code))
        .where(AgencyReturn.return_id == ret.id, Agency.body_type == ret.submitter)
    ).scalars()
    return sorted(set(rows))


def covered_orgs(session: Session, geo: Geography, ret: Return) -> list[str]:
    """Return the org units a return's rows are for, in code order.

    A return lists the units named in its file; ``orgs = ["*"]`` asks for every unit of its level
    (a recipient whose layout needs every area); otherwise the units the deployment collects the
    return for, so a demo with two councils does not send 151 empty rows.
    """
    types = LEVEL_GROUPS.get(ret.geography_level, (ret.geography_level,))
    if ret.orgs == [EVERY_AREA]:
        return level_orgs(geo, types)
    wanted = set(ret.orgs) if ret.orgs else set(collected_orgs(session, ret))
    # A made-up council (outside England's geography, of no real level) still gets its own rows in the returns the
    # deployment collects from it, under its own code and name.
    made_up = [code for code in geo.of_types((ILLUSTRATIVE_COUNCIL,)) if code in wanted]
    return sorted([code for code in level_orgs(geo, types) if code in wanted] + made_up)
