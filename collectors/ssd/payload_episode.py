"""The parts of one social care episode of DfE's payload (a referral): assessments, plans, section 47 enquiries,
looked-after placements, adoption, care leaving and case workers, as Data to Insight's payload builder makes them
(``populate_ssd_api_data_staging.sql`` v0.4.8; "lines" below are its lines). A part with no member is absent
(``None``), as the builder's FOR JSON subquery over no rows is.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from collectors.ssd.payload import Payload, Row, Tables, Window, clean, day_of, flag, iso, newest
from collectors.ssd.spec import role_key


def _by_start(rows: list[Payload], reverse: bool = False) -> list[Payload] | None:
    """Members by start date then id (Choice: the builder orders some parts and not others; a run is repeatable)."""
    rows.sort(key=lambda r: (r.get("start_date") or "", json.dumps(r, sort_keys=True)), reverse=reverse)
    return rows or None


def factors_of(text: Any) -> list[str]:
    """An assessment's factors from the SSD's JSON list; none where blank or ``null`` (lines 911-920)."""
    value = clean(text)
    if value is None or value == "null":
        return []
    try:
        found = json.loads(value)
    except ValueError:
        return []
    return [str(f).strip() for f in found] if isinstance(found, list) else []


def assessments(t: Tables, rid: str, w: Window) -> list[Payload] | None:
    """Assessments started or authorised in the window (lines 899-931), with their factors."""
    found = []
    for a in t.assessments.get(rid, []):
        begun, authorised = day_of(a.get("cina_assessment_start_date")), day_of(a.get("cina_assessment_auth_date"))
        if not (w.holds(begun) or w.holds(authorised)):
            continue
        aid = str(a["cina_assessment_id"]).strip()
        # Choice: the builder's LEFT JOIN repeats an assessment once per factors row; here one assessment holds the
        # factors of all its rows, each once, in the order given.
        factors = [f for row in t.factors.get(aid, []) for f in factors_of(row.get("cinf_assessment_factors_json"))]
        found.append(
            {
                "child_and_family_assessment_id": aid,
                "start_date": iso(begun),
                "authorisation_date": iso(authorised),
                "factors": list(dict.fromkeys(factors)),
                "purge": False,
            }
        )
    return _by_start(found)


def plans(rows: list[Row], prefix: str, name: str, key: str, w: Window) -> list[Payload] | None:
    """CIN plans (lines 934-952) or protection plans (lines 1036-1053) whose dates overlap the window."""
    found = []
    for r in rows:
        begun, ended = day_of(r.get(f"{prefix}{name}_start_date")), day_of(r.get(f"{prefix}{name}_end_date"))
        if w.overlaps(begun, ended):
            found.append(
                {
                    key: str(r[f"{prefix}{name}_id"]).strip(),
                    "start_date": iso(begun),
                    "end_date": iso(ended),
                    "purge": False,
                }
            )
    return _by_start(found)


def _icpc_required(s: Row) -> bool | None:
    """Whether a conference is required: the outcome JSON's CP_CONFERENCE_FLAG as the builder reads it (lines
    995-1002); Choice: where the JSON gives none, ``s47e_s47_nfa`` Y is no conference and N one (issue 64's reading,
    as the CIN census made from the SSD reads it)."""
    text = clean(s.get("s47e_s47_outcome_json"))
    if text:
        try:
            outcome = json.loads(text)
        except ValueError:
            outcome = None
        if isinstance(outcome, dict) and outcome.get("CP_CONFERENCE_FLAG") is not None:
            said = flag(str(outcome["CP_CONFERENCE_FLAG"]))
            if said is not None:
                return said
    nfa = flag(s.get("s47e_s47_nfa"))
    return None if nfa is None else not nfa


def section_47s(t: Tables, rid: str, w: Window) -> list[Payload] | None:
    """Enquiries overlapping the window or with a conference in it, each with its latest conference (lines 955-1027)."""
    found = []
    for s in t.s47.get(rid, []):
        sid = str(s["s47e_s47_enquiry_id"]).strip()
        conference = newest(t.icpc.get(sid, []), "icpc_icpc_date")
        held = day_of(conference.get("icpc_icpc_date")) if conference else None
        begun, ended = day_of(s.get("s47e_s47_start_date")), day_of(s.get("s47e_s47_end_date"))
        if not (w.overlaps(begun, ended) or w.holds(held)):
            continue
        found.append(
            {
                "section_47_assessment_id": sid,
                "start_date": iso(begun),
                "icpc_required_flag": _icpc_required(s),
                "icpc_date": iso(held),
                "end_date": iso(ended),
                "purge": False,
            }
        )
    return _by_start(found)


def placements(t: Tables, rid: str, w: Window, *, identifiers: bool) -> list[Payload] | None:
    """Placements of the looked-after periods of this referral overlapping the window, latest first (lines
    1055-1125): the start reason the least of its episodes' first characters, the end reason the least of their
    first three (spaces taken out); an end before the start is absent. The postcode only where switched on."""
    joined: dict[str, tuple[Row, list[Row]]] = {}
    for episode in t.cla_of_referral.get(rid, []):
        for placement in t.placements.get(str(episode.get("clae_cla_id")), []):
            pid = str(placement["clap_cla_placement_id"]).strip()
            joined.setdefault(pid, (placement, []))[1].append(episode)
    found = []
    for pid, (p, episodes) in joined.items():
        begun, ended = day_of(p.get("clap_cla_placement_start_date")), day_of(p.get("clap_cla_placement_end_date"))
        if not w.overlaps(begun, ended):
            continue
        starts = [s[:1] for e in episodes if (s := clean(e.get("clae_cla_episode_start_reason")))]
        ends = [r for e in episodes if (r := "".join(str(e.get("clae_cla_episode_ceased_reason") or "")[:3].split()))]
        found.append(
            {
                "child_looked_after_placement_id": pid,
                "start_date": iso(begun),
                "start_reason": min(starts) if starts else None,
                "placement_type": clean(p.get("clap_cla_placement_type"), 3),
                "postcode": clean(p.get("clap_cla_placement_postcode")) if identifiers else None,
                "end_date": iso(ended) if ended is None or begun is None or ended >= begun else None,
                "end_reason": min(ends) if ends else None,
                "change_reason": clean(p.get("clap_cla_placement_change_reason")),
                "purge": False,
            }
        )
    return _by_start(found, reverse=True)


def adoption(t: Tables, pid: str, w: Window) -> Payload | None:
    """The child's adoption decision, match and placement, the latest with a date in the window (lines 1128-1155)."""
    periods = {str(e.get("clae_cla_id")) for e in t.cla_of_person.get(pid, []) if e.get("clae_cla_id") is not None}
    rows = list(t.permanence_of.get(pid, []))
    rows += [r for cla in sorted(periods) for r in t.permanence_cla.get(cla, []) if r not in rows]
    columns = ("perm_placed_for_adoption_date", "perm_matched_date", "perm_adm_decision_date")
    dated = [r for r in rows if any(w.holds(day_of(r.get(c))) for c in columns)]
    if not dated:
        return None

    def latest(r: Row) -> date:
        return next((d for c in columns if (d := day_of(r.get(c))) is not None), date.min)

    chosen = max(dated, key=latest)
    return {
        "initial_decision_date": iso(chosen.get("perm_adm_decision_date")),
        "matched_date": iso(chosen.get("perm_matched_date")),
        "placed_date": iso(chosen.get("perm_placed_for_adoption_date")),
        "purge": False,
    }


def care_leaver(t: Tables, pid: str) -> Payload | None:
    """The child's latest care leaver contact, activity and accommodation (lines 1158-1173)."""
    found = newest(t.care_leavers.get(pid, []), "clea_care_leaver_latest_contact")
    if found is None:
        return None
    return {
        "contact_date": iso(found.get("clea_care_leaver_latest_contact")),
        "activity": clean(found.get("clea_care_leaver_activity"), 2),
        "accommodation": clean(found.get("clea_care_leaver_accommodation"), 1),
        "purge": False,
    }


def care_workers(t: Tables, rid: str, w: Window) -> list[Payload] | None:
    """The referral's case workers (role CW, or the council's roles where it has a rule of its own) with a social work
    registration number, involved on a 31 March in the window, latest first, where the referral has a CIN plan in
    the window (lines 1176-1240).

    Choice: the builder takes role CW (line 1220); the SSD's role ids are the council's own (tables.md,
    ssd_involvements), so a council's rule (its agency's ``ssd.worker_roles``) names its roles in place of CW."""
    gate = [
        r
        for r in t.cin_plans.get(rid, [])
        if w.overlaps(day_of(r.get("cinp_cin_plan_start_date")), day_of(r.get("cinp_cin_plan_end_date")))
    ]
    if not gate:
        return None
    found = []
    for i in t.involvements.get(rid, []):
        professional = t.professionals.get(str(i.get("invo_professional_id")))
        registration = clean(professional.get("prof_social_worker_registration_no"), 12) if professional else None
        if registration is None or role_key(clean(i.get("invo_professional_role_id"))) not in t.worker_roles:
            continue
        begun, ended = day_of(i.get("invo_involvement_start_date")), day_of(i.get("invo_involvement_end_date"))
        if any(begun is not None and begun <= d and (ended is None or ended >= d) for d in w.census_dates):
            found.append({"worker_id": registration, "start_date": iso(begun), "end_date": iso(ended)})
    return _by_start(found, reverse=True)
