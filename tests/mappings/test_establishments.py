"""The register of establishments as GIAS publishes it: a file in GIAS's exact layout (the stored header, Windows-1252,
every field quoted) of hand-made establishments loads and says when GIAS published it; a closed school is answered for
by its successor; every wrong file is refused with its reason and leaves the register held as it was, on both stores;
the officer loads it through the API and the scheduled download takes it from a server on this machine."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from cli.synthetic.gias import establishment, gias_csv, links_csv
from mappings.establishments import register as held_register
from mappings.establishments.fetch import RegisterFetchFailed, fetch_register
from mappings.establishments.gias import RegisterRefused, gias_header, type_codes
from mappings.establishments.models import Establishment, EstablishmentLink
from mappings.establishments.register import by_ukprn, look_up
from mappings.establishments.service import load_register, register_held
from onereturn.errors import PayloadTooLarge
from onereturn.settings import Settings
from tests.published.local_api import serve

OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
NAME = "edubasealldata20250422.csv"
LINKS = "links_edubasealldata20250422.csv"


def register_file() -> bytes:
    """Six hand-made establishments: a community primary, a foundation special school that closed and became a
    special academy, that academy, an FE college with a UKPRN, a Welsh school, and one with an accented name."""
    rows = [
        establishment(100001, 1, **{"PhaseOfEducation (name)": "Primary"}),
        establishment(100002, 12, **{"EstablishmentStatus (name)": "Closed", "CloseDate": "31-08-2021"}),
        establishment(100003, 44, **{"PhaseOfEducation (name)": "Not applicable"}),
        establishment(100004, 18, UKPRN="10000001", **{"PhaseOfEducation (name)": "16 plus"}),
        establishment(100005, 30),
        establishment(100006, 34, EstablishmentName="École Made-up", **{"PhaseOfEducation (name)": "Secondary"}),
    ]
    return gias_csv(rows)


def links_file() -> bytes:
    """The closed special school's successor, and its predecessor link back, as GIAS's links file gives both."""
    return links_csv([(100002, 100003, "Successor", "01-09-2021"), (100003, 100002, "Predecessor", "01-09-2021")])


def _counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        return (
            session.execute(select(func.count()).select_from(Establishment)).scalar_one(),
            session.execute(select(func.count()).select_from(EstablishmentLink)).scalar_one(),
        )


def test_the_file_is_gias_layout() -> None:
    data = register_file()
    header = data.decode("cp1252").split("\r\n", 1)[0]
    assert header == ",".join(f'"{c}"' for c in gias_header())
    assert len(gias_header()) == 140
    assert "École".encode("cp1252") in data
    assert len(type_codes()) == 39


def test_a_register_loads_and_says_when_gias_published_it(store: Engine) -> None:
    settings = Settings()
    held = load_register(store, settings, register_file(), NAME, links=links_file(), links_name=LINKS, by="test")
    assert (held.published, held.establishments, held.links) == (date(2025, 4, 22), 6, 2)
    assert held.words().startswith("6 establishments published by GIAS on 2025-04-22")
    assert register_held(store) == held
    with Session(store) as session:
        found = look_up(session, [100001, 100002, 100006, 999999], date(2025, 1, 16))
        assert found[100001].type_code == 1
        assert found[100001].phase == "Primary"
        assert not found[100001].followed
        # Closed in 2021: answered for by the special academy that succeeded it.
        assert (found[100002].urn, found[100002].type_code, found[100002].followed) == (100003, 44, True)
        # Before it closed it answers for itself.
        assert look_up(session, [100002], date(2021, 1, 1))[100002].type_code == 12
        assert 999999 not in found
        assert session.get(Establishment, 100006).name == "École Made-up"  # type: ignore[union-attr]
        assert by_ukprn(session, ["10000001", "10009999"])["10000001"].urn == 100004


def _cut_after_a_field(data: bytes) -> bytes:
    """The file cut short just after a field of its last row closes, as a download that stopped there is."""
    return data[: data.rfind(b'","', 0, len(data) - 400) + 1]


BAD = {
    "not GIAS's layout": (b'"URN","Name"\r\n"1","x"\r\n', "not GIAS's layout"),
    "empty": (b"", "is empty"),
    "a header and no rows": (gias_csv([]), "a header and no rows"),
    "a URN twice": (gias_csv([establishment(100001, 1), establishment(100001, 2)]), "URN 100001 given more than once"),
    "an unknown type code": (gias_csv([establishment(100001, 1), {**establishment(100002, 1), "TypeOfEstablishment (code)": 99}]),
                             "type of establishment code 99 is not on GIAS's list of 39"),
    "cut between fields": (_cut_after_a_field(register_file()), "end before column"),
    "cut inside a field": (register_file()[:-3], "a quote left open"),
    "a URN that is no number": (gias_csv([{**establishment(100001, 1), "URN": "1O0001"}]), "URN is not a whole number"),
    "a close date not GIAS's": (gias_csv([establishment(100001, 1, CloseDate="2021-08-31")]), "dd-mm-yyyy"),
    "neither Windows-1252 nor UTF-8": (gias_csv([establishment(100001, 1)]) + b"\x81\xff", "neither Windows-1252"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_each_wrong_register_is_refused_and_the_held_one_kept(store: Engine, case: str) -> None:
    settings = Settings()
    before = load_register(store, settings, register_file(), NAME, links=links_file(), links_name=LINKS, by="test")
    data, reason = BAD[case]
    with pytest.raises(RegisterRefused) as refused:
        load_register(store, settings, data, "edubasealldata20250501.csv", by="test")
    assert reason in refused.value.message
    assert "nothing was stored" in refused.value.message
    assert register_held(store) == before
    assert _counts(store) == (6, 2)


def test_a_register_over_the_limit_is_refused_before_it_is_read(store: Engine, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.commands import app

    settings = Settings(establishments_max_bytes=2_000)
    before = load_register(store, Settings(), register_file(), NAME, by="test")
    with pytest.raises(PayloadTooLarge, match="over the register's limit of 2,000"):
        load_register(store, settings, register_file(), "edubasealldata20250501.csv", by="test")
    assert register_held(store) == before
    # 200 MB on the command line: refused by its size, before a byte of it is read (a sparse file, nothing written).
    big = tmp_path / "edubasealldata20250501.csv"
    with big.open("wb") as f:
        f.truncate(200 * 1024 * 1024)
    answer = CliRunner().invoke(app, ["establishments", "load", str(big)])
    assert answer.exit_code == 1
    assert isinstance(answer.exception, PayloadTooLarge)
    assert "209,715,200 bytes, over the register's limit" in answer.exception.message


def test_a_load_that_fails_while_storing_leaves_the_register_as_it_was(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings()
    before = load_register(store, settings, register_file(), NAME, links=links_file(), links_name=LINKS, by="test")
    real, calls = held_register._batches, []

    def failing(rows: list[dict[str, object]]) -> object:
        calls.append(len(rows))
        if len(calls) == 2:  # the links, once the establishments are replaced in the same transaction
            raise OSError("the store went away")
        return real(rows)

    monkeypatch.setattr(held_register, "_batches", failing)
    with pytest.raises(OSError, match="the store went away"):
        load_register(store, settings, gias_csv([establishment(1, 1)]), "edubasealldata20250501.csv",
                      links=links_file(), links_name="links.csv", by="test")  # fmt: skip
    assert calls == [1, 2]
    assert register_held(store) == before
    assert _counts(store) == (6, 2)


def test_the_officer_loads_the_register_through_the_api(store_client: TestClient) -> None:
    assert store_client.get("/api/establishments", headers=NOTTS).json()["held"] is False
    files = {"file": (NAME, register_file(), "text/csv"), "links": (LINKS, links_file(), "text/csv")}
    assert store_client.post("/api/establishments", headers=NOTTS, files=files).status_code == 403
    answer = store_client.post("/api/establishments", headers=OFFICER, files=files)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["published"], answer.json()["establishments"], answer.json()["links"]) == ("2025-04-22", 6, 2)
    wrong = store_client.post(
        "/api/establishments", headers=OFFICER, files={"file": ("x.csv", BAD["an unknown type code"][0], "text/csv")}
    )
    assert wrong.status_code == 422
    assert "not on GIAS's list" in wrong.json()["error"]
    assert store_client.get("/api/establishments", headers=NOTTS).json()["file_name"] == NAME


def test_the_scheduled_download_takes_gias_newest_files_from_a_server(store: Engine) -> None:
    asked: list[str] = []

    def gias(path: str, _query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        asked.append(path)
        files = {f"/public/{NAME}": register_file(), f"/public/{LINKS}": links_file()}
        return (200, "text/csv", files[path]) if path in files else (404, "text/plain", b"Not found")

    with serve(gias) as base:
        settings = Settings(establishments_url=f"{base}/public/")
        outcome = fetch_register(store, settings, today=date(2025, 4, 24))
        assert outcome.loaded
        assert outcome.held is not None
        assert outcome.held.published == date(2025, 4, 22)
        assert asked == ["/public/edubasealldata20250424.csv", "/public/edubasealldata20250423.csv",
                         f"/public/{NAME}", f"/public/{LINKS}"]  # fmt: skip
        # The same day again: the register held is GIAS's newest, nothing is downloaded.
        asked.clear()
        again = fetch_register(store, settings, today=date(2025, 4, 23))
        assert not again.loaded
        assert asked == ["/public/edubasealldata20250423.csv"]
        with pytest.raises(RegisterFetchFailed, match=r"no edubasealldataYYYYMMDD\.csv for any of the 7 days"):
            fetch_register(store, settings, today=date(2025, 6, 1))
    assert _counts(store) == (6, 2)


def test_a_register_loaded_without_its_links_file_has_no_links(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The previous register's links go with it: a successor it named may not be on the new register at all."""
    from typer.testing import CliRunner

    from cli.commands import app

    settings = Settings()
    load_register(store, settings, register_file(), NAME, links=links_file(), links_name=LINKS, by="test")
    assert _counts(store) == (6, 2)
    (tmp_path / NAME).write_bytes(register_file())
    monkeypatch.setattr("cli.shared.ready_engine", lambda: store)
    answer = CliRunner().invoke(app, ["establishments", "load", str(tmp_path / NAME)])
    assert answer.exit_code == 0, answer.output
    words = " ".join(answer.output.split())
    assert "with no links (no links file was loaded with it: no successor is followed)" in words
    assert "The previous register's 2 links (links_edubasealldata20250422.csv) were removed with it" in words
    assert _counts(store) == (6, 0)
    held = register_held(store)
    assert held is not None
    assert (held.links, held.links_file_name) == (0, "")
    with Session(store) as session:
        # Closed in 2021 and no link to follow now: the closed school answers for itself.
        assert look_up(session, [100002], date(2025, 1, 16))[100002].followed is False


def _changed_on(*days: str) -> bytes:
    """The hand-made register with each row's LastChangedDate (dd-mm-yyyy) as given, in turn."""
    rows = [establishment(100001 + n, 1, LastChangedDate=day) for n, day in enumerate(days)]
    return gias_csv(rows)


def test_the_publication_date_is_checked_against_the_file_and_the_calendar(store: Engine) -> None:
    settings = Settings()
    before = load_register(store, settings, register_file(), NAME, links=links_file(), links_name=LINKS, by="test")
    wrong = {
        "edubasealldata20991231.csv": (register_file(), "its name dates it 2099-12-31, a day still to come"),
        "register.csv": (_changed_on("01-04-2025", "31-12-2099"), "its newest LastChangedDate is 2099-12-31"),
        "edubasealldata20250101.csv": (
            _changed_on("20-03-2025", "01-04-2025"),
            "its name dates it 2025-01-01, before the newest change it holds (LastChangedDate 2025-04-01)",
        ),
    }
    for name, (data, reason) in wrong.items():
        with pytest.raises(RegisterRefused) as refused:
            load_register(store, settings, data, name, by="test")
        assert reason in refused.value.message
        assert refused.value.message.endswith("nothing was stored")
    assert register_held(store) == before
    assert _counts(store) == (6, 2)
    # No date in its name: the newest change it holds dates it (a value not dd-mm-yyyy is not read for it).
    held = load_register(store, settings, _changed_on("20-03-2025", "2025-04-30", "01-04-2025", ""), "gias.csv", by="t")
    assert held.published == date(2025, 4, 1)
    # Named for the day after its newest change, as GIAS's daily extract is: the name's date stands.
    named = load_register(store, settings, _changed_on("20-03-2025"), "edubasealldata20250321.csv", by="test")
    assert named.published == date(2025, 3, 21)


def _saved_by_a_spreadsheet(data: bytes) -> bytes:
    """The file opened and saved again as CSV by a spreadsheet: fields quoted only where needed, UTF-8 with a BOM."""
    rows = list(csv.reader(io.StringIO(data.decode("cp1252"), newline="")))
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def test_a_register_saved_again_by_a_spreadsheet_loads_and_one_cut_short_does_not(store: Engine) -> None:
    settings = Settings()
    saved = _saved_by_a_spreadsheet(register_file())
    assert b'"' not in saved.split(b"\r\n", 2)[1]  # a row of it with no field quoted
    held = load_register(store, settings, saved, NAME, links=_saved_by_a_spreadsheet(links_file()), links_name=LINKS,
                         by="test")  # fmt: skip
    assert (held.establishments, held.links) == (6, 2)
    with Session(store) as session:
        accented = session.get(Establishment, 100006)
        assert accented is not None
        assert (accented.name, accented.ukprn, accented.close_date) == ("École Made-up", None, None)
        assert by_ukprn(session, ["10000001"])["10000001"].urn == 100004
        assert look_up(session, [100002], date(2025, 1, 16))[100002].urn == 100003
    # Cut short between two fields of its last row, as a download that stopped there is: refused, the register kept.
    cut = saved[: saved.rfind(b",", 0, len(saved) - 200)]
    with pytest.raises(RegisterRefused, match=r"row\(s\) 7 end before column 'AccreditationExpiryDate'"):
        load_register(store, settings, cut, "edubasealldata20250501.csv", by="test")
    assert register_held(store) == held
