"""The rows of a synthetic SSD extract that only Ofsted's Annex A reads, ILLUSTRATIVE ONLY: contacts, early help,
teams and workers with the involvements that allocate them, visits and seen alone, IRO contact, care plans, health
checks, return interviews, care leavers' advisers and pathway plans, families. Added to the rows the synthetic CIN
census and SSDA903 give, changing none of the columns those files are made from, so both routes still match.

A few children have a contact (and early help) and no referral: contact-only children are in neither DfE file.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

Rows = dict[str, list[dict[str, str]]]
TEAMS = {"T1": "Front door", "T2": "Children in need", "T3": "Children in care", "T4": "Leaving care"}
ORGANISATIONS = ("Family support service", "School", "Health visiting")
PLANS = ("RETURN6M", "LTFOST18", "ADOPTION", "SUPPLIV", "RESPLMT")


def _day(text: str) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def annex_a_rows(rows: Rows, seed: int, year_end: date) -> None:
    """Add the Annex A rows to ``rows`` (the synthetic extract's tables), made with ``seed`` from its children."""
    rng = random.Random(seed * 64 + 1)
    _contacts(rows, rng, year_end)
    _cin_work(rows, rng, year_end)
    _care_work(rows, rng, year_end)
    workers = {r["invo_professional_id"] for r in rows["ssd_involvements"] if r.get("invo_professional_id")} | {
        r["clea_care_leaver_worker_id"] for r in rows["ssd_care_leavers"] if r.get("clea_care_leaver_worker_id")
    }
    # The synthetic 903's worker ids are Social Work England numbers (SW...): each is the worker's registration number.
    rows["ssd_professionals"] = [
        {
            "prof_professional_id": w,
            "prof_professional_name": f"Social worker {w}",
            "prof_social_worker_registration_no": w,
        }
        for w in sorted(workers)
    ]
    rows["ssd_department"] = [{"dept_team_id": k, "dept_team_name": v} for k, v in TEAMS.items()]


def _contacts(rows: Rows, rng: random.Random, year_end: date) -> None:
    """A contact before each referral of the year, early help before some, and a few contact-only children."""
    for n, referral in enumerate(rows["ssd_cin_episodes"]):
        referred = _day(referral["cine_referral_date"])
        if referred is None or "-H" in referral["cine_referral_id"]:
            continue
        rows["ssd_contacts"].append(
            {
                "cont_contact_id": f"{referral['cine_referral_id']}-K",
                "cont_person_id": referral["cine_person_id"],
                "cont_contact_date": (referred - timedelta(days=rng.randint(0, 5))).isoformat(),
                "cont_contact_source_code": referral["cine_referral_source_code"],
            }
        )
        if n % 4 == 0:
            rows["ssd_early_help_episodes"].append(
                {
                    "earl_episode_id": f"{referral['cine_referral_id']}-EH",
                    "earl_person_id": referral["cine_person_id"],
                    "earl_episode_start_date": (referred - timedelta(days=rng.randint(60, 200))).isoformat(),
                    "earl_episode_end_date": referred.isoformat(),
                    "earl_episode_organisation": rng.choice(ORGANISATIONS),
                }
            )
    for n in range(max(3, len(rows["ssd_cin_episodes"]) // 10)):
        person = f"SSDK{n:04d}"
        rows["ssd_person"].append(
            {
                "pers_person_id": person,
                "pers_legacy_id": person,
                "pers_sex": rng.choice("MF"),
                "pers_dob": (year_end - timedelta(days=rng.randint(400, 5800))).isoformat(),
                "pers_ethnicity": rng.choice(("WBRI", "AIND", "BAFR", "MWBC")),
            }
        )
        contacted = year_end - timedelta(days=rng.randint(1, 330))
        rows["ssd_contacts"].append(
            {
                "cont_contact_id": f"{person}-K",
                "cont_person_id": person,
                "cont_contact_date": contacted.isoformat(),
                "cont_contact_source_code": rng.choice(("1A", "2A", "3A", "6")),
            }
        )
        rows["ssd_early_help_episodes"].append(
            {
                "earl_episode_id": f"{person}-EH",
                "earl_person_id": person,
                "earl_episode_start_date": (contacted + timedelta(days=10)).isoformat(),
                "earl_episode_end_date": "",
                "earl_episode_organisation": rng.choice(ORGANISATIONS),
            }
        )


def _cin_work(rows: Rows, rng: random.Random, year_end: date) -> None:
    """An involvement for each referral's work, children seen in assessments, CIN and CP visits."""
    for referral in rows["ssd_cin_episodes"]:
        referred = _day(referral["cine_referral_date"])
        if referred is None or "-H" in referral["cine_referral_id"]:
            continue
        rows["ssd_involvements"].append(
            {
                "invo_involvements_id": f"{referral['cine_referral_id']}-I",
                "invo_person_id": referral["cine_person_id"],
                "invo_professional_id": f"W{rng.randint(1, 12):03d}",
                "invo_professional_role_id": "SW",
                "invo_professional_team": rng.choice(("T1", "T2")),
                "invo_involvement_start_date": referred.isoformat(),
                "invo_involvement_end_date": referral["cine_close_date"],
                "invo_referral_id": referral["cine_referral_id"],
            }
        )
        last = min(_day(referral["cine_close_date"]) or year_end, year_end)
        for v, seen in enumerate((referred + timedelta(days=20), referred + timedelta(days=50))):
            if seen <= last:
                rows["ssd_cin_visits"].append(
                    {
                        "cinv_cin_visit_id": f"{referral['cine_referral_id']}-V{v}",
                        "cinv_person_id": referral["cine_person_id"],
                        "cinv_cin_visit_date": seen.isoformat(),
                        "cinv_cin_visit_seen": rng.choice("YYYN"),
                        "cinv_cin_visit_seen_alone": rng.choice("YN"),
                    }
                )
    for assessment in rows["ssd_cin_assessments"]:
        assessment["cina_assessment_child_seen"] = rng.choice("YYN")
    for plan in rows["ssd_cp_plans"]:
        started = _day(plan["cppl_cp_plan_start_date"])
        if started is None or "-H" in plan["cppl_cp_plan_id"]:
            continue
        ended = min(_day(plan["cppl_cp_plan_end_date"]) or year_end, year_end)
        for v in range(3):
            visited = started + timedelta(days=10 + 15 * v)
            if visited <= ended:
                rows["ssd_cp_visits"].append(
                    {
                        "cppv_cp_visit_id": f"{plan['cppl_cp_plan_id']}-V{v}",
                        "cppv_person_id": plan["cppl_person_id"],
                        "cppv_cp_plan_id": plan["cppl_cp_plan_id"],
                        "cppv_cp_visit_date": visited.isoformat(),
                        "cppv_cp_visit_seen": "Y",
                        "cppv_cp_visit_seen_alone": rng.choice("YYN"),
                    }
                )


def _care_work(rows: Rows, rng: random.Random, year_end: date) -> None:
    """The looked-after children's teams, visits, IRO contact, care plans, health checks and return interviews; care
    leavers' advisers and pathway plans; a family for each looked-after child."""
    for involvement in rows["ssd_involvements"]:
        involvement.setdefault("invo_professional_team", "T3")
    firsts: dict[str, date] = {}
    for episode in rows["ssd_cla_episodes"]:
        started = _day(episode["clae_cla_episode_start_date"])
        if started is None:
            continue
        person = episode["clae_person_id"]
        firsts[person] = min(firsts.get(person, started), started)
        ended = min(_day(episode["clae_cla_episode_ceased_date"]) or year_end, year_end)
        if started + timedelta(days=20) <= ended:
            episode["clae_cla_last_iro_contact_date"] = (started + timedelta(days=20)).isoformat()
        visited = started + timedelta(days=7)
        if visited <= ended:
            rows["ssd_cla_visits"].append(
                {
                    "clav_cla_visit_id": f"{episode['clae_cla_episode_id']}-V",
                    "clav_person_id": person,
                    "clav_cla_visit_date": visited.isoformat(),
                    "clav_cla_visit_seen": "Y",
                    "clav_cla_visit_seen_alone": rng.choice("YN"),
                }
            )
    checked_already = {r["clah_person_id"] for r in rows["ssd_cla_health"]}
    for person, first in sorted(firsts.items()):
        plan = {key: ("Y" if key == rng.choice(PLANS) else "") for key in PLANS}
        rows["ssd_cla_care_plan"].append(
            {
                "lacp_table_id": f"{person}-CP",
                "lacp_person_id": person,
                "lacp_cla_care_plan_start_date": (first + timedelta(days=30)).isoformat(),
                "lacp_cla_care_plan_json": json.dumps(plan),
            }
        )
        checked = min(first + timedelta(days=40), year_end)
        # A child of the 903's OC2 has the checks its OC2 row says already (cli/synthetic/ssd.py): no others.
        for kind in () if person in checked_already else ("Health Assessment", "Dental Check"):
            rows["ssd_cla_health"].append(
                {
                    "clah_health_check_id": f"{person}-{kind[0]}",
                    "clah_person_id": person,
                    "clah_health_check_type": kind,
                    "clah_health_check_date": checked.isoformat(),
                }
            )
        rows["ssd_family"].append(
            {
                "fami_table_id": f"{person}-F",
                "fami_person_id": person,
                "fami_family_id": f"FAM{rng.randint(1, 10_000):05d}",
            }
        )
    for missing in rows["ssd_missing"]:
        offered = rng.choice("YYN")
        missing["miss_missing_rhi_offered"] = offered
        missing["miss_missing_rhi_accepted"] = rng.choice("YN") if offered == "Y" else "N"
    for n, leaver in enumerate(rows["ssd_care_leavers"]):
        leaver.update(
            {
                "clea_care_leaver_personal_advisor": f"Personal adviser {n % 5 + 1}",
                "clea_pathway_plan_review_date": (year_end - timedelta(days=rng.randint(10, 150))).isoformat(),
                "clea_care_leaver_latest_contact": (year_end - timedelta(days=rng.randint(1, 60))).isoformat(),
                "clea_care_leaver_allocated_team": "T4",
                "clea_care_leaver_worker_id": f"W{rng.randint(13, 16):03d}",
            }
        )
