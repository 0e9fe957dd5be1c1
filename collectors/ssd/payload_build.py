"""DfE's cohort and each child's payload, part by part, as Data to Insight's payload builder makes them
(``populate_ssd_api_data_staging.sql`` v0.4.8; "populate lines" below are its lines). The field map and the shared
readings are in ``collectors/ssd/payload.py``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from collectors.ssd.intake import Extract
from collectors.ssd.payload import (
    UASC_STATUS,
    UPN_UNKNOWN,
    Payload,
    Row,
    Tables,
    Window,
    clean,
    day_of,
    flag,
    iso,
    newest,
    plus_years,
    pruned,
    source_code,
    window,
)
from collectors.ssd.payload_episode import (
    adoption,
    assessments,
    care_leaver,
    care_workers,
    placements,
    plans,
    section_47s,
)

#: The linked identifier a former UPN is held as (populate line 768), and a UPN's length (line 762).
FORMER_UPN = "Former Unique Pupil Number"
UPN_LENGTH = 13
#: At most 12 disability codes, each at most four characters (populate lines 1263-1270).
MOST_DISABILITIES = 12


def build(extract: Extract, run: date, *, identifiers: bool) -> list[Payload]:
    """One payload per child in DfE's cohort on the day of ``run``, in ``la_child_id`` order."""
    t = Tables(extract)
    w = window(run)
    opened = {
        str(e["cine_referral_id"])
        for episodes in t.episodes.values()
        for e in episodes
        if w.overlaps(day_of(e.get("cine_referral_date")), day_of(e.get("cine_close_date")))
    }
    people = sorted((p for p in t.people if clean(p.get("pers_person_id"))), key=lambda p: str(p["pers_person_id"]))
    return [pruned(child_payload(t, p, w, identifiers=identifiers)) for p in people if in_cohort(t, p, w, opened)]


def _eligible(p: Row, w: Window) -> bool:
    """Aged 25 or under at some time in the window, or unborn and due in it (EligibleBySpec, populate lines 174-202)."""
    born, due = day_of(p.get("pers_dob")), day_of(p.get("pers_expected_dob"))
    if born is not None:
        return born <= w.end and plus_years(born, 26) > w.start
    return due is not None and w.holds(due)


def in_cohort(t: Tables, p: Row, w: Window, opened: set[str]) -> bool:
    """Whether the child is in DfE's cohort: eligible, and with a referral open in the window, a referral waiting for
    its assessment, a CIN plan, a looked-after placement or episode, or a care leaver aged 16 to 25 (SpecInclusion,
    populate lines 700-720; the CP plan and disability groups are commented out there and left out here)."""
    if not _eligible(p, w):
        return False
    pid = str(p["pers_person_id"])
    episodes = t.episodes.get(pid, [])
    if any(w.overlaps(day_of(e.get("cine_referral_date")), day_of(e.get("cine_close_date"))) for e in episodes):
        return True
    if any(_waiting(t, e) for e in episodes):
        return True
    plans = t.cin_plans_of.get(pid, [])
    if any(
        w.overlaps(day_of(c.get("cinp_cin_plan_start_date")), day_of(c.get("cinp_cin_plan_end_date"))) for c in plans
    ):
        return True
    return _looked_after(t, pid, w, opened) or _care_leaver(t, p, episodes, w)


def _waiting(t: Tables, e: Row) -> bool:
    """An open referral with no assessment started (WaitingAssessment, populate lines 224-235)."""
    if day_of(e.get("cine_close_date")) is not None:
        return False
    assessed = t.assessments.get(str(e.get("cine_referral_id")), [])
    return not any(day_of(a.get("cina_assessment_start_date")) for a in assessed)


def _looked_after(t: Tables, pid: str, w: Window, opened: set[str]) -> bool:
    """A looked-after episode of a referral open in the window (``opened``), or a placement in the window (HasLAC,
    populate lines 257-283)."""
    for episode in t.cla_of_person.get(pid, []):
        if str(episode.get("clae_referral_id")) in opened:
            return True
        for placement in t.placements.get(str(episode.get("clae_cla_id")), []):
            begun, ended = (
                day_of(placement.get("clap_cla_placement_start_date")),
                day_of(placement.get("clap_cla_placement_end_date")),
            )
            if w.overlaps(begun, ended):
                return True
    return False


def _care_leaver(t: Tables, p: Row, episodes: list[Row], w: Window) -> bool:
    """Aged 16 to 25 in the window, in touch in the window, with a referral still open (IsCareLeaver16to25, populate
    lines 285-331)."""
    born = day_of(p.get("pers_dob"))
    if born is None or not (plus_years(born, 16) < w.end and plus_years(born, 26) >= w.start):
        return False
    contacts = [
        day_of(c.get("clea_care_leaver_latest_contact")) for c in t.care_leavers.get(str(p["pers_person_id"]), [])
    ]
    if not any(c is not None and w.start <= c < w.end for c in contacts):
        return False
    return any(
        (day_of(e.get("cine_referral_date")) or date.max) <= w.end and day_of(e.get("cine_close_date")) is None
        for e in episodes
    )


def child_payload(t: Tables, p: Row, w: Window, *, identifiers: bool) -> Payload:
    """The child's payload (populate lines 736-1250): ids, details, health and well-being, social care episodes."""
    pid = str(p["pers_person_id"]).strip()
    episodes = sorted(
        (
            e
            for e in t.episodes.get(pid, [])
            if w.overlaps(day_of(e.get("cine_referral_date")), day_of(e.get("cine_close_date")))
        ),
        # Choice: the builder gives no order (populate line 1247); by referral date then id, so a run is repeatable.
        key=lambda e: (day_of(e.get("cine_referral_date")) or date.min, str(e.get("cine_referral_id"))),
    )
    return {
        "la_child_id": pid,
        "mis_child_id": clean(p.get("pers_legacy_id"), 36),
        "purge": False,
        "child_details": _details(t, p, w, identifiers=identifiers),
        "health_and_wellbeing": _health(t, pid, w),
        "social_care_episodes": [_episode(t, e, pid, w, identifiers=identifiers) for e in episodes] or None,
    }


def _details(t: Tables, p: Row, w: Window, *, identifiers: bool) -> Payload:
    """child_details (populate lines 754-822): names, UPNs and postcode only where the council switched them on."""
    pid = str(p["pers_person_id"]).strip()
    upn = clean(p.get("pers_upn"))
    unknown = clean(p.get("pers_upn_unknown")) or (upn.upper() if upn and upn.upper() in UPN_UNKNOWN else None)
    codes = sorted(
        {c[:4] for d in t.disabilities.get(pid, []) if (c := (clean(d.get("disa_disability_code")) or "").upper())}
    )
    uasc = newest(
        (
            s
            for s in t.immigration.get(pid, [])
            if (clean(s.get("immi_immigration_status")) or "").upper() in UASC_STATUS
            and (day_of(s.get("immi_immigration_status_end_date")) or date.max) >= w.start
        ),
        # Choice: the builder takes any one such row (TOP 1 with no order, populate lines 1310-1320); the latest begun.
        "immi_immigration_status_start_date",
    )
    details: Payload = {
        "unique_pupil_number": upn if identifiers else None,
        "former_unique_pupil_number": _former_upn(t, pid) if identifiers else None,
        "unique_pupil_number_unknown_reason": unknown[:4] if unknown else None,
        "first_name": clean(p.get("pers_forename")) if identifiers else None,
        "surname": clean(p.get("pers_surname")) if identifiers else None,
        "date_of_birth": iso(p.get("pers_dob")),
        "expected_date_of_birth": iso(p.get("pers_expected_dob")),
        "sex": p.get("pers_sex") if p.get("pers_sex") in ("M", "F") else "U",
        "ethnicity": clean(p.get("pers_ethnicity"), 4),
        "disabilities": codes[:MOST_DISABILITIES] or ["NONE"],
        "postcode": _postcode(t, pid) if identifiers else None,
        "uasc_flag": uasc is not None,
        "uasc_end_date": iso(uasc.get("immi_immigration_status_end_date")) if uasc else None,
        "purge": False,
    }
    return details


def _former_upn(t: Tables, pid: str) -> str | None:
    """The latest former UPN of the child's linked identifiers, where it is a UPN's 13 characters (lines 758-769)."""
    found = newest(
        (r for r in t.linked.get(pid, []) if clean(r.get("link_identifier_type")) == FORMER_UPN), "link_valid_from_date"
    )
    value = clean(found.get("link_identifier_value")) if found else None
    return value if value and len(value) == UPN_LENGTH else None


def _postcode(t: Tables, pid: str) -> str | None:
    """The postcode of the child's latest address by start date, of any type (populate lines 809-813)."""
    found = newest(t.addresses.get(pid, []), "addr_address_start_date")
    return clean(found.get("addr_address_postcode")) if found else None


def _health(t: Tables, pid: str, w: Window) -> Payload | None:
    """The child's SDQ scores taken in the window, latest first; absent when there is none (lines 825-838)."""
    scores = [
        s
        for s in t.sdq.get(pid, [])
        if clean(s.get("csdq_sdq_score")) is not None and w.holds(day_of(s.get("csdq_sdq_completed_date")))
    ]
    if not scores:
        return None
    scores.sort(key=lambda s: day_of(s.get("csdq_sdq_completed_date")) or date.min, reverse=True)
    return {
        "sdq_assessments": [
            {"date": iso(s.get("csdq_sdq_completed_date")), "score": _integer(s.get("csdq_sdq_score"))} for s in scores
        ],
        "purge": False,
    }


def _integer(value: Any) -> int | None:
    """A whole number as SQL Server's TRY_CONVERT(int, ...) reads it; anything else absent."""
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _episode(t: Tables, e: Row, pid: str, w: Window, *, identifiers: bool) -> Payload:
    """One social care episode, a referral (populate lines 860-1246)."""
    rid = str(e["cine_referral_id"]).strip()
    return {
        "social_care_episode_id": rid,
        "referral_date": iso(e.get("cine_referral_date")),
        "referral_source": source_code(e.get("cine_referral_source_code")),
        "closure_date": iso(e.get("cine_close_date")),
        "closure_reason": clean(e.get("cine_close_reason"), 3),
        "referral_no_further_action_flag": flag(e.get("cine_referral_nfa")),
        "child_and_family_assessments": assessments(t, rid, w),
        "child_in_need_plans": plans(t.cin_plans.get(rid, []), "cinp_", "cin_plan", "child_in_need_plan_id", w),
        "section_47_assessments": section_47s(t, rid, w),
        "child_protection_plans": plans(t.cp_plans.get(rid, []), "cppl_", "cp_plan", "child_protection_plan_id", w),
        "child_looked_after_placements": placements(t, rid, w, identifiers=identifiers),
        "adoption": adoption(t, pid, w),
        "care_leavers": care_leaver(t, pid),
        "care_worker_details": care_workers(t, rid, w),
        "purge": False,
    }
