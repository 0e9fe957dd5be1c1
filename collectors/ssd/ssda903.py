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
- Social worker episodes are the child's ``ssd_involvements`` rows (SW_ID the professional's id); the SSD does not
  mark which role is the social worker's (the DfE API flows repository's issue 93), so every involvement counts.
- Sex is M or F as the SSD writes it, DfE's 903 coding from 2024-25 (its rule 101); MOTHER Y and N are 1 and 0.
- OC2, AD1, PlacedAdoption and PrevPerm are not made: the SSD lacks OC2's teeth check and intervention offered,
  and its sources disagree on AD1's DATE_INT (D2I's tool takes the placement order date, the SSD spec the agency
  decision date); the record-level report names them as tables not given.
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
from collectors.ssd.spec import FLAGS

TABLES: dict[str, tuple[str, ...]] = {
    "ssd_person": ("pers_person_id", "pers_sex", "pers_dob", "pers_ethnicity", "pers_upn", "pers_common_child_id",
                   "pers_upn_unknown", "pers_is_mother"),
    "ssd_mother": ("moth_person_id", "moth_childs_dob"),
    "ssd_cla_episodes": ("clae_cla_episode_id", "clae_person_id", "clae_cla_episode_start_date",
                         "clae_cla_episode_start_reason", "clae_cla_primary_need_code", "clae_cla_episode_ceased_date",
                         "clae_cla_episode_ceased_reason", "clae_cla_id", "clae_cla_placement_id"),
    "ssd_cla_placement": ("clap_cla_placement_id", "clap_cla_placement_type", "clap_cla_placement_provider",
                          "clap_cla_placement_change_reason", "clap_cla_placement_postcode", "clap_cla_placement_urn"),
    "ssd_legal_status": ("lega_person_id", "lega_legal_status", "lega_legal_status_start_date",
                         "lega_legal_status_end_date"),
    "ssd_address": ("addr_person_id", "addr_address_type", "addr_address_start_date", "addr_address_end_date",
                    "addr_address_postcode"),
    "ssd_immigration_status": ("immi_person_id", "immi_immigration_status", "immi_immigration_status_start_date",
                               "immi_immigration_status_end_date"),
    "ssd_cla_reviews": ("clar_cla_id", "clar_cla_review_date", "clar_cla_review_participation"),
    "ssd_missing": ("miss_person_id", "miss_missing_episode_type", "miss_missing_episode_start_date",
                    "miss_missing_episode_end_date"),
    "ssd_care_leavers": ("clea_person_id", "clea_care_leaver_in_touch", "clea_care_leaver_activity",
                         "clea_care_leaver_accom_suitable"),
    "ssd_involvements": ("invo_person_id", "invo_professional_id", "invo_involvement_start_date",
                         "invo_involvement_end_date", "invo_worker_change_reason"),
}  # fmt: skip
UASC = frozenset({"UASC", "UNACCOMPANIED ASYLUM SEEKING CHILD"})
#: DfE's 903 codes sex as M and F from 2024-25 (its rule 101, csc-validator-be-903), as the SSD writes it.
SEX = {"M": "M", "F": "F"}
MADE = ("Header", "Episodes", "UASC", "Reviews", "Missing", "OC3", "SWEpisodes")


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


def make_ssda903(extract: Extract, year: CollectionYear) -> bytes:
    """The year's SSDA903 CSV tables from the extract, as one ZIP (``header.csv``, ``episodes.csv``, ...)."""
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
    rows["Header"] = _header(extract, people, t["ssd_mother"])
    rows["Episodes"] = _episodes(extract, episodes.filter(pl.col("clae_person_id").is_in(sorted(children))), t)
    sex_of = dict(people.select("pers_person_id", "pers_sex").iter_rows())
    for i in t["ssd_immigration_status"].iter_rows(named=True):
        status = (i["immi_immigration_status"] or "").strip().upper()
        if i["immi_person_id"] in dob and status in UASC:
            sex = sex_of[i["immi_person_id"]]
            rows["UASC"].append([i["immi_person_id"], SEX.get(coded(extract, "pers_sex", sex) or "", ""),
                                 dob[i["immi_person_id"]], _d(i["immi_immigration_status_end_date"])])  # fmt: skip
    cla_of: dict[str, str] = dict(
        episodes.select("clae_cla_id", "clae_person_id").drop_nulls().unique("clae_cla_id").iter_rows()
    )
    for r in t["ssd_cla_reviews"].iter_rows(named=True):
        child = cla_of.get(r["clar_cla_id"]) or ""
        if child in dob:
            code = coded(extract, "clar_cla_review_participation", r["clar_cla_review_participation"]) or ""
            rows["Reviews"].append([child, dob[child], _d(r["clar_cla_review_date"]), code])
    for m in t["ssd_missing"].iter_rows(named=True):
        if m["miss_person_id"] in dob:
            rows["Missing"].append([m["miss_person_id"], dob[m["miss_person_id"]],
                                    coded(extract, "miss_missing_episode_type", m["miss_missing_episode_type"]) or "",
                                    _d(m["miss_missing_episode_start_date"]), _d(m["miss_missing_episode_end_date"])])  # fmt: skip
    for c in leavers.iter_rows(named=True):
        if c["clea_person_id"] in dob:
            rows["OC3"].append([c["clea_person_id"], dob[c["clea_person_id"]],
                                *(coded(extract, k, c[k]) or "" for k in ("clea_care_leaver_in_touch",
                                  "clea_care_leaver_activity", "clea_care_leaver_accom_suitable"))])  # fmt: skip
    for v in t["ssd_involvements"].iter_rows(named=True):
        if v["invo_person_id"] in dob:
            rows["SWEpisodes"].append([v["invo_person_id"], dob[v["invo_person_id"]], v["invo_professional_id"] or "",
                                       _d(v["invo_involvement_start_date"]), _d(v["invo_involvement_end_date"]),
                                       coded(extract, "invo_worker_change_reason", v["invo_worker_change_reason"]) or ""])  # fmt: skip
    return _zipped(rows)


def _header(extract: Extract, people: pl.DataFrame, mothers: pl.DataFrame) -> list[list[str]]:
    latest = dict(mothers.sort("moth_childs_dob").group_by("moth_person_id", maintain_order=True).last().select(
        "moth_person_id", "moth_childs_dob").iter_rows())  # fmt: skip
    out = []
    for p in people.iter_rows(named=True):
        mother = FLAGS.get(p["pers_is_mother"] or "")
        upn = p["pers_upn"] or p["pers_common_child_id"] or p["pers_upn_unknown"] or ""
        out.append([p["pers_person_id"], SEX.get(coded(extract, "pers_sex", p["pers_sex"]) or "", ""), _d(p["pers_dob"]),
                    coded(extract, "pers_ethnicity", p["pers_ethnicity"]) or "", upn,
                    "" if mother is None else str(int(mother)), _d(latest.get(p["pers_person_id"]))])  # fmt: skip
    return out


def _episodes(extract: Extract, episodes: pl.DataFrame, t: dict[str, pl.DataFrame]) -> list[list[str]]:
    status = _in_force(t["ssd_legal_status"], "lega_person_id", "lega_legal_status_start_date",
                       "lega_legal_status_end_date", episodes)  # fmt: skip
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

        out.append([
            e["clae_person_id"], _d(e["clae_cla_episode_start_date"]),
            code("clae_cla_episode_start_reason", e["clae_cla_episode_start_reason"]),
            code("lega_legal_status", legal.get(e["clae_cla_episode_id"])),
            code("clae_cla_primary_need_code", e["clae_cla_primary_need_code"]),
            code("clap_cla_placement_type", place.get("clap_cla_placement_type")),
            code("clap_cla_placement_provider", place.get("clap_cla_placement_provider")),
            _d(e["clae_cla_episode_ceased_date"]),
            code("clae_cla_episode_ceased_reason", e["clae_cla_episode_ceased_reason"]),
            code("clap_cla_placement_change_reason", place.get("clap_cla_placement_change_reason")),
            postcode.get(e["clae_cla_episode_id"]) or "", place.get("clap_cla_placement_postcode") or "",
            place.get("clap_cla_placement_urn") or "",
        ])  # fmt: skip
    return out


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
