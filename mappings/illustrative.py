"""Councils whose children are made up (the demo's synthetic county), kept apart from the real geography.

An illustrative council is an org unit of its own, with a code no ONS area has, in a tree of its own (its parent
is no region and not England), so its figures enter no real roll-up, neighbour group, quartile or England figure.
Its record-level files are still checked by DfE's rules as a real council's (the rules place each placement by a
real postcode and authority), and its rates still need a population: its agency names the real council it stands
in for (``records_as``), whose ONS code DfE's rules are given and whose published population (and no other figure)
reaches it through a crosswalk of its own basis, so each rate's lineage names that council's population. A store made before kept its figures under that real council's code
(``moved_from``): they are moved to the council's own code at load, nothing lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
from sqlalchemy import column, table, update
from sqlmodel import Session, col, select

from indicators.store.models import HeldFigure, Observation, Submission
from mappings.models import Agency, AgencyOrg, Crosswalk, OrgUnit
from mappings.resolve import STANDS_IN
from mappings.revisions import mark_stale
from mappings.signoff.figures import Figure, digest_of, value_text
from mappings.signoff.models import SignOff, SignOffEvent

#: The org type of a council whose children are made up, and of the tree it hangs from.
ILLUSTRATIVE_COUNCIL = "illustrative_council"
ILLUSTRATIVE_AREA = "illustrative_area"
#: An ONS (GSS) code of a local authority: a nation letter and eight digits.
LA_CODE = re.compile(r"[ENSW]\d{8}")
#: Record-level lineage rows (``collectors.records``, a floor above): named here by table, not imported.
_RECORD_LINEAGE = table("record_lineage", column("org_code"), column("submission_id"))


@dataclass(frozen=True)
class Council:
    """The council an agency's record-level returns are for: where its figures are kept, and the real council
    DfE's rules and the population are read for (the same code unless the council is illustrative)."""

    org: str
    rules_as: str

    @property
    def illustrative(self) -> bool:
        """Whether the council's children are made up (its figures kept apart from the real council's)."""
        return self.org != self.rules_as


def councils_of(session: Session, agency_code: str) -> list[Council]:
    """The councils among an agency's org units: each real local authority, and each illustrative council whose
    agency names the real council it stands in for."""
    rows = session.execute(
        select(AgencyOrg.org_code, OrgUnit.type)
        .join(OrgUnit, col(OrgUnit.code) == col(AgencyOrg.org_code))
        .where(AgencyOrg.agency_code == agency_code)
    ).all()
    agency = session.get(Agency, agency_code)
    stands_for = str((agency.definition or {}).get("records_as") or "") if agency is not None else ""
    found = []
    for code, kind in sorted(rows):
        if LA_CODE.fullmatch(code):
            found.append(Council(code, code))
        elif kind == ILLUSTRATIVE_COUNCIL and stands_for:
            found.append(Council(code, stands_for))
    return found


def link_populations(session: Session) -> dict[str, int]:
    """Give each illustrative council the real council it stands in for as a crosswalk of weight 1 (basis
    ``STANDS_IN``), through which only ONS's population estimates reach it: its rates are over that real
    council's published population, and a return's lineage names that council's figure as the base."""
    wanted: dict[tuple[str, str], str] = {}
    for agency in session.execute(select(Agency)).scalars():
        for council in councils_of(session, agency.code):
            if council.illustrative:
                wanted[(council.rules_as, council.org)] = (
                    f"agency {agency.code} (records_as): a made-up council given the published population of "
                    f"{council.rules_as}, whose postcodes its children have; no other figure of {council.rules_as}"
                )
    stored = {
        (c.from_code, c.to_code): c
        for c in session.execute(select(Crosswalk).where(Crosswalk.basis == STANDS_IN)).scalars()
    }
    for key, link in stored.items():
        if key not in wanted:
            session.delete(link)
    for (frm, to), source in wanted.items():
        if (frm, to) not in stored:
            session.add(Crosswalk(from_code=frm, to_code=to, weight=1.0, basis=STANDS_IN, source=source))
    session.flush()
    return {"population_links": len(wanted)}


def move_earlier_figures(session: Session) -> dict[str, int]:
    """Move what each illustrative council's agency stored under the real code it used before (``moved_from``) to
    the council's own code: figures, held figures and record lineage of its own uploads, its sign-offs' digests
    (each change kept as a sign-off event). Idempotent: a store already moved has nothing left to move."""
    moved = {"figures_moved": 0, "held_moved": 0, "lineage_moved": 0, "signoffs_redigested": 0}
    for agency in session.execute(select(Agency)).scalars():
        old = str((agency.definition or {}).get("moved_from") or "")
        own = [c for c in councils_of(session, agency.code) if c.illustrative]
        if not old or len(own) != 1:
            continue
        new = own[0].org
        subs = select(Submission.id).where(Submission.agency_code == agency.code)
        figures = session.execute(
            select(Observation.id, Observation.indicator_id, Observation.period).where(
                Observation.org_code == old, col(Observation.submission_id).in_(subs)
            )
        ).all()
        if figures:
            ids = [int(i) for i, _, _ in figures]
            session.execute(update(Observation).where(col(Observation.id).in_(ids)).values(org_code=new))
            schema = {"indicator_id": pl.String, "period": pl.String}
            mark_stale(session, pl.DataFrame([(i, p) for _, i, p in figures], schema=schema, orient="row"))
            moved["figures_moved"] += len(ids)
            moved["signoffs_redigested"] += _redigest(session, agency.code, set(ids), old, new)
        held = session.execute(
            update(HeldFigure)
            .where(col(HeldFigure.org_code) == old, col(HeldFigure.submission_id).in_(subs))
            .values(org_code=new)
        )
        lineage = session.execute(
            update(_RECORD_LINEAGE)
            .where(_RECORD_LINEAGE.c.org_code == old, _RECORD_LINEAGE.c.submission_id.in_(subs))
            .values(org_code=new)
        )
        moved["held_moved"] += int(held.rowcount)  # type: ignore[attr-defined]
        moved["lineage_moved"] += int(lineage.rowcount)  # type: ignore[attr-defined]
    session.flush()
    return moved


def _redigest(session: Session, agency_code: str, ids: set[int], old: str, new: str) -> int:
    """Give each sign-off that vouched for moved figures the digest of the same figures under their new code, the
    digest signed kept in a sign-off event: the same figures stay signed off, and the change is on the record."""
    count = 0
    for row in session.execute(select(SignOff).where(SignOff.agency_code == agency_code)).scalars():
        if not ids.intersection(row.figure_ids or []):
            continue
        vouched = session.execute(select(Observation).where(col(Observation.id).in_(row.figure_ids))).scalars()
        before = row.digest
        row.digest = digest_of(
            Figure(int(o.id or 0), o.indicator_id, o.org_code, o.period, o.breakdown, _value(o)) for o in vouched
        )
        session.add(
            SignOffEvent(
                signoff_id=int(row.id or 0),
                agency_code=row.agency_code,
                return_id=row.return_id,
                period=row.period,
                from_state=row.state,
                to_state=row.state,
                at=datetime.now(UTC),
                actor="service: made-up council moved off a real council's code",
                detail=(
                    f"the figures signed off moved from {old} to {new}, the illustrative council's own code, with "
                    f"their values and ids unchanged; the digest signed was {before}"
                ),
                digest=row.digest,
            )
        )
        count += 1
    return count


def _value(obs: Observation) -> str:
    return value_text(obs.value, obs.symbol, obs.status)
