"""The SSDA903 CSV tables of a collection year made from a checked SSD extract, as the year's mapping says
(``collectors/ssd/maps/<year>.csv``), in the columns and date form (dd/mm/yyyy) of DfE's specification.

Readings where the SSD's definitions leave a choice (each with its source):

- A child is in the return when one of their ``ssd_cla_episodes`` is open at some time in the year, or they have
  an ``ssd_care_leavers`` row (OC3); every episode, review, missing episode and social worker involvement of such a
  child is written, and DfE's rules judge the history (the SSD keeps no per-return cut).
- An episode's legal status is the ``ssd_legal_status`` row in force at its start: the latest started on or before
  the episode's start and not ended before it; a status ending the day another starts gives way to the new one
  (issue 64's reading; the SSD spec maps lega_legal_status to LS).
- Its placement is the ``ssd_cla_placement`` row its ``clae_cla_placement_id`` names (issue 64; the SSD schema's
  reference from clae_cla_placement_id).
- The home postcode is that of the ``ssd_address`` row of type HOME in force at the episode's start, read as the
  legal status is (issue 64; the SSD's address types are its categories' "address_type").
- A child is a UASC when an ``ssd_immigration_status`` row says UASC or "Unaccompanied Asylum Seeking Child"
  (the SSD's immigration_status category; the DfE API flows repository's issue 52 reports the case of the code
  varying); DUC is that row's end date (D2I's SSDA903 tool, section 18).
- Reviews join the child by ``clar_cla_id`` through the child's episodes (``clae_cla_id``), as the SSD schema
  refers them.
- Social worker episodes are the child's ``ssd_involvements`` rows that overlap the social worker reporting
  period: begun by 31 March and not ended before its start, which DfE's rules for 2024-25 put a year before the
  collection year's (SW07STG2 and SW12STG2 of csc-validator-be-903's lac2024_25: "on or after the start of the
  social worker reporting period", read as ``collection_start - 1 year``); 2023-24's rules start it with the year.
  The SSD's role ids are the council's own (tables.md: ``invo_professional_role_id`` NVARCHAR(200), local values)
  and it does not mark which is the social worker's (the DfE API flows repository's issue 93, users_asks.md): where
  the council has a rule for which roles are the allocated worker (its agency's ``ssd.worker_roles``), only
  involvements of those roles are written; without one every involvement counts.
- SW_ID is the worker's Social Work England registration number, ``prof_social_worker_registration_no`` of the
  ``ssd_professionals`` row the involvement names (the SSD spec's PROF002A: "This is the child and family social
  worker Social Work England (SWE) number ... For social workers this will start 'SW'"; D2I's payload builder takes
  the worker id from it too), never the case system's own professional id. A worker the extract holds no number for
  is written ``XX`` followed by the case system's own id for the worker (``XX4713``, at least four characters): DfE's
  rule SW02STG1 takes a social worker ID beginning "SW" or "XX" and no other, and from 2025-26 none shorter than four
  characters (csc-validator-be-903, lac2025_26/rule_SW02STG1.py), so XX is the one stand-in its rules admit, and the
  worker's own id keeps two such workers apart where DfE counts changes of worker; the upload's notes count those
  episodes and say what the extract lacks.
- REASON_PLACE_CHANGE is written only on an episode that ended with a change of placement: ceased X1 and followed
  by the child's next episode starting P, B, T or U, as DfE's rule 225 reads a change of placement (an episode
  followed by RNE L changed the legal status only, and the placement row the SSD holds keeps its reason for the
  episode that did end it).
- A child whose every episode written is under legal status V3 or V4 (short breaks) has no MOTHER, MC_DOB nor
  Reviews rows: DfE's rule 399, "Mother field, review field or participation field are completed but child is looked
  after under legal status V3 or V4" (MC_DOB without MOTHER is rule 612's finding). An episode under V3 or V4 has no
  HOME_POST, PL_POST nor URN: DfE's rules 214 ("Placement location information not required", PL_POST and URN) and
  398 (the distance from HOME_POST to PL_POST).
- Sex is M or F as the SSD writes it, DfE's 903 coding from 2024-25 (its rule 101); MOTHER Y and N are 1 and 0.
- PlacedAdoption has a row for each ``ssd_permanence`` row of a child in the return whose decision that the child
  should be placed for adoption (``perm_adm_decision_date``) is on or before 31 March and was not reversed before
  1 April: DfE's file covers decisions "made, either during the current year, or in a previous year where the
  decision is still valid" and those reversed during the year (DfE's guidance as D2I's SSDA903 tool quotes it,
  ssda903_sqlserver-ON_HOLD.sql lines 83-89). DATE_PLACED is the agency decision date: DfE's rule 115 names
  DATE_PLACED "the date of the LA's decision that a child should be placed for adoption" and the SSD spec's PERM003A
  is that decision ("the date the agency decision maker takes the decision"); ``perm_placed_for_adoption_date`` is
  the day the child was placed with adopters (PERM007A), another date. A reversal after 31 March is not written:
  DfE's rule 117 refuses a DATE_PLACED_CEASED beyond the year.
- AD1 has a row for each child of the return whose episode ceased adopted (REC E11 or E12) in the year (DfE's rules
  601 and 602: AD1 is completed for, and only for, children the episodes show adopted during the year), from the
  child's latest ``ssd_permanence`` decision made on or before the adoption and not reversed. DATE_INT is
  ``perm_adm_decision_date``, the SSD spec's reading (PERM003A maps to DATE_INT), not the placement order date D2I's
  tool takes (ssda903_sqlserver-ON_HOLD.sql line 111): DfE's rule 523 wants DATE_INT the same day as DATE_PLACED,
  which is the agency decision (above), and a placement order follows that decision (PERM006A: the order is
  granted, legal status E1). FOSTER_CARE is ``perm_adopted_by_carer_flag`` Y 1, N 0 (PERM021A, "adopted by their
  former carer"; D2I's tool puts a date there, line 113, which DfE's 0/1 item cannot hold).
- PrevPerm has the child's ``ssd_cla_previous_permanence`` row for each child of the return who started to be
  looked after in the year (an episode with RNE S starting on or after 1 April): the SSD's LAPP004A "should be
  completed for all children who start to be looked-after" and DfE's rule 630 asks it of them. Where a child has
  several rows the last the extract gives is written (the SSD keeps no date of the entry; LAPP004A: it "can be
  updated if information comes to light"). DATE_PERM is written as the SSD holds it, dd/mm/yyyy or the partial
  forms LAPP003A gives (zz/05/2020, zz/zz/2021, zz/zz/zzzz) in capitals, as DfE's rule 632 reads them (ZZ/05/2020;
  lac_validator's rule_utils.valid_date), a YYYY-MM-DD date turned into dd/mm/yyyy. LA_PERM is written as
  held (or as the council's code map turns it): LAPP005A holds the arranging council's name where DfE's rule 633
  wants its code.
- OC2 is made from the SSD's looked-after health tables for the children looked after continuously for 12 months at
  31 March (``collectors/ssd/ssda903_oc2.py``, its readings there).
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date
from typing import Any

import polars as pl

from collectors.records.ssda903_tables import COLUMNS, CSV_NAMES, CollectionYear
from collectors.ssd.cin import coded, table
from collectors.ssd.intake import Extract
from collectors.ssd.spec import DATE, FLAGS, ROLE, of_roles
from collectors.ssd.ssda903_oc2 import make_oc2

TABLES: dict[str, tuple[str, ...]] = {
    "ssd_person": (
        "pers_person_id",
        "pers_sex",
        "pers_dob",
        "pers_ethnicity",
        "pers_upn",
        "pers_upn_unknown",
        "pers_is_mother",
    ),
    "ssd_mother": ("moth_person_id", "moth_childs_dob"),
    "ssd_cla_episodes": (
        "clae_cla_episode_id",
        "clae_person_id",
        "clae_cla_episode_start_date",
        "clae_cla_episode_start_reason",
        "clae_cla_primary_need_code",
        "clae_cla_episode_ceased_date",
        "clae_cla_episode_ceased_reason",
        "clae_cla_id",
        "clae_cla_placement_id",
    ),
    "ssd_cla_placement": (
        "clap_cla_placement_id",
        "clap_cla_placement_type",
        "clap_cla_placement_provider",
        "clap_cla_placement_change_reason",
        "clap_cla_placement_postcode",
        "clap_cla_placement_urn",
    ),
    "ssd_legal_status": (
        "lega_person_id",
        "lega_legal_status",
        "lega_legal_status_start_date",
        "lega_legal_status_end_date",
    ),
    "ssd_address": (
        "addr_person_id",
        "addr_address_type",
        "addr_address_start_date",
        "addr_address_end_date",
        "addr_address_postcode",
    ),
    "ssd_immigration_status": (
        "immi_person_id",
        "immi_immigration_status",
        "immi_immigration_status_start_date",
        "immi_immigration_status_end_date",
    ),
    "ssd_cla_reviews": ("clar_cla_id", "clar_cla_review_date", "clar_cla_review_participation"),
    "ssd_missing": (
        "miss_person_id",
        "miss_missing_episode_type",
        "miss_missing_episode_start_date",
        "miss_missing_episode_end_date",
    ),
    "ssd_care_leavers": (
        "clea_person_id",
        "clea_care_leaver_in_touch",
        "clea_care_leaver_activity",
        "clea_care_leaver_accom_suitable",
    ),
    "ssd_involvements": (
        "invo_person_id",
        "invo_professional_id",
        "invo_involvement_start_date",
        "invo_involvement_end_date",
        "invo_worker_change_reason",
        ROLE,
    ),
    "ssd_professionals": ("prof_professional_id", "prof_social_worker_registration_no"),
    "ssd_permanence": (
        "perm_person_id",
        "perm_adm_decision_date",
        "perm_matched_date",
        "perm_adopted_by_carer_flag",
        "perm_number_of_adopters",
        "perm_adopter_sex",
        "perm_adopter_legal_status",
        "perm_decision_reversed_date",
        "perm_decision_reversed_reason",
    ),
}
#: Read as text, not typed: DATE_PERM may be one of DfE's zz forms (the SSD's LAPP003A).
PREVIOUS = (
    "lapp_person_id",
    "lapp_previous_permanence_option",
    "lapp_previous_permanence_la",
    "lapp_previous_permanence_order_date",
)
#: DfE's reasons an episode ceased that are adoptions (its rule 601: E11 and E12).
ADOPTED = frozenset({"E11", "E12"})
UASC = frozenset({"UASC", "UNACCOMPANIED ASYLUM SEEKING CHILD"})
#: DfE's 903 codes sex as M and F from 2024-25 (its rule 101, csc-validator-be-903), as the SSD writes it.
SEX = {"M": "M", "F": "F"}
#: The start of the social worker ID DfE's rule SW02STG1 admits besides a registration number beginning SW: for a
#: worker the extract holds no Social Work England number for.
UNREGISTERED = "XX"


def unregistered_id(professional_id: object) -> str:
    """The SW_ID of a worker with no registration number: XX and the case system's id, four characters at least."""
    # DfE's 2025-26 rule SW02STG1 refuses an id shorter than four characters; 2024-25's takes any beginning XX.
    return f"{UNREGISTERED}{'' if professional_id is None else professional_id}".ljust(4, "0")


#: Reasons a new episode starts that change the placement, as DfE's rule 225 reads the next episode (P, B, T, U).
NEW_PLACEMENT = frozenset({"P", "B", "T", "U"})
#: Legal statuses of short breaks: no MOTHER nor Reviews for a child only under them (DfE's rule 399).
SHORT_BREAKS = frozenset({"V3", "V4"})
MADE = (
    "Header",
    "Episodes",
    "UASC",
    "Reviews",
    "Missing",
    "OC2",
    "OC3",
    "AD1",
    "PlacedAdoption",
    "PrevPerm",
    "SWEpisodes",
)


def _d(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def _in_force(rows: pl.DataFrame, person: str, start: str, end: str, episodes: pl.DataFrame) -> pl.DataFrame:
    """For each episode, the row of ``rows`` in force at its start: the latest started on or before it and not ended
    by then; a row ending the day the episode starts gives way, unless it started that day too."""
    joined = episodes.select("clae_cla_episode_id", "clae_person_id", "clae_cla_episode_start_date").join(
        rows, left_on="clae_person_id", right_on=person
    )
    live = joined.filter(
        (pl.col(start) <= pl.col("clae_cla_episode_start_date"))
        & (
            pl.col(end).is_null()
            | (pl.col(end) > pl.col("clae_cla_episode_start_date"))
            | (pl.col(start) == pl.col("clae_cla_episode_start_date"))
        )
    )
    return live.sort(start).group_by("clae_cla_episode_id", maintain_order=True).last()


def make_ssda903(extract: Extract, year: CollectionYear, notes: list[str] | None = None) -> bytes:
    """The year's SSDA903 CSV tables from the extract, as one ZIP (``header.csv``, ``episodes.csv``, ...); what the
    extract lacks for them is added to ``notes``."""
    notes = [] if notes is None else notes
    t = {name: table(extract, name, columns) for name, columns in TABLES.items()}
    episodes = t["ssd_cla_episodes"]
    in_year = episodes.filter(
        (pl.col("clae_cla_episode_start_date") <= year.end)
        & (pl.col("clae_cla_episode_ceased_date").is_null() | (pl.col("clae_cla_episode_ceased_date") >= year.start))
    )
    leavers = t["ssd_care_leavers"]
    children = set(in_year["clae_person_id"].drop_nulls()) | set(leavers["clea_person_id"].drop_nulls())
    people = t["ssd_person"].filter(pl.col("pers_person_id").is_in(sorted(children)))
    dob = {p["pers_person_id"]: _d(p["pers_dob"]) for p in people.iter_rows(named=True)}
    rows: dict[str, list[list[str]]] = {name: [] for name in MADE}
    rows["Episodes"] = _episodes(extract, episodes.filter(pl.col("clae_person_id").is_in(sorted(children))), t)
    short = _short_breaks(rows["Episodes"])
    rows["Header"] = _header(extract, people, t["ssd_mother"], short)
    sex_of = dict(people.select("pers_person_id", "pers_sex").iter_rows())
    for i in t["ssd_immigration_status"].iter_rows(named=True):
        status = (i["immi_immigration_status"] or "").strip().upper()
        if i["immi_person_id"] in dob and status in UASC:
            sex = sex_of[i["immi_person_id"]]
            rows["UASC"].append(
                [
                    i["immi_person_id"],
                    SEX.get(coded(extract, "pers_sex", sex) or "", ""),
                    dob[i["immi_person_id"]],
                    _d(i["immi_immigration_status_end_date"]),
                ]
            )
    cla_of: dict[str, str] = dict(
        episodes.select("clae_cla_id", "clae_person_id").drop_nulls().unique("clae_cla_id").iter_rows()
    )
    for r in t["ssd_cla_reviews"].iter_rows(named=True):
        child = cla_of.get(r["clar_cla_id"]) or ""
        if child in dob and child not in short:
            code = coded(extract, "clar_cla_review_participation", r["clar_cla_review_participation"]) or ""
            rows["Reviews"].append([child, dob[child], _d(r["clar_cla_review_date"]), code])
    for m in t["ssd_missing"].iter_rows(named=True):
        if m["miss_person_id"] in dob:
            rows["Missing"].append(
                [
                    m["miss_person_id"],
                    dob[m["miss_person_id"]],
                    coded(extract, "miss_missing_episode_type", m["miss_missing_episode_type"]) or "",
                    _d(m["miss_missing_episode_start_date"]),
                    _d(m["miss_missing_episode_end_date"]),
                ]
            )
    for c in leavers.iter_rows(named=True):
        if c["clea_person_id"] in dob:
            rows["OC3"].append(
                [
                    c["clea_person_id"],
                    dob[c["clea_person_id"]],
                    *(
                        coded(extract, k, c[k]) or ""
                        for k in (
                            "clea_care_leaver_in_touch",
                            "clea_care_leaver_activity",
                            "clea_care_leaver_accom_suitable",
                        )
                    ),
                ]
            )
    rows["OC2"] = make_oc2(extract, rows["Episodes"], dob, {r[0] for r in rows["OC3"]}, year, notes)
    rows["SWEpisodes"] = _social_workers(extract, t, dob, year, notes)
    mine = episodes.filter(pl.col("clae_person_id").is_in(sorted(children)))
    rows["AD1"], rows["PlacedAdoption"] = _adoption(extract, t["ssd_permanence"], mine, dob, year)
    rows["PrevPerm"] = _previous(extract, mine, dob, year)
    return _zipped(rows)


def sw_period_start(year: CollectionYear) -> date:
    """The first day of the social worker reporting period: from 2024-25 a year before the collection year's start
    (DfE's rules SW07STG2 and SW12STG2 of lac2024_25 read ``collection_start - 1 year``), before then the year's."""
    return date(year.ending - 2, 4, 1) if year.ending >= 2025 else year.start


def _social_workers(
    extract: Extract, t: dict[str, pl.DataFrame], dob: dict[str, str], year: CollectionYear, notes: list[str]
) -> list[list[str]]:
    """SWEpisodes rows: the children's involvements (of the council's worker roles) overlapping the social worker
    reporting period, SW_ID the worker's registration number or XX (the readings above)."""
    professionals = t["ssd_professionals"]
    number = {
        p: (n or "").strip()
        for p, n in professionals.select("prof_professional_id", "prof_social_worker_registration_no").iter_rows()
    }
    overlapping = t["ssd_involvements"].filter(
        of_roles(pl.col(ROLE), extract.worker_roles)
        & pl.col("invo_person_id").is_in(sorted(dob))
        & (pl.col("invo_involvement_start_date").is_null() | (pl.col("invo_involvement_start_date") <= year.end))
        & (
            pl.col("invo_involvement_end_date").is_null()
            | (pl.col("invo_involvement_end_date") >= sw_period_start(year))
        )
    )
    out, unregistered = [], 0
    for v in overlapping.iter_rows(named=True):
        sw_id = number.get(v["invo_professional_id"]) or unregistered_id(v["invo_professional_id"])
        unregistered += sw_id.startswith(UNREGISTERED)
        out.append(
            [
                v["invo_person_id"],
                dob[v["invo_person_id"]],
                sw_id,
                _d(v["invo_involvement_start_date"]),
                _d(v["invo_involvement_end_date"]),
                coded(extract, "invo_worker_change_reason", v["invo_worker_change_reason"]) or "",
            ]
        )
    if unregistered:
        held = "ssd_professionals" in extract.tables and "prof_social_worker_registration_no" in (
            extract.tables["ssd_professionals"].columns
        )
        lacks = (
            "their workers have no prof_social_worker_registration_no in ssd_professionals"
            if held
            else "the extract has no ssd_professionals with prof_social_worker_registration_no"
        )
        notes.append(
            f"SWEpisodes: {unregistered} social worker episode(s) have SW_ID XX and the case system's id for the worker, the stand-in DfE's rule SW02STG1 "
            f"admits, as {lacks} (the worker's Social Work England registration number)"
        )
    return out


def _short_breaks(episodes: list[list[str]]) -> set[str]:
    """The children every episode of whom is under legal status V3 or V4 (DfE's rule 399)."""
    statuses: dict[str, set[str]] = {}
    for row in episodes:
        statuses.setdefault(row[0], set()).add(row[3])
    return {child for child, found in statuses.items() if found <= SHORT_BREAKS}


def _header(extract: Extract, people: pl.DataFrame, mothers: pl.DataFrame, short: set[str]) -> list[list[str]]:
    latest = dict(
        mothers.sort("moth_childs_dob")
        .group_by("moth_person_id", maintain_order=True)
        .last()
        .select("moth_person_id", "moth_childs_dob")
        .iter_rows()
    )
    out = []
    for p in people.iter_rows(named=True):
        mother = None if p["pers_person_id"] in short else FLAGS.get(p["pers_is_mother"] or "")
        born = None if p["pers_person_id"] in short else latest.get(p["pers_person_id"])
        upn = p["pers_upn"] or p["pers_upn_unknown"] or ""
        out.append(
            [
                p["pers_person_id"],
                SEX.get(coded(extract, "pers_sex", p["pers_sex"]) or "", ""),
                _d(p["pers_dob"]),
                coded(extract, "pers_ethnicity", p["pers_ethnicity"]) or "",
                upn,
                "" if mother is None else str(int(mother)),
                _d(born),
            ]
        )
    return out


def _episodes(extract: Extract, episodes: pl.DataFrame, t: dict[str, pl.DataFrame]) -> list[list[str]]:
    status = _in_force(
        t["ssd_legal_status"], "lega_person_id", "lega_legal_status_start_date", "lega_legal_status_end_date", episodes
    )
    homes = t["ssd_address"].filter(pl.col("addr_address_type").str.to_uppercase() == "HOME")
    home = _in_force(homes, "addr_person_id", "addr_address_start_date", "addr_address_end_date", episodes)
    legal = dict(status.select("clae_cla_episode_id", "lega_legal_status").iter_rows())
    postcode = dict(home.select("clae_cla_episode_id", "addr_address_postcode").iter_rows())
    placements = {p["clap_cla_placement_id"]: p for p in t["ssd_cla_placement"].iter_rows(named=True)}
    out = []
    for e in episodes.iter_rows(named=True):
        place: dict[str, Any] = placements.get(e["clae_cla_placement_id"], {})

        def code(column: str, value: str | None) -> str:
            return coded(extract, column, value) or ""

        out.append(
            [
                e["clae_person_id"],
                _d(e["clae_cla_episode_start_date"]),
                code("clae_cla_episode_start_reason", e["clae_cla_episode_start_reason"]),
                code("lega_legal_status", legal.get(e["clae_cla_episode_id"])),
                code("clae_cla_primary_need_code", e["clae_cla_primary_need_code"]),
                code("clap_cla_placement_type", place.get("clap_cla_placement_type")),
                code("clap_cla_placement_provider", place.get("clap_cla_placement_provider")),
                _d(e["clae_cla_episode_ceased_date"]),
                code("clae_cla_episode_ceased_reason", e["clae_cla_episode_ceased_reason"]),
                code("clap_cla_placement_change_reason", place.get("clap_cla_placement_change_reason")),
                postcode.get(e["clae_cla_episode_id"]) or "",
                place.get("clap_cla_placement_postcode") or "",
                place.get("clap_cla_placement_urn") or "",
            ]
        )
    _placement_changes(out, list(episodes["clae_cla_episode_start_date"]))
    return out


def _placement_changes(rows: list[list[str]], starts: list[date | None]) -> None:
    """REASON_PLACE_CHANGE kept only on an episode ended X1 whose child's next episode starts P, B, T or U (DfE's
    rule 225's change of placement), blanked on every other; no postcodes nor URN under V3 or V4 (rules 214, 398)."""
    order = sorted(range(len(rows)), key=lambda n: (rows[n][0], starts[n] or date.min))
    for at, n in enumerate(order):
        after = order[at + 1] if at + 1 < len(order) else None
        changed = after is not None and rows[after][0] == rows[n][0] and rows[after][2] in NEW_PLACEMENT
        if not (changed and rows[n][8] == "X1"):
            rows[n][9] = ""
        if rows[n][3] in SHORT_BREAKS:
            rows[n][10:13] = ["", "", ""]


def _adoption(
    extract: Extract, permanence: pl.DataFrame, episodes: pl.DataFrame, dob: dict[str, str], year: CollectionYear
) -> tuple[list[list[str]], list[list[str]]]:
    """AD1 and PlacedAdoption rows from the children's ``ssd_permanence`` decisions (the readings above)."""
    decided = permanence.filter(
        pl.col("perm_person_id").is_in(sorted(dob)) & pl.col("perm_adm_decision_date").is_not_null()
    )
    placed = []
    for p in decided.iter_rows(named=True):
        reversed_on = p["perm_decision_reversed_date"]
        if p["perm_adm_decision_date"] > year.end or (reversed_on is not None and reversed_on < year.start):
            continue
        ceased = reversed_on is not None and reversed_on <= year.end
        reason = coded(extract, "perm_decision_reversed_reason", p["perm_decision_reversed_reason"]) or ""
        placed.append(
            [
                p["perm_person_id"],
                dob[p["perm_person_id"]],
                _d(p["perm_adm_decision_date"]),
                _d(reversed_on) if ceased else "",
                reason if ceased else "",
            ]
        )
    adopted_on: dict[str, date] = {}
    for e in episodes.iter_rows(named=True):
        ended = e["clae_cla_episode_ceased_date"]
        rec = coded(extract, "clae_cla_episode_ceased_reason", e["clae_cla_episode_ceased_reason"])
        if rec in ADOPTED and ended is not None and year.start <= ended <= year.end:
            adopted_on[e["clae_person_id"]] = max(ended, adopted_on.get(e["clae_person_id"], ended))
    ad1 = []
    for child in (c for c in dob if c in adopted_on):
        day = adopted_on[child]
        standing = decided.filter(
            (pl.col("perm_person_id") == child)
            & (pl.col("perm_adm_decision_date") <= day)
            & (pl.col("perm_decision_reversed_date").is_null() | (pl.col("perm_decision_reversed_date") > day))
        ).sort("perm_adm_decision_date", maintain_order=True)
        if standing.is_empty():
            continue  # DfE's rule 601 reports the adoption without its AD1: the SSD holds no decision for it
        a = standing.row(-1, named=True)
        carer = FLAGS.get(a["perm_adopted_by_carer_flag"] or "")
        ad1.append(
            [
                child,
                dob[child],
                _d(a["perm_adm_decision_date"]),
                _d(a["perm_matched_date"]),
                "" if carer is None else str(int(carer)),
                a["perm_number_of_adopters"] or "",
                coded(extract, "perm_adopter_sex", a["perm_adopter_sex"]) or "",
                coded(extract, "perm_adopter_legal_status", a["perm_adopter_legal_status"]) or "",
            ]
        )
    return ad1, placed


def _previous(extract: Extract, episodes: pl.DataFrame, dob: dict[str, str], year: CollectionYear) -> list[list[str]]:
    """PrevPerm rows: the last ``ssd_cla_previous_permanence`` row of each child who started care in the year."""
    started = {
        e["clae_person_id"]
        for e in episodes.iter_rows(named=True)
        if e["clae_cla_episode_start_date"] is not None
        and e["clae_cla_episode_start_date"] >= year.start
        and coded(extract, "clae_cla_episode_start_reason", e["clae_cla_episode_start_reason"]) == "S"
    }
    frame = extract.tables.get("ssd_cla_previous_permanence", pl.DataFrame())
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in PREVIOUS if c not in frame.columns)
    last: dict[str, dict[str, Any]] = {}
    for p in frame.select(PREVIOUS).iter_rows(named=True):
        if p["lapp_person_id"] in started:
            last[p["lapp_person_id"]] = p
    out = []
    for child in (c for c in dob if c in last):
        p = last[child]
        out.append(
            [
                child,
                dob[child],
                coded(extract, "lapp_previous_permanence_option", p["lapp_previous_permanence_option"]) or "",
                coded(extract, "lapp_previous_permanence_la", p["lapp_previous_permanence_la"]) or "",
                _order_date((p["lapp_previous_permanence_order_date"] or "").strip()),
            ]
        )
    return out


def _order_date(text: str) -> str:
    """DATE_PERM as DfE writes it: a YYYY-MM-DD date turned to dd/mm/yyyy, anything else (DfE's ZZ forms) as held
    but in capitals (the SSD's LAPP003A writes zz; DfE's rule 632 reads ZZ, lac_validator's rule_utils.valid_date)."""
    if DATE.match(text):
        return f"{text[8:10]}/{text[5:7]}/{text[0:4]}"
    return text.upper()


def _zipped(rows: dict[str, list[list[str]]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, found in rows.items():
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(COLUMNS[name])
            writer.writerows(found)
            # A fixed time on each member: the same extract makes the same ZIP byte for byte, so the files made from
            # it uploaded again are recognised as the upload already made.
            member = zipfile.ZipInfo(CSV_NAMES[name], date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(member, text.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
