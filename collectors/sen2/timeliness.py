"""The council's 20-week timeliness year by year, its own beside DfE's: the share of new EHC plans issued within 20
weeks (exceptions included) from the figures its SEN2 files stored (``collectors/sen2/figures.py``) and from DfE's
release as the published intake read it (``mappings/published/dfe_ehcp_timeliness.toml``), each the catalogue's
``send.ehcp_20_weeks_pct`` worked out from its two counts, to one decimal place as DfE writes it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlmodel import Session, col, select

from indicators.published_query import published_figures
from indicators.store.models import Observation

ISSUED, WITHIN = "send.ehcp_issued", "send.ehcp_issued_20_weeks"


@dataclass(frozen=True)
class Year:
    """One calendar year's share within 20 weeks: the council's own and DfE's (None where either holds none)."""

    period: str
    own: float | None
    dfe: float | None


def _share(counts: dict[str, float | None]) -> float | None:
    issued, within = counts.get(ISSUED), counts.get(WITHIN)
    if not issued or within is None:
        return None
    return float((Decimal(100 * within) / Decimal(issued)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def timeliness_by_year(session: Session, org: str) -> list[Year]:
    """Each calendar year the council's own figures or DfE's give, oldest first."""
    own: dict[str, dict[str, float | None]] = {}
    rows = session.execute(
        select(Observation.period, Observation.indicator_id, Observation.value).where(
            col(Observation.indicator_id).in_([ISSUED, WITHIN]),
            col(Observation.org_code) == org,
            col(Observation.breakdown) == "",
            col(Observation.is_current),
        )
    )
    for period, indicator, value in rows:
        own.setdefault(period, {})[indicator] = value
    dfe: dict[str, dict[str, float | None]] = {}
    published = published_figures(session, indicator_ids=[ISSUED, WITHIN], org_codes=[org])
    for row in published.filter(published["breakdown"] == "").iter_rows(named=True):
        dfe.setdefault(row["period"], {})[row["indicator_id"]] = row["value"]
    periods = sorted(set(own) | set(dfe))
    return [Year(p, _share(own.get(p, {})), _share(dfe.get(p, {}))) for p in periods]
