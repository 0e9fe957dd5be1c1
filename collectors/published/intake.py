"""Import one release of a publisher's data set: keep the raw file, read it in the publisher's own format, and
store every figure as the publisher's, through the store's own writer (revisions, rebuilds, sign-offs).

Where the publisher is the figure's designated source (ONS for the population), the figure goes into the
store as any upload's does. Where another body answers for the cell (a council's own count of its looked-after
children), the publisher's figure is kept beside it in ``published_figure`` and never replaces it. Either way
every figure keeps its release, file and row; a release is stored whole or not at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import Engine, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from collectors import door
from collectors.checks.checked import Validation, empty_problems
from collectors.door import head
from collectors.door.spine import Alongside, CutOff, Stored, audited, store_accepted
from collectors.published.check import Ruling, check_release, publisher_policy
from collectors.published.formats import no_areas, read_published
from collectors.published.read import FIGURE_SCHEMA, AreaLookup, PublishedFormatError
from collectors.published.sources import SourceSpec, load_sources
from collectors.published.viewit import area_lookup
from collectors.queries import answer
from collectors.store import COMPARED, KEY, in_key_order
from indicators.published import PublishedFigure, PublishedRelease
from indicators.published_query import current_published
from indicators.store.models import PUBLISHED_KIND, HeldFigure, Submission
from mappings.models import Agency, AgencyIndicator, AgencyOrg, OrgUnit
from mappings.revisions import mark_stale
from onereturn.errors import Conflict, InvalidInput, NotFound
from onereturn.settings import Settings

#: The way in that takes a publisher's release, as the door reads it and its row in the table of ways in holds it.
WAY = door.Way(
    "published",
    PUBLISHED_KIND,
    # A publisher's file is taken as one purpose, stored as the ``default`` mode.
    purposes={"release": "default"},
    # Read, checked and stored while the request (or the scheduled fetch) waits, its lease held and renewed as an
    # upload's is: the sweep of cut-off uploads (``collectors.door.lease.mark_expired``) leaves an import still
    # waiting for the store's lock alone.
    lease=door.Lease.REQUEST,
    # A release repeats the source's newest release read when it is the same bytes; read again while a later release
    # is the newest, it is applied again (the later one may have replaced its figures).
    repeat=door.Repeat(statuses=("accepted",), newest_of="published_source"),
    # The catalogue's errors and the change from the source's previous release, by the rounding the source declares;
    # not an agency's duties.
    policy=publisher_policy,
    # The publisher is no agency until its first release writes it (the entry's ``first``).
    agency=False,
    # Read and held to the catalogue's rules first: a file refused keeps nothing (it could be anything).
    reads_first=True,
)
#: Figures inserted into ``published_figure`` per statement.
_INSERT_BATCH = 5_000


@dataclass
class Imported:
    """What one import did: the release (new, or the one already read from the same bytes)."""

    release: PublishedRelease
    duplicate: bool = False


def read_release(
    spec: SourceSpec, data: bytes, *, filename: str = "", areas: AreaLookup = no_areas
) -> tuple[pl.DataFrame, int]:
    """Read a publisher's file into figures, refusing one whose layout or values are not what ``spec`` declares;
    a refusal names ``filename``, the file as uploaded (the source's own file name when none is given). ``areas``
    resolves the areas a file names rather than codes: the store's geography (``area_lookup``)."""
    named = spec.model_copy(update={"file": filename}) if filename else spec
    figures, rows = read_published(named, data, areas=areas)
    if figures.height == 0:
        # A file for another data set (another Fingertips indicator, another table) reads as no figure at all.
        wanted = "; ".join(f"{fig.indicator} where {fig.where or 'any row'}" for fig in spec.figure)
        raise PublishedFormatError(
            f"{named.file}: none of its {rows} row(s) is one source {spec.id!r} reads ({wanted}): is it the right "
            "file for this source? Nothing was stored"
        )
    dup = figures.filter(pl.struct(KEY).is_duplicated())
    if dup.height:
        first = dup.row(0, named=True)
        raise PublishedFormatError(
            f"{named.file}: {first['indicator_id']} for {first['org_code']} {first['period']} is given twice "
            f"(rows {', '.join(str(r) for r in dup['file_row'].head(4).to_list())}); nothing was stored"
        )
    return figures, rows


def columns_of(spec: SourceSpec) -> dict[str, str]:
    """The file's column each of a source's indicators is read from (its first, where several are)."""
    columns: dict[str, str] = {}
    for fig in spec.figure:
        columns.setdefault(fig.indicator, fig.value)
    return columns


def _read_before(engine: Engine, spec: SourceSpec, digest: str) -> PublishedRelease | None:
    """The latest release read from the same bytes (none where the file is new), which a file applied again names
    as the release it applies again."""
    with Session(engine) as session:
        return (
            session.execute(
                select(PublishedRelease)
                .where(col(PublishedRelease.source_id) == spec.id, col(PublishedRelease.content_hash) == digest)
                .order_by(col(PublishedRelease.id).desc())
            )
            .scalars()
            .first()
        )


def _entry(spec: SourceSpec, file: door.File, submitted_by: str = "", status: str = "received") -> door.Entry:
    """A release at the door, before it is read: the publisher, its file, and the source it is a release of (a file
    is a repeat while it is the source's newest release read; a cut-off import is read again as one of it)."""
    return door.Entry(
        WAY.name,
        WAY.mode_of("release"),
        spec.publisher,
        file,
        submitted_by=submitted_by,
        status=status,
        columns={"published_source": spec.id},
    )


def _repeated(engine: Engine, entry: door.Entry, earlier: Submission) -> Imported:
    """What a release that repeats ``earlier`` imports: nothing, the release already read from the same bytes."""
    with Session(engine, expire_on_commit=False) as session:
        release = _release_of(session, earlier.id)
    assert release is not None, f"accepted import {earlier.id} of {entry.columns['published_source']} has no release"
    return Imported(release, duplicate=True)


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
    """Import one release of ``spec``'s data set from the publisher's file ``data``, whole or not at all: read,
    held to the catalogue's rules (an error refuses it all; a jump from the last release is held as a query), with
    its ``audit`` event when given (who, the action, from where and the object) in the same transaction."""
    digest = hashlib.sha256(data).hexdigest()
    # Kept once read as the source's release, never before: a file refused keeps nothing (it could be anything).
    raw = [data]
    file = door.File(filename, "csv", len(data), digest, lambda: head.keep_raw(engine, settings, raw.pop(), digest)[1])
    entry = _entry(spec, file, submitted_by or f"published: {fetched_from}", "storing")
    now = datetime.now(UTC)
    body = [data]
    del data

    def read() -> door.Found[_Read]:
        readings = _read(engine, spec, body.pop(), filename, _About(fetched_from, version, release_date, digest))
        return door.Found(
            readings,
            columns={"rows_read": readings.rows_read},
            # The publisher is written before the submission that names it, by its first release.
            first=lambda session: _ensure_publisher(session, spec, now),
        )

    # Whatever fails as it stores (a stop too: a release is stored whole or not at all) ends the import failed.
    return door.through(
        engine,
        settings,
        entry,
        read=read,
        store=lambda submission, readings: Imported(_store(engine, spec, submission, readings, now, audit)),
        repeated=lambda earlier: _repeated(engine, entry, earlier),
        stop_interrupts=False,
    )


@dataclass
class _Read:
    """A release read and held to the catalogue's rules, before it is recorded: its figures, the rows read, the
    rules' ruling, and where it came from."""

    figures: pl.DataFrame
    rows_read: int
    ruling: Ruling
    about: _About


def _read(engine: Engine, spec: SourceSpec, data: bytes, filename: str, about: _About) -> _Read:
    """Read a release and hold it to the catalogue's rules (an error refuses it whole, raised), naming the release
    read before from the same bytes (``about``'s digest) as the one it applies again."""
    known = _read_before(engine, spec, about.digest)
    about = replace(about, reapplies=known.id if known is not None else None)
    figures, rows_read = read_release(spec, data, filename=filename, areas=area_lookup(engine))
    with Session(engine) as session:
        ruling = check_release(
            session,
            spec.publisher,
            _in_geography(session, figures),
            filename=filename,
            rounded_to=spec.rounded_to,
            columns=columns_of(spec),
        )
    return _Read(figures, rows_read, ruling, about)


def _spec_of(submission: Submission) -> SourceSpec:
    """The source a publisher's file was imported as a release of; Conflict where the deployment declares none."""
    spec = load_sources().sources.get(submission.published_source)
    if spec is None:
        raise Conflict(
            f"Submission {submission.id} names no published source this deployment declares "
            f"({submission.published_source or 'none recorded'}); import the publisher's file again: "
            "onereturn published import SOURCE FILE"
        )
    return spec


def _read_again(engine: Engine, _settings: Settings, submission: Submission, data: bytes) -> _Read:
    """A failed or cut-off import's kept file read again as the release of its source; Superseded where a release
    has read the same file since."""
    spec = _spec_of(submission)
    entry = _entry(
        spec, door.File(submission.filename, "csv", submission.size_bytes, submission.content_hash, submission.raw_path)
    )
    if (earlier := door.repeated_before_reading(engine, entry)) is not None:
        read = _repeated(engine, entry, earlier).release
        raise door.Superseded(f"release {read.id} has read the same file since; nothing more to do")
    by = submission.submitted_by
    fetched = by.removeprefix("published: ") if by.startswith("published: ") else "upload"
    return _read(engine, spec, data, submission.filename, _About(fetched, "", "", submission.content_hash))


#: How the door imports a publisher's file again from its kept raw file, as the release of the source it was imported
#: as, where its import failed or was cut off: stored again under a lease, as the first import was, so the sweep of
#: cut-off work leaves it alone while it runs.
AGAIN = door.Again(
    read=_read_again,
    store=lambda engine, _settings, submission, readings: _store(
        engine, _spec_of(submission), submission, readings, datetime.now(UTC), None
    ),
    reopened=lambda _submission, readings: {"status": "storing", "rows_read": readings.rows_read},
    stops=False,
)


@dataclass(frozen=True)
class _About:
    """Where a release came from: fetched or uploaded, the publisher's version and date, the SHA-256 of its bytes, and
    the earlier release whose very file it is (when applied again)."""

    fetched_from: str
    version: str
    release_date: str
    digest: str
    reapplies: int | None = None


def _in_geography(session: Session, figures: pl.DataFrame) -> pl.DataFrame:
    """The figures for areas the service's geography holds (the rest are counted as skipped, never stored)."""
    known_orgs = list(session.execute(select(OrgUnit.code)).scalars())
    return figures.filter(pl.col("org_code").is_in(known_orgs))


def _store(
    engine: Engine,
    spec: SourceSpec,
    submission: Submission,
    readings: _Read,
    now: datetime,
    audit: dict[str, Any] | None,
) -> PublishedRelease:
    """Store a release through the storing tail every upload shares (revisions, stale builds, re-opened
    sign-offs), the release and the publisher's own figures written alongside, its ``audit`` event naming the
    release; a commit whose answer was lost is asked after by the release of this very import."""
    assert submission.id is not None
    sid = submission.id
    figures, ruling, about = readings.figures, readings.ruling, readings.about
    in_geography, held, skipped, unknown = _sorted_release(engine, spec, figures, ruling)
    owned = in_geography.filter(pl.col("stored_as") == "store").drop("stored_as")
    kept = _Kept(spec, submission, figures.height, in_geography, skipped, unknown, now, about)
    result = Validation(
        rows_read=submission.rows_read, rows_blank=0, problems=empty_problems(), accepted=owned, held=held
    )
    alongside = Alongside(
        write=kept.write,
        # A figure this release gives again (in the store or beside) closes an earlier release's query on it.
        closes=in_geography,
        recorded_at=now,
        accepted_if_empty=True,
        audit_id=kept.release_id,
        committed=lambda again: _release_of(again, sid) is not None,
    )
    try:
        with audited(audit):
            stored = store_accepted(
                engine,
                submission,
                result,
                problems=ruling.queries,
                summary=kept.message,
                alongside=alongside,
                only_if="storing",
                counts={"query_count": held.height, "warning_count": held.height},
            )
    except CutOff:
        # Marked cut off meanwhile (its lease ran out): it is someone else's to run again now.
        raise CutOff(f"import {sid} was marked interrupted while it stored; nothing of it was stored") from None
    if stored.asked_after or kept.release is None:
        with Session(engine, expire_on_commit=False) as again:
            found = _release_of(again, sid)
        assert found is not None
        return found
    return kept.release


class _Kept:
    """What a release keeps besides the store's figures, written by the storing tail in its transaction: the
    release itself and every figure as the publisher's (``published_figure``)."""

    def __init__(
        self,
        spec: SourceSpec,
        submission: Submission,
        read: int,
        in_geography: pl.DataFrame,
        skipped: int,
        unknown: dict[str, int],
        now: datetime,
        about: _About,
    ) -> None:
        self.spec, self.submission, self.read, self.in_geography = spec, submission, read, in_geography
        self.skipped, self.unknown, self.now, self.about = skipped, unknown, now, about
        self.release: PublishedRelease | None = None

    def write(self, session: Session, stored: Stored) -> None:
        """Record the release and the publisher's figures, once the store's figures are written."""
        spec, submission, about = self.spec, self.submission, self.about
        assert submission.id is not None
        release = PublishedRelease(
            source_id=spec.id,
            publisher=spec.publisher,
            dataset=spec.ees_data_set or spec.file,
            version=about.version,
            release_date=about.release_date,
            filename=submission.filename,
            content_hash=submission.content_hash,
            raw_path=submission.raw_path,
            size_bytes=submission.size_bytes,
            fetched_from=about.fetched_from,
            fetched_at=self.now,
            submission_id=submission.id,
            rows_read=submission.rows_read,
            figures=self.read,
            stored_new=stored.new,
            stored_revised=stored.revised,
            skipped=self.skipped,
            unknown_areas={str(code): int(n) for code, n in sorted(self.unknown.items())},
            held=stored.held,
            reapplies=about.reapplies,
        )
        session.add(release)
        session.flush()
        assert release.id is not None
        release.beside, release.unchanged = _keep_figures(
            session, spec.publisher, self.in_geography, release.id, self.now
        )
        release.message = _release_message(spec, release, stored.new, stored.revised, self.unknown)
        self.release = release

    def message(self, _stored: Stored) -> str:
        """The release's message, the submission's too."""
        assert self.release is not None
        return self.release.message

    def release_id(self) -> int | None:
        """The release's id, which its audit event names."""
        return self.release.id if self.release is not None else None


def _sorted_release(
    engine: Engine, spec: SourceSpec, figures: pl.DataFrame, ruling: Ruling
) -> tuple[pl.DataFrame, pl.DataFrame, int, dict[str, int]]:
    """A release's figures sorted before storing: those for areas the geography holds, each marked ``stored_as``
    (the store's, or beside another body's figure), the figures a query holds, how many were skipped and the
    unknown area codes with their figure counts."""
    # The figures for areas the geography holds are those the rules checked.
    in_geography = ruling.checked
    with Session(engine) as session:
        others = _answered_by_others(session, spec.publisher, figures["indicator_id"].unique().to_list())
    skipped = figures.height - in_geography.height
    # A row under a code the geography lacks is stored nowhere, and said so: its code and how many figures it had.
    unknown = dict(
        figures.join(in_geography.select("org_code").unique(), on="org_code", how="anti")["org_code"]
        .value_counts(sort=True)
        .iter_rows()
    )
    # Exactly the figures a query holds: the rest of their file rows is stored.
    held = in_geography.join(ruling.held, on=KEY, how="semi")
    # A cell another body answers for stays that body's: the publisher's figure only sits beside it.
    in_geography = (
        in_geography.join(ruling.held, on=KEY, how="anti")
        .join(others, on=["indicator_id", "org_code"], how="left")
        .with_columns(pl.when(pl.col("_other")).then(pl.lit("beside")).otherwise(pl.lit("store")).alias("stored_as"))
        .drop("_other")
    )
    return in_geography, held, skipped, {str(code): int(n) for code, n in unknown.items()}


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


def _release_of(session: Session, submission_id: int | None) -> PublishedRelease | None:
    """The release an import (its submission) stored, if one is stored: the same file may be a release again."""
    return session.execute(
        select(PublishedRelease).where(col(PublishedRelease.submission_id) == submission_id)
    ).scalar_one_or_none()


def _release_message(
    spec: SourceSpec, release: PublishedRelease, new: int, revised: int, unknown: dict[str, int]
) -> str:
    """What a release did, in a sentence: what was stored, kept beside, unchanged, held and skipped."""
    again = f"the file of release {release.reapplies} applied again: " if release.reapplies is not None else ""
    held = (
        f"; {release.held} held by a query (a change beyond the catalogue's plausible jump from the publisher's "
        "previous release) until an officer confirms it"
        if release.held
        else ""
    )
    return (
        f"{again}{release.figures} figure(s) read from {release.rows_read} row(s): {new} new and {revised} revised "
        f"in the store as {spec.publisher}'s, {release.beside} new or revised beside another body's figure, "
        f"{release.unchanged} unchanged; {release.skipped} for an area the geography does not hold{_named(unknown)}{held}"
    )


def confirm_held(session: Session, held_id: int, *, note: str, confirmed_by: str) -> HeldFigure:
    """Confirm a publisher's figure a query held: it becomes the publisher's current figure (and the store's, where
    the publisher answers for the cell), with the officer's note; the caller commits."""
    # An id no table can hold is no figure (PostgreSQL would refuse to compare it with an integer column).
    figure = session.get(HeldFigure, held_id) if 0 < held_id < 2**31 else None
    submission = session.get(Submission, figure.submission_id) if figure is not None else None
    release = session.execute(
        select(PublishedRelease).where(col(PublishedRelease.submission_id) == (submission.id if submission else -1))
    ).scalar_one_or_none()
    if figure is None or submission is None or release is None or release.id is None:
        raise NotFound(f"No publisher's figure held by a query has id {held_id}")
    others = _answered_by_others(session, release.publisher, [figure.indicator_id])
    beside = figure.org_code in set(others["org_code"].to_list())
    answer(session, submission, held_id, note=note, answered_by=confirmed_by, into_store=not beside, published=True)
    row = {k: getattr(figure, k) for k in (*KEY, *COMPARED)}
    frame = pl.DataFrame(
        [row | {"stored_as": "beside" if beside else "store", "file_row": figure.file_row}],
        schema={**{k: FIGURE_SCHEMA[k] for k in (*KEY, *COMPARED)}, "stored_as": pl.String, "file_row": pl.Int64},
    )
    _keep_figures(session, release.publisher, frame, release.id, datetime.now(UTC))
    return figure


def confirm_release_held(session: Session, release_id: int, *, note: str, confirmed_by: str) -> list[HeldFigure]:
    """Confirm every figure a query still holds from one release, with one note for them all (each as
    ``confirm_held`` confirms one); the caller commits."""
    release = session.get(PublishedRelease, release_id) if 0 < release_id < 2**31 else None
    if release is None:
        raise NotFound(f"No publisher's release has id {release_id}")
    if not note.strip():
        raise InvalidInput("Explain the figures: the note may not be empty")
    open_ids = list(
        session.execute(
            select(HeldFigure.id)
            .where(col(HeldFigure.submission_id) == release.submission_id, col(HeldFigure.state) == "open")
            .order_by(col(HeldFigure.id))
        ).scalars()
    )
    if not open_ids:
        raise InvalidInput(f"Release {release_id} holds no figure still open to confirm")
    return [confirm_held(session, held_id, note=note, confirmed_by=confirmed_by) for held_id in open_ids if held_id]


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
    indicators = figures["indicator_id"].unique().to_list()
    current = current_published(session, publisher=publisher, indicator_ids=indicators).rename(
        {"id": "pub_id", "version": "pub_version"}
    )
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
    _insert_published(session, changed, publisher, release_id, now)
    kept_beside = changed.filter(pl.col("stored_as") == "beside")
    # A figure beside a body's own fills the returns' cells the body leaves empty (``Return.from_publishers``): its
    # builds are stale as a stored figure's are (the store's own figures were marked by the storing tail).
    mark_stale(session, kept_beside.select("indicator_id", "period"))
    beside = kept_beside.height
    return beside, figures.height - changed.height


#: The columns of ``published_figure`` a release writes, in the order its rows are bound.
_PUBLISHED_COLUMNS = (*KEY, "version", *COMPARED, "stored_as", "file_row")


def _insert_published(session: Session, changed: pl.DataFrame, publisher: str, release_id: int, now: datetime) -> None:
    """Insert a release's new figure versions as rows of tuples through the driver, binding only the columns a
    slice of rows fills and writing the constant ones into the statement: SQLAlchemy's insert builds and binds a
    parameter dict per row, every column of it (twice as long for the 42,120 figures of NDTMS's Barnet export).
    Same rows, same constraints."""
    if changed.is_empty():
        return
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    # Written into the statement once, not bound on every row: the publisher (its code, from the source file), the
    # release, current, and the time (SQLite keeps it as the text SQLAlchemy writes for it).
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f") if connection.dialect.name == "sqlite" else now.isoformat()
    publisher_literal = "'" + publisher.replace("'", "''") + "'"
    constants = f"{publisher_literal}, {int(release_id)}, TRUE, '{stamp}'"
    dbapi: Any = connection.connection.dbapi_connection
    cursor = dbapi.cursor()
    # In the order of the unique key (publisher, indicator, period, org unit, breakdown), so its index is written
    # in runs, as the store's own writer does; rows with the same empty columns together, each group one statement.
    rows = in_key_order(changed).select(_PUBLISHED_COLUMNS)
    filled = [f"_has_{c}" for c in COMPARED]
    marked = rows.with_columns(pl.col(c).is_not_null().alias(f"_has_{c}") for c in COMPARED)
    for has, group in marked.group_by(filled, maintain_order=True):
        present = [c for c in _PUBLISHED_COLUMNS if c not in COMPARED or has[COMPARED.index(c)]]
        # A column with one known value over the whole group (version 1, status final, stored as the store's) is
        # written into the statement too: fewer values bound on every row.
        same = _one_value(group, present)
        bound = [c for c in present if c not in same]
        columns = ", ".join([*bound, *same, "publisher", "release_id", "is_current", "recorded_at"])
        values = ", ".join([*([mark] * len(bound)), *same.values(), constants])
        statement = f"INSERT INTO published_figure ({columns}) VALUES ({values})"
        for part in group.select(bound).iter_slices(_INSERT_BATCH):
            cursor.executemany(statement, part.iter_rows())
    cursor.close()


#: The values of a column a release may write into its insert statement, rather than bind on every row: only
#: these, so nothing read from a file is ever written into SQL.
_LITERALS = {"status": ("final", "provisional", "estimated"), "stored_as": ("store", "beside")}


def _one_value(group: pl.DataFrame, present: list[str]) -> dict[str, str]:
    """The columns of ``group`` (version, status, stored_as) holding one value on every row, as SQL literals."""
    same: dict[str, str] = {}
    for name in ("version", *_LITERALS):
        if name not in present:
            continue
        values = group[name].unique()
        if values.len() != 1 or values[0] is None:
            continue
        if name == "version":
            same[name] = str(int(values[0]))
        elif values[0] in _LITERALS[name]:
            same[name] = f"'{values[0]}'"
    return same
