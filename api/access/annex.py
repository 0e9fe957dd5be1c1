"""Who may read a council's Annex A, and what its audit records: for the API's Annex A routes and the pages."""

from __future__ import annotations

from fastapi import Request
from sqlmodel import Session, col, select

from api.callrecord import annotate
from api.principal import Principal
from api.scopes import read_scope
from collectors.annex_a.build import AnnexA
from mappings.agencies import get_agency
from mappings.child_level import ANNEX_A_RETURNS
from mappings.keys import APPROVER_SCOPE
from mappings.models import AgencyReturn
from onereturn.errors import Forbidden, NotFound


def check_annex_reader(session: Session, principal: Principal, code: str) -> None:
    """Refuse anyone but the council's own approver: another agency's is answered as unknown, a key without the
    approver scope is told which key reads it."""
    read_scope(principal).check_agency(code)
    agency = get_agency(session, code)
    owed = set(session.execute(select(AgencyReturn.return_id).where(col(AgencyReturn.agency_code) == code)).scalars())
    if not owed & set(ANNEX_A_RETURNS):
        raise NotFound(
            f"Annex A is built from a council's CIN census and SSDA903 records, and {agency.name} returns neither "
            f"(its returns: {', '.join(sorted(owed)) or 'none'}): there is no Annex A to build for it"
        )
    if APPROVER_SCOPE not in principal.scopes:
        raise Forbidden(
            "Only your council's approvers may build Annex A: it lists children by their record. Ask your performance "
            f"officer for an approver's key (`onereturn keys create --role agency --agency {code} --approver`)"
        )


def audit_annex(request: Request, annex: AnnexA, code: str, what: str) -> None:
    """Record which of the council's lists were built and how many rows each had (never a child)."""
    counts = ", ".join(f"{item.number}:{annex.lists[item.number].height}" for item in annex.layout.lists)
    annotate(
        request,
        object=f"Annex A {what} of {code} as at {annex.inspection_date.isoformat()}",
        detail=f"lists (number:rows) {counts}; sources {', '.join(str(s.submission_id) for s in annex.sources) or 'none'}",
    )
