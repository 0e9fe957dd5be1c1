"""Who is a member of a region, and the consent each member council gives it per use case: given, changed and
withdrawn by the council's approver, read by the council, its region and the officer.

A region is an agency of body type ``region`` whose org units are its member councils' GSS codes. A member is an
agency that sends children's records (it owes the SSDA903, the CIN census or SEN2) for exactly one council, and that
council is one of the region's. A council that has not consented to a use case is in none of its outputs: the
outputs are built when asked, from the consent held at that moment (``collectors/regions/``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from mappings.agencies import get_agency
from mappings.child_level import RETURN_IDS
from mappings.illustrative import councils_of
from mappings.keys import REGION_BODY
from mappings.models import Agency, AgencyOrg, AgencyReturn
from mappings.regions.models import RegionConsent
from mappings.regions.policy import use_case
from onereturn import audittrail
from onereturn.errors import InvalidInput, NotFound

#: The returns whose records a member council sends: the SSDA903, the CIN census and SEN2.
MEMBER_RETURNS = RETURN_IDS


@dataclass(frozen=True)
class Consent:
    """A council's consent to a region as held: its use cases (none: nothing, or withdrawn), when and by whom changed."""

    council: str
    region: str
    use_cases: tuple[str, ...]
    changed_at: datetime | None
    changed_by: str


def region_agency(session: Session, code: str) -> Agency:
    """The region's agency; NotFound for an unknown code, and for an agency that is not a region, saying so."""
    agency = session.get(Agency, code)
    if agency is None or agency.body_type != REGION_BODY:
        said = "is not known" if agency is None else f"is not a region (its body type is {agency.body_type})"
        raise NotFound(
            f"Region {code[:64]!r} {said}",
            errors=[{"type": "not_found", "loc": ["path", "region"], "msg": f"the region {said}", "input": code[:64]}],
        )
    return agency


def region_orgs(session: Session, region: str) -> list[str]:
    """The GSS codes of the region's member councils, as its agency names them."""
    return sorted(session.exec(select(AgencyOrg.org_code).where(col(AgencyOrg.agency_code) == region)).all())


def members(session: Session, region: str) -> dict[str, str]:
    """Each member council's agency code and its GSS code, for a region's agency code."""
    orgs = set(region_orgs(session, region))
    if not orgs:
        return {}
    rows = session.exec(
        select(AgencyOrg.agency_code, AgencyOrg.org_code)
        .join(Agency, col(Agency.code) == col(AgencyOrg.agency_code))
        .where(col(AgencyOrg.org_code).in_(orgs), col(Agency.body_type) != REGION_BODY)
    ).all()
    found: dict[str, str] = {}
    for agency_code in sorted({a for a, _ in rows}):
        council = _council_of(session, agency_code)
        if council is not None and council in orgs:
            found[agency_code] = council
    return found


def _council_of(session: Session, agency_code: str) -> str | None:
    """The one council whose children's records the agency sends, or None (it sends none, or answers for several)."""
    owed = session.exec(
        select(AgencyReturn.return_id).where(
            col(AgencyReturn.agency_code) == agency_code, col(AgencyReturn.return_id).in_(MEMBER_RETURNS)
        )
    ).first()
    if owed is None:
        return None
    # A real council by its GSS code, or the demo's made-up county by its own code (its children are made up).
    councils = [council.org for council in councils_of(session, agency_code)]
    return councils[0] if len(councils) == 1 else None


def regions_of(session: Session, council: str) -> list[str]:
    """The regions the council is a member of, by agency code."""
    gss = _council_of(session, council)
    if gss is None:
        return []
    regions = session.exec(
        select(AgencyOrg.agency_code)
        .join(Agency, col(Agency.code) == col(AgencyOrg.agency_code))
        .where(col(AgencyOrg.org_code) == gss, col(Agency.body_type) == REGION_BODY)
    ).all()
    return sorted(set(regions))


def _member(session: Session, council: str, region: str) -> str:
    """The council's GSS code once it is known to be a member of the region; refused saying why it is not."""
    get_agency(session, council)
    agency = region_agency(session, region)
    gss = _council_of(session, council)
    if gss is None:
        raise InvalidInput(
            f"{council} sends no children's records for one council (it owes none of {', '.join(MEMBER_RETURNS)}, or "
            f"answers for several councils), so it has none to pool in {agency.name}"
        )
    if gss not in region_orgs(session, region):
        raise InvalidInput(
            f"{council} ({gss}) is not a member of the region {region} ({agency.name}): its member councils are "
            f"{', '.join(region_orgs(session, region)) or 'none'}; a council consents only to its own region",
            errors=[{"type": "not_a_member", "loc": ["path", "region"], "msg": "not a member", "input": region}],
        )
    return gss


def consent_of(session: Session, council: str, region: str) -> Consent:
    """The council's consent to the region as held now (none given yet: no use case)."""
    _member(session, council, region)
    return _held(council, region, _row(session, council, region))


def _row(session: Session, council: str, region: str) -> RegionConsent | None:
    return session.exec(
        select(RegionConsent).where(
            col(RegionConsent.council_code) == council, col(RegionConsent.region_code) == region
        )
    ).first()


def give(session: Session, council: str, region: str, names: list[str], *, by: str) -> tuple[Consent, Consent]:
    """Set the use cases the council consents to for the region (replacing what it consented to before); the consent
    before and after. Refused, changing nothing, for a region it is not a member of or a use case that does not exist."""
    _member(session, council, region)
    wanted = tuple(sorted({use_case(name).name for name in names}))
    before = consent_of(session, council, region)
    row = _row(session, council, region)
    now = datetime.now(UTC)
    if row is None:
        row = RegionConsent(council_code=council, region_code=region, use_cases=list(wanted), changed_at=now)
    row.use_cases, row.changed_at, row.changed_by = list(wanted), now, by[:256]
    session.add(row)
    session.flush()
    return before, Consent(council, region, wanted, now, row.changed_by)


def withdraw(session: Session, council: str, region: str, *, by: str) -> tuple[Consent, Consent]:
    """Withdraw every use case the council consented to for the region; the consent before and after. A council
    withdraws whatever its membership now: taking consent back is never refused."""
    get_agency(session, council)
    region_agency(session, region)
    row = _row(session, council, region)
    before = _held(council, region, row)
    if row is None:
        return before, before
    row.use_cases, row.changed_at, row.changed_by = [], datetime.now(UTC), by[:256]
    session.add(row)
    session.flush()
    return before, _held(council, region, row)


def _held(council: str, region: str, row: RegionConsent | None) -> Consent:
    if row is None:
        return Consent(council, region, (), None, "")
    return Consent(council, region, tuple(row.use_cases), row.changed_at, row.changed_by)


def end_with_membership(session: Session, *, by: str) -> list[tuple[Consent, Consent]]:
    """Withdraw every use case of each council no longer a member of the region it consented to (its org units, or
    the region's, changed), audited as a withdrawal is: a council that comes back starts with no consent, and gives
    it again by its approver's act. The consents before and after."""
    rows = session.exec(select(RegionConsent)).all()
    held: dict[str, dict[str, str]] = {}
    ended = []
    for row in sorted(rows, key=lambda r: (r.region_code, r.council_code)):
        if not row.use_cases:
            continue
        if row.region_code not in held:
            held[row.region_code] = members(session, row.region_code)
        if row.council_code in held[row.region_code]:
            continue
        before, after = withdraw(session, row.council_code, row.region_code, by=by)
        # Recorded here, not by a front door: membership changes through every door that stores an agency (an
        # import, an officer's change, a new agency), and each must leave the same trail.
        audittrail.record(
            session,
            principal=by,
            action="consent.withdraw",
            outcome="ok",
            object=f"consent of {row.council_code} to {row.region_code}",
            detail=f"withdrawn: use cases {', '.join(before.use_cases)} -> none (no longer a member of the region)",
        )
        ended.append((before, after))
    return ended


def consenting(session: Session, region: str, name: str) -> dict[str, str]:
    """The member councils (agency code: GSS code) whose consent to the region holds the use case ``name`` now."""
    region_agency(session, region)
    use_case(name)
    held = members(session, region)
    rows = session.exec(select(RegionConsent).where(col(RegionConsent.region_code) == region)).all()
    return {
        row.council_code: held[row.council_code] for row in rows if name in row.use_cases and row.council_code in held
    }


def consented_regions(session: Session, council: str) -> list[str]:
    """Every region the council's consent was ever held for, member or not now, by agency code."""
    rows = session.exec(select(RegionConsent.region_code).where(col(RegionConsent.council_code) == council)).all()
    return sorted(set(rows))


def consents(session: Session, region: str) -> list[Consent]:
    """Every member council's consent to the region, consented or not, by council."""
    region_agency(session, region)
    rows = {
        r.council_code: r for r in session.exec(select(RegionConsent).where(col(RegionConsent.region_code) == region))
    }
    found = []
    for council in members(session, region):
        row = rows.get(council)
        found.append(
            Consent(council, region, tuple(row.use_cases), row.changed_at, row.changed_by)
            if row is not None
            else Consent(council, region, (), None, "")
        )
    return found
