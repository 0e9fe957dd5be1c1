"""England's and each region's figures of the SSDA903 and the CIN census, made from every council's figures as DfE
makes its national and regional rows: each count the sum of the councils', each rate the ratio of the sums (the
region's hub's own rule, ``collectors.regions.figures``), then DfE's own conventions for the return.

- **The CIN census** (DfE, *Characteristics of children in need*, the 2021 release's data guidance on Explore
  Education Statistics, "Confidentiality" and "Rounding"): "Any number between 1 and 5 inclusive has been suppressed
  and replaced by 'c'"; "England and regional totals are rounded to the nearest 10"; "Percentages are rounded to one
  decimal place".
- **The SSDA903** (DfE's methodology *Children looked after: a focus on placement location*, Explore Education
  Statistics, "Rounding, suppression and grossing"): "National and regional figures have been rounded to the nearest
  10. Local authority figures are unrounded"; 'c' "to protect confidentiality"; percentages "rounded to whole
  numbers". Which small numbers DfE withholds is not in a stored source: the returns' own rule is applied (the widest
  small-number rule any return of the catalogue carries, as a region's figures do).

A council's figures are those its newest SSDA903 or CIN census of the year stored as it was taken through DfE's rules
(``collectors.records``); the councils counted are DfE's 153 (``collectors/sen2/dfe/councils.csv``, the councils of
DfE's 2025 EHC plan release), each without an upload named as missing. DfE's secondary suppression "where necessary"
is not applied: England's and each region's count is rounded to 10, so no withheld council's figure (5 or under) can
be worked back from it and the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Engine
from sqlmodel import Session

from collectors.regions.england import Coverage, counted_councils
from collectors.regions.figures import Part, _children, _is_count, _region, _stored, _widest
from collectors.regions.sources import Held, newest
from collectors.sen2.tables import council_rows
from mappings.comparison.figures import geography
from mappings.geography import ENGLAND
from onereturn import clock
from onereturn.errors import NotFound

#: The columns of the CSV: DfE's geographic columns, then the figure (the catalogue's indicator and period).
COLUMNS = (
    *("geographic_level", "country_code", "country_name", "region_code", "region_name"),
    *("new_la_code", "old_la_code", "la_name", "indicator", "period", "value", "numerator", "denominator"),
)


@dataclass(frozen=True)
class Convention:
    """DfE's conventions for a return's published rows: the councils' small numbers withheld (low to high, as the
    symbol), England's and the regions' counts rounded to ``nearest``, percentages to ``places``; and its source."""

    low: float
    high: float
    symbol: str
    nearest: int
    places: int
    source: str


CIN = Convention(1, 5, "c", 10, 1, "DfE, Characteristics of children in need, 2021 data guidance")


def convention(session: Session, library: str) -> Convention:
    """The conventions applied to the return's rows (``903`` or ``cin``)."""
    if library == "cin":
        return CIN
    widest = _widest(session)
    low, high, symbol = (widest[1]["low"], widest[1]["high"], widest[1]["symbol"]) if widest else (1, 5, "c")
    said = f"{widest[0]}'s small-number rule" if widest else "1 to 5 as c"
    return Convention(low, high, symbol, 10, 0, f"DfE's CLA methodology (rounding); {said} (withholding)")


def _held(session: Session, library: str, collection_year: str) -> tuple[list[Held], Coverage]:
    """The upload each of DfE's councils' figures come from (its agency's newest of the year that passed, under the
    council's own code: an illustrative council's made-up one counted in the place of the council it stands for)."""
    today = clock.now().date()
    found, coverage = counted_councils(
        session,
        f"{library} upload of {collection_year} through DfE's rules",
        lambda agency, council: newest(session, agency, council.org, library, 0, today, year=collection_year),
    )
    return [held for _, _, held in found.values()], coverage


def _nearest(count: float, nearest: int) -> float:
    """A count rounded to the nearest ``nearest``, a half upwards (25 to 30)."""
    return float((Decimal(str(count)) / nearest).quantize(Decimal(1), rounding=ROUND_HALF_UP) * nearest)


def _shown(part: Part, rule: Convention, whole: bool) -> dict[str, str]:
    """A figure's value, numerator and denominator as DfE writes them: a council's small number withheld, England's
    and a region's counts rounded (``whole``: a council's, as given), percentages to the convention's places."""
    if not whole:
        counts = [part.value] if _is_count(part) else [part.numerator, part.denominator]
        rounded = [None if c is None else _nearest(c, rule.nearest) for c in counts]
        value = rounded[0] if _is_count(part) else part.value
        numerator, denominator = (None, None) if _is_count(part) else (rounded[0], rounded[1])
    else:
        children = _children(part)
        if children is not None and rule.low <= children <= rule.high:
            return {"value": rule.symbol, "numerator": rule.symbol, "denominator": rule.symbol}
        value, numerator, denominator = part.value, part.numerator, part.denominator

    def text(number: float | None, places: int) -> str:
        return "" if number is None else f"{number:.{places}f}"

    return {
        "value": text(value, 0 if _is_count(part) else rule.places),
        "numerator": text(numerator, 0),
        "denominator": text(denominator, 0),
    }


def _council(org: str, coverage: Coverage, region_of: dict[str, str], names: dict[str, str]) -> dict[str, str]:
    """A council's geographic columns: DfE's codes and name (found by the code its agency holds), or an illustrative
    council's own code and what it stands in for."""
    region = region_of.get(org, "")
    where = {"geographic_level": "Local authority", "region_code": region, "region_name": names.get(region, "")}
    place = {held: code for code, held in coverage.held_as.items()}
    dfe = council_rows()[place.get(org, org)]
    if org in coverage.stands_in.values():
        return where | {"new_la_code": org, "old_la_code": "x", "la_name": f"{org} (made up, for {dfe['la_name']})"}
    return where | {k: dfe[k] for k in ("new_la_code", "old_la_code", "la_name")}


def england_figures(
    engine: Engine, library: str, collection_year: str, shown: frozenset[str] | None = None
) -> tuple[list[dict[str, str]], Coverage, Convention]:
    """Every figure of the return's councils for the year: England's row, each region's, then the councils' (only
    those in ``shown``, by ONS code, where given); NotFound when no council of DfE's has an upload counted."""
    dfe = council_rows()
    with Session(engine) as session:
        held, coverage = _held(session, library, collection_year)
        if not held:
            raise NotFound(f"no council of DfE's {len(dfe)} has a {library} upload of {collection_year} counted")
        parts = _stored(session, held)
        names, _, regions = geography(session)
        rule = convention(session, library)
    # Each figure's council by the code its agency holds, its place in DfE's councils by DfE's code.
    place = {held: code for code, held in coverage.held_as.items()}
    region_of = {
        org: regions[place.get(org, org)]
        for org in {p.council for ps in parts.values() for p in ps}
        if place.get(org, org) in regions
    }
    england = {"geographic_level": "National", "country_code": ENGLAND, "country_name": "England"}
    out: list[dict[str, str]] = []
    for (indicator, period), found in sorted(parts.items()):
        figure = {"indicator": indicator, "period": period}
        out.append({**england, **figure, **_shown(_region(found), rule, False)})
        for region in sorted({region_of[p.council] for p in found if p.council in region_of}):
            theirs = [p for p in found if region_of.get(p.council) == region]
            where = {"geographic_level": "Regional", "region_code": region, "region_name": names.get(region, region)}
            out.append({**england, **where, **figure, **_shown(_region(theirs), rule, False)})
        for part in sorted(found, key=lambda p: (region_of.get(p.council, ""), p.council)):
            if shown is None or part.council in shown:
                out.append(
                    {
                        **england,
                        **_council(part.council, coverage, region_of, names),
                        **figure,
                        **_shown(part, rule, True),
                    }
                )
    return [{c: row.get(c, "") for c in COLUMNS} for row in out], coverage, rule
