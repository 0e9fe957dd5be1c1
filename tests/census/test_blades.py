"""A census's blades read and checked: hand-made blades from the schema, each bad input refused or reported with its
reason and never its value, and the London councils' fake samples with their known faults."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from collectors.census.blades import CensusRead, Refusal, read_census
from onereturn.errors import InvalidInput
from tests.census.blades import ADA, BEN, census, pupil, write_blade

SAMPLES = Path(__file__).with_name("samples")


def _cells(read: CensusRead) -> set[str]:
    """Every text cell of every table read and of the refusals."""
    frames = [getattr(read.records, name) for name in ("pupils", "sessions", "exclusions", "schools")]
    frames.append(read.refused)
    return {
        str(value)
        for frame in frames
        for column in frame.columns
        if frame.schema[column] == pl.String
        for value in frame.get_column(column).drop_nulls()
    }


def test_a_census_is_read_into_its_tables(tmp_path: Path) -> None:
    read = read_census(census(tmp_path))
    records = read.records
    assert (records.year, records.term, records.source, records.census_day) == (2025, "autumn", "la", date(2025, 10, 2))
    assert read.pupils_read == 2
    assert read.refused.is_empty()
    pupils = records.pupils.sort("upn")
    assert pupils.select("upn", "laestab", "urn", "sex", "senprovision", "born").rows() == sorted(
        [(ADA, "8912001", "122001", "F", "K", date(2014, 3, 2)), (BEN, "8912001", "122001", "M", "E", date(2014, 3, 2))]
    )
    ada = pupils.filter(pl.col("upn") == ADA)["pupil"][0]
    sessions = records.sessions.filter(pl.col("pupil") == ada).select("period", "code", "sessions").sort("code").rows()
    assert sessions == [("termly", "/", 58), ("termly", "I", 4), ("termly", "\\", 58)]
    assert sorted(records.possible.filter(pl.col("pupil") == ada).select("period", "sessions").rows()) == [
        ("summerhalfterm2", 60),
        ("termly", 120),
    ]
    assert records.exclusions.select("category", "started", "sessions", "reason").rows() == [
        ("SUSP", date(2025, 5, 6), 4, "PA")
    ]
    assert records.fsm.select("started", "ended").rows() == [(date(2023, 1, 9), None)]
    assert records.schools.rows() == [("8912001", "122001", "A school", "PS")]
    assert "Name-of-pupil" not in _cells(read)
    assert "Given" not in _cells(read)


@pytest.mark.parametrize(
    ("cells", "column", "said"),
    [
        ({"upn": "A891000000001"}, "upn", "not a UPN with DfE's check letter"),
        ({"dob": "02/03/2014"}, "dob", "not a date as COLLECT writes it (2024-Oct-16 00:00:00)"),
        ({"dob": "2014-03-02"}, "dob", "not a date as COLLECT writes it (2024-Oct-16 00:00:00)"),
        ({"senprovision": "X"}, "senprovision", "not one of the schema's codes"),
        ({"termlysessionspossible": "many"}, "termlysessionspossible", "not a whole number"),
        ({"schoolcensustableid": ""}, "schoolcensustableid", "blank, where the schema needs it"),
    ],
)
def test_a_cell_the_schema_refuses_is_reported_by_row_and_rule_never_its_value(
    tmp_path: Path, cells: dict[str, str], column: str, said: str
) -> None:
    read = read_census(census(tmp_path, pupilonroll=[pupil("P1", ADA), {**pupil("P2", BEN), **cells}]))
    assert read.refusals == (Refusal("2025_autumn_la_pupilonroll.csv", "pupilonroll", 3, column, said),)
    assert read.pupils_read == 2  # the pupil is read, the refused cell as blank
    assert not {v for v in cells.values() if v} & _cells(read)


def test_a_retired_code_in_an_exclusion_is_refused(tmp_path: Path) -> None:
    exclusion = {"pupilonrolltableid": "P2", "startdate": "2025-May-06 00:00:00", "category": "FIXD", "reason1": "OT"}
    read = read_census(census(tmp_path, termlyexclusionsonroll=[exclusion]))
    assert read.refused.select("table", "row", "column", "rule").rows() == [
        ("termlyexclusionsonroll", 2, "category", "not one of the schema's codes"),
        ("termlyexclusionsonroll", 2, "reason1", "not one of the schema's codes"),
    ]
    assert read.records.exclusions.select("category", "reason").rows() == [(None, None)]


def test_a_pupil_on_roll_twice_at_one_school_is_reported(tmp_path: Path) -> None:
    read = read_census(census(tmp_path, pupilonroll=[pupil("P1", ADA), pupil("P2", BEN), pupil("P3", ADA)]))
    assert read.refused.select("row", "column", "rule").rows() == [
        (2, "upn", "the pupil is on roll twice at one school"),
        (4, "upn", "the pupil is on roll twice at one school"),
    ]


def test_more_sessions_missed_than_possible_are_reported(tmp_path: Path) -> None:
    sessions = [
        {"pupilonrolltableid": "P2", "attendancereason": "O", "sessions": "100"},
        {"pupilonrolltableid": "P2", "attendancereason": "I", "sessions": "30"},
        {"pupilonrolltableid": "P1", "attendancereason": "/", "sessions": "200"},  # present: never missed
    ]
    read = read_census(census(tmp_path, termlysessiondetailsonroll=sessions))
    assert read.refused.rows() == [
        (
            "2025_autumn_la_pupilonroll.csv",
            "pupilonroll",
            3,
            "termlysessionspossible",
            "more sessions missed than possible in the period",
        )
    ]


def test_a_free_meals_period_ending_before_it_starts_is_reported(tmp_path: Path) -> None:
    period = {"pupilonrolltableid": "P1", "fsmstartdate": "2024-Jan-09 00:00:00", "fsmenddate": "2023-Jan-09 00:00:00"}
    read = read_census(census(tmp_path, fsmperiodsonroll=[period]))
    assert read.refused.select("table", "row", "column", "rule").rows() == [
        ("fsmperiodsonroll", 2, "fsmenddate", "the period ends before it starts")
    ]


def test_a_row_of_no_pupil_is_reported_and_left_out(tmp_path: Path) -> None:
    sessions = [{"pupilonrolltableid": "P9", "attendancereason": "I", "sessions": "2"}]
    read = read_census(census(tmp_path, termlysessiondetailsonroll=sessions))
    assert read.refused.select("table", "row", "column").rows() == [
        ("termlysessiondetailsonroll", 2, "pupilonrolltableid")
    ]
    assert read.records.sessions.filter(pl.col("period") == "termly").is_empty()


def test_a_table_of_another_years_schema_is_refused_whole(tmp_path: Path) -> None:
    files = census(tmp_path)
    files[2] = write_blade(
        tmp_path, "pupilonroll", [pupil("P1", ADA)], year=2024, name="2025_autumn_la_pupilonroll.csv"
    )
    with pytest.raises(InvalidInput, match="pupilonroll table of the 2024 autumn schema's census, not the 2025 autumn"):
        read_census(files)


def test_a_table_the_terms_census_does_not_have_is_refused_whole(tmp_path: Path) -> None:
    needs = write_blade(tmp_path, "senneeds", [], year=2025, term="spring", name="2025_autumn_la_senneeds.csv")
    with pytest.raises(
        InvalidInput, match=r"senneeds table of the 2026 spring, 2025 spring, .* schema's census, not the 2025 autumn"
    ):
        read_census([*census(tmp_path), needs])


def test_two_councils_schools_are_refused_whole(tmp_path: Path) -> None:
    schools = [
        {"schoolcensustableid": "SC1", "lea": "891", "estab": "2001", "softwarecode": "X"},
        {"schoolcensustableid": "SC2", "lea": "892", "estab": "2002", "softwarecode": "X", "NativeId": "8922002"},
    ]
    with pytest.raises(InvalidInput, match=r"schools of 2 councils \(DfE's numbers 891, 892"):
        read_census(census(tmp_path, schoolcensus=schools))


def test_a_formula_cell_refuses_the_file_naming_its_place_not_its_value(tmp_path: Path) -> None:
    files = census(tmp_path, pupilonroll=[pupil("P1", ADA), pupil("P2", BEN, ncyearactual='=HYPERLINK("x")')])
    with pytest.raises(InvalidInput, match="row 3, column ncyearactual starts as a spreadsheet formula") as refused:
        read_census(files)
    assert "HYPERLINK" not in refused.value.message


def test_a_zip_of_the_blades_reads_as_the_blades_do(tmp_path: Path) -> None:
    files = census(tmp_path)
    packed = tmp_path / "census.zip"
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in files:
            archive.write(path, name)
    zipped, plain = read_census([("census.zip", packed)]), read_census(files)
    assert zipped.records.pupils.equals(plain.records.pupils)
    assert zipped.records.sessions.equals(plain.records.sessions)


def test_a_truncated_zip_is_refused(tmp_path: Path) -> None:
    packed = tmp_path / "2025_autumn_la.zip"
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in census(tmp_path):
            archive.write(path, name)
    packed.write_bytes(packed.read_bytes()[:-200])
    with pytest.raises(InvalidInput, match="not a ZIP"):
        read_census([(packed.name, packed)])


def test_a_zip_bomb_and_an_oversized_file_are_refused_before_they_are_read(tmp_path: Path) -> None:
    bomb = tmp_path / "2025_autumn_la.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("2025_autumn_la_pupilonroll.csv", b"0" * 4_000_000)
    assert bomb.stat().st_size < 50_000
    with pytest.raises(InvalidInput, match="unpacks to 4,000,000 bytes, over the limit of 1,000,000"):
        read_census([(bomb.name, bomb)], max_bytes=1_000_000)
    files = census(tmp_path)
    with pytest.raises(InvalidInput, match="over the limit of 2,000 bytes for a census"):
        read_census(files, max_bytes=2_000)


def test_year_term_and_source_come_from_the_names_or_the_arguments(tmp_path: Path) -> None:
    files = [(f"blade-{n}.csv", path) for n, (_, path) in enumerate(census(tmp_path))]
    with pytest.raises(InvalidInput, match="census's year is in no file's name"):
        read_census(files)
    read = read_census(files, year=2025, term="autumn", source="acad")
    assert (read.records.year, read.records.source) == (2025, "acad")
    with pytest.raises(InvalidInput, match="census's term was given as spring"):
        read_census(census(tmp_path), term="spring")


def test_a_file_that_is_no_blade_or_lacks_a_column_it_needs_is_refused(tmp_path: Path) -> None:
    stray = tmp_path / "2025_autumn_la_list.csv"
    stray.write_text("upn,dob\r\n")
    with pytest.raises(InvalidInput, match="no blade of the school census"):
        read_census([*census(tmp_path), (stray.name, stray)])
    (tmp_path / "lacking").mkdir()
    lacking = tmp_path / "lacking" / "2025_autumn_la_termlyexclusionsonroll.csv"
    lacking.write_text("termlyexclusionsonrolltableid,termlyexclusionsonrollorderseqcolumn,category\r\nE1,1,SUSP\r\n")
    with pytest.raises(InvalidInput, match="has no NativeId, sourceid, pupilonrolltableid column"):
        read_census([*census(tmp_path)[:3], (lacking.name, lacking)])


def test_the_census_day_is_the_schoolcensus_blades_or_refused_when_unknown(tmp_path: Path) -> None:
    files = [f for f in census(tmp_path) if "schoolcensus" not in f[0]]
    with pytest.raises(InvalidInput, match="does not know the 2025 autumn census's day"):
        read_census(files)


def test_the_samples_known_faults_are_refused_by_the_schema() -> None:
    files = [(path.name, path) for path in sorted(SAMPLES.glob("*.csv"))]
    read = read_census(files, source="la")
    assert read.pupils_read == 2
    assert read.records.census_day == date(2024, 10, 3)
    rules = set(read.refused.select("table", "column", "rule").rows())
    coded = "not one of the schema's codes"
    assert {
        ("termlyexclusionsonroll", "category", coded),  # FIXD
        ("termlyexclusionsonroll", "reason1", coded),  # OT
        ("termlysessiondetailsonroll", "attendancereason", coded),  # Y
        ("pupilonroll", "upn", "not a UPN with DfE's check letter"),
        ("pupilonroll", "summerhalfterm2sessionscoronavirus", "not a column of this year's schema: not read"),
    } <= rules
    assert not {"FIXD", "OT", "SUR1216", "21db2df8-fa0"} & _cells(read)
    assert read.records.fsm.is_empty()


def test_a_blade_with_a_byte_order_mark_and_another_encodings_name_reads(tmp_path: Path) -> None:
    files = census(tmp_path)
    path = next(path for name, path in files if name.endswith("pupilonroll.csv"))
    # Windows-1252's ë in a name the reader never reads, and the mark a spreadsheet saving UTF-8 puts first.
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"Name-of-pupil", b"Zo\xeb"))
    read = read_census(files)
    assert read.refused.is_empty()
    assert read.pupils_read == 2


def test_a_blade_that_is_no_csv_table_is_refused_quoting_nothing(tmp_path: Path) -> None:
    files = census(tmp_path)
    path = next(path for name, path in files if name.endswith("termlyexclusionsonroll.csv"))
    path.write_bytes(path.read_bytes() + b"P1,8912001,x,2,S1,2025-May-06 00:00:00,4,SECRET,,,SUSP,,extra,cells\r\n")
    with pytest.raises(InvalidInput, match="cannot be read as a CSV table: a row has more cells") as refused:
        read_census(files)
    assert "SECRET" not in refused.value.message


def test_a_column_the_file_lacks_is_read_as_blank_and_said(tmp_path: Path) -> None:
    files = census(tmp_path)
    path = next(path for name, path in files if name.endswith("_pupilonroll.csv"))
    pl.read_csv(path, infer_schema=False).drop("termlysessionspossible").write_csv(path)
    read = read_census(files)
    assert read.refusals == (
        Refusal("2025_autumn_la_pupilonroll.csv", "pupilonroll", 1, "termlysessionspossible", "missing: read as blank"),
    )
    assert set(read.records.possible["period"]) == {"summerhalfterm2"}
    assert read.records.possible.schema["sessions"] == pl.Int64


def _census_2024(folder: Path, *pupils: dict[str, str]) -> list[tuple[str, Path]]:
    """2024's autumn census of school 8912001: its schema has each period's authorised and unauthorised totals."""
    school = {"schoolcensustableid": "SC1", "lea": "891", "estab": "2001", "urn": "122001",
              "referencedate": "2024-Oct-03 00:00:00", "softwarecode": "X", "term": "AUT"}  # fmt: skip
    modules = {
        "schoolcensus": [school],
        "school": [{"schoolcensustableid": "SC1", "schoolname": "A school", "phase": "PS"}],
        "pupilonroll": list(pupils),
        "termlysessiondetailsonroll": [{"pupilonrolltableid": "P1", "attendancereason": "I", "sessions": "30"}],
    }
    return [write_blade(folder, module, rows, year=2024) for module, rows in modules.items()]


def test_a_schemas_absence_totals_are_read_beside_the_sessions_possible(tmp_path: Path) -> None:
    totals = {"termlysessionsauthorised": "5", "termlysessionsunauthorised": "2",
              "summerhalfterm2sessionsauthorised": "1", "summerhalfterm2sessionsunauthorised": "0"}  # fmt: skip
    read = read_census(_census_2024(tmp_path, pupil("P1", ADA, **totals), pupil("P2", BEN)))
    assert read.refused.is_empty()
    possible = read.records.possible.join(read.records.pupils.select("pupil", "upn"), on="pupil")
    rows = possible.select("upn", "period", "sessions", "authorised", "unauthorised").sort("upn", "period").rows()
    assert rows == sorted([
        (ADA, "summerhalfterm2", 60, 1, 0), (ADA, "termly", 120, 5, 2),
        (BEN, "summerhalfterm2", 60, None, None), (BEN, "termly", 120, None, None),
    ])  # fmt: skip
    # 2025's schemas have no totals: read blank.
    (tmp_path / "2025").mkdir()
    assert read_census(census(tmp_path / "2025")).records.possible["authorised"].null_count() == 4


def test_absence_totals_above_the_sessions_possible_are_reported(tmp_path: Path) -> None:
    # The totals are read where the schema has them: 30 sessions of illness by code do not count against P1.
    over = pupil("P1", ADA, termlysessionsauthorised="100", termlysessionsunauthorised="21")
    under = pupil("P2", BEN, termlysessionsauthorised="100", termlysessionsunauthorised="20")
    read = read_census(_census_2024(tmp_path, over, under))
    assert read.refused.select("row", "column", "rule").rows() == [
        (2, "termlysessionspossible", "more sessions missed than possible in the period")
    ]
