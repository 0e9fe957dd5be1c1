"""The council's own figures from its SEN2 file, stored as its figures through the shared tail, so every return and
comparison can use them: requests, new plans, plans in force, and plans issued within 20 weeks with and without
exceptions (with the two percentages the catalogue derives from them).

A side step after the file is accepted at the door (``store_figures``), from the tables the door read the file into
(the file is not decrypted and read a second time): each figure is the total row of the column of
DfE's table it is (``collectors/sen2/measures.py``, DfE's data guidance for its *Education, health and care plans*
release), checked as any upload's figures and stored against the upload, the file's children named nowhere. Plans in
force per 10,000 of the population aged 0 to 25 are not stored: the service holds no population of that age range
(its populations are ONS's 0-17 and wider bands), and DfE's release publishes no such rate.
"""

from __future__ import annotations

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.checks.context import build_context
from collectors.checks.typed import FIGURE_SCHEMA, named_by_figure, rowless, validate_figures
from collectors.door.spine import Stored, store_accepted
from collectors.sen2.measures import tables
from collectors.sen2.placing import Register, placements_register
from collectors.sen2.receiving import WAY
from collectors.sen2.records import Sen2Records
from collectors.sen2.schema import survey_of
from indicators.store.models import Submission
from mappings.illustrative import councils_of

#: Each figure stored, by indicator: the DfE table and the column of it whose total row it is.
FIGURES: dict[str, tuple[str, str]] = {
    "send.ehcp_requests": ("requests", "requests_received_in_year"),
    "send.ehcp_new_plans": ("newplans", "new_ehc_plans"),
    "send.ehcp_in_force": ("caseload", "ehcplans"),
    "send.ehcp_issued": ("timeliness_20_week", "plans_issued_den"),
    "send.ehcp_issued_20_weeks": ("timeliness_20_week", "plans_issued_within_20_weeks"),
    "send.ehcp_issued_ex": ("timeliness_20_week", "plans_issued_den_ex"),
    "send.ehcp_issued_20_weeks_ex": ("timeliness_20_week", "plans_issued_20_weeks_ex"),
    # Where children with plans are taught: each group of DfE's caseload columns, which need the register.
    "send.ehcp_in_force_mainstream": ("caseload", "mainstream_total"),
    "send.ehcp_in_force_special": ("caseload", "special_total"),
    "send.ehcp_in_force_ap_pru": ("caseload", "ap_pru_total"),
    "send.ehcp_in_force_fe": ("caseload", "fe_total"),
    "send.ehcp_in_force_elsewhere": ("caseload", "ed_elsewhere"),
    "send.ehcp_in_force_early_years": ("caseload", "nm_early_years"),
    "send.ehcp_in_force_not_recorded": ("caseload", "placement_unknown"),
}
#: The figures that count where plans are taught: made only with a register (without one, a URN is placed nowhere).
PLACED = frozenset(i for i in FIGURES if i.startswith("send.ehcp_in_force_"))


def sen2_figures(records: Sen2Records, survey: int, register: Register | None = None) -> dict[str, tuple[int, str]]:
    """Each figure of the file: its value and its period (the calendar year before the census, ``CY2024``, or the
    academic year holding it, ``AY2024-25``, as DfE's table counts it). Without ``register`` (none is loaded) a
    placement by URN or UKPRN is placed nowhere, so no figure of where plans are taught is given."""
    every = tables(records, survey, register)
    out: dict[str, tuple[int, str]] = {}
    for indicator, (name, column) in FIGURES.items():
        table, units = every[name]
        if indicator in PLACED and register is None:
            continue
        counted = units.with_columns(table.counts[column].fill_null(False).cast(pl.Int64).alias("_counted"))
        period = f"AY{survey - 1}-{survey % 100:02d}" if table.academic else f"CY{survey - 1}"
        out[indicator] = (int(counted["_counted"].sum()), period)
    return out


def store_figures(engine: Engine, submission: Submission, records: Sen2Records) -> Stored | None:
    """Store the figures of an accepted SEN2 upload (``records``: its file as the door read it) as the council's,
    checked as any upload's; None (nothing stored, the upload left as it was) when the council is the designated
    source of none of them or every one is refused."""
    assert submission.id is not None
    figures = sen2_figures(records, survey_of(submission.collection_year or ""), placements_register(engine, records))
    with Session(engine) as session:
        councils = councils_of(session, submission.agency_code)
        ctx = build_context(session, submission.agency_code)
    if len(councils) != 1:
        return None
    org = councils[0].org
    # No note of the service's own: a figure a query holds (a change of more than half since the last, say) waits
    # for the council's note, as a keyed figure does.
    rows = [
        (indicator, org, period, "", float(value), None, None, "final", None, n)
        for n, (indicator, (value, period)) in enumerate(sorted(figures.items()), start=1)
        if indicator in ctx.agency_indicators
    ]
    if not rows:
        return None
    given = pl.DataFrame(rows, schema=FIGURE_SCHEMA, orient="row")
    result = rowless(validate_figures(given, ctx, WAY.checks()))
    if not (result.accepted.height or result.held.height):
        return None
    said = submission.message

    def summary(stored: Stored) -> str:
        held = (
            f"; {stored.held} held by a query until the council explains it with a note (POST "
            f"/api/submissions/{submission.id}/queries/ID)"
            if stored.held
            else ""
        )
        return (
            f"{said}; {stored.accepted} figure(s) derived from it and stored as the council's ({stored.new} new, "
            f"{stored.revised} revised, {stored.unchanged} unchanged){held}"
        )

    # No row of the file holds a figure derived from it: its problems name the figure. Its rows are its children,
    # counted at the door, not the figures.
    problems = named_by_figure(result.problems, given)
    # The upload's counts: its children, as the door counted them, and its figures' problems, as its report lists them
    # (the file's own were none: it passed).
    counts = {
        "rows_read": submission.rows_read,
        "rows_accepted": submission.rows_accepted,
        "error_count": result.error_count,
        "warning_count": result.warning_count,
        "query_count": result.query_count,
        "information_count": result.information_count,
    }
    return store_accepted(engine, submission, result, problems=problems, summary=summary, counts=counts)
