"""The pages' Jinja2 environment (autoescaped, GOV.UK Frontend macros) and the helpers every page uses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, PrefixLoader
from markupsafe import Markup, escape
from sqlmodel import Session, col, select

from api.principal import Principal
from mappings.child_level import ANNEX_A_RETURNS
from mappings.keys import APPROVER_SCOPE, REGION_SCOPE
from mappings.models import AgencyReturn
from onereturn.models import WebSession

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

#: Acronyms the pages use, spelt out in <abbr> and on the glossary page.
ACRONYMS: dict[str, str] = {
    "API": "application programming interface: how other computer systems talk to this service",
    "CCG": "clinical commissioning group, an NHS body that planned and bought local health services",
    "CIN": "children in need",
    "CSV": "comma-separated values, a plain-text table any spreadsheet program opens",
    "DfE": "Department for Education",
    "FY": "financial year, 1 April to 31 March",
    "ICB": "integrated care board, the NHS body that took over the work of CCGs",
    "JSON": "JavaScript Object Notation, a text format computer systems exchange",
    "NDTMS": "National Drug Treatment Monitoring System",
    "NHS": "National Health Service",
    "NIS": "National Indicator Set for English councils",
    "OHID": "Office for Health Improvement and Disparities",
    "ONS": "Office for National Statistics",
    "SDMX": "Statistical Data and Metadata eXchange, an international format for statistics",
    "SSDA903": "the DfE return on children looked after",
    "XLSX": "an Excel workbook",
}

#: Words the pages use that a newcomer may not know, for the glossary page.
TERMS: dict[str, str] = {
    "Agency": "A body that sends figures: a council team, an NHS body, a drug-treatment service.",
    "Return": "One statutory or local report that a regulator or committee receives, with its own fields and deadline.",
    "Indicator": "One real-world quantity, defined once in the catalogue, such as the number of children looked after.",
    "Field": "One cell or column of a return. Each field is filled from one indicator.",
    "Figure": "One value of an indicator for one area, one period and one breakdown, as an agency sent it.",
    "Period": "The time a figure covers, e.g. FY2024-25 (April 2024 to March 2025) or FY2024-25-Q1 (its first quarter).",
    "Template": "The spreadsheet listing exactly the figures an agency owes for a period, to fill in and upload.",
    "Submission": "One upload of figures and the report of what was accepted and what was wrong.",
    "Query": "A figure that looks unusual, such as a large change since last time. It is stored once you explain it with a note.",
    "Completeness": "The share of a return's cells that have a figure.",
    "Deadline for agencies": "The day an agency's figures are due: five working days before the regulator's deadline.",
    "Regulator": "The body a return is sent to, such as the DfE or NDTMS.",
    "Snapshot": "A return built for a period in one format. Downloading it again gives the same bytes.",
    "Revision": "A changed figure for a period already sent. It becomes a new version; the old one is kept.",
    "Relation": "How a return field relates to an indicator: the same figure, a total of it, a part of it, "
    "derived from it by a formula, or the same idea measured a different way.",
    "Burden": "The work of keying figures. Keying each figure once, instead of once per return, saves hours.",
    "Outbox": "Reminders and notices the service sends by email, with whether each has gone.",
}

RELATIONS = {
    "identical": "the same figure",
    "aggregate_of": "a total of it (added up across areas or groups)",
    "subset_of": "a part of it",
    "derived_from": "worked out from it by a formula",
    "different_method": "the same idea measured a different way (never copied)",
}

LEVELS = {
    "upper_tier_la": "county and unitary council",
    "lower_tier_la": "district council",
    "health_area": "health area",
    "provider": "service provider",
}

KIND_NAMES = {"agency": "Agency", "officer": "Performance officer", "regulator": "Regulator"}

#: The GOV.UK tag colour of each sign-off state, the same on the approver's, the officer's and the regulator's pages.
SIGNOFF_TAGS = {
    "open": "govuk-tag--grey",
    "signed_off": "govuk-tag--green",
    "accepted": "govuk-tag--green",
    "reopened": "govuk-tag--yellow",
    "returned": "govuk-tag--red",
}


def _env() -> Environment:
    env = Environment(
        loader=ChoiceLoader(
            [
                FileSystemLoader(HERE / "templates"),
                PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
            ]
        ),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = lambda v: "" if v is None else f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
    # A stored figure shown as given: no thousands separator, no rounding, no trailing ".0".
    env.filters["figure"] = lambda v: "" if v is None else str(int(v)) if float(v).is_integer() else repr(float(v))
    env.filters["when"] = _when
    env.filters["day"] = lambda d: "" if d is None else _as_date(d).strftime("%-d %B %Y")
    env.filters["abbr"] = explain_acronyms
    env.globals["acronyms"] = ACRONYMS
    env.globals["relations"] = RELATIONS
    env.globals["kind_names"] = KIND_NAMES
    env.globals["levels"] = LEVELS
    env.globals["signoff_tags"] = SIGNOFF_TAGS
    return env


_ACRONYM = re.compile(r"\b(" + "|".join(sorted(map(re.escape, ACRONYMS), key=len, reverse=True)) + r")\b")


def explain_acronyms(text: str | None) -> Markup:
    """Escape a text and wrap each acronym it uses in an <abbr> that spells it out."""
    escaped = str(escape(text or ""))
    return Markup(_ACRONYM.sub(lambda m: f'<abbr title="{escape(ACRONYMS[m.group(1)])}">{m.group(1)}</abbr>', escaped))


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def _when(value: datetime | str | None, tz: str = "Europe/London") -> str:
    if value is None:
        return ""
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    if at.tzinfo is not None:
        at = at.astimezone(ZoneInfo(tz))
    return at.strftime("%-d %B %Y, %-I:%M%p").replace("AM", "am").replace("PM", "pm")


ENV = _env()


@dataclass(frozen=True)
class Visitor:
    """The signed-in person: the principal their key gives and their browser session."""

    principal: Principal
    web: WebSession
    token: str


def nav_items(principal: Principal | None, current: str, *, annex_a: bool = False) -> list[dict[str, Any]]:
    """The service navigation for a kind of principal, the current page marked; ``annex_a`` adds Ofsted's Annex A
    for a council's approver whose council returns the CIN census or the SSDA903."""
    if principal is None:
        links = [("Sign in", "/sign-in"), ("Glossary", "/glossary"), ("API documentation", "/docs")]
    elif REGION_SCOPE in principal.scopes:
        links = [("Your region", "/region"), ("Glossary", "/glossary"), ("API documentation", "/docs")]
    elif principal.kind == "agency":
        links = [
            ("What you owe", "/agency"),
            ("Upload", "/upload"),
            ("Submissions", "/submissions"),
            ("History", "/history"),
            ("Compare", "/compare"),
            *(
                [
                    ("Annex A", "/annex-a"),
                    ("Record files", "/record-files"),
                    ("SEND", "/send"),
                    ("School census", "/census"),
                    ("Regions", "/consent"),
                ]
                if annex_a
                else []
            ),
            ("Glossary", "/glossary"),
        ]
    elif principal.kind == "officer":
        links = [
            ("Dashboard", "/officer"),
            ("Approvals", "/officer/approvals"),
            ("Calendar", "/calendar"),
            ("Catalogue", "/catalogue"),
            ("Burden", "/burden"),
            ("Compare", "/compare"),
            ("Groups", "/officer/groups"),
            ("Published", "/officer/published"),
            ("Establishments", "/officer/establishments"),
            ("Submissions", "/submissions"),
            ("Outbox", "/outbox"),
            ("Agencies", "/agencies"),
            ("Keys", "/keys"),
        ]
    else:
        links = [("Your returns", "/regulator"), ("Glossary", "/glossary"), ("API documentation", "/docs")]
    return [{"text": text, "href": href, "current": href == current} for text, href in links]


def builds_annex_a(request: Request, principal: Principal | None) -> bool:
    """Whether the principal is an approver of a council that returns the CIN census or the SSDA903."""
    if principal is None or principal.kind != "agency" or not principal.agency_code:
        return False
    if APPROVER_SCOPE not in principal.scopes:
        return False
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        return False
    with Session(engine) as session:
        found = session.execute(
            select(AgencyReturn.return_id).where(
                col(AgencyReturn.agency_code) == principal.agency_code,
                col(AgencyReturn.return_id).in_(ANNEX_A_RETURNS),
            )
        ).first()
    return found is not None


def page(
    request: Request,
    template: str,
    visitor: Visitor | None,
    *,
    title: str,
    status_code: int = 200,
    current: str = "",
    **context: Any,
) -> HTMLResponse:
    """Render a page in the service layout."""
    principal = visitor.principal if visitor else None
    html = ENV.get_template(template).render(
        request=request,
        title=title,
        principal=principal,
        csrf_token=visitor.web.csrf_token if visitor else "",
        nav=nav_items(principal, current or request.url.path, annex_a=builds_annex_a(request, principal)),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
