"""The burden report as the API answers it and the burden page draws it: one dictionary of plain parts."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from exports.burden.report import AnnexCounter, List1Counter, burden, last_financial_year
from onereturn import clock


def burden_answer(
    session: Session,
    period: str | None,
    minutes: float,
    *,
    annex_a: AnnexCounter | None = None,
    list1: List1Counter | None = None,
    cell_minutes: float = 0.5,
) -> dict[str, Any]:
    """Keying every return separately against keying each figure once, for ``period`` (default: the last year ended);
    with ``annex_a`` and ``list1``, each council's Annex A and List 1 cells beside its returns'."""
    asked = (period or "").strip() or last_financial_year(clock.now().date())
    report = burden(
        session, asked, minutes_per_figure=minutes, annex_a=annex_a, list1=list1, minutes_per_cell=cell_minutes
    )
    return {
        "period": report.period,
        "minutes_per_figure": report.minutes_per_figure,
        "minutes_per_cell": cell_minutes,
        "totals": report.totals,
        "agencies": [a.__dict__ for a in report.agencies],
        "overlap": report.overlap,
        "consistency": [c.__dict__ for c in report.consistency],
        "sent_twice": [t.__dict__ for t in report.sent_twice],
        "keys_nothing_published": [k.__dict__ for k in report.keys_nothing_published],
        "from_publishers": [p.__dict__ for p in report.from_publishers],
    }
