"""Children's records at the door of POST /api/submissions: only a body that owes children's returns sends them, a
file no return is is refused 422 before anything is kept, lists in answers name five and count the rest, a repeat
is answered 200; and the words a refused key is told. Runs on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from collectors.ssd.models import CscPayloadExtract
from indicators.store.models import Submission
from onereturn.settings import Settings
from tests.collectors.records.samples import upload
from tests.collectors.ssd.ssd_samples import EPISODES, PERSON, extract_zip, good

COUNTY = {"X-API-Key": "demo-synthetic-county-8e3d5a17c4"}
DAP = {"X-API-Key": "demo-barnet-dap-f3449fec89"}
PCT = {"X-API-Key": "demo-lewisham-pct-6b1e04c9"}
OFFICER = {"X-API-Key": "demo-officer-5e0b9c2a4f"}
DFE = {"X-API-Key": "demo-regulator-dfe-7a3c18e2"}
CSV_HEADER = b"CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n1,1,01/01/2015,WBRI,UN1,,\n"


def _kept(store: Engine, settings: Settings) -> tuple[int, int, list[Path]]:
    """What the store holds of uploads: submissions, payload extracts and sealed files beside it."""
    with Session(store) as session:
        subs = len(session.exec(select(Submission)).all())
        payloads = len(session.exec(select(CscPayloadExtract)).all())
    return subs, payloads, sorted(settings.data_dir.glob("**/*.fernet"))


def _zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(("headers", "agency"), [(DAP, None), (PCT, None), (OFFICER, "barnet_dap")])
def test_a_body_that_owes_no_childrens_return_is_refused_at_the_door_with_nothing_kept(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path,
    headers: dict[str, str], agency: str | None,
) -> None:  # fmt: skip
    before = _kept(store, store_settings)
    extract = good(tmp_path)
    header = tmp_path / "header.csv"
    header.write_bytes(CSV_HEADER)
    for paths in ([extract], [header]):
        files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
        data = {"collection_year": "2024-25", **({"agency": agency} if agency else {})}
        answer = store_client.post("/api/submissions", headers=headers, data=data, files=files)
        assert answer.status_code == 403, answer.text
        assert (
            "owes none of the children in need census, DfE's children looked after return (SSDA903) or DfE's SEN2 survey"
            in (answer.json()["error"])
        )
    assert _kept(store, store_settings) == before


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("empty.zip", _zip_of({}), "'empty.zip' is an empty ZIP"),
        ("tables.zip", b"CHILD,SEX\n1,1\n", "tables.zip is not a ZIP"),
        ("tables.pdf", b"%PDF-1.4 not a return", "'tables.pdf' is a file of no return"),
        (
            "nested.zip",
            _zip_of({"inner.zip": _zip_of({"header.csv": CSV_HEADER})}),
            "a ZIP holding a file of no return",
        ),
    ],
    ids=["empty-zip", "not-a-zip", "not-a-return", "zip-of-a-zip"],
)
def test_a_file_no_return_is_is_refused_422_before_anything_is_kept(
    store_client: TestClient, store: Engine, store_settings: Settings, name: str, data: bytes, said: str
) -> None:
    before = _kept(store, store_settings)
    files = [("files", (name, data, "application/octet-stream"))]
    answer = store_client.post("/api/submissions", headers=COUNTY, data={"collection_year": "2024-25"}, files=files)
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["error"]
    assert _kept(store, store_settings) == before


def test_an_extract_with_100000_extra_headings_is_answered_in_a_few_lines(
    store_client: TestClient, tmp_path: Path
) -> None:
    extra = [f"local_column_{n}" for n in range(100_000)]
    # The heading without pers_forename: whether the SSD's schema has it is not this test's question.
    lines = [line.rsplit(",", 1)[0] for line in PERSON.splitlines()]
    person = "\n".join(f"{line},{','.join(extra if i == 0 else [''] * len(extra))}" for i, line in enumerate(lines))
    path = extract_zip(tmp_path / "ssd.zip", {"ssd_person.csv": person + "\n", "ssd_cin_episodes.csv": EPISODES})
    answer = upload(store_client, [path], headers=COUNTY)
    assert answer.status_code == 202, answer.text
    (said,) = [n for n in answer.json()["extract"]["notes"] if "not in the SSD's schema" in n]
    assert "100,000 column(s)" in said
    assert "and 99,995 more" in said
    assert "local_column_5," not in said
    assert len(answer.content) < 10_000


def test_an_extract_sent_again_is_answered_200_as_a_repeat(store_client: TestClient, tmp_path: Path) -> None:
    path = good(tmp_path)
    first = upload(store_client, [path], headers=COUNTY)
    assert first.status_code == 202, first.text
    again = upload(store_client, [path], headers=COUNTY)
    assert again.status_code == 200, again.text
    assert [s["id"] for s in again.json()["submissions"]] == [s["id"] for s in first.json()["submissions"]]
    assert all(s["duplicate"] for s in again.json()["submissions"])


def test_the_door_tells_an_extract_sent_again_by_the_ssd_ways_key_of_a_set(
    store_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The extract's files made are taken through the door as one set (``collectors.door.through_set``), which asks
    whether they repeat an earlier set by the SSD way's row, named: the declaration its row in the table of ways in
    holds; the door's answer is the answer."""
    from collectors import door, ways_in
    from collectors.ssd import receiving

    asked: list[tuple[str, list[int] | None]] = []
    ask = door.through_set

    def spied(engine: Engine, way: str, files: Any, **given: Any) -> list[Any]:
        found = ask(engine, way, files, **given)
        repeats = [r.submission.id or 0 for r in found if r.duplicate]
        asked.append((way, repeats or None))
        return found

    monkeypatch.setattr(door, "through_set", spied)
    path = good(tmp_path)
    first = upload(store_client, [path], headers=COUNTY)
    assert first.status_code == 202, first.text
    again = upload(store_client, [path], headers=COUNTY)
    assert again.status_code == 200, again.text
    assert ways_in.WAYS_IN["ssd"].way is receiving.WAY is door.row("ssd")
    assert receiving.WAY.repeat == door.Repeat(("accepted", "queried", "partially_accepted"), by_year=True, of_set=True)
    made = [s["id"] for s in first.json()["submissions"]]
    assert asked == [("ssd", None), ("ssd", made)]


def test_what_an_extract_makes_goes_on_through_the_table_of_ways_in(
    store_client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file made from an extract, and its Annex A rows, is handed to the table of ways in (``ways_in.take``) and
    taken by its own row, not by the SSD's code calling another way's take."""
    from collectors import ways_in

    taken: list[tuple[str, str]] = []
    take = ways_in.take

    def spied(engine: Engine, settings: Settings, request: Any) -> Any:
        taken.append((type(request).__name__, ways_in.way_of(request).name))
        return take(engine, settings, request)

    monkeypatch.setattr(ways_in, "take", spied)
    answer = upload(store_client, [good(tmp_path)], headers=COUNTY)
    assert answer.status_code == 202, answer.text
    made = len(answer.json()["submissions"])
    assert made >= 1
    assert taken[0] == ("RecordFiles", "ssd")
    assert taken[1:] == [("RecordFiles", "records")] * made + [("ExtractRows", "annex_a_ssd")]


def test_a_code_map_row_to_a_code_dfe_does_not_have_is_refused_by_its_row(
    store_client: TestClient, store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    before = _kept(store, store_settings)
    episodes = EPISODES.replace(",N4,", ",LOCAL9,")
    code_map = "ssd_column,local,dfe\ncine_cin_primary_need_code,LOCAL1,N1\ncine_cin_primary_need_code,LOCAL9,N99\n"
    path = extract_zip(
        tmp_path / "ssd.zip",
        {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": episodes, "code_map.csv": code_map},
    )
    answer = upload(store_client, [path], headers=COUNTY)
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert [e["loc"] for e in errors] == [["code_map.csv", 2, "dfe"]]
    assert "not on DfE's list" in errors[0]["msg"]
    assert "N99" not in answer.text
    assert _kept(store, store_settings) == before


@pytest.mark.parametrize(
    "route",
    ["/api/agencies/synthetic_county/record-files/2024-25/ssda903.zip",
     "/api/agencies/synthetic_county/csc-api/children?as_of=2025-06-01"],
    ids=["record-files", "payloads"],
)  # fmt: skip
def test_a_regulator_is_told_what_the_route_gives_and_who_reads_it(store_client: TestClient, route: str) -> None:
    answer = store_client.get(route, headers=DFE)
    assert answer.status_code == 403, answer.text
    said = answer.json()["error"]
    assert "cannot read submissions" not in said
    assert "made from a council's SSD extract" in said
    assert "the council's own approver key" in said


@pytest.mark.parametrize(
    "route",
    ["/api/agencies/barnet_dap/record-files/2024-25/ssda903.zip",
     "/api/agencies/barnet_dap/csc-api/children?as_of=2025-06-01"],
    ids=["record-files", "payloads"],
)  # fmt: skip
def test_the_drug_partnership_is_told_it_has_no_childrens_records(store_client: TestClient, route: str) -> None:
    answer = store_client.get(route, headers=DAP)
    assert answer.status_code == 403, answer.text
    said = answer.json()["error"]
    assert (
        "owes none of the children in need census, DfE's children looked after return (SSDA903) or DfE's SEN2 survey"
        in said
    )
    assert "--approver" not in said


FILES = "/api/agencies/synthetic_county/record-files"


def test_a_file_made_that_was_rejected_or_is_unfinished_is_not_offered_to_send(
    store_client: TestClient, store: Engine, tmp_path: Path
) -> None:
    answer = upload(store_client, [good(tmp_path)], headers=COUNTY)
    assert answer.status_code == 202, answer.text
    (made,) = answer.json()["submissions"]
    sent = store_client.get(f"{FILES}/2024-25/cin_census.xml", headers=COUNTY)
    assert sent.status_code == 200, sent.text
    for status, stage, said in (
        ("rejected", "rejected", f"was rejected: it is not the file to send DfE; its findings are at "
                                 f"/api/submissions/{made['id']}/records"),
        ("received", "dfe_rules", "is still being checked (stage dfe_rules): it is not yet the file to send DfE"),
        ("failed", "failed", "failed before DfE's rules ended"),
    ):  # fmt: skip
        with Session(store) as session:
            sub = session.get(Submission, made["id"])
            assert sub is not None
            sub.status, sub.stage = status, stage
            session.add(sub)
            session.commit()
        refused = store_client.get(f"{FILES}/2024-25/cin_census.xml", headers=COUNTY)
        assert refused.status_code == 409, refused.text
        assert said in refused.json()["error"]
        assert refused.json()["errors"][0]["loc"] == ["path", "file"]
        assert b"<?xml" not in refused.content


def test_errors_in_the_record_files_path_name_the_path_part(store_client: TestClient) -> None:
    year = store_client.get(f"{FILES}/2024-2025/cin_census.xml", headers=COUNTY)
    assert year.status_code == 422, year.text
    assert [e["loc"] for e in year.json()["errors"]] == [["path", "collection_year"]]
    file = store_client.get(f"{FILES}/2024-25/other.csv", headers=COUNTY)
    assert file.status_code == 404, file.text
    assert [e["loc"] for e in file.json()["errors"]] == [["path", "file"]]
