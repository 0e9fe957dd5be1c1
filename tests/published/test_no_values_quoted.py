"""A file sent as a publisher's release that is not one (a council's SSDA903 table without its heading row, a JSON
document of another layout) is refused naming rows, columns and kinds of error only: no value of the file, and no
library's own error text, in the API's answer, the officer's page, the command line, the audit trail or the log."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from onereturn.audittrail import AuditEvent
from onereturn.settings import Settings
from tests.apps import client_on
from tests.web.pages import OFFICER as OFFICER_KEY
from tests.web.pages import sign_in

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
#: Made-up children: an SSDA903 header table's rows (child id, sex, birth date, UPN, ethnicity, council) with no
#: heading row.
HEADERLESS = b"900417,1,14/05/2012,A123456789012,WBRI,E08000021\n900418,2,02/03/2011,B987654321098,MWBC,E08000021\n"
VALUES = ("900417", "14/05/2012", "A123456789012", "WBRI", "900418", "B987654321098", "E08000021", "MWBC")
#: A JSON document whose first item is a made-up child's id, where an EES answer is an object.
LISTED = json.dumps(["A123456789012", {"results": "900417"}]).encode()
#: What a library says of its own that can quote what it read.
LIBRARY = ("list indices", "not str", "KeyError", "TypeError", "Traceback")
#: Each file, the sources it is sent as (EES's CSV, DHSC's Fingertips, NDTMS's ViewIt, EES's JSON answer).
CASES = {
    "header.csv": (
        HEADERLESS,
        ("ons_population_0_17", "fingertips_obesity_year6", "ndtms_viewit_adults_england", "dfe_cla_number"),
    ),
    "answer.json": (LISTED, ("dfe_care_leavers_accommodation", "ndtms_viewit_adults_england")),
}


def _clean(text: str) -> None:
    for value in (*VALUES, *LIBRARY):
        assert value not in text, value


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_route_and_the_page_quote_no_value_in_the_answer_audit_or_log(
    store: Engine, store_settings: Settings, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    data, sources = CASES[name]
    caplog.set_level(logging.DEBUG)
    with client_on(store_settings, store, follow_redirects=False) as client:
        answers = [
            client.post(f"/api/published/sources/{source}/releases", headers=OFFICER, files={"file": (name, data)})
            for source in sources
        ]
        token = sign_in(client, OFFICER_KEY)
        pages = [
            client.post(
                "/officer/published", data={"source": source, "csrf_token": token}, files={"file": (name, data)}
            )
            for source in sources
        ]
    for answer in [*answers, *pages]:
        assert answer.status_code == 422, answer.text[:500]
        _clean(answer.text)
    assert all(len(answer.text) < 2_000 for answer in answers)
    assert "the columns differ" in answers[0].text or "not as expected" in answers[0].text
    with Session(store) as session:
        audit = session.exec(select(AuditEvent)).all()
    refused = [a for a in audit if a.status == 422]
    assert len(refused) >= len(sources)
    for event in audit:
        _clean(f"{event.object} {event.detail}")
    _clean(caplog.text)


def test_the_command_line_quotes_no_value(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ONERETURN_DATABASE_URL"} | {"ONERETURN_DATA_DIR": str(tmp_path)}
    for name, (data, sources) in CASES.items():
        path = tmp_path / name
        path.write_bytes(data)
        done = subprocess.run(
            [sys.executable, "-c", "import cli; cli.main()", "published", "import", sources[0], str(path)],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=300,
        )
        assert done.returncode == 1, done.stderr[-2000:]
        assert "nothing was stored" in " ".join(done.stderr.split())
        _clean(done.stdout + done.stderr)
