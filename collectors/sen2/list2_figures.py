"""The looked-after children's school figures (county core data set items 3.02 to 3.04) a council's own school census
and SSDA903 estimate (``collectors.census.looked_after``), each with DfE's published figure for the council beside it,
as the API and the SEND team's page give them. An estimate is never stored, so no return reads it."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.annex_a.build import newest_sources, read_sources
from collectors.census.kept import newest_censuses
from collectors.census.lists import WINDOWS
from collectors.census.looked_after import NOT_PUBLISHED_HERE, Estimate, school_figures
from indicators.published_query import current_published
from mappings.illustrative import councils_of
from onereturn.errors import NotFound
from onereturn.settings import Settings

#: The publisher of DfE's statistics, whose looked-after children's figures sit beside the council's estimates.
DFE = "dfe_statistics"


def looked_after_estimates(session: Session, engine: Engine, settings: Settings, code: str, on: date) -> dict[str, Any]:
    """The council's estimates of items 3.02 to 3.04 as at ``on`` with DfE's figures beside them; NotFound without
    an SSDA903 or a school census kept for the date."""
    sources = [s for s in newest_sources(session, code, on) if s.library == "903"]
    ssda903 = read_sources(session, settings, sources)[1] if sources else None
    if ssda903 is None:
        raise NotFound(f"{code} keeps no SSDA903 for a year begun on or before {on.isoformat()}")
    estimates = school_figures(newest_censuses(engine, settings, code, on), ssda903, on)
    if not estimates:
        raise NotFound(f"{code} keeps no school census of a day on or before {on.isoformat()}")
    orgs = {c.org for c in councils_of(session, code)}
    published = current_published(session, publisher=DFE, indicator_ids=[e.indicator_id for e in estimates]).filter(
        pl.col("org_code").is_in(sorted(orgs))
    )
    return {
        "agency": code,
        "inspection_date": on.isoformat(),
        "notes": [
            NOT_PUBLISHED_HERE,
            "Absence: " + WINDOWS["Absence"],
            "DfE's persistent absence is over six half terms",
        ],
        "items": [_beside(e, published) for e in estimates],
    }


def _beside(e: Estimate, published: pl.DataFrame) -> dict[str, Any]:
    """One estimate with DfE's figure for the same period beside it (None where DfE's is not held)."""
    theirs = published.filter((pl.col("indicator_id") == e.indicator_id) & (pl.col("period") == e.period))
    return {
        "item": e.item,
        "indicator": e.indicator_id,
        "period": e.period,
        "estimate": e.value,
        "counted": e.counted,
        "of": e.of,
        "coverage": e.coverage,
        "published": None if theirs.is_empty() else {"value": theirs["value"][0], "publisher": DFE},
    }
