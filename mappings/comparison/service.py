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

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from indicators.models import Indicator
from indicators.sources import cite_text
from mappings.comparison.groups import Group, Member
from mappings.comparison.intervals import METHOD_NAMES, Interval, against_england, rate, wilson
from mappings.geography import ENGLAND

REGION_SOURCE = "ONS geography lookups (LAD to region), as the service's geography holds them"
ENGLAND_SOURCE = "England (E92000001), the national figure"

#: Upper-tier councils: the level children's services are reported at, and the peers of a quartile.
PEER_TYPES = ("unitary", "county", "metropolitan_district", "london_borough")


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


def _row(
    indicator: IndicatorInfo,
    fig: Figure | None,
    code: str,
    name: str,
    role: str,
    closeness: str,
    england_value: float | None,
    polarity: str,
) -> Row:
    """One area's row of a comparison: its figure, interval and how it stands against England."""
    if fig is None:
        return Row(code, name, role, None, None, True, closeness)
    ci = interval_of(indicator, fig)
    outcome = (
        against_england(ci, england_value, polarity) if ci and england_value is not None and code != ENGLAND else None
    )
    value = None if fig.withheld else fig.value
    return Row(
        code,
        name,
        role,
        value,
        fig.symbol,
        fig.published,
        closeness,
        None,
        ci,
        outcome,
        fig.provenance,
        fig.published_value,
    )


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
        return _row(indicator, figures.get(code), code, names.get(code, code), role, closeness, england_value, polarity)

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
