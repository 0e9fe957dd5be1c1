"""The SEND team's pages: send the council's SEN2 file (each refusal listed by module, child and item, as the API gives
it), DfE's twelve EHC plan tables made from it (as tables, and as charts where a team would rather look: where its
children with plans are taught, how that differs by ethnicity, 20-week timeliness over the years beside DfE's), List
1's workbook for the approver, and the checks across returns; and the officer's register of establishments. The same
services as the API's routes; every view is audited.
"""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.access.annex import check_annex_reader
from api.callrecord import annotate
from api.deps import SessionDep
from api.downloads import XLSX, attachment
from api.register_upload import load_uploaded
from api.web.charts import Bar, Level, comparison_bars, stacked_bars, trend_lines
from api.web.render import page
from api.web.shared import PageRoute, RecordsSent, Rule, VisitorDep, allowed, check_csrf, send_records_form
from collectors.annex_a.build import read_inspection_date
from collectors.sen2.breakdowns import ETHNICITY, GROUPS
from collectors.sen2.crosscheck import CHECKS, council_cross_checks
from collectors.sen2.list1 import COLUMNS as LIST1_COLUMNS
from collectors.sen2.list1 import build_list1, checked_list1
from collectors.sen2.list1_rules import check_list1
from collectors.sen2.list1_workbook import list1_workbook
from collectors.sen2.list2 import List2, checked_list2
from collectors.sen2.list2_figures import looked_after_estimates
from collectors.sen2.schema import SURVEYS, year_text
from collectors.sen2.service import TABLES, Made, make_tables
from collectors.sen2.timeliness import timeliness_by_year
from indicators.periods import read_collection_year
from mappings.establishments.service import register_held
from mappings.illustrative import councils_of
from mappings.keys import APPROVER_SCOPE
from onereturn.errors import NotFound, OneReturnError

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: A council's own key, as the API's tables and List 1 routes (List 1 then asks for the approver, and says so).
SEND: Rule = ({"submissions:read"}, {"agency"}, "submissions")
OFFICER: Rule = (set(), {"officer"}, None)
#: The table a page shows first, and its charts' topic.
CASELOAD = "caseload"
#: The place groups the ethnicity chart draws apart (its fourth part is every other place).
SHOWN_GROUPS = ("mainstream_total", "special_total", "fe_total")
TITLES = {
    "requests": "Requests for an EHC needs assessment",
    "assessments": "EHC needs assessments",
    "newplans": "New EHC plans",
    "timeliness_20_week": "New plans issued within 20 weeks",
    "caseload": "EHC plans in force",
    "sen_need_newplans": "New plans by primary need",
    "sen_needs_all_plans": "Plans in force by primary need",
    "ceased_plans": "Plans ceased",
    "annual_reviews": "Annual reviews",
    "personal_budgets": "Personal budgets",
    "residential_settings": "Residential placements",
    "work_based_placements": "Work-based placements",
}


def _year(text: str) -> str:
    """The collection year asked for, else the newest SEN2 survey the service holds a schema for."""
    return read_collection_year(text) if text.strip() else year_text(SURVEYS[-2])


def _rows(made: Made) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(made.csv)))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _where_taught(total: dict[str, str]) -> str | None:
    """One bar per group of places, each the share of all plans in force (None where the register types none)."""
    levels = [
        Level(label.removesuffix(" - total"), _number(total[pc]))
        for _, (_, pc, label) in GROUPS.items()
        if _number(total[pc]) is not None
    ]
    for column, label in (
        ("nm_early_years_pc", "Non-maintained early years"),
        ("placement_unknown_pc", "Not recorded"),
    ):
        levels.append(Level(label, _number(total[column])))
    if len(levels) < 3:
        return None
    return comparison_bars(levels, title="Where children with EHC plans are taught (% of plans in force)", unit="%")


def _by_ethnicity(rows: list[dict[str, str]]) -> str | None:
    """Each ethnicity's plans by place: mainstream, special, FE and post-16, and everywhere else."""
    bars = []
    for row in rows:
        if row["breakdown_topic"] != ETHNICITY:
            continue
        total, parts = _number(row["ehcplans"]), [_number(row[g]) for g in SHOWN_GROUPS]
        if not total or any(p is None for p in parts):
            return None
        shares = [100 * (p or 0.0) / total for p in parts]
        bars.append(Bar(row["breakdown"], (*shares, max(0.0, 100 - sum(shares)))))
    if not bars:
        return None
    legend = (*(GROUPS[g][2].removesuffix(" - total") for g in SHOWN_GROUPS), "Elsewhere")
    return stacked_bars(bars, legend=legend, title="Where children with EHC plans are taught, by ethnicity", unit="%")


def _timeliness(session: SessionDep, code: str) -> tuple[str | None, list[Any]]:
    """The council's own share within 20 weeks over the years beside DfE's, as a chart and its rows."""
    councils = councils_of(session, code)
    if len(councils) != 1:
        return None, []
    years = timeliness_by_year(session, councils[0].org)
    if not years:
        return None, []
    series = [("Your SEN2 files", [y.own for y in years]), ("DfE's release", [y.dfe for y in years])]
    chart = trend_lines([y.period for y in years], series, title="New EHC plans issued within 20 weeks (%)")
    return chart, years


@router.get("/send")
def send_page(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    year: str = "",
    sent: int | None = None,
    inspection_date: str = "",
) -> HTMLResponse:
    """The council's SEN2 page: send the file; the year's tables, charts, Lists 1 and 2, what its school census fills
    of them, its looked-after children's school estimates and the checks across returns."""
    allowed(visitor, SEND)
    code = visitor.principal.agency_code
    assert code is not None
    return _send_page(request, session, visitor, code, _year(year), sent=sent, on=inspection_date)


def _on(text: str) -> date:
    """The inspection date asked for, else today."""
    return read_inspection_date(text.strip() or date.today().isoformat())


def _census_filled(request: Request, code: str, on: date) -> dict[str, Any] | None:
    """What the council's school census fills of List 1 and List 2 as at the date, column by column (counts only);
    None where it keeps no census for the date."""
    engine, settings = request.app.state.engine, request.app.state.settings
    try:
        list2, findings = checked_list2(engine, settings, code, on)
    except NotFound:
        return None
    list1 = None
    with contextlib.suppress(NotFound):
        list1 = checked_list1(engine, settings, code, on)[0]
    columns = [c for c in LIST1_COLUMNS if c in list2.from_census or (list1 and c in list1.from_census)]
    return {
        "censuses": [s for s in list2.sources if s.startswith("school census")],
        "list1_rows": list1.rows.height if list1 else None,
        "list2_rows": list2.rows.height,
        "findings": len(findings),
        "columns": [(c, list1.from_census.get(c) if list1 else None, list2.from_census.get(c)) for c in columns],
    }


def _send_page(
    request: Request, session: SessionDep, visitor: VisitorDep, code: str, year: str, **shown: Any
) -> HTMLResponse:
    engine, settings = request.app.state.engine, request.app.state.settings
    made: dict[str, Made] = {}
    # No file kept for the year: the page offers the form alone.
    with contextlib.suppress(NotFound):
        made = make_tables(engine, settings, code, year)
    caseload = _rows(made[CASELOAD]) if made else []
    total = next((r for r in caseload if r["breakdown_topic"] == r["breakdown"]), None)
    chart, years = _timeliness(session, code)
    checks = None
    approver = APPROVER_SCOPE in visitor.principal.scopes
    if made:
        queries, census, _ = council_cross_checks(engine, settings, code, year)
        counts = {c: sum(1 for q in queries if q.check == c) for c in CHECKS}
        # The children behind the queries name them, as the lists do: the council's approvers alone see them.
        shown_queries = queries if approver else []
        checks = {"census": census, "rows": [(c, w, counts[c]) for c, w in CHECKS.items()], "queries": shown_queries}
    on = _on(shown.pop("on", ""))
    filled = _census_filled(request, code, on) if approver else None
    estimates = None
    with contextlib.suppress(NotFound):
        estimates = looked_after_estimates(session, engine, settings, code, on)
    annotate(request, object=f"SEN2 page of {code} for {year}", detail=f"{len(made)} table(s) made")
    return page(
        request,
        "agency/send.html",
        visitor,
        title=("Error: " if shown.get("refusals") or shown.get("form_error") else "") + "Your SEN2 survey",
        current="/send",
        year=year,
        years=[year_text(s) for s in SURVEYS],
        tables=[(name, TITLES[name], made[name]) for name in TABLES] if made else [],
        total=total,
        where_taught=_where_taught(total) if total else None,
        by_ethnicity=_by_ethnicity(caseload),
        ethnicity_rows=[r for r in caseload if r["breakdown_topic"] == ETHNICITY],
        groups=GROUPS,
        timeliness_chart=chart,
        timeliness=years,
        checks=checks,
        approver=approver,
        on=on,
        filled=filled,
        estimates=estimates,
        register=register_held(engine),
        status_code=422 if shown.get("refusals") or shown.get("form_error") else 200,
        **{"refusals": [], "form_error": "", "sent": None, **shown},
    )


@router.post("/send")
def send_file(request: Request, session: SessionDep, visitor: VisitorDep, sent: RecordsSent) -> Response:
    """Send the SEN2 file through the API's own upload; a refusal is listed on the page, module by child by item."""
    code, year, shown = send_records_form(
        request,
        session,
        visitor,
        sent,
        year_error="Enter the collection year, for example 2024-25",
        select="Select your SEN2 file (XML)",
    )
    if "body" not in shown:
        return _send_page(request, session, visitor, code, year or _year(""), **shown)
    return RedirectResponse(f"/send?year={year}&sent={shown['body']['id']}", status_code=303)


@router.get("/send/{collection_year}/{table}")
def table_page(request: Request, visitor: VisitorDep, collection_year: str, table: str) -> Response:
    """One of DfE's tables as a table (or, with ``.csv``, in DfE's own layout to download), with its notes."""
    allowed(visitor, SEND)
    code = visitor.principal.agency_code
    assert code is not None
    year = read_collection_year(collection_year)
    name, csv_wanted = table.removesuffix(".csv"), table.endswith(".csv")
    if name not in TABLES:
        raise NotFound(f"DfE's EHC plan tables are {', '.join(TABLES)}")
    made = make_tables(request.app.state.engine, request.app.state.settings, code, year, (name,))[name]
    annotate(request, object=f"SEN2 table {name} of {code} for {year}", detail=f"from submission {made.submission_id}")
    if csv_wanted:
        return attachment(made.csv.encode(), "text/csv; charset=utf-8", f"{code}-{year}-{name}.csv")
    rows = _rows(made)
    columns = [c for c in (rows[0] if rows else {}) if c not in IDENTITY_SHOWN_ONCE]
    return page(
        request,
        "agency/send_table.html",
        visitor,
        title=f"{TITLES[name]}: DfE's {name} table",
        current="/send",
        year=year,
        name=name,
        heading=TITLES[name],
        made=made,
        rows=rows,
        columns=columns,
    )


#: The columns every row repeats, said once above the table rather than in every row.
IDENTITY_SHOWN_ONCE = frozenset(
    {
        "time_identifier",
        "geographic_level",
        "country_code",
        "country_name",
        "region_code",
        "region_name",
        "new_la_code",
        "old_la_code",
        "la_name",
    }
)


@router.get("/send-list1.xlsx")
def list1_download(request: Request, session: SessionDep, visitor: VisitorDep, inspection_date: str = "") -> Response:
    """List 1 as at the inspection date, the workbook the API gives (the council's approver only; audited)."""
    allowed(visitor, SEND)
    code = visitor.principal.agency_code
    assert code is not None
    check_annex_reader(session, visitor.principal, code)
    day = read_inspection_date(inspection_date or date.today().isoformat())
    built = build_list1(request.app.state.engine, request.app.state.settings, code, day)
    findings = check_list1(built.rows, day)
    list2: tuple[List2 | None, list[Any]] = (None, [])
    with contextlib.suppress(NotFound):
        list2 = checked_list2(request.app.state.engine, request.app.state.settings, code, day)
    annotate(
        request,
        object=f"area SEND List 1 workbook of {code} as at {day.isoformat()}",
        detail=f"{built.rows.height} rows; {len(findings)} finding(s); read from {'; '.join(built.sources)}; "
        f"List 2: {'none' if list2[0] is None else list2[0].rows.height} rows",
    )
    return attachment(list1_workbook(built, findings, *list2), XLSX, f"annex-a-send-{code}-{day.isoformat()}.xlsx")


@router.get("/officer/establishments")
def establishments_page(request: Request, visitor: VisitorDep, loaded: str = "") -> HTMLResponse:
    """The register of establishments held, and the form to load GIAS's extract."""
    allowed(visitor, OFFICER)
    held = register_held(request.app.state.engine)
    return page(
        request,
        "officer/establishments.html",
        visitor,
        title="Register of establishments",
        held=held,
        loaded=loaded,
        error="",
    )


@router.post("/officer/establishments")
def establishments_load(
    request: Request,
    visitor: VisitorDep,
    file: Annotated[UploadFile | None, File()] = None,
    links: Annotated[UploadFile | None, File()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Load GIAS's extract as the API does; a refusal is said on the page and the register held left as it was."""
    check_csrf(visitor, csrf_token)
    allowed(visitor, OFFICER)
    engine = request.app.state.engine
    if file is None or not file.filename:
        error = "Select GIAS's all-establishments extract (edubasealldataYYYYMMDD.csv)"
    else:
        try:
            held = load_uploaded(request, visitor.principal, file, links)
        except OneReturnError as exc:
            error = exc.message
        else:
            annotate(request, object=f"register of establishments {held.file_name}", detail=held.words())
            return RedirectResponse("/officer/establishments?loaded=1", status_code=303)
    return page(
        request,
        "officer/establishments.html",
        visitor,
        title="Error: Register of establishments",
        held=register_held(engine),
        loaded="",
        error=error,
        status_code=422,
    )
