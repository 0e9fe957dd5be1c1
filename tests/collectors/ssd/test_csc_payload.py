"""DfE's children's social care payloads from an SSD extract: DfE's structure, values checked by hand on a tiny
extract, DfE's cohort and window, purge flags, the hash (stable, and changed by one row), names and postcodes only
where switched on."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cli.synthetic.ssd import synthetic_ssd
from collectors.ssd.intake import Extract, read_extract, unpack
from collectors.ssd.payload import kept_items, payload_hash, source_code, window
from collectors.ssd.payload_build import build
from collectors.ssd.spec import mapping
from tests.collectors.ssd.ssd_samples import extract_zip

#: DfE's payload structure, field names and nesting, as Data to Insight's docs/json_payload_structure.md gives it
#: (spec v0.7/0.8; data-to-insight/dfe-csc-api-data-flows at commit 41e6f19): each field's type,
#: a dict for an object and a one-member list for a list of that. Every field may be absent (DfE's own sample
#: payloads leave out what a child has not), none other may be there.
DATE, TEXT, FLAG, NUMBER = "date", "text", "flag", "number"
PURGE = {"purge": FLAG}
STRUCTURE: dict[str, Any] = {
    "la_child_id": TEXT, "mis_child_id": TEXT, **PURGE,
    "child_details": {
        "unique_pupil_number": TEXT, "former_unique_pupil_number": TEXT, "unique_pupil_number_unknown_reason": TEXT,
        "first_name": TEXT, "surname": TEXT, "date_of_birth": DATE, "expected_date_of_birth": DATE, "sex": TEXT,
        "ethnicity": TEXT, "disabilities": [TEXT], "postcode": TEXT, "uasc_flag": FLAG, "uasc_end_date": DATE, **PURGE,
    },
    "health_and_wellbeing": {"sdq_assessments": [{"date": DATE, "score": NUMBER}], **PURGE},
    "social_care_episodes": [{
        "social_care_episode_id": TEXT, "referral_date": DATE, "referral_source": TEXT,
        "referral_no_further_action_flag": FLAG, "closure_date": DATE, "closure_reason": TEXT,
        "care_worker_details": [{"worker_id": TEXT, "start_date": DATE, "end_date": DATE}],
        "child_and_family_assessments": [{"child_and_family_assessment_id": TEXT, "start_date": DATE,
                                          "authorisation_date": DATE, "factors": [TEXT], **PURGE}],
        "child_in_need_plans": [{"child_in_need_plan_id": TEXT, "start_date": DATE, "end_date": DATE, **PURGE}],
        "section_47_assessments": [{"section_47_assessment_id": TEXT, "start_date": DATE, "icpc_required_flag": FLAG,
                                    "icpc_date": DATE, "end_date": DATE, **PURGE}],
        "child_protection_plans": [{"child_protection_plan_id": TEXT, "start_date": DATE, "end_date": DATE, **PURGE}],
        "child_looked_after_placements": [{"child_looked_after_placement_id": TEXT, "start_date": DATE,
                                           "start_reason": TEXT, "placement_type": TEXT, "postcode": TEXT,
                                           "end_date": DATE, "end_reason": TEXT, "change_reason": TEXT, **PURGE}],
        "adoption": {"initial_decision_date": DATE, "matched_date": DATE, "placed_date": DATE, **PURGE},
        "care_leavers": {"contact_date": DATE, "activity": TEXT, "accommodation": TEXT, **PURGE},
        **PURGE,
    }],
}  # fmt: skip
RUN = date(2025, 6, 1)


def conforms(value: Any, shape: Any, where: str = "$") -> list[str]:
    """Where ``value`` departs from DfE's structure ``shape`` (empty when it conforms)."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where} is not an object"]
        wrong = [f"{where}.{k} is not a field of DfE's structure" for k in value if k not in shape]
        return wrong + [p for k, v in value.items() if k in shape for p in conforms(v, shape[k], f"{where}.{k}")]
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where} is not a list"]
        return [p for n, v in enumerate(value) for p in conforms(v, shape[0], f"{where}[{n}]")]
    return [] if KINDS[shape](value) else [f"{where} is not a {shape}"]


def _is_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and len(value) == 10 and date.fromisoformat(value) is not None
    except ValueError:
        return False


KINDS = {
    TEXT: lambda v: isinstance(v, str) and v != "",
    FLAG: lambda v: isinstance(v, bool),
    NUMBER: lambda v: isinstance(v, int) and not isinstance(v, bool),
    DATE: _is_date,
}


def tables(rows: dict[str, list[str]]) -> dict[str, str | bytes]:
    """CSV members from a heading and rows per table."""
    return {f"{name}.csv": "\n".join(lines) + "\n" for name, lines in rows.items()}


TINY = {
    "ssd_person": [
        "pers_person_id,pers_legacy_id,pers_sex,pers_dob,pers_ethnicity,pers_upn,pers_upn_unknown,pers_forename,"
        "pers_surname",
        "C1,L1,F,2015-06-01,WBRI,A123456789012,,Alice,Smith",
        "C2,,M,2012-02-03 00:00:00.000,BAFR,,UN2,Ben,Jones",
        "C3,,F,1990-01-01,WBRI,,UN1,,",
        "C4,,F,2016-01-01,WBRI,,UN1,,",
        "C5,,U,2014-03-03,WBRI,,UN1,,",
    ],
    "ssd_cin_episodes": [
        "cine_referral_id,cine_person_id,cine_referral_date,cine_referral_source_code,cine_referral_nfa,cine_close_date,"
        "cine_close_reason",
        "R1,C1,2024-05-10,1A,N,,",
        "R2,C2,2024-06-11 09:30:00,3A,Y,2025-01-15,RC8",
        "R3,C3,2024-01-01,1A,N,,",
        "R5,C5,2019-01-01,1A,N,2020-01-01,RC1",
    ],
    "ssd_cin_assessments": [
        "cina_assessment_id,cina_person_id,cina_referral_id,cina_assessment_start_date,cina_assessment_auth_date",
        "A1,C1,R1,2024-05-12,2024-05-20",
        "A0,C1,R1,2022-01-01,2022-02-01",
    ],
    "ssd_assessment_factors": [
        "cinf_table_id,cinf_assessment_id,cinf_assessment_factors_json",
        'F1,A1,"[""1C"",""4A""]"',
    ],
    "ssd_cin_plans": [
        "cinp_cin_plan_id,cinp_referral_id,cinp_person_id,cinp_cin_plan_start_date",
        "P1,R1,C1,2024-06-01",
    ],
    "ssd_s47_enquiry": [
        "s47e_s47_enquiry_id,s47e_referral_id,s47e_person_id,s47e_s47_start_date,s47e_s47_end_date,s47e_s47_nfa",
        "S1,R1,C1,2024-05-11,2024-05-30,N",
    ],
    "ssd_initial_cp_conference": [
        "icpc_icpc_id,icpc_s47_enquiry_id,icpc_person_id,icpc_referral_id,icpc_icpc_date",
        "I1,S1,C1,R1,2024-06-05",
    ],
    "ssd_cp_plans": ["cppl_cp_plan_id,cppl_referral_id,cppl_person_id,cppl_cp_plan_start_date", "CP1,R1,C1,2024-06-05"],
    "ssd_disability": ["disa_table_id,disa_person_id,disa_disability_code", "D2,C1,VIS", "D1,C1,HAND"],
    "ssd_address": [
        "addr_table_id,addr_person_id,addr_address_type,addr_address_start_date,addr_address_postcode",
        "H1,C1,HOME,2020-01-01,AB1 2CD",
        "H2,C1,HOME,2024-01-01,EF3 4GH",
    ],
    "ssd_immigration_status": [
        "immi_immigration_status_id,immi_person_id,immi_immigration_status,immi_immigration_status_start_date,"
        "immi_immigration_status_end_date",
        "U1,C2,UASC,2024-06-01,2026-01-01",
    ],
    "ssd_sdq_scores": [
        "csdq_table_id,csdq_person_id,csdq_sdq_completed_date,csdq_sdq_score",
        "Q1,C2,2024-09-01,14",
        "Q2,C2,2020-01-01,20",
    ],
    "ssd_cla_episodes": [
        "clae_cla_episode_id,clae_person_id,clae_cla_episode_start_date,clae_cla_episode_start_reason,"
        "clae_cla_episode_ceased_date,clae_cla_episode_ceased_reason,clae_cla_id,clae_cla_placement_id,clae_referral_id",
        "E1,C2,2024-06-20,L,2025-01-10,E41,LAC2,PL1,R2",
        "E5,C5,2024-07-01,S,,,LAC5,PL5,",
    ],
    "ssd_cla_placement": [
        "clap_cla_placement_id,clap_cla_id,clap_person_id,clap_cla_placement_start_date,clap_cla_placement_end_date,"
        "clap_cla_placement_type,clap_cla_placement_postcode,clap_cla_placement_change_reason",
        "PL1,LAC2,C2,2024-06-20,2025-01-10,K2,DE1 1AA,CHILD",
        "PL5,LAC5,C5,2024-07-01,,R1,DE2 2BB,",
    ],
    "ssd_care_leavers": [
        "clea_table_id,clea_person_id,clea_care_leaver_latest_contact,clea_care_leaver_activity,"
        "clea_care_leaver_accommodation",
        "CL1,C2,2025-02-01,F2,B",
    ],
    "ssd_permanence": ["perm_table_id,perm_person_id,perm_adm_decision_date", "PM1,C2,2024-09-01"],
    "ssd_involvements": [
        "invo_involvements_id,invo_person_id,invo_professional_id,invo_professional_role_id,invo_referral_id,"
        "invo_involvement_start_date,invo_involvement_end_date",
        "V1,C1,W1,CW,R1,2024-06-02,",
        "V2,C1,W2,SW,R1,2024-06-02,",
    ],
    "ssd_professionals": ["prof_professional_id,prof_social_worker_registration_no", "W1,SW123456", "W2,SW999"],
    "ssd_linked_identifiers": [
        "link_table_id,link_person_id,link_identifier_type,link_identifier_value,link_valid_from_date",
        "LI1,C1,Former Unique Pupil Number,B123456789012,2019-01-01",
    ],
}


def read(path: Path, *, identifiers: bool) -> Extract:
    """The extract at ``path`` read and checked as an upload reads it, with the payload's columns kept."""
    widened = dataclasses.replace(
        mapping("2024-25"), items=(*mapping("2024-25").items, *kept_items(identifiers=identifiers))
    )
    return read_extract(unpack(path, path.name, max_unpacked=10**8), widened)


def tiny(tmp_path: Path, *, identifiers: bool = True, **changed: list[str]) -> list[dict[str, Any]]:
    """The tiny extract's payloads on ``RUN``, with ``changed`` tables in place of its own."""
    path = extract_zip(tmp_path / f"tiny-{len(list(tmp_path.iterdir()))}.zip", tables({**TINY, **changed}))
    return build(read(path, identifiers=identifiers), RUN, identifiers=identifiers)


def test_dfes_window_is_the_april_24_months_back_to_the_day_after_the_run() -> None:
    w = window(RUN)
    assert (w.start, w.end, w.census_dates) == (date(2023, 4, 1), date(2025, 6, 2), (date(2025, 3, 31),))
    # A run in March reaches back to the April of the year before the one 24 months back.
    assert window(date(2025, 3, 15)).start == date(2022, 4, 1)


def test_the_tiny_extracts_payloads_hold_the_values_checked_by_hand(tmp_path: Path) -> None:
    payloads = tiny(tmp_path)
    # C3 is 26 before the window starts and C4 has no social care: neither is in DfE's cohort. C5 is, by a placement
    # in the window (its referral closed in 2020), with no episode of the window to hang it on.
    assert [p["la_child_id"] for p in payloads] == ["C1", "C2", "C5"]
    first, second, fifth = payloads
    assert first == {
        "la_child_id": "C1", "mis_child_id": "L1", "purge": False,
        "child_details": {
            "unique_pupil_number": "A123456789012", "former_unique_pupil_number": "B123456789012",
            "first_name": "Alice", "surname": "Smith", "date_of_birth": "2015-06-01", "sex": "F",
            "ethnicity": "WBRI", "disabilities": ["HAND", "VIS"], "postcode": "EF3 4GH", "uasc_flag": False,
            "purge": False,
        },
        "social_care_episodes": [{
            "social_care_episode_id": "R1", "referral_date": "2024-05-10", "referral_source": "1A",
            "referral_no_further_action_flag": False,
            "child_and_family_assessments": [{"child_and_family_assessment_id": "A1", "start_date": "2024-05-12",
                                              "authorisation_date": "2024-05-20", "factors": ["1C", "4A"],
                                              "purge": False}],
            "child_in_need_plans": [{"child_in_need_plan_id": "P1", "start_date": "2024-06-01", "purge": False}],
            "section_47_assessments": [{"section_47_assessment_id": "S1", "start_date": "2024-05-11",
                                        "icpc_required_flag": True, "icpc_date": "2024-06-05",
                                        "end_date": "2024-05-30", "purge": False}],
            "child_protection_plans": [{"child_protection_plan_id": "CP1", "start_date": "2024-06-05",
                                        "purge": False}],
            "care_worker_details": [{"worker_id": "SW123456", "start_date": "2024-06-02"}],
            "purge": False,
        }],
    }  # fmt: skip
    details = second["child_details"]
    assert "unique_pupil_number" not in details
    assert (details["unique_pupil_number_unknown_reason"], details["date_of_birth"]) == ("UN2", "2012-02-03")
    assert (details["uasc_flag"], details["uasc_end_date"], details["disabilities"]) == (True, "2026-01-01", ["NONE"])
    assert second["health_and_wellbeing"] == {"sdq_assessments": [{"date": "2024-09-01", "score": 14}], "purge": False}
    (episode,) = second["social_care_episodes"]
    assert (episode["closure_date"], episode["closure_reason"], episode["referral_no_further_action_flag"]) == (
        "2025-01-15", "RC8", True,
    )  # fmt: skip
    assert episode["child_looked_after_placements"] == [{
        "child_looked_after_placement_id": "PL1", "start_date": "2024-06-20", "start_reason": "L",
        "placement_type": "K2", "postcode": "DE1 1AA", "end_date": "2025-01-10", "end_reason": "E41",
        "change_reason": "CHILD", "purge": False,
    }]  # fmt: skip
    assert episode["adoption"] == {"initial_decision_date": "2024-09-01", "purge": False}
    assert episode["care_leavers"] == {"contact_date": "2025-02-01", "activity": "F2", "accommodation": "B",
                                       "purge": False}  # fmt: skip
    # R2 has no CIN plan in the window: DfE's builder gives its case workers only where it has.
    assert "care_worker_details" not in episode
    assert fifth["child_details"]["sex"] == "U"
    assert "social_care_episodes" not in fifth


def purges(value: Any) -> list[Any]:
    """Every purge flag in a payload, at every level."""
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "purge"] + [p for v in value.values() for p in purges(v)]
    if isinstance(value, list):
        return [p for v in value for p in purges(v)]
    return []


def test_every_payload_is_in_dfes_structure_with_every_purge_flag_false(tmp_path: Path) -> None:
    path = synthetic_ssd(7, 40, "2024-25", tmp_path / "ssd", looked_after=20, la="E10000007")
    payloads = build(read(path, identifiers=True), RUN, identifiers=True) + tiny(tmp_path)
    assert len(payloads) > 40
    for payload in payloads:
        assert conforms(payload, STRUCTURE) == [], payload["la_child_id"]
        # DfE's builder never asks DfE to purge a record (populate lines 746, 820, ...): every flag false.
        flags = purges(payload)
        assert flags
        assert not any(flags)
    assert conforms({"la_child_id": "C1", "child_details": {"nickname": "x"}}, STRUCTURE)


def test_the_hash_is_stable_across_two_identical_extracts_and_moves_with_one_childs_row(tmp_path: Path) -> None:
    once, again = tiny(tmp_path), tiny(tmp_path)
    assert [payload_hash(p) for p in once] == [payload_hash(p) for p in again]
    person = list(TINY["ssd_person"])
    person[2] = person[2].replace("BAFR", "WBRI")
    changed = tiny(tmp_path, ssd_person=person)
    moved = [p["la_child_id"] for p, q in zip(once, changed, strict=True) if payload_hash(p) != payload_hash(q)]
    assert moved == ["C2"]
    # The hash is SHA-256 of the canonical JSON of the payload without its system ids and purge flags.
    renamed = json.loads(json.dumps(once[0]).replace('"R1"', '"R1-new"'))
    assert payload_hash(renamed) == payload_hash(once[0])
    assert len(payload_hash(once[0])) == 64


def test_names_upns_and_postcodes_are_absent_unless_switched_on(tmp_path: Path) -> None:
    payloads = tiny(tmp_path, identifiers=False)
    text = json.dumps(payloads)
    for value in ("Alice", "Smith", "A123456789012", "B123456789012", "EF3 4GH", "DE1 1AA", "DE2 2BB"):
        assert value not in text
    for payload in payloads:
        assert not {"first_name", "surname", "unique_pupil_number", "former_unique_pupil_number", "postcode"} & set(
            payload["child_details"]
        )
    # Switched off, the names are dropped at intake, as before: the extract read keeps no column of them.
    path = extract_zip(tmp_path / "off.zip", tables(TINY))
    kept = read(path, identifiers=False).tables["ssd_person"].columns
    assert "pers_forename" not in kept
    assert "pers_surname" not in kept
    assert "pers_forename" in read(path, identifiers=True).tables["ssd_person"].columns


@pytest.mark.parametrize(("source", "said"), [("10a", "10"), ("3a ", "3A"), ("5D", "5D"), ("6", "6"), ("5E", None)])
def test_the_referral_source_is_coerced_as_dfes_builder_does(source: str, said: str | None) -> None:
    assert source_code(source) == said
