"""Which bodies send children's records: a council that owes a child-level return (the registry,
``mappings.child_level``: the SSDA903, the CIN census, SEN2), for one local authority. The upload route and the
upload page both ask :func:`refusal` before anything sent is read or kept; each way in refuses a file whose header
names another council (:func:`another_council`)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mappings.child_level import RETURN_IDS, named
from mappings.geography import dfe_la_number
from mappings.illustrative import councils_of
from mappings.models import AgencyReturn
from onereturn.errors import InvalidInput


def refusal(session: Session, agency_code: str) -> str | None:
    """Why the agency may not send children's records (an SSD extract or DfE's files), or None when it may."""
    if not _owed(session, agency_code):
        return (
            f"{agency_code} owes none of {named(RETURN_IDS)}, so it has no children's records to send: only a "
            "council that owes one of them sends its file (or an SSD extract)"
        )
    councils = councils_of(session, agency_code)
    if len(councils) != 1:
        return (
            f"Children's records are one council's: {agency_code} answers for {len(councils):,} local "
            "authorities, not one, so DfE's rules could not tell placements inside the council from those outside"
        )
    return None


def _owed(session: Session, agency_code: str) -> set[str]:
    """The child-level returns the agency owes."""
    return set(
        session.exec(
            select(AgencyReturn.return_id).where(
                col(AgencyReturn.agency_code) == agency_code, col(AgencyReturn.return_id).in_(RETURN_IDS)
            )
        ).all()
    )


def council_numbers(engine: Engine, agency_code: str) -> frozenset[str]:
    """DfE's three-digit numbers of the councils whose children the agency sends: its own, or, for a council whose
    children are made up, the real council it stands in for (whose number its files carry, as DfE's rules read)."""
    with Session(engine) as session:
        councils = councils_of(session, agency_code)
    return frozenset(number for council in councils if (number := dfe_la_number(council.rules_as)) is not None)


def another_council(engine: Engine, agency_code: str, named: str | None, what: str, loc: list[str]) -> None:
    """Refuse, before anything is kept, a file whose header names (``named``, its ``LEA``) a council other than the
    uploading agency's; a header naming none, or an agency whose number the service does not hold, is let be."""
    if named is None:
        return
    own = council_numbers(engine, agency_code)
    if own and named.strip() not in own:
        numbers = ", ".join(sorted(own))
        raise InvalidInput(
            f"{what}'s header names another council than {agency_code}'s (DfE number {numbers}): a council sends "
            "its own children's files; nothing was kept",
            errors=[{"type": "another_council", "loc": loc, "msg": f"not the council of {agency_code} ({numbers})"}],
        )
