"""A council's kept censuses read back: the newest on or before a date and the one before it, each source apart, the
same tables that were kept; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.census import receiving
from collectors.census.kept import kept_censuses, newest_censuses
from onereturn.settings import Settings
from tests.census.made import answered, census, pupil, sent

DAYS = {date(2024, 1, 18): "spring", date(2024, 5, 16): "summer", date(2024, 10, 3): "autumn"}


def _send(engine: Engine, settings: Settings, folder: Path, day: date, source: str, pupils: int = 2) -> None:
    made = census([pupil(n, f"A12345678{n:04d}", "K") for n in range(1, pupils + 1)], day=day, term=DAYS[day],
                  source=source)  # fmt: skip
    year = f"{day.year - (day.month < 9)}-{(day.year + (day.month >= 9)) % 100:02d}"
    name = f"{day.year}_{DAYS[day]}_{source}_pupilonroll.csv"
    path = sent(folder / f"{day}{source}{pupils}", name, f"pupilonrolltableid\n{day}{source}{pupils}\n".encode())
    receiving.receive(engine, settings, agency_code="notts_cyp", collection_year=year, files=[(name, path)],
                      read=lambda: answered(made), known=lambda: frozenset())  # fmt: skip


def test_the_newest_census_on_or_before_a_date_and_the_one_before_each_source_apart(
    store: Engine, store_settings: Settings, tmp_path: Path
) -> None:
    for day in DAYS:
        _send(store, store_settings, tmp_path, day, "la")
    _send(store, store_settings, tmp_path, date(2024, 5, 16), "acad", pupils=3)
    # A census sent again corrected replaces the one before it.
    _send(store, store_settings, tmp_path, date(2024, 5, 16), "la", pupils=4)
    read = newest_censuses(store, store_settings, "notts_cyp", date(2024, 9, 30))
    assert [(r.census_day, r.source, r.pupils.height) for r in read] == [
        (date(2024, 5, 16), "la", 4), (date(2024, 5, 16), "acad", 3), (date(2024, 1, 18), "la", 2)]  # fmt: skip
    on_the_day = newest_censuses(store, store_settings, "notts_cyp", date(2024, 10, 3))
    assert [(r.census_day, r.source) for r in on_the_day][:1] == [(date(2024, 10, 3), "la")]
    assert newest_censuses(store, store_settings, "notts_cyp", date(2023, 12, 31)) == []
    assert newest_censuses(store, store_settings, "lewisham_council", date(2025, 1, 1)) == []
    with Session(store) as session:
        assert len(kept_censuses(session, "notts_cyp")) == 4


def test_a_kept_census_reads_back_as_the_tables_kept(store: Engine, store_settings: Settings, tmp_path: Path) -> None:
    made = census([pupil(1, "A123456789012", "E", ethnicity="WBRI", left=date(2024, 7, 1), on_roll=False)])
    path = sent(tmp_path / "one")
    receiving.receive(store, store_settings, agency_code="notts_cyp", collection_year="2024-25",
                      files=[("pupils.csv", path)], read=lambda: answered(made), known=lambda: frozenset())  # fmt: skip
    (back,) = newest_censuses(store, store_settings, "notts_cyp", date(2025, 8, 31))
    for table in ("pupils", "possible", "sessions", "exclusions", "fsm", "schools", "premium"):
        assert_frame_equal(getattr(back, table), getattr(made, table))
    assert back.pupils.schema["born"] == pl.Date


def test_a_census_kept_before_the_absence_totals_were_kept_reads_them_blank() -> None:
    import io
    import zipfile

    from collectors.census.kept import packed, unpacked

    made = census([pupil(1, "A123456789012", "E")])
    earlier = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(packed(made))) as now, zipfile.ZipFile(earlier, "w") as then:
        for name in now.namelist():
            data = now.read(name)
            if name == "possible.arrow":
                table = io.BytesIO()
                pl.read_ipc(io.BytesIO(data)).drop("authorised", "unauthorised").write_ipc(table)
                data = table.getvalue()
            then.writestr(name, data)
    back = unpacked(earlier.getvalue())
    assert_frame_equal(back.possible, made.possible)
    assert back.possible["authorised"].null_count() == back.possible.height == 1
