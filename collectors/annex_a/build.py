"""Ofsted's Annex A for one council and one inspection date, built on demand from its newest CIN census and SSDA903
records (the kept, encrypted uploads), in the layout of ``mappings/annex_a``.

:func:`build_annex_a` gives each list's rows, Ofsted's codes written; :func:`summary` the counts per list and the
columns filled and blank, which name no child. Nothing is stored: the records are decrypted into a temporary folder
for the read (as a run of the upload does) and the folder is removed at once. No record's value is logged or put in
an error (``docs/records.md``).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlmodel import Session, col, select

from collectors.annex_a import in_need as cin_lists
from collectors.annex_a import looked_after as lac
from collectors.annex_a.columns import COLUMNS_MODE, fill_council, newest_columns
from collectors.annex_a.common import CHILD_FIELDS, Window, children, with_child
from collectors.annex_a.from_ssd import SSD_MODE, FromExtract, columns_at, contact_rows, newest_from_extract
from collectors.door import newest_kept
from collectors.records.kept import CIN_FILE, SSDA903_FILE, kept_files
from collectors.records.privacy import checked_keys
from collectors.records.reading import read_files
from collectors.records.ssda903_tables import prepare
from indicators.periods import FIRST_YEAR, LAST_YEAR
from indicators.store.models import ANNEX_A_EXTRACT, RECORDS_KIND, Submission
from mappings.annex_a import AnnexCells, AnnexList, Layout, load_layout
from onereturn.errors import InvalidInput
from onereturn.settings import Settings
from onereturn.workspace import private_folder

#: The inspection dates Annex A is built for: none falls outside these.
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)
#: Statuses of a record-level upload whose records passed DfE's rules (its figures stored).
PASSED = ("accepted", "queried", "partially_accepted")
#: The files made from an SSD extract, by the name they are kept under, and the return each is.
MADE_FILES = {CIN_FILE: "cin", SSDA903_FILE: "903"}


@dataclass(frozen=True)
class Source:
    """One upload the lists were built from: which return, its year, its files and when it was received."""

    library: str  # cin | 903
    submission_id: int
    collection_year: str
    filename: str
    received_at: datetime
    #: A fresh extract sent for Annex A (no DfE return), not the return itself.
    extract: bool = False

    @property
    def year_end(self) -> date:
        """The last day the records can hold: 31 March of the collection year, or an extract's day of upload."""
        end = date(int(self.collection_year[:4]) + 1, 3, 31)
        return min(end, self.received_at.date()) if self.extract else end

    def describe(self) -> str:
        """The source as the front sheet and summary name it (no child in it)."""
        name = "CIN census" if self.library == "cin" else "SSDA903"
        kind = "Annex A extract" if self.extract else "return"
        return (
            f"{name} {self.collection_year} {kind} (upload {self.submission_id}, {self.filename}, received "
            f"{self.received_at:%d/%m/%Y}; records to {self.year_end:%d/%m/%Y})"
        )


@dataclass
class AnnexA:
    """Annex A built: the inspection date, the layout, the rows of each list and the sources read."""

    inspection_date: date
    layout: Layout
    lists: dict[int, pl.DataFrame]
    sources: list[Source] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The headings ("List N: heading") filled from the council's own columns file.
    council_filled: list[str] = field(default_factory=list)
    #: The SSD extract Lists 1 and 2 and the columns no return holds were read from, if any.
    extract: str | None = None
    #: The headings ("List N: heading") filled from the SSD extract; Lists 1 and 2 whole are named "List N: *".
    ssd_filled: list[str] = field(default_factory=list)


def _collection_start(year: str) -> date:
    return date(int(year[:4]), 4, 1)


def newest_sources(session: Session, agency_code: str, inspection_date: date, *, own: bool = False) -> list[Source]:
    """The council's newest CIN census and SSDA903 uploads that passed DfE's rules and are still kept, whose
    collection year began on or before the inspection date (the latest year first, then the latest upload);
    ``own``: only the files the council sent itself, none made from an SSD extract."""
    rows = passed_uploads(session, agency_code)
    found: list[Source] = []
    for library in ("cin", "903"):
        usable = [
            s
            for s in rows
            if s.source_format == library
            and s.collection_year
            and _collection_start(s.collection_year) <= inspection_date
            and not (own and s.filename in MADE_FILES)
        ]
        if usable:
            found.append(_source(max(usable, key=lambda s: (s.collection_year, s.id or 0))))
    return found


def passed_uploads(session: Session, agency_code: str) -> list[Submission]:
    """Every CIN census and SSDA903 upload of the council still kept that DfE's rules passed (sent, or made from its
    SSD extract)."""
    return list(
        session.exec(
            select(Submission).where(
                col(Submission.agency_code) == agency_code,
                col(Submission.kind) == RECORDS_KIND,
                col(Submission.status).in_(PASSED),
                col(Submission.purged_at).is_(None),
                col(Submission.source_format).in_(("cin", "903")),
            )
        ).all()
    )


def passed_sources(session: Session, agency_code: str) -> list[Source]:
    """Every CIN census and SSDA903 of the council still kept that DfE's rules passed, as sources to read."""
    return [_source(upload) for upload in passed_uploads(session, agency_code)]


def _source(sub: Submission) -> Source:
    assert sub.id is not None
    library = sub.source_format if sub.source_format in ("cin", "903") else MADE_FILES.get(sub.filename, "903")
    return Source(library, sub.id, sub.collection_year, sub.filename, sub.received_at, sub.mode == ANNEX_A_EXTRACT)


@dataclass
class OneSet:
    """The one set of children Annex A is built from: the council's newest SSD extract with the files made from it,
    or the files the council sent itself; with what the front sheet says of it."""

    sources: list[Source]
    from_extract: FromExtract | None
    notes: list[str] = field(default_factory=list)


def one_set(session: Session, settings: Settings, agency_code: str, inspection_date: date) -> OneSet:
    """Annex A's records, all of one set: the newest SSD extract and the files made from it when it is newer than
    every file the council sent itself, else those files alone; a file the newest extract made that did not pass DfE's
    rules leaves its lists empty, said plainly, rather than an older file of other children read in its place."""
    own = newest_sources(session, agency_code, inspection_date, own=True)
    found = newest_kept(session, agency_code, SSD_MODE)
    if found is None:
        # No extract's rows kept (none sent, or purged): the newest files held, made from an extract or not.
        held = newest_sources(session, agency_code, inspection_date)
        if not any(s.filename in MADE_FILES for s in held):
            return OneSet(held, None, [_OWN_SET])
        return OneSet(
            held,
            None,
            [
                "Built from the newest CIN census and SSDA903 held; the rows kept from the SSD "
                "extract they were made from are gone, so Lists 1 and 2 and the columns only the "
                "extract holds are empty."
            ],
        )
    if any(s.submission_id > (found.id or 0) for s in own):
        said = (
            f"{_OWN_SET} The SSD extract {found.filename} (upload {found.id}, received "
            f"{found.received_at:%d/%m/%Y}) is older than them and is not read with them."
        )
        return OneSet(own, None, [said])
    from_extract = newest_from_extract(session, settings, agency_code)
    assert from_extract is not None
    made = from_extract.made_files()
    if made is None:
        # Rows kept before the made files were recorded with them: the newest made of each kept before the rows.
        made = _made_before(session, agency_code, from_extract.submission_id)
    chosen = OneSet(
        [],
        from_extract,
        [
            f"Built from one set of children: the {from_extract.describe()} and the "
            "files made from it (no file the council sent itself is read with them)."
        ],
    )
    for kept_as, library in MADE_FILES.items():
        lists = "3 to 7" if library == "cin" else "8 to 10"
        sub = session.get(Submission, made[kept_as]) if kept_as in made else None
        name = "CIN census" if library == "cin" else "SSDA903"
        if sub is None or sub.purged_at is not None:
            gone = "made no" if sub is None else "made a"
            chosen.notes.append(
                f"The newest SSD extract {gone} {name}{'' if sub is None else ' since purged'}: "
                f"Lists {lists} are empty; no other file is read in its place."
            )
        elif sub.status not in PASSED:
            refused = sub.status == "rejected"
            state = (
                "was refused by DfE's rules"
                if refused
                else "failed before DfE's rules ended"
                if sub.status == "failed"
                else f"is still being checked (stage {sub.stage})"
            )
            where = f"its findings: /api/submissions/{sub.id}/records" if refused else f"/api/submissions/{sub.id}"
            chosen.notes.append(
                f"Part of the newest SSD extract was {'refused' if refused else 'not made whole'}: the "
                f"{name} made from it (upload {sub.id}) {state}, so Lists {lists} are empty; no older "
                f"file of other children is read in its place ({where})."
            )
        elif not sub.collection_year or _collection_start(sub.collection_year) > inspection_date:
            chosen.notes.append(
                f"The {name} made from the newest SSD extract is for {sub.collection_year}, after the "
                f"inspection date: Lists {lists} are empty."
            )
        else:
            chosen.sources.append(_source(sub))
    return chosen


#: What the front sheet says of a set of the council's own files.
_OWN_SET = "Built from one set of children: the CIN census and SSDA903 files the council sent itself."


def _made_before(session: Session, agency_code: str, kept_id: int) -> dict[str, int]:
    """The newest file of each name made from an SSD extract received before the extract's rows were kept."""
    found: dict[str, int] = {}
    for kept_as in MADE_FILES:
        sub_id = session.exec(
            select(Submission.id)
            .where(
                col(Submission.agency_code) == agency_code,
                col(Submission.kind) == RECORDS_KIND,
                col(Submission.filename) == kept_as,
                col(Submission.id) < kept_id,
            )
            .order_by(col(Submission.id).desc())
        ).first()
        if sub_id is not None:
            found[kept_as] = sub_id
    return found


def read_sources(
    session: Session, settings: Settings, sources: list[Source]
) -> tuple[dict[str, pl.DataFrame] | None, dict[str, pl.DataFrame] | None]:
    """The CIN census and SSDA903 tables of the sources, decrypted into a temporary folder removed at once."""
    # Refused before anything is read where this host's keys are not the deployment's.
    checked_keys(session.get_bind(), settings)
    tables: dict[str, dict[str, pl.DataFrame]] = {}
    for source in sources:
        submission = session.get(Submission, source.submission_id)
        assert submission is not None
        with private_folder(settings, "annexa-") as workdir:
            kept = kept_files(session.get_bind(), settings, submission, Path(workdir))
            read = read_files(kept, Path(workdir), submission.collection_year, max_unpacked=settings.max_upload_bytes)
        tables[source.library] = read.tables if read.library == "cin" else prepare(read.tables)
    return tables.get("cin"), tables.get("903")


def derive_lists(
    cin: dict[str, pl.DataFrame] | None, ssda903: dict[str, pl.DataFrame] | None, inspection_date: date
) -> dict[int, pl.DataFrame]:
    """Lists 3 to 10 from the tables, each row with the child's details first; codes still DfE's."""
    window = Window(inspection_date)
    found: dict[int, pl.DataFrame] = {}
    care = lac.care_episodes(ssda903, window) if ssda903 is not None else None
    if cin is not None:
        kids = children(cin, ssda903, window, prefer="cin")
        looked_after = lac.looked_after_on(care) if care is not None else None
        protected = lac.protected_in_window(care, window) if care is not None else None
        found[3] = with_child(cin_lists.referrals(cin, window), kids)
        found[4] = with_child(cin_lists.assessments(cin, window), kids)
        found[5] = with_child(cin_lists.section47s(cin, window), kids)
        found[6] = with_child(cin_lists.children_in_need(cin, window, looked_after), kids)
        found[7] = with_child(cin_lists.child_protection(cin, window, protected), kids)
    if ssda903 is not None and care is not None:
        kids = children(cin, ssda903, window, prefer="903")
        found[8] = with_child(lac.children_in_care(ssda903, care, window), kids)
        found[9] = with_child(lac.care_leavers(ssda903, window), kids)
        found[10] = with_child(lac.adoption(ssda903, care, window), kids)
    return found


def present(
    rows: pl.DataFrame | None, annex_list: AnnexList, layout: Layout, unwritten: list[str] | None = None
) -> pl.DataFrame:
    """The list in the layout's columns, in order: each filled column from its field with Ofsted's code written for
    DfE's, each blank column empty. A DfE code is never written bare: one Ofsted asks to be left blank ("not in
    touch") or one no source gives Ofsted's code for is left blank, and ``unwritten`` gets a line per column saying
    how many cells of which codes (no child in it)."""
    height = 0 if rows is None else rows.height
    columns: list[pl.Series] = []
    for number, column in enumerate(annex_list.columns):
        name = f"c{number}"
        dtype: Any = {"date": pl.Date, "int": pl.Int32}.get(column.kind, pl.String)
        if rows is None or column.field is None or column.field not in rows.columns:
            columns.append(pl.Series(name, [None] * height, dtype=dtype))
            continue
        values = rows[column.field]
        if column.codes is not None:
            values = _coded(values, column.codes, f"{annex_list.sheet} {column.heading}", layout, unwritten)
        columns.append(values.alias(name).cast(dtype) if column.kind != "text" else values.alias(name).cast(pl.String))
    return pl.DataFrame(columns) if columns else pl.DataFrame()


def _coded(values: pl.Series, codes: str, where: str, layout: Layout, unwritten: list[str] | None) -> pl.Series:
    """Ofsted's codes for a column's DfE codes; a code Ofsted has none for is blank, and counted in ``unwritten``."""
    dfe = values.cast(pl.String)
    distinct = [v for v in dfe.unique().to_list() if v is not None and v.strip()]
    mapping = {v: layout.ofsted_code(codes, v) for v in distinct}
    if unwritten is not None:
        asked_blank = layout.blank.get(codes, {})
        lacking = {v for v, code in mapping.items() if code is None and v.strip().upper() not in asked_blank}
        if lacking:
            cells = int(dfe.is_in(sorted(lacking)).sum())
            listed = ", ".join(sorted({v.strip().upper() for v in lacking}))
            unwritten.append(
                f"{where}: {cells} cell(s) left blank, their DfE code(s) ({listed}) having no Ofsted code in any "
                "source held; write them by hand."
            )
    return dfe.replace_strict(mapping, default=None, return_dtype=pl.String)


#: An inspection date as the service takes it: YYYY-MM-DD and nothing else (20250331 is not read as a date).
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", flags=re.ASCII)


def read_inspection_date(text: str) -> date:
    """The inspection date ``text`` gives as YYYY-MM-DD; InvalidInput (422) saying how to write it otherwise."""
    stripped = text.strip()
    try:
        if not _ISO_DATE.fullmatch(stripped):
            raise ValueError(stripped)
        day = date.fromisoformat(stripped)
    except ValueError:
        raise InvalidInput(
            "Give the inspection date as YYYY-MM-DD, for example 2025-03-31",
            errors=[
                {
                    "type": "invalid_input",
                    "loc": ["query", "inspection_date"],
                    "msg": "give the date as YYYY-MM-DD",
                    "input": stripped[:16],
                }
            ],
        ) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        # As every date a route takes (docs/api.md): refused at the door, whichever list is asked for.
        raise InvalidInput(
            f"inspection_date must be within the years {FIRST_YEAR} to {LAST_YEAR}",
            errors=[
                {
                    "type": "invalid_input",
                    "loc": ["query", "inspection_date"],
                    "msg": f"must be within the years {FIRST_YEAR} to {LAST_YEAR}",
                    "input": stripped,
                }
            ],
        )
    return day


def build_annex_a(
    session: Session, settings: Settings, agency_code: str, inspection_date: date, *, layout_id: str | None = None
) -> AnnexA:
    """Annex A of a council for an inspection date: every list in the layout, filled from its newest records."""
    if not EARLIEST <= inspection_date <= LATEST:
        # DfE's record-level returns begin long after the first and the windows reach twelve months back.
        raise InvalidInput(
            f"inspection_date must fall from {EARLIEST.isoformat()} to {LATEST.isoformat()}: Annex A lists the records "
            "a council holds as at an inspection"
        )
    layout = load_layout(layout_id) if layout_id else load_layout()
    chosen = one_set(session, settings, agency_code, inspection_date)
    cin, ssda903 = read_sources(session, settings, chosen.sources)
    annex = assemble(cin, ssda903, inspection_date, layout, chosen.sources, made=chosen.from_extract is not None)
    annex.notes[:0] = chosen.notes
    if chosen.from_extract is not None:
        _fill_from_extract(annex, chosen.from_extract)
    council = newest_columns(session, settings, agency_code, layout)
    if council is not None and annex.ssd_filled:
        # Choice: a column the extract fills is the extract's; the council's own file fills the columns it leaves.
        council = council.drop([h for h in annex.ssd_filled if h in council.columns])
    annex.council_filled = fill_council(annex.lists, layout, council)
    if annex.council_filled:
        annex.notes.append(
            f"{len(annex.council_filled)} column(s) no return holds are filled from the council's own columns file, "
            "by child id: " + "; ".join(annex.council_filled) + "."
        )
    return annex


def _fill_from_extract(annex: AnnexA, from_extract: FromExtract) -> None:
    """Lists 1 and 2 and the columns no return holds, from the rows kept from the council's newest SSD extract."""
    layout, on = annex.layout, annex.inspection_date
    annex.extract = from_extract.describe()
    unwritten: list[str] = []
    for number, (item, rows) in contact_rows(from_extract.tables, layout, on).items():
        annex.lists[number] = present(rows, item, layout, unwritten)
        annex.ssd_filled.append(f"{item.sheet}: *")
        # The list's note that no return holds it is answered by the extract: said once, below, not twice.
        annex.notes = [n for n in annex.notes if not n.startswith(f"{item.sheet} (")]
    annex.ssd_filled += fill_council(annex.lists, layout, columns_at(from_extract.tables, layout, on))
    columns = len([h for h in annex.ssd_filled if not h.endswith(": *")])
    lists = [h.split(":")[0] for h in annex.ssd_filled if h.endswith(": *")]
    annex.notes.append(
        f"From the {annex.extract}: {' and '.join(lists) or 'no list'} whole, and {columns} column(s) no return "
        "holds, read as at the inspection date."
    )
    if (rule := from_extract.worker_rule()) is not None:
        annex.notes.append(rule)
    annex.notes += unwritten


def assemble(
    cin: dict[str, pl.DataFrame] | None,
    ssda903: dict[str, pl.DataFrame] | None,
    inspection_date: date,
    layout: Layout,
    sources: list[Source],
    *,
    made: bool = False,
) -> AnnexA:
    """Annex A from tables already read: every list of the layout, and what the records cannot say (``made``: the
    files were made from an SSD extract, whose own notes say why one is missing)."""
    derived = derive_lists(cin, ssda903, inspection_date)
    unwritten: list[str] = []
    lists = {item.number: present(derived.get(item.number), item, layout, unwritten) for item in layout.lists}
    held = {s.library for s in sources} or {lib for lib, t in (("cin", cin), ("903", ssda903)) if t is not None}
    if made:
        held |= {"cin", "903"}
    notes = _notes(layout, sources, held, inspection_date) + unwritten
    return AnnexA(inspection_date, layout, lists, sources, notes=notes)


def _notes(layout: Layout, sources: list[Source], held: set[str], inspection_date: date) -> list[str]:
    """What the lists cannot say, from the sources held (no child in it)."""
    notes = []
    for library, lists, name in (("cin", "3 to 7", "CIN census"), ("903", "8 to 10", "SSDA903")):
        if library not in held:
            notes.append(f"No {name} records that passed DfE's rules are held for this date: Lists {lists} are empty.")
    for source in sources:
        if source.year_end < inspection_date:
            notes.append(
                f"The {source.describe()} runs to {source.year_end:%d/%m/%Y}: anything after that date is not in the "
                "lists; upload a newer extract to bring them up to the inspection."
            )
    for item in layout.lists:
        if item.records == "none" or item.why:
            notes.append(f"{item.sheet} ({item.title}): {item.why}.")
    return notes


def summary(annex: AnnexA) -> dict[str, Any]:
    """Counts per list, the columns filled and blank (with why), the sources and notes: no child in it."""
    lists = []
    for item in annex.layout.lists:
        rows = annex.lists[item.number]
        from_ssd = _from_ssd(annex, item.sheet, [c.heading for c in item.columns])
        lists.append(
            {
                "list": item.number,
                "sheet": item.sheet,
                "title": item.title,
                "rows": rows.height,
                "children": rows["c0"].n_unique() if rows.height and item.number != 11 else 0,
                "filled": item.filled,
                # The columns no return holds: "not_held" all of them, "blank" those no source filled either.
                "not_held": [{"column": c.heading, "why": c.why or item.why} for c in item.blank],
                "blank": [
                    {"column": c.heading, "why": c.why or item.why}
                    for c in item.blank
                    if c.heading not in from_ssd and f"{item.sheet}: {c.heading}" not in annex.council_filled
                ],
                "council_filled": [
                    h.split(": ", 1)[1] for h in annex.council_filled if h.startswith(f"{item.sheet}: ")
                ],
                "ssd_filled": from_ssd,
            }
        )
    return {
        "inspection_date": annex.inspection_date.isoformat(),
        "layout": annex.layout.id,
        "layout_year": annex.layout.year,
        #: What the markers in the notes and the blank columns' reasons ([G], [L], [CV]) stand for.
        "sources_cited": list(annex.layout.sources),
        "sources": [s.describe() for s in annex.sources] + ([annex.extract] if annex.extract else []),
        "lists": lists,
        "notes": annex.notes,
    }


def cells(annex: AnnexA) -> AnnexCells:
    """Annex A's child-level cells of Lists 1 to 10, by who fills them: the records, the SSD extract, the council.

    A cell counts as filled from a source only where that source wrote a value in it: a column the records fill
    that is blank for a child (a disability the census does not record, a closure date of a case still open) is
    not filled by them, and is counted with the cells the council keys or confirms by hand."""
    total = records = extract = 0
    for item in annex.layout.lists:
        rows = annex.lists[item.number]
        from_ssd = set(_from_ssd(annex, item.sheet, [c.heading for c in item.columns]))
        total += rows.height * len(item.columns)
        for position, column in enumerate(item.columns):
            if column.heading not in from_ssd and column.field is None:
                continue
            held = written(rows[f"c{position}"])
            if column.heading in from_ssd:
                extract += held
            else:
                records += held
    return AnnexCells(annex.inspection_date.isoformat(), total, records, extract, total - records - extract)


def written(values: pl.Series) -> int:
    """How many cells of a column hold a value: not null, and for text not blank."""
    if values.dtype == pl.String:
        return int(values.str.strip_chars().str.len_chars().fill_null(0).gt(0).sum())
    return values.len() - values.null_count()


#: Annex A's cells as counted, by the council, the date and the uploads they were counted from. A new upload, a
#: purge or a rejection changes which uploads Annex A reads, so a count is never served after its records changed;
#: the cells name no child. The burden asks for every council on each view, and each count decrypts and reads
#: the council's records (a second or more for a large council).
_CELLS: OrderedDict[tuple[object, ...], AnnexCells] = OrderedDict()
_CELLS_HELD = 512
_CELLS_LOCK = threading.Lock()


def _read_from(session: Session, agency_code: str, on: date) -> tuple[object, ...]:
    """What Annex A as at ``on`` reads: its records, its SSD extract's rows and its columns file, each by its
    content's hash and what the build reads beside it (an extract's day of upload bounds its records). By content,
    not by upload id: a store restored from a backup, or another store in the same process, may reuse an id."""
    read = [session.get(Submission, s.submission_id) for s in newest_sources(session, agency_code, on, own=True)]
    read += [newest_kept(session, agency_code, mode) for mode in (SSD_MODE, COLUMNS_MODE)]
    # The files made from extracts, with their states: one refused, purged or stored changes which lists are filled.
    made = session.exec(
        select(Submission)
        .where(
            col(Submission.agency_code) == agency_code,
            col(Submission.kind) == RECORDS_KIND,
            col(Submission.filename).in_(MADE_FILES),
        )
        .order_by(col(Submission.id))
    ).all()
    return (
        agency_code,
        on,
        tuple(None if s is None else (s.content_hash, s.mode, s.collection_year, s.received_at) for s in read),
        tuple((s.content_hash, s.status, s.purged_at is None, s.collection_year, s.received_at) for s in made),
    )


def annex_a_cells(session: Session, settings: Settings, agency_code: str, on: date) -> AnnexCells | None:
    """The council's Annex A as at ``on`` counted in cells; None when it has sent no record it could be built from."""
    held = session.exec(
        select(Submission.id)
        .where(
            col(Submission.agency_code) == agency_code,
            col(Submission.kind) == RECORDS_KIND,
            col(Submission.purged_at).is_(None),
        )
        .limit(1)
    ).first()
    if held is None:
        return None
    key = _read_from(session, agency_code, on)
    with _CELLS_LOCK:
        if (found := _CELLS.get(key)) is not None:
            _CELLS.move_to_end(key)
            return found
    counted = cells(build_annex_a(session, settings, agency_code, on))
    with _CELLS_LOCK:
        _CELLS[key] = counted
        while len(_CELLS) > _CELLS_HELD:
            _CELLS.popitem(last=False)
    return counted


def _from_ssd(annex: AnnexA, sheet: str, headings: list[str]) -> list[str]:
    """The list's headings filled from the SSD extract: every one where the list came whole from it."""
    if f"{sheet}: *" in annex.ssd_filled:
        return headings
    return [h.split(": ", 1)[1] for h in annex.ssd_filled if h.startswith(f"{sheet}: ")]


__all__ = [
    "CHILD_FIELDS",
    "AnnexA",
    "Source",
    "annex_a_cells",
    "assemble",
    "build_annex_a",
    "cells",
    "derive_lists",
    "present",
    "read_inspection_date",
    "summary",
    "written",
]
