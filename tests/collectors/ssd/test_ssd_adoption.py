"""AD1, PlacedAdoption and PrevPerm made from an SSD extract, as the readings in ``collectors/ssd/ssda903.py`` say."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from collectors.records.kept import SSDA903_FILE
from collectors.records.ssda903_tables import CSV_NAMES
from collectors.ssd.intake import ExtractRefused
from collectors.ssd.service import make_returns
from tests.collectors.ssd.ssd_samples import extract_zip

PERSON = (
    "pers_person_id,pers_sex,pers_dob,pers_ethnicity\n"
    "A1,F,2019-04-02,WBRI\nB2,M,2016-01-05,WBRI\nC3,M,2012-07-08,WBRI\nD4,F,2014-10-11,WBRI\n"
)
EPISODES = (
    "clae_cla_episode_id,clae_person_id,clae_cla_episode_start_date,clae_cla_episode_start_reason,"
    "clae_cla_primary_need_code,clae_cla_episode_ceased_date,clae_cla_episode_ceased_reason,clae_cla_id,"
    "clae_cla_placement_id\n"
    "E1,A1,2023-01-10,S,N1,2024-09-01,E11,L1,\n"
    "E2,B2,2024-05-01,S,N1,,,L2,\n"
    "E3,C3,2020-02-01,S,N1,,,L3,\n"
    "E4,D4,2024-07-01,S,N1,,,L4,\n"
)
PERMANENCE = (
    "perm_table_id,perm_person_id,perm_adm_decision_date,perm_placement_order_date,perm_matched_date,"
    "perm_adopted_by_carer_flag,perm_number_of_adopters,perm_adopter_sex,perm_adopter_legal_status,"
    "perm_decision_reversed_date,perm_decision_reversed_reason\n"
    # Reversed before the year: in neither file.
    "P1,A1,2023-03-01,,,,,,,2023-06-01,RD1\n"
    # The decision A1 was adopted under; its placement order came later (AD1's DATE_INT is the decision).
    "P2,A1,2023-08-01,2023-10-20,2024-05-01,Y,2,MF,L11,,\n"
    # Reversed after 31 March: still standing in the year, so no date or reason ceased.
    "P3,B2,2024-06-01,,,,,,,2025-05-01,RD3\n"
    # Reversed in the year.
    "P4,D4,2024-08-01,,,,,,,2024-12-01,RD2\n"
    # Made after 31 March: not this year's.
    "P5,C3,2025-06-01,,,,,,,,\n"
)
PREVIOUS = (
    "lapp_table_id,lapp_person_id,lapp_previous_permanence_option,lapp_previous_permanence_la,"
    "lapp_previous_permanence_order_date\n"
    "Q1,B2,P4,,\nQ2,B2,P2,Derbyshire,zz/05/2020\n"
    # C3 started to be looked after before the year: not asked this year (DfE's rule 630).
    "Q3,C3,P1,Derbyshire,01/02/2019\n"
    "Q4,D4,P1,Nottinghamshire,2019-03-04\n"
)


def _made(tmp_path: Path, **members: str) -> dict[str, list[dict[str, str]]]:
    path = extract_zip(tmp_path / "ssd.zip", {"ssd_person.csv": PERSON, "ssd_cla_episodes.csv": EPISODES,
                                              **members})  # fmt: skip
    files = dict(make_returns(path, path.name, "2024-25", "891", max_unpacked=1 << 24).files)
    with zipfile.ZipFile(io.BytesIO(files[SSDA903_FILE])) as archive:
        return {
            name: list(csv.DictReader(io.StringIO(archive.read(CSV_NAMES[name]).decode())))
            for name in ("AD1", "PlacedAdoption", "PrevPerm")
        }


def test_placed_for_adoption_holds_the_decisions_standing_in_the_year(tmp_path: Path) -> None:
    made = _made(tmp_path, **{"ssd_permanence.csv": PERMANENCE})
    assert [tuple(r.values()) for r in made["PlacedAdoption"]] == [
        ("A1", "02/04/2019", "01/08/2023", "", ""),
        ("B2", "05/01/2016", "01/06/2024", "", ""),
        ("D4", "11/10/2014", "01/08/2024", "01/12/2024", "RD2"),
    ]


def test_ad1_is_the_adopted_childs_decision_with_its_adopters(tmp_path: Path) -> None:
    made = _made(tmp_path, **{"ssd_permanence.csv": PERMANENCE})
    assert [tuple(r.values()) for r in made["AD1"]] == [
        ("A1", "02/04/2019", "01/08/2023", "01/05/2024", "1", "2", "MF", "L11")
    ]


def test_an_adoption_without_a_standing_decision_has_no_ad1_row(tmp_path: Path) -> None:
    reversed_only = "\n".join(PERMANENCE.splitlines()[:2]) + "\n"
    made = _made(tmp_path, **{"ssd_permanence.csv": reversed_only})
    assert made["AD1"] == []
    assert made["PlacedAdoption"] == []


def test_previous_permanence_is_the_last_row_of_each_child_who_started_care_in_the_year(tmp_path: Path) -> None:
    made = _made(tmp_path, **{"ssd_cla_previous_permanence.csv": PREVIOUS})
    assert [tuple(r.values()) for r in made["PrevPerm"]] == [
        ("B2", "05/01/2016", "P2", "Derbyshire", "ZZ/05/2020"),
        ("D4", "11/10/2014", "P1", "Nottinghamshire", "04/03/2019"),
    ]


def test_a_council_code_map_turns_its_local_codes_into_dfes(tmp_path: Path) -> None:
    code_map = "ssd_column,local,dfe\nlapp_previous_permanence_la,Derbyshire,830\nperm_adopter_sex,couple-mf,MF\n"
    made = _made(
        tmp_path,
        **{
            "ssd_permanence.csv": PERMANENCE.replace(",2,MF,L11,", ",2,couple-mf,L11,"),
            "ssd_cla_previous_permanence.csv": PREVIOUS,
            "code_map.csv": code_map,
        },
    )
    assert made["PrevPerm"][0]["LA_PERM"] == "830"
    assert made["AD1"][0]["SEX_ADOPTR"] == "MF"


def test_a_code_not_dfes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExtractRefused) as refused:
        _made(tmp_path, **{"ssd_cla_previous_permanence.csv": PREVIOUS.replace(",P2,", ",P9,")})
    assert [e["loc"] for e in refused.value.errors] == [
        ["ssd_cla_previous_permanence", 2, "lapp_previous_permanence_option"]
    ]
