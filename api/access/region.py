"""Who may read a region's outputs and give a council's consent, and what the audit trail records of each: for the
API's routes (``api/routes/regions.py``) and the council's page (``api/web/regions.py``), so a page never does what
the route would refuse."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from api.callrecord import annotate
from api.downloads import CSV, attachment
from api.principal import Principal
from collectors.regions.pooled import Built
from mappings.agencies import get_agency
from mappings.keys import APPROVER_SCOPE, REGION_SCOPE
from mappings.regions import consent
from mappings.regions.consent import Consent
from onereturn.audittrail import AuditEvent
from onereturn.errors import Forbidden, NotFound

#: Why a council's key is refused a region's outputs.
COUNCIL_REFUSED = (
    "A council's key cannot read a region's pooled outputs: they pool several councils' children, and are read "
    "with a key of the region's own agency (the officer issues one with `onereturn keys create --role agency "
    "--agency REGION`); a council reads its own records with its own key"
)


def region_reader(session: Session, principal: Principal, region: str, *, officer: bool) -> None:
    """Admit the region's own key (and an officer, where ``officer``) to the region's outputs; a council's key is
    refused saying why, another region's key is told the region is not its own."""
    if principal.kind == "officer" and officer:
        consent.region_agency(session, region)
        return
    if REGION_SCOPE not in principal.scopes:
        raise Forbidden(COUNCIL_REFUSED)
    if principal.agency_code != region:
        raise NotFound(
            f"Region {region[:64]!r} is not known to this key: a region's key reads its own region's outputs only "
            f"(this key's region is {principal.agency_code})"
        )
    consent.region_agency(session, region)


def own_council(principal: Principal, council: str, *, change: bool) -> None:
    """Admit only the council's own key to its consent (its approver's, to change it; an officer reads it); another
    body's key is answered as not knowing the council, saying why."""
    if principal.kind == "officer" and not change:
        return
    if principal.kind != "agency" or principal.agency_code != council:
        raise NotFound(
            f"Agency {council[:64]!r} is not known to this key: a council's key reads and gives its own council's "
            "consent only"
        )
    if change and APPROVER_SCOPE not in principal.scopes:
        raise Forbidden(
            "Only your council's approver gives, changes or withdraws its consent to a region: ask your performance "
            f"officer for an approver's key (`onereturn keys create --role agency --agency {council} --approver`)"
        )


def _words(held: Consent) -> str:
    return ", ".join(held.use_cases) or "none"


def give(
    request: Request, session: Session, principal: Principal, council: str, region: str, use_cases: list[str]
) -> Consent:
    """Set the council's consent to the region (its approver's act), audited with the use cases before and after."""
    own_council(principal, council, change=True)
    before, after = consent.give(session, council, region, use_cases, by=principal.name)
    annotate(
        request,
        object=f"consent of {council} to {region}",
        detail=f"use cases {_words(before)} -> {_words(after)}",
    )
    return after


def withdraw(request: Request, session: Session, principal: Principal, council: str, region: str) -> Consent:
    """Withdraw every use case of the council's consent to the region (its approver's act), audited."""
    own_council(principal, council, change=True)
    before, after = consent.withdraw(session, council, region, by=principal.name)
    annotate(
        request,
        object=f"consent of {council} to {region}",
        detail=f"withdrawn: use cases {_words(before)} -> none",
    )
    return after


def pooled_csv(request: Request, built: Built, region: str, name: str) -> Response:
    """A built table as a download, for the API's route and the region's page alike: its uploads and the councils
    left out said in the audit and the headers."""
    councils = sorted({held.gss for held in built.sources})
    annotate(
        request,
        object=f"{name} of {region}",
        detail=f"{built.frame.height} rows from {len(councils)} council(s): {', '.join(councils) or 'none'}; uploads "
        f"{', '.join(str(h.submission_id) for h in built.sources) or 'none'}",
    )
    return attachment(
        built.csv(),
        CSV,
        f"{region}-{name}.csv",
        **{
            "Cache-Control": "no-store",
            "X-Councils": ",".join(councils),
            "X-Left-Out": "; ".join(built.left_out)[:2000],
            "X-Blanked": "; ".join(f"{column}: {n}" for column, n in sorted(built.blanked.items()))[:2000],
        },
    )


def history(session: Session, principal: Principal, council: str, region: str) -> list[dict[str, Any]]:
    """Every change of the council's consent to the region, oldest first, from the audit trail: read by the council
    (or an officer) whatever its membership now, so a council that left a region still sees what it gave and when
    it ended."""
    own_council(principal, council, change=False)
    get_agency(session, council)
    consent.region_agency(session, region)
    events = session.exec(
        select(AuditEvent)
        .where(
            col(AuditEvent.object) == f"consent of {council} to {region}",
            col(AuditEvent.action).in_(("consent.give", "consent.withdraw")),
            col(AuditEvent.outcome) == "ok",
        )
        .order_by(col(AuditEvent.at), col(AuditEvent.id))
    ).all()
    return [{"at": e.at.isoformat(), "action": e.action, "by": e.principal, "change": e.detail} for e in events]
