"""Data to Insight's rules for the area SEND inspection's List 1 and List 2, as its validator's rules workbook gives them
(data-to-insight/annex-a-sen-validator-be @ ``23cfd32``, ``Documentation/annex a send validation rules.xlsx``, MIT):
each finding names the rule, the row and the column, never a value. Rules 104 (case worker) and 112 (date of death)
are "Not in standard data" in the workbook and are not run; neither column is on the list.

List 2's rules (201a ... 209) are List 1's on the columns List 2 has, the workbook's words the same. Not run, as List 1's
108b is not: 208b, "has a main but no subsiduary education establishment", which every pupil at one school would fail
(reading: the workbook gives no more of it).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

#: Each rule the list is checked by: (code, the workbook's words, its severity, the column it points at).
_RULES = (
    ("101a", "Missing personal information - DOB", "error", "Date of birth"),
    ("101b", "Missing personal information - Gender", "error", "Gender"),
    ("101c", "Missing personal information - Ethnicity", "error", "Ethnicity"),
    ("101d", "Missing personal information - SEN primary need", "error", "SEN primary need"),
    ("102a", "Age is 25 - Query", "query", "Date of birth"),
    ("102b", "Age is 26 - Error", "error", "Date of birth"),
    ("103", "No disability status given", "error", "Does the child or young person have a disability?"),
    ("105a", "Future date query -DOB", "query", "Date of birth"),
    ("105b", "Future date query -initial EHCP issued", "query", "Date initial EHC plan issued"),
    ("105c", "Future date query - updated EHCP issued", "query", "Date updated EHC plan issued"),
    ("105d", "Future date query - date EHCP last reviewed", "query", "Date EHC plan last reviewed"),
    ("106a", "Initial EHCP date is after Updated Date", "error", "Date initial EHC plan issued"),
    ("106b", "Initial EHCP date is after Last Review Date", "error", "Date initial EHC plan issued"),
    ("107", 'Child aged 6+ without either a) UPN, b) ULN, c) "unknown" code', "error", "UPN"),
    ("108a", "School aged child/young person (5-16) without main OR subsidiary education establishment", "error",
     "Main education establishment – URN"),
    ("109", "Duplicated UPN", "error", "UPN"),
)  # fmt: skip


#: List 2's rules: each with the List 1 rule it is, on the same column.
_LIST2 = {
    f"2{one[1:]}": one for one in ("101a", "101b", "101c", "101d", "102a", "102b", "103", "105a", "107", "108a", "109")
}


def _age(on: date) -> pl.Expr:
    born = pl.col("Date of birth")
    day = born.dt.month().cast(pl.Int32) * 100 + born.dt.day().cast(pl.Int32)
    return on.year - born.dt.year().cast(pl.Int32) - (day > on.month * 100 + on.day).cast(pl.Int32)


def _blank(column: str) -> pl.Expr:
    return pl.col(column).is_null()


def _failing(on: date) -> dict[str, pl.Expr]:
    age, blank = _age(on), _blank
    initial = pl.col("Date initial EHC plan issued")
    main = "Main education establishment – URN"
    subsidiary = "Subsidiary education establishment – phase (dual registration)"
    return {
        "101a": blank("Date of birth"),
        "101b": blank("Gender"),
        "101c": blank("Ethnicity"),
        "101d": blank("SEN primary need"),
        "102a": age == 25,
        "102b": age >= 26,
        "103": blank("Does the child or young person have a disability?"),
        "105a": pl.col("Date of birth") > on,
        "105b": initial > on,
        "105c": pl.col("Date updated EHC plan issued") > on,
        "105d": pl.col("Date EHC plan last reviewed") > on,
        "106a": initial > pl.col("Date updated EHC plan issued"),
        "106b": initial > pl.col("Date EHC plan last reviewed"),
        "107": (age >= 6) & blank("UPN") & blank("ULN"),
        "108a": age.is_between(5, 16) & blank(main) & blank(subsidiary),
        "109": pl.col("UPN").is_not_null() & pl.col("UPN").str.to_uppercase().is_duplicated(),
    }


def check_list1(rows: pl.DataFrame, on: date) -> list[dict[str, Any]]:
    """Every place List 1 fails one of Data to Insight's rules: rule, severity, message, row (1 under the heading)
    and column."""
    return _checked(rows, on, [(code, code, *rest) for code, *rest in _RULES])


def check_list2(rows: pl.DataFrame, on: date) -> list[dict[str, Any]]:
    """Every place List 2 fails one of Data to Insight's rules for it (``_LIST2``), as :func:`check_list1` says."""
    by_code = {code: rest for code, *rest in _RULES}
    return _checked(rows, on, [(code, one, *by_code[one]) for code, one in _LIST2.items()])


def _checked(rows: pl.DataFrame, on: date, rules: list[tuple[str, ...]]) -> list[dict[str, Any]]:
    failing = _failing(on)
    marked = rows.with_row_index("row", offset=1).select(
        "row", *(failing[expr].fill_null(False).alias(code) for code, expr, *_ in rules)
    )
    found = []
    for code, _, words, severity, column in rules:
        for row in marked.filter(pl.col(code))["row"].to_list():
            found.append({"rule": f"d2i:{code}", "severity": severity, "message": words, "row": row, "column": column})
    return found
