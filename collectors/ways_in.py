"""Every way figures and records come in, in one table: one row per way, holding the way's declaration (its kind,
purposes, repeat key, lease, checks and keep order: the ``collectors.door.Way`` its package declares, which the door
reads by the row's name), how an upload is told to be this way (its recogniser), how it is taken (its reader and
checks, through the one door, ``collectors.door``), and how it is run again, taken up by a worker and resumed.

Every entry point (the API's upload route and upload processes, the publisher's route and fetcher, the command
line, the demo loader, the scheduler and ``onereturn submissions reprocess``) takes an upload with :func:`take`
and runs one again with :func:`rerun`; a worker takes one up with :func:`take_up`.

A way's request is typed (``collectors.door.requests``, named here too), and the table dispatches by its type; a
council's children's records, the one type several ways share, are told apart by their content. Each row is built by
:func:`row`, which the type checker holds to its request and answer: its take must take its request type and answer
one of :data:`Answer`'s.

Adding a way in is one package and one row here:

1. in its package, its ``WAY = door.Way(...)`` (its name, kind, purposes, lease, repeat key, checks, keep order);
2. in its package, its take: the ``door.Entry`` naming ``WAY.name`` handed to ``door.through`` with its read (for a
   way that reads first) and store, whose answer ``door.through`` answers; no repeat, lease or keep of its own;
3. here, ``row(its WAY, its request type, its take, recognise=..., again=..., field=..., takes=...)`` in
   ``WAYS_IN`` at the place it is told in (before DfE's own files, which take any ``files`` no row above took), its
   request type in :data:`Request` and its answer in :data:`Answer` (and a ``take`` overload for a new request type).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors import door
from collectors.annex_a import columns, from_ssd
from collectors.annex_a.build import MADE_FILES, Source, passed_sources, read_sources
from collectors.census import receiving as census
from collectors.door import recognise as content
from collectors.door.requests import ColumnsSent as ColumnsSent
from collectors.door.requests import ExtractRows as ExtractRows
from collectors.door.requests import FiguresSent as FiguresSent
from collectors.door.requests import RecordFiles as RecordFiles
from collectors.door.requests import ReleaseSent as ReleaseSent
from collectors.door.spine import Outcome
from collectors.figures import service
from collectors.published import intake
from collectors.published.sources import SourceSpec
from collectors.records import receiving as records_in
from collectors.records import service as records
from collectors.records.models import RecordChild
from collectors.records.privacy import checked_keys
from collectors.sen2 import receiving as sen2
from collectors.sen2 import stage as sen2_stage
from collectors.ssd import receiving as ssd
from collectors.ssd.receiving import Start, Taken, receive_extract
from indicators.store.models import Submission
from onereturn.errors import InvalidInput, NotFound
from onereturn.settings import Settings

#: Every answer the table gives, by the request's type (``take``'s overloads).
Answer = Outcome | records_in.Received | Taken | intake.Imported | tuple[int, pl.DataFrame] | int
#: Every request the table takes.
Request = FiguresSent | RecordFiles | ReleaseSent[SourceSpec] | ColumnsSent | ExtractRows
Req = TypeVar("Req")
Ans = TypeVar("Ans", covariant=True)


@dataclass(frozen=True)
class WayIn(Generic[Ans]):
    """One way in, as one row (built by :func:`row`): the way as its package declares it and the door reads it (its
    name, kind, purposes, repeat key, lease, checks and keep order), whether it knows a request (of its request type,
    and its recogniser's), its take (reading and checking, then the door, to its answer), and for a way whose uploads
    can fail what the door needs to run them again, resume them and take them up."""

    way: door.Way
    knows: Callable[[object], bool]
    answer: Callable[[Engine, Settings, object], Ans]
    again: door.Again | None = None
    #: The form field of ``POST /api/submissions`` that carries it (None: another route, or made by another way),
    #: and what a user sends by it, as the API's description names the way.
    field: str | None = None
    takes: str = ""

    @property
    def name(self) -> str:
        """The way's name: its row's key, recorded on each of its submissions."""
        return self.way.name


def row(
    way: door.Way,
    request: type[Req],
    take: Callable[[Engine, Settings, Req], Ans],
    *,
    recognise: Callable[[Req], bool] | None = None,
    again: door.Again | None = None,
    field: str | None = None,
    takes: str = "",
) -> WayIn[Ans]:
    """One row of the table: the way its package declares, its request type and its take, typed together; its
    recogniser among the ways of its request type (None: every request of its type), its ``again``, and the form
    field that carries it with what a user sends by it."""

    def knows(sent: object) -> bool:
        return isinstance(sent, request) and (recognise is None or recognise(sent))

    def answer(engine: Engine, settings: Settings, sent: object) -> Ans:
        if not isinstance(sent, request):
            raise InvalidInput(f"the way {way.name!r} takes a {request.__name__}, not a {type(sent).__name__}")
        return take(engine, settings, sent)

    return WayIn(way, knows, answer, again, field, takes)


def _is_extract(request: RecordFiles) -> bool:
    # One ZIP of the SSD's tables (``ssd_<table>.csv``), not DfE's own files.
    return len(request.files) == 1 and content.recognise(*request.files[0]).kind == content.SSD


def _is_sen2(request: RecordFiles) -> bool:
    # One XML naming the SEN2 collection (``<Collection>SEN2</Collection>``), in any encoding XML allows.
    return sen2.is_sen2(request.files)


def _is_census(request: RecordFiles) -> bool:
    # COLLECT's blade CSVs (each told by its ``<module>tableid`` heading), sent as they are or in a ZIP.
    kinds = {kind for one in _seen(request) for kind in one.kinds}
    return kinds == {content.CENSUS}


def known_upns(engine: Engine, settings: Settings, agency_code: str) -> frozenset[str]:
    """The UPNs the council's other children's records still kept hold, upper case: the children of its SEN2 files
    (sealed by pseudonym), and of the newest CIN census and SSDA903 of each collection year DfE's rules passed (sent,
    or made from its SSD extract: each of those apart), opened one at a time; an upload a newer one of its return and
    year replaces is not opened."""
    keys = checked_keys(engine, settings)
    with Session(engine) as session:
        sealed = session.exec(
            select(RecordChild.child_sealed)
            .join(Submission, col(Submission.id) == col(RecordChild.submission_id))
            .where(*door.kept_where(agency_code, sen2.PURPOSE, sen2.KEPT_STATUSES))
        ).all()
        found = {keys.open_text(token) for token in sealed}
        for source in newest_of_each(passed_sources(session, agency_code)):
            for tables, table in zip(read_sources(session, settings, [source]), ("Children", "Header"), strict=True):
                if tables is not None and "UPN" in tables[table].columns:
                    found |= set(tables[table].get_column("UPN").drop_nulls())
    return frozenset(upn.strip().upper() for upn in found)


def newest_of_each(sources: list[Source]) -> list[Source]:
    """Of the council's CIN censuses and SSDA903s, the newest upload of each return and collection year, the files
    the council sent, those made from its SSD extract and a fresh extract for Annex A each apart (each may hold
    children the others do not): the one a return of that year is made from."""
    newest: dict[tuple[str, str, bool, bool], Source] = {}
    for source in sorted(sources, key=lambda s: (s.received_at, s.submission_id)):
        made = source.filename in MADE_FILES
        newest[(source.library, source.collection_year, made, source.extract)] = source
    return sorted(newest.values(), key=lambda s: s.submission_id)


def _seen(request: RecordFiles) -> list[content.Seen]:
    return [content.recognise(name, path) for name, path in request.files]


def is_dfes_files(seen: list[content.Seen]) -> bool:
    """Whether the files are one of DfE's record-level returns, told by content: one CIN census XML, the SSDA903
    XML, or the SSDA903 tables as CSVs, each sent as it is or in a ZIP (deflated or stored)."""
    kinds = [kind for one in seen for kind in (one.members if one.kind == content.ZIP else (one.kind,))]
    if kinds in ([content.CIN], [content.XML_903]):
        return True
    return bool(kinds) and all(kind == content.CSV_903 for kind in kinds)


def _is_records(request: RecordFiles) -> bool:
    return is_dfes_files(_seen(request))


def _take_figures(engine: Engine, settings: Settings, request: FiguresSent) -> Outcome:
    # A child-level file sent as a file of figures is refused before anything keeps it: its way is another.
    seen = content.recognise_data(request.filename or "upload", request.data)
    if seen.child_level:
        raise InvalidInput(
            f"{seen.name!r} is {seen.described()}, children's records, not a file of figures. {RECORD_LEVEL}; "
            "nothing was kept",
            errors=[{"type": "not_a_file_of_figures", "loc": ["file"], "msg": f"recognised as {seen.described()}"}],
        )
    # Each request's fields are its way's take's keywords: the request is handed on whole.
    return service.submit(engine, settings, **vars(request))


def _take_sen2(engine: Engine, settings: Settings, request: RecordFiles) -> sen2.KeptSen2:
    # Kept, then its figures stored (or the upload failed, saying how to run it again).
    return sen2.receive(engine, settings, request, sen2_stage.figures_stage(engine))


def _take_census(engine: Engine, settings: Settings, request: RecordFiles) -> records_in.Received:
    # The council's other records are read only for a census that passed, to keep the pupils they name.
    return census.receive(
        engine,
        settings,
        agency_code=request.agency_code,
        collection_year=request.collection_year,
        files=request.files,
        submitted_by=request.submitted_by,
        purpose=request.purpose,
        audit=request.audit,
        known=lambda: known_upns(engine, settings, request.agency_code),
    )


def _take_extract(engine: Engine, settings: Settings, request: RecordFiles) -> Taken:
    ((name, path),) = request.files

    def take_file(**made: Any) -> records_in.Received:
        # Each file made is taken by the table, as DfE's own files sent are (it is told by its content).
        got = take(engine, settings, RecordFiles(**made))
        assert isinstance(got, records_in.Received)
        return got

    def take_rows(**rows: Any) -> int:
        # The extract's Annex A rows are taken by the table's own row for them.
        return take(engine, settings, ExtractRows(**rows))

    return receive_extract(
        engine,
        settings,
        agency_code=request.agency_code,
        collection_year=request.collection_year,
        name=name,
        path=path,
        submitted_by=request.submitted_by,
        start=request.start or (lambda _received: None),
        audit=request.audit_each or (lambda _named: None),
        purpose=request.purpose,
        take_file=take_file,
        take_rows=take_rows,
    )


def _take_release(engine: Engine, settings: Settings, request: ReleaseSent[SourceSpec]) -> intake.Imported:
    return intake.import_release(engine, settings, **vars(request))


def _take_columns(engine: Engine, settings: Settings, request: ColumnsSent) -> tuple[int, pl.DataFrame]:
    return columns.receive_columns(engine, settings, **vars(request))


def _take_ssd_rows(engine: Engine, settings: Settings, request: ExtractRows) -> int:
    return from_ssd.keep_from_extract(engine, settings, **vars(request))


#: The one table of ways in, in the order an upload is told: the first row that knows it takes it.
WAYS_IN: dict[str, WayIn[Answer]] = {
    way.name: way
    for way in (
        row(
            intake.WAY,
            ReleaseSent,
            _take_release,
            again=intake.AGAIN,
            takes="a publisher's release, by its own route (POST /api/published/{source}) or the scheduled fetch",
        ),
        row(
            columns.WAY,
            ColumnsSent,
            _take_columns,
            takes="the columns of Ofsted's Annex A no return holds, by the Annex A routes",
        ),
        # An extract repeats one sent before when every file made from it does (its way's repeat key of a set, asked of
        # ``collectors.door.through_set``); each file made goes on by the records' way, its Annex A rows by
        # ``annex_a_ssd``.
        row(
            ssd.WAY,
            RecordFiles,
            _take_extract,
            recognise=_is_extract,
            field="files",
            takes="one ZIP of the council's SSD tables (ssd_<table>.csv), with collection_year: the year's CIN census "
            "and SSDA903 are made from it and each taken as DfE's files are, its Annex A rows and DfE's payloads "
            "kept; answered 202 with an ExtractReceipt",
        ),
        row(
            from_ssd.WAY,
            ExtractRows,
            _take_ssd_rows,
            takes="the Annex A rows of an SSD extract, made by the extract's way",
        ),
        # Kept at the door, then its figures stored as a stage of the door under its lease (``sen2.stage``).
        row(
            sen2.WAY,
            RecordFiles,
            _take_sen2,
            recognise=_is_sen2,
            again=sen2_stage.AGAIN,
            field="files",
            takes="one SEN2 survey XML, with collection_year: checked whole and kept, then its figures stored "
            "(201; 202 with the upload failed, and the command that runs it again, when they cannot be)",
        ),
        # Read, checked and kept minimised at the door: the pupils the council's lists need, nothing after it.
        row(
            census.WAY,
            RecordFiles,
            _take_census,
            recognise=_is_census,
            field="files",
            takes="a school census as the council holds it, with collection_year (the academic year of its census "
            "day): COLLECT's blade CSVs, one a module, or a ZIP of them, named as COLLECT names them (year, term, la "
            "or acad), or the service's slim template, with GIAP's pupil premium download beside either; read and "
            "checked against its year's and term's schema, only the pupils the council's lists need kept (on SEN "
            "support or with an EHC plan, or named in its SEN2, CIN census or SSDA903); 201 with the pupils read and "
            "kept",
        ),
        row(
            records_in.WAY,
            RecordFiles,
            records_in.receive,
            recognise=_is_records,
            again=records.AGAIN,
            field="files",
            takes="DfE's own files, with collection_year: one CIN census XML, the SSDA903 XML, or the SSDA903 tables "
            "as CSVs or a ZIP of them; kept and answered 202, DfE's rules run after",
        ),
        row(
            service.WAY,
            FiguresSent,
            _take_figures,
            again=service.AGAIN,
            field="file",
            takes="one file of figures: the filled template, or a long CSV, XLSX or JSON file; checked and stored "
            "at once (201, or 422 with the report)",
        ),
    )
}
#: Every kind of upload the table takes, and every ``mode`` a submission of each kind is stored with.
MODES: dict[str, set[str]] = {}
for _way in WAYS_IN.values():
    MODES.setdefault(_way.way.kind, set()).update(_way.way.purposes.values())


def described(field: str | None = None) -> str:
    """The ways in as the API describes them, one line each (those sent in the form ``field`` where given)."""
    return "\n".join(
        f"- **{way.name}** (form field `{way.field}`): {way.takes}" if way.field else f"- **{way.name}**: {way.takes}"
        for way in WAYS_IN.values()
        if field is None or way.field == field
    )


def way_in(name: str) -> WayIn[Answer]:
    """The way in of this name; InvalidInput naming it when there is none."""
    try:
        return WAYS_IN[name]
    except KeyError:
        raise InvalidInput(f"no way in is named {name!r}") from None


#: What the record-level address takes, as a refusal names it.
RECORD_LEVEL = (
    "The record-level address (form field 'files' with 'collection_year') takes one SEN2 survey XML, one CIN census "
    "XML, the SSDA903 tables as CSVs (or a ZIP of them) or the SSDA903 XML, one ZIP of the council's SSD tables, or a "
    "school census's blade CSVs (or a ZIP of them); a file of figures goes in the form field 'file' with no "
    "collection year"
)


def refusal(seen: list[content.Seen]) -> InvalidInput:
    """Why record-level files no way takes are refused, each file named with what it was recognised as."""
    if not seen:
        return InvalidInput(f"No file was sent. {RECORD_LEVEL}; nothing was kept")
    alone = [one for one in seen if one.kinds & {content.SEN2, content.CIN, content.XML_903, content.SSD}]
    if len(seen) > 1 and alone:
        said = (
            f"{len(seen)} files were sent together, and {alone[0].name!r} is {alone[0].described()}, which is sent "
            "alone"
        )
    elif len(seen) == 1 and seen[0].kind == content.ZIP and content.SEN2 in seen[0].members:
        said = f"{seen[0].name!r} is a ZIP holding a SEN2 survey file: send the SEN2 XML itself"
    else:
        said = "; ".join(f"{one.name!r} is {one.described()}" for one in seen)
    errors = [
        {"type": "not_a_return", "loc": ["files", one.name], "msg": f"recognised as {one.described()}"} for one in seen
    ]
    return InvalidInput(f"{said}. {RECORD_LEVEL}; nothing was kept", errors=errors)


def way_of(request: Request) -> WayIn[Answer]:
    """The way an upload came in by: the first row that knows it (of its request's type, whose recogniser, if any,
    knows it); InvalidInput naming what each way takes when none knows it (record-level files by what each file was
    recognised as)."""
    for way in WAYS_IN.values():
        if way.knows(request):
            return way
    if isinstance(request, RecordFiles):
        raise refusal(_seen(request))
    raise InvalidInput(f"no way in takes a {type(request).__name__}")


@overload
def take(engine: Engine, settings: Settings, request: FiguresSent) -> Outcome: ...
@overload
def take(engine: Engine, settings: Settings, request: RecordFiles) -> records_in.Received | Taken: ...
@overload
def take(engine: Engine, settings: Settings, request: ReleaseSent[SourceSpec]) -> intake.Imported: ...
@overload
def take(engine: Engine, settings: Settings, request: ColumnsSent) -> tuple[int, pl.DataFrame]: ...
@overload
def take(engine: Engine, settings: Settings, request: ExtractRows) -> int: ...
def take(engine: Engine, settings: Settings, request: Request) -> Answer:
    """Take one upload in hand by the way it came in: through the door, to its outcome (or its receipt, where a
    worker goes on)."""
    return way_of(request).answer(engine, settings, request)


def releases(engine: Engine, settings: Settings) -> Callable[..., intake.Imported]:
    """How a fetcher hands each release it fetched to the table (``fetch_all``'s ``take``), by its keywords."""
    return lambda **release: take(engine, settings, ReleaseSent(**release))


def extracts(engine: Engine, settings: Settings) -> Callable[..., Taken]:
    """How a read of a council's SSD database hands the extract it made to the table (``read_now``'s ``take``)."""

    def taken(*, name: str, path: Path, start: Start, **extract: Any) -> Taken:
        got = take(engine, settings, RecordFiles(files=[(name, path)], start=start, **extract))
        if not isinstance(got, Taken):
            raise InvalidInput(f"the extract read from the SSD database is not one ZIP of the SSD's tables: {name}")
        return got

    return taken


def _again(engine: Engine, submission_id: int) -> tuple[str, door.Again]:
    """The way that took an upload, as its submission records it, and how the door runs it again; an upload recorded
    before the way was (no ``way``), by its kind and mode. NotFound when there is no such upload."""
    with Session(engine) as session:
        submission = session.get(Submission, submission_id)
        if submission is None:
            raise NotFound(f"Submission {submission_id} does not exist")
        kind, mode, recorded = submission.kind, submission.mode, submission.way
    rows = [WAYS_IN[recorded]] if recorded in WAYS_IN else []
    rows += [one for one in WAYS_IN.values() if one.way.kind == kind and mode in one.way.purposes.values()]
    for one in rows:
        if one.again is not None:
            return one.name, one.again
    raise InvalidInput(f"no way in takes uploads of kind {kind!r} and mode {mode!r}")


def rerun(engine: Engine, settings: Settings, submission_id: int) -> Outcome:
    """Run a failed or interrupted upload again from its kept file, through the door, by the way in it came (a
    record-level upload from its kept files, a publisher's file as a release of its source)."""
    return door.again(engine, settings, submission_id, *_again(engine, submission_id))


def take_up(engine: Engine, settings: Settings, submission_id: int) -> Submission:
    """Take up an upload received and waiting for a worker (its way's, through the door), and run it to its end."""
    taking = _again(engine, submission_id)[1].take_up
    if taking is None:
        raise InvalidInput(f"Submission {submission_id} is not left to a worker")
    return taking(engine, settings, submission_id)


def resume_all(engine: Engine, settings: Settings) -> dict[str, list[int]]:
    """Take up every upload of every way in whose worker stopped, through the door; their ids by way (only ways with
    any)."""
    resumed = {
        way.name: door.resume(engine, settings, way.name, way.again)
        for way in WAYS_IN.values()
        if way.again is not None and way.again.resumes
    }
    return {name: ids for name, ids in resumed.items() if ids}
