"""The burden saved: what agencies would key into each return separately, against what they key once.

For each submitting agency and period: every cell of every return in force in the period that it
submits, as the return is built for the period (``exports.burden.cells``: the cells its fields have, each from a
publisher only where a publisher's figure filled it), against the figures it owes the service once. Two savings are told apart: a collected
figure several returns ask for is keyed once instead of several times (the hours saved count
only these), and a figure the service derives (a rate, a percentage, a total) is never keyed at
all; derived cells are reported beside the saving, not inside it. A figure worked out from a council's
record-level files (a council's child-level returns) is keyed by nobody: counted per agency and per return. Also the overlap of returns
by the collected indicators they share, and a consistency list of figures measured two ways.

Annex A (the inspection's child-level lists) is counted beside the returns, in child-level cells (a council's lists as at the period's last day):
those its record-level returns fill, those its case-system extract fills, and those it still keys; so is the area SEND
inspection's List 1 (filled from the council's SEN2 file, its school census and its CIN census and SSDA903 records) and
its List 2 (children on SEN support: the school census's pupils, the care records' columns). A cell counts as
filled from a source only where that source filled it (``collectors.annex_a.build.cells``,
``collectors.sen2.list1_cells.counted_cells``): a blank is the council's to key, unless it cannot apply to its child
(List 1's ``CANNOT_APPLY``), which is left out. Each record-level
file a council sent is named by its Single Data List line, with the cells the service fills from it. Which body keys
nothing a publisher publishes is the publisher's own data (``keys_nothing`` in its agency file), not named here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from exports.burden.cells import Builds, FigureKey, Known, ReturnsCells, count_cells
from indicators.formula import collected_inputs
from indicators.models import Indicator
from indicators.periods import Period, calendar_year, parse_period
from indicators.published_query import PublisherBurden, publisher_burden, publishers_giving
from indicators.service import indicators_by_id
from indicators.store.models import RECORDS_KIND, Observation, Submission
from mappings.annex_a import AnnexCells
from mappings.child_level import (
    ANNEX_A,
    ANNEX_A_RETURNS,
    BY_FORMAT,
    LIST_1,
    LIST_1_SCHOOL,
    LIST_2,
    RETURNS,
    List1Cells,
)
from mappings.models import Agency, AgencyIndicator, AgencyOrg, AgencyReturn, FieldMapping, OrgParent, Return
from mappings.obligations import filled_by_publishers, obligations, owed_periods
from mappings.resolve import Resolver
from mappings.signoff.states import published_sources
from mappings.validity import in_force
from onereturn.errors import InvalidInput


@dataclass
class ProviderKeysNothing:
    """A body that keys nothing a publisher publishes from its records, said in plain words."""

    agency_code: str
    agency_name: str
    publisher: str
    says: str


@dataclass
class AgencyBurden:
    """One agency's keying, with and without the service."""

    agency_code: str
    agency_name: str
    returns: list[str]
    cells_without_service: int
    figures_entered: int
    derived_by_service: int
    duplicates_avoided: int
    saved: int  # cells keyed by hand today that are keyed once, by one body, with the service: what hours saved count
    hours_saved: float
    keyed_cells_without_service: int = 0  # cells of collected figures, each keyed by hand without the service
    #: Of the figures the agency owes, those worked out from its record-level files: keyed by nobody.
    from_records: int = 0
    #: Cells of each of its returns filled by figures worked out from its record-level files, by return.
    from_records_by_return: dict[str, int] = field(default_factory=dict)
    #: Cells of its returns filled by figures a publisher works out and publishes itself (a treatment count a
    #: publisher works out from providers' records): cells its returns need, keyed by nobody (a figure derived from
    #: them is counted as derived).
    from_publishers: int = 0
    #: Cells of its returns a publisher fills that no publisher's figure has filled yet (a year not yet published):
    #: the body is not asked for them, so nobody keys them.
    awaiting_publishers: int = 0
    #: Annex A as at the period's last day, in child-level cells (Lists 1 to 10): all of them, those its
    #: record-level returns fill, those its case-system extract fills, and those it keys (its columns file or by
    #: hand). Zero for a body that returns neither record-level return, or has sent no record.
    annex_a_cells: int = 0
    annex_a_from_records: int = 0
    annex_a_from_extract: int = 0
    annex_a_keyed: int = 0
    #: The area SEND inspection's List 1 as at the period's last day, in child-level cells: all, those its SEN2 file
    #: fills, those its CIN census and SSDA903 records fill, those it keys; and the items of that SEN2 file.
    list1_cells: int = 0
    list1_from_sen2: int = 0
    list1_from_care_records: int = 0
    list1_keyed: int = 0
    #: List 1's blank cells that cannot apply to their child, left out of ``list1_cells`` (no one keys them).
    list1_not_applying: int = 0
    #: List 1's cells its school census fills (the four school columns, and the schools SEN2 has none of).
    list1_from_census: int = 0
    #: The inspection's List 2 (children on SEN support) as at the period's last day, where a school census is kept:
    #: all its cells, those the census fills, those the care records fill, those it keys, those that cannot apply.
    list2_cells: int = 0
    list2_from_census: int = 0
    list2_from_care_records: int = 0
    list2_keyed: int = 0
    list2_not_applying: int = 0
    sen2_items: int = 0
    #: Child-level cells of the inspection lists filled from its records, keyed by nobody, and the hours they save.
    child_cells_filled: int = 0
    child_hours_saved: float = 0.0
    #: The Single Data List lines whose record-level file it sent for the period, each with the cells filled from it.
    collections: list[dict[str, object]] = field(default_factory=list)


@dataclass
class Consistency:
    """One figure measured two ways, side by side."""

    return_id: str
    field_code: str
    org_code: str
    indicator_id: str
    method: str
    value: float | None
    counterpart_id: str
    counterpart_method: str
    counterpart_value: float | None


@dataclass
class SentTwice:
    """A collected figure two submitting bodies' returns both need: keyed once now, by ``keyed_by``."""

    indicator_id: str
    keyed_by: str
    needed_by: dict[str, list[str]]  # agency -> its returns that need the figure
    figures: int


@dataclass
class BurdenReport:
    """The burden report for a period."""

    period: str
    minutes_per_figure: float
    agencies: list[AgencyBurden]
    overlap: dict[str, dict[str, int]]
    consistency: list[Consistency] = field(default_factory=list)
    #: Figures two bodies each had to send (one return each), now keyed once by one of them.
    sent_twice: list[SentTwice] = field(default_factory=list)
    #: Figures read from the publishers' own files, counted apart: from publishers, keyed by nobody.
    from_publishers: list[PublisherBurden] = field(default_factory=list)
    #: Bodies that key nothing a publisher publishes from their records (as the publisher's agency file says).
    keys_nothing_published: list[ProviderKeysNothing] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, float]:
        """Sum the agencies' figures."""
        keys = (
            "cells_without_service",
            "keyed_cells_without_service",
            "figures_entered",
            "derived_by_service",
            "duplicates_avoided",
            "saved",
            "hours_saved",
            "from_records",
            "from_publishers",
            "awaiting_publishers",
            "annex_a_cells",
            "annex_a_from_records",
            "annex_a_from_extract",
            "annex_a_keyed",
            "list1_cells",
            "list1_from_sen2",
            "list1_from_care_records",
            "list1_keyed",
            "list1_not_applying",
            "list1_from_census",
            *LIST2_FIELDS,
            "sen2_items",
            "child_cells_filled",
            "child_hours_saved",
        )
        sums = {k: round(sum(getattr(a, k) for a in self.agencies), 1) for k in keys}
        # A cell a publisher's release fills is one the body would have keyed into that return without the service.
        sums["publisher_hours"] = round(sums["from_publishers"] * self.minutes_per_figure / 60, 1)
        # The headline: cells no one keys with the service: figures keyed once, cells publishers' files fill and
        # child-level cells filled alike.
        sums["cells_not_keyed"] = sums["saved"] + sums["from_publishers"] + sums["child_cells_filled"]
        sums["hours_not_keyed"] = round(sums["hours_saved"] + sums["publisher_hours"] + sums["child_hours_saved"], 1)
        return sums


def last_financial_year(today: date) -> str:
    """The latest financial year ended by ``today`` (FY2024-25 from 1 April 2025 to 31 March 2026): the period the
    burden is reported for when none is asked."""
    start = today.year - 1 if today.month >= 4 else today.year - 2
    return f"FY{start}-{(start + 1) % 100:02d}"


#: What a school census feeds, which tells its kept files apart.
CENSUS_FEEDS = (LIST_1_SCHOOL, LIST_2)
#: List 2's fields of an agency's burden.
LIST2_FIELDS = ("list2_cells", "list2_from_census", "list2_from_care_records", "list2_keyed", "list2_not_applying")
#: The child-level cells of the inspection lists filled from a council's records: keyed by nobody.
FILLED_FROM_RECORDS = (
    "annex_a_from_records",
    "annex_a_from_extract",
    "list1_from_sen2",
    "list1_from_care_records",
    "list1_from_census",
    "list2_from_census",
    "list2_from_care_records",
)
#: Counts a council's Annex A in cells as at a day (None when it has no record to build it from); given by the caller,
#: since building it reads the council's kept records.
AnnexCounter = Callable[[str, date], AnnexCells | None]
#: Counts a council's List 1 (children with an EHC plan) and List 2 in cells as at a day, None without a SEN2 file or a
#: school census for it.
List1Counter = Callable[[str, date], List1Cells | None]


def burden(
    session: Session,
    period_text: str,
    *,
    minutes_per_figure: float = 3.0,
    annex_a: AnnexCounter | None = None,
    list1: List1Counter | None = None,
    minutes_per_cell: float = 0.5,
) -> BurdenReport:
    """Measure keying with and without the service for every submitting agency in a period; with ``annex_a`` and
    ``list1``, each council's Annex A and List 1 cells as at the period's last day beside its returns' (a child-level
    cell taking ``minutes_per_cell`` to key)."""
    period = parse_period(period_text)
    indicators = indicators_by_id(session)
    returns = {r.id: r for r in session.execute(select(Return)).scalars() if in_force(r, period)}
    fields: dict[str, list[FieldMapping]] = {}
    for f in session.execute(select(FieldMapping).order_by(col(FieldMapping.position))).scalars():
        if f.return_id in returns:
            fields.setdefault(f.return_id, []).append(f)
    from_records = records_figures(session)
    sent_files = records_sent(session, period)
    given = publishers_giving(session)
    known = Known(
        indicators,
        given,
        published_indicators(session),
        published_sources(session) | {p for publishers in given.values() for p in publishers},
    )
    builds = Builds(session)
    rows = []
    for agency in session.execute(select(Agency).order_by(col(Agency.code))).scalars():
        own = [
            r
            for r in session.execute(
                select(AgencyReturn.return_id).where(AgencyReturn.agency_code == agency.code)
            ).scalars()
            if r in returns and returns[r].submitter == agency.body_type
        ]
        if not own:
            continue
        orgs = list(session.execute(select(AgencyOrg.org_code).where(AgencyOrg.agency_code == agency.code)).scalars())
        records_keys = from_records.get(agency.code, set())
        reported = [(returns[r], _reported_in(returns[r].period_type, period)) for r in own]
        counted = count_cells(builds, known, reported, fields, orgs, records_keys)
        sent = sent_files.get(agency.code, set())
        child = _child_fields(*_lists_of(agency.code, period.end, own, sent, annex_a, list1), minutes_per_cell)
        owed = _owed(session, agency.code, period.code)
        rows.append(_agency_row(agency, own, counted, owed, records_keys, minutes_per_figure, sent, child))
    return BurdenReport(
        period.code,
        minutes_per_figure,
        rows,
        overlap(indicators, fields),
        consistency(session, period.code, returns, fields),
        sent_twice(session, period.code, indicators, returns, fields),
        publisher_burden(session, period, _return_inputs(indicators, fields)),
        keys_nothing_published(session),
    )


def _agency_row(
    agency: Agency,
    own: list[str],
    counted: ReturnsCells,
    owed: set[FigureKey],
    records_keys: set[FigureKey],
    minutes_per_figure: float,
    sent: set[str],
    child: dict[str, Any],
) -> AgencyBurden:
    """One agency's burden from its returns' cells as filled, the figures it owes and its child-level lists."""
    keyed = counted.keyed
    # Of the cells it keys by hand today, the agency keys each of its own figures once; a figure
    # another body is the source of (a Vital Signs figure the council already gives) it keys not at all.
    saved = len(keyed) - len(set(keyed) & owed)
    return AgencyBurden(
        agency.code,
        agency.name,
        own,
        counted.cells,
        len(owed),
        counted.derived,
        len(keyed) - len(set(keyed)),
        saved,
        round(saved * minutes_per_figure / 60, 1),
        keyed_cells_without_service=len(keyed),
        from_records=len(owed & records_keys),
        from_records_by_return=counted.by_return,
        from_publishers=counted.from_publishers,
        awaiting_publishers=counted.awaiting_publishers,
        collections=_collections(sent, counted.by_return, child),
        **child,
    )


def _owed(session: Session, agency_code: str, period_code: str) -> set[tuple[str, str, str, str]]:
    """The figures an agency owes for the period, by figure key."""
    # An agency whose returns are all filled by others (a partnership reporting a publisher's figures) owes nothing.
    designated = session.execute(
        select(AgencyIndicator.indicator_id).where(AgencyIndicator.agency_code == agency_code).limit(1)
    ).first()
    if not designated:
        return set()
    # What a publisher's release fills in every return that reads it, its template does not ask for.
    published = filled_by_publishers(session, agency_code, parse_period(period_code))
    return {
        (o.indicator_id, o.org_code, o.period, o.breakdown)
        for o in obligations(session, agency_code, period_code)
        if o.indicator_id not in published
    }


def _child_fields(annex: AnnexCells | None, plans: List1Cells | None, minutes_per_cell: float) -> dict[str, Any]:
    """A council's Annex A and List 1 cells as the agency's burden fields (none where it has none), with the
    child-level cells its records fill and the hours they save."""
    out: dict[str, Any] = {}
    if annex is not None:
        out |= {
            "annex_a_cells": annex.cells,
            "annex_a_from_records": annex.from_records,
            "annex_a_from_extract": annex.from_extract,
            "annex_a_keyed": annex.keyed,
        }
    if plans is not None:
        out |= {
            "list1_cells": plans.cells,
            "list1_from_sen2": plans.from_sen2,
            "list1_from_care_records": plans.from_care_records,
            "list1_keyed": plans.keyed,
            "list1_not_applying": plans.not_applying,
            "list1_from_census": plans.from_census,
            "sen2_items": plans.sen2_items,
        }
        if plans.list2 is not None:
            out |= {f"list2_{k}": getattr(plans.list2, k) for k in (f.removeprefix("list2_") for f in LIST2_FIELDS)}
    filled = sum(out.get(k, 0) for k in FILLED_FROM_RECORDS)
    out["child_cells_filled"] = filled
    out["child_hours_saved"] = round(filled * minutes_per_cell / 60, 1)
    return out


def _reported_in(period_type: str, within: Period) -> list[Period]:
    """The periods of a return's type whose cells fall in a collection period: those inside it, or, for a calendar
    year's return in a financial or academic year (SEN2's), the calendar year ending within it, whose survey is due
    in it (SEN2's for calendar 2024 is the January 2025 survey, due in March 2025)."""
    inside = owed_periods(period_type, within)  # type: ignore[arg-type]
    if inside or period_type != "calendar_year":
        return inside
    years = range(within.start.year, within.end.year + 1)
    return [calendar_year(y) for y in years if within.start <= date(y, 12, 31) <= within.end]


def _lists_of(
    code: str, on: date, own: list[str], sent: set[str], annex_a: AnnexCounter | None, list1: List1Counter | None
) -> tuple[AnnexCells | None, List1Cells | None]:
    """A council's Annex A (where it owes a return Annex A is built from) and List 1 (where it sent a file that feeds
    it) counted in cells as at ``on``; None for each it has not, or that is not asked."""
    annex = annex_a(code, on) if annex_a is not None and set(own) & set(ANNEX_A_RETURNS) else None
    # List 2 is counted by the same counter: a council whose school census feeds it has it counted without SEN2.
    feeds_list1 = any({LIST_1, LIST_2} & set(BY_FORMAT[f].feeds) for f in sent if f in BY_FORMAT)
    return annex, list1(code, on) if list1 is not None and feeds_list1 else None


def _collections(sent: set[str], by_return: dict[str, int], child: dict[str, Any]) -> list[dict[str, object]]:
    """The Single Data List lines whose record-level file the council sent, each with the cells the service fills
    from it: its returns' cells, and the inspection lists' child-level cells (Annex A from the CIN census and
    SSDA903 together, so counted under the first of them it sent; List 1 from SEN2; List 1's school columns and List 2
    from the school census)."""
    out: list[dict[str, object]] = []
    annex_under: str | None = None
    for one in RETURNS:
        if one.source_format not in sent:
            continue
        lists, lists_name = 0, ""
        if ANNEX_A in one.feeds:
            if annex_under is None:
                annex_under = one.line.ref
                lists = int(child.get("annex_a_from_records", 0))
                lists_name = "Ofsted's Annex A, from the CIN census and SSDA903 together"
            else:
                lists_name = f"Ofsted's Annex A, counted under {annex_under}"
        if LIST_1 in one.feeds:
            lists = int(child.get("list1_from_sen2", 0))
            lists_name = LIST_1
        if LIST_2 in one.feeds:
            lists = int(child.get("list1_from_census", 0)) + int(child.get("list2_from_census", 0))
            lists_name = f"{LIST_1_SCHOOL} and {LIST_2}"
        out.append(
            {
                "ref": one.line.ref,
                "name": one.line.name,
                "source": one.line.source,
                "return_cells": by_return.get(one.return_id, 0),
                "list_cells": lists,
                "lists": lists_name,
                "items_read": int(child.get("sen2_items", 0)) if LIST_1 in one.feeds else None,
            }
        )
    return out


def records_sent(session: Session, period: Period) -> dict[str, set[str]]:
    """Per agency, the record-level files (``cin``, ``903``, ``sen2``, ``census``) it sent and the service still keeps
    whose collection year (1 April to 31 March) overlaps the period, or, for a school census, whose day is in it."""
    found: dict[str, set[str]] = {}
    rows = session.execute(
        sa_select(
            col(Submission.agency_code),
            col(Submission.source_format),
            col(Submission.collection_year),
            col(Submission.census_day),
        ).where(
            col(Submission.kind) == RECORDS_KIND,
            col(Submission.status).in_(("accepted", "queried", "partially_accepted")),
            col(Submission.purged_at).is_(None),
            col(Submission.source_format).in_(list(BY_FORMAT)),
        )
    ).all()
    for agency, source_format, year, census_day in rows:
        if BY_FORMAT[source_format].feeds == CENSUS_FEEDS:
            # A kept census counts in the period holding its census day.
            within = census_day is not None and period.start <= census_day <= period.end
        elif not year or not str(year)[:4].isdigit():
            continue
        else:
            start = int(str(year)[:4])
            within = date(start, 4, 1) <= period.end and period.start <= date(start + 1, 3, 31)
        if within:
            found.setdefault(str(agency), set()).add(str(source_format))
    return found


def keys_nothing_published(session: Session) -> list[ProviderKeysNothing]:
    """Every agency that keys nothing a publisher publishes from its records, each with what its publisher says."""
    said = publishers_saying(session)
    return [
        ProviderKeysNothing(a.code, a.name, *said[a.body_type])
        for a in session.execute(
            select(Agency).where(col(Agency.body_type).in_(list(said))).order_by(col(Agency.code))
        ).scalars()
    ]


def publishers_saying(session: Session) -> dict[str, tuple[str, str]]:
    """Per kind of body, the publisher whose figures it keys none of and what to say of it (its agency file's
    ``keys_nothing``)."""
    found: dict[str, tuple[str, str]] = {}
    for agency in session.execute(select(Agency).order_by(col(Agency.code))).scalars():
        for body_type, says in ((agency.definition or {}).get("keys_nothing") or {}).items():
            found.setdefault(str(body_type), (agency.code, str(says)))
    return found


def _return_inputs(indicators: dict[str, Indicator], fields: dict[str, list[FieldMapping]]) -> dict[str, set[str]]:
    """The collected indicators each return's fields read (a rate's numerator and denominator included)."""
    return {
        ret_id: set().union(
            *(collected_inputs(indicators, f.indicator_id) for f in fs if f.relation != "different_method")
        )
        for ret_id, fs in fields.items()
    }


def published_indicators(session: Session) -> set[str]:
    """The indicators whose designated source is a body that publishes its figures itself (its agency file says so)."""
    publishers = {a.code for a in session.execute(select(Agency)).scalars() if (a.definition or {}).get("published")}
    return set(
        session.execute(
            select(AgencyIndicator.indicator_id).where(col(AgencyIndicator.agency_code).in_(publishers))
        ).scalars()
    )


def records_figures(session: Session) -> dict[str, set[tuple[str, str, str, str]]]:
    """The current figures each agency's record-level uploads gave, by agency: (indicator, org, period, breakdown).

    A figure worked out from a council's record-level files is keyed by nobody: the council sent the child-level
    file it already makes for the return's recipient, and the service counted it.
    """
    found: dict[str, set[tuple[str, str, str, str]]] = {}
    rows = session.execute(
        sa_select(
            col(Submission.agency_code),
            col(Observation.indicator_id),
            col(Observation.org_code),
            col(Observation.period),
            col(Observation.breakdown),
        )
        .join(Submission, col(Submission.id) == col(Observation.submission_id))
        .where(col(Observation.is_current), col(Submission.kind) == RECORDS_KIND)
    ).all()
    for agency, indicator, org, period, breakdown in rows:
        found.setdefault(agency, set()).add((indicator, org, period, breakdown))
    return found


def sent_twice(
    session: Session,
    period_text: str,
    indicators: dict[str, Indicator],
    returns: dict[str, Return],
    fields: dict[str, list[FieldMapping]],
) -> list[SentTwice]:
    """List the figures that returns of two or more submitting bodies both need.

    Without the service each body keyed the figure into its own return (the National Indicators and
    NHS Vital Signs "in many cases ... identical", each submitted by a different body); with it the
    designated body keys it once. ``figures`` counts what that body owes for the period.
    """
    needed_by: dict[str, dict[str, list[str]]] = {}
    submitting = session.execute(
        select(AgencyReturn.agency_code, AgencyReturn.return_id, Agency.body_type).join(
            Agency, col(Agency.code) == col(AgencyReturn.agency_code)
        )
    ).all()
    for agency, ret_id, body in submitting:
        if ret_id not in returns or returns[ret_id].submitter != body:
            continue
        for f in fields.get(ret_id, []):
            if f.relation == "different_method":
                continue
            for ind in collected_inputs(indicators, f.indicator_id):
                needed_by.setdefault(ind, {}).setdefault(agency, [])
                if ret_id not in needed_by[ind][agency]:
                    needed_by[ind][agency].append(ret_id)
    designated = {
        (str(a), str(i))
        for a, i in session.execute(select(AgencyIndicator.agency_code, AgencyIndicator.indicator_id)).all()
    }
    areas: dict[str, set[str]] = {}
    for agency, org in session.execute(select(AgencyOrg.agency_code, AgencyOrg.org_code)).all():
        areas.setdefault(str(agency), set()).add(str(org))
    edges = {(str(c), str(p)) for c, p in session.execute(select(OrgParent.child_code, OrgParent.parent_code)).all()}

    def same_area(a: str, b: str) -> bool:
        # Two bodies send the same figure only for the same area: equal, or one nested in the other.
        return any(x == y or (x, y) in edges or (y, x) in edges for x in areas.get(a, ()) for y in areas.get(b, ()))

    out = []
    for ind, agencies in sorted(needed_by.items()):
        names = sorted(agencies)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                keyer = next((x for x in (a, b) if (x, ind) in designated), None)
                if keyer is None or not same_area(a, b):
                    continue
                owed = [
                    o for o in obligations(session, keyer, period_text) if o.indicator_id == ind and not o.breakdown
                ]
                if owed:
                    out.append(SentTwice(ind, keyer, {a: sorted(agencies[a]), b: sorted(agencies[b])}, len(owed)))
    return out


def overlap(indicators: dict[str, Indicator], fields: dict[str, list[FieldMapping]]) -> dict[str, dict[str, int]]:
    """Count, for each pair of returns, the collected indicators both need."""
    needs = {
        ret: set().union(
            *(collected_inputs(indicators, f.indicator_id) for f in fs if f.relation != "different_method")
        )
        for ret, fs in fields.items()
    }
    names = sorted(needs)
    return {a: {b: len(needs[a] & needs[b]) for b in names} for a in names}


def consistency(
    session: Session, period_text: str, returns: dict[str, Return], fields: dict[str, list[FieldMapping]]
) -> list[Consistency]:
    """List figures that a return measures one way and the catalogue another, side by side."""
    out: list[Consistency] = []
    for ret_id, fs in sorted(fields.items()):
        pairs = [f for f in fs if f.relation == "different_method" and f.counterpart]
        if not pairs:
            continue
        ret = returns[ret_id]
        try:
            resolver = Resolver(session, parse_period(period_text, ret.period_type))  # type: ignore[arg-type]
        except InvalidInput:  # a period of another type has nothing to compare
            continue
        for f in pairs:
            assert f.counterpart is not None
            mine, theirs = resolver.indicators[f.indicator_id], resolver.indicators[f.counterpart]
            inputs = collected_inputs(resolver.indicators, mine.id) | collected_inputs(resolver.indicators, theirs.id)
            orgs = sorted({o for i in inputs for o in resolver.stored(resolver.indicators[i])["org_code"].to_list()})
            if not orgs:
                continue
            a = {r["org_code"]: r["value"] for r in resolver.resolve(mine.id, orgs).iter_rows(named=True)}
            b = {r["org_code"]: r["value"] for r in resolver.resolve(theirs.id, orgs).iter_rows(named=True)}
            out += [
                Consistency(ret_id, f.code, org, mine.id, mine.method, a.get(org), theirs.id, theirs.method, b.get(org))
                for org in orgs
            ]
    return out
