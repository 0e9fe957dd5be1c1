"""The register of establishments held: loaded whole in one transaction (a load that fails leaves the register held
as it was), said when GIAS published it, and asked what a URN or UKPRN is.

A school that closed (converted to an academy, merged) keeps its URN in GIAS's register, closed, and GIAS's links
file names its successor. *Reading:* an establishment closed on or before the date asked about is followed to its
successor (a link whose type begins ``Successor``), and on while that one is closed too; where GIAS gives no
successor, or several (a school split in two), the closed establishment itself answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

import polars as pl
from sqlalchemy import Engine, delete, insert, select
from sqlmodel import Session, col

from mappings.establishments.gias import Extract
from mappings.establishments.models import Establishment, EstablishmentLink, RegisterLoad

#: Rows written per statement: large enough to be quick, small enough for any driver's parameter limit.
BATCH = 2_000
#: Values asked for per query of URNs or UKPRNs (SQLite's bound on a statement's parameters is far above it).
ASK = 900
_T = TypeVar("_T")
#: Successors followed at most, so a loop GIAS's links might hold ends.
STEPS = 10


@dataclass(frozen=True)
class Found:
    """What a URN or UKPRN is on the register: the establishment that answers for it (its successor, where the
    one asked about had closed), that establishment's GIAS type and phase."""

    asked: int
    urn: int
    type_code: int
    phase: str
    followed: bool


def held(session: Session) -> RegisterLoad | None:
    """The register's newest load, or None when no register has been loaded."""
    return session.execute(select(RegisterLoad).order_by(col(RegisterLoad.id).desc()).limit(1)).scalars().first()


def _batches(rows: list[dict[str, object]]) -> Iterable[list[dict[str, object]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def store(session: Session, extract: Extract, links: pl.DataFrame | None, links_name: str, by: str) -> RegisterLoad:
    """Replace the register held, and its links, by ``extract`` and ``links`` in the session's transaction; the caller
    commits. A register loaded without its links file has no links: the previous register's are not kept."""
    session.execute(delete(Establishment))
    rows = extract.frame.select(
        "urn", "name", "la_code", "type_code", "group_code", "status", "close_date", "phase", "ukprn"
    ).to_dicts()
    # Core statements on the session's connection: one executemany per batch (the ORM's bulk insert ran a
    # statement a row, 50,000 of them).
    connection = session.connection()
    for batch in _batches(rows):
        connection.execute(insert(Establishment.__table__), batch)  # type: ignore[attr-defined]
    session.execute(delete(EstablishmentLink))
    if links is not None:
        for batch in _batches(links.select("urn", "link_urn", "link_type", "established").to_dicts()):
            connection.execute(insert(EstablishmentLink.__table__), batch)  # type: ignore[attr-defined]
    kept_links = (links_name, links.height) if links is not None else ("", 0)
    load = RegisterLoad(
        published=extract.published,
        loaded_at=datetime.now(UTC),
        file_name=extract.file_name[:255],
        sha256=extract.sha256,
        establishments=extract.frame.height,
        links_file_name=kept_links[0][:255],
        links=kept_links[1],
        loaded_by=by[:128],
    )
    session.add(load)
    session.flush()
    return load


def _chunks(values: Sequence[_T]) -> Iterable[Sequence[_T]]:
    for start in range(0, len(values), ASK):
        yield values[start : start + ASK]


_ROWS = {"urn": pl.Int64, "type_code": pl.Int64, "phase": pl.String, "status": pl.String, "close_date": pl.Date}
_LINKS = {"at": pl.Int64, "next": pl.Int64}
_ANSWER = {"asked": pl.Int64, "urn": pl.Int64, "type_code": pl.Int64, "phase": pl.String, "followed": pl.Boolean}
#: The register held, read whole once per load and kept (the newest load only): a file's thousands of URNs are
#: then joined in memory rather than asked of the store. Kept by the store and the load (its id, digest and time),
#: so a new load, or another store, is never answered from it.
_READ: dict[tuple[str, int, str, str], tuple[pl.DataFrame, pl.DataFrame]] = {}
_READ_LOCK = threading.Lock()


def _raw(session: Session, sql: str, schema: Mapping[str, type[pl.DataType]]) -> pl.DataFrame:
    """A query's rows through the driver's own cursor, typed by ``schema``: the register's 50,000 rows in a fifth of
    the time SQLAlchemy's rows take. SQLite gives a date back as text, PostgreSQL as a date: both are made dates."""
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    frame = pl.DataFrame(rows, schema=list(schema), orient="row")
    return frame.with_columns(
        pl.col(c).str.to_date(strict=False) if t == pl.Date and frame.schema[c] == pl.String else pl.col(c).cast(t)
        for c, t in schema.items()
    )


def _read_whole(session: Session, load: RegisterLoad) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The register's establishments (the columns the lookups read) and its successor links, read whole and kept."""
    bind = session.get_bind()
    store = str(bind.url if isinstance(bind, Engine) else bind.engine.url)
    key = (store, load.id or 0, load.sha256, load.loaded_at.isoformat())
    with _READ_LOCK:
        if key in _READ:
            return _READ[key]
    establishments = _raw(session, f"SELECT {', '.join(_ROWS)} FROM establishment", _ROWS)
    links = _raw(session, "SELECT urn, link_urn FROM establishment_link WHERE link_type LIKE 'Successor%'", _LINKS)
    read = (establishments, links)
    with _READ_LOCK:
        _READ.clear()
        _READ[key] = read
    return read


def _closed(on: date) -> pl.Expr:
    closed_on = pl.col("close_date").is_not_null() & (pl.col("close_date") <= on)
    return pl.col("type_code").is_null() | closed_on | (pl.col("close_date").is_null() & (pl.col("status") == "Closed"))


def look_up_frame(session: Session, urns: Iterable[int], on: date) -> pl.DataFrame:
    """Each URN the register answers for as at ``on`` (``asked``), by the establishment that answers (``urn``: itself,
    or its successor where it had closed, or is not on the register but GIAS's links name its successor), with that
    one's ``type_code`` and ``phase`` and whether a successor was ``followed``. A URN nothing answers for is left out."""
    asked = sorted(set(urns))
    empty = pl.DataFrame(schema=_ANSWER)
    load = held(session)
    if load is None or not asked:
        return empty
    known, successors = _read_whole(session, load)
    # Where GIAS gives several successors (a school split), none is followed: the closed school answers.
    single = successors.filter(pl.len().over("at") == 1)
    current = pl.DataFrame({"asked": asked, "at": asked}, schema={"asked": pl.Int64, "at": pl.Int64})
    for _ in range(STEPS):
        placed = current.join(known, left_on="at", right_on="urn", how="left")
        moves = placed.filter(_closed(on)).select("asked", "at", here=pl.col("type_code").is_not_null())
        moves = moves.join(single, on="at").filter(pl.col("next") != pl.col("at"))
        # A closed school moves on only to a successor the register holds; a URN not on it, to any.
        moves = moves.filter(~pl.col("here") | pl.col("next").is_in(known["urn"].implode()))
        if moves.is_empty():
            break
        current = (
            current.join(moves.select("asked", "next"), on="asked", how="left")
            .with_columns(at=pl.coalesce("next", "at"))
            .drop("next")
        )
    answered = current.join(known, left_on="at", right_on="urn", how="inner")
    return answered.select(
        "asked", urn="at", type_code="type_code", phase="phase", followed=pl.col("at") != pl.col("asked")
    )


def look_up(session: Session, urns: Iterable[int], on: date) -> dict[int, Found]:
    """Each URN the register answers for as at ``on``, as ``look_up_frame`` finds it, by the URN asked."""
    frame = look_up_frame(session, urns, on)
    return {
        row["asked"]: Found(row["asked"], row["urn"], row["type_code"], row["phase"] or "", row["followed"])
        for row in frame.iter_rows(named=True)
    }


def by_ukprn(session: Session, ukprns: Iterable[str]) -> dict[str, Establishment]:
    """Each UKPRN's establishment on the register; of several with one UKPRN, the open one with the lowest URN, else
    the lowest URN (*reading*: GIAS gives a provider's UKPRN to each of its establishments)."""
    out: dict[str, Establishment] = {}
    for chunk in _chunks(sorted(set(ukprns))):
        query = select(Establishment).where(col(Establishment.ukprn).in_(chunk)).order_by(col(Establishment.urn))
        for e in session.execute(query).scalars():
            if e.ukprn is None:
                continue
            have = out.get(e.ukprn)
            if have is None or (have.status == "Closed" and e.status != "Closed"):
                out[e.ukprn] = e
    return out
