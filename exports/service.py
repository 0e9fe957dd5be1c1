"""Build returns into immutable snapshots, and read snapshots and their lineage back."""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import BindParameter, ScalarSelect, func
from sqlalchemy import select as columns
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from exports import blobs, release
from exports.build import Builder, return_with_fields
from exports.built import UNSIGNED, WITHHELD, BuiltReturn
from exports.changes import record_cells
from exports.models import ExportSnapshot, LineageRow, ReturnBuild
from exports.writers import FORMATS, write, write_all
from indicators.models import CatalogueVersion
from indicators.periods import parse_period
from indicators.published import PublishedFigure, PublishedRelease
from indicators.store.models import Observation, Submission
from mappings.models import AgencyOrg, BuildRevision, Return
from mappings.signoff.lineage import key_digest, store_key
from mappings.signoff.models import SignOffEvent
from mappings.validity import check_period
from onereturn.db import advisory_key, bulk_insert
from onereturn.errors import InvalidInput, NotFound


@dataclass(frozen=True)
class Snapshot:
    """A stored export: its id, build, format and bytes."""

    id: int
    build_id: int
    return_id: str
    period: str
    format: str
    content_hash: str
    generated_at: datetime
    data: bytes
    created: bool


def fingerprint(built: BuiltReturn, released: list[dict[str, Any]] | None = None) -> str:
    """Hash what a build says (cells, lineage, definitions version, sign-offs released), not when it was made."""
    digest = hashlib.sha256()
    digest.update(f"{built.return_id}|{built.period}|{built.catalogue_version}|{built.suppression}".encode())
    for signoff in released or []:
        digest.update(f"|signoff {signoff['id']} {signoff['state']} {signoff['digest']}".encode())
    digest.update(built.cells.drop("org_name").write_csv().encode())
    digest.update(
        built.lineage.select("cell_id", "observation_id", "published_figure_id", "version", "weight")
        .sort("cell_id", "observation_id", "published_figure_id")
        .write_csv()
        .encode()
    )
    return digest.hexdigest()


def mark_parts(return_id: str | BindParameter[str], period: str | BindParameter[str]) -> list[ScalarSelect[Any]]:
    """What a source mark is made of, as scalar subqueries: the (return, period)'s change counter, the count of the
    agencies' org links, the catalogue version, the newest sign-off transition. The pull's freshness check reads the
    same parts in its own query."""
    counter = (
        columns(col(BuildRevision.revision))
        .where(col(BuildRevision.return_id) == return_id, col(BuildRevision.period) == period)
        .scalar_subquery()
    )
    links = columns(func.count()).select_from(AgencyOrg).scalar_subquery()
    version = (
        columns(col(CatalogueVersion.content_hash)).order_by(col(CatalogueVersion.id).desc()).limit(1).scalar_subquery()
    )
    signed = (
        columns(func.max(col(SignOffEvent.id)))
        .where(col(SignOffEvent.return_id) == return_id, col(SignOffEvent.period) == period)
        .scalar_subquery()
    )
    return [counter, links, version, signed]


def source_mark(session: Session, return_id: str, period: str) -> str:
    """Summarise what a build depends on in O(1), in one read: see ``mark_parts``."""
    counter, links, catalogue_hash, signed = session.execute(columns(*mark_parts(return_id, period))).one()
    return mark_of(counter, links, catalogue_hash or "", signed)


def mark_of(counter: int | None, links: int, catalogue_hash: str, signed: int | None = None) -> str:
    """Compose a source mark from its parts (``mark_parts``)."""
    # A build made before its counter existed reads "r-", so it is stale once counting starts.
    return f"r{'-' if counter is None else counter}:{links}:{catalogue_hash[:16]}:s{signed or 0}"


def _latest(session: Session, return_id: str, period: str) -> ReturnBuild | None:
    stmt = select(ReturnBuild).where(ReturnBuild.return_id == return_id, ReturnBuild.period == period)
    return session.execute(stmt.order_by(col(ReturnBuild.id).desc())).scalars().first()


def build(
    session: Session, return_id: str, period: str, *, builder: Builder | None = None, mark: str | None = None
) -> tuple[ReturnBuild, BuiltReturn]:
    """Build a return for a period, reusing the last build when nothing it shows has changed (``mark``: the source
    mark to store with it, read by the caller before the build; its ``source_mark`` when not given)."""
    with ExitStack() as pending:
        record, built, _ = _build(session, return_id, period, builder, pending, mark)
    return record, built


def current_build(session: Session, return_id: str, period: str) -> ReturnBuild:
    """The last build of a return for a period while nothing it depends on has changed (its source mark), else a new
    one: what a page showing a return's completeness reads, without building the return on every view."""
    check_period(session, return_id, period)
    ret = session.get(Return, return_id)
    assert ret is not None
    canonical = parse_period(period, ret.period_type).code  # type: ignore[arg-type]
    last = _latest(session, return_id, canonical)
    mark = source_mark(session, return_id, canonical)
    if mark.startswith("r-"):
        # Without its counter ("r-", never pulled) nothing in the mark says the figures behind it changed: the
        # store's key does (every figure, the catalogue, agencies and links), read before the build so a change
        # during it is not missed. A pull's mark never ends so: it builds again, as it did on "r-".
        mark = f"{mark}:k{key_digest(store_key(session))[:24]}"
    if last is not None and last.source_mark == mark:
        return last
    return build(session, return_id, canonical, mark=mark)[0]


def _build(
    session: Session, return_id: str, period: str, builder: Builder | None, pending: ExitStack, mark: str | None = None
) -> tuple[ReturnBuild, BuiltReturn, bool]:
    """``build``, saying whether the build is new; on PostgreSQL its lineage is still being stored when it
    returns, until ``pending`` closes (the connection must wait for that)."""
    check_period(session, return_id, builder.period.code if builder is not None else period)
    ret, fields = return_with_fields(session, return_id)
    if builder is None:
        builder = Builder(session, period, ret.period_type)
    elif builder.period.type != ret.period_type:
        raise InvalidInput(
            f"{return_id} is a {ret.period_type.replace('_', ' ')} return; {period} is a {builder.period.type.replace('_', ' ')}"
        )
    mark = mark or source_mark(session, return_id, builder.period.code)
    now = datetime.now(UTC)
    built, released = release.gate(session, builder.build(ret, fields, now), ret, builder)
    print_ = fingerprint(built, released)
    last = _latest(session, return_id, built.period)
    if last is not None and last.fingerprint == print_:
        last.source_mark = mark
        return last, _with_time(built, last.generated_at), False
    record = ReturnBuild(
        return_id=return_id,
        period=built.period,
        fingerprint=print_,
        source_mark=mark,
        generated_at=now,
        catalogue_version=built.catalogue_version,
        cell_count=built.cells.height,
        completeness=built.completeness,
        signoffs=released,
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    record_cells(session, record.id, built, pending=pending)
    if built.lineage.height:
        # A cell held back for sign-off is withheld like a suppressed one: only an officer sees what is behind it.
        # Which of the two it is, and the cell's own reason when it waits for a sign-off, so a regulator's
        # lineage never calls a cell held for sign-off suppressed.
        hidden = built.cells.filter(pl.col("status").is_in(WITHHELD)).select(
            "cell_id",
            pl.col("status").alias("withheld"),
            pl.when(pl.col("status") == UNSIGNED).then(pl.col("reason")).otherwise(None).alias("withheld_reason"),
        )
        rows = (
            built.lineage.select("cell_id", "field_code", "org_code", "observation_id", "published_figure_id", "weight")
            .join(hidden, on="cell_id", how="left", maintain_order="left")
            .with_columns(
                pl.col("withheld").is_not_null().alias("suppressed"),
                pl.col("withheld").fill_null(""),
                pl.col("withheld_reason").fill_null(""),
            )
        )
        # The driver's bulk path (COPY on PostgreSQL): plain tuples, no dict or ORM bookkeeping per row.
        columns = (
            "build_id",
            "cell_id",
            "field_code",
            "org_code",
            "observation_id",
            "published_figure_id",
            "weight",
            "suppressed",
            "withheld",
            "withheld_reason",
        )
        bulk_insert(
            session,
            LineageRow.__tablename__,
            columns,
            [rows.with_columns(pl.lit(record.id).alias("build_id")).select(columns).iter_rows()],
            # Left open: PostgreSQL checks each row's keys (about a third of a second for a year's returns)
            # while the caller writes the files, on a core of its own.
            pending=pending,
        )
    return record, built, True


def _with_time(built: BuiltReturn, generated_at: datetime) -> BuiltReturn:
    from dataclasses import replace

    stamp = generated_at if generated_at.tzinfo else generated_at.replace(tzinfo=UTC)
    # The same instant keeps the same object, and with it the rows the writers have already read.
    return built if stamp == built.generated_at else replace(built, generated_at=stamp)


def _stored(session: Session, build_id: int, fmt: str) -> ExportSnapshot | None:
    # Without its bytes, which _as_snapshot reads through the snapshot cache.
    stmt = (
        select(ExportSnapshot)
        .where(ExportSnapshot.build_id == build_id, ExportSnapshot.format == fmt)
        .options(defer(ExportSnapshot.data))  # type: ignore[arg-type]
    )
    return session.execute(stmt).scalars().first()


def _as_snapshot(session: Session, stored: ExportSnapshot, record: ReturnBuild, return_id: str) -> Snapshot:
    """A stored snapshot as returned, its bytes read through the snapshot cache."""
    assert stored.id is not None
    assert record.id is not None
    return Snapshot(
        stored.id,
        record.id,
        return_id,
        record.period,
        stored.format,
        stored.content_hash,
        record.generated_at,
        blobs.snapshot_bytes(session.connection(), stored.id, stored.content_hash),
        False,
    )


#: The class of PostgreSQL's per-(return, period) build locks (the two-key form, a key space of its own).
BUILD_LOCK_CLASS = 0x0E7F


def _lock_build(session: Session, return_id: str, period: str) -> None:
    """On PostgreSQL, let one transaction at a time, in any process, build or add formats to a (return, period).

    Each process shares a build among its own requests (``freshness.GATE``), but two API workers or the
    scheduler could each find a format missing from the same current build and both write it: the
    second met the unique key and its pull failed. Held to the commit, the second then finds the
    first's snapshot. SQLite has one writer at a time anyway.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        key = advisory_key(return_id, period)
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s, %s)", (BUILD_LOCK_CLASS, key))


def snapshots(
    session: Session, return_id: str, period: str, formats: list[str], *, builder: Builder | None = None
) -> list[Snapshot]:
    """Return the current snapshots of a return for a period in several formats, building at most once."""
    for fmt in formats:
        if fmt not in FORMATS:
            raise InvalidInput(f"Unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    check_period(session, return_id, builder.period.code if builder is not None else period)
    canonical = (builder.period if builder is not None else parse_period(period)).code
    _lock_build(session, return_id, canonical)
    last = _latest(session, return_id, canonical)
    if last is not None and last.id is not None and last.source_mark == source_mark(session, return_id, canonical):
        found = [_stored(session, last.id, fmt) for fmt in formats]
        if all(s is not None for s in found):
            return [_as_snapshot(session, s, last, return_id) for s in found if s is not None]
    with ExitStack() as pending:
        record, built, new = _build(session, return_id, period, builder, pending)
        assert record.id is not None
        # One built return for every format: the writers share the rows it has read once. A new build
        # has nothing stored yet, so they write without asking the store (whose connection is still
        # taking the build's lineage), two at a time; a build reused may have some formats stored already.
        stamped = _with_time(built, record.generated_at)
        written = write_all(stamped, formats) if new else {}
    made: dict[str, Snapshot] = {}
    for fmt in formats:
        if fmt in made:  # a format asked for twice is stored once
            continue
        stored = None if new else _stored(session, record.id, fmt)
        if stored is not None:
            made[fmt] = _as_snapshot(session, stored, record, return_id)
            continue
        data = written[fmt] if new else write(stamped, fmt)  # type: ignore[arg-type]
        snapshot_id, content_hash = blobs.store(session.connection(), record.id, fmt, data, datetime.now(UTC))
        made[fmt] = Snapshot(
            snapshot_id, record.id, return_id, record.period, fmt, content_hash, record.generated_at, data, True
        )
    return [made[fmt] for fmt in formats]


def preview(session: Session, return_id: str, period: str, fmt: str) -> tuple[BuiltReturn, bytes]:
    """Build a return for a period with every figure, signed off or not, and write it; nothing is stored.

    An officer's look at what the return will hold once every agency has signed off: never a
    snapshot, so no regulator's pull, ``as_of`` or lineage can reach it.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    check_period(session, return_id, period)
    ret, fields = return_with_fields(session, return_id)
    built = Builder(session, period, ret.period_type).build(ret, fields, datetime.now(UTC))
    return built, write(built, fmt)


def snapshot(session: Session, return_id: str, period: str, fmt: str, *, builder: Builder | None = None) -> Snapshot:
    """Return the current snapshot of a return for a period in one format, building it if needed."""
    return snapshots(session, return_id, period, [fmt], builder=builder)[0]


def get_snapshot(session: Session, snapshot_id: int, *, with_data: bool = True) -> Snapshot:
    """Return a stored snapshot by id (its bytes empty unless ``with_data``), or raise NotFound."""
    row = session.execute(
        select(ExportSnapshot, ReturnBuild)
        .join(ReturnBuild, col(ReturnBuild.id) == col(ExportSnapshot.build_id))
        .where(ExportSnapshot.id == snapshot_id)
        .options(defer(ExportSnapshot.data))  # type: ignore[arg-type]
    ).first()
    if row is None:
        raise NotFound(f"Export snapshot {snapshot_id} does not exist")
    snap, rec = row
    assert snap.id is not None
    assert rec.id is not None
    # The bytes only when asked for, and through the snapshot's cache: one may be a hundred megabytes.
    data = blobs.snapshot_bytes(session.connection(), snap.id, snap.content_hash) if with_data else b""
    return Snapshot(
        snap.id, rec.id, rec.return_id, rec.period, snap.format, snap.content_hash, rec.generated_at, data, False
    )


def list_snapshots(
    session: Session,
    *,
    return_id: str | None = None,
    period: str | None = None,
    return_ids: list[str] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[tuple[ExportSnapshot, ReturnBuild]], int]:
    """Return one page of stored snapshots, newest first (only of ``return_ids`` when given), and how many match."""
    from sqlalchemy import func

    where = []
    if return_id:
        where.append(col(ReturnBuild.return_id) == return_id)
    if period:
        where.append(col(ReturnBuild.period) == period)
    if return_ids is not None:
        where.append(col(ReturnBuild.return_id).in_(return_ids))
    joined = col(ReturnBuild.id) == col(ExportSnapshot.build_id)
    # Neither the count nor the page names the bytes: a snapshot may be a hundred megabytes.
    total = int(
        session.execute(
            columns(func.count()).select_from(ExportSnapshot).join(ReturnBuild, joined).where(*where)
        ).scalar_one()
    )
    stmt = (
        select(ExportSnapshot, ReturnBuild).join(ReturnBuild, joined).where(*where).options(defer(ExportSnapshot.data))  # type: ignore[arg-type]
    )
    rows = session.execute(stmt.order_by(col(ExportSnapshot.id).desc()).limit(limit).offset(offset)).all()
    return [(s, b) for s, b in rows], total


def lineage(
    session: Session,
    build_id: int,
    *,
    cell: str | None = None,
    field: str | None = None,
    org: str | None = None,
    limit: int = 1000,
    offset: int = 0,
    released_only: bool = False,
) -> tuple[list[dict[str, object]], int]:
    """Return the lineage rows of a build: each cell to the stored figure, upload and file row behind it.

    With ``released_only`` (anyone but an officer), a withheld cell is one row saying why (suppressed, or
    not yet signed off by its body), with no figure, value, submission or file row, and no stored
    figure's value is given for any cell.
    """
    from exports.disclosure import released_lineage

    asked = [col(LineageRow.build_id) == build_id]
    for column, wanted in ((LineageRow.cell_id, cell), (LineageRow.field_code, field), (LineageRow.org_code, org)):
        if wanted:
            asked.append(col(column) == wanted)
    stmt = (
        select(LineageRow, Observation, PublishedFigure, Submission)
        .join(Observation, col(Observation.id) == col(LineageRow.observation_id), isouter=True)
        .join(PublishedFigure, col(PublishedFigure.id) == col(LineageRow.published_figure_id), isouter=True)
        .join(PublishedRelease, col(PublishedRelease.id) == col(PublishedFigure.release_id), isouter=True)
        .join(
            Submission,
            col(Submission.id) == func.coalesce(col(Observation.submission_id), col(PublishedRelease.submission_id)),
            isouter=True,
        )
        .where(*asked)
    )
    hidden: list[dict[str, object]] = []
    if released_only:
        stmt = stmt.where(~col(LineageRow.suppressed))
        hidden = _withheld_lineage(session, asked)
    total = int(session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    rows = session.execute(
        stmt.order_by(col(LineageRow.cell_id), col(LineageRow.observation_id), col(LineageRow.published_figure_id))
        .limit(limit)
        .offset(offset)
    ).all()
    out = [_lineage_row(line, obs or pub, sub) for line, obs, pub, sub in rows]
    if not released_only:
        return out, total
    statuses = {str(row["cell_id"]): str(row["status"]) for row in hidden}
    reasons = {str(row["cell_id"]): str(row["reason"]) for row in hidden}
    shown = released_lineage(hidden + out if offset == 0 else out, statuses, kind="regulator", reasons=reasons)
    return shown, total + len(hidden)


def _withheld_lineage(session: Session, asked: list[Any]) -> list[dict[str, object]]:
    """One row per withheld cell of the lineage asked for, saying why, with nothing of the figure behind it."""
    stmt = columns(
        col(LineageRow.cell_id),
        col(LineageRow.field_code),
        col(LineageRow.org_code),
        col(LineageRow.withheld),
        col(LineageRow.withheld_reason),
    ).where(*asked, col(LineageRow.suppressed))
    # A row stored before the reason was kept reads as suppressed, as it was shown then.
    return [
        {"cell_id": c, "field_code": f, "org_code": o, "status": w or "suppressed", "reason": r}
        for c, f, o, w, r in session.execute(stmt.distinct().order_by(col(LineageRow.cell_id))).all()
    ]


def _lineage_row(line: LineageRow, figure: Observation | PublishedFigure, sub: Submission | None) -> dict[str, object]:
    """One cell's lineage: the stored figure (or the publisher's, its release the submission), the upload and the
    file row behind it."""
    published = isinstance(figure, PublishedFigure)
    return {
        "cell_id": line.cell_id,
        "field_code": line.field_code,
        "org_code": line.org_code,
        "weight": line.weight,
        "observation_id": None if published else figure.id,
        "published_figure_id": figure.id if published else None,
        "indicator_id": figure.indicator_id,
        "figure_org": figure.org_code,
        "figure_period": figure.period,
        "figure_breakdown": figure.breakdown,
        "value": figure.value,
        "version": figure.version,
        "submission_id": sub.id if sub else None,
        "agency_code": sub.agency_code if sub else None,
        "filename": sub.filename if sub else None,
        "file_row": figure.file_row,
    }
