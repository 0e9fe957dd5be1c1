"""Import one release of a publisher's data set: keep the raw file, read it in the publisher's own format, and
store every figure as the publisher's, through the store's own writer (revisions, rebuilds, sign-offs).

Where the publisher is the figure's designated source (ONS for the population), the figure goes into the
store as any upload's does. Where another body answers for the cell (a council's own count of its looked-after
children), the publisher's figure is kept beside it in ``published_figure`` and never replaces it. Either way
every figure keeps its release, file and row; a release is stored whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from collectors import lease
from collectors.published.read import FIGURE_SCHEMA, PublishedFormatError, read_published
from collectors.published.sources import SourceSpec
from collectors.service import keep_raw
from collectors.spine import CutOff
from collectors.store import COMPARED, KEY, current_for_keys, split_changes, storing, write_figures
from indicators.models import Submission
from indicators.published import PublishedFigure, PublishedRelease
from mappings.models import Agency, AgencyIndicator, AgencyOrg, OrgUnit
from onereturn import audittrail, db
from onereturn.settings import Settings

_TABLE: Any = PublishedFigure.__table__  # type: ignore[attr-defined]
#: Figures inserted into ``published_figure`` per statement.
_INSERT_BATCH = 5_000


@dataclass
class Imported:
    """What one import did: the release (new, or the one already read from the same bytes)."""

    release: PublishedRelease
    duplicate: bool = False


def read_release(spec: SourceSpec, data: bytes) -> tuple[pl.DataFrame, int]:
    """Read a publisher's file into figures, refusing one whose layout or values are not what ``spec`` declares."""
    figures, rows = read_published(spec, data)
    if figures.height == 0:
        # A file for another data set (another Fingertips indicator, another table) reads as no figure at all.
        wanted = "; ".join(f"{fig.indicator} where {fig.where or 'any row'}" for fig in spec.figure)
        raise PublishedFormatError(
            f"{spec.file}: none of its {rows} row(s) is one source {spec.id!r} reads ({wanted}): is it the right "
            "file for this source? Nothing was stored"
        )
    dup = figures.filter(pl.struct(KEY).is_duplicated())
    if dup.height:
        first = dup.row(0, named=True)
        raise PublishedFormatError(
            f"{spec.file}: {first['indicator_id']} for {first['org_code']} {first['period']} is given twice "
            f"(rows {', '.join(str(r) for r in dup['file_row'].head(4).to_list())}); nothing was stored"
        )
    return figures, rows


def import_release(
    engine: Engine,
    settings: Settings,
    spec: SourceSpec,
    data: bytes,
    *,
    filename: str,
    fetched_from: str,
    version: str = "",
    release_date: str = "",
    submitted_by: str = "",
    audit: dict[str, Any] | None = None,
) -> Imported:
    """Import one release of ``spec``'s data set from the publisher's file ``data``, whole or not at all, with its
    ``audit`` event when given (who, the action, from where and the object) in the same transaction."""
    digest, raw_path = keep_raw(settings, data)
    with Session(engine) as session:
        known = _release_of(session, spec.id, digest)
    if known is not None:
        return Imported(known, duplicate=True)
    figures, rows_read = read_release(spec, data)
    now = datetime.now(UTC)
    submission = Submission(
        agency_code=spec.publisher,
        filename=filename,
        source_format="csv",
        size_bytes=len(data),
        content_hash=digest,
        raw_path=str(raw_path),
        received_at=now,
        mode="default",
        status="storing",
        kind="published",
        rows_read=rows_read,
        submitted_by=submitted_by or f"published: {fetched_from}",
        # Held and renewed while the import stores, as an upload's is: the sweep of cut-off uploads
        # (lease.mark_expired) called an import still waiting for the store's lock interrupted.
        lease_owner=lease.worker_id(),
        lease_until=lease.expiry(settings.upload_lease_seconds),
    )
    with Session(engine, expire_on_commit=False) as session:
        _ensure_publisher(session, spec, now)
        session.add(submission)
        session.commit()
    assert submission.id is not None
    try:
        with lease.held(engine, submission.id, settings.upload_lease_seconds):
            release = _store(
                engine, spec, submission, figures, rows_read, now, (fetched_from, version, release_date), audit
            )
    except BaseException as exc:
        with Session(engine) as session:
            session.execute(
                update(Submission)
                # Only while unfinished: a commit whose answer was lost with its connection may have stored it.
                .where(col(Submission.id) == submission.id, col(Submission.status).in_(lease.UNFINISHED))
                .values(status="failed", message=f"nothing was stored: {exc}"[:2000], finished_at=datetime.now(UTC))
            )
            session.commit()
        raise
    return Imported(release)


def _store(
    engine: Engine,
    spec: SourceSpec,
    submission: Submission,
    figures: pl.DataFrame,
    rows_read: int,
    now: datetime,
    whence: tuple[str, str, str],
    audit: dict[str, Any] | None,
) -> PublishedRelease:
    assert submission.id is not None
    fetched_from, version, release_date = whence
    with Session(engine) as session:
        known_orgs = set(session.execute(select(OrgUnit.code)).scalars())
        others = _answered_by_others(session, spec.publisher, figures["indicator_id"].unique().to_list())
    in_geography = figures.filter(pl.col("org_code").is_in(list(known_orgs)))
    skipped = figures.height - in_geography.height
    # A row under a code the geography lacks is stored nowhere, and said so: its code and how many figures it had.
    unknown = dict(
        figures.filter(~pl.col("org_code").is_in(list(known_orgs)))["org_code"].value_counts(sort=True).iter_rows()
    )
    # A cell another body answers for stays that body's: the publisher's figure only sits beside it.
    in_geography = (
        in_geography.join(others, on=["indicator_id", "org_code"], how="left")
        .with_columns(pl.when(pl.col("_other")).then(pl.lit("beside")).otherwise(pl.lit("store")).alias("stored_as"))
        .drop("_other")
    )
    owned = in_geography.filter(pl.col("stored_as") == "store").drop("stored_as")
    with db.writer(engine), storing(engine, submission.id, owned) as session:
        changed, unchanged = split_changes(owned, current_for_keys(session, owned))
        write_figures(session, changed, submission_id=submission.id, recorded_at=now)
        revised = int(changed["obs_id"].is_not_null().sum())
        release = PublishedRelease(
            source_id=spec.id,
            publisher=spec.publisher,
            dataset=spec.ees_data_set or spec.file,
            version=version,
            release_date=release_date,
            filename=submission.filename,
            content_hash=submission.content_hash,
            raw_path=submission.raw_path,
            size_bytes=submission.size_bytes,
            fetched_from=fetched_from,
            fetched_at=now,
            submission_id=submission.id,
            rows_read=rows_read,
            figures=figures.height,
            stored_new=changed.height - revised,
            stored_revised=revised,
            skipped=skipped,
            unknown_areas={str(code): int(n) for code, n in sorted(unknown.items())},
        )
        session.add(release)
        session.flush()
        assert release.id is not None
        beside, same = _keep_figures(session, spec.publisher, in_geography, release.id, now)
        release.beside = beside
        release.unchanged = same
        release.message = (
            f"{figures.height} figure(s) read from {rows_read} row(s): {changed.height - revised} new and {revised} "
            f"revised in the store as {spec.publisher}'s, {beside} new or revised beside another body's figure, "
            f"{same} unchanged; {skipped} for an area the geography does not hold{_named(unknown)}"
        )
        finished = session.execute(
            update(Submission)
            .where(col(Submission.id) == submission.id, col(Submission.status) == "storing")
            .values(
                status="accepted",
                message=release.message,
                finished_at=datetime.now(UTC),
                rows_accepted=owned.height,
                rows_new=changed.height - revised,
                rows_revised=revised,
                rows_unchanged=unchanged.height,
            )
        )
        if not finished.rowcount:  # type: ignore[attr-defined]
            # Marked cut off meanwhile (its lease ran out): it is someone else's to run again now.
            session.rollback()
            raise CutOff(f"import {submission.id} was marked interrupted while it stored; nothing of it was stored")
        if audit is not None:
            named = str(audit.get("object", "")).replace("{id}", str(release.id))
            audittrail.record(
                session, **{**audit, "object": named}, outcome="ok", status=201, detail=release.message or ""
            )
        # A commit whose answer is lost with its connection is asked after, by the release's own hash.
        if db.commit_verified(session, lambda again: _release_of(again, spec.id, submission.content_hash) is not None):
            with Session(engine, expire_on_commit=False) as again:
                found = _release_of(again, spec.id, submission.content_hash)
            assert found is not None
            return found
    return release


#: Unknown area codes a release's message names; the release keeps them all.
_NAMED = 10


def _named(unknown: dict[str, int]) -> str:
    """The unknown area codes for a message, most figures first: ' (not stored: E08000039, 12 figures; ...)'."""
    if not unknown:
        return ""
    shown = sorted(unknown.items(), key=lambda item: (-item[1], item[0]))
    text = "; ".join(f"{code}, {n} figure(s)" for code, n in shown[:_NAMED])
    more = f"; and {len(shown) - _NAMED} more area(s)" if len(shown) > _NAMED else ""
    return f" (not stored: {text}{more})"


def _release_of(session: Session, source_id: str, digest: str) -> PublishedRelease | None:
    """The release of ``source_id`` read from the bytes of hash ``digest``, if one is stored."""
    return session.execute(
        select(PublishedRelease).where(
            col(PublishedRelease.source_id) == source_id, col(PublishedRelease.content_hash) == digest
        )
    ).scalar_one_or_none()


def _ensure_publisher(session: Session, spec: SourceSpec, now: datetime) -> None:
    """Make the publisher's agency if the deployment has none of its code: a body that publishes its figures
    itself, so nobody signs them off again (a deployment without the demo's agencies still gets ONS's population)."""
    if session.get(Agency, spec.publisher) is not None:
        return
    session.add(
        Agency(
            code=spec.publisher,
            name=spec.publisher_name,
            body_type="publisher",
            source=spec.page,
            origin="published",
            definition={"orgs": [], "returns": [], "indicators": [], "published": spec.published},
            created_at=now,
            updated_at=now,
        )
    )
    session.flush()


def _answered_by_others(session: Session, publisher: str, indicators: list[str]) -> pl.DataFrame:
    """The (indicator, org) cells of ``indicators`` another agency than the publisher is the designated source of."""
    rows = session.execute(
        sa_select(col(AgencyIndicator.indicator_id), col(AgencyOrg.org_code))
        .join(AgencyOrg, col(AgencyOrg.agency_code) == col(AgencyIndicator.agency_code))
        .where(col(AgencyIndicator.agency_code) != publisher, col(AgencyIndicator.indicator_id).in_(indicators))
        .distinct()
    ).all()
    schema = {"indicator_id": pl.String, "org_code": pl.String, "_other": pl.Boolean}
    return pl.DataFrame([(i, o, True) for i, o in rows], schema=schema, orient="row")


def _keep_figures(
    session: Session, publisher: str, figures: pl.DataFrame, release_id: int, now: datetime
) -> tuple[int, int]:
    """Record every figure of the release that is new or changed for the publisher, retiring what it replaces;
    return how many beside figures were recorded, and how many figures were unchanged."""
    current = _current_published(session, publisher, figures)
    joined = figures.join(current.rename({c: f"cur_{c}" for c in COMPARED}), on=KEY, how="left")
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"cur_{c}")) for c in COMPARED)
    changed = joined.filter(pl.col("pub_id").is_null() | ~same).with_columns(
        (pl.col("pub_version").fill_null(0) + 1).alias("version")
    )
    retired = changed["pub_id"].drop_nulls().to_list()
    for start in range(0, len(retired), _INSERT_BATCH):
        session.execute(
            update(PublishedFigure)
            .where(col(PublishedFigure.id).in_(retired[start : start + _INSERT_BATCH]))
            .values(is_current=False)
        )
    rows: list[dict[str, Any]] = changed.select(
        *KEY,
        "version",
        *COMPARED,
        "stored_as",
        "file_row",
        pl.lit(publisher).alias("publisher"),
        pl.lit(release_id).alias("release_id"),
        pl.lit(True).alias("is_current"),
        pl.lit(now).alias("recorded_at"),
    ).to_dicts()
    for start in range(0, len(rows), _INSERT_BATCH):
        # Into the table itself, not through the ORM's bulk insert, which splits the rows by which columns are
        # empty (a statement per few rows: 1.8 s of a 4,000-figure release, against 0.1 s as one executemany).
        session.execute(insert(_TABLE), rows[start : start + _INSERT_BATCH])
    beside = int((changed["stored_as"] == "beside").sum())
    return beside, figures.height - changed.height


def _current_published(session: Session, publisher: str, figures: pl.DataFrame) -> pl.DataFrame:
    schema = {**{k: FIGURE_SCHEMA[k] for k in (*KEY, *COMPARED)}, "pub_id": pl.Int64, "pub_version": pl.Int64}
    indicators = figures["indicator_id"].unique().to_list()
    if not indicators:
        return pl.DataFrame(schema=schema)
    pub = PublishedFigure
    found = session.execute(
        sa_select(
            col(pub.indicator_id),
            col(pub.org_code),
            col(pub.period),
            col(pub.breakdown),
            col(pub.value),
            col(pub.numerator),
            col(pub.denominator),
            col(pub.symbol),
            col(pub.flag),
            col(pub.status),
            col(pub.id),
            col(pub.version),
        ).where(
            col(PublishedFigure.publisher) == publisher,
            col(PublishedFigure.is_current),
            col(PublishedFigure.indicator_id).in_(indicators),
        )
    ).all()
    return pl.DataFrame([tuple(r) for r in found], schema=schema, orient="row")
