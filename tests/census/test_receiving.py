"""A council's school census at the door: cut to the pupils the council needs, kept sealed by pseudonym as its other
children's records are, counted read and kept; refused whole with each problem's place and no value, nothing kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from collectors.census import receiving
from collectors.census.blades import CensusRead
from collectors.census.kept import newest_censuses, read_kept
from collectors.census.receiving import minimised
from collectors.problems import first_problems
from collectors.records.models import RecordChild
from collectors.records.receiving import Received
from collectors.retention import purge
from indicators.store.models import Submission
from onereturn.errors import InvalidInput
from onereturn.settings import Settings
from tests.census.made import answered, census, pupil, refusals, sent
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


def _receive(engine: Engine, settings: Settings, folder: Path, got: CensusRead, **more: Any) -> Received:
    sent_as: dict[str, Any] = {"agency_code": "notts_cyp", "collection_year": "2024-25",
                               "files": [("2024_autumn_la_pupilonroll.csv", sent(folder))]}  # fmt: skip
    return receiving.receive(engine, settings, **{**sent_as, "read": lambda: got,
                                                  "known": lambda: frozenset({IN_SEN2, FORMER}), **more})  # fmt: skip


def test_a_census_is_kept_minimised_sealed_by_pseudonym_and_purged_with_the_records(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    got = _receive(store, store_settings, tmp_path / "sent", answered(census(PUPILS)))
    sub = got.submission
    assert not got.duplicate
    assert (sub.kind, sub.mode, sub.source_format, sub.status, sub.way) == (
        "records", "school_census", "census", "accepted", "census")  # fmt: skip
    assert (sub.rows_read, sub.rows_accepted, sub.collection_year) == (6, 4, "2024-25")
    assert (sub.census_day, sub.census_source) == (date(2024, 10, 3), "la")
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
    first = _receive(store, store_settings, tmp_path / "sent", answered(census(PUPILS)))

    def not_again() -> CensusRead:
        raise AssertionError("a census sent again was read again")

    again = _receive(store, store_settings, tmp_path / "sent", answered(census(PUPILS)), read=not_again)
    assert (again.duplicate, again.submission.id) == (True, first.submission.id)


def _nothing_kept(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        assert session.exec(select(Submission).where(col(Submission.source_format) == "census")).first() is None
    assert kept_names(engine, settings, "records") == []


def test_cells_the_schema_refuses_are_listed_by_file_table_row_and_item_and_the_census_is_kept(
    store: Engine, store_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    found = refusals(("2024_autumn_la_pupilonroll.csv", "pupilonroll", 7, "upn", "a UPN whose check letter is wrong"),
                     ("2024_autumn_la_termlyexclusions.csv", "termlyexclusions", 3, "startdate", "a date COLLECT "
                      "does not write"))  # fmt: skip
    sub = _receive(store, store_settings, tmp_path / "sent", answered(census(PUPILS), found)).submission
    # Kept with some cells refused: partly accepted, as any record-level upload kept with some of it refused.
    assert (sub.status, sub.error_count, sub.rows_accepted) == ("partially_accepted", 2, 4)
    assert [r.pupils.height for r in newest_censuses(store, store_settings, "notts_cyp", date(2025, 8, 31))] == [4]
    assert "2 cell(s) refused by its schema and read blank" in sub.message
    with Session(store) as session:
        listed, total = first_problems(session, sub.id or 0)
    assert total == 2
    assert listed.select("row", "column", "value").rows() == [(3, "termlyexclusions: startdate", None),
                                                               (7, "pupilonroll: upn", None)]  # fmt: skip
    assert (
        listed["message"][1]
        == "2024_autumn_la_pupilonroll.csv: a UPN whose check letter is wrong (the cell is read blank)"
    )
    assert all(upn not in caplog.text for upn in (IN_SEN2, OTHER))


def test_a_census_the_reader_refuses_whole_keeps_nothing(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    def not_a_census() -> CensusRead:
        raise InvalidInput("the file pupilonroll.csv is a table of the 2023 spring census's schema, not 2024 autumn's")

    with pytest.raises(InvalidInput, match="2023 spring"):
        _receive(store, store_settings, tmp_path / "sent", answered(census(PUPILS)), read=not_a_census)
    _nothing_kept(store, store_settings)


def test_a_census_of_another_academic_year_than_the_one_said_is_refused_and_keeps_nothing(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    spring = census(PUPILS, day=date(2024, 1, 18), term="spring")
    with pytest.raises(InvalidInput, match="outside the academic year 2024-25"):
        _receive(store, store_settings, tmp_path / "sent", answered(spring))
    _nothing_kept(store, store_settings)
    assert _receive(store, store_settings, tmp_path / "sent", answered(spring), collection_year="2023-24").submission.id


def test_the_known_upns_are_asked_only_of_a_census_that_passed(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    def never() -> frozenset[str]:
        raise AssertionError("the council's records were read for a refused census")

    spring = census(PUPILS, day=date(2024, 1, 18), term="spring")
    with pytest.raises(InvalidInput):
        _receive(store, store_settings, tmp_path / "sent", answered(spring), known=never)


def test_the_census_is_one_entry_of_the_registry_of_child_level_returns_which_no_council_owes() -> None:
    from mappings.child_level import BY_FORMAT, CENSUS_SOURCE, LIST_2, RETURN_IDS

    census_return = BY_FORMAT[receiving.FORMAT]
    assert (census_return.line.ref, census_return.line.name) == ("DfE 159-00", "School Census")
    assert census_return.line.source == CENSUS_SOURCE
    assert LIST_2 in census_return.feeds
    # A council owes its SEN2, CIN census or SSDA903; the census is its schools' return, sent as the council holds it.
    assert census_return.return_id not in RETURN_IDS


def test_blades_as_collect_writes_them_are_read_minimised_and_kept_whole_through_the_door(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    from collectors.census.synthetic import Child, made_upn, write_census

    looked_after, not_needed = made_upn("891", 7), made_upn("891", 8)
    children = [Child(u, date(2013, 3, 1), "F", "N", "8912000", "100000") for u in (looked_after, not_needed)]
    (tmp_path / "blades").mkdir()
    files = write_census(tmp_path / "blades", children, year=2025, term="spring", others=300, seed=4)
    got = receiving.receive(store, store_settings, agency_code="notts_cyp", collection_year="2024-25", files=files,
                            known=lambda: frozenset({looked_after}))  # fmt: skip
    sub = got.submission
    back = read_kept(store, store_settings, sub)
    needed = back.pupils.filter(pl.col("senprovision").is_in(["K", "E"])).height
    assert (sub.rows_read, sub.rows_accepted) == (302, needed + 1)
    assert looked_after in back.pupils["upn"].to_list()
    assert not_needed not in back.pupils["upn"].to_list()
    assert (back.year, back.term, back.census_day, back.source) == (2025, "spring", date(2025, 1, 16), "la")
    assert (sub.collection_year, sub.census_day, sub.census_source) == ("2024-25", date(2025, 1, 16), "la")
    assert back.sessions["pupil"].is_in(back.pupils["pupil"].implode()).all()


def test_a_census_of_another_councils_schools_is_refused_and_keeps_nothing(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    lewisham = census([pupil(1, SUPPORT, "K", laestab="2092001")])
    with pytest.raises(InvalidInput, match="names another council than notts_cyp's") as refused:
        _receive(store, store_settings, tmp_path / "sent", answered(lewisham))
    assert refused.value.errors == [{"type": "another_council", "loc": ["schoolcensus", "lea"],
                                     "msg": "not the council of notts_cyp (891)"}]  # fmt: skip
    _nothing_kept(store, store_settings)
