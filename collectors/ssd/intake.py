"""A council's SSD extract (one ZIP, ``ssd_<table>.csv`` at its root) unpacked with bounds, read and checked against
the SSD's own schema with pandera, every problem by table, row and column; the columns no output reads dropped here.

Nothing read here is logged or put in a message: the tables hold children's records (``docs/records.md``). A
problem names the table, the row (1 is the first row under the heading) and the column, never the value.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl

from collectors.door.recognise import SSD_MEMBER
from collectors.ssd import csv_text
from collectors.ssd.annex_a_columns import COLUMNS as ANNEX_A
from collectors.ssd.spec import FLAGS, PERSON, ROLE, Mapping, Table, as_date, tables
from onereturn.errors import InvalidInput, PayloadTooLarge
from onereturn.listing import clip, error_kind, name_a_few

#: A full SSD is about 45 tables (issue 64); a few more leave room for the code map and a readme.
MAX_MEMBERS = 60
#: The council's map from its local codes to DfE's, an optional member of the ZIP (columns ssd_column, local, dfe).
CODE_MAP = "code_map.csv"
#: The problems a refusal lists; the message counts the rest.
SHOWN = 200
_CHUNK = 1024 * 1024
#: A plain JSON list is one of strings of printable ASCII without a quote or backslash (_PLAIN): ``json.loads`` gives
#: those strings as they are written (JSON's white space is space, tab, line feed and carriage return).
_JSON_SPACE = r"[ \t\n\r]*"
_PLAIN = re.compile(r"[ !#-\[\]-~]*")
#: The columns the made files join tables by: a table given without one is refused, as one without its key is.
JOINS: dict[str, tuple[str, ...]] = {
    "ssd_cin_assessments": ("cina_referral_id",),
    "ssd_assessment_factors": ("cinf_assessment_id",),
    "ssd_cin_plans": ("cinp_referral_id",),
    "ssd_s47_enquiry": ("s47e_referral_id",),
    "ssd_initial_cp_conference": ("icpc_s47_enquiry_id",),
    "ssd_cp_plans": ("cppl_referral_id",),
    "ssd_cp_reviews": ("cppr_cp_plan_id",),
    "ssd_cla_episodes": ("clae_cla_placement_id", "clae_cla_id"),
    "ssd_cla_reviews": ("clar_cla_id",),
}


#: Columns the readings need beyond the items made from them (issue 64's readings): the home address in force
#: and its type, the legal status in force, a UASC status and its start, the ids episodes and plans are joined by,
#: and the involvement's role the council's rule for the allocated worker reads (SWEpisodes, Annex A, payloads).
READINGS: dict[str, tuple[str, ...]] = {
    "ssd_address": ("addr_address_type", "addr_address_start_date", "addr_address_end_date"),
    "ssd_involvements": (ROLE,),
    "ssd_legal_status": ("lega_legal_status_start_date", "lega_legal_status_end_date"),
    "ssd_immigration_status": ("immi_immigration_status", "immi_immigration_status_start_date"),
    **JOINS,
}


@dataclass
class Problem:
    """One problem of the extract, by table, row (1-based under the heading) and column; never the value."""

    table: str
    row: int | None
    column: str | None
    message: str

    def item(self) -> dict[str, Any]:
        """The problem as an error item of the API's refusal body."""
        loc: list[str | int] = [self.table]
        if self.row is not None:
            loc.append(self.row)
        if self.column is not None:
            loc.append(self.column)
        return {"type": "ssd_extract", "loc": loc, "msg": self.message, "input": None}


@dataclass
class Extract:
    """An extract read and checked: its tables (only the columns some output reads), what was set aside, the map."""

    tables: dict[str, pl.DataFrame]
    notes: list[str] = field(default_factory=list)
    code_map: dict[tuple[str, str], str] = field(default_factory=dict)
    rows: int = 0
    #: The council's role ids that are the allocated worker (its agency's ``ssd.worker_roles``); none: every role.
    worker_roles: tuple[str, ...] = ()
    #: Read keeping names, UPNs and postcodes for DfE's payloads (its agency's ``ssd.payload_identifiers``).
    identifiers: bool = False


class ExtractRefused(InvalidInput):
    """The extract has problems; ``errors`` lists them by table, row and column. Nothing of it was kept."""

    def __init__(self, problems: list[Problem]) -> None:
        tables_hit = sorted({p.table for p in problems})
        more = f" (the first {SHOWN} listed)" if len(problems) > SHOWN else ""
        super().__init__(
            f"the SSD extract has {len(problems):,} problem(s) in {name_a_few(tables_hit)}{more}; nothing was kept: "
            "correct the extract and upload it again",
            errors=[p.item() for p in problems[:SHOWN]],
        )
        self.problems = problems


def unpack(path: Path, name: str, *, max_unpacked: int) -> dict[str, bytes]:
    """The ZIP's members by name, refused before inflating when its directory is wrong or declares too much, and
    while inflating when a member holds more than it declared (a ZIP bomb): at most a chunk past a limit is read."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InvalidInput(f"{name} is not a readable ZIP ({error_kind(exc)})") from exc
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
        if len(members) > MAX_MEMBERS:
            raise InvalidInput(f"{name} holds {len(members)} files; an SSD extract is at most {MAX_MEMBERS}")
        problems = [
            Problem(m.filename[:100], None, None, "a member's name is a path: the tables sit at the ZIP's root")
            for m in members
            if "/" in m.filename or "\\" in m.filename or m.filename.startswith(".")
        ]
        if problems:
            raise ExtractRefused(problems)
        declared = sum(m.file_size for m in members)
        if declared > max_unpacked:
            raise PayloadTooLarge(
                f"{name} unpacks to {declared:,} bytes, over the limit of {max_unpacked:,}; nothing of it was unpacked"
            )
        return {m.filename: _inflate(archive, m, name) for m in members}


def _inflate(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str) -> bytes:
    out = io.BytesIO()
    try:
        with archive.open(member) as source:
            while chunk := source.read(min(_CHUNK, member.file_size - out.tell() + 1)):
                out.write(chunk)
                if out.tell() > member.file_size:
                    break
    except (zipfile.BadZipFile, OSError) as exc:
        raise InvalidInput(f"{name}: {member.filename} is damaged or larger than the archive says") from exc
    if out.tell() > member.file_size:
        raise InvalidInput(f"{name}: {member.filename} is larger than the archive says")
    return out.getvalue()


def read_extract(members: dict[str, bytes], mapping: Mapping) -> Extract:
    """Every ``ssd_<table>.csv`` read and checked; refused with every problem, or the tables with unused columns gone."""
    problems: list[Problem] = []
    extract = Extract(tables={})
    schema = tables()
    frames: dict[str, pl.DataFrame] = {}
    for member, data in sorted(members.items()):
        matched = SSD_MEMBER.fullmatch(member)
        if member.lower() == CODE_MAP:
            extract.code_map = _code_map(data, problems, mapping)
            continue
        if matched is None or matched[1].lower() not in schema:
            problems.append(Problem(member[:100], None, None, "not a table of the SSD (ssd_<table>.csv)"))
            continue
        table = schema[matched[1].lower()]
        frame = _read_csv(table, data, problems)
        if frame is not None:
            frames[table.name] = frame
    if PERSON not in frames and not any(p.table == PERSON for p in problems):
        problems.append(
            Problem(PERSON, None, None, "the extract has no ssd_person.csv: every child is one of its people")
        )
    for name, frame in frames.items():
        problems += _check_columns(schema[name], frame, mapping, extract.notes)
    keys: dict[str, pl.Series] = {}
    rules = {name: _table_rules(schema[name], frame, mapping, extract.code_map) for name, frame in frames.items()}
    passing, keyed = _judged(schema, frames, rules, {DATED} if _dates_hold(frames, rules) else set())
    for name, frame in frames.items():
        if name not in passing:
            problems += _check_values(schema[name], frame, rules[name])
        if name not in keyed:
            problems += _check_key(schema[name], frame)
    orphaned = _orphaned(schema, frames)
    for name, frame in frames.items():
        if any(target in orphaned for _, target in _references(schema[name], frame, frames)):
            problems += _check_references(schema[name], frame, frames, keys)
    if problems:
        raise ExtractRefused(problems)
    extract.tables = {name: _kept(schema[name], frame, mapping, extract.notes) for name, frame in frames.items()}
    extract.rows = sum(f.height for f in extract.tables.values())
    absent = sorted(set(mapping.used()) - set(frames))
    if absent:
        extract.notes.append(f"tables not in the extract (read as empty): {', '.join(absent)}")
    return extract


def _read_csv(table: Table, data: bytes, problems: list[Problem]) -> pl.DataFrame | None:
    """The table's CSV as text columns, headings lower-cased and stripped; None (and a problem) when unreadable."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.append(Problem(table.name, None, None, "not UTF-8 text: save it as CSV UTF-8"))
        return None
    try:
        # Only the heading's lines are read here: a reader over the whole text copied all of it first.
        heading = next(csv.reader(csv_text.each_line(text)), None)
        # As decoded: polars skips a byte order mark too, and a second one would be lost.
        frame, failed = csv_text.polars_read(data.removeprefix(codecs.BOM_UTF8)) if heading else (None, None)
        # A row short of the heading's columns would be read with blanks, a child's dates silently lost: refused.
        ragged = (
            csv_text.ragged(text, len(heading)) if heading and not csv_text.rows_fit(text, frame, len(heading)) else []
        )
    except csv.Error:
        problems.append(
            Problem(
                table.name,
                None,
                None,
                "cannot be read as CSV: save it as CSV UTF-8, each row ending "
                "in a line feed (or a carriage return and a line feed)",
            )
        )
        return None
    if not heading:
        problems.append(Problem(table.name, None, None, "the file is empty: a table needs its heading row"))
        return None
    if ragged:
        problems += [
            Problem(table.name, n, None, f"the row has not the heading's {len(heading)} columns")
            for n in ragged[:SHOWN]
        ]
        return None
    if frame is None:
        # The reader's own words may quote a line (a child's record): say what to check instead.
        problems.append(
            Problem(
                table.name,
                None,
                None,
                f"cannot be read as CSV ({type(failed).__name__}): check that every row has the heading's columns",
            )
        )
        return None
    renamed = {c: c.strip().lower() for c in frame.columns}
    # The heading as written too: polars renames an exact repeat (``x_duplicated_0``), which would pass as extra.
    if len({h.strip().lower() for h in heading}) != len(heading) or len(set(renamed.values())) != len(renamed):
        problems.append(Problem(table.name, None, None, "two columns have one heading"))
        return None
    if any(before != after for before, after in renamed.items()):
        frame = frame.rename(renamed)
    if not csv_text.untidy(text):
        return frame
    return frame.with_columns(pl.col(pl.String).str.strip_chars().replace("", None))


def _allowed(table: Table, mapping: Mapping) -> set[str]:
    # A column some output reads (the year's mapping, with any more the caller asked for) is read, not refused.
    return set(table.columns) | mapping.used().get(table.name, set())


def _check_columns(table: Table, frame: pl.DataFrame, mapping: Mapping, notes: list[str]) -> list[Problem]:
    """The key, the child's id and the columns tables are joined by must be there; an extra column is named and set
    aside, another missing one read blank (the SSD's builds for each case system differ in a few columns)."""
    person = [c for c, target in table.references.items() if target == f"{PERSON}.pers_person_id"]
    needed = list(dict.fromkeys([*table.key, *person, *JOINS.get(table.name, ())]))
    problems = [
        Problem(
            table.name,
            None,
            c,
            "the column is missing: it is the table's key, the child's id or the id it is joined by",
        )
        for c in needed
        if c not in frame.columns
    ]
    extra = sorted(set(frame.columns) - _allowed(table, mapping))
    if extra:
        # Named five and counted (a heading of 100,000 columns would otherwise be answered in full).
        named = name_a_few(clip(c, 100) for c in extra)
        notes.append(f"{table.name}: {len(extra):,} column(s) not in the SSD's schema, ignored and not kept: {named}")
    missing = sorted(set(table.columns) & mapping.used().get(table.name, set()) - set(frame.columns))
    if missing and not problems:
        notes.append(f"{table.name}: columns not in the extract, read as blank: {', '.join(missing)}")
    return problems


#: A rule: its name in the report, and what a value must meet, made of the values it is given.
Rule = tuple[str, Callable[[pl.Expr], pl.Expr]]
Rules = dict[str, list[Rule]]
#: The rule of every date column, the same in every table.
DATED = "a date (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)"


def _table_rules(table: Table, frame: pl.DataFrame, mapping: Mapping, code_map: dict[tuple[str, str], str]) -> Rules:
    """The rules of each column of the table the schema or the year's mapping knows (none for some)."""
    allowed = _allowed(table, mapping)
    return {column: _rules(table, column, mapping, code_map) for column in sorted(set(frame.columns) & allowed)}


def _dates_hold(frames: dict[str, pl.DataFrame], rules: dict[str, Rules]) -> bool:
    """Whether every value of every date column of the extract is a date, each distinct value once across all the
    tables: the same days recur through an extract's tables (a column at a time took half the checking of values)."""
    dates = [
        frames[name][column].alias("date")
        for name, table_rules in rules.items()
        for column, found in table_rules.items()
        if any(rule == DATED for rule, _ in found)
    ]
    if not dates:
        return True
    distinct = pl.concat(dates).drop_nulls().unique().to_frame()
    return bool(distinct.select(_is_date(pl.col("date")).all()).item())


def _is_date(values: pl.Expr) -> pl.Expr:
    """Whether each value is one of the SSD's date forms and a real day."""
    return as_date(values).is_not_null()


def _judged(
    schema: dict[str, Table], frames: dict[str, pl.DataFrame], rules: dict[str, Rules], held: set[str]
) -> tuple[set[str], set[str]]:
    """The tables every value of which passes every rule (but the rules found to hold for the whole extract,
    ``held``), and those whose key holds (``_keyed``), every table judged in one plan; the checks that name each
    failing row and column (pandera's among them) run only for a table not among them (a pass over the table a check
    took most of the intake's time, a plan a table most of what was left)."""
    # Each distinct value once: a column's codes repeat, and its dates (a sixth of the synthetic extract's differ).
    judged = [
        (name, check(pl.lit(frames[name][column]).drop_nulls().unique()).fill_null(False).all())
        for name, table_rules in rules.items()
        for column, found in table_rules.items()
        for rule, check in found
        if rule not in held
    ]
    keyed = {name: _keyed(schema[name], frame) for name, frame in frames.items()}
    planned = [e.alias(f"value {n}") for n, (_, e) in enumerate(judged)]
    planned += [e.alias(f"key {name}") for name, e in keyed.items() if isinstance(e, pl.Expr)]
    verdict = pl.select(planned).row(0, named=True) if planned else {}
    failing = {name for n, (name, _) in enumerate(judged) if not verdict[f"value {n}"]}
    held_keys = {name for name, e in keyed.items() if (verdict[f"key {name}"] if isinstance(e, pl.Expr) else e)}
    return set(frames) - failing, held_keys


def _keyed(table: Table, frame: pl.DataFrame) -> pl.Expr | bool:
    """Whether the key is given on every row and on no two alike (or the table has none to check): its blanks as
    counted on reading; its distinct values counted in the plan judging the values (``_judged``)."""
    if not table.key or any(c not in frame.columns for c in table.key):
        return True
    if any(frame[c].null_count() for c in table.key):
        return False
    # With no key blank, two rows share a key exactly when the keys are fewer than the rows (_check_key).
    keys = pl.lit(frame[table.key[0]]) if len(table.key) == 1 else pl.struct(*(pl.lit(frame[c]) for c in table.key))
    return keys.n_unique() == frame.height


def _check_values(table: Table, frame: pl.DataFrame, rules: Rules) -> list[Problem]:
    """Types from the schema, flags and DfE's code lists from the mapping, checked with pandera by row and column."""
    columns = {
        column: pa.Column(
            pl.String,
            checks=[pa.Check(lambda d, e=check(pl.col(column)): _ok(d, e), name=name) for name, check in found],
            nullable=True,
            required=False,
        )
        for column, found in rules.items()
    }
    try:
        pa.DataFrameSchema(columns, name=table.name).validate(frame.select(list(columns)), lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.select("column", "check", "index").unique(maintain_order=True)
        return [
            Problem(table.name, int(index) + 1 if index is not None else None, column, _said(str(check)))
            for column, check, index in cases.iter_rows()
        ]
    return []


def _rules(table: Table, column: str, mapping: Mapping, code_map: dict[tuple[str, str], str]) -> list[Rule]:
    """Each rule a column's values are held to, by its name in the report and what a value must meet, made of the
    values to check (the column's, or its distinct values)."""
    kind = table.columns.get(column, "text")
    item = mapping.column(table.name, column)
    rules: list[Rule] = []
    if kind == "date" or (item is not None and item.kind == "date"):
        rules.append((DATED, _is_date))
    elif kind == "integer":
        rules.append(("a whole number", lambda v: v.cast(pl.Int64, strict=False).is_not_null()))
    elif kind == "number":
        rules.append(("a number", lambda v: v.cast(pl.Float64, strict=False).is_not_null()))
    if item is not None and item.kind == "flag":
        rules.append(("Y or N", lambda v: v.is_in(sorted(FLAGS))))
    elif item is not None and item.kind == "code" and item.codes in mapping.codes:
        # A code of DfE's list, or a local code the council's map turns into one.
        allowed = sorted(mapping.codes[item.codes] | {local for (col, local) in code_map if col == column})
        rules.append((f"a code of DfE's list {item.codes} or of the council's code map", lambda v: v.is_in(allowed)))
    elif item is not None and item.kind == "codes" and item.codes in mapping.codes:
        listed = mapping.codes[item.codes] | {local for (col, local) in code_map if col == column}
        rules.append(
            (
                f'a JSON list of codes of DfE\'s list {item.codes} (like ["1A", "2B"])',
                lambda v: v.map_batches(lambda s: _each_listed(s, listed), return_dtype=pl.Boolean),
            )
        )
    return rules


def _each_listed(values: pl.Series, allowed: frozenset[str]) -> pl.Series:
    """Whether each value is a JSON list of codes in ``allowed`` (null for a blank), each distinct value read once:
    a council's lists repeat, and reading each row's with Python took as long as every other check of the extract.
    A plain list (codes of printable ASCII, no escape) is read by polars; any other value by ``_listed``."""
    distinct = values.drop_nulls().unique().to_frame("v")
    plain = distinct.with_columns(ok=pl.col("v").str.contains(_plain_list(allowed)))
    if plain["ok"].all():
        return values.to_frame().select(pl.when(pl.first().is_not_null()).then(True)).to_series()
    listed = dict.fromkeys(plain.filter("ok")["v"].to_list(), True)
    listed |= {text: _listed(text, allowed) for text in plain.filter(~pl.col("ok"))["v"].to_list()}
    return values.replace_strict(listed, default=None, return_dtype=pl.Boolean)


def _plain_list(allowed: frozenset[str]) -> str:
    """The pattern of a plain JSON list each of whose codes, stripped of spaces, is in ``allowed``: the codes written
    into it, so one match judges a list (finding each code and looking it up took four times as long). A code a plain
    string cannot hold, or one with a space about it (a code read is stripped), can never be matched and is left out."""
    codes = "|".join(
        "".join(c if c.isalnum() else f"\\x{{{ord(c):X}}}" for c in code)
        for code in sorted(allowed)
        if _PLAIN.fullmatch(code) and code == code.strip(" ")
    )
    if not codes:
        return rf"^{_JSON_SPACE}\[{_JSON_SPACE}\]{_JSON_SPACE}$"
    code = rf'" *(?:{codes}) *"'
    listed = rf"{code}{_JSON_SPACE}(?:,{_JSON_SPACE}{code}{_JSON_SPACE})*"
    return rf"^{_JSON_SPACE}\[{_JSON_SPACE}(?:{listed})?\]{_JSON_SPACE}$"


def _listed(text: str, allowed: frozenset[str]) -> bool:
    """Whether ``text`` is a JSON list of codes each in ``allowed``."""
    try:
        found = json.loads(text)
    except ValueError:
        return False
    return isinstance(found, list) and all(isinstance(f, str) and f.strip() in allowed for f in found)


def _ok(data: Any, expr: pl.Expr) -> pl.LazyFrame:
    """A blank passes (absent is not wrong); a value passes when ``expr`` (of the checked column) holds for it."""
    frame: pl.LazyFrame = data.lazyframe
    return frame.select(pl.col(data.key).is_null() | expr.fill_null(False))


def _said(check: str) -> str:
    if check.startswith(("a ", "Y or N")):
        return f"is not {check}"
    return f"fails the check {check}"


def _check_key(table: Table, frame: pl.DataFrame) -> list[Problem]:
    """The key is given on every row and on no two rows alike; both rows of a pair are named."""
    if not table.key or any(c not in frame.columns for c in table.key):
        return []
    keyed = frame.select(*table.key).with_row_index("_row")
    blank = keyed.filter(pl.any_horizontal(pl.col(c).is_null() for c in table.key))
    problems = [Problem(table.name, int(r) + 1, table.key[0], "the key is blank") for r in blank["_row"]]
    twice = keyed.filter(
        pl.struct(*table.key).is_duplicated() & pl.all_horizontal(pl.col(c).is_not_null() for c in table.key)
    )
    problems += [Problem(table.name, int(r) + 1, table.key[0], "another row has the same key") for r in twice["_row"]]
    return problems


def _check_references(
    table: Table, frame: pl.DataFrame, frames: dict[str, pl.DataFrame], keys: dict[str, pl.Series]
) -> list[Problem]:
    """Each reference names a row of the table it refers to, when that table is in the extract; ``keys`` holds each
    target's values once found (most tables name ssd_person's)."""
    problems: list[Problem] = []
    for column, target in _references(table, frame, frames):
        other, _, key = target.partition(".")
        orphans = (
            frame.select(column)
            .with_row_index("_row")
            .filter(pl.col(column).is_not_null() & ~pl.col(column).is_in(_keys(target, frames, keys)))
        )
        problems += [
            Problem(table.name, int(r) + 1, column, f"names no row of {other} ({key})") for r in orphans["_row"]
        ]
    return problems


def _orphaned(schema: dict[str, Table], frames: dict[str, pl.DataFrame]) -> set[str]:
    """The tables' keys (``table.key``) that some reference names a value of that is not there: every column naming
    one key looked up at once (``_check_references`` then names the rows, for the tables naming it)."""
    named: dict[str, list[pl.Series]] = {}
    for name, frame in frames.items():
        for column, target in _references(schema[name], frame, frames):
            named.setdefault(target, []).append(frame[column].alias(target))
    # One plan for every key: a look-up a key, each a few calls on a column, took twice as long as the look-ups.
    judged = [
        pl.lit(pl.concat(columns)).drop_nulls().is_in(_key_values(target, frames)).all().alias(target)
        for target, columns in named.items()
    ]
    verdict = pl.select(judged).row(0, named=True) if judged else {}
    return {target for target, held in verdict.items() if not held}


def _references(table: Table, frame: pl.DataFrame, frames: dict[str, pl.DataFrame]) -> list[tuple[str, str]]:
    """The table's references (column, ``table.key`` it names) that can be checked: the column given, and the table
    it refers to given with that key."""
    found = []
    for column, target in table.references.items():
        other, _, key = target.partition(".")
        if column in frame.columns and other in frames and key in frames[other].columns:
            found.append((column, target))
    return found


def _key_values(target: str, frames: dict[str, pl.DataFrame]) -> pl.Expr:
    """The values of ``target`` (``table.key``) as one list, to look references up in."""
    other, _, key = target.partition(".")
    return pl.lit(frames[other][key]).drop_nulls().implode()


def _keys(target: str, frames: dict[str, pl.DataFrame], keys: dict[str, pl.Series]) -> pl.Series:
    """The values of ``target`` (``table.key``) once found for this extract: most tables name ssd_person's."""
    if target not in keys:
        other, _, key = target.partition(".")
        keys[target] = frames[other][key].drop_nulls().implode()
    return keys[target]


def _code_map(data: bytes, problems: list[Problem], mapping: Mapping) -> dict[tuple[str, str], str]:
    """The council's local codes by (SSD column, local code) to DfE's code; a row mapping a column's local code to a
    code not on DfE's list for the item that column feeds is refused by its row."""
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except UnicodeDecodeError:
        problems.append(Problem(CODE_MAP, None, None, "not UTF-8 text: save it as CSV UTF-8"))
        return {}
    if rows and not {"ssd_column", "local", "dfe"} <= set(rows[0]):
        problems.append(Problem(CODE_MAP, None, None, "its heading must be ssd_column,local,dfe"))
        return {}
    lists = _code_lists(mapping)
    mapped: dict[tuple[str, str], str] = {}
    for number, row in enumerate(rows, start=1):
        column, local, dfe = ((row.get(k) or "").strip() for k in ("ssd_column", "local", "dfe"))
        codes = lists.get(column.lower())
        if codes is not None and dfe not in codes[1]:
            said = f"maps {clip(column, 100)} to a code not on DfE's list {codes[0]}: the dfe column names one of its codes"
            problems.append(Problem(CODE_MAP, number, "dfe", said))
        mapped[(column.lower(), local)] = dfe
    return mapped


def _code_lists(mapping: Mapping) -> dict[str, tuple[str, frozenset[str]]]:
    """Each SSD column that feeds a coded DfE item, with that item's list (its name and codes), as the checks of
    values read it (the first item made from the column)."""
    lists: dict[str, tuple[str, frozenset[str]]] = {}
    for item in mapping.items:
        if item.kind in ("code", "codes") and item.codes in mapping.codes:
            lists.setdefault(item.ssd_column.lower(), (item.codes, mapping.codes[item.codes]))
    return lists


def _kept(table: Table, frame: pl.DataFrame, mapping: Mapping, notes: list[str]) -> pl.DataFrame:
    """Only the columns an output reads (Annex A's among them), the key, the references and the readings' columns;
    the rest dropped here."""
    keep = (
        mapping.used().get(table.name, set())
        | set(table.key)
        | set(table.references)
        | set(READINGS.get(table.name, ()))
        | set(ANNEX_A.get(table.name, ()))
    )
    dropped = sorted(set(frame.columns) & set(table.columns) - keep)
    if dropped:
        notes.append(f"{table.name}: columns no output reads, dropped at intake and not kept: {', '.join(dropped)}")
    return frame[sorted(set(frame.columns) & keep)]
