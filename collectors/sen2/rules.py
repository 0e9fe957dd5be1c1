"""The service's own checks of a SEN2 file that its schema cannot make: each labelled the service's (``source`` "rule"),
since DfE's validation rules for SEN2 are not stored; none is presented as DfE's. They run on the file's tables once
it passed its schema (``collectors.sen2.records``), so every date and code here is already of its type.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from collectors.sen2.records import Sen2Records
from collectors.sen2.schema import MODULES, Problem

#: Pairs of dates that cannot come in the other order: (table, earlier column, later column, the later's module,
#: its item, what it is, the earlier's item). A plan issued before its request was received is no plan of it.
_ORDER = (
    ("requests", "received", "decided", "Requests", "RequestOutcomeDate", "the decision on the request", "ReceivedDate"),
    ("requests", "received", "assessed", "Assessment", "AssessmentOutcomeDate", "the assessment's outcome",
     "ReceivedDate"),
    ("requests", "received", "start", "NamedPlan", "StartDate", "the plan's issue", "ReceivedDate"),
    ("requests", "start", "ceased", "NamedPlan", "CeaseDate", "the plan's end", "StartDate"),
    ("placements", "entered", "left", "PlacementDetail", "LeavingDate", "leaving the placement", "EntryDate"),
)  # fmt: skip


def child_keys(records: Sen2Records) -> list[tuple[str, str] | None]:
    """How the file names each child, in file order: its UPN, else its ULN (the item and the value, upper-cased);
    None when it gives neither."""
    return [
        ("UPN", upn.upper()) if upn else ("UniqueLearnerNumber", uln.upper()) if uln else None
        for upn, uln in records.persons.select("upn", "uln").iter_rows()
    ]


def rule_problems(records: Sen2Records, survey: int) -> list[Problem]:
    """Every place the file fails the service's own checks: a child given twice, dates out of order, an item the
    survey made mandatory missing where it applies; in the order of the children."""
    found = sorted(_rules(records, survey), key=lambda p: (p.child or 0, p.module, p.item))
    return found


def _rules(records: Sen2Records, survey: int) -> Iterator[Problem]:
    # A child given twice would be counted twice in every table: the UPN (or ULN) names one child (the schema's item
    # 1.7a; the guide's "unique pupil number").
    seen: dict[tuple[str, str], int] = {}
    for number, key in enumerate(child_keys(records), start=1):
        if key is None:
            continue
        if key in seen:
            yield Problem(
                MODULES["Person"],
                number,
                key[0],
                f"the same {key[0]} as child {seen[key]}: a child is given once, with each of its requests inside it",
                "rule",
            )
        else:
            seen[key] = number
    asked = records.requests.join(records.persons.select("child", "born"), on="child", how="left")
    for (child,) in asked.filter(pl.col("received") < pl.col("born")).select("child").iter_rows():
        yield Problem(
            MODULES["Requests"], child, "ReceivedDate", "the request is dated before the child's birth", "rule"
        )
    if survey >= 2026:
        # Reading of the 2026 schema's "now mandatory" RequestSource: a historical request (outcome H) gives neither
        # its received date nor its source (items 2.1 and 2.3), so it is required on every other one.
        missing = records.requests.filter((pl.col("outcome").fill_null("") != "H") & pl.col("source").is_null())
        for (child,) in missing.select("child").iter_rows():
            yield Problem(
                MODULES["Requests"],
                child,
                "RequestSource",
                "a mandatory item is missing from a request that is not historical (outcome H)",
                "rule",
            )
    for table, first, then, module, item, what, first_item in _ORDER:
        frame: pl.DataFrame = getattr(records, table)
        for (child,) in frame.filter(pl.col(then) < pl.col(first)).select("child").iter_rows():
            yield Problem(
                MODULES[module], child, item, f"{what} is dated before {first_item}: dates out of order", "rule"
            )
