"""What Ofsted's Annex A needs from an SSD extract that neither DfE file holds, taken at the extract's intake: the
contacts and early help of Lists 1 and 2, and per child the dated rows the columns only the SSD holds are read from
(involvements, visits, IRO contact, care plans, health checks, missing episodes, care leavers' advisers, family).
Where the council has a rule for which involvement roles are the allocated worker (its own role ids,
its agency's ``ssd.worker_roles``), only the involvements of those roles are kept, and the rule's roles beside them
(``worker_roles``) for the front sheet to name; without one every involvement is kept, whatever its role.

Only these reduced rows are kept (encrypted, as the record files are: ``collectors.annex_a.from_ssd``), never the
extract. They stay dated: Annex A is built for an inspection date, not the extract's, so which involvement or visit
counts is decided when it is built. The SSD's columns are as the v1.4.5 schema names them; the Annex A lists each
feeds are those of D2I's own Annex A builder (``mappings/annexa_lists_from_ssd.md`` in the SSD reference). Nothing
here logs or puts a value in a message: the values are children's.
"""

from __future__ import annotations

import json

import polars as pl

from collectors.annex_a.extract_rows import KEPT
from collectors.ssd.annex_a_columns import COLUMNS
from collectors.ssd.intake import Extract, ExtractRefused, Problem
from collectors.ssd.spec import PERSON, ROLE, as_date, of_roles

#: The child's id column of each table read, which must be given on every row.
_PERSON_COLUMN = {table: columns[0] for table, columns in COLUMNS.items() if columns[0].endswith("_person_id")}

#: The permanence plan's keys (LACP003A guidance, ssd_cla_care_plan.yml) to Ofsted's codes ([G] "What is the
#: permanence plan for this child?": a) Return to family ... g) other), in the SSD's order of its keys.
#: Choice: remaining with the birth family with support is "a) Return to family"; a long-term placement with
#: relatives or friends is "g) other" (it may be an SGO, a CAO or kinship fostering; the SSD does not say which).
PLAN_CODES: dict[str, str] = {
    "REMAINSUP": "a) Return to family",
    "RETURN1M": "a) Return to family",
    "RETURN6M": "a) Return to family",
    "RETURNEV": "a) Return to family",
    "LTRELFR": "g) other",
    "LTFOST18": "f) Long-term fostering",
    "RESPLMT": "e) Long-term residential placement",
    "SUPPLIV": "d) Supported living in the community",
    "ADOPTION": "b) Adoption",
    "OTHERPLN": "g) other",
}
_TICKED = {"Y", "YES", "1", "TRUE", "X"}

#: Which SSD table each reduced table is read from (the first that is in the extract): the front sheet's source.
FROM: dict[str, tuple[str, ...]] = {
    "contacts": ("ssd_contacts",),
    "early_help": ("ssd_early_help_episodes",),
    "involvements": ("ssd_involvements",),
    "assessments": ("ssd_cin_assessments",),
    "visits": ("ssd_cin_visits", "ssd_cp_visits", "ssd_cla_visits"),
    "iro": ("ssd_cla_episodes",),
    "care_plans": ("ssd_cla_care_plan",),
    "health": ("ssd_cla_health",),
    "missing": ("ssd_missing",),
    "care_leavers": ("ssd_care_leavers",),
    "family": ("ssd_family",),
}


def check(extract: Extract) -> None:
    """Refuse, by table and row, a row of a table Annex A reads whose child id is blank: it would be lost silently
    (the intake's reference check already refuses an id that is not in ``ssd_person``)."""
    problems: list[Problem] = []
    for table, column in _PERSON_COLUMN.items():
        frame = extract.tables.get(table)
        if frame is None or column not in frame.columns:
            continue
        blank = frame.select(column).with_row_index("_row").filter(pl.col(column).is_null())
        problems += [
            Problem(table, int(r) + 1, column, "the child's id is blank: every row is a child's") for r in blank["_row"]
        ]
    if problems:
        raise ExtractRefused(problems)


def _get(extract: Extract, table: str, *columns: str) -> pl.DataFrame | None:
    """The table's columns (a column not in the extract read blank), or None when the table is absent."""
    frame = extract.tables.get(table)
    if frame is None:
        return None
    return frame.select([pl.col(c) if c in frame.columns else pl.lit(None, dtype=pl.String).alias(c) for c in columns])


def _names(extract: Extract, table: str, key: str, name: str) -> pl.DataFrame:
    frame = _get(extract, table, key, name)
    if frame is None:
        return pl.DataFrame(schema={"_id": pl.String, "_name": pl.String})
    return frame.select(pl.col(key).alias("_id"), pl.col(name).alias("_name")).unique("_id")


def _named(frame: pl.DataFrame, column: str, names: pl.DataFrame) -> pl.DataFrame:
    """The id in ``column`` replaced by its name from ``names``; the id itself where the extract names it nowhere.

    Choice: Ofsted asks for the team's and the worker's names ([G] "Allocated Team", "Allocated Worker"); where the
    extract has no ssd_department or ssd_professionals row for the id, the council's id is written instead."""
    joined = frame.join(names, left_on=column, right_on="_id", how="left")
    return joined.with_columns(pl.coalesce("_name", column).alias(column)).drop("_name")


def _plan(text: str | None) -> str | None:
    """Ofsted's code for a care plan's JSON, the first key ticked in the SSD's order; None when none is.

    Choice: Ofsted asks for the primary plan where there is parallel planning (FAQ, List 8, August 2019); the SSD
    does not mark one, so the first ticked in the SSD's order of keys (return home before the long-term plans) is
    taken."""
    if not text:
        return None
    try:
        found = json.loads(text)
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    ticked = {str(k).strip().upper() for k, v in found.items() if str(v).strip().upper() in _TICKED}
    return next((code for key, code in PLAN_CODES.items() if key in ticked), None)


def derive(extract: Extract) -> dict[str, pl.DataFrame]:
    """The reduced, dated tables Annex A is built from, each of the extract's tables it reads; absent ones left out,
    and none at all when the extract holds nothing Annex A reads beyond the DfE files."""
    found: dict[str, pl.DataFrame] = {}
    day = as_date
    if (t := _get(extract, "ssd_contacts", *COLUMNS["ssd_contacts"])) is not None:
        found["contacts"] = t.select(
            pl.col("cont_person_id").alias("child"),
            day(pl.col("cont_contact_date")).alias("date"),
            pl.col("cont_contact_source_code").alias("source"),
        )
    if (t := _get(extract, "ssd_early_help_episodes", *COLUMNS["ssd_early_help_episodes"])) is not None:
        found["early_help"] = t.select(
            pl.col("earl_person_id").alias("child"),
            day(pl.col("earl_episode_start_date")).alias("start"),
            day(pl.col("earl_episode_end_date")).alias("end"),
            pl.col("earl_episode_organisation").alias("organisation"),
        )
    if (t := _get(extract, "ssd_involvements", *COLUMNS["ssd_involvements"])) is not None:
        # The council's rule: only involvements of its roles are the allocated worker's (every one without a rule).
        rows = t.filter(of_roles(pl.col(ROLE), extract.worker_roles)).select(
            pl.col("invo_person_id").alias("child"),
            day(pl.col("invo_involvement_start_date")).alias("start"),
            day(pl.col("invo_involvement_end_date")).alias("end"),
            pl.col("invo_professional_team").alias("team"),
            pl.col("invo_professional_id").alias("worker"),
        )
        rows = _named(rows, "team", _names(extract, "ssd_department", "dept_team_id", "dept_team_name"))
        found["involvements"] = _named(
            rows, "worker", _names(extract, "ssd_professionals", "prof_professional_id", "prof_professional_name")
        )
    if (t := _get(extract, "ssd_cin_assessments", *COLUMNS["ssd_cin_assessments"])) is not None:
        found["assessments"] = t.select(
            pl.col("cina_person_id").alias("child"),
            day(pl.col("cina_assessment_start_date")).alias("start"),
            pl.col("cina_assessment_child_seen").alias("seen"),
        )
    visits = [
        _visits(extract, table, kind)
        for table, kind in (("ssd_cin_visits", "cin"), ("ssd_cp_visits", "cp"), ("ssd_cla_visits", "cla"))
    ]
    if any(v is not None for v in visits):
        found["visits"] = pl.concat([v for v in visits if v is not None])
    found.update(_care(extract))
    people = _get(extract, PERSON, "pers_person_id", "pers_sex", "pers_ethnicity", "pers_dob", "pers_expected_dob")
    listed = pl.concat(
        [found[n].select("child") for n in ("contacts", "early_help") if n in found]
        or [pl.DataFrame(schema={"child": pl.String})]
    )
    if people is not None:
        found["people"] = people.select(
            pl.col("pers_person_id").alias("child"),
            pl.col("pers_sex").alias("sex"),
            pl.col("pers_ethnicity").alias("ethnicity"),
            day(pl.col("pers_dob")).alias("dob"),
            day(pl.col("pers_expected_dob")).alias("expected"),
        ).filter(pl.col("child").is_in(listed["child"].unique().implode()))
    if set(found) <= {"people"}:
        return {}
    if extract.worker_roles and "involvements" in found:
        # Kept beside the rows so the front sheet names the rule they were read by (never a child's value).
        found["worker_roles"] = pl.DataFrame({"role": list(extract.worker_roles)}, schema=KEPT["worker_roles"])
    return {name: frame.cast(KEPT[name]) for name, frame in found.items()}  # type: ignore[arg-type]


def _visits(extract: Extract, table: str, kind: str) -> pl.DataFrame | None:
    prefix = {"cin": "cinv_cin_visit", "cp": "cppv_cp_visit", "cla": "clav_cla_visit"}[kind]
    t = _get(extract, table, *COLUMNS[table])
    if t is None:
        return None
    return t.select(
        pl.col(COLUMNS[table][0]).alias("child"),
        pl.lit(kind).alias("kind"),
        as_date(pl.col(f"{prefix}_date")).alias("date"),
        pl.col(f"{prefix}_seen").alias("seen"),
        pl.col(f"{prefix}_seen_alone").alias("alone"),
    )


def _care(extract: Extract) -> dict[str, pl.DataFrame]:
    """The looked-after children's and care leavers' rows: IRO contact, care plans, health, missing, advisers."""
    found: dict[str, pl.DataFrame] = {}
    day = as_date
    if (t := _get(extract, "ssd_cla_episodes", *COLUMNS["ssd_cla_episodes"])) is not None:
        found["iro"] = t.select(
            pl.col("clae_person_id").alias("child"), day(pl.col("clae_cla_last_iro_contact_date")).alias("date")
        ).drop_nulls("date")
    if (t := _get(extract, "ssd_cla_care_plan", *COLUMNS["ssd_cla_care_plan"])) is not None:
        found["care_plans"] = t.select(
            pl.col("lacp_person_id").alias("child"),
            day(pl.col("lacp_cla_care_plan_start_date")).alias("start"),
            day(pl.col("lacp_cla_care_plan_end_date")).alias("end"),
            pl.col("lacp_cla_care_plan_json").map_elements(_plan, return_dtype=pl.String).alias("plan"),
        )
    if (t := _get(extract, "ssd_cla_health", *COLUMNS["ssd_cla_health"])) is not None:
        # The types D2I's Annex A builder reads for List 8 (HEALTH / Health Assessment, DENTAL / Dental Check).
        kind = pl.col("clah_health_check_type").str.to_uppercase()
        found["health"] = t.select(
            pl.col("clah_person_id").alias("child"),
            pl.when(kind.is_in(["HEALTH", "HEALTH ASSESSMENT"]))
            .then(pl.lit("health"))
            .when(kind.is_in(["DENTAL", "DENTAL CHECK"]))
            .then(pl.lit("dental"))
            .alias("kind"),
            day(pl.col("clah_health_check_date")).alias("date"),
        ).drop_nulls("kind")
    if (t := _get(extract, "ssd_missing", *COLUMNS["ssd_missing"])) is not None:
        # Missing, not absent: "after their last missing episode" [G]; the SSD writes M or Missing (D2I's builder).
        found["missing"] = t.filter(
            pl.col("miss_missing_episode_type").str.to_uppercase().is_in(["M", "MISSING"])
        ).select(
            pl.col("miss_person_id").alias("child"),
            day(pl.col("miss_missing_episode_start_date")).alias("start"),
            pl.col("miss_missing_rhi_offered").alias("offered"),
            pl.col("miss_missing_rhi_accepted").alias("accepted"),
        )
    if (t := _get(extract, "ssd_care_leavers", *COLUMNS["ssd_care_leavers"])) is not None:
        rows = t.select(
            pl.col("clea_person_id").alias("child"),
            pl.col("clea_care_leaver_personal_advisor").alias("adviser"),
            day(pl.col("clea_pathway_plan_review_date")).alias("pathway"),
            day(pl.col("clea_care_leaver_latest_contact")).alias("contact"),
            pl.col("clea_care_leaver_allocated_team").alias("team"),
            pl.col("clea_care_leaver_worker_id").alias("worker"),
        )
        rows = _named(rows, "team", _names(extract, "ssd_department", "dept_team_id", "dept_team_name"))
        found["care_leavers"] = _named(
            rows, "worker", _names(extract, "ssd_professionals", "prof_professional_id", "prof_professional_name")
        )
    if (t := _get(extract, "ssd_family", *COLUMNS["ssd_family"])) is not None:
        found["family"] = t.select(pl.col("fami_person_id").alias("child"), pl.col("fami_family_id").alias("family"))
    return found
