"""The school census page: send the council's census as it holds it (COLLECT's blade CSVs, one a module, or a ZIP of
them), each refusal listed by file, table, row and item (never a pupil's value), and the censuses kept: each one's
census day, whose schools' returns, and how many pupils were read and kept. The same upload as the API's; every view
is audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.callrecord import annotate
from api.deps import SessionDep
from api.web.render import page
from api.web.shared import PageRoute, RecordsSent, Rule, VisitorDep, allowed, send_records_form
from collectors.census.kept import kept_censuses
from collectors.problems import first_problems

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: A council's own key reads its censuses kept; one that may submit sends one.
READ: Rule = ({"submissions:read"}, {"agency"}, "submissions")
#: Whose returns a census holds, in words.
WHOSE = {"la": "Your maintained schools", "acad": "Academies"}
#: The cells a census's schema refused shown on the page; its report lists every one.
SHOWN = 200


def _kept(session: SessionDep, code: str) -> list[dict[str, Any]]:
    """The council's censuses kept, newest census day first: what the page's table shows of each (no pupil's)."""
    return [
        {
            "id": s.id,
            "day": f"{s.census_day:%-d %B %Y}" if s.census_day else "",
            "whose": WHOSE.get(s.census_source, s.census_source),
            "read": s.rows_read,
            "kept": s.rows_accepted,
            "partly": s.status == "partially_accepted",
            "received": s.received_at,
            "file": s.filename,
        }
        for s in kept_censuses(session, code)
    ]


def _row(error: dict[str, Any]) -> dict[str, Any]:
    """One refusal as the page's table shows it: its file, table, row and item as the API's ``loc`` gives them."""
    loc = [str(part) for part in error.get("loc") or []]
    # A refusal of what was sent names the form field first: the page names the file.
    loc = loc[1:] if loc[:1] in (["files"], ["file"]) else loc
    rows = [part.removeprefix("row ") for part in loc if part.startswith("row ")]
    rest = [part for part in loc if not part.startswith("row ")]
    return {
        "file": rest[0] if rest else "The upload",
        "table": rest[1] if len(rest) > 1 else "",
        "row": rows[0] if rows else "",
        "item": rest[2] if len(rest) > 2 else "",
        "msg": error.get("msg", ""),
    }


def _census_page(request: Request, session: SessionDep, visitor: VisitorDep, code: str, **shown: Any) -> HTMLResponse:
    kept = _kept(session, code)
    annotate(request, object=f"school census page of {code}", detail=f"{len(kept)} census(es) kept")
    whole = [_row(error) for error in shown.pop("refusals", None) or []]
    refused = bool(whole or shown.get("form_error"))
    # One table: why a census was refused whole, or the cells a kept census's schema refused.
    problems, total = (whole, len(whole)) if whole else (shown.pop("found", []), shown.pop("found_total", 0))
    return page(
        request,
        "agency/census.html",
        visitor,
        title=("Error: " if refused else "") + "Your school census",
        current="/census",
        kept=kept,
        problems=problems,
        problems_total=total,
        refused_whole=bool(whole),
        status_code=422 if refused else 200,
        **{"form_error": "", "sent": None, "year": "", **shown},
    )


def _found(session: SessionDep, submission_id: int) -> tuple[list[dict[str, Any]], int]:
    """The first cells the census's schema refused in a kept census, as the page's table shows them, and how many."""
    listed, total = first_problems(session, submission_id, limit=SHOWN)
    rows = []
    for row, column, message in listed.select("row", "column", "message").iter_rows():
        table, _, item = str(column or "").partition(": ")
        file, _, rule = str(message).partition(": ")
        rows.append({"file": file, "table": table, "row": row, "item": item, "msg": rule})
    return rows, total


@router.get("/census")
def census_page(request: Request, session: SessionDep, visitor: VisitorDep, sent: int | None = None) -> HTMLResponse:
    """The council's census page: send a census; the censuses kept, each with its pupils read and kept."""
    allowed(visitor, READ)
    code = visitor.principal.agency_code
    assert code is not None
    shown = next((k for k in _kept(session, code) if k["id"] == sent), None) if sent is not None else None
    found, total = _found(session, shown["id"]) if shown is not None else ([], 0)
    return _census_page(request, session, visitor, code, sent=shown, found=found, found_total=total)


@router.post("/census")
def send_census(request: Request, session: SessionDep, visitor: VisitorDep, sent: RecordsSent) -> Response:
    """Send the census through the API's own upload; a refusal is listed on the page by file, table, row and item."""
    code, year, shown = send_records_form(
        request,
        session,
        visitor,
        sent,
        year_error="Enter the academic year, for example 2024-25",
        select="Select your census files (CSV or ZIP)",
    )
    if "body" not in shown:
        return _census_page(request, session, visitor, code, **({"year": year} if year else {}), **shown)
    return RedirectResponse(f"/census?sent={shown['body']['id']}", status_code=303)
