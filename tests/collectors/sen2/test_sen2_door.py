"""A council's SEN2 file at the door: each survey's corrected schema, the service's own rules, refusals that keep
nothing and quote no value, and a file kept as the other children's records are (pseudonyms, sealing, purge)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from collectors.door.requests import RecordFiles
from collectors.records.models import RecordChild
from collectors.retention import purge
from collectors.sen2.receiving import check
from collectors.sen2.schema import FOLDER, parse, schema_problems
from indicators.store.models import Submission
from mappings.comparison.groups import FOLDER as COMPARATORS
from onereturn.errors import InvalidInput, PayloadTooLarge
from onereturn.settings import Settings
from tests.collectors.records.samples import every_text
from tests.collectors.sen2.builder import Active, Plan, Request, person, sen2_xml
from tests.helpers import kept_names

NOTTS = {"X-API-Key": "demo-notts-cyp-2c9f41d07b"}
SAMPLES = Path(__file__).parents[2] / "fixtures" / "sen2"

#: The fake samples' UPNs have 14 characters where a UPN has 13: each loses its last digit.
UPN_FIXES = {b"X1234567898765": b"X123456789876", b"X1234567898321": b"X123456789832"}


def sample(survey: int) -> bytes:
    """The LIIA team's fake sample of a survey, its 14-character UPNs cut to 13 and its header's council (the City of
    London, 201) made the council the tests send it as (Nottinghamshire, 891)."""
    data = (SAMPLES / f"sen2_sample_{survey}.xml").read_bytes()
    for wrong, right in {**UPN_FIXES, b"<LEA>201</LEA>": b"<LEA>891</LEA>"}.items():
        data = data.replace(wrong, right)
    return data


def made_up(survey: int = 2025, **more: Any) -> bytes:
    """A small file of made-up children with a request, an assessment, a plan and a plan in force."""
    request = Request(
        {"ReceivedDate": date(survey - 1, 3, 1), "RequestSource": 2, "RYA": 0,
         "RequestOutcomeDate": date(survey - 1, 4, 1), "RequestOutcome": "Y"},
        {"AssessmentOutcome": "Y", "AssessmentOutcomeDate": date(survey - 1, 7, 1), "Week20": 0},
        Plan({"StartDate": date(survey - 1, 7, 1)}, [{"URN": 123456, "PlacementRank": 1}]),
        Active([{"URN": 123456, "PlacementRank": 1, "EntryDate": date(survey - 1, 9, 1)}], [("ASD", 1)]),
    )  # fmt: skip
    people = [person("A123456789012", date(2015, 5, 1), "M", request),
              person("B123456789012", date(2012, 2, 3), "F", Request({"RequestOutcome": "H"}))]  # fmt: skip
    return sen2_xml(people, survey, **more)


def _year(survey: int) -> str:
    return f"{survey - 1}-{survey % 100:02d}"


def _post(client: TestClient, data: bytes, year: str = "2024-25", name: str = "sen2.xml") -> Any:
    return client.post("/api/submissions", headers=NOTTS, data={"collection_year": year},
                       files=[("files", (name, data, "application/xml"))])  # fmt: skip


# ---- the corrected schemas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("survey", [2024, 2025])
def test_each_sample_passes_its_corrected_schema_once_its_upn_has_13_characters(survey: int) -> None:
    assert check(sample(survey), _year(survey), max_bytes=10**7).survey == survey
    raw = (SAMPLES / f"sen2_sample_{survey}.xml").read_bytes()
    problems = schema_problems(parse(raw, max_bytes=10**7), survey)
    assert {(p.child, p.item) for p in problems} == {(1, "UPN"), (2, "UPN")}


@pytest.mark.parametrize("survey", [2023, 2024, 2025, 2026])
def test_a_made_up_file_passes_each_surveys_schema(survey: int) -> None:
    assert check(made_up(survey), _year(survey), max_bytes=10**7).children[0] == ("UPN", "A123456789012")


def _with_uln(uln: str) -> bytes:
    return sen2_xml([person("A123456789012", date(2015, 5, 1), "M", UniqueLearnerNumber=uln)])


def test_a_ulns_ten_digits_pass_and_eight_do_not() -> None:
    check(_with_uln("1234567890"), "2024-25", max_bytes=10**7)
    for wrong in ("12345678", "^1234567890$", "0123456789"):
        with pytest.raises(InvalidInput) as refused:
            check(_with_uln(wrong), "2024-25", max_bytes=10**7)
        assert refused.value.errors[0]["loc"] == ["Module 1: person", "child 1", "UniqueLearnerNumber"]


def test_the_originals_patterns_put_anchors_inside_xsd_patterns_and_the_copies_do_not() -> None:
    for survey in (2023, 2024, 2025, 2026):
        text = (FOLDER / f"sen2_schema_{survey}.xsd").read_text(encoding="utf-8")
        patterns = list(etree.fromstring(text.encode()).iter("{*}pattern"))
        assert patterns
        assert not any(p.get("value", "").startswith("^") for p in patterns)
        for fixed in ('value="[1-9][0-9]{9}"', 'value="\\d{1,6}"', 'value="\\d{8}"'):
            assert fixed in text


def test_every_english_councils_number_is_a_code_of_each_surveys_council_list() -> None:
    import csv

    with (COMPARATORS / "dfe_la_codes.csv").open(encoding="utf-8") as f:
        numbers = {r["old_la_code"] for r in csv.DictReader(f) if r["old_la_code"].isdigit()}
    for survey in (2023, 2024, 2025, 2026):
        tree = etree.parse(str(FOLDER / f"sen2_schema_{survey}.xsd"))
        listed = set(tree.xpath("//*[@name='exportedandleatype']//*[local-name()='enumeration']/@value"))
        assert listed == numbers
        assert len(listed) > 150
    outside_london = Request({"RequestOutcome": "H"}, active=Active(items={"TransferLA": "873"}))
    check(sen2_xml([person("A123456789012", date(2015, 5, 1), "M", outside_london)], lea="873"), "2024-25",
          max_bytes=10**7)  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        check(made_up(lea="999"), "2024-25", max_bytes=10**7)
    assert refused.value.errors[0]["loc"] == ["Header", "LEA"]
    assert "999" not in str(refused.value.errors) + refused.value.message


def test_2026_needs_dsco_and_a_request_source_on_every_request_not_historical() -> None:
    without_dsco = made_up(2026).replace(b"   <DSCO>Y</DSCO>\n", b"")
    with pytest.raises(InvalidInput) as refused:
        check(without_dsco, "2025-26", max_bytes=10**7)
    assert refused.value.errors[0]["loc"] == ["Header", "DSCO"]
    no_source = made_up(2026).replace(b"<RequestSource>2</RequestSource>", b"")
    with pytest.raises(InvalidInput) as refused:
        check(no_source, "2025-26", max_bytes=10**7)
    assert [e["loc"] for e in refused.value.errors] == [["Module 2: request", "child 1", "RequestSource"]]
    check(made_up(2025).replace(b"<RequestSource>2</RequestSource>", b""), "2024-25", max_bytes=10**7)


# ---- refused at the door, nothing kept ----------------------------------------------------------------------------

_DEEP = b"<Message><Persons>" + b"<Person>" * 30 + b"</Person>" * 30 + b"</Persons></Message>"


def _refusals() -> dict[str, tuple[bytes, str]]:
    """Each kind of bad file and what its refusal says (module, or a phrase of the message)."""
    good = made_up()
    twice = sen2_xml([person("A123456789012", date(2015, 5, 1)), person("A123456789012", date(2015, 5, 1))])
    before = made_up().replace(b"<StartDate>2024-07-01</StartDate>", b"<StartDate>2024-02-01</StartDate>")
    return {
        "doctype": (b'<?xml version="1.0"?><!DOCTYPE Message [<!ENTITY x "y">]>' + good[good.index(b"<Message>"):],
                    "DOCTYPE"),
        "entity": (good.replace(b"<Message>", b'<!ENTITY z SYSTEM "file:///etc/passwd"><Message>'), "DOCTYPE"),
        "deep": (_DEEP, "deeper"),
        "another year": (made_up(2024), "January 2024 survey"),
        "unknown code": (good.replace(b"<SENtype>ASD</SENtype>", b"<SENtype>ZZZ</SENtype>"), "not a code"),
        "missing mandatory item": (good.replace(b"<PersonBirthDate>2015-05-01</PersonBirthDate>", b""), "missing"),
        "duplicate child": (twice, "the same UPN as child 1"),
        "plan before its request": (before, "dated before ReceivedDate"),
        "unknown module": (good.replace(b"<ActivePlans>", b"<Wellbeing><Score>3</Score></Wellbeing><ActivePlans>"),
                           "not expected here"),
        "not xml": (b"<Message><Persons><Person></Persons>", "not well-formed"),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(_refusals()))
def test_a_bad_file_is_refused_at_the_door_naming_where_and_keeping_nothing(
    store_client: TestClient, store: Engine, store_settings: Settings, case: str
) -> None:
    data, said = _refusals()[case]
    with Session(store) as session:
        before = session.execute(select(func.count()).select_from(Submission)).scalar_one()
    answer = _post(store_client, data)
    assert answer.status_code == 422, answer.text
    assert said in answer.text
    with Session(store) as session:
        assert session.execute(select(func.count()).select_from(Submission)).scalar_one() == before
    assert kept_names(store, store_settings, "records") == []
    # No value of a child's record is quoted back: not a UPN, a date or the code refused.
    for value in ("A123456789012", "2015-05-01", "ZZZ", "2024-02-01"):
        assert value not in answer.text


def test_a_declaration_hidden_from_the_bytes_by_another_encoding_is_refused_on_the_tree() -> None:
    good = made_up()
    body = good[good.index(b"<Message>") :].decode()
    for declared in ('<!DOCTYPE Message [<!ENTITY x "y">]>', '<!DOCTYPE Message SYSTEM "file:///etc/passwd">'):
        data = ('<?xml version="1.0" encoding="UTF-16"?>' + declared + body).encode("utf-16")
        assert b"<!DOCTYPE" not in data.upper()
        with pytest.raises(InvalidInput, match="DOCTYPE or ENTITY"):
            check(data, "2024-25", max_bytes=10**7)
    # The same file without the declaration, in the same encoding, passes.
    assert len(check(('<?xml version="1.0" encoding="UTF-16"?>' + body).encode("utf-16"), "2024-25",
                     max_bytes=10**7).children) == 2  # fmt: skip


def test_an_oversized_file_is_refused_with_nothing_kept(store: Engine, tmp_path: Path) -> None:
    from collectors.sen2.receiving import receive

    settings = Settings(data_dir=tmp_path / "data", max_upload_bytes=500)
    path = tmp_path / "sen2.xml"
    path.write_bytes(made_up())
    with pytest.raises(PayloadTooLarge):
        receive(
            store, settings, RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[("sen2.xml", path)])
        )
    with Session(store) as session:
        assert session.exec(select(Submission).where(col(Submission.source_format) == "sen2")).first() is None


# ---- kept as the other children's records are ---------------------------------------------------------------------


@pytest.mark.parametrize("survey", [2024, 2025])
def test_each_sample_is_kept_sealed_by_pseudonym_and_purged_with_the_records(
    store_client: TestClient, store: Engine, store_settings: Settings, survey: int
) -> None:
    answer = _post(store_client, sample(survey), _year(survey), name=f"sen2_{survey}.xml")
    assert answer.status_code == 201, answer.text
    sid = answer.json()["id"]
    with Session(store) as session:
        sub = session.get(Submission, sid)
        assert sub is not None
        assert (sub.kind, sub.mode, sub.source_format, sub.status) == ("records", "sen2", "sen2", "accepted")
        assert sub.collection_year == _year(survey)
        children = session.exec(select(RecordChild).where(col(RecordChild.submission_id) == sid)).all()
    assert len(children) == 2
    # The UPNs, names and dates of birth are nowhere in clear: in the store or the kept files.
    texts = "\n".join(every_text(store))
    kept = b"".join(p.read_bytes() for p in store_settings.data_dir.rglob("*") if p.is_file())
    for value in ("X123456789876", "X123456789832", "TestFamilyName1", "2002-01-01"):
        assert value not in texts
        assert value.encode() not in kept
    assert _post(store_client, sample(survey), _year(survey), name=f"sen2_{survey}.xml").status_code == 200
    assert kept_names(store, store_settings, "records")
    purged = purge(
        store, store_settings, now=datetime.now(UTC) + timedelta(days=store_settings.records_retention_days + 1)
    )
    assert purged.submissions >= 1
    assert kept_names(store, store_settings, "records") == []
    with Session(store) as session:
        assert not session.exec(select(RecordChild).where(col(RecordChild.submission_id) == sid)).all()


def test_a_file_sent_again_for_the_same_year_is_its_earlier_upload_and_is_not_checked_again(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The door asks for the repeat before the way reads: the same file for the same year is answered as the upload
    that kept it, with the check never run (here it would fail); for another year it is checked as a new file."""
    from collectors.sen2 import receiving

    settings = Settings(data_dir=tmp_path / "data")
    path = tmp_path / "sen2.xml"
    path.write_bytes(made_up())
    sent: dict[str, Any] = {"agency_code": "notts_cyp", "collection_year": "2024-25", "files": [("sen2.xml", path)]}
    first = receiving.receive(store, settings, RecordFiles(**sent))
    assert not first.duplicate

    def not_again(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a file sent again was checked again")

    monkeypatch.setattr(receiving, "check", not_again)
    again = receiving.receive(store, settings, RecordFiles(**sent))
    assert (again.duplicate, again.submission.id) == (True, first.submission.id)
    with pytest.raises(AssertionError, match="checked again"):
        receiving.receive(store, settings, RecordFiles(**{**sent, "collection_year": "2023-24"}))


@pytest.mark.parametrize("survey", [2023, 2024, 2025, 2026])
def test_the_synthetic_file_of_each_survey_passes_its_schema_and_rules(tmp_path: Path, survey: int) -> None:
    from cli.synthetic.sen2 import synthetic_sen2

    path = synthetic_sen2(5, 400, survey, tmp_path)
    assert len(check(path.read_bytes(), _year(survey), max_bytes=10**8).children) == 400
    assert synthetic_sen2(5, 400, survey, tmp_path / "again").read_bytes() == path.read_bytes()


def test_a_key_rotation_reseals_the_kept_file_and_its_children(store: Engine, tmp_path: Path) -> None:
    from cryptography.fernet import InvalidToken

    from collectors.records import rotation
    from collectors.records.privacy import keys_for
    from collectors.sen2.receiving import receive
    from collectors.sen2.service import make_tables
    from onereturn import keptfiles

    settings = Settings(data_dir=tmp_path / "data", records_keys_file=tmp_path / "keys" / "records-keys.json")
    path = tmp_path / "sen2.xml"
    path.write_bytes(made_up())
    receive(
        store, settings, RecordFiles(agency_code="notts_cyp", collection_year="2024-25", files=[("sen2.xml", path)])
    )
    before = make_tables(store, settings, "notts_cyp", "2024-25", ("caseload",))["caseload"].csv
    old = keys_for(settings)
    done = rotation.rotate(store, settings)
    assert (done.files, done.children) == (1, 2)
    for name in keptfiles.names(store, settings, keptfiles.RECORDS):
        with pytest.raises(InvalidToken):
            old.fernet.decrypt(keptfiles.read(store, settings, name))
    assert make_tables(store, settings, "notts_cyp", "2024-25", ("caseload",))["caseload"].csv == before
