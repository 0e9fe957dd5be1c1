"""The council's figures from its SEN2 file, stored as its own through the shared tail: each against the file of
eight made-up children worked by hand in test_sen2_tables.py (calendar year 2024, census 16 January 2025).

By hand: requests received in 2024 are children 1, 2, 5 (two), 6 and 7: 6 (the historical requests have no
received date). New plans started in 2024: children 1 and 2: 2. In force at the census: children 1, 2, 3, 4 and 8: 5
(child 6's plan ceased in June). Timed plans issued in 2024: child 1 (131 days, within 20 weeks, no exception) and
child 2 (211 days, exceptions apply): 2 issued, 1 within 20 weeks (50%); excluding exceptions 1 issued, 1 within
(100%).
"""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.sen2 import receiving
from collectors.sen2.figures import sen2_figures
from collectors.sen2.records import read_records
from collectors.sen2.schema import parse
from indicators.periods import parse_period
from indicators.store.models import Observation
from mappings.resolve import Resolver
from tests.collectors.sen2.test_sen2_tables import hand_worked

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
LEWISHAM = {"X-API-Key": "demo-lewisham-council-8d2e6a51"}
BY_HAND = {
    "send.ehcp_requests": (6, "CY2024"),
    "send.ehcp_new_plans": (2, "CY2024"),
    "send.ehcp_in_force": (5, "AY2024-25"),
    "send.ehcp_issued": (2, "CY2024"),
    "send.ehcp_issued_20_weeks": (1, "CY2024"),
    "send.ehcp_issued_ex": (1, "CY2024"),
    "send.ehcp_issued_20_weeks_ex": (1, "CY2024"),
}


def _send(client: TestClient, key: dict[str, str], lea: bytes = b"891") -> httpx.Response:
    """Upload the hand-worked SEN2 file for the 2024-25 collection with ``key``, its header naming council ``lea``."""
    data = hand_worked().replace(b"<LEA>891</LEA>", b"<LEA>" + lea + b"</LEA>")
    answer: httpx.Response = client.post(
        "/api/submissions",
        headers=key,
        data={"collection_year": "2024-25"},
        files=[("files", ("sen2.xml", data, "application/xml"))],
    )
    return answer


def test_each_figure_is_the_hand_worked_count() -> None:
    records = read_records(parse(hand_worked(), max_bytes=10**7), 2025)
    assert sen2_figures(records, 2025) == BY_HAND


def test_an_upload_stores_the_figures_as_the_councils_and_the_percentages_follow(
    store_client: TestClient, store: Engine
) -> None:
    sent = _send(store_client, NOTTS)
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["status"] == "accepted", body
    assert "7 figure(s) derived from it and stored as the council's" in body["message"]
    with Session(store) as session:
        stored = {
            (o.indicator_id, o.period): o.value
            for o in session.exec(
                select(Observation).where(
                    col(Observation.org_code) == "E10000024",
                    col(Observation.indicator_id).startswith("send."),
                    col(Observation.is_current),
                )
            )
        }
        assert stored == {(i, p): float(v) for i, (v, p) in BY_HAND.items()}
        resolver = Resolver(session, parse_period("CY2024", "calendar_year"))
        pct = resolver.resolve("send.ehcp_20_weeks_pct", ["E10000024"]).row(0, named=True)["value"]
        pct_ex = resolver.resolve("send.ehcp_20_weeks_ex_pct", ["E10000024"]).row(0, named=True)["value"]
    assert (pct, pct_ex) == (50.0, 100.0)
    # The tables still read the file, and the same file again repeats the upload, storing nothing twice.
    tables = store_client.get("/api/agencies/notts_cyp/sen2/2024-25/tables/requests.csv", headers=NOTTS)
    assert tables.status_code == 200, tables.text
    again = _send(store_client, NOTTS)
    assert again.status_code == 200, again.text


def test_a_council_not_the_source_of_the_figures_keeps_its_file_and_stores_none(
    store_client: TestClient, store: Engine
) -> None:
    sent = _send(store_client, LEWISHAM, b"209")
    assert sent.status_code == 201, sent.text
    assert sent.json()["status"] == "accepted"
    with Session(store) as session:
        held = session.exec(select(Observation).where(col(Observation.indicator_id).startswith("send."))).all()
    assert held == []


def test_the_figures_come_from_the_file_as_the_door_read_it(
    store_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The file is parsed once, at the door: its figures are not made by decrypting and reading the kept file again.
    parsed: list[int] = []
    door_parse = parse

    def counted(data: bytes, *, max_bytes: int) -> etree._ElementTree:
        parsed.append(len(data))
        return door_parse(data, max_bytes=max_bytes)

    monkeypatch.setattr(receiving, "parse", counted)
    sent = _send(store_client, NOTTS)
    assert sent.status_code == 201, sent.text
    assert "7 figure(s) derived from it and stored as the council's" in sent.json()["message"]
    assert len(parsed) == 1
