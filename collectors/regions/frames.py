"""Each pooled table's source rows from a council's tables, in the source's own column names, before the use case's
policy is applied (``collectors/regions/pooled.py``): the SSDA903's Header and Episodes as DfE's tables are, the CIN
census as the regional pipeline's ``cin`` table of events (one row per event with its ``Date`` and ``Type``, the
child's and the referral's columns beside it: liiatools/cin_census_pipeline/stream_record.py, ``event_to_records``,
read at commit 4aff918), SEN2's persons as its reader gives them."""

from __future__ import annotations

import polars as pl

from collectors.records.cin_tables import COLUMNS as CIN_COLUMNS
from collectors.records.ssda903_tables import COLUMNS as SSDA903_COLUMNS
from collectors.records.ssda903_tables import OPTIONAL_COLUMNS
from collectors.sen2.records import Sen2Records

#: The events of the CIN census, by the table each is read from, in the pipeline's order.
EVENTS: tuple[tuple[str, str], ...] = (
    ("CINdetails", "CINreferralDate"),
    ("CINdetails", "CINclosureDate"),
    ("Assessments", "AssessmentActualStartDate"),
    ("Assessments", "AssessmentAuthorisationDate"),
    ("CINPlanDates", "CINPlanStartDate"),
    ("CINPlanDates", "CINPlanEndDate"),
    ("Section47", "S47ActualStartDate"),
    ("ChildProtectionPlans", "CPPstartDate"),
    ("ChildProtectionPlans", "CPPendDate"),
    ("Reviews", "CPPreviewDate"),
)
#: The modules of a referral whose columns the cin table carries beside the referral's.
MODULES = ("Assessments", "CINPlanDates", "Section47", "ChildProtectionPlans", "Reviews")
#: The cin table's columns: the event, the child's, then the referral's and its modules' (the census's names).
CIN_EVENT_COLUMNS: tuple[str, ...] = (
    "CHILD",
    "Date",
    "Type",
    *CIN_COLUMNS["Children"],
    "Disabilities",
    *CIN_COLUMNS["CINdetails"],
    *(c for t in MODULES for c in CIN_COLUMNS[t] if c != "DateOfInitialCPC"),
)


def ssda903(tables: dict[str, pl.DataFrame], name: str) -> pl.DataFrame:
    """One SSDA903 table's rows in its specification's columns (and the XML's distance, where the file gave it)."""
    frame = tables.get(name)
    wanted = (*SSDA903_COLUMNS[name], *OPTIONAL_COLUMNS.get(name, ()))
    if frame is None:
        return pl.DataFrame(schema=dict.fromkeys(SSDA903_COLUMNS[name], pl.String))
    return frame.select([c for c in wanted if c in frame.columns])


def sen2_persons(records: Sen2Records) -> pl.DataFrame:
    """SEN2's persons as read (one row per child)."""
    return records.persons


def cin_events(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The CIN census as the regional pipeline's table of events: one row per dated event, the child's and the
    referral's columns beside it, and those of the assessment, plan, enquiry or protection plan the event is of."""
    children = tables["Children"].drop("_row", "_episode")
    disabilities = (
        tables["Disabilities"]
        .filter(pl.col("Disability").is_not_null())
        .group_by("CHILD", maintain_order=True)
        .agg(pl.col("Disability").str.join(",").alias("Disabilities"))
    )
    person = children.join(disabilities, on="CHILD", how="left")
    referral = tables["CINdetails"].drop("_row").join(person, on="CHILD", how="left")
    plans = tables["ChildProtectionPlans"]
    reviews = (
        tables["Reviews"]
        .drop("_row", "CHILD", "_episode")
        .join(plans.drop("CHILD", "_episode").rename({"_row": "_plan"}), on="_plan", how="left")
    )
    reviews = reviews.join(
        plans.select("_row", "CHILD", "_episode").rename({"_row": "_plan"}), on="_plan", how="left"
    ).drop("_plan")
    sources = {
        "CINdetails": referral,
        "Assessments": _within(tables["Assessments"], referral),
        "CINPlanDates": _within(tables["CINPlanDates"], referral),
        # The enquiry's own conference date is the event's (the pipeline's merge puts the enquiry's over the referral's).
        "Section47": _within(tables["Section47"].rename({"DateOfInitialCPC": "_s47_cpc"}), referral).with_columns(
            pl.coalesce("_s47_cpc", "DateOfInitialCPC").alias("DateOfInitialCPC")
        ),
        "ChildProtectionPlans": _within(plans, referral),
        "Reviews": _within(reviews, referral),
    }
    events = [
        sources[table]
        .filter(pl.col(column).is_not_null())
        .with_columns(pl.col(column).alias("Date"), pl.lit(column).alias("Type"))
        for table, column in EVENTS
    ]
    every = pl.concat(events, how="diagonal_relaxed") if events else pl.DataFrame()
    missing = [c for c in CIN_EVENT_COLUMNS if c not in every.columns]
    every = every.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing)
    return every.select(CIN_EVENT_COLUMNS)


def _within(module: pl.DataFrame, referral: pl.DataFrame) -> pl.DataFrame:
    """A referral's module (an assessment, a plan, an enquiry) with the referral's and the child's columns beside it."""
    return module.drop("_row", strict=False).join(referral, on=["CHILD", "_episode"], how="left")
