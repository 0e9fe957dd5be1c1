"""The council's rule for which involvement roles are the allocated worker (its agency's ``ssd.worker_roles``): with it,
only involvements of its roles count for Annex A's allocated team and worker, the SSDA903's SWEpisodes and DfE's
payloads' care workers, and a role no involvement has is named in the upload's notes; without it, every involvement
counts as before (the payloads' care workers role CW, as D2I's builder takes them)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.annex_a.build import build_annex_a
from collectors.annex_a.from_ssd import allocated, keep_from_extract, newest_from_extract
from collectors.records.kept import SSDA903_FILE
from collectors.records.ssda903_tables import CSV_NAMES
from collectors.ssd.payload import kept_items
from collectors.ssd.payload_build import build
from collectors.ssd.receiving import made_from
from collectors.ssd.service import Made, make_returns
from mappings.council_ssd import CouncilSsd, council_ssd
from onereturn.errors import ConfigurationError
from onereturn.settings import MOVED, Settings, load_settings
from tests.collectors.ssd.ssd_samples import extract_zip, set_council_ssd

INSPECTION = date(2025, 3, 31)
RUN = date(2025, 6, 1)
PEOPLE = (
    "pers_person_id,pers_sex,pers_dob,pers_ethnicity\n"
    "C1,F,2015-06-01,WBRI\nC2,M,2012-02-03,BAFR\nC3,M,2016-01-15,AIND\n"
)
REFERRALS = (
    "cine_referral_id,cine_person_id,cine_referral_date,cine_referral_source_code,cine_cin_primary_need_code,"
    "cine_referral_nfa,cine_close_date,cine_close_reason\n"
    "R1,C1,2024-05-10,1A,N1,N,,\nR2,C2,2024-06-11,3A,N4,N,,\nR3,C3,2024-09-01,1A,N1,N,,\n"
)
PLANS = (
    "cinp_cin_plan_id,cinp_referral_id,cinp_person_id,cinp_cin_plan_start_date\n"
    "P1,R1,C1,2024-06-01\nP3,R3,C3,2024-09-10\n"
)
LOOKED_AFTER = (
    "clae_cla_episode_id,clae_person_id,clae_cla_episode_start_date,clae_cla_episode_start_reason,"
    "clae_cla_primary_need_code,clae_cla_episode_ceased_date,clae_cla_episode_ceased_reason,clae_cla_id,"
    "clae_cla_placement_id\n"
    "E1,C1,2024-06-01,S,N1,,,L1,\nE2,C2,2024-07-01,S,N4,,,L2,\nE3,C3,2024-10-01,S,N1,,,L3,\n"
)
# C1's only open involvement is a CW's, its earlier (ended) one a social worker's written in lower case; C2 has only a
# personal adviser's; C3 has a social worker's and a later case worker's, both open.
INVOLVEMENTS = (
    "invo_involvements_id,invo_person_id,invo_professional_id,invo_professional_role_id,invo_professional_team,"
    "invo_referral_id,invo_involvement_start_date,invo_involvement_end_date\n"
    "I1,C1,W1, sw ,T1,R1,2024-05-10,2024-08-01\n"
    "I2,C1,W2,CW,T2,R1,2024-08-02,\n"
    "I3,C2,W3,PA,T1,R2,2024-06-11,\n"
    "I5,C3,W5,SW,T2,R3,2024-10-01,\n"
    "I6,C3,W6,CW,T1,R3,2024-11-01,\n"
)
PROFESSIONALS = (
    "prof_professional_id,prof_professional_name,prof_social_worker_registration_no\n"
    "W1,Ann Able,SW0001\nW2,Bob Brook,SW0002\nW3,Cat Cole,SW0003\nW5,Eve Ellis,SW0005\nW6,Fay Ford,SW0006\n"
)
TEAMS = "dept_team_id,dept_team_name\nT1,Front door\nT2,Children in need\n"
RULE = ("SW", "XX")


def _path(tmp_path: Path) -> Path:
    members: dict[str, str | bytes] = {
        "ssd_person.csv": PEOPLE, "ssd_cin_episodes.csv": REFERRALS, "ssd_cin_plans.csv": PLANS,
        "ssd_cla_episodes.csv": LOOKED_AFTER, "ssd_involvements.csv": INVOLVEMENTS,
        "ssd_professionals.csv": PROFESSIONALS, "ssd_department.csv": TEAMS,
    }  # fmt: skip
    return extract_zip(tmp_path / f"ssd-{len(list(tmp_path.iterdir()))}.zip", members)


def _made(tmp_path: Path, roles: tuple[str, ...]) -> Made:
    path = _path(tmp_path)
    return make_returns(
        path, path.name, "2024-25", "830", max_unpacked=1 << 24, keep=kept_items(identifiers=False), worker_roles=roles
    )


def _allocated(made: Made) -> dict[str, tuple[str, str]]:
    found = allocated(made.annex_a, INSPECTION)
    assert found is not None
    return {child: (team, worker) for child, team, worker in found.rows()}


def _social_workers(made: Made) -> list[tuple[str, str, str, str]]:
    with zipfile.ZipFile(io.BytesIO(dict(made.files)[SSDA903_FILE])) as archive:
        rows = csv.DictReader(io.StringIO(archive.read(CSV_NAMES["SWEpisodes"]).decode()))
        return sorted((r["CHILD"], r["SW_ID"], r["SW_DECOM"], r["SW_DEC"]) for r in rows)


def _care_workers(made: Made) -> dict[str, list[Any]]:
    assert made.extract is not None
    return {
        p["la_child_id"]: [w["worker_id"] for e in p.get("social_care_episodes", []) for w in
                           e.get("care_worker_details", [])]
        for p in build(made.extract, RUN, identifiers=False)
    }  # fmt: skip


def test_without_a_rule_every_involvement_counts_as_before(tmp_path: Path) -> None:
    made = _made(tmp_path, ())
    assert _allocated(made) == {
        "C1": ("Children in need", "Bob Brook"), "C2": ("Front door", "Cat Cole"), "C3": ("Front door", "Fay Ford"),
    }  # fmt: skip
    assert _social_workers(made) == [
        ("C1", "SW0001", "10/05/2024", "01/08/2024"), ("C1", "SW0002", "02/08/2024", ""),
        ("C2", "SW0003", "11/06/2024", ""), ("C3", "SW0005", "01/10/2024", ""), ("C3", "SW0006", "01/11/2024", ""),
    ]  # fmt: skip
    # DfE's payloads take the builder's case worker, role CW, open on 31 March; C2's referral has no CIN plan.
    assert _care_workers(made) == {"C1": ["SW0002"], "C2": [], "C3": ["SW0006"]}
    assert "worker_roles" not in made.annex_a
    assert any("every involvement counts" in n for n in made.notes)
    assert not any("names role(s)" in n for n in made.notes)


def test_with_a_rule_only_the_councils_roles_count(tmp_path: Path) -> None:
    made = _made(tmp_path, RULE)
    # C1's only open involvement is a CW's: the earlier social worker's (its role in lower case, spaced) is the last
    # one ended, so it is the allocated worker; C2 has none of the roles, so no allocated worker at all.
    assert _allocated(made) == {"C1": ("Front door", "Ann Able"), "C3": ("Children in need", "Eve Ellis")}
    assert _social_workers(made) == [("C1", "SW0001", "10/05/2024", "01/08/2024"), ("C3", "SW0005", "01/10/2024", "")]
    # On 31 March C1's social worker had gone: no care worker; C3's is the social worker, not the CW.
    assert _care_workers(made) == {"C1": [], "C2": [], "C3": ["SW0005"]}
    assert made.annex_a["worker_roles"]["role"].to_list() == list(RULE)
    assert any("only involvements of role(s) SW, XX count" in n for n in made.notes)
    # The role no involvement has is named; the one the extract has is not, nor any child's value.
    (absent,) = [n for n in made.notes if "names role(s)" in n]
    assert absent.endswith(": XX")
    said = " ".join(n for n in made.notes if "allocated worker" in n)
    assert not any(value in said for value in ("C1", "W1", "Ann Able", "SW0001", "I1", "PA"))


def test_a_rule_of_one_role_another_council_set_leaves_this_one_unchanged(store: Engine, tmp_path: Path) -> None:
    set_council_ssd(store, "lewisham_council", worker_roles=["SW"])
    with Session(store) as session:
        assert council_ssd(session, "lewisham_council").worker_roles == ["SW"]
        roles = tuple(council_ssd(session, "synthetic_county").worker_roles)
    assert _allocated(_made(tmp_path, roles))["C1"] == ("Children in need", "Bob Brook")


def test_the_roles_are_read_as_ids_and_a_bad_one_is_named() -> None:
    assert CouncilSsd.model_validate({"worker_roles": [" SW", "CW ", "SW"]}).worker_roles == ["SW", "CW"]
    assert CouncilSsd().worker_roles == []
    for bad in (["SW", ""], ["R" * 201]):
        with pytest.raises(ValidationError, match="role ids are at most 200 characters, none blank"):
            CouncilSsd.model_validate({"worker_roles": bad})


def test_a_rule_still_set_in_the_environment_stops_the_start_and_says_where_it_is_kept_now(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A council's rule an earlier release read from ONERETURN_SSD_WORKER_ROLES is not dropped without a word."""
    for variable, kept in MOVED.items():
        monkeypatch.setenv(variable, "synthetic_county=SW")
        with pytest.raises(ConfigurationError, match=rf"{variable} \(now its agency's {re.escape(kept)}\)"):
            load_settings()
        monkeypatch.delenv(variable)
    monkeypatch.setenv("ONERETURN_SSD_WORKER_ROLES", " ")
    assert load_settings() is not None


@pytest.mark.parametrize("roles", [["SW", "XX"], []])
def test_the_councils_rule_reaches_the_kept_rows_and_annex_as_front_sheet(
    store: Engine, tmp_path: Path, roles: list[str]
) -> None:
    set_council_ssd(store, "synthetic_county", worker_roles=roles)
    settings = Settings(data_dir=tmp_path / "data")
    path = _path(tmp_path)
    made = made_from(store, settings, "synthetic_county", "2024-25", path.name, path)
    assert any("names role(s) no involvement in the extract has: XX" in n for n in made.notes) == bool(roles)
    keep_from_extract(store, settings, "synthetic_county", "2024-25", path.name, made.annex_a, "test")
    with Session(store) as session:
        kept = newest_from_extract(session, settings, "synthetic_county")
        assert kept is not None
        assert sorted(kept.tables["involvements"]["worker"]) == (
            ["Ann Able", "Eve Ellis"] if roles else ["Ann Able", "Bob Brook", "Cat Cole", "Eve Ellis", "Fay Ford"]
        )
        notes = build_annex_a(session, settings, "synthetic_county", INSPECTION).notes
    said = "only involvements of the council's role(s) SW, XX count" if roles else "every involvement counts"
    assert [n for n in notes if n.startswith("Allocated team and worker (SSD)")] == [kept.worker_rule()]
    assert said in (kept.worker_rule() or "")
