"""What a regulator was sent and what changed since: cell digests per build, and builds as of an instant.

Every build records a short digest of each cell (what the recipient sees, and the stored figures
behind it). A later build compared with the build that was current at an instant says exactly
which cells changed since then: a revised figure, a cell newly filled, a cell newly suppressed
because a neighbour changed, a new definition. Builds are never deleted, so the build current at
any past instant, and its stored snapshots, stay available.
"""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from exports.built import CELL_SCHEMA, BuiltReturn
from exports.models import BuildCell, ExportSnapshot, LineageRow, ReturnBuild
from indicators.periods import utc
from indicators.published import PublishedFigure
from indicators.store.models import Observation
from onereturn.db import bulk_insert
from onereturn.errors import NotFound


def cell_digests(built: BuiltReturn) -> dict[str, str]:
    """Digest each cell: every column the recipient sees, plus the stored figures (and weights) behind it."""
    behind: dict[str, list[str]] = {}
    lineage = built.lineage
    # A publisher's figure is told apart from a stored one of the same id by its sign.
    figures = lineage.select(pl.coalesce("observation_id", -pl.col("published_figure_id")))
    for cell_id, figure_id, weight in zip(
        lineage["cell_id"].to_list(), figures.to_series().to_list(), lineage["weight"].to_list(), strict=True
    ):
        behind.setdefault(cell_id, []).append(f"{figure_id}:{weight!r}")
    digests: dict[str, str] = {}
    sha256, nothing = hashlib.sha256, ()
    cells = built.cells
    # Each column spelled as repr spells its values (the digests' spelling never changes), a column at a time; a
    # text or whole number spelled once for each distinct value (a column repeats a few: codes, units, statuses).
    # A float is spelled every time: 0.0 and -0.0 are equal keys, spelled differently.
    spelled = [
        list(map(repr, values)) if dtype.is_float() else _spelled_once(values)
        for values, dtype in ((cells.get_column(name).to_list(), cells.schema[name]) for name in CELL_SCHEMA)
    ]
    for cell_id, row in zip(cells.get_column("cell_id").to_list(), zip(*spelled, strict=True), strict=True):
        text = "\x1f".join(row) + "\x1e" + ",".join(sorted(behind.get(str(cell_id), nothing)))
        digests[str(cell_id)] = sha256(text.encode()).hexdigest()[:32]
    return digests


def _spelled_once(values: list[Any]) -> list[str]:
    """``repr`` of each value, worked out once for each distinct value (texts, whole numbers, None)."""
    known: dict[Any, str] = {}
    return [known[v] if v in known else known.setdefault(v, repr(v)) for v in values]


def record_cells(session: Session, build_id: int, built: BuiltReturn, *, pending: ExitStack | None = None) -> None:
    """Store the cell digests of a new build (see ``bulk_insert`` for ``pending``)."""
    digests = cell_digests(built)
    if digests:
        rows = ((build_id, cell_id, digest) for cell_id, digest in digests.items())
        bulk_insert(session, BuildCell.__tablename__, ("build_id", "cell_id", "digest"), [rows], pending=pending)


def build_at(session: Session, return_id: str, period: str, instant: datetime) -> ReturnBuild | None:
    """Return the build of a return for a period that was current at an instant (the last one made by then)."""
    stmt = (
        select(ReturnBuild)
        .where(
            ReturnBuild.return_id == return_id,
            ReturnBuild.period == period,
            col(ReturnBuild.generated_at) <= utc(instant),
        )
        .order_by(col(ReturnBuild.generated_at).desc(), col(ReturnBuild.id).desc())
    )
    return session.execute(stmt).scalars().first()


def changed_since(session: Session, record: ReturnBuild, built: BuiltReturn, instant: datetime) -> BuiltReturn:
    """Keep only the cells of a build that differ from the build current at ``instant`` (all of them if none was)."""
    base = build_at(session, record.return_id, record.period, instant)
    if base is None or base.id is None:
        return built
    if base.id == record.id:
        return _only(built, set())
    rows = session.execute(select(BuildCell.cell_id, BuildCell.digest).where(BuildCell.build_id == base.id)).all()
    old = {str(cell): str(digest) for cell, digest in rows}
    if not old:
        # The build current then predates cell digests: nothing says what it showed, so send everything.
        return built
    changed = {cell for cell, digest in cell_digests(built).items() if old.get(cell) != digest}
    return _only(built, changed)


def _only(built: BuiltReturn, cells: set[str]) -> BuiltReturn:
    keep = sorted(cells)
    kept = built.cells.filter(pl.col("cell_id").is_in(keep))
    completeness = {str(k): int(v) for k, v in kept.group_by("status").len().iter_rows()}
    return replace(
        built, cells=kept, lineage=built.lineage.filter(pl.col("cell_id").is_in(keep)), completeness=completeness
    )


def snapshot_at(session: Session, return_id: str, period: str, fmt: str, instant: datetime) -> ExportSnapshot:
    """Return the stored snapshot, in one format, of the build that was current at ``instant``."""
    record = build_at(session, return_id, period, instant)
    if record is None or record.id is None:
        raise NotFound(f"No build of {return_id} for {period} had been made by {utc(instant).isoformat()}")
    stored: ExportSnapshot | None = session.execute(
        select(ExportSnapshot)
        .where(ExportSnapshot.build_id == record.id, ExportSnapshot.format == fmt)
        .options(defer(ExportSnapshot.data))  # type: ignore[arg-type]
    ).scalar_one_or_none()
    if stored is None:
        made = sorted(
            session.execute(select(ExportSnapshot.format).where(ExportSnapshot.build_id == record.id)).scalars()
        )
        formats = ", ".join(made) if made else "none"
        raise NotFound(
            f"The build of {return_id} for {period} current at {utc(instant).isoformat()} "
            f"(made {utc(record.generated_at).isoformat()}) was never written as {fmt}; it was written as: {formats}"
        )
    return stored


def built_periods(session: Session, return_id: str) -> list[str]:
    """List the periods of a return that have been built (released) at least once."""
    rows = session.execute(select(ReturnBuild.period).where(ReturnBuild.return_id == return_id).distinct())
    return sorted(str(p) for p in rows.scalars())


def reopened_builds(session: Session) -> list[tuple[ReturnBuild, list[str]]]:
    """List each return's latest build whose figures were revised since, with the revised figures."""
    latest: dict[tuple[str, str], ReturnBuild] = {}
    for build in session.execute(select(ReturnBuild).order_by(col(ReturnBuild.id))).scalars():
        latest[(build.return_id, build.period)] = build
    out = []
    for build in latest.values():
        rows = list(
            session.execute(
                select(Observation.indicator_id, Observation.org_code, Observation.period)
                .join(LineageRow, col(LineageRow.observation_id) == col(Observation.id))
                .where(LineageRow.build_id == build.id, col(Observation.is_current).is_(False))
            ).all()
        )
        # A publisher's figure filling a cell is revised by the publisher's later release as a stored one by an upload.
        rows += session.execute(
            select(PublishedFigure.indicator_id, PublishedFigure.org_code, PublishedFigure.period)
            .join(LineageRow, col(LineageRow.published_figure_id) == col(PublishedFigure.id))
            .where(LineageRow.build_id == build.id, col(PublishedFigure.is_current).is_(False))
        ).all()
        if rows:
            out.append((build, sorted({f"{i} {o} {p}" for i, o, p in rows})))
    return out
