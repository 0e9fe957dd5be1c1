"""A council's SSD extract read and checked: every bad input of issue 64 refused by table, row and column with no
child's value in the message, the extra columns named, the unused columns dropped before anything is kept."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from collectors.ssd.intake import Extract, ExtractRefused, read_extract, unpack
from collectors.ssd.service import make_returns
from collectors.ssd.spec import mapping
from onereturn.errors import InvalidInput, PayloadTooLarge
from tests.collectors.ssd.ssd_samples import EPISODES, PERSON, extract_zip, good

MAPS = mapping("2024-25")
LIMIT = 50 * 1024 * 1024


def _read(path: Path) -> Extract:
    return read_extract(unpack(path, path.name, max_unpacked=LIMIT), MAPS)


def _refusal(path: Path) -> ExtractRefused:
    with pytest.raises(ExtractRefused) as caught:
        _read(path)
    # No child's value is ever quoted: not an id, a date, a name or a code.
    said = json.dumps([caught.value.message, caught.value.errors])
    for value in ("C1", "C2", "Alice", "2015-06-01", "2024-13-45", "ZZ9", "C9"):
        assert value not in said
    return caught.value


def _locs(refused: ExtractRefused) -> list[list[object]]:
    return [e["loc"] for e in refused.errors]


def test_a_good_extract_is_read_extra_columns_named_and_unused_ones_dropped(tmp_path: Path) -> None:
    extract = _read(good(tmp_path))
    assert extract.tables["ssd_person"].height == 2
    # A v1.4.5 column no output reads is dropped, not called foreign to the SSD.
    assert "pers_forename" not in extract.tables["ssd_person"].columns
    assert any("pers_forename" in n and "dropped" in n for n in extract.notes)
    assert not any("pers_forename" in n and "not in the SSD's schema" in n for n in extract.notes)
    assert extract.rows == 4


def test_a_table_missing_its_key_column_is_refused(tmp_path: Path) -> None:
    episodes = EPISODES.replace("cine_referral_id,", "").replace("R1,", "").replace("R2,", "")
    refused = _refusal(extract_zip(tmp_path / "x.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": episodes}))
    assert ["ssd_cin_episodes", "cine_referral_id"] in _locs(refused)


def test_a_child_not_in_ssd_person_is_refused_by_row(tmp_path: Path) -> None:
    episodes = EPISODES.replace("R2,C2,", "R2,C9,")
    refused = _refusal(extract_zip(tmp_path / "x.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": episodes}))
    assert _locs(refused) == [["ssd_cin_episodes", 2, "cine_person_id"]]
    assert "names no row of ssd_person" in refused.errors[0]["msg"]


def test_two_rows_with_one_key_are_both_named(tmp_path: Path) -> None:
    person = PERSON.replace("C2,M", "C1,M")
    episodes = EPISODES.replace("R2,C2,", "R2,C1,")
    refused = _refusal(extract_zip(tmp_path / "x.zip", {"ssd_person.csv": person, "ssd_cin_episodes.csv": episodes}))
    assert _locs(refused) == [["ssd_person", 1, "pers_person_id"], ["ssd_person", 2, "pers_person_id"]]


@pytest.mark.parametrize("bad", ["2024-13-45", "10/05/2024", "soon"])
def test_a_date_that_is_not_a_date_is_refused_by_row_and_column(tmp_path: Path, bad: str) -> None:
    episodes = EPISODES.replace("R1,C1,2024-05-10", f"R1,C1,{bad}")
    refused = _refusal(extract_zip(tmp_path / "x.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": episodes}))
    assert _locs(refused) == [["ssd_cin_episodes", 1, "cine_referral_date"]]
    assert "a date" in refused.errors[0]["msg"]


def test_a_code_not_in_the_list_is_refused_unless_the_councils_map_names_it(tmp_path: Path) -> None:
    episodes = EPISODES.replace(",N4,", ",ZZ9,")
    members: dict[str, str | bytes] = {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": episodes}
    refused = _refusal(extract_zip(tmp_path / "x.zip", members))
    assert _locs(refused) == [["ssd_cin_episodes", 2, "cine_cin_primary_need_code"]]
    mapped = {**members, "code_map.csv": "ssd_column,local,dfe\ncine_cin_primary_need_code,ZZ9,N4\n"}
    extract = _read(extract_zip(tmp_path / "y.zip", mapped))
    assert extract.code_map == {("cine_cin_primary_need_code", "ZZ9"): "N4"}


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    episodes = EPISODES.replace("2024-05-10", "never").replace("R2,C2,", "R2,C9,").replace(",1A,", ",1Z,")
    refused = _refusal(extract_zip(tmp_path / "x.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": episodes}))
    assert sorted(map(str, _locs(refused))) == sorted(map(str, [
        ["ssd_cin_episodes", 1, "cine_referral_date"],
        ["ssd_cin_episodes", 1, "cine_referral_source_code"],
        ["ssd_cin_episodes", 2, "cine_person_id"],
    ]))  # fmt: skip


def test_a_path_in_a_members_name_is_refused(tmp_path: Path) -> None:
    path = extract_zip(tmp_path / "x.zip", {"ssd_person.csv": PERSON, "../ssd_cin_episodes.csv": EPISODES})
    refused = _refusal(path)
    assert "a path" in refused.errors[0]["msg"]


def _lie_about_sizes(data: bytes, declared: int) -> bytes:
    """Rewrite every member's declared uncompressed size (local header and central directory) to ``declared``."""
    out = bytearray(data)
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        out[info.header_offset + 22 : info.header_offset + 26] = declared.to_bytes(4, "little")
    central = out.find(b"PK\x01\x02")
    while central != -1:
        out[central + 24 : central + 28] = declared.to_bytes(4, "little")
        central = out.find(b"PK\x01\x02", central + 4)
    return bytes(out)


def test_a_2_gb_member_is_refused_before_anything_is_inflated(tmp_path: Path) -> None:
    path = good(tmp_path)
    path.write_bytes(_lie_about_sizes(path.read_bytes(), 2 * 1024**3))
    with pytest.raises(PayloadTooLarge, match="nothing of it was unpacked"):
        unpack(path, path.name, max_unpacked=LIMIT)


def test_a_zip_bomb_declaring_small_sizes_is_stopped_while_inflating(tmp_path: Path) -> None:
    path = extract_zip(tmp_path / "bomb.zip", {"ssd_person.csv": PERSON + "C3,F,2015-06-01,WBRI,UN1,x\n" * 20_000})
    path.write_bytes(_lie_about_sizes(path.read_bytes(), 1000))
    with pytest.raises(InvalidInput, match="larger than the archive says"):
        unpack(path, path.name, max_unpacked=LIMIT)


def test_an_extract_of_another_ssd_version_says_which_it_found(tmp_path: Path) -> None:
    log = "version_number,release_date,description,is_current\n1.3.9,2024-01-01,old,0\n1.3.9,2024-02-01,x,1\n"
    path = good(tmp_path, **{"ssd_version_log.csv": log})
    with pytest.raises(InvalidInput, match=r"SSD version 1\.3\.9"):
        make_returns(path, path.name, "2024-25", "891", max_unpacked=LIMIT)


def test_an_extract_of_another_year_is_refused(tmp_path: Path) -> None:
    episodes = EPISODES.replace("2024-05-10,1A,N1,N,,", "2019-05-10,1A,N1,N,2019-09-01,RC1").replace(
        "2024-06-11", "2019-06-11"
    )
    path = extract_zip(tmp_path / "x.zip", {"ssd_person.csv": PERSON, "ssd_cin_episodes.csv": episodes})
    with pytest.raises(InvalidInput, match=r"no referral open in 2024-25 .* another year's extract"):
        make_returns(path, path.name, "2024-25", "891", max_unpacked=LIMIT)


def test_a_year_no_mapping_covers_is_refused(tmp_path: Path) -> None:
    path = good(tmp_path)
    with pytest.raises(InvalidInput, match="for 2024-25, not 2023-24"):
        make_returns(path, path.name, "2023-24", "891", max_unpacked=LIMIT)


def test_a_table_with_its_heading_alone_is_an_empty_table(tmp_path: Path) -> None:
    path = good(
        tmp_path, **{"ssd_cla_episodes.csv": "clae_cla_episode_id,clae_person_id,clae_cla_id,clae_cla_placement_id\n"}
    )
    extract = _read(path)
    assert extract.tables["ssd_cla_episodes"].height == 0


ASSESSMENTS = "cina_assessment_id,cina_person_id,cina_referral_id,cina_assessment_start_date\nA1,C1,R1,2024-05-12\n"


@pytest.mark.parametrize(
    ("factors", "refused"),
    [('"[""1A"", ""2B""]"', False), ('"[""1A"", ""ZZ""]"', True), ("not json", True), ('"{""1A"": 1}"', True)],
)
def test_assessment_factors_are_a_json_list_of_dfes_codes(tmp_path: Path, factors: str, refused: bool) -> None:
    members: dict[str, str | bytes] = {
        "ssd_person.csv": PERSON,
        "ssd_cin_episodes.csv": EPISODES,
        "ssd_cin_assessments.csv": ASSESSMENTS,
        "ssd_assessment_factors.csv": f"cinf_table_id,cinf_assessment_id,cinf_assessment_factors_json\nF1,A1,{factors}\n",
    }
    path = extract_zip(tmp_path / "x.zip", members)
    if not refused:
        made = make_returns(path, path.name, "2024-25", "891", max_unpacked=LIMIT)
        assert b"<AssessmentFactors>2B</AssessmentFactors>" in dict(made.files)["cin_census_from_ssd.xml"]
        return
    refused_with = _refusal(path)
    assert _locs(refused_with) == [["ssd_assessment_factors", 1, "cinf_assessment_factors_json"]]


@pytest.mark.parametrize(
    ("member", "data", "said"),
    [
        ("ssd_cin_episodes.csv", EPISODES + "R3,C1\n", "not the heading's 8 columns"),
        ("ssd_cin_episodes.csv", EPISODES + "R3,C1,,,,,,,,\n", "not the heading's 8 columns"),
        ("ssd_cin_episodes.csv", EPISODES + 'R3,"C1\n', "not the heading's 8 columns"),
        # With a quoted comma each row is read as CSV; without one, commas are counted: both find the short row.
        ("ssd_cin_episodes.csv", EPISODES + 'R3,"C1,C2",,,,,,\nR4,C1\n', "not the heading's 8 columns"),
        ("ssd_cin_episodes.csv", EPISODES.replace("\n", "\r\n") + "R3,C1\r\n", "not the heading's 8 columns"),
        ("ssd_cin_episodes.csv", EPISODES.replace("\n", "\r"), "cannot be read as CSV"),
        ("ssd_cin_episodes.csv", EPISODES.encode("utf-16"), "not UTF-8"),
        ("ssd_cin_episodes.csv", b"", "the file is empty"),
        ("notes.txt", "hello", "not a table of the SSD"),
        ("ssd_not_a_table.csv", "a,b\n1,2\n", "not a table of the SSD"),
    ],
)
def test_a_member_that_cannot_be_read_is_named_and_refused(
    tmp_path: Path, member: str, data: str | bytes, said: str
) -> None:
    members: dict[str, str | bytes] = {"ssd_person.csv": PERSON, member: data}
    refused = _refusal(extract_zip(tmp_path / "x.zip", members))
    assert refused.errors[0]["loc"][0] in (member, member.removesuffix(".csv"))
    assert said in refused.errors[0]["msg"]


def test_an_extract_without_ssd_person_is_refused(tmp_path: Path) -> None:
    refused = _refusal(extract_zip(tmp_path / "x.zip", {"ssd_cin_episodes.csv": EPISODES}))
    assert ["ssd_person"] in _locs(refused)
