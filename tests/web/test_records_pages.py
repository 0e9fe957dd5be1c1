"""The record-level pages: a council sends its records with the collection year, sees at once that they were
received, follows their stage, then reads DfE's findings by rule and child (each child to that council only)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, col

from cli.synthetic import synthetic_903
from collectors.door.requests import RecordFiles
from collectors.records import receiving as records
from collectors.records.service import process_records
from indicators.store.models import Submission
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.samples import PASSING as PASSING_903
from tests.collectors.records.samples import TABLES_903
from tests.web.pages import AGENCY, OFFICER, OTHER_AGENCY, sign_in


def _send(web: TestClient, csrf: str, paths: list[Path], year: str = "2024-25") -> str:
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in paths]
    sent = web.post("/upload/records", data={"collection_year": year, "csrf_token": csrf}, files=files)
    assert sent.status_code == 303, sent.text
    return str(sent.headers["location"])


def _rows(html: str, ident: str) -> list[str]:
    table = re.search(rf'id="{ident}">(.*?)</table>', html, re.S)
    assert table, ident
    return re.findall(r'<tr class="govuk-table__row[^"]*" data-rule="([^"]+)"', table.group(1))


def test_the_upload_page_offers_the_records_form(web: TestClient) -> None:
    sign_in(web, AGENCY)
    html = web.get("/upload").text
    assert 'action="/upload/records"' in html
    assert re.search(r'<input[^>]*id="files"[^>]*name="files"[^>]*multiple', html)
    assert 'name="collection_year"' in html


def test_a_council_sends_its_903_tables_and_reads_dfes_findings(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    csrf = sign_in(web, AGENCY)
    where = _send(web, csrf, TABLES_903)
    assert re.fullmatch(r"/submissions/\d+", where)
    html = web.get(where).text
    # The fixture's records break DfE's rules: nothing is stored and the page says why, rule by rule.
    assert 'data-stage="rejected"' in html
    assert "data-follow-stage" not in html
    assert "Your records were not stored" in html
    rules = _rows(html, "rules")
    assert "dfe:187" in rules
    assert len(rules) == len(set(rules)) > 10
    places = {
        rule: int(n.replace(",", ""))
        for rule, n in re.findall(
            r'data-rule="([^"]+)">.*?<td class="govuk-table__cell govuk-table__cell--numeric">([\d,]+)</td>', html, re.S
        )
    }
    counts = re.search(r'id="counts">([\d,]+) errors', html)
    assert counts
    assert sum(places.values()) >= int(counts.group(1).replace(",", "")) > 0

    # Every finding, child by child, 500 a page; one rule's alone.
    findings = web.get(f"{where}/records").text
    assert len(_rows(findings, "findings")) == 500
    assert 'rel="next"' in findings
    one = web.get(f"{where}/records", params={"rule": "dfe:187"}).text
    assert set(_rows(one, "findings")) == {"dfe:187"}
    assert len(_rows(one, "findings")) == places["dfe:187"]
    assert "988635" in one  # the council's own child id, shown back to it

    # An officer sees the rule counts but never a child; another council sees nothing.
    with client_on(store_settings, store, follow_redirects=False) as officer:
        sign_in(officer, OFFICER)
        seen = officer.get(where).text
        assert _rows(seen, "rules") == rules
        assert "988635" not in seen
        assert "Only the council that sent the records sees each child" in seen
        assert officer.get(f"{where}/records").status_code == 403
    with client_on(store_settings, store, follow_redirects=False) as other:
        sign_in(other, OTHER_AGENCY)
        assert other.get(where).status_code == 404
        assert other.get(f"{where}/records").status_code == 404

    trail = web.get("/api/audit", headers={"X-API-Key": OFFICER}, params={"action": "records.read"}).json()["items"]
    assert any(e["object"] == f"record-level findings of submission {where.rsplit('/', 1)[1]}" for e in trail)


def test_the_page_says_at_once_the_files_were_received_and_follows_the_stage(
    web: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    sign_in(web, AGENCY)
    made = synthetic_903(5, 60, "2024-25", tmp_path / "903")
    received = records.receive(
        store,
        store_settings,
        RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[(p.name, p) for p in made]),
    )
    sid = received.submission.id
    assert sid is not None
    html = web.get(f"/submissions/{sid}").text
    assert "Your files were received" in html
    assert 'data-follow-stage="received"' in html
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in html
    assert 'src="/assets/app/follow-stage.js"' in html
    assert re.findall(r'data-step="(\w+)" data-state="(\w+)"', html) == [
        ("reading", "waiting"),
        ("dfe_rules", "waiting"),
        ("deriving", "waiting"),
        ("stored", "waiting"),
    ]

    with Session(store) as session:
        session.execute(update(Submission).where(col(Submission.id) == sid).values(stage="dfe_rules"))
        session.commit()
    html = web.get(f"/submissions/{sid}").text
    assert f"<title>Submission {sid}: checking them against dfe&#39;s rules" in html
    assert re.findall(r'data-step="(\w+)" data-state="(\w+)"', html) == [
        ("reading", "done"),
        ("dfe_rules", "doing"),
        ("deriving", "waiting"),
        ("stored", "waiting"),
    ]

    with Session(store) as session:
        session.execute(update(Submission).where(col(Submission.id) == sid).values(stage="received"))
        session.commit()
    process_records(store, store_settings, sid)
    html = web.get(f"/submissions/{sid}").text
    assert 'data-stage="stored"' in html, re.search(r'id="summary">(.*?)</dl>', html, re.S)
    assert "Records checked and figures stored" in html
    assert "data-follow-stage" not in html
    assert "follow-stage.js" not in html
    assert re.findall(r'data-step="(\w+)" data-state="(\w+)"', html) == [
        ("reading", "done"),
        ("dfe_rules", "done"),
        ("deriving", "done"),
        ("stored", "done"),
    ]


def test_the_records_form_says_what_is_missing(web: TestClient) -> None:
    csrf = sign_in(web, AGENCY)
    empty = web.post("/upload/records", data={"collection_year": "", "csrf_token": csrf})
    assert empty.status_code == 400, empty.text[:3000]
    assert 'href="#files"' in empty.text
    assert 'href="#collection_year"' in empty.text
    wrong = web.post(
        "/upload/records",
        data={"collection_year": "2024-26", "csrf_token": csrf},
        files=[("files", (TABLES_903[0].name, TABLES_903[0].read_bytes(), "text/csv"))],
    )
    assert wrong.status_code == 400
    assert "Enter the collection year as two years, for example 2024-25" in wrong.text
    assert 'value="2024-26"' in wrong.text
    listing = web.get("/api/submissions", headers={"X-API-Key": AGENCY}).json()
    assert not [s for s in listing["items"] if s["kind"] == "records"]


def test_the_records_form_needs_its_csrf_token(web: TestClient) -> None:
    sign_in(web, AGENCY)
    files = [("files", (TABLES_903[0].name, TABLES_903[0].read_bytes(), "text/csv"))]
    sent = web.post("/upload/records", data={"collection_year": "2024-25", "csrf_token": "forged"}, files=files)
    assert sent.status_code == 400
    assert "The form has expired" in sent.text


def test_an_officer_cannot_send_records_through_the_page(web: TestClient) -> None:
    csrf = sign_in(web, OFFICER)
    files = [("files", (TABLES_903[0].name, TABLES_903[0].read_bytes(), "text/csv"))]
    sent = web.post("/upload/records", data={"collection_year": "2024-25", "csrf_token": csrf}, files=files)
    assert sent.status_code == 400
    assert "Only a council sends its children&#39;s records through this page" in sent.text


PCT = "demo-lewisham-pct-6b1e04c9"


def test_the_records_form_is_offered_only_to_a_council_that_owes_a_childrens_return(
    web: TestClient, store: Engine, store_settings: Settings
) -> None:
    with client_on(store_settings, store, follow_redirects=False) as officer:
        sign_in(officer, OFFICER)
        html = officer.get("/upload").text
    assert 'action="/upload/records"' not in html
    assert re.search(r'id="records-refused">Only a council sends its children&#39;s records', html)
    csrf = sign_in(web, PCT)
    html = web.get("/upload").text
    assert 'action="/upload' in html  # the figures form stays
    assert 'action="/upload/records"' not in html
    assert (
        "owes none of the children in need census, DfE&#39;s children looked after return (SSDA903) or DfE&#39;s SEN2 survey"
        in html
    )
    # Reaching the form anyway is refused with the same reason, and nothing is kept.
    files = [("files", (TABLES_903[0].name, TABLES_903[0].read_bytes(), "text/csv"))]
    sent = web.post("/upload/records", data={"collection_year": "2024-25", "csrf_token": csrf}, files=files)
    assert sent.status_code == 400
    assert (
        "owes none of the children in need census, DfE&#39;s children looked after return (SSDA903) or DfE&#39;s SEN2 survey"
        in sent.text
    )
    assert 'href="#records-refused"' in sent.text
    assert 'id="records-refused"' in sent.text


def test_a_header_of_50000_extra_columns_gives_short_answers_everywhere(
    web: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    episodes = PASSING_903[0].parent / "episodes.csv"
    lines = episodes.read_text().splitlines()
    extra = [f"EXTRA_COLUMN_{i}" for i in range(50_000)]
    wide = tmp_path / "episodes.csv"
    wide.write_text(
        "\n".join([",".join([lines[0], *extra]), *(",".join([row, *[""] * len(extra)]) for row in lines[1:])])
    )
    csrf = sign_in(web, AGENCY)
    where = _send(web, csrf, [PASSING_903[0].parent / "header.csv", wide])
    page_html = web.get(where).text
    assert 'data-stage="rejected"' in page_html
    assert re.search(r"has EXTRA_COLUMN_\d+(, EXTRA_COLUMN_\d+){4} and 49,995 more besides", page_html)
    assert len(set(re.findall(r"EXTRA_COLUMN_\d+", page_html))) == 5
    assert len(page_html) < 60_000
    sid = where.rsplit("/", 1)[1]
    with client_on(store_settings, store) as api:
        one = api.get(f"/api/submissions/{sid}", headers={"X-API-Key": AGENCY})
        listing = api.get("/api/submissions", params={"limit": 5}, headers={"X-API-Key": AGENCY})
    assert one.status_code == listing.status_code == 200
    assert len(one.content) < 10_000
    assert len(listing.content) < 20_000


def test_a_sen2_files_page_names_its_own_checks_and_counts_the_queries_it_lists(web: TestClient) -> None:
    from tests.collectors.sen2.test_sen2_door import made_up
    from tests.collectors.sen2.test_sen2_tables import hand_worked

    csrf = sign_in(web, AGENCY)
    headers = {"X-API-Key": AGENCY}
    first = web.post("/api/submissions", headers=headers, data={"collection_year": "2024-25"},
                     files=[("files", ("sen2.xml", hand_worked(), "application/xml"))])  # fmt: skip
    assert first.status_code == 201, first.text
    # A smaller file after it: the figures worked out change by more than half, each change a query on a figure.
    sent = web.post("/upload/records", data={"collection_year": "2024-25", "csrf_token": csrf},
                    files=[("files", ("sen2.xml", made_up(), "application/xml"))])  # fmt: skip
    assert sent.status_code == 303, sent.text
    html = web.get(sent.headers["location"]).text
    assert "DfE&#39;s rules" not in html
    assert re.findall(r'data-step="(\w+)" data-state="(\w+)"', html) == [
        ("reading", "done"),
        ("checked", "done"),
        ("deriving", "done"),
        ("stored", "done"),
    ]
    assert "the SEN2 survey&#39;s schema and the service&#39;s rules" in html
    listed = re.search(r'id="notice-list">(.*?)</table>', html, re.S)
    assert listed, html
    queries = listed.group(1).count(">query<")
    assert queries > 0
    counted = re.search(r'id="counts">([^<]*)<', html)
    assert counted
    assert f"{queries} quer{'y' if queries == 1 else 'ies'}" in counted.group(1)


def test_a_refused_sen2_file_lists_its_problems_on_the_page(web: TestClient) -> None:
    from tests.collectors.sen2.test_sen2_tables import hand_worked

    csrf = sign_in(web, AGENCY)
    wrong = hand_worked().replace(b"<Sex>F</Sex>", b"<Sex>Q</Sex>", 1)
    sent = web.post("/upload/records", data={"collection_year": "2024-25", "csrf_token": csrf},
                    files=[("files", ("sen2.xml", wrong, "application/xml"))])  # fmt: skip
    assert sent.status_code == 400, sent.text[:2000]
    summary = re.search(r'govuk-error-summary__list">(.*?)</ul>', sent.text, re.S)
    assert summary, sent.text[:3000]
    items = re.findall(r'<a href="#files">([^<]*)</a>', summary.group(1))
    assert "nothing was kept" in items[0]
    # The problem by module, child and item, never the value sent.
    assert any("Module 1: person, child 2, Sex: not a code of the survey&#39;s list" in i for i in items[1:]), items
    assert ">Q<" not in sent.text
    assert 'action="/upload/records"' in sent.text
    listing = web.get("/api/submissions", headers={"X-API-Key": AGENCY}).json()
    assert not [s for s in listing["items"] if s["source_format"] == "sen2" and s["status"] != "accepted"]
