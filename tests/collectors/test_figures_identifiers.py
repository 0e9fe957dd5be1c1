"""A file of figures whose free text seems to hold a child's identifier (a UPN with its check letter, a ULN or NHS
number's ten digits, a full date beside a name) is refused whole: its report names row, column and kind, never the
value; nothing of it is stored and the file is not kept. Made-up values only."""

from __future__ import annotations

import io

import pytest
import xlsxwriter
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from collectors.figures.identifiers import BIRTH_DATE, ULN, UPN, kinds_in
from indicators.store.models import Observation
from onereturn.audittrail import AuditEvent
from onereturn.settings import Settings
from tests.helpers import kept_names, post_figures

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
#: A UPN whose check letter is right, from the valid examples of DfE's CIN census rule 1510's own test.
A_UPN = "A950000178301"
A_ULN = "4821930576"
NAMED = "Jane Doe 14/05/2012"


def test_each_kind_is_told_and_plain_notes_are_not() -> None:
    assert kinds_in(f"placed after review of {A_UPN}") == [UPN]
    assert kinds_in(f"ULN {A_ULN} moved") == [ULN]
    assert kinds_in(f"{NAMED} moved out") == [BIRTH_DATE]
    # A wrong check letter, nine or eleven digits, a date with no name, a name with no date: none of them.
    for plain in ("B950000178301", "482193057", "48219305761", "revised on 03/04/2024 after the audit",
                  "Two large sibling groups became children in need", "Figures to 31 March 2024 as agreed",
                  "0482193057"):  # fmt: skip
        assert kinds_in(plain) == [], plain


@pytest.mark.parametrize(("note", "kind"), [(A_UPN, UPN), (f"learner {A_ULN}", ULN), (NAMED, BIRTH_DATE)])
def test_a_figure_whose_note_names_a_child_is_refused_whole_and_not_kept(
    store_client: TestClient, store: Engine, store_settings: Settings, note: str, kind: str
) -> None:
    rows = f"cyp.cin_count,E10000024,2024-06-30,,512,,,,\ncyp.cpp_count,E10000024,2024-06-30,,301,,,,{note}\n"
    status, body = post_figures(store_client, NOTTS, rows)
    assert status == 422
    assert body["status"] == "rejected"
    assert [(p["row"], p["column"], p["rule"]) for p in body["problems"]] == [(3, "note", "child-identifier")]
    assert kind in body["problems"][0]["message"]
    for value in (A_UPN, A_ULN, "Jane", "14/05/2012"):
        assert value not in str(body)
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == 0
        audit = " ".join(f"{a.object} {a.detail}" for a in session.execute(select(AuditEvent)).scalars())
    for value in (A_UPN, A_ULN, "Jane"):
        assert value not in audit
    assert kept_names(store, store_settings, "uploads") == []


def test_a_column_not_read_is_looked_at_too(store_client: TestClient, store: Engine, store_settings: Settings) -> None:
    data = (
        "indicator,org,period,value,child\n"
        f"cyp.cin_count,E10000024,2024-06-30,512,{A_UPN}\n"
    ).encode()  # fmt: skip
    answer = store_client.post("/api/submissions", headers=NOTTS, files={"file": ("f.csv", data, "text/csv")})
    assert answer.status_code == 422
    assert [(p["row"], p["column"]) for p in answer.json()["problems"]] == [(2, "child")]
    assert A_UPN not in answer.text
    assert kept_names(store, store_settings, "uploads") == []


def test_a_plain_note_is_stored(store_client: TestClient, store: Engine) -> None:
    status, body = post_figures(
        store_client, NOTTS, "cyp.cin_count,E10000024,2024-06-30,,512,,,,revised on 03/04/2024 after the audit\n"
    )
    assert status == 201, body
    with Session(store) as session:
        (stored,) = session.execute(select(Observation)).scalars()
    assert stored.note == "revised on 03/04/2024 after the audit"


def test_a_workbook_with_a_sheet_of_children_beside_its_figures_is_refused_and_not_kept(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer) as book:
        figures = book.add_worksheet("Figures")
        for r, row in enumerate(
            (["indicator", "org", "period", "value"], ["cyp.cin_count", "E10000024", "2024-06-30", 512])
        ):
            figures.write_row(r, 0, row)
        children = book.add_worksheet("Children")
        children.write_row(0, 0, ["upn", "name", "born"])
        children.write_row(1, 0, [A_UPN, "Jane Doe", "14/05/2012"])
    answer = store_client.post(
        "/api/submissions", headers=NOTTS, files={"file": ("f.xlsx", buffer.getvalue(), "application/octet-stream")}
    )
    assert answer.status_code == 422, answer.text
    assert "sheet 2 row 2 column 1 seems to hold a UPN" in answer.text
    for value in (A_UPN, "Jane", "14/05/2012", "Children"):
        assert value not in answer.text
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(Observation)).scalar_one() == 0
    assert kept_names(store, store_settings, "uploads") == []
