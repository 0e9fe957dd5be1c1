"""The one template an agency downloads: every figure it owes for a period, and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from sqlmodel import Session, col, select

from collectors.figures.workbooks import STATISTICS, TemplateInfo, TemplateRow, template_csv, template_xlsx
from collectors.store import current_figures
from indicators.models import Code, Indicator
from indicators.periods import parse_period
from indicators.service import current_catalogue_version, load_rules
from indicators.valuespec import ValueSpec, value_specs
from mappings.agencies import get_agency
from mappings.models import OrgUnit
from mappings.obligations import filled_by_publishers, obligations

TemplateFormat = Literal["xlsx", "csv"]


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if float(value).is_integer() else repr(value)


def template_rows(session: Session, agency_code: str, period: str, *, outstanding: bool = False) -> list[TemplateRow]:
    """List the template rows of an agency's figures for a period, with the last accepted value as a hint.

    With ``outstanding``, figures already accepted are left out: only what is still owed is asked for. A figure a
    publisher's release fills in every return that reads it is never asked for (``filled_by_publishers``).
    """
    published = filled_by_publishers(session, agency_code, parse_period(period))
    owed = [o for o in obligations(session, agency_code, period) if o.indicator_id not in published]
    ids = sorted({o.indicator_id for o in owed})
    orgs = sorted({o.org_code for o in owed})
    indicators = {i.id: i for i in session.execute(select(Indicator).where(col(Indicator.id).in_(ids))).scalars()}
    specs = value_specs(indicators, load_rules(session))
    names = dict(session.execute(select(OrgUnit.code, OrgUnit.name).where(col(OrgUnit.code).in_(orgs))).all())
    last = {
        (r["indicator_id"], r["org_code"], r["period"], r["breakdown"]): r
        for r in current_figures(session, ids, orgs).iter_rows(named=True)
    }
    rows = []
    for o in owed:
        ind = indicators[o.indicator_id]
        spec = specs[o.indicator_id]
        figure = last.get((o.indicator_id, o.org_code, o.period, o.breakdown))
        if outstanding and figure is not None:
            continue
        hint = None if figure is None else (figure["symbol"] or _number(figure["value"]))
        rows.append(
            TemplateRow(
                indicator=ind.id,
                title=ind.plain_title,
                org=o.org_code,
                org_name=names.get(o.org_code, ""),
                period=o.period,
                breakdown=o.breakdown,
                last_value=hint,
                **_value_rule(ind, spec),
            )
        )
    return rows


def codelists_for(session: Session) -> dict[str, list[tuple[str, str]]]:
    """Return every code list as (code, label) pairs in order."""
    out: dict[str, list[tuple[str, str]]] = {}
    for code in session.execute(select(Code).order_by(col(Code.codelist_id), col(Code.position))).scalars():
        out.setdefault(code.codelist_id, []).append((code.code, code.label))
    return out


def build_template(
    session: Session, agency_code: str, period: str, fmt: TemplateFormat, *, outstanding: bool = False
) -> tuple[bytes, str]:
    """Build an agency's template for a period; return the bytes and a file name."""
    agency = get_agency(session, agency_code)
    rows = template_rows(session, agency_code, period, outstanding=outstanding)
    codelists = codelists_for(session)
    canonical = parse_period(period).code
    name = f"onereturn-{agency_code}-{canonical}.{fmt}"
    if fmt == "csv":
        return template_csv(rows, codelists), name
    version = current_catalogue_version(session)
    info = TemplateInfo(
        agency_code=agency_code,
        agency_name=agency.name,
        period=canonical,
        generated_at=datetime.now(UTC),
        catalogue_version=version.content_hash[:12] if version else "",
        codelists=codelists,
    )
    return template_xlsx(info, rows), name


def value_rules_for(session: Session, indicator_ids: list[str]) -> dict[str, TemplateRow]:
    """Return, per indicator, the template row rule its value cell is validated with (texts left empty)."""
    indicators = {
        i.id: i for i in session.execute(select(Indicator).where(col(Indicator.id).in_(indicator_ids))).scalars()
    }
    specs = value_specs(indicators, load_rules(session))
    return {
        ind_id: TemplateRow(
            indicator=ind_id,
            title=ind.plain_title,
            org="",
            org_name="",
            period="",
            breakdown="",
            last_value=None,
            **_value_rule(ind, specs[ind_id]),
        )
        for ind_id, ind in indicators.items()
        if ind.formula is None and specs[ind_id].statistic in STATISTICS
    }


def _value_rule(ind: Indicator, spec: ValueSpec) -> dict[str, Any]:
    """The parts of a template row that say what its value may be: the indicator's unit and its value's rule."""
    return {
        "unit": ind.unit,
        "statistic": spec.statistic,
        "decimals": spec.decimals,
        "min_value": spec.min_value,
        "max_value": spec.max_value,
        "whole": spec.whole,
        "judgement_codelist": spec.judgement_codelist,
        "ratio": spec.ratio,
    }
