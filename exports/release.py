"""The release gate: a regulator sees a cell only once every agency whose figures make it has signed them off.

Every build a regulator can reach (its files, SDMX data, lineage, ``updated_after`` and ``as_of``)
passes through :func:`gate`, in the one place builds are made (``exports.service``). A cell made
from a figure that is not among those its agency vouched for, in a state that releases (signed
off; accepted where the return needs acceptance), carries no value: it shows the symbol
``...`` ("not yet signed off by <body>") and, in SDMX, CONF_STATUS ``N``. An officer can ask for
a preview with every figure; that build is never stored, so no regulator is ever served it.

An agency whose figures are official statistics it publishes itself (``published`` in its agency file,
such as ONS's population estimates behind every rate) signs nothing off: its publication is its
release, and its figures never hold a cell back.

Sign-off itself (its states, rules, queries and schemas) is in ``mappings.signoff``; this module keeps only
what a build asks of it, and the ungated build sign-off reads to know which figures are behind a return's
cells (``build_ungated``, passed to sign-off by its callers as ``builds``): builds are made here, above it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlmodel import Session, col, select

from exports.build import Builder, return_with_fields
from exports.built import UNSIGNED, BuiltReturn
from exports.symbols import NOT_SIGNED_OFF
from indicators.periods import utc
from indicators.store.models import Observation
from mappings.agencies import agency_names
from mappings.models import Return
from mappings.signoff.lineage import to_sign
from mappings.signoff.states import list_signoffs, releasing

#: Statuses whose cells show no figure of an agency, so there is nothing to hold back.
_NOTHING_TO_HOLD = ("missing", "different_method", "not_derivable")
#: What ``signed_again`` says of each changed cell before when, and by whom, it was signed off.
_SHOWN = ("cell_id", "field_code", "org_code", "org_name", "breakdown", "display", "status", "reason")


def build_ungated(session: Session, ret: Return, period: str, shared: dict[str, Any] | None = None) -> BuiltReturn:
    """A return built for a period with every figure, as sign-off reads it (``shared``: builders kept by period)."""
    fields = return_with_fields(session, ret.id)[1]
    if shared is None:
        builder = Builder(session, period, ret.period_type)
    elif period in shared:
        # Returns of one period read the same figures: the period's builder has them already (as ``build_all``).
        builder = shared[period]
    else:
        # The geography, owners and indicators are the same for every period: lent by a builder made before.
        builder = Builder(session, period, ret.period_type, sharing=next(iter(shared.values()), None))
        shared[period] = builder
    return builder.build(ret, fields, datetime.now(UTC))


def gate(
    session: Session, built: BuiltReturn, ret: Return, builder: Builder | None = None
) -> tuple[BuiltReturn, list[dict[str, Any]]]:
    """Hold back every cell made from a figure no releasing sign-off vouched for; say which sign-offs it releases.

    ``builder``: the one that built it, whose agencies' names and published sources, read once for the returns it
    builds, are used rather than read again."""
    rows = releasing(session, ret.id, built.period)
    included = [{"id": s.id, "agency": s.agency_code, "state": s.state, "digest": s.digest} for s in rows]
    lineage = built.lineage.select("cell_id", "observation_id", "agency_code")
    behind = to_sign(session, lineage, builder.published_sources if builder is not None else None)
    if behind.is_empty():
        return built, included
    vouched = [(s.agency_code, int(i)) for s in rows for i in s.figure_ids]
    # With no figure vouched for, every figure behind is unvouched (as the join below would find, in another order).
    unvouched = behind
    if vouched:
        ok = pl.DataFrame(
            vouched, schema={"agency_code": pl.String, "observation_id": pl.Int64}, orient="row"
        ).with_columns(pl.lit(True).alias("_ok"))
        unvouched = behind.join(ok, on=["agency_code", "observation_id"], how="left").filter(pl.col("_ok").is_null())
    if unvouched.is_empty():
        return built, included
    names = builder.agency_names if builder is not None else agency_names(session)
    signed = {
        s.agency_code: frozenset(s.figure_ids)
        for s in list_signoffs(session, return_id=ret.id, period=built.period)
        if s.signed_at is not None
    }
    since = pl.DataFrame(
        [(cell, agency, text) for (cell, agency), text in _since_signoff(session, unvouched, signed).items()],
        schema={"cell_id": pl.String, "agency_code": pl.String, "_since": pl.String},
        orient="row",
    )
    # Each held cell's reason, its agencies in code order: "not yet signed off by <name>[: what came since]; ...".
    said = pl.lit("not yet signed off by ") + pl.col("agency_code").replace_strict(
        names, default=pl.col("agency_code"), return_dtype=pl.String
    )
    owed = (
        unvouched.select("cell_id", "agency_code")
        .unique()
        .join(since, on=["cell_id", "agency_code"], how="left")
        .sort("cell_id", "agency_code")
        .group_by("cell_id", maintain_order=True)
        .agg(pl.concat_str(said, pl.lit(": ") + pl.col("_since"), ignore_nulls=True).str.join("; ").alias("_owed"))
    )
    cells = built.cells.join(owed, on="cell_id", how="left", maintain_order="left")
    hold = pl.col("_owed").is_not_null() & ~pl.col("status").is_in(_NOTHING_TO_HOLD)
    cells = cells.with_columns(
        *(
            pl.when(hold).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("value", "numerator", "denominator", "flag")
        ),
        pl.when(hold).then(pl.lit(NOT_SIGNED_OFF)).otherwise(pl.col("display")).alias("display"),
        pl.when(hold).then(pl.lit(UNSIGNED)).otherwise(pl.col("status")).alias("status"),
        pl.when(hold).then(pl.col("_owed")).otherwise(pl.col("reason")).alias("reason"),
    ).drop("_owed")
    completeness = {str(k): int(v) for k, v in cells.group_by("status").len().iter_rows()}
    return replace(built, cells=cells, completeness=completeness), included


def _since_signoff(
    session: Session, unvouched: pl.DataFrame, signed: dict[str, frozenset[int]]
) -> dict[tuple[str, str], str]:
    """For each cell held back whose agency has signed off before, which of its figures came after that sign-off:
    added or revised, by indicator. A figure the sign-off vouched for,
    held back because the sign-off no longer releases, did not come after it and is not named."""
    if not signed:
        return {}
    mine = unvouched.filter(pl.col("agency_code").is_in(list(signed)))
    if mine.is_empty():
        return {}
    before = pl.DataFrame(
        [(agency, i) for agency, ids in signed.items() for i in ids],
        schema={"agency_code": pl.String, "observation_id": pl.Int64},
        orient="row",
    )
    mine = mine.join(before, on=["agency_code", "observation_id"], how="anti")
    if mine.is_empty():
        return {}
    ids = mine["observation_id"].unique().to_list()
    kinds: dict[int, tuple[str, bool]] = {}
    for at in range(0, len(ids), 10_000):
        query = select(Observation.id, Observation.indicator_id, Observation.version).where(
            col(Observation.id).in_(ids[at : at + 10_000])
        )
        kinds.update({int(i): (str(ind), int(v) > 1) for i, ind, v in session.execute(query).all()})
    found: dict[tuple[str, str], dict[str, set[str]]] = {}
    for cell, figure_id, agency in mine.select("cell_id", "observation_id", "agency_code").iter_rows():
        indicator, revised = kinds.get(int(figure_id), ("", False))
        found.setdefault((str(cell), str(agency)), {}).setdefault("revised" if revised else "added", set()).add(
            indicator
        )
    return {
        key: " and ".join(f"{', '.join(sorted(parts[how]))} {how}" for how in ("revised", "added") if how in parts)
        + " after its last sign-off"
        for key, parts in found.items()
    }


def signed_again(session: Session, changed: BuiltReturn) -> list[dict[str, Any]]:
    """Each changed cell of a build with when it was last signed off, or, held back, whose sign-off it waits for.

    ``changed`` is a build cut to the cells changed since an instant (``exports.changes.changed_since``); a cell
    is as recent as the newest sign-off among the agencies whose figures make it.
    """
    rows = {s.agency_code: s for s in list_signoffs(session, return_id=changed.return_id, period=changed.period)}
    names = agency_names(session)
    behind: dict[str, set[str]] = {}
    for cell_id, agency in changed.lineage.select("cell_id", "agency_code").drop_nulls().iter_rows():
        behind.setdefault(str(cell_id), set()).add(str(agency))
    out: list[dict[str, Any]] = []
    for cell in changed.cell_records:
        signers: dict[str, datetime] = {}
        if cell["status"] != UNSIGNED:
            for agency in sorted(behind.get(cell["cell_id"], ())):
                row = rows.get(agency)
                if row is not None and row.signed_at is not None:
                    signers[names.get(agency, agency)] = utc(row.signed_at)
        latest = max(signers.values()) if signers else None
        out.append({**{k: cell[k] for k in _SHOWN}, "signed_off_at": latest, "signed_off_by": sorted(signers)})
    return out
