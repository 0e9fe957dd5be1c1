"""The figures a comparison reads from the store, as far as the reader may see them: an agency its own and the
publishing agencies', an officer every one; a body's own beside the publisher's; the periods and the geography.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from indicators.store.models import Observation, Submission
from mappings.comparison.service import PEER_TYPES, Figure
from mappings.geography import la_codes
from mappings.models import OrgParent, OrgUnit
from mappings.signoff.states import published_sources


def load_figures(
    session: Session, indicator_id: str, periods: Iterable[str], *, agency: str | None = None
) -> dict[str, dict[str, Figure]]:
    """Current totals of an indicator for the periods, by period and org, as a reader may see them.

    ``agency`` None reads every figure (an officer); an agency reads its own figures and the figures
    of agencies that publish theirs, never another agency's unpublished figure. A figure not yet
    published (not from a publishing agency) is marked so.
    """
    stmt = (
        sa_select(
            col(Observation.period),
            col(Observation.org_code),
            col(Observation.value),
            col(Observation.symbol),
            col(Observation.numerator),
            col(Observation.denominator),
            col(Submission.agency_code),
        )
        .join(Submission, col(Submission.id) == col(Observation.submission_id), isouter=True)
        .where(
            col(Observation.indicator_id) == indicator_id,
            col(Observation.period).in_(list(periods)),
            col(Observation.breakdown) == "",
            col(Observation.is_current).is_(True),
        )
        .order_by(col(Observation.id))
    )
    return seen_figures(session.execute(stmt), published_sources(session), agency)


def seen_figures(rows: Iterable[Any], published: Collection[str], agency: str | None) -> dict[str, dict[str, Figure]]:
    """The figures a reader sees of one indicator's stored rows (period, org, value, symbol, numerator, denominator,
    agency; oldest first), by period and org, as :func:`load_figures` gives them."""
    bodies: dict[tuple[str, str], Figure] = {}
    publishers: dict[tuple[str, str], Figure] = {}
    for period, org, value, symbol, num, den, by in rows:
        is_published = by in published
        if agency is not None and by != agency and not is_published:
            continue
        (publishers if is_published else bodies)[(period, org)] = Figure(org, value, symbol, num, den, is_published)
    out: dict[str, dict[str, Figure]] = {}
    for (period, org), figure in publishers.items():
        out.setdefault(period, {})[org] = figure
    # A publisher's figure stands beside a body's own; the body's own is what its row shows, and the
    # publisher's says whether it was published.
    for (period, org), figure in bodies.items():
        theirs = publishers.get((period, org))
        out.setdefault(period, {})[org] = figure if theirs is None else beside(figure, theirs.value, theirs.symbol)
    return out


def beside(own: Figure, value: float | None, symbol: str | None) -> Figure:
    """A body's own figure with what the publisher's file says of the same cell: as published, or differing."""
    same = own.value == value and own.symbol == symbol
    return replace(own, published=same, provenance="as_published" if same else "differs", published_value=value)


def with_published(
    history: Mapping[str, Mapping[str, Figure]],
    published: Iterable[tuple[str, str, float | None, str | None, float | None, float | None]],
) -> dict[str, dict[str, Figure]]:
    """Add the publisher's figures (period, org, value, symbol, numerator, denominator) of cells the reader sees no
    figure of: a council's own figure stays what its row shows, and the publisher's stands in for every other."""
    out = {p: dict(figs) for p, figs in history.items()}
    for period, org, value, symbol, num, den in published:
        figs = out.setdefault(period, {})
        own = figs.get(org)
        if own is None:
            figs[org] = Figure(org, value, symbol, num, den, True)
        elif own.provenance == "unpublished":
            # The body's own figure stays what its row shows; the publisher's file says whether it was published.
            figs[org] = beside(own, value, symbol)
    return out


def periods_of(session: Session, indicator_id: str) -> list[str]:
    """The periods an indicator has any figure for, oldest first."""
    stmt = select(Observation.period).where(col(Observation.indicator_id) == indicator_id).distinct()
    return sorted(str(p) for p in session.execute(stmt).scalars())


def geography(session: Session) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """Names of every org, the upper-tier councils (peers of a quartile) and each council's region."""
    units = session.execute(select(OrgUnit.code, OrgUnit.name, OrgUnit.type)).all()
    names = {str(c): str(n) for c, n, _ in units}
    types = {str(c): str(t) for c, _, t in units}
    peers = [c for c, t in types.items() if t in PEER_TYPES]
    region: dict[str, str] = {}
    for child, parent in session.execute(select(OrgParent.child_code, OrgParent.parent_code)):
        if types.get(str(parent)) == "region":
            region[str(child)] = str(parent)
    for child, parent in session.execute(select(OrgParent.child_code, OrgParent.parent_code)):
        if str(child) not in region and str(parent) in region:
            region[str(child)] = region[str(parent)]
    _, number_of, la_names = la_codes()
    for code, number in number_of.items():
        names.setdefault(code, la_names[number])
    return names, peers, region


Geo = tuple[dict[str, str], list[str], dict[str, str]]
