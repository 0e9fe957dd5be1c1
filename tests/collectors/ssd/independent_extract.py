"""A small SSD extract written by hand from the SSD's v1.4.5 table definitions, independently of the product's own
synthetic generator, as a council's case system would give it: professionals keyed by the case system's own ids with
the Social Work England number in ``prof_social_worker_registration_no`` (one agency worker without one), a team and
its parent team, children under short-break legal statuses V3 and V4, a change of legal status that leaves the
placement as it was, and children looked after for 12 months on 31 March 2025 with health, immunisation, SDQ,
substance misuse and conviction rows. Made-up children only.

Beside it, ``DIRECT`` holds the SSDA903 tables the council's own case system would send DfE for the same children,
written from DfE's definitions: the files made from the extract are judged against them.
"""

from __future__ import annotations

from pathlib import Path

from collectors.records.ssda903_tables import COLUMNS, CSV_NAMES
from tests.collectors.ssd.ssd_samples import extract_zip

#: Children: 100201 (F, 12, looked after since 2022, a change of legal status then of placement in the year, a
#: substance misuse problem with no intervention received); 100202 (F, V3 short breaks, not a mother); 100203 (M, V4);
#: 100204 (F, 3, looked after since 2023); 100205 (F, 16, a mother, came into care in the year).
TABLES: dict[str, str] = {
    "ssd_person": (
        "pers_legacy_id,pers_person_id,pers_upn,pers_forename,pers_surname,pers_sex,pers_gender,pers_ethnicity,"
        "pers_dob,pers_single_unique_id,pers_upn_unknown,pers_send_flag,pers_expected_dob,pers_death_date,"
        "pers_is_mother,pers_nationality\n"
        "L201,100201,A123456789012,Amy,Example,F,F,WBRI,2012-05-14 00:00:00.000,9990000001,,N,,,N,British\n"
        "L202,100202,B123456789012,Bea,Example,F,F,BAFR,2010-03-03,9990000002,,N,,,N,British\n"
        "L203,100203,C123456789012,Cal,Example,M,M,WBRI,2016-01-01,9990000003,,N,,,,British\n"
        "L204,100204,,Dot,Example,F,F,MWBC,2021-06-01,9990000004,UN1,N,,,N,British\n"
        "L205,100205,E123456789012,Eve,Example,F,F,WBRI,2008-02-02,9990000005,,N,,,Y,British\n"
    ),
    "ssd_mother": "moth_table_id,moth_person_id,moth_childs_person_id,moth_childs_dob\nM1,100205,,2024-01-10\n",
    "ssd_address": (
        "addr_table_id,addr_person_id,addr_address_type,addr_address_start_date,addr_address_end_date,"
        "addr_address_postcode,addr_address_json\n"
        "A1,100201,HOME,2015-01-01,,NG17 2QB,\nA2,100202,HOME,2010-03-03,,NG18 3NN,\n"
        "A3,100203,HOME,2016-01-01,,NG19 6JJ,\nA4,100204,HOME,2021-06-01,,NG5 4LD,\nA5,100205,HOME,2008-02-02,,NG9 2EA,\n"
    ),
    "ssd_legal_status": (
        "lega_legal_status_id,lega_person_id,lega_legal_status,lega_legal_status_start_date,lega_legal_status_end_date\n"
        "G1,100201,C2,2022-06-01,2024-07-10\nG2,100201,C1,2024-07-10,\n"
        "G3,100202,V3,2024-05-01,2024-05-04\nG4,100203,V4,2024-04-01,\n"
        "G5,100204,C2,2023-01-15,\nG6,100205,V2,2024-09-01,\n"
    ),
    "ssd_cla_episodes": (
        "clae_cla_episode_id,clae_person_id,clae_cla_placement_id,clae_cla_episode_start_date,"
        "clae_cla_episode_start_reason,clae_cla_primary_need_code,clae_cla_episode_ceased_date,"
        "clae_cla_episode_ceased_reason,clae_cla_id,clae_referral_id,clae_cla_last_iro_contact_date,"
        "clae_entered_care_date\n"
        "E1,100201,PL1,2022-06-01,S,N1,2024-07-10,X1,CLA201,,,2022-06-01\n"
        "E2,100201,PL1,2024-07-10,L,N1,2024-11-20,X1,CLA201,,,2022-06-01\n"
        "E3,100201,PL2,2024-11-20,P,N1,,,CLA201,,,2022-06-01\n"
        "E4,100202,PL3,2024-05-01,S,N6,2024-05-04,E8,CLA202,,,2024-05-01\n"
        "E5,100203,PL4,2024-04-01,S,N6,,,CLA203,,,2024-04-01\n"
        "E6,100204,PL5,2023-01-15,S,N1,,,CLA204,,,2023-01-15\n"
        "E7,100205,PL6,2024-09-01,S,N2,,,CLA205,,,2024-09-01\n"
    ),
    "ssd_cla_placement": (
        "clap_cla_placement_id,clap_cla_id,clap_person_id,clap_cla_placement_start_date,clap_cla_placement_type,"
        "clap_cla_placement_urn,clap_cla_placement_distance,clap_cla_placement_provider,clap_cla_placement_postcode,"
        "clap_cla_placement_end_date,clap_cla_placement_change_reason\n"
        "PL1,CLA201,100201,2022-06-01,U4,SC123456,,PR1,NG17 4DZ,2024-11-20,CARPL\n"
        "PL2,CLA201,100201,2024-11-20,U6,SC234567,,PR4,NG18 4RS,,\n"
        "PL3,CLA202,100202,2024-05-01,U6,SC345678,,PR1,NG18 5RB,2024-05-04,\n"
        "PL4,CLA203,100203,2024-04-01,U6,SC345678,,PR1,NG19 7RX,,\n"
        "PL5,CLA204,100204,2023-01-15,U4,SC123456,,PR1,NG5 7AQ,,\n"
        "PL6,CLA205,100205,2024-09-01,H5,SC456789,,PR4,NG9 3GT,,\n"
    ),
    "ssd_cla_reviews": (
        "clar_cla_review_id,clar_cla_id,clar_cla_person_id,clar_cla_review_due_date,clar_cla_review_date,"
        "clar_cla_review_cancelled,clar_cla_review_participation\n"
        "V1,CLA201,100201,2024-06-15,2024-06-15,N,PN1\nV2,CLA201,100201,2024-12-10,2024-12-10,N,PN1\n"
        "V3,CLA202,100202,2024-05-02,2024-05-02,N,PN1\n"
        "V4,CLA204,100204,2024-07-01,2024-07-01,N,PN0\nV5,CLA204,100204,2025-01-02,2025-01-02,N,PN0\n"
        "V6,CLA205,100205,2024-09-20,2024-09-20,N,PN1\nV7,CLA205,100205,2025-03-01,2025-03-01,N,PN1\n"
    ),
    "ssd_cla_previous_permanence": (
        "lapp_table_id,lapp_person_id,lapp_previous_permanence_option,lapp_previous_permanence_la,"
        "lapp_previous_permanence_order_date\nQ1,100205,Z1,,\nQ2,100202,Z1,,\nQ3,100203,Z1,,\n"
    ),
    "ssd_cla_health": (
        "clah_health_check_id,clah_person_id,clah_health_check_type,clah_health_check_date,clah_health_check_status\n"
        "H1,100201,HEALTH,2024-09-01,Completed\nH2,100201,DENTAL,2024-10-01,Completed\n"
        "H3,100201,DENTAL,2023-10-01,Completed\n"
        "H4,100204,Health Assessment,2024-08-01,Completed\nH5,100204,Health Surveillance Check,2024-08-01,Completed\n"
        "H6,100204,DENTAL,2024-11-01,Refused\n"
    ),
    "ssd_cla_immunisations": (
        "clai_person_id,clai_immunisations_status,clai_immunisations_status_date\n100201,Y,2024-09-01\n"
        "100204,N,2024-08-01\n"
    ),
    "ssd_sdq_scores": (
        "csdq_table_id,csdq_person_id,csdq_sdq_completed_date,csdq_sdq_score,csdq_sdq_reason\n"
        "S1,100201,2023-08-15,20,\nS2,100201,2024-08-15,14,\n"
    ),
    "ssd_cla_substance_misuse": (
        "clas_substance_misuse_id,clas_person_id,clas_substance_misuse_date,clas_substance_misused,"
        "clas_intervention_received\nU1,100201,2024-12-01,Alcohol,N\n"
    ),
    "ssd_cla_convictions": (
        "clac_cla_conviction_id,clac_person_id,clac_cla_conviction_date,clac_cla_conviction_offence\n"
        "K1,100201,2023-02-01,Theft\n"
    ),
    "ssd_department": (
        "dept_team_id,dept_team_name,dept_team_parent_id,dept_team_parent_name\n"
        "T1,Children in care service,,\nT2,Looked after team,T1,Children in care service\n"
    ),
    "ssd_professionals": (
        "prof_professional_id,prof_staff_id,prof_professional_name,prof_social_worker_registration_no,"
        "prof_agency_worker_flag,prof_professional_job_title,prof_professional_caseload,"
        "prof_professional_department,prof_full_time_equivalency\n"
        "4711,S4711,Ann Able,SW112233,N,Social worker,12,T2,1\n4712,S4712,Bob Brook,SW445566,N,Social worker,14,T2,1\n"
        "4713,S4713,Cat Cole,,Y,Social worker,10,T2,0.8\n4714,S4714,Dan Dale,SW778899,N,Social worker,11,T2,1\n"
    ),
    "ssd_involvements": (
        "invo_involvements_id,invo_professional_id,invo_professional_role_id,invo_professional_team,invo_person_id,"
        "invo_involvement_start_date,invo_involvement_end_date,invo_worker_change_reason,invo_referral_id\n"
        "I1,4711,SW,T2,100201,2022-06-01,2023-01-31,OTHERS,\n"
        "I2,4712,SW,T2,100201,2023-02-01,2024-09-30,LEFTRL,\n"
        "I3,4713,SW,T2,100201,2024-10-01,,MANAGE,\n"
        "I4,4714,SW,T2,100203,2024-04-01,,OTHERS,\n"
        "I5,4714,SW,T2,100204,2023-01-15,,OTHERS,\n"
        "I6,4712,SW,T2,100205,2024-09-01,,OTHERS,\n"
    ),
}

#: The SSDA903 tables the council's own system sends for the same children (DfE's columns; blank where DfE wants it
#: blank): SW_ID the registration number, REASON_PLACE_CHANGE only where the placement changed, no MOTHER, Reviews
#: nor postcodes and URN for the short-break children, and the intervention the council knows was offered to 100201.
DIRECT: dict[str, str] = {
    "header.csv": "CHILD,SEX,DOB,ETHNIC,UPN,MOTHER,MC_DOB\n"
    "100201,F,14/05/2012,WBRI,A123456789012,0,\n100202,F,03/03/2010,BAFR,B123456789012,,\n"
    "100203,M,01/01/2016,WBRI,C123456789012,,\n100204,F,01/06/2021,MWBC,UN1,0,\n100205,F,02/02/2008,WBRI,E123456789012,1,10/01/2024\n",
    "episodes.csv": "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE,HOME_POST,PL_POST,URN\n"
    "100201,01/06/2022,S,C2,N1,U4,PR1,10/07/2024,X1,,NG17 2QB,NG17 4DZ,SC123456\n"
    "100201,10/07/2024,L,C1,N1,U4,PR1,20/11/2024,X1,CARPL,NG17 2QB,NG17 4DZ,SC123456\n"
    "100201,20/11/2024,P,C1,N1,U6,PR4,,,,NG17 2QB,NG18 4RS,SC234567\n"
    "100202,01/05/2024,S,V3,N6,U6,PR1,04/05/2024,E8,,,,\n"
    "100203,01/04/2024,S,V4,N6,U6,PR1,,,,,,\n"
    "100204,15/01/2023,S,C2,N1,U4,PR1,,,,NG5 4LD,NG5 7AQ,SC123456\n"
    "100205,01/09/2024,S,V2,N2,H5,PR4,,,,NG9 2EA,NG9 3GT,SC456789\n",
    "reviews.csv": "CHILD,DOB,REVIEW,REVIEW_CODE\n"
    "100201,14/05/2012,15/06/2024,PN1\n100201,14/05/2012,10/12/2024,PN1\n"
    "100204,01/06/2021,01/07/2024,PN0\n100204,01/06/2021,02/01/2025,PN0\n"
    "100205,02/02/2008,20/09/2024,PN1\n100205,02/02/2008,01/03/2025,PN1\n",
    "oc2.csv": "CHILD,DOB,SDQ_SCORE,SDQ_REASON,CONVICTED,HEALTH_CHECK,IMMUNISATIONS,TEETH_CHECK,HEALTH_ASSESSMENT,"
    "SUBSTANCE_MISUSE,INTERVENTION_RECEIVED,INTERVENTION_OFFERED\n"
    "100201,14/05/2012,14,,0,,1,1,1,1,0,1\n100204,01/06/2021,,,,1,0,0,1,0,,\n",
    "previous_permanence.csv": "CHILD,DOB,PREV_PERM,LA_PERM,DATE_PERM\n100205,02/02/2008,Z1,,\n100202,03/03/2010,Z1,,\n"
    "100203,01/01/2016,Z1,,\n",
    "sw_episodes.csv": "CHILD,DOB,SW_ID,SW_DECOM,SW_DEC,SW_REASON\n"
    "100201,14/05/2012,SW445566,01/02/2023,30/09/2024,LEFTRL\n100201,14/05/2012,XX4713,01/10/2024,,MANAGE\n"
    "100203,01/01/2016,SW778899,01/04/2024,,OTHERS\n100204,01/06/2021,SW778899,15/01/2023,,OTHERS\n"
    "100205,02/02/2008,SW445566,01/09/2024,,OTHERS\n",
}
#: The items the extract does not hold, which the files made may differ from the council's own in, by table.
NOT_HELD = {"OC2": ("INTERVENTION_OFFERED",)}


def independent_extract(folder: Path) -> Path:
    """The extract as a council's ZIP in ``folder``."""
    return extract_zip(folder / "independent_ssd.zip", {f"{name}.csv": text for name, text in TABLES.items()})


def direct_files(folder: Path) -> Path:
    """The council's own SSDA903 CSVs for the same children, in ``folder`` (the tables with no rows too)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, file_name in CSV_NAMES.items():
        (folder / file_name).write_text(DIRECT.get(file_name, ",".join(COLUMNS[name]) + "\n"), encoding="utf-8")
    return folder
