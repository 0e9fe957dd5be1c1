"""The intake's quick verdicts (rows that surely fit, values that need no stripping, plain JSON lists, one look-up
a referenced key) agree with the checks that read each row, and the rows they let through are refused as before."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.ssd.csv_text import polars_read, ragged, rows_fit, untidy
from collectors.ssd.intake import (
    ExtractRefused,
    Problem,
    _each_listed,
    _listed,
    _read_csv,
    read_extract,
    unpack,
)
from collectors.ssd.spec import mapping, tables
from tests.collectors.ssd.ssd_samples import EPISODES, PERSON, extract_zip

MAPS = mapping("2024-25")
#: Pieces of a CSV's text: white space of every kind polars strips (and some it does not), line ends, quotes.
PIECES = ["a", "1", "é", ",", ",", "\n", "\r\n", "\r", " ", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0",
          "\u2028", "\u3000", "\u200b", "\ufeff", '"']  # fmt: skip


def _refused(tmp_path: Path, members: dict[str, str | bytes]) -> ExtractRefused:
    path = extract_zip(tmp_path / "x.zip", {"ssd_person.csv": PERSON, **members})
    with pytest.raises(ExtractRefused) as caught:
        read_extract(unpack(path, path.name, max_unpacked=2**24), MAPS)
    return caught.value


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_a_table_left_unstripped_has_no_value_stripping_would_change(pieces: list[str]) -> None:
    text = "a,b,c\n" + "".join(pieces)
    frame, _ = polars_read(text.encode())
    if frame is None:
        return
    tidied = frame.with_columns(pl.col(pl.String).str.strip_chars().replace("", None))
    if not untidy(text):
        assert frame.equals(tidied, null_equal=True)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", ",", ",", "\n", "\n", "\r\n", "\r", '"']), max_size=40))
def test_rows_found_to_fit_by_their_counts_have_no_ragged_row(pieces: list[str]) -> None:
    text = "a,b,c\n" + "".join(pieces)
    frame, _ = polars_read(text.encode())
    if rows_fit(text, frame, 3):
        assert ragged(text, 3) == []


#: Codes one of which begins another, and one with a character a pattern would read as its own.
CODES = frozenset({"1A", "2B", "a b", "1", "x.y"})


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(['"1A"', '"2B"', '"a b"', '"ZZ"', '" 1A"', '"\\u0031A"', '"\t1A"', "1", ",", ", ",
                                 '"1"', '"x.y"', '"xzy"', "[", "]", " ", "\n", '"', "null", "{"]), max_size=12))  # fmt: skip
def test_a_list_polars_reads_is_judged_as_python_reads_it(pieces: list[str]) -> None:
    texts = ["".join(pieces), "[" + "".join(pieces) + "]"]
    read = _each_listed(pl.Series([*texts, None]), CODES).to_list()
    assert read == [*(_listed(text, CODES) for text in texts), None]


def test_a_short_row_balanced_by_a_long_one_is_still_named(tmp_path: Path) -> None:
    # The commas add up to the heading's: polars refuses the long row, and each row is then read.
    refused = _refused(tmp_path, {"ssd_cin_episodes.csv": EPISODES + "R3,C1,,,,,,,,\nR4,C1,,,,,\n"})
    assert [e["loc"] for e in refused.errors] == [["ssd_cin_episodes", 3], ["ssd_cin_episodes", 4]]


def test_values_with_white_space_about_them_are_read_stripped_and_blank_when_only_white_space(tmp_path: Path) -> None:
    episodes = EPISODES.replace("R1,C1,2024-05-10,1A,", "R1, C1 ,2024-05-10 ,\t1A\u3000,").replace(",N,,\n", ",N, ,\n")
    path = extract_zip(tmp_path / "x.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": episodes})
    read = read_extract(unpack(path, path.name, max_unpacked=2**24), MAPS).tables["ssd_cin_episodes"]
    first = read.row(0, named=True)
    assert (first["cine_person_id"], first["cine_referral_date"], first["cine_referral_source_code"]) == (
        "C1",
        "2024-05-10",
        "1A",
    )
    assert first["cine_close_date"] is None


def test_a_quoted_blank_is_blank(tmp_path: Path) -> None:
    episodes = EPISODES.replace("R1,C1,2024-05-10,1A,N1,N,,", 'R1,C1,2024-05-10,1A,N1,N,"",""')
    path = extract_zip(tmp_path / "x.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": episodes})
    read = read_extract(unpack(path, path.name, max_unpacked=2**24), MAPS).tables["ssd_cin_episodes"]
    assert read.row(0, named=True)["cine_close_reason"] is None


def test_a_bad_value_repeated_is_named_on_every_row_it_is_on(tmp_path: Path) -> None:
    # The quick verdict reads each distinct value once; the refusal still names each row.
    episodes = EPISODES + "R3,C1,2024-02-30,1A,N1,N,,\nR4,C2,2024-02-30,1A,N1,N,,\n"
    refused = _refused(tmp_path, {"ssd_cin_episodes.csv": episodes})
    assert [e["loc"] for e in refused.errors] == [
        ["ssd_cin_episodes", 3, "cine_referral_date"],
        ["ssd_cin_episodes", 4, "cine_referral_date"],
    ]


def test_of_two_tables_naming_ssd_person_only_the_one_naming_a_stranger_is_refused(tmp_path: Path) -> None:
    disability = "disa_table_id,disa_person_id,disa_disability_code\nD1,C1,HAND\nD2,C9,HAND\n"
    refused = _refused(tmp_path, {"ssd_cin_episodes.csv": EPISODES, "ssd_disability.csv": disability})
    assert [e["loc"] for e in refused.errors] == [["ssd_disability", 2, "disa_person_id"]]
    assert "C9" not in json.dumps(refused.errors)


def test_a_heading_written_twice_is_refused_as_written_or_as_spelt_otherwise(tmp_path: Path) -> None:
    # polars alone renames an exact repeat (``cine_person_id_duplicated_0``), which would pass as an extra column.
    for repeat in ("cine_person_id", " CINE_PERSON_ID"):
        heading, *rows = EPISODES.splitlines()
        episodes = "".join(
            f"{line},{value}\n" for line, value in zip([heading, *rows], [repeat, "C1", "C2"], strict=True)
        )
        refused = _refused(tmp_path, {"ssd_cin_episodes.csv": episodes})
        assert [e["msg"] for e in refused.errors] == ["two columns have one heading"]


def test_a_bad_date_in_one_table_is_named_there_alone(tmp_path: Path) -> None:
    # Every date of the extract is judged at once; when one is not a date, each table's dates are read by row.
    person = PERSON.replace("C1,F,2015-06-01,", "C1,F,2015-06-31,")
    path = extract_zip(tmp_path / "x.zip", {"ssd_person.csv": person, "ssd_cin_episodes.csv": EPISODES})
    with pytest.raises(ExtractRefused) as caught:
        read_extract(unpack(path, path.name, max_unpacked=2**24), MAPS)
    assert [e["loc"] for e in caught.value.errors] == [["ssd_person", 1, "pers_dob"]]


def _read_as_every_row_is_read(data: bytes) -> tuple[pl.DataFrame | None, list[Problem]]:
    """The table read with no quick verdict: each row counted, every value stripped (the intake as it was)."""
    problems: list[Problem] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, [Problem(TABLE.name, None, None, "not UTF-8 text: save it as CSV UTF-8")]
    try:
        heading = next(csv.reader(io.StringIO(text)), None)
        rows = list(csv.reader(io.StringIO(text)))[1:] if heading else []
    except csv.Error:
        return None, [Problem(TABLE.name, None, None, "cannot be read as CSV: save it as CSV UTF-8, each row ending "
                              "in a line feed (or a carriage return and a line feed)")]  # fmt: skip
    if not heading:
        return None, [Problem(TABLE.name, None, None, "the file is empty: a table needs its heading row")]
    short = [n for n, row in enumerate(rows, start=1) if row and len(row) != len(heading)]
    if short:
        return None, [Problem(TABLE.name, n, None, f"the row has not the heading's {len(heading)} columns")
                      for n in short]  # fmt: skip
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        return None, [Problem(TABLE.name, None, None, f"cannot be read as CSV ({type(exc).__name__}): check "
                              "that every row has the heading's columns")]  # fmt: skip
    renamed = {c: c.strip().lower() for c in frame.columns}
    if len({h.strip().lower() for h in heading}) != len(heading) or len(set(renamed.values())) != len(renamed):
        return None, [Problem(TABLE.name, None, None, "two columns have one heading")]
    return frame.rename(renamed).with_columns(pl.col(pl.String).str.strip_chars().replace("", None)), problems


TABLE = tables()["ssd_cin_episodes"]


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["a,b,c\n", "a,b,c\r\n", "\ufeffa,B ,c\n", "a,a,c\n", '"a","b,c"\n', "", "\n"]),
    st.lists(st.sampled_from([*PIECES, "\xff"]), max_size=30),
)
def test_a_table_is_read_as_it_is_when_each_row_is_read(heading: str, pieces: list[str]) -> None:
    # A byte that is not UTF-8 (\xff) at the end, where it spoils no other piece.
    text = "".join(p for p in pieces if p != "\xff")
    data = (heading + text).encode() + (b"\xff" if "\xff" in pieces else b"")
    problems: list[Problem] = []
    frame = _read_csv(TABLE, data, problems)
    before, said = _read_as_every_row_is_read(data)
    assert problems == said
    assert (frame is None) == (before is None)
    if frame is not None and before is not None:
        assert frame.equals(before, null_equal=True)
