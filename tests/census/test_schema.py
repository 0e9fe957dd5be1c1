"""The census's schemas read as data from the service's copy, DfE's UPN check letter and the attendance codes."""

from __future__ import annotations

import random

import polars as pl
import pytest

from collectors.census.schema import attendance_codes, missed_codes, module_of, schema_for, schemas_with, upn_valid
from collectors.figures.identifiers import upn_check_letter
from onereturn.errors import InvalidInput


def test_a_year_and_term_have_their_own_tables_and_columns() -> None:
    autumn, spring = schema_for(2025, "autumn"), schema_for(2025, "spring")
    assert "summerhalfterm2sessiondetailsonroll" in autumn
    assert "summerhalfterm2sessiondetailsonroll" not in spring
    assert "senneeds" in spring
    assert "senneeds" not in autumn
    upn = autumn["pupilonroll"].columns["upn"]
    assert (upn.kind, upn.blank) == ("upn", True)
    assert autumn["termlyexclusionsonroll"].columns["category"].codes == {"PERM", "SUSP", "LNCH"}
    assert schema_for(2015, "autumn")["termlyexclusionsonroll"].columns["category"].codes == {"PERM", "FIXD", "LNCH"}
    assert autumn["termlysessiondetailsonroll"].parent == "pupilonrolltableid"
    # The 2025 schema dropped the authorised and unauthorised totals the 2024 one had.
    assert "termlysessionsauthorised" in schema_for(2024, "autumn")["pupilonroll"].columns
    assert "termlysessionsauthorised" not in autumn["pupilonroll"].columns


@pytest.mark.parametrize(("year", "term"), [(2014, "autumn"), (2027, "spring"), (2025, "winter")])
def test_a_schema_not_held_is_refused_by_name(year: int, term: str) -> None:
    with pytest.raises(InvalidInput, match="2015–2026"):
        schema_for(year, term)


def test_the_copy_gives_pupils_on_roll_the_2026_learner_fam_codes() -> None:
    for term in ("spring", "summer"):
        tables = schema_for(2026, term)
        on, off = tables["learnerfamonroll"].columns, tables["learnerfamoffroll"].columns
        assert on["learnerfamcode"].codes == off["learnerfamcode"].codes == {"01", "02", "03", "04", "05", "22"}


def test_a_blade_is_known_by_its_own_table_id_and_order_column() -> None:
    assert (
        module_of(
            [
                "pupilonrolltableid",
                "NativeId",
                "termlysessiondetailsonrolltableid",
                "termlysessiondetailsonrollorderseqcolumn",
                "sessions",
            ]
        )
        == "termlysessiondetailsonroll"
    )
    assert module_of(["upn", "dob"]) is None
    heading = list(schema_for(2024, "autumn")["pupilonroll"].columns)
    assert "2024 autumn" in schemas_with("pupilonroll", heading)
    assert "2025 autumn" not in schemas_with("pupilonroll", heading)


def test_upns_are_checked_with_dfes_check_letter() -> None:
    # B801200005001 is python-stdnum's valid example of DfE's rule, A801200005001 its wrong letter; the rest are the
    # wrong length, a small letter, a letter DfE never uses (I) and a blank.
    upns = ["B801200005001", "A801200005001", "B80120000500", "b801200005001", "I801200005001", None]
    valid = pl.DataFrame({"upn": upns}).select(upn_valid(pl.col("upn"))).to_series().to_list()
    assert valid == [True, False, False, False, False, False]


def test_the_check_letter_agrees_with_the_houses_own_reading_of_the_rule() -> None:
    rng = random.Random(97)
    bodies = [f"{rng.randrange(10**12):012d}" for _ in range(500)]
    upns = [upn_check_letter(body) + body for body in bodies] + [
        "ABCDEFGHJKLMNPQRTUVWXYZ"[(ord(upn_check_letter(body)) % 23 + 1) % 23] + body for body in bodies[:50]
    ]
    valid = pl.DataFrame({"upn": upns}).select(upn_valid(pl.col("upn"))).to_series().to_list()
    assert valid[:500] == [True] * 500
    wrong = [upns[500 + at][0] != upns[at][0] for at in range(50)]
    assert valid[500:] == [not w for w in wrong]


def test_a_temporary_upn_ends_in_a_letter_counted_at_its_value() -> None:
    temporary = [f"{letter}20700001604A" for letter in "ABCDEFGHJKLMNPQRTUVWXYZ"]
    passing = pl.DataFrame({"upn": temporary}).filter(upn_valid(pl.col("upn"))).to_series().to_list()
    # Places 2-12 weighted 2-12 (2*2 + 7*4 + 1*9 + 6*10 + 4*12 = 149), A (0) at 13: 149 mod 23 = 11, M.
    assert passing == ["M20700001604A"]


def test_sessions_missed_are_dfes_absence_codes() -> None:
    codes = attendance_codes()
    assert codes.height == 36
    missed = missed_codes()
    assert {"I", "M", "O", "G", "U", "N", "E", "C"} <= missed
    assert not {"/", "\\", "L", "B", "X", "Z", "#", "D"} & missed


def test_no_years_exclusion_table_has_an_end_date_so_none_can_end_before_it_starts() -> None:
    """The issue's "an exclusion ending before it starts": no year's schema gives an exclusion an end date (said in
    docs/census.md), so an exclusion is its start, category and sessions; a free meals period's end before its start
    is the census's one such refusal (tests/census/test_blades.py)."""
    held = [(year, term) for year in range(2015, 2027) for term in ("autumn", "spring", "summer")]
    held.remove((2015, "spring"))
    held.remove((2015, "summer"))
    for year, term in held:
        for name, table in schema_for(year, term).items():
            if "exclusions" in name:
                assert "startdate" in table.columns
                assert not [c for c in table.columns if "end" in c.lower()], (year, term, name)
