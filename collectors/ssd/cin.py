"""The CIN census XML of a collection year made from a checked SSD extract, item by item as the year's mapping
(``collectors/ssd/maps/<year>.csv``) says, in the element order of DfE's schema as the record-level path reads it.

Readings where the SSD's definitions leave a choice (each with its source):

- A child is in the census when one of their referrals (``ssd_cin_episodes``) is open at some time in the year:
  referred on or before 31 March and not closed before 1 April (DfE's census counts children in need during the
  year; D2I's CIN census tool, CiNcensus_sqlserver_v1.2.0, lines 266-276, selects people by their episodes).
  A contact alone puts no child in the census.
- Every assessment, plan, section 47 enquiry and protection plan of an episode in the census is written, joined
  by the episode's referral id (D2I's tool joins them by ``*_referral_id`` with no date filter, lines 180-250).
- ``NumberOfPreviousCPP`` counts the child's protection plans that started before this one (issue 64's reading;
  D2I's tool, line 222, counts every plan of the child, this one included).
- ``ICPCnotRequired`` is true when the enquiry's ``s47e_s47_nfa`` is Y (the SSD spec maps S47E006A to it);
  the conference's dates come from the ``ssd_initial_cp_conference`` row naming the enquiry.
- A child with no ``ssd_disability`` row has the disability NONE (issue 64; DfE's code list has NONE).
- Sex is M or F as the SSD writes it, anything else U (D2I's tool, line 152).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import date
from typing import Any

import polars as pl

from collectors.records.ssda903_tables import CollectionYear
from collectors.ssd.intake import Extract
from collectors.ssd.spec import FLAGS, as_date

#: Each SSD table the census reads, its columns as the readings need them (a table not given is empty).
TABLES: dict[str, tuple[str, ...]] = {
    "ssd_person": ("pers_person_id", "pers_upn", "pers_upn_unknown", "pers_dob",
                   "pers_expected_dob", "pers_death_date", "pers_sex", "pers_ethnicity"),
    "ssd_disability": ("disa_person_id", "disa_disability_code"),
    "ssd_cin_episodes": ("cine_referral_id", "cine_person_id", "cine_referral_date", "cine_referral_source_code",
                         "cine_cin_primary_need_code", "cine_close_date", "cine_close_reason", "cine_referral_nfa"),
    "ssd_cin_assessments": ("cina_assessment_id", "cina_referral_id", "cina_assessment_start_date",
                            "cina_assessment_auth_date"),
    "ssd_assessment_factors": ("cinf_assessment_id", "cinf_assessment_factors_json"),
    "ssd_cin_plans": ("cinp_referral_id", "cinp_cin_plan_start_date", "cinp_cin_plan_end_date"),
    "ssd_s47_enquiry": ("s47e_s47_enquiry_id", "s47e_referral_id", "s47e_s47_start_date", "s47e_s47_nfa"),
    "ssd_initial_cp_conference": ("icpc_s47_enquiry_id", "icpc_icpc_target_date", "icpc_icpc_date"),
    "ssd_cp_plans": ("cppl_cp_plan_id", "cppl_referral_id", "cppl_person_id", "cppl_cp_plan_start_date",
                     "cppl_cp_plan_end_date", "cppl_cp_plan_initial_category", "cppl_cp_plan_latest_category"),
    "ssd_cp_reviews": ("cppr_cp_plan_id", "cppr_cp_review_date"),
}  # fmt: skip


def table(extract: Extract, name: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """The extract's table with ``columns`` (blank where the table or a column is not given), dates typed."""
    frame = extract.tables.get(name, pl.DataFrame())
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in columns if c not in frame.columns)
    dated = [c for c in columns if "date" in c or c.endswith("_dob")]
    return frame.select(columns).with_columns(as_date(pl.col(c)).alias(c) for c in dated)


def coded(extract: Extract, column: str, value: str | None) -> str | None:
    """DfE's code for an SSD value: the council's map where it names one, else the value as written."""
    return None if value is None else extract.code_map.get((column, value), value)


def _group(frame: pl.DataFrame, by: str, order: str | None = None) -> dict[str, list[dict[str, Any]]]:
    if order is not None:
        frame = frame.sort(order, nulls_last=True, maintain_order=True)
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in frame.iter_rows(named=True):
        if row[by] is not None:
            grouped[row[by]].append(row)
    return grouped


def _leaf(parent: ET.Element, name: str, value: object) -> None:
    if value is not None:
        ET.SubElement(parent, name).text = value.isoformat() if isinstance(value, date) else str(value)


def _flag(value: str | None) -> str | None:
    return None if value is None else ("true" if FLAGS.get(value) else "false")


def open_episodes(extract: Extract, year: CollectionYear) -> pl.DataFrame:
    """The referrals open at some time in the year, in the order the extract gives them."""
    episodes = table(extract, "ssd_cin_episodes", TABLES["ssd_cin_episodes"])
    return episodes.filter(
        (pl.col("cine_referral_date") <= year.end)
        & (pl.col("cine_close_date").is_null() | (pl.col("cine_close_date") >= year.start))
    )


def make_cin(extract: Extract, year: CollectionYear, lea: str) -> bytes:
    """The year's CIN census XML from the extract, for the council of DfE number ``lea``."""
    t = {name: table(extract, name, columns) for name, columns in TABLES.items()}
    episodes = _group(open_episodes(extract, year), "cine_person_id", "cine_referral_date")
    plans = t["ssd_cp_plans"]
    earlier = plans.join(
        plans.select("cppl_person_id", pl.col("cppl_cp_plan_start_date").alias("_other")), on="cppl_person_id"
    ).filter(pl.col("_other") < pl.col("cppl_cp_plan_start_date"))
    previous = dict(earlier.group_by("cppl_cp_plan_id").len().iter_rows())
    factors = _group(t["ssd_assessment_factors"], "cinf_assessment_id")
    conferences = _group(t["ssd_initial_cp_conference"], "icpc_s47_enquiry_id", "icpc_icpc_date")
    parts = {
        "assessments": _group(t["ssd_cin_assessments"], "cina_referral_id", "cina_assessment_start_date"),
        "plans": _group(t["ssd_cin_plans"], "cinp_referral_id", "cinp_cin_plan_start_date"),
        "s47": _group(t["ssd_s47_enquiry"], "s47e_referral_id", "s47e_s47_start_date"),
        "cpps": _group(plans, "cppl_referral_id", "cppl_cp_plan_start_date"),
        "reviews": _group(t["ssd_cp_reviews"], "cppr_cp_plan_id", "cppr_cp_review_date"),
    }
    disabilities = _group(t["ssd_disability"], "disa_person_id")
    message = _header(year, lea)
    listing = ET.SubElement(message, "Children")
    for person in t["ssd_person"].iter_rows(named=True):
        mine = episodes.get(person["pers_person_id"])
        if not mine:
            continue
        child = _child(extract, person, disabilities.get(person["pers_person_id"], []))
        for episode in mine:
            child.append(_details(extract, episode, parts, factors, conferences, previous))
        listing.append(child)
    ET.indent(message)
    # Written as text and encoded once: the encoding writer resets its codec at every element, five times slower.
    return b"<?xml version='1.0' encoding='utf-8'?>\n" + ET.tostring(message, encoding="unicode").encode() + b"\n"


def _header(year: CollectionYear, lea: str) -> ET.Element:
    message = ET.Element("Message")
    header = ET.SubElement(message, "Header")
    details = ET.SubElement(header, "CollectionDetails")
    for name, value in (("Collection", "CIN"), ("Year", str(year.ending)), ("ReferenceDate", year.end.isoformat())):
        ET.SubElement(details, name).text = value
    source = ET.SubElement(header, "Source")
    for name, value in (
        ("SourceLevel", "L"),
        ("LEA", lea),
        ("SoftwareCode", "onereturn from the SSD extract"),
        ("Release", "1"),
        ("SerialNo", "001"),
        ("DateTime", f"{year.end.isoformat()}T00:00:00"),
    ):
        ET.SubElement(source, name).text = value
    return message


def _child(extract: Extract, person: dict[str, Any], disabilities: list[dict[str, Any]]) -> ET.Element:
    child = ET.Element("Child")
    ids = ET.SubElement(child, "ChildIdentifiers")
    _leaf(ids, "LAchildID", person["pers_person_id"])
    _leaf(ids, "UPN", person["pers_upn"])
    _leaf(ids, "UPNunknown", person["pers_upn_unknown"])
    _leaf(ids, "PersonBirthDate", person["pers_dob"])
    _leaf(ids, "ExpectedPersonBirthDate", person["pers_expected_dob"])
    sex = coded(extract, "pers_sex", person["pers_sex"])
    _leaf(ids, "Sex", sex if sex in ("M", "F") else "U")
    _leaf(ids, "PersonDeathDate", person["pers_death_date"])
    chars = ET.SubElement(child, "ChildCharacteristics")
    _leaf(chars, "Ethnicity", coded(extract, "pers_ethnicity", person["pers_ethnicity"]))
    held = ET.SubElement(chars, "Disabilities")
    codes = [coded(extract, "disa_disability_code", d["disa_disability_code"]) for d in disabilities]
    for code in [c for c in codes if c] or ["NONE"]:
        _leaf(held, "Disability", code)
    return child


def _details(
    extract: Extract,
    episode: dict[str, Any],
    parts: dict[str, dict[str, list[dict[str, Any]]]],
    factors: dict[str, list[dict[str, Any]]],
    conferences: dict[str, list[dict[str, Any]]],
    previous: dict[str, int],
) -> ET.Element:
    details = ET.Element("CINdetails")
    referral = episode["cine_referral_id"]
    _leaf(details, "CINreferralDate", episode["cine_referral_date"])
    _leaf(details, "ReferralSource", coded(extract, "cine_referral_source_code", episode["cine_referral_source_code"]))
    _leaf(
        details, "PrimaryNeedCode", coded(extract, "cine_cin_primary_need_code", episode["cine_cin_primary_need_code"])
    )
    _leaf(details, "CINclosureDate", episode["cine_close_date"])
    _leaf(details, "ReasonForClosure", coded(extract, "cine_close_reason", episode["cine_close_reason"]))
    for a in parts["assessments"].get(referral, []):
        block = ET.SubElement(details, "Assessments")
        _leaf(block, "AssessmentActualStartDate", a["cina_assessment_start_date"])
        _leaf(block, "AssessmentAuthorisationDate", a["cina_assessment_auth_date"])
        found = [
            f
            for row in factors.get(a["cina_assessment_id"], [])
            for f in factor_codes(row["cinf_assessment_factors_json"])
        ]
        if found:
            listed = ET.SubElement(block, "FactorsIdentifiedAtAssessment")
            for factor in found:
                _leaf(listed, "AssessmentFactors", coded(extract, "cinf_assessment_factors_json", factor))
    for p in parts["plans"].get(referral, []):
        block = ET.SubElement(details, "CINPlanDates")
        _leaf(block, "CINPlanStartDate", p["cinp_cin_plan_start_date"])
        _leaf(block, "CINPlanEndDate", p["cinp_cin_plan_end_date"])
    for s in parts["s47"].get(referral, []):
        block = ET.SubElement(details, "Section47")
        conference = next(iter(conferences.get(s["s47e_s47_enquiry_id"], [])), {})
        _leaf(block, "S47ActualStartDate", s["s47e_s47_start_date"])
        _leaf(block, "InitialCPCtarget", conference.get("icpc_icpc_target_date"))
        _leaf(block, "DateOfInitialCPC", conference.get("icpc_icpc_date"))
        _leaf(block, "ICPCnotRequired", _flag(s["s47e_s47_nfa"]))
    _leaf(details, "ReferralNFA", _flag(episode["cine_referral_nfa"]))
    for c in parts["cpps"].get(referral, []):
        block = ET.SubElement(details, "ChildProtectionPlans")
        _leaf(block, "CPPstartDate", c["cppl_cp_plan_start_date"])
        _leaf(block, "CPPendDate", c["cppl_cp_plan_end_date"])
        _leaf(
            block,
            "InitialCategoryOfAbuse",
            coded(extract, "cppl_cp_plan_initial_category", c["cppl_cp_plan_initial_category"]),
        )
        _leaf(
            block,
            "LatestCategoryOfAbuse",
            coded(extract, "cppl_cp_plan_latest_category", c["cppl_cp_plan_latest_category"]),
        )
        _leaf(block, "NumberOfPreviousCPP", previous.get(c["cppl_cp_plan_id"], 0))
        reviews = parts["reviews"].get(c["cppl_cp_plan_id"], [])
        if reviews:
            held = ET.SubElement(block, "Reviews")
            for r in reviews:
                _leaf(held, "CPPreviewDate", r["cppr_cp_review_date"])
    return details


def factor_codes(text: str | None) -> list[str]:
    """The factor codes of an ``cinf_assessment_factors_json`` cell: a JSON list of codes (``["1A", "2B"]``)."""
    if text is None:
        return []
    found = json.loads(text)
    return [str(f).strip() for f in found] if isinstance(found, list) else []
