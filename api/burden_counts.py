"""The burden's child-level counts, given the same way to every caller (the API's route, the officers' page and the
command line): each council's Annex A and List 1 counted in cells from its kept records.

Counting them reads the council's kept files (``collectors``), which the burden itself (``exports``) does not know;
so the counters are made here, above both, once.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from collectors.annex_a.build import annex_a_cells
from collectors.sen2.list1_cells import list1_cells
from collectors.sen2.records import KeptUnreadable
from exports.burden.answer import burden_answer
from exports.burden.report import AnnexCounter, List1Counter
from mappings.child_level import List1Cells
from onereturn.settings import Settings

log = logging.getLogger(__name__)


def _list1_or_none(engine: Engine, settings: Settings, code: str, on: date) -> List1Cells | None:
    """A council's List 1 cells; None (counted as no SEN2 file, and logged) where its kept file cannot be read, so one
    council's file never fails the burden of every agency."""
    try:
        return list1_cells(engine, settings, code, on)
    except KeptUnreadable:
        log.warning("the kept SEN2 file of %s cannot be read: its List 1 is left out of the burden", code)
        return None


def counters(session: Session, engine: Engine, settings: Settings) -> tuple[AnnexCounter, List1Counter]:
    """The counters of a council's Annex A and List 1 cells as at a day, reading its kept records."""
    return (
        lambda code, on: annex_a_cells(session, settings, code, on),
        lambda code, on: _list1_or_none(engine, settings, code, on),
    )


def burden_with_lists(
    session: Session, engine: Engine, settings: Settings, period: str | None, minutes: float, cell_minutes: float
) -> dict[str, Any]:
    """The burden answer for ``period``, each council's Annex A and List 1 cells beside its returns'."""
    annex_a, list1 = counters(session, engine, settings)
    return burden_answer(session, period, minutes, annex_a=annex_a, list1=list1, cell_minutes=cell_minutes)
