"""A council's school census at the door: cut to the pupils the council needs, kept sealed by pseudonym as its other
children's records are, counted read and kept; refused whole with each problem's place and no value, nothing kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.census import receiving
from collectors.census.kept import read_kept
from collectors.census.receiving import minimised
from collectors.records.models import RecordChild
from collectors.records.receiving import Received
from collectors.retention import purge
from indicators.store.models import Submission
from onereturn.errors import InvalidInput
from onereturn.settings import Settings
from tests.census.made import Read, Refusal, census, pupil, sent
from tests.collectors.records.samples import every_text
from tests.helpers import kept_names

#: Made-up UPNs (13 characters, as a UPN is): the council's other records name the first two.
IN_SEN2, FORMER, OTHER, SUPPORT, PLAN = (
    "A123456789012",
    "B123456789012",
    "C123456789012",
    "D1234567890AB",
    "E12345678901Z",
)
PUPILS = [
    pupil(1, IN_SEN2),
    pupil(2, "F123456789012", formerupn=FORMER),
    pupil(3, OTHER),
    pupil(4, SUPPORT, "K"),
    pupil(5, PLAN, "E"),
    pupil(6, None),
]


def test_only_pupils_on_sen_support_with_a_plan_or_named_in_other_records_are_kept() -> None:
    kept = minimised(census(PUPILS), frozenset({IN_SEN2, FORMER}))
    assert sorted(kept.pupils["pupil"]) == [1, 2, 4, 5]
    for table in ("possible", "sessions", "fsm"):
        assert sorted(getattr(kept, table)["pupil"]) == [1, 2, 4, 5]
    assert kept.exclusions["pupil"].to_list() == [1]
    assert kept.schools.height == 1
    # A UPN written in lower case is the same UPN.
    assert minimised(census([pupil(1, IN_SEN2.lower())]), frozenset({IN_SEN2})).pupils.height == 1


def _receive(engine: Engine, settings: Settings, folder: Path, got: Read, **more: Any) -> Received:
    sent_as: dict[str, Any] = {"agency_code": "notts_cyp", "collection_year": "2024-25",
                               "files": [("2024_autumn_la_pupilonroll.csv", sent(folder))]}  # fmt: skip
    return receiving.receive(engine, settings, **{**sent_as, "read": lambda: got,
                                                  "known": lambda: frozenset({IN_SEN2, FORMER}), **more})  # fmt: skip


def test_a_census_is_kept_minimised_sealed_by_pseudonym_and_purged_with_the_records(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    got = _receive(store, store_settings, tmp_path / "sent", Read(census(PUPILS)))
    sub = got.submission
    assert not got.duplicate
    assert (sub.kind, sub.mode, sub.source_format, sub.status, sub.way) == (
        "records", "school_census", "census", "accepted", "census")  # fmt: skip
    assert (sub.rows_read, sub.rows_accepted, sub.collection_year) == (6, 4, "2024-10-03 la")
    assert "6 pupil(s) read, 4 kept" in sub.message
    with Session(store) as session:
        children = session.exec(select(RecordChild).where(col(RecordChild.submission_id) == sub.id)).all()
    assert len(children) == 4
    back = read_kept(store, store_settings, sub)
    assert sorted(back.pupils["upn"]) == sorted([IN_SEN2, "F123456789012", SUPPORT, PLAN])
    assert (back.year, back.term, back.census_day, back.source) == (2024, "autumn", date(2024, 10, 3), "la")
    # No UPN is anywhere in clear, in the store or its kept files; the pupil not needed is nowhere at all.
    texts = "\n".join(every_text(store))
    kept = b"".join(p.read_bytes() for p in store_settings.data_dir.rglob("*") if p.is_file())
    for upn in (IN_SEN2, SUPPORT, PLAN, OTHER):
        assert upn not in texts
        assert upn.encode() not in kept
    assert len(kept_names(store, store_settings, "records")) == 1
    purged = purge(
        store, store_settings, now=datetime.now(UTC) + timedelta(days=store_settings.records_retention_days + 1)
    )
    assert purged.submissions == 1
    assert kept_names(store, store_settings, "records") == []
    with Session(store) as session:
        assert not session.exec(select(RecordChild).where(col(RecordChild.submission_id) == sub.id)).all()


def test_the_same_files_sent_again_are_the_upload_that_kept_them_and_are_not_read_again(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    first = _receive(store, store_settings, tmp_path / "sent", Read(census(PUPILS)))

    def not_again() -> Read:
        raise AssertionError("a census sent again was read again")

    again = _receive(store, store_settings, tmp_path / "sent", Read(census(PUPILS)), read=not_again)
    assert (again.duplicate, again.submission.id) == (True, first.submission.id)


def _nothing_kept(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        assert session.exec(select(Submission).where(col(Submission.source_format) == "census")).first() is None
    assert kept_names(engine, settings, "records") == []


def test_a_census_with_problems_is_refused_whole_naming_each_place_and_rule_and_keeps_nothing(
    store: Engine, store_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    problems = [Refusal("2024_autumn_la_pupilonroll.csv", "pupilonroll", 7, "upn", "upn_check_letter"),
                Refusal("2024_autumn_la_termlyexclusions.csv", "termlyexclusions", None, None, "another_term")]  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        _receive(store, store_settings, tmp_path / "sent", Read(census(PUPILS), problems))
    assert "2 problem(s)" in refused.value.message
    assert refused.value.errors[0]["loc"] == ["2024_autumn_la_pupilonroll.csv", "pupilonroll", "row 7", "upn"]
    assert refused.value.errors[1]["loc"] == ["2024_autumn_la_termlyexclusions.csv", "termlyexclusions"]
    _nothing_kept(store, store_settings)
    assert all(upn not in caplog.text for upn in (IN_SEN2, OTHER))


def test_a_census_of_another_academic_year_than_the_one_said_is_refused_and_keeps_nothing(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    spring = census(PUPILS, day=date(2024, 1, 18), term="spring")
    with pytest.raises(InvalidInput, match="outside the academic year 2024-25"):
        _receive(store, store_settings, tmp_path / "sent", Read(spring))
    _nothing_kept(store, store_settings)
    assert _receive(store, store_settings, tmp_path / "sent", Read(spring), collection_year="2023-24").submission.id


def test_the_known_upns_are_asked_only_of_a_census_that_passed(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    def never() -> frozenset[str]:
        raise AssertionError("the council's records were read for a refused census")

    with pytest.raises(InvalidInput):
        _receive(store, store_settings, tmp_path / "sent", Read(census(PUPILS), [Refusal("f", "t", 1, "c", "r")]),
                 known=never)  # fmt: skip
