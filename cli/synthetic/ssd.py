"""A synthetic Standard Safeguarding Dataset extract, ILLUSTRATIVE ONLY, made from the same made-up children as the
synthetic CIN census and SSDA903 of the same seed, sizes and year: each item of those files becomes the SSD column
the service's mapping (``collectors/ssd/maps/<year>.csv``) makes it from, so both routes can be compared figure by
figure. Tables of the SSD no return reads here are left out (the SSD allows absent tables).

Where one return item stands for several SSD rows, the extract holds the rows the SSD's readings give back: an
episode's legal status and home address each a row starting and ending with the episode; a protection plan's
NumberOfPreviousCPP as that many earlier plans, in referrals closed years before the census; a decision to place
for adoption (PlacedAdoption) one ``ssd_permanence`` row, holding the adopters of the child's AD1 row when its
DATE_INT is that decision's day.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

from cli.synthetic.cin import synthetic_cin
from cli.synthetic.common import SYNTHETIC_LA, collection_year
from cli.synthetic.ssd_annex_a import annex_a_rows
from cli.synthetic.ssda903 import synthetic_903
from collectors.ssd.spec import tables

Rows = dict[str, list[dict[str, str]]]
FLAG = {"true": "Y", "false": "N", "1": "Y", "0": "N"}
SEX = {"1": "M", "2": "F"}


def synthetic_ssd(
    seed: int, children: int, year: str, out: Path, *, looked_after: int | None = None, la: str = SYNTHETIC_LA
) -> Path:
    """Write an ILLUSTRATIVE SSD extract ZIP: the CIN census of ``children`` and the SSDA903 of ``looked_after``
    (default ``children``) made-up children, both of ``seed``; return its path."""
    collection = collection_year(year)
    with tempfile.TemporaryDirectory(prefix="onereturn-synthetic-ssd-") as work:
        cin = synthetic_cin(seed, children, year, Path(work), la=la)
        files = synthetic_903(seed, looked_after or children, year, Path(work), la=la)
        rows: Rows = defaultdict(list)
        _from_cin(cin.read_bytes(), rows, collection.start)
        _from_903({p.name: p for p in files}, rows)
        _health({p.name: p for p in files}, rows, collection.start)
        annex_a_rows(rows, seed, collection.end)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"ssd_extract_{collection.ending}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, found in sorted(rows.items()):
            columns = list(tables()[name].columns)
            columns += sorted({k for r in found for k in r} - set(columns))
            text = io.StringIO()
            writer = csv.DictWriter(text, columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(found)
            archive.writestr(f"{name}.csv", text.getvalue())
    return path


def _text(parent: ET.Element | None, name: str) -> str:
    found = parent.find(name) if parent is not None else None
    return (found.text or "").strip() if found is not None else ""


def _from_cin(data: bytes, rows: Rows, year_start: date) -> None:
    root = ET.fromstring(data)
    for child in root.iter("Child"):
        ids, chars = child.find("ChildIdentifiers"), child.find("ChildCharacteristics")
        person = _text(ids, "LAchildID")
        rows["ssd_person"].append(
            {
                "pers_person_id": person,
                "pers_legacy_id": person,
                "pers_upn": _text(ids, "UPN"),
                "pers_upn_unknown": _text(ids, "UPNunknown"),
                "pers_dob": _text(ids, "PersonBirthDate"),
                "pers_expected_dob": _text(ids, "ExpectedPersonBirthDate"),
                "pers_sex": _text(ids, "Sex"),
                "pers_death_date": _text(ids, "PersonDeathDate"),
                "pers_ethnicity": _text(chars, "Ethnicity"),
            }
        )
        for n, disability in enumerate(child.iter("Disability")):
            if (disability.text or "").strip() != "NONE":
                rows["ssd_disability"].append(
                    {
                        "disa_table_id": f"{person}-D{n}",
                        "disa_person_id": person,
                        "disa_disability_code": (disability.text or "").strip(),
                    }
                )
        first_plan = True
        for e, details in enumerate(child.iter("CINdetails")):
            referral = f"{person}-R{e}"
            rows["ssd_cin_episodes"].append(
                {
                    "cine_referral_id": referral,
                    "cine_person_id": person,
                    "cine_referral_date": _text(details, "CINreferralDate"),
                    "cine_referral_source_code": _text(details, "ReferralSource"),
                    "cine_cin_primary_need_code": _text(details, "PrimaryNeedCode"),
                    "cine_close_date": _text(details, "CINclosureDate"),
                    "cine_close_reason": _text(details, "ReasonForClosure"),
                    "cine_referral_nfa": FLAG.get(_text(details, "ReferralNFA"), ""),
                }
            )
            _modules(details, person, referral, rows)
            for p, plan in enumerate(details.findall("ChildProtectionPlans")):
                if first_plan:
                    _earlier_plans(plan, person, rows, year_start)
                    first_plan = False
                _plan(plan, person, referral, f"{referral}-P{p}", rows)


def _modules(details: ET.Element, person: str, referral: str, rows: Rows) -> None:
    for a, block in enumerate(details.findall("Assessments")):
        assessment = f"{referral}-A{a}"
        rows["ssd_cin_assessments"].append(
            {
                "cina_assessment_id": assessment,
                "cina_person_id": person,
                "cina_referral_id": referral,
                "cina_assessment_start_date": _text(block, "AssessmentActualStartDate"),
                "cina_assessment_auth_date": _text(block, "AssessmentAuthorisationDate"),
            }
        )
        factors = [(f.text or "").strip() for f in block.iter("AssessmentFactors")]
        if factors:
            rows["ssd_assessment_factors"].append(
                {
                    "cinf_table_id": assessment,
                    "cinf_assessment_id": assessment,
                    "cinf_assessment_factors_json": json.dumps(factors),
                }
            )
    for p, block in enumerate(details.findall("CINPlanDates")):
        rows["ssd_cin_plans"].append(
            {
                "cinp_cin_plan_id": f"{referral}-C{p}",
                "cinp_referral_id": referral,
                "cinp_person_id": person,
                "cinp_cin_plan_start_date": _text(block, "CINPlanStartDate"),
                "cinp_cin_plan_end_date": _text(block, "CINPlanEndDate"),
            }
        )
    for s, block in enumerate(details.findall("Section47")):
        enquiry = f"{referral}-S{s}"
        rows["ssd_s47_enquiry"].append(
            {
                "s47e_s47_enquiry_id": enquiry,
                "s47e_referral_id": referral,
                "s47e_person_id": person,
                "s47e_s47_start_date": _text(block, "S47ActualStartDate"),
                "s47e_s47_nfa": FLAG.get(_text(block, "ICPCnotRequired"), ""),
            }
        )
        if _text(block, "InitialCPCtarget") or _text(block, "DateOfInitialCPC"):
            rows["ssd_initial_cp_conference"].append(
                {
                    "icpc_icpc_id": enquiry,
                    "icpc_s47_enquiry_id": enquiry,
                    "icpc_person_id": person,
                    "icpc_referral_id": referral,
                    "icpc_icpc_target_date": _text(block, "InitialCPCtarget"),
                    "icpc_icpc_date": _text(block, "DateOfInitialCPC"),
                }
            )


def _plan(plan: ET.Element, person: str, referral: str, plan_id: str, rows: Rows) -> None:
    rows["ssd_cp_plans"].append(
        {
            "cppl_cp_plan_id": plan_id,
            "cppl_referral_id": referral,
            "cppl_person_id": person,
            "cppl_cp_plan_start_date": _text(plan, "CPPstartDate"),
            "cppl_cp_plan_end_date": _text(plan, "CPPendDate"),
            "cppl_cp_plan_initial_category": _text(plan, "InitialCategoryOfAbuse"),
            "cppl_cp_plan_latest_category": _text(plan, "LatestCategoryOfAbuse"),
        }
    )
    for r, review in enumerate(plan.iter("CPPreviewDate")):
        rows["ssd_cp_reviews"].append(
            {
                "cppr_cp_review_id": f"{plan_id}-V{r}",
                "cppr_person_id": person,
                "cppr_cp_plan_id": plan_id,
                "cppr_cp_review_date": (review.text or "").strip(),
            }
        )


def _earlier_plans(plan: ET.Element, person: str, rows: Rows, year_start: date) -> None:
    """The child's earlier protection plans the first plan's NumberOfPreviousCPP counts, each in a referral of its
    own closed years before the census (so in no census of the year)."""
    count = int(_text(plan, "NumberOfPreviousCPP") or 0)
    for n in range(count):
        referred = year_start - timedelta(days=1200 + 200 * n)
        referral = f"{person}-H{n}"
        rows["ssd_cin_episodes"].append(
            {
                "cine_referral_id": referral,
                "cine_person_id": person,
                "cine_referral_date": referred.isoformat(),
                "cine_referral_source_code": "1A",
                "cine_cin_primary_need_code": "N1",
                "cine_close_date": (referred + timedelta(days=120)).isoformat(),
                "cine_close_reason": "RC1",
                "cine_referral_nfa": "N",
            }
        )
        rows["ssd_cp_plans"].append(
            {
                "cppl_cp_plan_id": f"{referral}-P0",
                "cppl_referral_id": referral,
                "cppl_person_id": person,
                "cppl_cp_plan_start_date": (referred + timedelta(days=20)).isoformat(),
                "cppl_cp_plan_end_date": (referred + timedelta(days=110)).isoformat(),
                "cppl_cp_plan_initial_category": "NEG",
                "cppl_cp_plan_latest_category": "NEG",
            }
        )


def _iso(text: str) -> str:
    return datetime.strptime(text, "%d/%m/%Y").date().isoformat() if text else ""


def _read(files: dict[str, Path], name: str) -> list[dict[str, str]]:
    with files[name].open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _from_903(files: dict[str, Path], rows: Rows) -> None:
    for h in _read(files, "header.csv"):
        child, upn = h["CHILD"], h["UPN"]
        unknown = upn.startswith("UN") and len(upn) == 3
        rows["ssd_person"].append(
            {
                "pers_person_id": child,
                "pers_legacy_id": child,
                "pers_sex": SEX.get(h["SEX"], h["SEX"]),
                "pers_dob": _iso(h["DOB"]),
                "pers_ethnicity": h["ETHNIC"],
                "pers_upn": "" if unknown else upn,
                "pers_upn_unknown": upn if unknown else "",
                "pers_is_mother": FLAG.get(h["MOTHER"], ""),
            }
        )
        if h["MC_DOB"]:
            rows["ssd_mother"].append(
                {"moth_table_id": f"{child}-M", "moth_person_id": child, "moth_childs_dob": _iso(h["MC_DOB"])}
            )
    for n, e in enumerate(_read(files, "episodes.csv")):
        _episode(n, e, rows)
    for n, u in enumerate(_read(files, "uasc.csv")):
        rows["ssd_immigration_status"].append(
            {
                "immi_immigration_status_id": f"{u['CHILD']}-U{n}",
                "immi_person_id": u["CHILD"],
                "immi_immigration_status": "UASC",
                "immi_immigration_status_start_date": _iso(u["DOB"]),
                "immi_immigration_status_end_date": _iso(u["DUC"]),
            }
        )
    for n, r in enumerate(_read(files, "reviews.csv")):
        rows["ssd_cla_reviews"].append(
            {
                "clar_cla_review_id": f"{r['CHILD']}-V{n}",
                "clar_cla_id": f"{r['CHILD']}-LAC",
                "clar_cla_review_date": _iso(r["REVIEW"]),
                "clar_cla_review_participation": r["REVIEW_CODE"],
            }
        )
    for n, m in enumerate(_read(files, "missing.csv")):
        rows["ssd_missing"].append(
            {
                "miss_table_id": f"{m['CHILD']}-M{n}",
                "miss_person_id": m["CHILD"],
                "miss_missing_episode_type": m["MISSING"],
                "miss_missing_episode_start_date": _iso(m["MIS_START"]),
                "miss_missing_episode_end_date": _iso(m["MIS_END"]),
            }
        )
    for n, c in enumerate(_read(files, "oc3.csv")):
        rows["ssd_care_leavers"].append(
            {
                "clea_table_id": f"{c['CHILD']}-L{n}",
                "clea_person_id": c["CHILD"],
                "clea_care_leaver_in_touch": c["IN_TOUCH"],
                "clea_care_leaver_activity": c["ACTIV"],
                "clea_care_leaver_accom_suitable": c["ACCOM"],
            }
        )
    _permanence(files, rows)
    for n, w in enumerate(_read(files, "sw_episodes.csv")):
        rows["ssd_involvements"].append(
            {
                "invo_involvements_id": f"{w['CHILD']}-W{n}",
                "invo_person_id": w["CHILD"],
                "invo_professional_id": w["SW_ID"],
                "invo_professional_role_id": "SW",
                "invo_involvement_start_date": _iso(w["SW_DECOM"]),
                "invo_involvement_end_date": _iso(w["SW_DEC"]),
                "invo_worker_change_reason": w["SW_REASON"],
            }
        )


def _health(files: dict[str, Path], rows: Rows, start: date) -> None:
    """Each OC2 row as the SSD's rows its readings give it back from (``collectors/ssd/ssda903_oc2.py``): a check of
    the year for each 1 (and a planned one, not had, for a health assessment's 0), the immunisation status, an SDQ of
    the year, a conviction and a substance misuse problem dated in the year."""
    day = (start + timedelta(days=100)).isoformat()
    for n, o in enumerate(_read(files, "oc2.csv")):
        child = o["CHILD"]
        for item, kind in (
            ("HEALTH_ASSESSMENT", "HEALTH"),
            ("TEETH_CHECK", "DENTAL"),
            ("HEALTH_CHECK", "Health Surveillance Check"),
        ):
            if o[item] == "1" or (item == "HEALTH_ASSESSMENT" and o[item] == "0"):
                rows["ssd_cla_health"].append(
                    {
                        "clah_health_check_id": f"{child}-{kind[:6]}{n}",
                        "clah_person_id": child,
                        "clah_health_check_type": kind,
                        "clah_health_check_date": day,
                        "clah_health_check_status": "Completed" if o[item] == "1" else "Planned",
                    }
                )
        rows["ssd_cla_immunisations"].append(
            {"clai_person_id": child, "clai_immunisations_status": FLAG[o["IMMUNISATIONS"]]}
        )
        if o["SDQ_SCORE"] or o["SDQ_REASON"]:
            rows["ssd_sdq_scores"].append(
                {
                    "csdq_table_id": f"{child}-Q{n}",
                    "csdq_person_id": child,
                    "csdq_sdq_completed_date": day,
                    "csdq_sdq_score": o["SDQ_SCORE"],
                    "csdq_sdq_reason": o["SDQ_REASON"],
                }
            )
        if o["CONVICTED"] == "1":
            rows["ssd_cla_convictions"].append(
                {"clac_cla_conviction_id": f"{child}-C{n}", "clac_person_id": child, "clac_cla_conviction_date": day}
            )
        if o["SUBSTANCE_MISUSE"] == "1":
            rows["ssd_cla_substance_misuse"].append(
                {
                    "clas_substance_misuse_id": f"{child}-S{n}",
                    "clas_person_id": child,
                    "clas_substance_misuse_date": day,
                    "clas_intervention_received": FLAG.get(o["INTERVENTION_RECEIVED"], ""),
                }
            )


def _permanence(files: dict[str, Path], rows: Rows) -> None:
    """The children's adoption decisions (PlacedAdoption, with AD1's adopters for the adopted) as ``ssd_permanence``
    rows and their previous permanence as ``ssd_cla_previous_permanence`` rows, read back as the mapping says."""
    adopted = {a["CHILD"]: a for a in _read(files, "ad1.csv")}
    for n, p in enumerate(_read(files, "placed_for_adoption.csv")):
        a = adopted.get(p["CHILD"])
        if a is not None and a["DATE_INT"] != p["DATE_PLACED"]:
            a = None  # the adopters belong to the decision the child was adopted under
        rows["ssd_permanence"].append(
            {
                "perm_table_id": f"{p['CHILD']}-A{n}",
                "perm_person_id": p["CHILD"],
                "perm_adm_decision_date": _iso(p["DATE_PLACED"]),
                "perm_decision_reversed_date": _iso(p["DATE_PLACED_CEASED"]),
                "perm_decision_reversed_reason": p["REASON_PLACED_CEASED"],
                "perm_matched_date": _iso(a["DATE_MATCH"]) if a else "",
                "perm_adopted_by_carer_flag": FLAG.get(a["FOSTER_CARE"], "") if a else "",
                "perm_number_of_adopters": a["NB_ADOPTR"] if a else "",
                "perm_adopter_sex": a["SEX_ADOPTR"] if a else "",
                "perm_adopter_legal_status": a["LS_ADOPTR"] if a else "",
            }
        )
    for n, q in enumerate(_read(files, "previous_permanence.csv")):
        rows["ssd_cla_previous_permanence"].append(
            {
                "lapp_table_id": f"{q['CHILD']}-Q{n}",
                "lapp_person_id": q["CHILD"],
                "lapp_previous_permanence_option": q["PREV_PERM"],
                "lapp_previous_permanence_la": q["LA_PERM"],
                "lapp_previous_permanence_order_date": q["DATE_PERM"],
            }
        )


def _episode(n: int, e: dict[str, str], rows: Rows) -> None:
    child, start, end = e["CHILD"], _iso(e["DECOM"]), _iso(e["DEC"])
    episode = f"{child}-E{n}"
    rows["ssd_cla_episodes"].append(
        {
            "clae_cla_episode_id": episode,
            "clae_person_id": child,
            "clae_cla_episode_start_date": start,
            "clae_cla_episode_start_reason": e["RNE"],
            "clae_cla_primary_need_code": e["CIN"],
            "clae_cla_episode_ceased_date": end,
            "clae_cla_episode_ceased_reason": e["REC"],
            "clae_cla_id": f"{child}-LAC",
            "clae_cla_placement_id": f"{episode}-P",
        }
    )
    rows["ssd_cla_placement"].append(
        {
            "clap_cla_placement_id": f"{episode}-P",
            "clap_cla_id": f"{child}-LAC",
            "clap_person_id": child,
            "clap_cla_placement_start_date": start,
            "clap_cla_placement_end_date": end,
            "clap_cla_placement_type": e["PLACE"],
            "clap_cla_placement_provider": e["PLACE_PROVIDER"],
            "clap_cla_placement_change_reason": e["REASON_PLACE_CHANGE"],
            "clap_cla_placement_postcode": e["PL_POST"],
            "clap_cla_placement_urn": e["URN"],
        }
    )
    rows["ssd_legal_status"].append(
        {
            "lega_legal_status_id": f"{episode}-L",
            "lega_person_id": child,
            "lega_legal_status": e["LS"],
            "lega_legal_status_start_date": start,
            "lega_legal_status_end_date": end,
        }
    )
    if e["HOME_POST"]:
        rows["ssd_address"].append(
            {
                "addr_table_id": f"{episode}-H",
                "addr_person_id": child,
                "addr_address_type": "HOME",
                "addr_address_start_date": start,
                "addr_address_end_date": end,
                "addr_address_postcode": e["HOME_POST"],
            }
        )
