"""Every kind of child-level file, sent by every field and page a file comes in by, kept nowhere in plain: a SEN2
survey, a CIN census, the SSDA903 tables, an SSD extract and Annex A's columns, in the encodings XML allows and in a
ZIP (deflated or stored), to the upload's ``file`` and ``files`` fields, the upload pages, the publisher's upload,
Annex A's columns and the command line's way. Each is refused at the door naming what each way takes, with nothing
kept, or kept sealed; afterwards no child's value is in the data folder or any table of the store, and the purge
leaves no kept file behind."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors import ways_in
from collectors.retention import purge
from indicators.store.models import Submission
from onereturn.errors import InvalidInput
from onereturn.settings import Settings
from tests.apps import client_on
from tests.collectors.records.samples import FIXTURES, PASSING, every_text
from tests.collectors.sen2.test_sen2_door import made_up
from tests.collectors.ssd.ssd_samples import EPISODES
from tests.helpers import NOTTS, OFFICER, kept_names
from tests.web.pages import sign_in

#: Values of the children in the files below: none may be found in plain anywhere once they are sent.
CHILDREN = ("A123456789012", "Madeup", "NC300501", "C100201", "Zorbalinda", "ZORB0001")
PERSON = (
    "pers_person_id,pers_sex,pers_dob,pers_ethnicity,pers_upn_unknown,pers_forename\n"
    "C1,F,2015-06-01,WBRI,UN1,Zorbalinda\nC2,M,2012-02-03,BAFR,UN2,Zorbalinda\n"
)


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def child_files() -> dict[str, tuple[str, bytes]]:
    """Each child-level file by what it is: its name and bytes."""
    sen2, cin = made_up(), (FIXTURES / "cin" / "cin_passing.xml").read_bytes()
    declared = '<?xml version="1.0" encoding="UTF-16"?>' + sen2.decode()
    return {
        "SEN2": ("sen2.xml", sen2),
        "SEN2 in UTF-8 with its mark": ("sen2.xml", b"\xef\xbb\xbf" + sen2),
        "SEN2 in UTF-16": ("sen2.xml", sen2.decode().encode("utf-16")),
        "SEN2 in UTF-16 without a mark": ("sen2.xml", sen2.decode().encode("utf-16-le")),
        "SEN2 in UTF-16BE declared, without a mark": ("sen2.xml", declared.encode("utf-16-be")),
        "SEN2 in a deflated ZIP": ("sen2.zip", _zip({"sen2.xml": sen2})),
        "SEN2 in a stored ZIP": ("sen2.zip", _zip({"sen2.xml": sen2}, zipfile.ZIP_STORED)),
        "CIN census": ("census.xml", cin),
        "CIN census in UTF-16": ("census.xml", cin.decode().encode("utf-16")),
        "SSDA903 table": ("header.csv", PASSING[1].read_bytes()),
        "SSDA903 tables in a ZIP": ("903.zip", _zip({p.name: p.read_bytes() for p in PASSING})),
        "SSD extract": (
            "ssd.zip",
            _zip({"ssd_person.csv": PERSON.encode(), "ssd_cin_episodes.csv": EPISODES.encode()}),
        ),
        "Annex A's columns": ("columns.csv", b"Child Unique ID\nZORB0001\n"),
    }


def _no_plain_copy(store: Engine, settings: Settings) -> None:
    """No child's value, in the encodings its file came in, in any file of the data folder or text of the store."""
    forms = [
        value.encode(encoding) for value in CHILDREN for encoding in ("utf-8", "utf-16-le", "utf-16-be")
    ]  # fmt: skip
    for path in settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not [f for f in forms if f in data], path
    texts = "\n".join(every_text(store))
    assert not [f for f in forms if f.decode("latin-1") in texts]


def test_every_child_file_by_every_way_is_refused_or_sealed_and_none_is_kept_in_plain(
    store_client: TestClient, store: Engine, store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import api.uploading

    # DfE's rules are not what is tried here: a record-level upload is kept (or refused) at the door, and left.
    monkeypatch.setattr(api.uploading, "_start_records", lambda *_args: None)
    files = child_files()
    refused = {"SEN2 in a deflated ZIP", "SEN2 in a stored ZIP", "Annex A's columns"}
    for what, (name, data) in files.items():
        # A file of figures' field, with no collection year: each refused, naming the way it goes by.
        answer = store_client.post("/api/submissions", headers=NOTTS, files=[("file", (name, data, "text/plain"))])
        assert answer.status_code == 422, (what, answer.text)
        assert "nothing was kept" in answer.text
        assert "record-level address" in answer.text
        # The record-level field: kept sealed, or refused naming what the file was recognised as.
        form = {"collection_year": "2024-25"}
        answer = store_client.post("/api/submissions", headers=NOTTS, data=form, files=[("files", (name, data, "x"))])
        assert answer.status_code == (422 if what in refused else 201 if what.startswith("SEN2") else 202), (
            what,
            answer.text,
        )
        # The same file in the form field ``file`` with a collection year: the record-level way.
        answer = store_client.post("/api/submissions", headers=NOTTS, data=form, files=[("file", (name, data, "x"))])
        assert answer.status_code in (200, 422), (what, answer.text)
        # A publisher's upload (an officer's) and Annex A's columns: refused, nothing kept (the columns file kept
        # sealed, as its way keeps it).
        answer = store_client.post(
            "/api/published/sources/dfe_ehcp_requests/releases", headers=OFFICER, files={"file": (name, data)}
        )
        assert answer.status_code == 422, (what, answer.text)
        answer = store_client.post(
            "/api/agencies/notts_cyp/annex-a/columns", headers=NOTTS, files={"file": (name, data, "text/csv")}
        )
        assert answer.status_code == (200 if what == "Annex A's columns" else 422), (what, answer.text)
        # The command line's upload of a file of figures goes through the same table of ways.
        with pytest.raises(InvalidInput, match="not a file of figures"):
            ways_in.take(store, store_settings, ways_in.FiguresSent(agency_code="notts_cyp", filename=name, data=data))
    # The pages: the upload page of figures and of records, each as the council's own key signed in.
    with client_on(store_settings, store, follow_redirects=False) as browser:
        token = sign_in(browser, NOTTS["X-API-Key"])
        for name, data in files.values():
            page = browser.post(
                "/upload", data={"mode": "default", "csrf_token": token}, files=[("file", (name, data, "x"))]
            )
            assert "nothing was kept" in page.text, page.text
            browser.post(
                "/upload/records",
                data={"collection_year": "2025-26", "csrf_token": token},
                files=[("files", (name, data, "text/plain"))],
            )
    _no_plain_copy(store, store_settings)
    assert kept_names(store, store_settings, "uploads") == []
    assert kept_names(store, store_settings, "records")
    # The purge reaches every kept file of an upload finished: none is left but those DfE's rules have still to read.
    later = datetime.now(UTC) + timedelta(days=store_settings.records_retention_days + 1)
    purge(store, store_settings, now=later)
    with Session(store) as session:
        waiting = session.exec(select(Submission.raw_path).where(col(Submission.status) == "received")).all()
    assert kept_names(store, store_settings, "records") == sorted(set(waiting))


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ([("a.xml", b"")], "'a.xml' is empty"),
        ([("a.csv", b"x,y\n1,2\n")], "'a.csv' is a file of no return"),
        ([("a.xml", made_up()), ("b.xml", made_up())], "2 files were sent together"),
        ([("a.xml", made_up()), ("h.csv", PASSING[1].read_bytes())], "which is sent alone"),
        ([("s.zip", _zip({"s.xml": made_up()}))], "send the SEN2 XML itself"),
    ],
    ids=["empty", "of no return", "two SEN2", "SEN2 and a table", "SEN2 in a ZIP"],
)
def test_the_record_level_address_refuses_at_the_door_what_no_way_takes(
    store_client: TestClient,
    store: Engine,
    store_settings: Settings,
    files: list[tuple[str, bytes]],
    said: str,
) -> None:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    answer = store_client.post("/api/submissions", headers=NOTTS, data={"collection_year": "2024-25"}, files=parts)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert said in body["error"]
    assert "takes one SEN2 survey XML" in body["error"]
    assert [e["loc"] for e in body["errors"]] == [["files", name] for name, _ in files]
    assert store_client.get("/api/submissions", headers=NOTTS).json()["total"] == 0
    assert kept_names(store, store_settings, "records") == []
