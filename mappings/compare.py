"""A council's figure beside its comparators: statistical neighbours, region, England and officers' own groups.

Groups are data (``mappings/comparators/``, its README gives sources and licences). The comparison of one
indicator, period and council is a pure function of the figures handed to it (:func:`compare`);
:func:`load_figures` reads them from the store for a reader, so the API, pages, workbook and benchmark share it.

Rules stated once:

- Withheld figures (a symbol such as DfE's ``c``, ``x``, ``low``, or no value) are listed with their
  symbol and never ranked, averaged or counted among the peers of a quartile.
- Polarity (which way is better) is used and shown only where the indicator's ``polarity_source`` cites the
  publisher's statement of it; without one, no way is called better, nothing is called worse or the bottom
  quarter, and values are put highest first.
- Ranks are competition ranks ("1, 2, 2, 4"): tied values share the better rank. Best first where the
  indicator has a cited polarity, else highest value first.
- Quartile: among every council of the same geography level (upper-tier councils) with a value for the
  period, the share of peers strictly better than the council decides it, ``floor(4 * better / n) + 1``,
  so ties take the better quartile; quartile 1 is the best quarter. Without a polarity, quartile 1 is the
  highest quarter of values and no quarter is called the bottom. Quartiles are given only when at least
  half of the upper-tier councils have a value (:func:`quartile_minimum`): a quarter of a few councils
  that happened to report says where a figure sits among them, not among England's councils, so with
  fewer the comparison says how many have a value instead.
- The trend lists the periods the council has a figure (or a withheld symbol) for, and no others.
- The neighbours' mean is the plain mean of the neighbours' values (as DfE's LA Interactive Tool gives
  it), the council itself left out, over the neighbours with a value.
"""

from __future__ import annotations

import csv
import math
import tomllib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from indicators.models import Indicator
from indicators.sources import cite_text
from indicators.store.models import Observation, Submission
from mappings.geography import ENGLAND, la_codes
from mappings.intervals import METHOD_NAMES, Interval, against_england, rate, wilson
from mappings.models import OfficerGroup, OrgParent, OrgUnit
from mappings.signoff.states import published_sources

FOLDER = Path(__file__).with_name("comparators")
NEIGHBOURS_FILE = "New_Statistical_Neighbour_Groupings_April_2021.csv"
GROUPS_FILE = "groups.toml"

NEIGHBOURS_SOURCE = (
    "Department for Education, children's services statistical neighbours (April 2021 groupings), "
    "New_Statistical_Neighbour_Groupings_April_2021.csv in dfe-analytical-services/CSC_outcomes_and_enablers; "
    "DfE LA numbers mapped to GSS codes by the old_la_code and new_la_code columns of DfE's EES files"
)
REGION_SOURCE = "ONS geography lookups (LAD to region), as the service's geography holds them"
ENGLAND_SOURCE = "England (E92000001), the national figure"

#: Upper-tier councils: the level children's services are reported at, and the peers of a quartile.
PEER_TYPES = ("unitary", "county", "metropolitan_district", "london_borough")


@dataclass(frozen=True)
class Member:
    """One council of a group: its name, the GSS codes it has had, and (for neighbours) how close it is."""

    name: str
    codes: tuple[str, ...]
    closeness: str = ""


@dataclass(frozen=True)
class Group:
    """A comparator group with its source, named on every comparison."""

    id: str
    title: str
    source: str
    members: tuple[Member, ...]
    #: Why the group is empty, where it is (a council no grouping names is compared with its region and England).
    note: str = ""


@dataclass(frozen=True)
class Figure:
    """One council's (or area's) figure for a period, as far as the reader may see it."""

    org_code: str
    value: float | None
    symbol: str | None = None
    numerator: float | None = None
    denominator: float | None = None
    #: Whether the figure shown is the published one: a publisher's own, or a body's own the publisher gives too.
    published: bool = True
    #: Whose figure it is: ``publisher`` (a publisher's own), ``as_published`` (a body's own, which the
    #: publisher's file gives the same), ``differs`` (a body's own; the publisher's file says otherwise, see
    #: ``published_value``) or ``unpublished`` (a body's own, no publisher has the cell).
    provenance: str = ""
    #: The publisher's value of the cell where the figure shown is a body's own that differs from it.
    published_value: float | None = None

    def __post_init__(self) -> None:
        if not self.provenance:
            object.__setattr__(self, "provenance", "publisher" if self.published else "unpublished")

    @property
    def withheld(self) -> bool:
        """Whether the figure has no number to rank (a symbol, or no value)."""
        return self.value is None or self.symbol is not None or math.isnan(self.value)


@dataclass(frozen=True)
class IndicatorInfo:
    """What the comparison needs to know of an indicator."""

    id: str
    title: str
    statistic: str
    multiplier: int
    polarity: str
    unit: str = ""
    decimals: int = 0
    source: str = ""
    #: The publisher's statement of the polarity, as one citation; empty where no source says.
    polarity_source: str = ""

    @property
    def judged(self) -> bool:
        """Whether a cited source says which way is better (so better, worse and the bottom quarter may be said)."""
        return bool(self.polarity_source) and self.polarity in {"higher_is_better", "lower_is_better"}

    @property
    def polarity_words(self) -> str:
        """Which way is better, in words, as far as a cited source says."""
        if self.judged:
            return "Higher is better" if self.polarity == "higher_is_better" else "Lower is better"
        if self.polarity_source:
            return "Neither: the source makes no judgement"
        return "Not shown: no source found says which way is better"

    @classmethod
    def of(cls, indicator: Indicator) -> IndicatorInfo:
        """The comparison's view of a catalogue indicator: its polarity only where a publisher's statement is cited."""
        cited = "; ".join(
            " ".join(str(s.get(k, "")) for k in ("publisher", "title", "section") if s.get(k))
            for s in indicator.sources
        )
        stated = indicator.polarity_source
        return cls(
            indicator.id,
            indicator.title,
            indicator.statistic,
            indicator.multiplier,
            # Without a publisher's statement the catalogue's own polarity is not shown nor used.
            indicator.polarity if stated else "no_judgement",
            indicator.unit,
            indicator.decimals,
            cited,
            cite_text(stated) if stated else "",
        )


@dataclass(frozen=True)
class Row:
    """One line of a comparison: an area, its figure, rank, interval and outcome against England."""

    code: str
    name: str
    role: str  # council | neighbour | member | region | england
    value: float | None
    symbol: str | None
    published: bool
    closeness: str = ""
    rank: int | None = None
    interval: Interval | None = None
    outcome: str | None = None
    provenance: str = ""
    published_value: float | None = None

    @property
    def label(self) -> str:
        """Whose figure this is, in words: published, as published, differing from the published, or not yet."""
        if self.value is None and self.symbol is None:
            return ""
        if self.provenance == "publisher":
            return "published"
        if self.provenance == "as_published":
            return "as published"
        if self.provenance == "differs":
            if self.published_value is None:
                return "differs from the published figures"
            return f"differs from the published figure ({self.published_value:,.10g})"
        return "not yet published"


@dataclass(frozen=True)
class TrendPoint:
    """The council, its neighbours' mean and England for one period."""

    period: str
    value: float | None
    symbol: str | None
    neighbours_mean: float | None
    england: float | None


@dataclass
class Comparison:
    """Everything said about one indicator, period and council."""

    indicator: IndicatorInfo
    period: str
    org_code: str
    org_name: str
    group: Group
    rows: list[Row]
    neighbours_mean: float | None
    neighbours_counted: int
    region: Row | None
    england: Row | None
    quartile: int | None
    peers_counted: int
    peer_rank: int | None
    method: str | None
    trend: list[TrendPoint] = field(default_factory=list)
    #: Upper-tier councils in the geography, and how many need a value before quartiles are given.
    peers_total: int = 0
    peers_needed: int = 0

    @property
    def quartile_note(self) -> str:
        """Why no quartile is given, where none is."""
        if self.quartile is not None:
            return ""
        if self.own.value is None:
            return "not placed: the council has no figure to place"
        return (
            f"not placed: {self.peers_counted} of {self.peers_total} upper-tier councils have a value, and quartiles "
            f"are given only when at least {self.peers_needed} (half) have one, so that the quarters stand for "
            "England's councils rather than the few that reported"
        )

    @property
    def quartile_end(self) -> str:
        """Which end quartile 1 is: the best quarter and its values where a source says which way is better, else
        the highest values, said as such."""
        if self.indicator.judged:
            values = "the highest values" if self.indicator.polarity == "higher_is_better" else "the lowest values"
            return f"quartile 1 is the best quarter: {values}"
        return "quartile 1 holds the highest values (no source says which way is better, so none is called best)"

    @property
    def quartile_words(self) -> str:
        """The council's quartile in words, saying which end quartile 1 is, or why none is given."""
        if self.quartile is None:
            return self.quartile_note
        bottom = ", the bottom quarter" if self.bottom_quartile else ""
        return (
            f"quartile {self.quartile} of 4{bottom}, ranked {self.peer_rank} of {self.peers_counted} councils with a "
            f"figure ({self.quartile_end})"
        )

    @property
    def own(self) -> Row:
        """The council's own row."""
        return next(r for r in self.rows if r.role == "council")

    @property
    def bottom_quartile(self) -> bool:
        """Whether the council sits in the worst quarter: only where the polarity says which is worse, and not for
        a count, which follows a council's size (a large county "has the most" of nearly everything)."""
        return self.quartile == 4 and self.indicator.judged and self.indicator.statistic != "count"

    @property
    def differs(self) -> bool:
        """Whether the council differs from England beyond chance by the publisher's test."""
        return self.own.outcome not in {None, "similar"}


@cache
def _neighbour_rows() -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    with (FOLDER / NEIGHBOURS_FILE).open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        sn = [i for i, h in enumerate(header) if h.startswith("SN") and h != "SNP"]
        for row in reader:
            if row and row[0].strip():
                out[row[0].strip()] = [(row[i].strip(), row[i + 1].strip()) for i in sn]
    return out


def statistical_neighbours(org_code: str) -> Group | None:
    """DfE's ten statistical neighbours of a council (by GSS code), closest first; None where DfE names none."""
    by_number, number_of, names = la_codes()
    number = number_of.get(org_code)
    rows = _neighbour_rows().get(number or "")
    if number is None or rows is None:
        return None
    members = tuple(Member(names.get(n, n), by_number.get(n, ()), closeness) for n, closeness in rows)
    return Group("statistical_neighbours", f"DfE statistical neighbours of {names[number]}", NEIGHBOURS_SOURCE, members)


def officer_groups(session: Session | None = None) -> dict[str, Group]:
    """The groups officers keep in the store, by id; without a session, those of the seed file ``groups.toml``."""
    if session is None:
        rows = [(g["id"], g["title"], g.get("source", ""), g["members"]) for g in tomllib.loads(
            (FOLDER / GROUPS_FILE).read_text(encoding="utf-8")).get("group", [])]  # fmt: skip
    else:
        stmt = select(OfficerGroup).where(col(OfficerGroup.deleted_at).is_(None))
        rows = [(g.id, g.title, g.source, g.members) for g in session.execute(stmt).scalars()]
    _, number_of, names = la_codes()
    out: dict[str, Group] = {}
    for gid, title, source, codes in rows:
        members = tuple(Member(names.get(number_of.get(c, ""), c), (c,)) for c in codes)
        out[gid] = Group(gid, title, source, members)
    return out


def no_neighbours(org_code: str) -> Group:
    """The empty group of a council DfE's groupings do not name, saying why: it is compared with its region and
    England only."""
    note = (
        f"DfE's statistical neighbour groupings (April 2021) do not name {org_code}: they were drawn up for the "
        "councils of 2021, so a council made since (such as Cumberland and Westmorland and Furness, made in April "
        "2023 from Cumbria's districts) has no DfE neighbours. It is compared with its region and England."
    )
    return Group("statistical_neighbours", "No DfE statistical neighbours", NEIGHBOURS_SOURCE, (), note)


def group_for(
    org_code: str,
    group_id: str = "statistical_neighbours",
    session: Session | None = None,
    *,
    officers_groups: bool = True,
) -> Group:
    """The named group for a council (an empty one, saying why, where DfE names no neighbours); a KeyError names
    an unknown group and only the groups the reader may use (officers' groups read from the store when a session is
    given). ``officers_groups`` False (an agency's reader) leaves officers' groups out: they are the officers' own."""
    if group_id == "statistical_neighbours":
        return statistical_neighbours(org_code) or no_neighbours(org_code)
    groups = officer_groups(session) if officers_groups else {}
    if group_id not in groups:
        raise KeyError(
            f"No comparator group {group_id!r}; known: {', '.join(['statistical_neighbours', *sorted(groups)])}"
        )
    return groups[group_id]


def _key(polarity: str) -> int:
    # Sort sign: best first where the polarity says, else highest value first.
    return 1 if polarity == "lower_is_better" else -1


def competition_ranks(values: Mapping[str, float], polarity: str) -> dict[str, int]:
    """Rank values best first (highest first without a polarity); tied values share the better rank."""
    sign = _key(polarity)
    ordered = sorted(values.items(), key=lambda kv: sign * kv[1])
    ranks: dict[str, int] = {}
    for i, (code, value) in enumerate(ordered):
        prev = ordered[i - 1] if i else None
        ranks[code] = ranks[prev[0]] if prev is not None and prev[1] == value else i + 1
    return ranks


def quartile_minimum(peers: int) -> int:
    """How many upper-tier councils need a value before quartiles are given: half of them (see the module's rules)."""
    return max(4, math.ceil(peers / 2))


def quartile(value: float, peers: Iterable[float], polarity: str) -> tuple[int, int, int]:
    """The quartile (1 best) of a value among its peers' values, the rank among them, and how many peers counted."""
    sign = _key(polarity)
    values = list(peers)
    better = sum(1 for p in values if sign * p < sign * value)
    n = len(values)
    return min(4, math.floor(4 * better / n) + 1), better + 1, n


def interval_of(indicator: IndicatorInfo, figure: Figure) -> Interval | None:
    """The figure's confidence interval where its statistic and counts allow the publisher's method, else None."""
    if figure.withheld or figure.numerator is None or not figure.denominator:
        return None
    try:
        if indicator.statistic == "percentage":
            return wilson(figure.numerator, figure.denominator, indicator.multiplier or 100)
        if indicator.statistic == "rate":
            return rate(figure.numerator, figure.denominator, indicator.multiplier or 1)
    except ValueError:
        return None
    return None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _pick(member: Member, figures: Mapping[str, Figure]) -> str:
    return next((c for c in member.codes if c in figures), member.codes[0] if member.codes else member.name)


def _trend(org_code: str, group: Group, history: Mapping[str, Mapping[str, Figure]]) -> list[TrendPoint]:
    """The council's value, its group's mean (the council left out) and England's, period by period."""
    trend: list[TrendPoint] = []
    for p, figs in sorted(history.items()):
        mine = figs.get(org_code)
        if mine is None or (mine.value is None and mine.symbol is None):
            continue
        eng = figs.get(ENGLAND)
        vals = [
            f.value
            for m in group.members
            if (f := figs.get(_pick(m, figs))) is not None
            and not f.withheld
            and f.value is not None
            and f.org_code != org_code
        ]
        trend.append(
            TrendPoint(
                p,
                None if mine is None or mine.withheld else mine.value,
                None if mine is None else mine.symbol,
                _mean(vals),
                None if eng is None or eng.withheld else eng.value,
            )
        )
    return trend


def compare(
    indicator: IndicatorInfo,
    period: str,
    org_code: str,
    figures: Mapping[str, Figure],
    *,
    group: Group,
    names: Mapping[str, str],
    peers: Iterable[str],
    region_code: str | None = None,
    history: Mapping[str, Mapping[str, Figure]] | None = None,
) -> Comparison:
    """Compare one council's figure for a period with its group, region, England and its geography level's peers."""
    polarity = indicator.polarity if indicator.judged else "no_judgement"
    england_fig = figures.get(ENGLAND)
    england_value = None if england_fig is None or england_fig.withheld else england_fig.value

    def row(code: str, role: str, closeness: str = "") -> Row:
        fig = figures.get(code)
        name = names.get(code, code)
        if fig is None:
            return Row(code, name, role, None, None, True, closeness)
        ci = interval_of(indicator, fig)
        outcome = (
            against_england(ci, england_value, polarity)
            if ci and england_value is not None and code != ENGLAND
            else None
        )
        value = None if fig.withheld else fig.value
        return Row(
            code, name, role, value, fig.symbol, fig.published, closeness, None, ci, outcome,
            fig.provenance, fig.published_value,
        )  # fmt: skip

    member_rows = [row(_pick(m, figures), "neighbour" if m.closeness else "member", m.closeness) for m in group.members]
    member_rows = [r for r in member_rows if r.code != org_code]
    own = row(org_code, "council")
    ranked = {r.code: r.value for r in [own, *member_rows] if r.value is not None}
    ranks = competition_ranks(ranked, polarity)
    rows = [Row(**{**r.__dict__, "rank": ranks.get(r.code)}) for r in [own, *member_rows]]
    neighbour_values = [r.value for r in member_rows if r.value is not None]

    every_peer = set(peers)
    peer_values = [
        f.value for c in every_peer if (f := figures.get(c)) is not None and not f.withheld and f.value is not None
    ]
    q = rank = None
    n = len(peer_values)
    if own.value is not None and n >= quartile_minimum(len(every_peer)):
        q, rank, n = quartile(own.value, peer_values, polarity)

    trend = _trend(org_code, group, history or {})
    method = own.interval.method if own.interval else None
    return Comparison(
        indicator=indicator,
        period=period,
        org_code=org_code,
        org_name=names.get(org_code, org_code),
        group=group,
        rows=rows,
        neighbours_mean=_mean(neighbour_values),
        neighbours_counted=len(neighbour_values),
        region=row(region_code, "region") if region_code else None,
        england=row(ENGLAND, "england"),
        quartile=q,
        peers_counted=n,
        peer_rank=rank,
        method=METHOD_NAMES.get(method) if method else None,
        trend=trend,
        peers_total=len(every_peer),
        peers_needed=quartile_minimum(len(every_peer)),
    )


# ---- the store --------------------------------------------------------------------------------------------


def load_figures(
    session: Session, indicator_id: str, periods: Iterable[str], *, agency: str | None = None
) -> dict[str, dict[str, Figure]]:
    """Current totals of an indicator for the periods, by period and org, as a reader may see them.

    ``agency`` None reads every figure (an officer); an agency reads its own figures and the figures
    of agencies that publish theirs, never another agency's unpublished figure. A figure not yet
    published (not from a publishing agency) is marked so.
    """
    stmt = (
        sa_select(
            col(Observation.period),
            col(Observation.org_code),
            col(Observation.value),
            col(Observation.symbol),
            col(Observation.numerator),
            col(Observation.denominator),
            col(Submission.agency_code),
        )
        .join(Submission, col(Submission.id) == col(Observation.submission_id), isouter=True)
        .where(
            col(Observation.indicator_id) == indicator_id,
            col(Observation.period).in_(list(periods)),
            col(Observation.breakdown) == "",
            col(Observation.is_current).is_(True),
        )
        .order_by(col(Observation.id))
    )
    return seen_figures(session.execute(stmt), published_sources(session), agency)


def seen_figures(rows: Iterable[Any], published: Collection[str], agency: str | None) -> dict[str, dict[str, Figure]]:
    """The figures a reader sees of one indicator's stored rows (period, org, value, symbol, numerator, denominator,
    agency; oldest first), by period and org, as :func:`load_figures` gives them."""
    bodies: dict[tuple[str, str], Figure] = {}
    publishers: dict[tuple[str, str], Figure] = {}
    for period, org, value, symbol, num, den, by in rows:
        is_published = by in published
        if agency is not None and by != agency and not is_published:
            continue
        (publishers if is_published else bodies)[(period, org)] = Figure(org, value, symbol, num, den, is_published)
    out: dict[str, dict[str, Figure]] = {}
    for (period, org), figure in publishers.items():
        out.setdefault(period, {})[org] = figure
    # A publisher's figure stands beside a body's own; the body's own is what its row shows, and the
    # publisher's says whether it was published.
    for (period, org), figure in bodies.items():
        theirs = publishers.get((period, org))
        out.setdefault(period, {})[org] = figure if theirs is None else beside(figure, theirs.value, theirs.symbol)
    return out


def beside(own: Figure, value: float | None, symbol: str | None) -> Figure:
    """A body's own figure with what the publisher's file says of the same cell: as published, or differing."""
    same = own.value == value and own.symbol == symbol
    return replace(own, published=same, provenance="as_published" if same else "differs", published_value=value)


def with_published(
    history: Mapping[str, Mapping[str, Figure]],
    published: Iterable[tuple[str, str, float | None, str | None, float | None, float | None]],
) -> dict[str, dict[str, Figure]]:
    """Add the publisher's figures (period, org, value, symbol, numerator, denominator) of cells the reader sees no
    figure of: a council's own figure stays what its row shows, and the publisher's stands in for every other."""
    out = {p: dict(figs) for p, figs in history.items()}
    for period, org, value, symbol, num, den in published:
        figs = out.setdefault(period, {})
        own = figs.get(org)
        if own is None:
            figs[org] = Figure(org, value, symbol, num, den, True)
        elif own.provenance == "unpublished":
            # The body's own figure stays what its row shows; the publisher's file says whether it was published.
            figs[org] = beside(own, value, symbol)
    return out


def periods_of(session: Session, indicator_id: str) -> list[str]:
    """The periods an indicator has any figure for, oldest first."""
    stmt = select(Observation.period).where(col(Observation.indicator_id) == indicator_id).distinct()
    return sorted(str(p) for p in session.execute(stmt).scalars())


def geography(session: Session) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """Names of every org, the upper-tier councils (peers of a quartile) and each council's region."""
    units = session.execute(select(OrgUnit.code, OrgUnit.name, OrgUnit.type)).all()
    names = {str(c): str(n) for c, n, _ in units}
    types = {str(c): str(t) for c, _, t in units}
    peers = [c for c, t in types.items() if t in PEER_TYPES]
    region: dict[str, str] = {}
    for child, parent in session.execute(select(OrgParent.child_code, OrgParent.parent_code)):
        if types.get(str(parent)) == "region":
            region[str(child)] = str(parent)
    for child, parent in session.execute(select(OrgParent.child_code, OrgParent.parent_code)):
        if str(child) not in region and str(parent) in region:
            region[str(child)] = region[str(parent)]
    _, number_of, la_names = la_codes()
    for code, number in number_of.items():
        names.setdefault(code, la_names[number])
    return names, peers, region


Geo = tuple[dict[str, str], list[str], dict[str, str]]


def as_json(c: Comparison) -> dict[str, Any]:
    """A comparison as the API answers it."""

    def row(r: Row | None) -> dict[str, Any] | None:
        if r is None:
            return None
        return {
            "code": r.code,
            "name": r.name,
            "role": r.role,
            "value": r.value,
            "withheld": r.symbol,
            "published": r.published,
            "provenance": r.provenance or None,
            "label": r.label or None,
            "published_value": r.published_value,
            "closeness": r.closeness or None,
            "rank": r.rank,
            "lower_ci_95": r.interval.lower if r.interval else None,
            "upper_ci_95": r.interval.upper if r.interval else None,
            "against_england": r.outcome,
        }

    return {
        "indicator": {
            "id": c.indicator.id,
            "title": c.indicator.title,
            "unit": c.indicator.unit,
            "polarity": c.indicator.polarity if c.indicator.judged else "no_judgement",
            "polarity_source": c.indicator.polarity_source or None,
            "sources": c.indicator.source,
        },
        "period": c.period,
        "org": {"code": c.org_code, "name": c.org_name},
        "group": {"id": c.group.id, "title": c.group.title, "source": c.group.source, "note": c.group.note or None},
        "council": row(c.own),
        "rows": [row(r) for r in c.rows],
        "neighbours_mean": c.neighbours_mean,
        "neighbours_counted": c.neighbours_counted,
        "region": row(c.region),
        "england": row(c.england),
        "quartile": c.quartile,
        "quartile_rule": f"{c.quartile_end}, among upper-tier councils with a value; ties take the better quartile; withheld values are not counted",
        "quartile_words": c.quartile_words,
        "peer_rank": c.peer_rank,
        "peers_counted": c.peers_counted,
        "peers_needed": c.peers_needed,
        "quartile_note": c.quartile_note or None,
        "bottom_quartile": c.bottom_quartile,
        "method": c.method,
        "trend": [t.__dict__ for t in c.trend],
    }
