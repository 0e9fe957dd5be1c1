"""Put the checked catalogue and the geography into the database, and read them back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, or_
from sqlmodel import Session, col, select

from indicators import service as indicators
from indicators.catalogue import CodeListSpec, Located, register
from indicators.models import CatalogueRule, CatalogueVersion, Code, CodeList, Indicator
from indicators.schemas import IndicatorDetail, IndicatorPublic, IndicatorUse
from indicators.service import current_catalogue_version, store_rules
from indicators.sources import SourceSpec, cites_text, resolve
from mappings.catalogue import LEVEL_GROUPS, Catalogue
from mappings.models import AgencyIndicator, AgencyReturn, Crosswalk, FieldMapping, OrgParent, OrgUnit, Return
from mappings.schemas import (
    CrosswalkLink,
    OrgLink,
    OrgUnitDetail,
    OrgUnitPublic,
    ReturnDetail,
    ReturnFieldPublic,
    ReturnPublic,
)
from onereturn.db import advisory_key
from onereturn.errors import CatalogueError, NotFound
from onereturn.listing import LIKE_ESCAPE, containing


def store_catalogue(session: Session, cat: Catalogue, *, force: bool = False) -> CatalogueVersion:
    """Replace the stored catalogue with ``cat`` (refusing a catalogue with problems); no-op when unchanged."""
    problems = cat.all_problems
    if problems:
        raise CatalogueError(
            f"The catalogue has {len(problems)} problem(s); run `onereturn catalogue check`",
            errors=[{"type": p.kind, "loc": [p.file, p.line], "msg": p.message, "input": None} for p in problems],
        )
    latest = current_catalogue_version(session)
    if latest is not None and latest.content_hash == cat.content_hash and not force:
        return latest
    # Agencies' links are derived from the catalogue; load_bundled rebuilds them right after.
    session.execute(delete(AgencyReturn))
    session.execute(delete(AgencyIndicator))
    session.execute(delete(FieldMapping))
    session.execute(delete(Return))
    session.execute(delete(Code))
    session.execute(delete(CodeList))
    session.execute(delete(CatalogueRule))
    codelists = cat.indicators.codelists
    reg = register(cat.indicators)
    if codelists:
        _store_codelists(session, codelists, reg)
    store_rules(session, cat.indicators)
    _store_indicators(session, cat, reg)
    _store_returns(session, cat, reg)
    rows = _field_rows(cat, reg)
    if rows:
        session.execute(insert(FieldMapping), rows)
    version = CatalogueVersion(
        content_hash=cat.content_hash,
        loaded_at=datetime.now(UTC),
        indicator_count=len(cat.indicators.indicators),
        return_count=len(cat.returns),
        field_count=len(rows),
    )
    session.add(version)
    session.flush()
    return version


def _store_codelists(session: Session, codelists: dict[str, Located[CodeListSpec]], reg: dict[str, SourceSpec]) -> None:
    session.execute(
        insert(CodeList),
        [
            {"id": k, "title": v.spec.title, "source": cites_text(cs), "sources": cs}
            for k, v in codelists.items()
            for cs in [resolve(v.spec.sources, reg)]
        ],
    )
    session.execute(
        insert(Code),
        [
            {"codelist_id": k, "code": code, "label": label, "position": pos}
            for k, v in codelists.items()
            for pos, (code, label) in enumerate(v.spec.codes.items())
        ],
    )


def _store_indicators(session: Session, cat: Catalogue, reg: dict[str, SourceSpec]) -> None:
    """Update the stored indicators to the catalogue's: changed in place, new added, the rest deleted."""
    existing = set(session.execute(select(Indicator.id)).scalars())
    for ind_id, loc in cat.indicators.indicators.items():
        spec = loc.spec
        values = spec.model_dump(exclude={"range", "sources", "polarity_source"})
        cited = resolve(spec.sources, reg)
        polarity_cited = resolve([spec.polarity_source], reg) if spec.polarity_source else []
        values.update(
            polarity_source=polarity_cited[0] if polarity_cited else None,
            sources=cited,
            source=cites_text(cited),
            range_min=spec.range[0] if spec.range else None,
            range_max=spec.range[1] if spec.range else None,
            file=loc.file,
            line=loc.line,
        )
        if ind_id in existing:
            row = session.get(Indicator, ind_id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)
        else:
            session.add(Indicator.model_validate(values))
    session.flush()
    gone = existing - set(cat.indicators.indicators)
    if gone:
        session.execute(delete(Indicator).where(col(Indicator.id).in_(gone)))


def _store_returns(session: Session, cat: Catalogue, reg: dict[str, SourceSpec]) -> None:
    for ret in cat.returns.values():
        head = ret.spec
        session.add(
            Return.model_validate(
                head.model_dump(exclude={"sources", "deadline_sources", "milestones", "signoff"})
                | {
                    "file": ret.file,
                    "line": ret.line,
                    "provenance": head.provenance or cites_text(resolve(head.sources, reg)),
                    "sources": resolve(head.sources, reg),
                    "deadline_sources": resolve(head.deadline_sources, reg),
                    "milestones": [
                        {"name": m.name, "rule": m.rule, "sources": resolve(m.sources, reg)} for m in head.milestones
                    ],
                    "signoff_rule": head.signoff.rule if head.signoff else "agency_deadline",
                    "signoff_sources": resolve(head.signoff.sources, reg) if head.signoff else [],
                }
            )
        )
    session.flush()


def _field_rows(cat: Catalogue, reg: dict[str, SourceSpec]) -> list[dict[str, Any]]:
    return [
        {
            "return_id": ret_id,
            "code": f.spec.code,
            "label": f.spec.label,
            "indicator_id": f.spec.indicator,
            "relation": f.spec.relation,
            "breakdown": f.spec.breakdown,
            "note": f.spec.note,
            "decimals": f.spec.decimals,
            "scale": f.spec.scale,
            "unit": f.spec.unit,
            "recode": f.spec.recode.model_dump() if f.spec.recode else None,
            "counterpart": f.spec.counterpart,
            "from_publishers": f.spec.from_publishers,
            "unpublished": f.spec.unpublished,
            "sources": resolve(f.spec.sources, reg),
            "position": pos,
            "file": f.file,
            "line": f.line,
        }
        for ret_id, fields in cat.fields.items()
        for pos, f in enumerate(fields)
    ]


def org_unit_count(session: Session) -> int:
    """Count the stored org units."""
    return int(session.execute(select(func.count()).select_from(OrgUnit)).scalar_one())


def _valid_on(model: type[OrgUnit] | type[OrgParent], on: date | None) -> list[ColumnElement[bool]]:
    if on is None:
        return []
    return [
        or_(col(model.valid_from).is_(None), col(model.valid_from) <= on),
        or_(col(model.valid_to).is_(None), col(model.valid_to) >= on),
    ]


def list_org_units(
    session: Session,
    *,
    type: str | None = None,
    parent: str | None = None,
    text: str | None = None,
    on: date | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[OrgUnit], int]:
    """Return one page of org units matching the filters (valid on ``on`` when given)."""
    stmt = select(OrgUnit).where(*_valid_on(OrgUnit, on))
    if type:
        types = LEVEL_GROUPS.get(type, (type,))
        stmt = stmt.where(col(OrgUnit.type).in_(types))
    if parent:
        children = select(OrgParent.child_code).where(OrgParent.parent_code == parent, *_valid_on(OrgParent, on))
        stmt = stmt.where(col(OrgUnit.code).in_(children))
    if text:
        like = containing(text)
        stmt = stmt.where(
            or_(
                func.lower(col(OrgUnit.name)).like(like, escape=LIKE_ESCAPE),
                func.lower(col(OrgUnit.code)).like(like, escape=LIKE_ESCAPE),
            )
        )
    total = int(session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    rows = session.execute(stmt.order_by(OrgUnit.code).limit(limit).offset(offset)).scalars().all()
    return list(rows), total


def get_org_unit(session: Session, code: str) -> OrgUnitDetail:
    """Return one org unit with its parents, children and crosswalk links, or raise NotFound."""
    unit = session.get(OrgUnit, code)
    if unit is None:
        raise NotFound(f"Org unit {code!r} is not known; codes are GSS codes such as E06000001")
    parent_rows = session.execute(
        select(OrgParent, OrgUnit)
        .join(OrgUnit, col(OrgUnit.code) == col(OrgParent.parent_code))
        .where(OrgParent.child_code == code)
    ).all()
    child_rows = session.execute(
        select(OrgParent, OrgUnit)
        .join(OrgUnit, col(OrgUnit.code) == col(OrgParent.child_code))
        .where(OrgParent.parent_code == code)
    ).all()
    cross_rows = session.execute(
        select(Crosswalk, OrgUnit)
        .join(OrgUnit, col(OrgUnit.code) == col(Crosswalk.to_code))
        .where(Crosswalk.from_code == code)
    ).all()

    def link(edge: OrgParent, other: OrgUnit) -> OrgLink:
        return OrgLink(
            code=other.code, name=other.name, type=other.type, valid_from=edge.valid_from, valid_to=edge.valid_to
        )

    return OrgUnitDetail(
        **OrgUnitPublic.model_validate(unit).model_dump(),
        parents=sorted((link(e, o) for e, o in parent_rows), key=lambda x: (x.type, x.code)),
        children=sorted((link(e, o) for e, o in child_rows), key=lambda x: (x.type, x.code)),
        crosswalk=[
            CrosswalkLink(code=o.code, name=o.name, type=o.type, weight=c.weight, basis=c.basis) for c, o in cross_rows
        ],
    )


def indicator_ids_for_return(session: Session, return_id: str) -> set[str]:
    """Return the ids of the indicators a return's fields map onto, or raise NotFound."""
    if session.get(Return, return_id) is None:
        raise NotFound(f"Return {return_id!r} is not defined; see GET /api/returns")
    return set(session.execute(select(FieldMapping.indicator_id).where(FieldMapping.return_id == return_id)).scalars())


def indicator_uses(session: Session, indicator_id: str) -> list[IndicatorUse]:
    """List the return fields that ask for an indicator."""
    rows = session.execute(
        select(FieldMapping, Return)
        .join(Return, col(Return.id) == col(FieldMapping.return_id))
        .where(FieldMapping.indicator_id == indicator_id)
        .order_by(col(FieldMapping.return_id), col(FieldMapping.position))
    ).all()
    return [
        IndicatorUse(
            return_id=r.id, return_title=r.title, code=f.code, label=f.label, relation=f.relation, breakdown=f.breakdown
        )
        for f, r in rows
    ]


def indicator_page(
    session: Session,
    *,
    text: str | None,
    statistic: str | None = None,
    return_id: str | None = None,
    status: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[IndicatorPublic], int]:
    """One page of catalogue indicators by text, statistic, return or status, and how many match in all."""
    ids = indicator_ids_for_return(session, return_id) if return_id else None
    rows, total = indicators.list_indicators(
        session, text=text, statistic=statistic, status=status, ids=ids, limit=limit, offset=offset
    )
    return [indicators.to_public(r) for r in rows], total


def indicator_detail(session: Session, indicator_id: str) -> IndicatorDetail:
    """One indicator with the returns that use it and its code lists."""
    row = indicators.get_indicator(session, indicator_id)
    lists = [*row.breakdowns, *([row.judgement_codelist] if row.judgement_codelist else [])]
    return IndicatorDetail(
        **indicators.to_public(row).model_dump(),
        used_by=indicator_uses(session, indicator_id),
        codelists=indicators.get_codelists(session, lists),
    )


def list_returns(session: Session) -> list[ReturnPublic]:
    """Return every return with its number of fields."""
    grouped = session.execute(select(FieldMapping.return_id, func.count()).group_by(col(FieldMapping.return_id)))
    counts: dict[str, int] = {str(return_id): int(n) for return_id, n in grouped.all()}
    rows = session.execute(select(Return).order_by(Return.id)).scalars().all()
    return [ReturnPublic.model_validate(r).model_copy(update={"field_count": counts.get(r.id, 0)}) for r in rows]


def get_return(session: Session, return_id: str) -> ReturnDetail:
    """Return one return with its fields, or raise NotFound."""
    ret = session.get(Return, return_id)
    if ret is None:
        raise NotFound(f"Return {return_id!r} is not defined; see GET /api/returns")
    rows = session.execute(
        select(FieldMapping, Indicator)
        .join(Indicator, col(Indicator.id) == col(FieldMapping.indicator_id))
        .where(FieldMapping.return_id == return_id)
        .order_by(col(FieldMapping.position))
    ).all()
    fields = [
        ReturnFieldPublic(
            code=f.code,
            label=f.label,
            indicator_id=i.id,
            indicator_title=i.title,
            relation=f.relation,
            breakdown=f.breakdown,
            note=f.note,
            sources=f.sources,
        )
        for f, i in rows
    ]
    return ReturnDetail(**ReturnPublic.model_validate(ret).model_dump() | {"field_count": len(fields)}, fields=fields)


def load_bundled(session: Session, *, catalogue: Catalogue | None = None, demo_keys: bool = True) -> dict[str, int]:
    """Load the bundled catalogue (when changed), the geography (when absent) and, with ``demo_keys``, the demo agencies and keys."""
    from mappings.agencies import load_agencies, org_types, store_agencies
    from mappings.catalogue import load_catalogue
    from mappings.geography import load_geography, refresh_geography, store_geography

    cat = catalogue or load_catalogue()
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        # Hosts started together on one store each load these rows; the second met the first's unique keys and its
        # start failed. Held to the commit, the second waits and then finds the first's rows.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (advisory_key("load_bundled"),))
    before = current_catalogue_version(session)
    version = store_catalogue(session, cat)
    counts = {"indicators": version.indicator_count, "returns": version.return_count, "fields": version.field_count}
    if session.execute(select(func.count()).select_from(OrgUnit).where(OrgUnit.type != "provider")).scalar_one() == 0:
        stored = store_geography(session, load_geography())
        counts.update({f"geography_{k}": v for k, v in stored.items()})
    else:
        # A store made before the bundled geography changed (a council recoded) gets the change, nothing removed.
        counts.update(refresh_geography(session, load_geography()))
    counts.update(store_agencies(session, load_agencies(cat, org_types(session)), with_keys=demo_keys))
    if demo_keys:
        from mappings.illustrative import link_populations, move_earlier_figures

        counts.update(link_populations(session))
        # A store made when the demo's made-up council sat on a real council's code: its figures move to its own.
        counts.update(move_earlier_figures(session))
    from mappings.comparison.kept_groups import seed_groups

    counts["officer_groups_seeded"] = seed_groups(session)
    if before is not None and before.id != version.id:
        from mappings.registry import relink

        counts["agencies_relinked"] = relink(session)
    counts["org_units"] = org_unit_count(session)
    return counts
