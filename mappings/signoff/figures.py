"""The figures a sign-off vouches for: their canonical lines, the digest of them, and what changed since a digest.

Which figures an agency vouches for is kept with the SHA-256 digest of their canonical list, so what was
released can be shown to be exactly what was signed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from indicators.store.models import Observation


@dataclass(frozen=True)
class Figure:
    """One stored figure vouched for: the parts of its line in the digest."""

    id: int
    indicator_id: str
    org_code: str
    period: str
    breakdown: str
    value: str


def figure_line(figure: Figure) -> str:
    """The canonical line of one figure in a digest: indicator, org, period, breakdown, value or status, figure id."""
    return "\t".join(
        (figure.indicator_id, figure.org_code, figure.period, figure.breakdown, figure.value, str(figure.id))
    )


def digest_of(figures: Iterable[Figure]) -> str:
    """SHA-256 of the figures' canonical lines, sorted, one per line: the same figures always give the same digest."""
    text = "\n".join(sorted(figure_line(f) for f in figures))
    return hashlib.sha256(text.encode()).hexdigest()


def value_text(value: float | None, symbol: str | None, status: str | None) -> str:
    """A figure's value as a digest line gives it: the number's shortest exact spelling, else its symbol; and its status."""
    shown = repr(float(value)) if value is not None else f"[{symbol or ''}]"
    return f"{shown} {status or 'final'}"


def figures_of(session: Session, ids: list[int]) -> list[Figure]:
    found: list[Figure] = []
    for at in range(0, len(ids), 10_000):
        part = ids[at : at + 10_000]
        for obs in session.execute(select(Observation).where(col(Observation.id).in_(part))).scalars():
            assert obs.id is not None
            found.append(
                Figure(
                    obs.id,
                    obs.indicator_id,
                    obs.org_code,
                    obs.period,
                    obs.breakdown,
                    value_text(obs.value, obs.symbol, obs.status),
                )
            )
    return sorted(found, key=figure_line)


#: How many changed figures a refusal names; the rest are counted.
CHANGES_NAMED = 20

#: How many of the agency's latest uploads are undone, one at a time, to find the figures a digest was read from.
_UNDO_UPLOADS = 25


def _key(figure: Figure) -> tuple[str, str, str, str]:
    return (figure.indicator_id, figure.org_code, figure.period, figure.breakdown)


def figures_read(session: Session, figures: list[Figure], digest: str) -> list[Figure] | None:
    """The figures a reader saw when shown ``digest``, found by undoing the latest uploads behind ``figures`` one at a
    time (each figure back to the version it replaced, a new one gone); None if no recent state gives the digest."""
    if digest_of(figures) == digest:
        return figures
    by_id = {f.id: f for f in figures}
    if not by_id:
        return None
    rows = session.execute(
        select(Observation.id, Observation.submission_id, Observation.version).where(
            col(Observation.id).in_(list(by_id))
        )
    ).all()
    made_by = {int(i): (int(s) if s is not None else 0, int(v)) for i, s, v in rows}
    state = dict(by_id)
    for upload in sorted({s for s, _v in made_by.values() if s}, reverse=True)[:_UNDO_UPLOADS]:
        for figure_id, figure in list(state.items()):
            submission_id, version = made_by.get(figure_id, (0, 0))
            if submission_id != upload:
                continue
            del state[figure_id]
            if version > 1:
                before = (
                    session.execute(
                        select(Observation).where(
                            Observation.indicator_id == figure.indicator_id,
                            Observation.org_code == figure.org_code,
                            Observation.period == figure.period,
                            Observation.breakdown == figure.breakdown,
                            Observation.version == version - 1,
                        )
                    )
                    .scalars()
                    .first()
                )
                if before is not None and before.id is not None:
                    state[before.id] = Figure(
                        before.id,
                        before.indicator_id,
                        before.org_code,
                        before.period,
                        before.breakdown,
                        value_text(before.value, before.symbol, before.status),
                    )
                    made_by[before.id] = (int(before.submission_id or 0), before.version)
        if digest_of(state.values()) == digest:
            return list(state.values())
    return None


def changes(old: Iterable[Figure], new: Iterable[Figure]) -> list[dict[str, Any]]:
    """Each figure that differs between two lists: indicator, org, period, breakdown, and its old and new value."""
    before = {_key(f): f for f in old}
    after = {_key(f): f for f in new}
    found = []
    for key in sorted(before.keys() | after.keys()):
        was, now = before.get(key), after.get(key)
        if was is not None and now is not None and was.value == now.value:
            continue
        indicator_id, org_code, period, breakdown = key
        found.append(
            {
                "indicator_id": indicator_id,
                "org_code": org_code,
                "period": period,
                "breakdown": breakdown,
                "old": was.value if was is not None else None,
                "new": now.value if now is not None else None,
            }
        )
    return found


def changed_reasons(session: Session, figures: list[Figure], read: str) -> list[dict[str, Any]]:
    """The refusal's reasons when the figures are no longer those read: each change named, up to a bound."""
    old = figures_read(session, figures, read)
    if old is None:
        return [
            {
                "type": "changed",
                "loc": ["body", "digest"],
                "input": read[:64],
                "msg": "The figures have changed since you read them (no recent state of them gives the digest you "
                "sent): read the return again before signing off",
            }
        ]
    found = changes(old, figures)
    reasons: list[dict[str, Any]] = []
    for change in found[:CHANGES_NAMED]:
        where = f"{change['indicator_id']} for {change['org_code']}, {change['period']}" + (
            f" ({change['breakdown']})" if change["breakdown"] else ""
        )
        if change["old"] is None:
            words = f"{where} was added since you read it: {change['new']}"
        elif change["new"] is None:
            words = f"{where} is no longer given (it was {change['old']} when you read it)"
        else:
            words = f"{where} changed from {change['old']} to {change['new']} since you read it"
        reasons.append({"type": "changed", "loc": ["figures", *_key_of(change)], "input": change, "msg": words})
    if len(found) > CHANGES_NAMED:
        more = len(found) - CHANGES_NAMED
        reasons.append(
            {
                "type": "changed",
                "loc": ["figures"],
                "input": more,
                "msg": f"and {more:,} more figure{'' if more == 1 else 's'} changed since you read them",
            }
        )
    return reasons


def _key_of(change: dict[str, Any]) -> list[str]:
    return [change["indicator_id"], change["org_code"], change["period"], change["breakdown"]]
