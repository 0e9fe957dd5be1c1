"""The region's sufficiency table: each episode of care open on a date, from the councils that consent to the
``sufficiency`` use case, with the council that placed the child and the council whose area the placement is in
(its postcode read through ONS's postcode directory, then dropped), the provider and the placement type.

A council's newest SSDA903 holds its episodes to 31 March of its year: a council whose newest file's year does not
hold the date asked is left out and said so, rather than counted with episodes it cannot know are still open."""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.regions import onspd
from collectors.regions.childkey import region_keys
from collectors.regions.degrade import further
from collectors.regions.pooled import (
    Built,
    Pending,
    Reads,
    apply_policy,
    council_rows,
    empty,
    make,
    plan,
    table_policy,
)
from collectors.regions.sources import Held
from mappings.regions.forms import conform
from onereturn import clock
from onereturn.settings import Settings

#: The columns the service adds to each placement: the upper-tier council its postcode is in.
DERIVED = ("host_council",)


def placements(engine: Engine, settings: Settings, region: str, on: date | None = None) -> Built:
    """The placements open on ``on`` (default: the newest 31 March the councils' files hold), pooled by key."""
    return make(engine, settings, [pending_placements(engine, settings, region, on)])[0]


def pending_placements(engine: Engine, settings: Settings, region: str, on: date | None = None) -> Pending:
    """The placements table ready to be made by ``pooled.make`` with the build's other tables."""
    case, table = table_policy("sufficiency", "placements")
    today = clock.now().date()
    found, left = plan(engine, region, case, "903", today)
    held = [h for _, _, h in found if h is not None]
    on = on or max((h.year_end for h in held), default=None)
    covering = [h for h in held if on is not None and date(h.year_end.year - 1, 4, 1) <= on <= h.year_end]
    left += [
        f"{h.gss} ({h.council}): its newest SSDA903 is for {h.collection_year}, which does not hold {on}"
        for h in held
        if h not in covering
    ]
    with Session(engine) as session:
        directory = onspd.held(session)
    if directory is None:
        left.append(
            "ONS's postcode directory is not loaded (onereturn regions postcodes FILE): no host council is known"
        )
    keys = region_keys(engine, settings, region) if covering else None
    blanked: dict[str, int] = {}

    def part(source: Held, reads: Reads) -> pl.DataFrame:
        assert keys is not None
        assert on is not None
        given = council_rows(reads, keys, source, table, case, today)
        # Checked once cut to the episodes open on the date: the notes count what the table would have held.
        rows = given.filter((pl.col("DECOM") <= on) & (pl.col("DEC").is_null() | (pl.col("DEC") > on)))
        rows = conform(rows, table, blanked)
        with Session(engine) as session:
            host = onspd.hosts(session, rows["PL_POST"].to_list())
        rows = rows.with_columns(
            pl.Series("host_council", [host.get(p or "") for p in rows["PL_POST"].to_list()], dtype=pl.String)
        )
        return apply_policy(rows, table, DERIVED)

    def finish(frame: pl.DataFrame | None) -> pl.DataFrame:
        if frame is None:
            frame = empty(table).with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in DERIVED)
        return further(frame, table, case.degrade).sort(("council", "child_key", "DECOM"), nulls_last=True)

    return Pending(case, table, covering, left, part, finish, blanked)
