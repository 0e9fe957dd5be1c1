"""A council's SSD read from its own reporting database on PostgreSQL, on the schedule or on demand: each ``ssd_*``
table the SSD v1.4.5 names copied out as ``ssd_<table>.csv`` (the same member bytes a ZIP upload gives), in a
read-only transaction under a statement timeout and within the upload limit, then taken through exactly the path
of an uploaded extract (``collectors/ssd/receiving.py``).

Each council sets it in its agency's ``ssd.read`` (``mappings/council_ssd.py``, ``docs/records.md``): the name of the
environment variable holding the connection URL (so no password is in the store, the repository or the agency
file), the schema of the ``ssd_*`` tables, the collection year and when. Nothing read is logged, and the URL never appears in a message:
errors are rewritten without it (:func:`_scrubbed`).
"""

from __future__ import annotations

import io
import logging
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session

from collectors.records import receiving as records
from collectors.records.service import process_records
from collectors.ssd.receiving import Taken
from collectors.ssd.spec import mapped_years, tables
from mappings.council_ssd import DEFAULT_AT, DEFAULT_SCHEMA, ssd_reads
from onereturn.errors import InvalidInput, OneReturnError, PayloadTooLarge
from onereturn.jobs import run_once, set_detail
from onereturn.settings import Settings
from onereturn.workspace import private_folder

log = logging.getLogger("onereturn.ssd_database")

#: The name the extract read is known by (its Annex A upload, its payloads, the audit), as an uploaded ZIP's would be.
EXTRACT_NAME = "ssd_database.zip"
#: How long connecting may take, in seconds; the statement timeout bounds each table's read.
CONNECT_SECONDS = 15
#: Types with no ordering: a column of one is left out of a table's ORDER BY.
_UNSORTED = frozenset({"json", "xml", "point", "polygon", "line", "circle", "path", "box", "lseg"})
#: A fixed time in each member: the same tables read again are the same ZIP, so a repeat is known by its hash.
_EPOCH = (1980, 1, 1, 0, 0, 0)


class ReadFailed(Exception):
    """The read could not be made or its extract was refused; the reason never holds the URL nor a child's value."""


@dataclass(frozen=True)
class Source:
    """One council's SSD database: the variable holding its URL, the schema of its tables, the year and when."""

    agency_code: str
    url_variable: str
    schema: str = DEFAULT_SCHEMA
    year: str | None = None
    at: str = DEFAULT_AT

    @property
    def job_id(self) -> str:
        """The scheduler's id of this council's read, and the job its runs are recorded under."""
        return f"ssd-read:{self.agency_code}"


def sources(engine: Engine) -> dict[str, Source]:
    """The councils whose SSD database the service reads, by agency: each agency's ``ssd.read`` setting."""
    with Session(engine) as session:
        reads = ssd_reads(session)
    return {
        code: Source(code, read.url_variable, read.tables_schema, read.year, read.at) for code, read in reads.items()
    }


def last_ended_year(today: date) -> str:
    """The last collection year (1 April to 31 March) that has ended by ``today``: the one DfE's returns are of."""
    ending = today.year if today.month >= 4 else today.year - 1
    return f"{ending - 1}-{ending % 100:02d}"


def mapped_year(year: str) -> str:
    """``year`` when a mapping is shipped for it; else InvalidInput naming the years that have one."""
    have = mapped_years()
    if year not in have:
        raise InvalidInput(
            f"the SSD is read for a collection year whose mapping the service ships ({', '.join(have)}), not {year}"
        )
    return year


def default_year(today: date) -> str:
    """The collection year a read is of when none is set: the latest that has ended by ``today`` and has a mapping
    (the year just ended may have none yet: DfE's specification for it comes after it ends)."""
    ended = last_ended_year(today)
    # Years are written YYYY-YY, so their order as text is their order in time.
    have = [y for y in mapped_years() if y <= ended]
    if not have:
        raise InvalidInput(f"no collection year with an SSD mapping ({', '.join(mapped_years())}) has ended yet")
    return have[-1]


def year_of(settings: Settings, source: Source, year: str | None) -> tuple[str, str]:
    """The year a read is of (the one asked, else the council's setting, else :func:`default_year`) and what chose
    it, said in the run's record, the log and the command's answer."""
    if year is not None:
        return mapped_year(year), "asked"
    if source.year is not None:
        return mapped_year(source.year), "the council's setting"
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    found, ended = default_year(today), last_ended_year(today)
    if found == ended:
        return found, "the latest ended collection year"
    return found, f"the latest ended collection year with a mapping: {ended} has none yet"


def _scrubbed(text: str, url: str) -> str:
    """``text`` with the URL, its password and any ``user:password@`` taken out."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    for secret in filter(None, (url, password)):
        text = text.replace(secret, "***")
    return re.sub(r"://[^/\s@]*@", "://***@", text)


def read_members(url: str, schema: str, *, limit: int, timeout_seconds: float, zone: str) -> dict[str, bytes]:
    """Each SSD table the schema holds, as the CSV member a ZIP upload gives (``ssd_<table>.csv``, the columns as the
    database names them, a heading first); a table the SSD names that is absent is left out, as in a ZIP."""
    import psycopg
    from psycopg import sql

    known = tables()
    members: dict[str, bytes] = {}
    left = limit
    conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, connect_timeout=CONNECT_SECONDS, autocommit=False) as conn:
        conn.execute("SET TRANSACTION READ ONLY")
        conn.execute("SELECT set_config('statement_timeout', %s, true)", (f"{int(timeout_seconds * 1000)}",))
        conn.execute("SELECT set_config('DateStyle', 'ISO, YMD', true)")
        rows = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position",
            (schema,),
        ).fetchall()
        columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, kind in rows:
            if table in known:
                columns.setdefault(table, []).append((column, kind))
        for table, named in sorted(columns.items()):
            query = sql.SQL(
                "COPY (SELECT {} FROM {}.{} ORDER BY {}) TO STDOUT WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
            )
            shown = sql.SQL(", ").join(_as_written(column, kind, zone) for column, kind in named)
            order = _order(named, known[table].key)
            found = query.format(shown, sql.Identifier(schema), sql.Identifier(table), order)
            buffer = io.BytesIO()
            with conn.cursor().copy(found) as copy:
                for chunk in copy:
                    left -= len(chunk)
                    if left < 0:
                        raise PayloadTooLarge(
                            f"the SSD tables in schema {schema} are over the upload limit of "
                            f"{limit:,} bytes (ONERETURN_MAX_UPLOAD_BYTES); nothing was kept"
                        )
                    buffer.write(chunk)
            members[f"{table}.csv"] = buffer.getvalue()
        conn.rollback()
    return members


def _order(named: list[tuple[str, str]], key: tuple[str, ...]) -> object:
    """The rows' order: by the table's key, then every column that sorts, so an unchanged table is read as the same
    bytes every time (a heap's order changes as the database works, and a repeat is known by its hash)."""
    from psycopg import sql

    have = [column for column, _ in named]
    firsts = [column for column in key if column in have]
    rest = [column for column, kind in named if column not in firsts and kind not in _UNSORTED]
    return sql.SQL(", ").join(sql.Identifier(column) for column in [*firsts, *rest] or have[:1])


def _as_written(column: str, kind: str, zone: str) -> object:
    """A column as an SSD extract writes it: a flag ``Y``/``N``, a time with a zone as the local time, else as is."""
    from psycopg import sql

    name = sql.Identifier(column)
    if kind == "boolean":
        return sql.SQL("CASE WHEN {0} THEN 'Y' WHEN NOT {0} THEN 'N' END AS {0}").format(name)
    if kind == "timestamp with time zone":
        return sql.SQL("({0} AT TIME ZONE {1})::timestamp(3) AS {0}").format(name, sql.Literal(zone))
    return name


def as_zip(members: dict[str, bytes]) -> bytes:
    """The members as a council's ZIP of its SSD tables, the same bytes for the same tables."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            archive.writestr(zipfile.ZipInfo(name, date_time=_EPOCH), members[name], compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


#: How an extract read from a council's database is taken in (``receive_extract``'s keywords): through the table of
#: ways in, handed down by the caller (the scheduler, the command line: ``ways_in.extracts``), since a room may not
#: import the table above it.
TakeExtract = Callable[..., Taken]


def read_now(
    engine: Engine,
    settings: Settings,
    source: Source,
    *,
    year: str | None,
    submitted_by: str,
    take: TakeExtract,
) -> Taken:
    """Read the council's SSD tables and take them as an uploaded extract is taken, DfE's rules run to their end
    here; ReadFailed says why when the database cannot be read or the extract is refused (nothing is then kept)."""
    url = os.environ.get(source.url_variable, "")
    if not url:
        raise ReadFailed(f"{source.url_variable} is not set: it holds the URL of {source.agency_code}'s SSD database")
    try:
        year, _ = year_of(settings, source, year)
    except InvalidInput as exc:
        raise ReadFailed(str(exc)) from None
    try:
        members = read_members(
            url,
            source.schema,
            limit=settings.max_upload_bytes,
            timeout_seconds=settings.ssd_read_timeout_seconds,
            zone=settings.timezone,
        )
    except PayloadTooLarge as exc:
        raise ReadFailed(str(exc)) from None
    except Exception as exc:
        raise ReadFailed(f"the SSD database could not be read: {_scrubbed(str(exc), url)}") from None
    if not members:
        raise ReadFailed(f"schema {source.schema} of the SSD database holds none of the SSD's tables")
    with private_folder(settings, "ssd-read-") as work:
        path = Path(work) / EXTRACT_NAME
        path.write_bytes(as_zip(members))
        try:
            # Through the table of ways in and the one door, as an uploaded extract is.
            return take(
                agency_code=source.agency_code,
                collection_year=year,
                name=EXTRACT_NAME,
                path=path,
                submitted_by=submitted_by,
                start=lambda r: _run(engine, settings, r),
            )
        except OneReturnError as exc:
            # Refused (the extract's own problems, a file made over the limit, an agency unknown): nothing was kept.
            raise ReadFailed(f"the extract read was refused: {exc}{_first_problems(exc)}") from None


def _first_problems(exc: OneReturnError) -> str:
    """The first few problems of a refusal, by table, row and column (never a value), for the run's record."""
    errors = getattr(exc, "errors", None) or []
    shown = ["/".join(str(part) for part in e.get("loc", [])) + f": {e.get('msg', '')}" for e in errors[:5]]
    return f" ({'; '.join(shown)})" if shown else ""


def _run(engine: Engine, settings: Settings, received: records.Received) -> None:
    """Run DfE's rules on a file made from the read to their end (a repeat of an earlier upload runs nothing)."""
    if not received.duplicate:
        assert received.submission.id is not None
        received.submission = process_records(engine, settings, received.submission.id)


def summary(taken: Taken) -> str:
    """What a read made, in a line for the run's record and the command's answer (no value of the extract)."""
    made = ", ".join(
        f"{r.submission.filename} (submission {r.submission.id}, "
        + ("unchanged: a repeat of it" if r.duplicate else f"{r.submission.status}")
        + ")"
        for r in taken.received
    )
    kept = taken.payloads
    payloads = f"; DfE's payloads: {kept.children} child(ren), {kept.new} new, {kept.updated} updated" if kept else ""
    annex = f"; Annex A rows: upload {taken.annex_id}" if taken.annex_id is not None else ""
    return f"read {taken.made.rows:,} rows; made {made or 'nothing'}{annex}{payloads}"


def run_read(
    engine: Engine,
    settings: Settings,
    source: Source,
    *,
    take: TakeExtract,
    year: str | None = None,
    by: str = "the schedule",
) -> tuple[bool, str]:
    """One read recorded as a run of the council's job: (True, what it made), or (False, why nothing was stored)."""
    try:
        year, why = year_of(settings, source, year)
    except InvalidInput as exc:
        log.warning("SSD database read for %s not made: %s", source.agency_code, exc)
        return False, str(exc)
    log.info("SSD database read for %s: collection year %s (%s)", source.agency_code, year, why)
    when = datetime.now(UTC)
    if by == "the schedule":
        # Two schedulers firing the same minute share a run: the second finds it claimed and does nothing.
        when = when.replace(second=0, microsecond=0)
    try:
        with run_once(engine, source.job_id, when) as first:
            if not first:
                return True, "this run was already made"
            taken = read_now(engine, settings, source, year=year, submitted_by=f"SSD database read ({by})", take=take)
            done = f"collection year {year} ({why}): {summary(taken)}"
            set_detail(engine, source.job_id, when, done)
            return True, done
    except ReadFailed as exc:
        log.warning("SSD database read for %s failed, nothing stored: %s", source.agency_code, exc)
        return False, f"{exc} (collection year {year}: {why})"


def scheduled_read(engine: Engine, settings: Settings, agency_code: str, take: TakeExtract) -> None:
    """The scheduler's read of one council's SSD database (a failure is recorded, never raised into the scheduler)."""
    source = sources(engine).get(agency_code)
    if source is None:
        log.warning("no SSD database is configured for %s any more; nothing read", agency_code)
        return
    ok, done = run_read(engine, settings, source, take=take)
    if ok:
        log.info("SSD database read for %s: %s", agency_code, done)
