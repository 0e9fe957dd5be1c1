"""The SSD columns Ofsted's Annex A reads beyond those DfE's files are made from, by table: the intake keeps them past
its drop of the columns no output reads (``collectors.ssd.intake``), and ``collectors.ssd.annex_a`` reads them."""

from __future__ import annotations

#: The SSD columns Annex A reads, by table (beyond those the DfE files are made from): kept past the intake's
#: column drop. Sources: tables.md "Which SSD tables carry what Annex A needs but CIN census + SSDA903 lack". The
#: involvement's role is read for the council's rule for which roles are the allocated worker (none: every role).
COLUMNS: dict[str, tuple[str, ...]] = {
    "ssd_contacts": ("cont_person_id", "cont_contact_date", "cont_contact_source_code"),
    "ssd_early_help_episodes": (
        "earl_person_id", "earl_episode_start_date", "earl_episode_end_date", "earl_episode_organisation",
    ),
    "ssd_involvements": (
        "invo_person_id", "invo_professional_id", "invo_professional_team", "invo_involvement_start_date",
        "invo_involvement_end_date", "invo_professional_role_id",
    ),
    "ssd_professionals": ("prof_professional_id", "prof_professional_name"),
    "ssd_department": ("dept_team_id", "dept_team_name"),
    "ssd_cin_assessments": ("cina_person_id", "cina_assessment_start_date", "cina_assessment_child_seen"),
    "ssd_cin_visits": ("cinv_person_id", "cinv_cin_visit_date", "cinv_cin_visit_seen", "cinv_cin_visit_seen_alone"),
    "ssd_cp_visits": ("cppv_person_id", "cppv_cp_visit_date", "cppv_cp_visit_seen", "cppv_cp_visit_seen_alone"),
    "ssd_cla_visits": ("clav_person_id", "clav_cla_visit_date", "clav_cla_visit_seen", "clav_cla_visit_seen_alone"),
    "ssd_cla_episodes": ("clae_person_id", "clae_cla_last_iro_contact_date"),
    "ssd_cla_care_plan": (
        "lacp_person_id", "lacp_cla_care_plan_start_date", "lacp_cla_care_plan_end_date", "lacp_cla_care_plan_json",
    ),
    "ssd_cla_health": ("clah_person_id", "clah_health_check_type", "clah_health_check_date"),
    "ssd_missing": (
        "miss_person_id", "miss_missing_episode_type", "miss_missing_episode_start_date", "miss_missing_rhi_offered",
        "miss_missing_rhi_accepted",
    ),
    "ssd_care_leavers": (
        "clea_person_id", "clea_care_leaver_personal_advisor", "clea_pathway_plan_review_date",
        "clea_care_leaver_latest_contact", "clea_care_leaver_allocated_team", "clea_care_leaver_worker_id",
    ),
    "ssd_family": ("fami_person_id", "fami_family_id"),
}  # fmt: skip
