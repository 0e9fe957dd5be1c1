"""Agencies: who supplies which figures for which org units, loaded from their files and stored (what each owes for a
period is ``mappings.obligations``).

A figure has one designated source: the agency whose body type is the indicator's source body,
that answers for the org unit and whose returns need the indicator. Figures one body supplies
are never asked of another, and derived figures are never asked of anyone.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import column as sa_column
from sqlalchemy import delete, func, insert
from sqlalchemy import table as sa_table
from sqlmodel import Session, col, select

from indicators.catalogue import Located, read_files, validation_problems
from indicators.store.models import Submission
from indicators.tomlfile import Problem, TomlFile
from mappings.catalogue import LEVEL_GROUPS, Catalogue
from mappings.council_ssd import CouncilSsd
from mappings.keys import APPROVER_SCOPE, DEFAULT_SCOPES
from mappings.keys.models import ApiKey
from mappings.models import Agency, AgencyIndicator, AgencyOrg, AgencyReturn, OrgParent, OrgUnit
from onereturn.errors import CatalogueError, NotFound
from onereturn.models import ReturnDownload, WebSession

log = logging.getLogger(__name__)

#: The folder of the bundled agencies (demo councils, providers and reference sources).
AGENCIES_DIR = Path(__file__).resolve().parent / "agencies"

Scope = Literal[
    "figures:submit",
    "figures:read",
    "returns:read",
    "catalogue:write",
    "submissions:read",
    "returns:sign_off",
    # A region's key (mappings/keys: REGION_SCOPE): it reads its region's pooled outputs and nothing else.
    "regions:read",
]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class AgencySpec(_Spec):
    """An agency as written in an agency file."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    name: str = Field(min_length=3)
    body_type: str
    email: str = ""
    orgs: list[str] = Field(min_length=1)
    returns: list[str] = Field(default_factory=list)
    indicators: list[str] = Field(default_factory=list)
    provenance: str = Field(min_length=3)
    #: Why the agency's figures are already public (official statistics it publishes itself), so they reach a
    #: recipient without a sign-off; empty for a body whose approver vouches for its figures first.
    published: str = ""
    #: For a publisher: the publication its figures come from, and when it next publishes where a stored source
    #: says so (else that none does); a cell still waiting for its figure says this.
    publishes: str = ""
    #: For a publisher: the kinds of body that key nothing it publishes, because it works those figures out itself from
    #: the records their systems already send it (body type -> what to say of such a body, in plain words).
    keys_nothing: dict[str, str] = Field(default_factory=dict)
    #: For a council whose children are made up (an illustrative council): the real council whose ONS code DfE's
    #: rules are run with and whose published population is the base of its rates.
    records_as: str = ""
    #: The real code a store made before kept this agency's figures under; they move to its own org unit at load.
    moved_from: str = ""
    #: A council's settings for its SSD extract (``[agency.ssd]``): the allocated worker's roles, the payloads'
    #: identifiers, a read from its own database.
    ssd: CouncilSsd | None = None


class KeySpec(_Spec):
    """A demo API key as written in an agency file (loaded only with the demo data): its hash, never the key."""

    prefix: str = Field(min_length=16, max_length=16)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: Literal["agency", "regulator", "officer"]
    label: str = ""
    recipient: str | None = None
    scopes: list[Scope] | None = None
    #: An agency key that may also sign off the agency's figures for release.
    approver: bool = False


class OrgSpec(_Spec):
    """An org unit an agency file adds (a provider has no ONS code)."""

    code: str = Field(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")
    name: str = Field(min_length=3)
    type: Literal["provider", "pct", "illustrative_council", "illustrative_area"]
    parent: str | None = None


@dataclass
class AgencySet:
    """The agencies of the agency files, resolved against the catalogue and the org units."""

    agencies: dict[str, Located[AgencySpec]] = field(default_factory=dict)
    keys: list[tuple[str | None, KeySpec]] = field(default_factory=list)
    extra_orgs: list[tuple[str, OrgSpec]] = field(default_factory=list)
    orgs: dict[str, list[str]] = field(default_factory=dict)
    indicators: dict[str, list[str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def needed_indicators(cat: Catalogue, return_ids: list[str]) -> set[str]:
    """Return every collected indicator the returns' fields need, through formulas and ratio parts."""
    indicators = cat.indicators.indicators
    # A different_method field is never filled from its indicator (the other method's figure), so
    # only its counterpart, the return's own measure, is asked for.
    stack = [
        f.spec.counterpart if f.spec.relation == "different_method" else f.spec.indicator
        for r in return_ids
        for f in cat.fields.get(r, [])
    ]
    stack = [i for i in stack if i]
    seen: set[str] = set()
    collected: set[str] = set()
    while stack:
        ind_id = stack.pop()
        if ind_id in seen or ind_id not in indicators:
            continue
        seen.add(ind_id)
        spec = indicators[ind_id].spec
        stack += spec.refs
        if not spec.formula:
            collected.add(ind_id)
    return collected


def resolve_orgs(patterns: list[str], org_types: dict[str, str]) -> list[str]:
    """Expand org entries: GSS codes as they are, ``type:<type or group>`` to every such unit."""
    out: list[str] = []
    for entry in patterns:
        if entry.startswith("type:"):
            wanted = LEVEL_GROUPS.get(entry[5:], (entry[5:],))
            out += sorted(code for code, kind in org_types.items() if kind in wanted)
        else:
            out.append(entry)
    return list(dict.fromkeys(out))


#: The org types a made-up council's ``records_as`` may name: a real council DfE's returns are made by.
UPPER_TIER = ("county", "unitary", "metropolitan_district", "london_borough")


def load_agencies(cat: Catalogue, org_types: dict[str, str], folder: Path = AGENCIES_DIR) -> AgencySet:
    """Read the agency files and resolve each agency's org units and designated indicators."""
    result = AgencySet()
    files, result.problems, _raw = read_files(folder)
    body_types = cat.indicators.codelists["body_type"].spec.codes if "body_type" in cat.indicators.codelists else {}
    for doc in files:
        for index, body in enumerate(doc.data.get("org", [])):
            org_block = doc.array_block("org", index)
            try:
                org = OrgSpec.model_validate(body)
            except ValidationError as exc:
                result.problems += validation_problems(exc, doc.label, org_block.keys, org_block.line)
                continue
            result.extra_orgs.append((doc.label, org))
            org_types = {**org_types, org.code: org.type}
        if "agency" not in doc.data:
            _read_keys(doc, None, result)
            continue
        block = doc.table_block("agency")
        try:
            spec = AgencySpec.model_validate(doc.data.get("agency", {}))
        except ValidationError as exc:
            result.problems += validation_problems(exc, doc.label, block.keys, block.line)
            continue
        if spec.code in result.agencies:
            result.problems.append(
                Problem(doc.label, block.line_of("code"), "duplicate-id", f"agency {spec.code!r} is defined twice")
            )
            continue
        if spec.body_type not in body_types:
            result.problems.append(
                Problem(
                    doc.label,
                    block.line_of("body_type"),
                    "unknown-code",
                    f"body_type {spec.body_type!r} is not a body_type code",
                )
            )
        for ret in spec.returns:
            if ret not in cat.returns:
                result.problems.append(
                    Problem(doc.label, block.line_of("returns"), "broken-reference", f"return {ret!r} is not defined")
                )
        orgs = resolve_orgs(spec.orgs, org_types)
        for code in orgs:
            if code not in org_types:
                result.problems.append(
                    Problem(doc.label, block.line_of("orgs"), "broken-reference", f"org unit {code!r} is not known")
                )
        if spec.records_as and org_types.get(spec.records_as) not in UPPER_TIER:
            message = f"records_as {spec.records_as!r} is not an upper-tier council of the geography"
            result.problems.append(Problem(doc.label, block.line_of("records_as"), "broken-reference", message))
        wanted = _wanted(cat, spec, doc.label, block.line_of("indicators"), result)
        result.agencies[spec.code] = Located(spec, doc.label, block.line, block.keys)
        result.orgs[spec.code] = orgs
        result.indicators[spec.code] = sorted(wanted)
        _read_keys(doc, spec.code, result)
    _check_designated(result)
    return result


def _wanted(cat: Catalogue, spec: AgencySpec, label: str, line: int, result: AgencySet) -> set[str]:
    """The indicators an agency collects: those its returns need of its body type, and those its patterns match."""
    indicators = cat.indicators.indicators
    wanted = {i for i in needed_indicators(cat, spec.returns) if indicators[i].spec.source_body == spec.body_type}
    for pattern in spec.indicators:
        matched = {
            i
            for i, loc in indicators.items()
            if fnmatch.fnmatchcase(i, pattern) and not loc.spec.formula and loc.spec.source_body == spec.body_type
        }
        if not matched:
            result.problems.append(
                Problem(
                    label,
                    line,
                    "broken-reference",
                    f"{pattern!r} matches no collected indicator",
                )
            )
        wanted |= matched
    return wanted


def _read_keys(doc: TomlFile, agency_code: str | None, result: AgencySet) -> None:
    for index, body in enumerate(doc.data.get("key", [])):
        key_block = doc.array_block("key", index)
        try:
            key = KeySpec.model_validate(body)
        except ValidationError as exc:
            result.problems += validation_problems(exc, doc.label, key_block.keys, key_block.line)
            continue
        if (key.kind == "agency") != (agency_code is not None):
            result.problems.append(
                Problem(
                    doc.label,
                    key_block.line,
                    "invalid-definition",
                    "agency keys belong in an agency's file, others outside one",
                )
            )
            continue
        result.keys.append((agency_code, key))


def _check_designated(result: AgencySet) -> None:
    owner: dict[tuple[str, str], str] = {}
    for code, inds in result.indicators.items():
        loc = result.agencies[code]
        for ind in inds:
            for org in result.orgs[code]:
                other = owner.setdefault((ind, org), code)
                if other != code:
                    result.problems.append(
                        Problem(
                            loc.file,
                            loc.line,
                            "two-sources",
                            f"{ind} for {org} would be asked of both {other} and {code}; a figure has one designated source",
                        )
                    )
                    return


#: The agency file's optional fields kept in its stored definition when given.
_DEFINITION_EXTRAS = ("records_as", "moved_from", "publishes", "keys_nothing")


def _definition(spec: AgencySpec) -> dict[str, Any]:
    """The agency as kept: what it answers for, and the file's optional fields where given."""
    return {
        "orgs": spec.orgs,
        "returns": spec.returns,
        "indicators": spec.indicators,
        **({"published": spec.published} if spec.published else {}),
        **{k: v for k in _DEFINITION_EXTRAS if (v := getattr(spec, k))},
        **({"ssd": ssd} if spec.ssd is not None and (ssd := spec.ssd.stored()) else {}),
    }


def store_agencies(session: Session, agencies: AgencySet, *, with_keys: bool) -> dict[str, int]:
    """Store the bundled agencies (with ``with_keys``, the demo: agencies and hashed keys); without, leave the store's
    as they are: hosts share one store, and one host started without the demo must not undo another's
    (``remove_demo`` removes it, asked for by name).

    Agencies imported or added over the API are left as they are; a bundled agency that would ask
    one of their figures again is refused.
    """
    if agencies.problems:
        raise CatalogueError(
            f"The agency files have {len(agencies.problems)} problem(s)",
            errors=[
                {"type": p.kind, "loc": [p.file, p.line], "msg": p.message, "input": None} for p in agencies.problems
            ],
        )
    if not with_keys:
        return {"agencies": 0, "agency_orgs": 0, "agency_indicators": 0}
    stored_bundled = set(session.execute(select(Agency.code).where(Agency.origin == "bundled")).scalars())
    _check_against_others(session, agencies)
    for model in (AgencyIndicator, AgencyOrg, AgencyReturn):
        session.execute(delete(model).where(col(model.agency_code).in_(stored_bundled | set(agencies.agencies))))
    _upsert_extra_orgs(session, agencies)
    now = datetime.now(UTC)
    for c, a in agencies.agencies.items():
        values: dict[str, Any] = {
            "name": a.spec.name,
            "body_type": a.spec.body_type,
            "email": a.spec.email,
            "source": a.file,
            "origin": "bundled",
            "definition": _definition(a.spec),
        }
        row = session.get(Agency, c)
        if row is None:
            session.add(Agency(code=c, created_at=now, updated_at=now, **values))
        elif any(getattr(row, name) != value for name, value in values.items()):
            # Only a change moves updated_at: what is kept until an agency changes (whose figures are behind a
            # return, what each owes) stays valid across a start that stored the same agencies again.
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = now
    session.flush()
    gone = stored_bundled - set(agencies.agencies)
    _remove_bundled(session, gone - _keep_with_data(session, gone))
    org_rows = [{"agency_code": c, "org_code": o} for c, orgs in agencies.orgs.items() for o in orgs]
    ind_rows = [{"agency_code": c, "indicator_id": i} for c, inds in agencies.indicators.items() for i in inds]
    ret_rows = [{"agency_code": c, "return_id": r} for c, a in agencies.agencies.items() for r in a.spec.returns]
    for model, rows in ((AgencyOrg, org_rows), (AgencyIndicator, ind_rows), (AgencyReturn, ret_rows)):
        if rows:
            session.execute(insert(model), rows)
    _add_demo_keys(session, agencies, now)
    return {"agencies": len(agencies.agencies), "agency_orgs": len(org_rows), "agency_indicators": len(ind_rows)}


def _add_demo_keys(session: Session, agencies: AgencySet, now: datetime) -> None:
    """The demo's keys, hashed, each added only when the store has no key of its hash."""
    known = set(session.execute(select(ApiKey.key_hash).where(col(ApiKey.demo))).scalars())
    for agency_code, key in agencies.keys:
        # A demo key revoked or rotated stays so: only a missing one is added.
        if key.sha256 in known:
            continue
        session.add(
            ApiKey(
                prefix=key.prefix,
                key_hash=key.sha256,
                kind=key.kind,
                agency_code=agency_code if key.kind == "agency" else None,
                recipient=key.recipient,
                scopes=[
                    *(key.scopes if key.scopes is not None else DEFAULT_SCOPES[key.kind]),
                    *([APPROVER_SCOPE] if key.approver and key.kind == "agency" else []),
                ],
                label=f"demo: {key.label}".strip(),
                created_at=now,
                created_by="demo",
                demo=True,
            )
        )
    session.flush()


def _keep_with_data(session: Session, codes: set[str]) -> set[str]:
    """The bundled agencies that have submissions, sign-offs or keys of their own behind them, each logged as kept.

    A store that ran with the demo holds the demo agencies' uploads, figures and sign-offs; removing the agency
    would take them with it (or be refused by the database), so it stays, with its returns, and says so.
    """
    if not codes:
        return set()
    reasons: dict[str, list[str]] = {}
    # Sign-off's table is read by name: sign-off's room (``mappings.signoff``) reads the agencies, so this one cannot
    # import it without a loop.
    signoffs = sa_table("signoff", sa_column("agency_code"))
    for what, column in (
        ("submission(s)", col(Submission.agency_code)),
        ("sign-off(s)", signoffs.c.agency_code),
    ):
        counted = select(column, func.count()).where(column.in_(codes)).group_by(column)
        for code, count in session.execute(counted).all():
            reasons.setdefault(code, []).append(f"{count} {what}")
    own_keys = (
        select(ApiKey.agency_code, func.count())
        .where(col(ApiKey.agency_code).in_(codes))
        .group_by(col(ApiKey.agency_code))
    )
    for code, count in session.execute(own_keys).all():
        reasons.setdefault(str(code), []).append(f"{count} API key(s) that stay")
    for code in sorted(reasons):
        log.warning(
            "Bundled agency %s is kept although the demo no longer defines it: it has %s, which removing it would "
            "delete",
            code,
            ", ".join(reasons[code]),
        )
    return set(reasons)


def remove_demo(session: Session) -> int:
    """Remove the demo from the store: its keys (published in the README), and the bundled agencies nothing stands
    behind (``onereturn agencies remove-demo``); return how many demo keys were still live."""
    stored_bundled = set(session.execute(select(Agency.code).where(Agency.origin == "bundled")).scalars())
    live = demo_keys_live(session)
    _remove_demo_keys(session)
    _remove_bundled(session, stored_bundled - _keep_with_data(session, stored_bundled))
    return live


def demo_keys_live(session: Session) -> int:
    """How many of the demo's keys (published in the README) the store still accepts."""
    found = select(func.count()).select_from(ApiKey).where(col(ApiKey.demo), col(ApiKey.revoked_at).is_(None))
    return int(session.execute(found).scalar_one())


def _remove_demo_keys(session: Session) -> None:
    """Remove the demo keys (published in the README, so never valid without the demo) and their signed-in sessions.

    A demo key a regulator downloaded returns with is revoked rather than deleted, so the record of those downloads
    (what changed since) stays.
    """
    demo = select(ApiKey.id).where(col(ApiKey.demo))
    session.execute(delete(WebSession).where(col(WebSession.key_id).in_(demo)))
    downloaded = set(
        session.execute(select(ReturnDownload.key_id).where(col(ReturnDownload.key_id).in_(demo)).distinct()).scalars()
    )
    if downloaded:
        now = datetime.now(UTC)
        for key in session.execute(select(ApiKey).where(col(ApiKey.id).in_(downloaded))).scalars():
            key.revoked_at = key.revoked_at or now
        log.warning(
            "%d demo key(s) are revoked rather than deleted: returns were downloaded with them", len(downloaded)
        )
    session.execute(delete(ApiKey).where(col(ApiKey.demo), col(ApiKey.id).not_in(downloaded)))
    session.flush()


def _remove_bundled(session: Session, codes: set[str]) -> None:
    """Remove bundled agencies with their links and keys."""
    if not codes:
        return
    session.execute(delete(ApiKey).where(col(ApiKey.agency_code).in_(codes)))
    for model in (AgencyIndicator, AgencyOrg, AgencyReturn):
        session.execute(delete(model).where(col(model.agency_code).in_(codes)))
    session.execute(delete(Agency).where(col(Agency.code).in_(codes)))
    session.flush()


def _upsert_extra_orgs(session: Session, agencies: AgencySet) -> None:
    for label, org in agencies.extra_orgs:
        row = session.get(OrgUnit, org.code)
        if row is None:
            session.add(OrgUnit(code=org.code, name=org.name, type=org.type, source=label))
        else:
            row.name, row.type, row.source = org.name, org.type, label
        session.flush()
        if org.parent:
            edge = session.execute(
                select(OrgParent).where(OrgParent.child_code == org.code, OrgParent.parent_code == org.parent)
            ).first()
            if edge is None:
                session.add(OrgParent(child_code=org.code, parent_code=org.parent, source=label))
    session.flush()


def _check_against_others(session: Session, agencies: AgencySet) -> None:
    """Refuse bundled agencies that would ask a figure an imported agency already supplies."""
    others = {
        (ind, org): code
        for code, ind, org in session.execute(
            select(AgencyIndicator.agency_code, AgencyIndicator.indicator_id, AgencyOrg.org_code)
            .join(AgencyOrg, col(AgencyOrg.agency_code) == col(AgencyIndicator.agency_code))
            .join(Agency, col(Agency.code) == col(AgencyIndicator.agency_code))
            .where(Agency.origin != "bundled")
        ).all()
    }
    imported = set(session.execute(select(Agency.code).where(Agency.origin != "bundled")).scalars())
    clashes = []
    for code, inds in agencies.indicators.items():
        if code in imported:
            clashes.append(f"agency {code!r} is already defined by an import")
            continue
        orgs = agencies.orgs[code]
        hit = next(((i, o) for i in inds for o in orgs if (i, o) in others), None)
        if hit is not None:
            clashes.append(
                f"{hit[0]} for {hit[1]} would be asked of both {others[hit]} (imported) and {code} (demo); "
                "a figure has one designated source"
            )
    if clashes:
        raise CatalogueError(
            "The demo agencies clash with imported ones; start with ONERETURN_LOAD_DEMO=false",
            errors=[{"type": "two-sources", "loc": ["agencies"], "msg": m, "input": None} for m in clashes],
        )


def get_agency(session: Session, code: str) -> Agency:
    """Return one agency, or raise NotFound listing the known codes."""
    agency = session.get(Agency, code)
    if agency is None:
        known = ", ".join(session.execute(select(Agency.code).order_by(col(Agency.code))).scalars())
        raise NotFound(f"Agency {code!r} is not known; expected one of {known}")
    return agency


def org_types(session: Session) -> dict[str, str]:
    """Map every org unit code to its type."""
    return dict(session.execute(select(OrgUnit.code, OrgUnit.type)).all())


def agency_names(session: Session) -> dict[str, str]:
    """Map each agency code to its name, the words a reason gives."""
    return dict(session.execute(select(Agency.code, Agency.name)).all())


def publications(session: Session) -> dict[str, str]:
    """Map each publisher's agency code to the publication its figures come from (its file's ``publishes``)."""
    rows = session.execute(select(Agency.code, Agency.definition)).all()
    return {code: str(d["publishes"]) for code, d in rows if isinstance(d, dict) and d.get("publishes")}
