"""The record-level pages: a council sends its SSDA903 or CIN census records with the collection year, follows
them through their stages, and reads DfE's findings, each child by the council's own id (to that council only).

The upload goes through the API's own route (so the same checks, keeping and audit apply); the findings come
from the same function as ``GET /api/submissions/{id}/records``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from api.callrecord import annotate
from api.deps import SessionDep
from api.principal import Principal
from api.web.render import Visitor, page
from api.web.shared import SUBMIT, UPLOAD_MODES, PageRoute, RecordsSent, Rule, VisitorDep, allowed, api_records_upload
from collectors.figures import service as collect
from collectors.records import senders
from collectors.records.contract import NoRuleSet, ruleset_for
from collectors.records.report import findings_by_rule, findings_page
from onereturn.errors import InvalidInput

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: A council's findings by child: its own agency key only, as the API's RecordsRead admits.
RECORDS: Rule = ({"submissions:read"}, {"agency"}, "submissions")
#: The steps a record-level upload goes through after it is received, as the upload workers name them.
STEPS = (
    ("reading", "Reading your files"),
    ("dfe_rules", "Checking them against DfE's rules"),
    ("deriving", "Working out the figures"),
    ("stored", "Storing the figures"),
)
#: A SEN2 file's steps: checked whole at the door against its survey's schema and the service's rules (DfE's own
#: rules do not run on it), then its figures worked out and stored.
SEN2_STEPS = (
    ("reading", "Reading your file"),
    ("checked", "Checking it against the SEN2 survey's schema and the service's rules"),
    ("deriving", "Working out the figures"),
    ("stored", "Storing the figures"),
)
#: The most problems of a refused file listed beside the form (the API's answer lists as many).
SHOWN_PROBLEMS = 50
#: Stages that are not final: the page follows them.
RUNNING = ("received", "reading", "dfe_rules", "deriving")
#: The order notices are listed in: what stopped the records first.
SEVERITY_ORDER = {"error": 0, "query": 1, "information": 2}
#: Findings shown on one page of the report by child.
PER_PAGE = 500


def records_refusal(session: Session, principal: Principal) -> str | None:
    """Why this visitor is not offered the record-level form (None when it is): a council's own key sends them."""
    if principal.kind != "agency" or principal.agency_code is None:
        return (
            "Only a council sends its children's records through this page, signed in with its own key; "
            "officers send records through the API and say which agency they come from"
        )
    refused = senders.refusal(session, principal.agency_code)
    return None if refused is None else f"{refused}; upload your figures above"


def upload_form_errors(files: list[UploadFile], collection_year: str, refusal: str | None = None) -> dict[str, str]:
    """What is wrong with the record-level form, by field (empty when it can be sent)."""
    errors: dict[str, str] = {}
    if not files:
        errors["files"] = (
            "Select the files of your children's records: the SSDA903 tables, a ZIP of them, the XML, or your SSD extract"
        )
    if not collection_year.strip():
        errors["collection_year"] = "Enter the collection year, for example 2024-25"
    else:
        try:
            # Only the year's form is checked here; which return it is (903 or CIN) is read from the files.
            ruleset_for("903", collection_year)
        except NoRuleSet:
            errors["collection_year"] = "Enter the collection year as two years, for example 2024-25"
    if refusal is not None:
        # The form is not shown to whom it is refused: the error summary links to the reason in its place.
        errors = {"records-refused": refusal}
    return errors


@router.post("/upload/records")
def upload_records(request: Request, session: SessionDep, visitor: VisitorDep, sent: RecordsSent) -> Response:
    """Send a council's record-level files through the API's upload; show their stage at once."""
    allowed(visitor, SUBMIT)
    chosen, collection_year, background = sent.files, sent.collection_year, sent.background
    refusal = records_refusal(session, visitor.principal)
    errors = upload_form_errors(chosen, collection_year, refusal)
    if errors:
        return upload_refused(
            request, visitor, errors={}, record_errors=errors, collection_year=collection_year, records_refusal=refusal
        )
    # The upload's background task (when no upload pool runs) is this page's, run once the answer has gone.
    try:
        body = api_records_upload(request, session, visitor, background, chosen, collection_year.strip())
    except InvalidInput as exc:
        if not exc.errors:
            raise
        # A file refused at the door (a SEN2 file against its survey's schema): each problem beside the form, by
        # module, child and item, as the API lists them; nothing of the file was kept.
        return upload_refused(
            request,
            visitor,
            errors={},
            record_errors={"files": exc.message},
            record_problems=refused_problems(exc.errors),
            collection_year=collection_year,
            records_refusal=refusal,
        )
    if "extract" in body:
        return extract_page(request, session, visitor, body)
    # 202 for new files, 200 with the earlier upload for a repeat: either way the page follows that upload.
    submission_id = body["id"]
    return RedirectResponse(f"/submissions/{submission_id}", status_code=303)


def refused_problems(errors: list[dict[str, Any]]) -> list[str]:
    """Each problem of a refused file in words: where it is (module, child, item) and what is wrong, no value."""
    said = []
    for error in errors[:SHOWN_PROBLEMS]:
        where = ", ".join(str(part) for part in error.get("loc") or [] if part not in (None, ""))
        said.append(f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", "")))
    if len(errors) > SHOWN_PROBLEMS:
        said.append(f"and {len(errors) - SHOWN_PROBLEMS:,} more")
    return said


def extract_page(request: Request, session: Session, visitor: Visitor, body: dict[str, Any]) -> HTMLResponse:
    """What an SSD extract gave: read and checked, the files made from it (each followed on its own page, as the
    council's own files are), the Annex A rows and DfE's payloads kept."""
    made = []
    for listed in body["submissions"]:
        sub = collect.get_submission(session, int(listed["id"]), agency_code=visitor.principal.agency_scope)
        made.append({"sub": sub, "duplicate": listed["duplicate"], "running": sub.stage in RUNNING})
    return page(
        request,
        "agency/extract.html",
        visitor,
        title=f"Your SSD extract {body['extract']['file']}",
        extract=body["extract"],
        made=made,
        payloads=body["csc_api_payloads"],
        repeat=all(m["duplicate"] for m in made),
    )


def status_page(request: Request, session: SessionDep, visitor: Visitor, report: dict[str, Any]) -> HTMLResponse:
    """A record-level upload's page: received at once, then each stage as it is reached, then DfE's findings."""
    stage = report["stage"]
    running = stage in RUNNING
    sen2 = report.get("source_format") == "sen2"
    named = SEN2_STEPS if sen2 else STEPS
    reached = next((i for i, (name, _) in enumerate(named) if name == stage), -1)
    steps = [
        {
            "name": name,
            "text": text,
            "state": "done" if i < reached or stage == "stored" else "doing" if i == reached else "waiting",
        }
        for i, (name, text) in enumerate(named)
    ]
    doing = next((s["text"] for s in steps if s["state"] == "doing"), "Waiting to be checked")
    tallies = [] if running else findings_by_rule(session, int(report["id"]))
    unchecked = [p for p in report["problems"] if p["rule"].startswith("dfe:") and p["row"] is None]
    other = [p for p in report["problems"] if not p["rule"].startswith("dfe:")]
    # What stopped the records comes first, then queries, then the notices of rules not checked.
    notices = sorted(unchecked + other, key=lambda p: SEVERITY_ORDER.get(p["severity"], len(SEVERITY_ORDER)))
    title = f"Submission {report['id']}" + (f": {doing.lower()}" if running else "")
    return page(
        request,
        "agency/records.html",
        visitor,
        title=title,
        report=report,
        running=running,
        steps=steps,
        doing=doing,
        tallies=tallies,
        notices=notices,
        own=visitor.principal.kind == "agency",
        sen2=sen2,
    )


@router.get("/submissions/{submission_id}/records")
def records_report(
    request: Request,
    session: SessionDep,
    visitor: VisitorDep,
    submission_id: int,
    rule: str | None = None,
    offset: int = 0,
) -> HTMLResponse:
    """DfE's findings in a council's own records, each child by the council's own id (that council only; audited)."""
    allowed(visitor, RECORDS)
    sub = collect.get_submission(session, submission_id, agency_code=visitor.principal.agency_scope)
    offset = max(offset, 0)
    items, total = findings_page(
        session, request.app.state.settings, submission_id, limit=PER_PAGE, offset=offset, rule=rule or None
    )
    annotate(request, object=f"record-level findings of submission {submission_id}")
    return page(
        request,
        "agency/findings.html",
        visitor,
        title=f"Submission {submission_id}: DfE's findings by child",
        submission=sub,
        items=items,
        total=total,
        offset=offset,
        per_page=PER_PAGE,
        rule=rule or "",
    )


def upload_refused(request: Request, visitor: Visitor, **shown: Any) -> HTMLResponse:
    """The upload page again (400) with what was wrong beside the fields: a file of figures' or record-level files'."""
    return page(
        request,
        "agency/upload.html",
        visitor,
        title="Error: Upload your figures",
        modes=UPLOAD_MODES,
        status_code=400,
        **shown,
    )
