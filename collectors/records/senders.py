"""Which bodies send children's records: a council that owes DfE's SSDA903 return or the CIN census, for one local
authority. The upload route and the upload page both ask :func:`refusal` before anything sent is read or kept."""

from __future__ import annotations

from sqlmodel import Session, col, select

from mappings.annex_a import RECORD_RETURNS
from mappings.illustrative import councils_of
from mappings.models import AgencyReturn


def refusal(session: Session, agency_code: str) -> str | None:
    """Why the agency may not send children's records (an SSD extract or DfE's files), or None when it may."""
    owed = session.exec(
        select(AgencyReturn.return_id).where(
            col(AgencyReturn.agency_code) == agency_code, col(AgencyReturn.return_id).in_(RECORD_RETURNS)
        )
    ).all()
    if not owed:
        return (
            f"{agency_code} owes neither DfE's children looked after return (SSDA903) nor the children in need "
            "census, so it has no children's records to send: only a council that owes them sends an SSD extract "
            "or DfE's files"
        )
    councils = councils_of(session, agency_code)
    if len(councils) != 1:
        return (
            f"Children's records are one council's: {agency_code} answers for {len(councils):,} local "
            "authorities, not one, so DfE's rules could not tell placements inside the council from those outside"
        )
    return None
