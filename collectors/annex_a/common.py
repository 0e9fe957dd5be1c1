"""What every Annex A list shares: the inspection's windows, the child's details (id, gender, ethnicity, date of birth,
age at the inspection, disability) from the CIN census and the SSDA903, and the dates "as at" the inspection.

Rules are Ofsted's (Annex A, "Update: August 2019", Guidance sheet, cited as [G]); where its text leaves a choice,
the choice is written beside the rule as ``Choice:``, and listed in ``docs/annex_a.md``. Nothing here logs or
puts a record's value in a message: the values are children's.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import date

import polars as pl

from collectors.records.ssda903_care import age_on


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day when it has fewer days)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, monthrange(year, month + 1)[1]))


@dataclass(frozen=True)
class Window:
    """The inspection date and the look-backs Ofsted's lists use.

    Choice: "in the six months before the inspection" [G] is read as from the same day six calendar months before
    the inspection date to the inspection date, both included (a referral on 1 May for an inspection on 1 November
    is in; one on 30 April is out). The twelve-month look-backs are read the same way."""

    on: date

    @property
    def six(self) -> date:
        """The first day of the six months before the inspection."""
        return months_before(self.on, 6)

    @property
    def twelve(self) -> date:
        """The first day of the twelve months before the inspection."""
        return months_before(self.on, 12)

    def within(self, column: str, start: date) -> pl.Expr:
        """The date in ``column`` falls from ``start`` to the inspection date, both included."""
        return pl.col(column).is_between(start, self.on, closed="both")

    def as_at(self, column: str) -> pl.Expr:
        """The date as known on the inspection date: a date after it has not happened yet, so is blank.

        Choice: records newer than the inspection date (an extract run later) are read as the inspection date would
        have seen them: a closure, authorisation or end after it is blank (still open), and anything begun after it
        is left out."""
        return pl.when(pl.col(column) <= self.on).then(pl.col(column)).otherwise(None).alias(column)


#: The child's details every list carries, as the builder names them.
CHILD_FIELDS = ("child_id", "gender", "ethnicity", "dob", "age", "disability")


def _cin_children(cin: dict[str, pl.DataFrame] | None) -> pl.DataFrame:
    schema = {"CHILD": pl.String, "sex": pl.String, "ethnic": pl.String, "born": pl.Date, "expected": pl.Date}
    if cin is None:
        return pl.DataFrame(schema=schema | {"disability": pl.String})
    kids = cin["Children"].select(
        pl.col("CHILD").str.strip_chars(),
        pl.col("Sex").alias("sex"),
        pl.col("Ethnicity").alias("ethnic"),
        pl.col("PersonBirthDate").alias("born"),
        pl.col("ExpectedPersonBirthDate").alias("expected"),
    )
    # [G] "a) Yes b) No c) Unknown"; the census's NONE is "no disability", any other code a disability, and a child
    # with no Disabilities block is unknown.
    disabled = (
        cin["Disabilities"]
        .group_by(pl.col("CHILD").str.strip_chars())
        .agg((pl.col("Disability").str.to_uppercase() != "NONE").any().alias("any"))
        .select("CHILD", pl.when(pl.col("any")).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("disability"))
    )
    return kids.unique("CHILD", keep="first").join(disabled, on="CHILD", how="left")


def _903_children(ssda903: dict[str, pl.DataFrame] | None) -> pl.DataFrame:
    schema = {"CHILD": pl.String, "sex": pl.String, "ethnic": pl.String, "born": pl.Date}
    if ssda903 is None or "Header" not in ssda903:
        return pl.DataFrame(schema=schema)
    return (
        ssda903["Header"]
        .select(
            pl.col("CHILD").str.strip_chars(),
            pl.col("SEX").alias("sex"),
            pl.col("ETHNIC").alias("ethnic"),
            pl.col("DOB").alias("born"),
        )
        .unique("CHILD", keep="first")
    )


def children(
    cin: dict[str, pl.DataFrame] | None, ssda903: dict[str, pl.DataFrame] | None, window: Window, *, prefer: str
) -> pl.DataFrame:
    """One row per child known to either return: id, gender, ethnicity, date of birth, age at the inspection, disability.

    Choice: the two returns carry the same council child id ([CV]: "same LA child ID must be used in both returns
    and in Annex A"), so a child is matched on it; where both hold a detail, the return of the list wins
    (``prefer``: "cin" for Lists 3-7, "903" for Lists 8-10) and the other fills a blank. Disability is the CIN
    census's alone (the SSDA903 holds none): a child not in the census is "c) Unknown".
    """
    a, b = _cin_children(cin), _903_children(ssda903)
    first, second = (a, b) if prefer == "cin" else (b, a)
    joined = first.join(second, on="CHILD", how="full", coalesce=True, suffix="_other")
    for column in ("sex", "ethnic", "born"):
        joined = joined.with_columns(pl.coalesce(column, f"{column}_other").alias(column))
    if "expected" not in joined.columns:
        joined = joined.with_columns(pl.lit(None, dtype=pl.Date).alias("expected"))
    if "disability" not in joined.columns:
        joined = joined.with_columns(pl.lit(None, dtype=pl.String).alias("disability"))
    # [G] "If an expected birth date is available for an unborn child, enter this date"; "If a child is unborn,
    # enter their age as '-1'". Choice: a child is unborn at the inspection when the census has no birth date
    # but an expected one, or a birth date after the inspection date.
    dob = pl.coalesce("born", "expected")
    unborn = pl.col("born").is_null() | (pl.col("born") > window.on)
    return joined.select(
        pl.col("CHILD"),
        pl.col("CHILD").alias("child_id"),
        pl.col("sex").alias("gender"),
        pl.col("ethnic").str.to_uppercase().alias("ethnicity"),
        dob.alias("dob"),
        pl.when(dob.is_null())
        .then(None)
        .when(unborn)
        .then(pl.lit(-1, dtype=pl.Int32))
        .otherwise(age_on(dob, window.on))
        .alias("age"),
        pl.col("disability").fill_null("unknown"),
    )


def with_child(frame: pl.DataFrame, kids: pl.DataFrame) -> pl.DataFrame:
    """The list's rows with the child's details in front (matched on the council's child id)."""
    keyed = frame.with_columns(pl.col("CHILD").str.strip_chars())
    return keyed.join(kids, on="CHILD", how="left").with_columns(pl.coalesce("child_id", "CHILD").alias("child_id"))


def yes_no(condition: pl.Expr) -> pl.Expr:
    """ "yes" or "no" (Ofsted's "a) Yes" / "b) No" once coded)."""
    return pl.when(condition).then(pl.lit("yes")).otherwise(pl.lit("no"))
