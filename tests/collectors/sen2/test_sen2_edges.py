"""The SEN2 door at its edges: dates and years the service does not handle, another council's file, a file sent
again after a later one or several times at once, a large change in its figures, and what an accepted upload says."""

from __future__ import annotations

import logging
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from cli.synthetic.sen2 import synthetic_sen2
from collectors import ways_in
from collectors.records.receiving import Received
from collectors.sen2.receiving import kept_sen2
from indicators.store.models import HeldFigure, Submission
from onereturn.settings import Settings
from tests.collectors.records.samples import FIXTURES
from tests.collectors.sen2.builder import person, sen2_xml
from tests.collectors.sen2.test_sen2_door import made_up
from tests.helpers import NOTTS, kept_names

LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}


def _post(client: TestClient, data: bytes, key: dict[str, str] = NOTTS, name: str = "sen2.xml") -> Any:
    return client.post("/api/submissions", headers=key, data={"collection_year": "2024-25"},
                       files=[("files", (name, data, "application/xml"))])  # fmt: skip


def _count(store: Engine) -> int:
    with Session(store) as session:
        return int(session.execute(select(func.count()).select_from(Submission)).scalar_one())


# ---- dates and years the service does not handle ------------------------------------------------------------------

_BORN = b"<PersonBirthDate>2015-05-01</PersonBirthDate>"
OUT_OF_BOUNDS = {
    "a year in superscript digits": (b"<Year>2025</Year>", "<Year>²⁰²⁵</Year>".encode(), ["Header", "Year"]),
    "a year of 5,000 digits": (b"<Year>2025</Year>", b"<Year>" + b"9" * 5000 + b"</Year>", ["Header", "Year"]),
    "born in the year 10000": (_BORN, b"<PersonBirthDate>10000-01-01</PersonBirthDate>",
                               ["Module 1: person", "child 1", "PersonBirthDate"]),
    "born before the year 1": (_BORN, b"<PersonBirthDate>-2016-09-16</PersonBirthDate>",
                               ["Module 1: person", "child 1", "PersonBirthDate"]),
    "born in 1899": (_BORN, b"<PersonBirthDate>1899-12-31</PersonBirthDate>",
                     ["Module 1: person", "child 1", "PersonBirthDate"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(OUT_OF_BOUNDS))
def test_a_date_or_year_outside_what_the_service_handles_is_refused_at_the_door_by_module_child_and_item(
    store_client: TestClient, store: Engine, store_settings: Settings, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    was, now, loc = OUT_OF_BOUNDS[case]
    data = made_up().replace(was, now)
    assert data != made_up()
    caplog.set_level(logging.DEBUG)
    answer = _post(store_client, data)
    assert answer.status_code == 422, answer.text
    assert loc in [e["loc"] for e in answer.json()["errors"]], answer.text
    # The value is in no answer and no line of the log; nothing was kept.
    written = now.decode()[now.index(b">") + 1 : now.index(b"</")]
    for shown in (answer.text, caplog.text):
        assert written[:9] not in shown
    assert (_count(store), kept_names(store, store_settings, "records")) == (0, [])


def test_a_file_kept_before_the_door_held_its_dates_is_read_without_error(
    store_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file an earlier release kept with a date out of bounds: its tables, List 1 and checks still answer, the date
    read as unknown (List 1's rules name the missing birth date)."""
    from collectors.sen2 import receiving

    monkeypatch.setattr(receiving, "bounds_problems", lambda *_args: [])
    data = made_up().replace(_BORN, b"<PersonBirthDate>-2016-09-16</PersonBirthDate>")
    data = data.replace(b"<ReferenceDate>2025-01-16</ReferenceDate>", b"<ReferenceDate>10000-01-16</ReferenceDate>")
    assert _post(store_client, data).status_code == 201
    for address in (
        "/api/agencies/notts_cyp/sen2/2024-25/tables/caseload.csv",
        "/api/agencies/notts_cyp/sen2/2024-25/tables/requests.csv",
        "/api/agencies/notts_cyp/annex-a-send?inspection_date=2025-03-31",
        "/api/agencies/notts_cyp/annex-a-send.xlsx?inspection_date=2025-03-31",
        "/api/agencies/notts_cyp/sen2/2024-25/cross-checks",
    ):
        answer = store_client.get(address, headers=NOTTS)
        assert answer.status_code == 200, (address, answer.text)
    rows = store_client.get("/api/agencies/notts_cyp/annex-a-send?inspection_date=2025-03-31", headers=NOTTS).json()
    assert "d2i:101a" in {f["rule"] for f in rows["findings"]}


# ---- another council's file ---------------------------------------------------------------------------------------


def test_a_file_whose_header_names_another_council_is_refused_with_nothing_kept(
    store_client: TestClient, store: Engine, store_settings: Settings
) -> None:
    lewishams = made_up().replace(b"<LEA>891</LEA>", b"<LEA>209</LEA>")
    answer = _post(store_client, lewishams)
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["Header", "LEA"]
    assert "209" not in answer.text
    census = (FIXTURES / "cin" / "cin_passing.xml").read_bytes().replace(b"<LEA>891</LEA>", b"<LEA>209</LEA>")
    answer = _post(store_client, census, name="census.xml")
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["loc"] == ["Header", "LEA"]
    assert (_count(store), kept_names(store, store_settings, "records")) == (0, [])
    # Lewisham's own file, sent by Lewisham, is taken.
    assert _post(store_client, lewishams, LEWISHAM).status_code == 201


# ---- sent again, and at once --------------------------------------------------------------------------------------


def test_an_earlier_file_sent_again_after_a_later_one_is_put_back_in_force(store_client: TestClient) -> None:
    """Lewisham stores no figure from its SEN2 file, so no later upload stores one: the later file in force is what
    makes the earlier one sent again a new upload."""
    lewisham = b"<LEA>209</LEA>"
    earlier = made_up().replace(b"<LEA>891</LEA>", lewisham)
    later = sen2_xml([person("C123456789012", date(2014, 1, 2))], lea="209")
    first = _post(store_client, earlier, LEWISHAM).json()["id"]
    assert _post(store_client, later, LEWISHAM).status_code == 201
    again = _post(store_client, earlier, LEWISHAM)
    assert again.status_code == 201, again.text
    assert again.json()["id"] > first
    with Session(store_client.app.state.engine) as session:  # type: ignore[attr-defined]
        newest = kept_sen2(session, "lewisham_council", "2024-25")
    assert newest is not None
    assert newest.id == again.json()["id"]
    # While it is the one in force, sending it once more repeats it.
    assert _post(store_client, earlier, LEWISHAM).status_code == 200


def test_one_file_sent_three_times_at_once_is_one_upload(store: Engine, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    sen2, census = tmp_path / "sen2.xml", tmp_path / "census.xml"
    sen2.write_bytes(made_up())
    census.write_bytes((FIXTURES / "cin" / "cin_passing.xml").read_bytes())
    for path in (sen2, census):
        start = threading.Barrier(3)
        got: list[Received] = []

        def send(path: Path = path, start: threading.Barrier = start, got: list[Received] = got) -> None:
            request = ways_in.RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[(path.name, path)])
            start.wait()
            received = ways_in.take(store, settings, request)
            assert isinstance(received, Received)
            got.append(received)

        threads = [threading.Thread(target=send) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len({r.submission.id for r in got}) == 1, path.name
        assert sorted(r.duplicate for r in got) == [False, True, True]
    assert _count(store) == 2


# ---- its figures and its counts -----------------------------------------------------------------------------------


def test_a_large_change_in_its_figures_waits_for_the_councils_note(store_client: TestClient, tmp_path: Path) -> None:
    many = synthetic_sen2(7, 120, 2025, tmp_path / "many").read_bytes()
    few = synthetic_sen2(7, 12, 2025, tmp_path / "few").read_bytes()
    assert _post(store_client, many).json()["status"] == "accepted"
    sent = _post(store_client, few)
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["status"] == "queried", body
    assert "held by a query until the council explains it with a note" in body["message"]
    assert body["query_count"] == body["queries_open"] > 0
    queried = store_client.get(f"/api/submissions/{body['id']}/queries", headers=NOTTS).json()["items"]
    in_force = next(q for q in queried if q["indicator"] == "send.ehcp_in_force")
    answered = store_client.post(
        f"/api/submissions/{body['id']}/queries/{in_force['id']}", headers=NOTTS, json={"note": "a new system"}
    )
    assert answered.status_code == 200, answered.text
    with Session(store_client.app.state.engine) as session:  # type: ignore[attr-defined]
        held = session.exec(select(HeldFigure).where(col(HeldFigure.id) == in_force["id"])).one()
        sub = session.get(Submission, body["id"])
    assert (held.state, held.note) == ("answered", "a new system")
    assert sub is not None
    assert (sub.rows_read, sub.rows_accepted) == (12, 12)


@pytest.mark.parametrize("key", ["notts", "lewisham"])
def test_an_accepted_upload_counts_its_children_and_says_when_it_finished(store_client: TestClient, key: str) -> None:
    people = [person(f"D1234567890{n:02d}", date(2012, 1, 1)) for n in range(30)]
    lea, headers = ("891", NOTTS) if key == "notts" else ("209", LEWISHAM)
    body = _post(store_client, sen2_xml(people, lea=lea), headers).json()
    assert body["status"] == "accepted", body
    assert (body["rows_read"], body["rows_accepted"]) == (30, 30)
    assert body["finished_at"] is not None
