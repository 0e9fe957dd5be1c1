"""Agencies as data: import them from a spreadsheet, add and change them, with the agency files' checks.

Every problem is reported with the spreadsheet row and column (or the request field) it is in,
and nothing is stored unless every row is right. The checks are those of the bundled agency
files: a known body type, known org units (GSS codes or ``type:`` selectors) and returns, and
one designated source per figure across every agency, stored or new.
"""

from __future__ import annotations

import contextlib
import csv
import fnmatch
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete, insert
from sqlmodel import Session, col, select

from indicators.formula import parse_formula, references
from indicators.models import Code, Indicator
from indicators.service import indicators_by_id
from mappings.access import AgencyRecord
from mappings.agencies import UPPER_TIER, resolve_orgs
from mappings.catalogue import LEVEL_GROUPS, ORG_TYPES
from mappings.council_ssd import CouncilSsd, of_definition
from mappings.illustrative import ILLUSTRATIVE_COUNCIL
from mappings.keys import REGION_BODY
from mappings.models import Agency, AgencyIndicator, AgencyOrg, AgencyReturn, FieldMapping, Return
from mappings.regions.consent import end_with_membership
from onereturn.errors import InvalidInput, NotFound, UnsupportedFile

#: The columns of an agency spreadsheet; the first four must be there.
COLUMNS = ("code", "name", "body_type", "email", "orgs", "returns", "indicators", "provenance", "published")
REQUIRED = ("code", "name", "body_type", "orgs")
LIST_COLUMNS = ("orgs", "returns", "indicators")
CODE_PATTERN = r"^[a-z][a-z0-9_]*$"
_SPLIT = re.compile(r"[;,\s]+")


def split_list(text: str) -> list[str]:
    """Split a spreadsheet cell of codes (separated by semicolons, commas or spaces)."""
    return [part for part in _SPLIT.split(text.strip()) if part]


class AgencyInput(BaseModel):
    """A new agency: its code, name, body type, contact, org units, returns and extra indicators."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    code: str = Field(pattern=CODE_PATTERN, max_length=64, description="Lower case, digits and _, e.g. kent_cc")
    name: str = Field(min_length=3, max_length=200)
    body_type: str = Field(max_length=64, description="A code of the body_type code list, e.g. local_authority")
    email: str = Field(default="", max_length=254)
    orgs: list[str] = Field(min_length=1, description="GSS codes, or selectors such as type:county")
    returns: list[str] = Field(default_factory=list, description="Return ids, e.g. dfe_ssda903")
    indicators: list[str] = Field(default_factory=list, description="Extra indicator ids or patterns (pop.*)")
    provenance: str = Field(default="", max_length=500)
    published: str = Field(
        default="",
        max_length=500,
        description="Why its figures are official statistics it publishes itself (they then need no sign-off); "
        "empty for a body whose approver signs its figures off",
    )
    ssd: CouncilSsd | None = Field(
        default=None,
        description="A council's settings for its SSD extract: the allocated worker's roles, names in DfE's "
        "payloads, a scheduled read from its own database",
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise ValueError("is not an email address")
        return value


class PublisherInput(AgencyInput):
    """A publisher's agency the published intake made: it may answer for no org unit, its figures being the
    publisher's own files."""

    orgs: list[str] = Field(default_factory=list, description="GSS codes, or selectors; none for a publisher")


class AgencyChange(BaseModel):
    """A change to an agency: only the fields given change."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=3, max_length=200)
    body_type: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=254)
    orgs: list[str] | None = Field(default=None, min_length=1)
    returns: list[str] | None = None
    indicators: list[str] | None = None
    provenance: str | None = Field(default=None, max_length=500)
    published: str | None = Field(default=None, max_length=500)
    ssd: CouncilSsd | None = None


@dataclass(frozen=True)
class Issue:
    """One problem, at a spreadsheet row (None for a single agency) and column."""

    row: int | None
    column: str
    value: str
    kind: str
    message: str

    def as_error(self) -> dict[str, Any]:
        """Render in the product's error shape."""
        loc: list[Any] = ["body", self.column] if self.row is None else ["row", self.row, self.column]
        return {"type": self.kind, "loc": loc, "msg": self.message, "input": self.value}

    def __str__(self) -> str:
        where = self.column if self.row is None else f"row {self.row}, {self.column}"
        return f"{where}: {self.message}"


@dataclass
class CatalogueView:
    """What the checks need from the stored catalogue and geography, read once."""

    body_types: list[str]
    returns: set[str]
    org_types: dict[str, str]
    fields: dict[str, list[str]]
    indicators: dict[str, Indicator]

    @classmethod
    def read(cls, session: Session) -> CatalogueView:
        """Read the body types, returns, org units, field mappings and indicators."""
        from mappings.agencies import org_types

        fields: dict[str, list[str]] = {}
        rows = session.execute(
            select(FieldMapping.return_id, FieldMapping.indicator_id, FieldMapping.relation, FieldMapping.counterpart)
        ).all()
        for ret, ind, relation, counterpart in rows:
            # A different_method field is never filled from its indicator, so only its counterpart
            # (the return's own measure) is asked for, as in the agency files.
            wanted = counterpart if relation == "different_method" else ind
            if wanted:
                fields.setdefault(ret, []).append(wanted)
        return cls(
            body_types=list(
                session.execute(
                    select(Code.code).where(Code.codelist_id == "body_type").order_by(col(Code.position))
                ).scalars()
            ),
            returns=set(session.execute(select(Return.id)).scalars()),
            org_types=org_types(session),
            fields=fields,
            indicators=indicators_by_id(session),
        )

    def refs(self, ind: Indicator) -> list[str]:
        """List the indicators a definition refers to (ratio parts and formula terms)."""
        found = [r for r in (ind.numerator, ind.denominator) if r]
        if ind.formula:
            with contextlib.suppress(InvalidInput):
                found += references(parse_formula(ind.formula))
        return found

    def needed(self, return_ids: Iterable[str]) -> set[str]:
        """Return every collected indicator the returns' fields need, through formulas and ratio parts."""
        stack = [i for r in return_ids for i in self.fields.get(r, [])]
        seen: set[str] = set()
        collected: set[str] = set()
        while stack:
            ind_id = stack.pop()
            if ind_id in seen or ind_id not in self.indicators:
                continue
            seen.add(ind_id)
            ind = self.indicators[ind_id]
            stack += self.refs(ind)
            if not ind.formula:
                collected.add(ind_id)
        return collected


@dataclass
class Resolved:
    """An agency checked against the catalogue: its org units and designated indicators."""

    row: int | None
    spec: AgencyInput
    orgs: list[str] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)


def resolve(
    view: CatalogueView, row: int | None, spec: AgencyInput, *, kept_body_type: str = ""
) -> tuple[Resolved, list[Issue]]:
    """Resolve one agency's org units and indicators; list what is wrong with it (a stored agency's own body type,
    ``kept_body_type``, stands even where the code list lacks it, as the intake's "publisher")."""
    issues: list[Issue] = []
    if spec.body_type not in view.body_types and not (kept_body_type and spec.body_type == kept_body_type):
        issues.append(
            Issue(
                row,
                "body_type",
                spec.body_type,
                "unknown-code",
                f"body_type {spec.body_type!r} is not a body_type code; expected one of {', '.join(view.body_types)}",
            )
        )
    for ret in spec.returns:
        if ret not in view.returns:
            issues.append(
                Issue(
                    row,
                    "returns",
                    ret,
                    "broken-reference",
                    f"return {ret!r} is not defined; expected one of {', '.join(sorted(view.returns))}",
                )
            )
    known_types = {*ORG_TYPES, *LEVEL_GROUPS, *view.org_types.values()}
    for entry in spec.orgs:
        if entry.startswith("type:") and entry[5:] not in known_types:
            issues.append(
                Issue(
                    row,
                    "orgs",
                    entry,
                    "unknown-code",
                    f"{entry!r} selects no org type; expected type: and one of {', '.join(sorted(known_types))}",
                )
            )
        elif not entry.startswith("type:") and entry not in view.org_types:
            issues.append(Issue(row, "orgs", entry, "broken-reference", f"org unit {entry!r} is not known"))
    orgs = [o for o in resolve_orgs(spec.orgs, view.org_types) if o in view.org_types]
    if spec.body_type == REGION_BODY:
        issues += _region_issues(row, spec, orgs, view)
    collected = {i for i, ind in view.indicators.items() if not ind.formula and ind.source_body == spec.body_type}
    wanted = view.needed(spec.returns) & collected
    for pattern in spec.indicators:
        matched = {i for i in collected if fnmatch.fnmatchcase(i, pattern)}
        if not matched:
            issues.append(
                Issue(
                    row,
                    "indicators",
                    pattern,
                    "broken-reference",
                    f"{pattern!r} matches no collected indicator whose source is {spec.body_type!r}",
                )
            )
        wanted |= matched
    return Resolved(row, spec, orgs, sorted(wanted)), issues


def _region_issues(row: int | None, spec: AgencyInput, orgs: list[str], view: CatalogueView) -> list[Issue]:
    """What a region's hub may not be: its org units are its member councils (upper-tier councils), and it owes no
    return and keys no figure of its own."""
    issues = [
        Issue(
            row,
            "orgs",
            code,
            "not-a-council",
            f"a region's org units are its member councils; {code} is a {view.org_types[code]}, not an upper-tier "
            f"council ({', '.join(UPPER_TIER)})",
        )
        for code in orgs
        # The demo's made-up county is a council of its own (mappings/illustrative.py), so its region can be shown.
        if view.org_types[code] not in UPPER_TIER and view.org_types[code] != ILLUSTRATIVE_COUNCIL
    ]
    for column in ("returns", "indicators"):
        if getattr(spec, column):
            issues.append(
                Issue(
                    row,
                    column,
                    ";".join(getattr(spec, column)),
                    "not-for-a-region",
                    f"a region reads its councils' pooled records and owes no return nor figure: leave {column} empty",
                )
            )
    return issues


def _owners(session: Session, leaving: set[str]) -> dict[tuple[str, str], str]:
    """Map (indicator, org unit) to the stored agency asked for it, without the agencies in ``leaving``."""
    rows = session.execute(
        select(AgencyIndicator.agency_code, AgencyIndicator.indicator_id, AgencyOrg.org_code).join(
            AgencyOrg, col(AgencyOrg.agency_code) == col(AgencyIndicator.agency_code)
        )
    ).all()
    return {(ind, org): code for code, ind, org in rows if code not in leaving}


def check_designated(session: Session, agencies: list[Resolved]) -> list[Issue]:
    """Report every figure that two agencies (stored or new) would both be asked for."""
    owners = _owners(session, {a.spec.code for a in agencies})
    issues: list[Issue] = []
    for agency in agencies:
        clashes: dict[str, list[tuple[str, str]]] = {}
        for ind in agency.indicators:
            for org in agency.orgs:
                other = owners.setdefault((ind, org), agency.spec.code)
                if other != agency.spec.code:
                    clashes.setdefault(other, []).append((ind, org))
        for other, pairs in clashes.items():
            ind, org = pairs[0]
            issues.append(
                Issue(
                    agency.row,
                    "orgs",
                    ";".join(agency.spec.orgs),
                    "two-sources",
                    f"{len(pairs)} figure(s), e.g. {ind} for {org}, would be asked of both {other} and "
                    f"{agency.spec.code}; a figure has one designated source",
                )
            )
    return issues


def read_table(data: bytes, filename: str) -> list[tuple[int, dict[str, str]]]:
    """Read an agency spreadsheet (CSV or XLSX) as text: (spreadsheet row, {column: value}) per row."""
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        import polars as pl

        try:
            frame = pl.read_excel(io.BytesIO(data), sheet_id=1, infer_schema_length=0)
        except Exception as exc:  # fastexcel raises its own types for every kind of broken workbook
            raise UnsupportedFile(f"{filename} is not a readable XLSX workbook: {exc}") from None
        header = list(frame.columns)
        body = [["" if v is None else str(v) for v in r] for r in frame.iter_rows()]
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
        dialect: type[csv.Dialect] | csv.Dialect = csv.excel
        with contextlib.suppress(csv.Error):
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        lines = list(csv.reader(io.StringIO(text), dialect))
        if not lines:
            raise InvalidInput(f"{filename} is empty; the first row names the columns {', '.join(COLUMNS)}")
        header, body = lines[0], lines[1:]
    names = [h.strip().lower() for h in header]
    unknown = [h for h in names if h and h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in names]
    if unknown or missing:
        errors = [
            {"type": "unknown-column", "loc": ["row", 1, h], "msg": f"column {h!r} is not known", "input": h}
            for h in unknown
        ] + [
            {"type": "missing-column", "loc": ["row", 1, c], "msg": f"column {c!r} is missing", "input": None}
            for c in missing
        ]
        raise InvalidInput(
            f"{filename}: the first row must name the columns {', '.join(COLUMNS)} ({', '.join(REQUIRED)} required)",
            errors=errors,
        )
    out = []
    for number, cells in enumerate(body, start=2):
        if not any(c.strip() for c in cells):
            continue
        out.append((number, {n: (cells[i].strip() if i < len(cells) else "") for i, n in enumerate(names) if n}))
    return out


def parse_rows(
    table: list[tuple[int, dict[str, str]]],
) -> tuple[list[tuple[int, AgencyInput]], list[tuple[int, AgencyInput]], list[Issue]]:
    """Turn spreadsheet rows into agencies: the valid ones, the invalid ones (to check further) and each bad cell."""
    specs: list[tuple[int, AgencyInput]] = []
    invalid: list[tuple[int, AgencyInput]] = []
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for number, cells in table:
        values: dict[str, Any] = {k: v for k, v in cells.items() if k not in LIST_COLUMNS and v != ""}
        values |= {k: split_list(cells.get(k, "")) for k in LIST_COLUMNS}
        try:
            spec = AgencyInput.model_validate(values)
        except ValidationError as exc:
            for e in exc.errors():
                column = str(e["loc"][0]) if e["loc"] else "code"
                issues.append(Issue(number, column, cells.get(column, ""), e["type"], f"{column}: {e['msg']}"))
            # The row's other cells are still checked against the catalogue, so one pass reports them all.
            spec = AgencyInput.model_construct(**{"code": "", "name": "", "body_type": "", "email": ""} | values)
            invalid.append((number, spec))
            continue
        if spec.code in seen:
            issues.append(
                Issue(
                    number, "code", spec.code, "duplicate-id", f"agency {spec.code!r} is also on row {seen[spec.code]}"
                )
            )
            continue
        seen[spec.code] = number
        specs.append((number, spec))
    return specs, invalid, issues


@dataclass
class ImportResult:
    """What an import did (or, in a dry run, would do)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dry_run: bool = False
    #: Each council's consent to a region withdrawn because it is a member no more ("council to region").
    consent_ended: list[str] = field(default_factory=list)


def _refuse(issues: list[Issue], what: str) -> None:
    if issues:
        ordered = sorted(issues, key=lambda i: (i.row or 0, COLUMNS.index(i.column) if i.column in COLUMNS else 99))
        raise InvalidInput(
            f"{what}: {len(ordered)} problem(s); nothing was stored. First: {ordered[0]}",
            errors=[i.as_error() for i in ordered],
        )


def _definition(spec: AgencyInput) -> dict[str, Any]:
    return {
        "orgs": spec.orgs,
        "returns": spec.returns,
        "indicators": spec.indicators,
        "provenance": spec.provenance,
        **({"published": spec.published} if spec.published else {}),
        **({"ssd": ssd} if spec.ssd is not None and (ssd := spec.ssd.stored()) else {}),
    }


def _check(
    session: Session, agencies: list[tuple[int | None, AgencyInput]], *, kept_body_type: str = ""
) -> list[Resolved]:
    view = CatalogueView.read(session)
    resolved: list[Resolved] = []
    issues: list[Issue] = []
    for row, spec in agencies:
        existing = session.get(Agency, spec.code)
        if existing is not None and existing.origin == "bundled":
            issues.append(
                Issue(
                    row,
                    "code",
                    spec.code,
                    "duplicate-id",
                    f"agency {spec.code!r} is a demo agency from the bundled files; choose another code",
                )
            )
            continue
        one, found = resolve(view, row, spec, kept_body_type=kept_body_type)
        issues += found
        resolved.append(one)
    if not issues:
        issues = check_designated(session, resolved)
    _refuse(issues, "The agencies were not stored")
    return resolved


def _store(session: Session, agency: Resolved, *, origin: str, source: str, now: datetime) -> str:
    """Create or replace one agency and its links; say which ('created', 'updated', 'unchanged')."""
    spec = agency.spec
    row = session.get(Agency, spec.code)
    definition = _definition(spec)
    if spec.ssd is None and row is not None and "ssd" in row.definition:
        # A spreadsheet has no column for a council's SSD settings: importing its row again leaves them as set.
        definition["ssd"] = row.definition["ssd"]
    values: dict[str, Any] = {
        "name": spec.name,
        "body_type": spec.body_type,
        "email": spec.email,
        "definition": definition,
    }
    if row is not None and all(getattr(row, k) == v for k, v in values.items()):
        return "unchanged"
    outcome = "updated" if row is not None else "created"
    if row is None:
        row = Agency(code=spec.code, origin=origin, source=source, created_at=now, **values)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.source = source
    row.updated_at = now
    session.add(row)
    session.flush()
    _link(session, spec.code, agency.orgs, spec.returns, agency.indicators)
    return outcome


def _link(session: Session, code: str, orgs: list[str], returns: list[str], indicators: list[str]) -> None:
    for model in (AgencyIndicator, AgencyOrg, AgencyReturn):
        session.execute(delete(model).where(col(model.agency_code) == code))
    for model, column, values in (
        (AgencyOrg, "org_code", orgs),
        (AgencyReturn, "return_id", returns),
        (AgencyIndicator, "indicator_id", indicators),
    ):
        if values:
            session.execute(insert(model), [{"agency_code": code, column: v} for v in dict.fromkeys(values)])
    session.flush()


def import_agencies(
    session: Session, data: bytes, filename: str, *, source: str = "", dry_run: bool = False
) -> ImportResult:
    """Import every agency of a spreadsheet (new codes are created, known ones replaced), or none."""
    specs, invalid, issues = parse_rows(read_table(data, filename))
    if not specs and not invalid and not issues:
        raise InvalidInput(f"{filename} has no agency rows under its header")
    if issues:
        view = CatalogueView.read(session)
        for row, spec in [*specs, *invalid]:
            issues += resolve(view, row, spec)[1]
        _refuse(issues, filename)
    resolved = _check(session, list(specs))
    result = ImportResult(dry_run=dry_run)
    now = datetime.now(UTC)
    for agency in resolved:
        if dry_run:
            stored = session.get(Agency, agency.spec.code)
            (result.updated if stored is not None else result.created).append(agency.spec.code)
            continue
        outcome = _store(session, agency, origin="import", source=source or f"import: {filename}", now=now)
        getattr(result, outcome).append(agency.spec.code)
    if not dry_run:
        ended = end_with_membership(session, by=source or f"import: {filename}")
        result.consent_ended = [f"{before.council} to {before.region}" for before, _ in ended]
    return result


def create_agency(session: Session, spec: AgencyInput, *, source: str) -> AgencyRecord:
    """Add one agency; refuse a code already in use."""
    if session.get(Agency, spec.code) is not None:
        from onereturn.errors import Conflict

        raise Conflict(f"Agency {spec.code!r} already exists; change it with PATCH /api/agencies/{spec.code}")
    (resolved,) = _check(session, [(None, spec)])
    _store(session, resolved, origin="api", source=source, now=datetime.now(UTC))
    end_with_membership(session, by=source)
    return describe(session, spec.code)


def update_agency(session: Session, code: str, change: AgencyChange, *, source: str) -> AgencyRecord:
    """Change the given fields of an imported, added or publisher's agency, with the same checks."""
    row = _get(session, code)
    if row.origin == "bundled":
        raise InvalidInput(f"Agency {code!r} is a demo agency from the bundled files; change its file instead")
    current = {
        "code": row.code,
        "name": row.name,
        "body_type": row.body_type,
        "email": row.email,
        "orgs": row.definition.get("orgs", []),
        "returns": row.definition.get("returns", []),
        "indicators": row.definition.get("indicators", []),
        "provenance": row.definition.get("provenance", ""),
        "published": row.definition.get("published", ""),
        "ssd": row.definition.get("ssd"),
    }
    # The published intake makes a publisher's agency with no org units and the body type "publisher" (its
    # figures come from the publisher's files, keyed by nobody); it is changed like any other, keeping both.
    model = PublisherInput if row.origin == "published" else AgencyInput
    try:
        updated = model.model_validate(current | change.model_dump(exclude_none=True))
    except ValidationError as exc:
        raise InvalidInput(
            f"Agency {code!r} was not changed: {exc.error_count()} problem(s)",
            errors=[
                {"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"], "input": e.get("input")}
                for e in exc.errors(include_url=False)
            ],
        ) from exc
    (resolved,) = _check(session, [(None, updated)], kept_body_type=row.body_type)
    _store(session, resolved, origin=row.origin, source=source, now=datetime.now(UTC))
    end_with_membership(session, by=source)
    return describe(session, code)


def _get(session: Session, code: str) -> Agency:
    row = session.get(Agency, code)
    if row is None:
        raise NotFound(f"Agency {code!r} is not known; see GET /api/agencies or `onereturn agencies list`")
    return row


def relink(session: Session) -> int:
    """Rebuild the links of every imported or added agency from its definition (after a catalogue change)."""
    view = CatalogueView.read(session)
    count = 0
    for row in session.execute(select(Agency).where(Agency.origin != "bundled")).scalars():
        # Stored definitions were checked when stored; a return since dropped from the catalogue
        # is dropped from the links rather than left dangling.
        spec = AgencyInput.model_construct(
            code=row.code,
            name=row.name,
            body_type=row.body_type,
            email=row.email,
            orgs=list(row.definition.get("orgs", [])),
            returns=[r for r in row.definition.get("returns", []) if r in view.returns],
            indicators=list(row.definition.get("indicators", [])),
            provenance=str(row.definition.get("provenance", "")),
            published=str(row.definition.get("published", "")),
        )
        resolved, _issues = resolve(view, None, spec)
        _link(session, row.code, resolved.orgs, spec.returns, resolved.indicators)
        count += 1
    return count


def list_agencies(session: Session, *, only: str | None = None) -> list[AgencyRecord]:
    """List every agency (or only one code) with its links."""
    stmt = select(Agency.code).order_by(col(Agency.code))
    if only is not None:
        stmt = stmt.where(Agency.code == only)
    return [describe(session, code) for code in session.execute(stmt).scalars()]


def describe(session: Session, code: str) -> AgencyRecord:
    """Show one agency: what it answers for, where it came from, and how to reach it."""
    row = _get(session, code)

    def values(column: Any, model: Any) -> list[str]:
        return list(session.execute(select(column).where(model.agency_code == code).order_by(column)).scalars())

    return AgencyRecord(
        code=row.code,
        name=row.name,
        body_type=row.body_type,
        email=row.email,
        orgs=values(AgencyOrg.org_code, AgencyOrg),
        returns=values(AgencyReturn.return_id, AgencyReturn),
        indicators=values(AgencyIndicator.indicator_id, AgencyIndicator),
        origin=row.origin,
        source=row.source,
        given_orgs=list(row.definition.get("orgs", [])),
        published=str(row.definition.get("published", "")),
        ssd=of_definition(row.definition),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
