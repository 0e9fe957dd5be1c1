"""English geography for roll-ups: org units, nesting edges and weighted crosswalks.

The shipped ONS lookups (``mappings/geography/``) each describe one vintage: LAD Dec 2018
(with NUTS 2018), LAD Dec 2019, LAD/CCG Apr 2020 and LTLA→UTLA Apr 2023, plus CCG Apr 2018.
No single file covers the period the service reports on, so they are combined here: a unit
seen in every vintage that observes its type is undated; one that appears later or vanishes
gets ``valid_from`` / ``valid_to`` from ``reorganisations.csv`` (the real dates of the local
government reorganisations) or, failing that, from the vintage dates themselves.

Only England is kept (E-codes, and UK NUTS codes that hold English LAs). Everything here is a
pure function of the files except :func:`store_geography`, which writes the rows.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import polars as pl
from sqlalchemy import delete, insert, select
from sqlmodel import Session

from mappings.models import Crosswalk, OrgParent, OrgUnit

Value = str | float | date | None
Row = dict[str, Value]

GEOGRAPHY_FOLDER = Path(__file__).with_name("geography")
#: DfE's three-digit LA numbers beside the GSS codes they had (EES files' old_la_code and new_la_code; its sources
#: in ``mappings/comparators/README.md``): the crosswalk from a council's ONS code to the number DfE's returns carry.
LA_CODES = Path(__file__).with_name("comparators") / "dfe_la_codes.csv"

ENGLAND = "E92000001"

LAD18_REGION = "LAD18_to_RGN18_Dec2018__ons-lookups_csv016.csv"
LAD18_NUTS = "LAD18_to_LAU1_NUTS3_NUTS2_NUTS1_Jan2018__ons-lookups_csv176.csv"
LAD19_COUNTY = "LAD19_to_CTY19_RGN19_CTRY19_Dec2019_from_ward_lookup.csv"
LAD19_PHE = "LAD19_to_PHEC19_PHEREG19_Dec2019__ons-lookups_csv209.csv"
LAD20_COUNTY = "LAD20_to_CTY20_Apr2020__ons-lookups_csv030.csv"
LAD20_CCG = "LAD20_to_CCG20_Apr2020_from_LSOA_lookup.csv"
LTLA23_UTLA = "LTLA-UTLA_Apr23_Lookup_England-Wales.csv"
CCG18_NHS = "CCG18_to_NHSRLO18_NHSER18_Apr2018__ons-lookups_csv202.csv"
CCG20_STP = "CCG20_to_STP20_Apr2020__ons-lookups_csv031.csv"
REORGANISATIONS = "reorganisations.csv"
#: Health bodies abolished before the ONS lookups shipped here (primary care trusts), hand-written.
HEALTH_BEFORE_2013 = "health_bodies_before_2013.csv"

# A vintage is dated by the first day of the month its lookup describes; only used where
# reorganisations.csv does not give the real date.
V_NUTS18 = date(2018, 1, 1)
V_CCG18 = date(2018, 4, 1)
V_LAD18 = date(2018, 12, 1)
V_LAD19 = date(2019, 12, 1)
V_APR20 = date(2020, 4, 1)
V_APR23 = date(2023, 4, 1)

BASIS_SHARE_OF_LAD = "lsoa11_share_of_lad"
BASIS_SHARE_OF_CCG = "lsoa11_share_of_ccg"

TYPE_BY_PREFIX: dict[str, str] = {
    "E92": "england",
    "E12": "region",
    "E10": "county",
    "E06": "unitary",
    "E08": "metropolitan_district",
    "E09": "london_borough",
    "E07": "non_metropolitan_district",
    "E38": "ccg",
    "E54": "stp",
    "E40": "nhs_region",
    "E45": "phe_centre",
}
LA_TYPES = frozenset({"unitary", "metropolitan_district", "london_borough", "non_metropolitan_district"})
# Upper-tier areas hang from a region; lower-tier districts reach it through their county.
REGION_CHILD_TYPES = frozenset({"county", "unitary", "metropolitan_district", "london_borough"})


@dataclass(frozen=True)
class Geography:
    """Rows for OrgUnit, OrgParent and Crosswalk, keyed by column name (no ``id``)."""

    org_units: list[Row] = field(default_factory=list)
    org_parents: list[Row] = field(default_factory=list)
    crosswalks: list[Row] = field(default_factory=list)


@dataclass
class _Unit:
    type: str
    name: str = ""
    seen: set[date] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Reorganisation:
    name: str
    valid_from: date | None
    valid_to: date | None
    successor: str | None


class _Builder:
    """Accumulates sightings of units and edges across the vintage files."""

    def __init__(self) -> None:
        self.units: dict[str, _Unit] = {}
        self.edges: dict[tuple[str, str], list[str]] = {}

    def unit(self, code: str, name: str, type_: str, vintage: date, source: str) -> None:
        unit = self.units.setdefault(code, _Unit(type_))
        if unit.type != type_:
            raise ValueError(f"{code} is both {unit.type} and {type_} ({source})")
        # Files are read oldest first, so the latest vintage's spelling wins.
        unit.name = name
        unit.seen.add(vintage)
        if source not in unit.sources:
            unit.sources.append(source)

    def edge(self, child: str, parent: str, source: str) -> None:
        sources = self.edges.setdefault((child, parent), [])
        if source not in sources:
            sources.append(source)

    def parents_of_type(self, child: str, type_: str) -> set[str]:
        return {p for (c, p) in self.edges if c == child and self.units[p].type == type_}


def _read(folder: Path, name: str) -> list[dict[str, str]]:
    frame = pl.read_csv(folder / name, infer_schema=False)
    return [{k: v or "" for k, v in row.items()} for row in frame.iter_rows(named=True)]


def _la_type(code: str) -> str:
    return TYPE_BY_PREFIX[code[:3]]


def _is_english_la(code: str) -> bool:
    return code[:3] in {"E06", "E07", "E08", "E09"}


def _parse_date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _read_reorganisations(folder: Path) -> dict[str, _Reorganisation]:
    return {
        row["code"]: _Reorganisation(
            name=row["name"],
            valid_from=_parse_date(row["valid_from"]),
            valid_to=_parse_date(row["valid_to"]),
            successor=row["successor_code"] or None,
        )
        for row in _read(folder, REORGANISATIONS)
    }


def _read_lad18(folder: Path, b: _Builder, district_region: dict[str, str]) -> None:
    for row in _read(folder, LAD18_REGION):
        la = row["LAD18CD"]
        b.unit(la, row["LAD18NM"], _la_type(la), V_LAD18, LAD18_REGION)
        b.unit(row["RGN18CD"], row["RGN18NM"], "region", V_LAD18, LAD18_REGION)
        district_region[la] = row["RGN18CD"]
        if _la_type(la) in REGION_CHILD_TYPES:
            b.edge(la, row["RGN18CD"], LAD18_REGION)

    for row in _read(folder, LAD18_NUTS):
        la = row["LAD18CD"]
        if not _is_english_la(la):
            continue
        b.unit(la, row["LAD18NM"], _la_type(la), V_LAD18, LAD18_NUTS)
        for level in ("3", "2", "1"):
            b.unit(row[f"NUTS{level}18CD"], row[f"NUTS{level}18NM"], f"nuts{level}", V_NUTS18, LAD18_NUTS)
        b.edge(la, row["NUTS318CD"], LAD18_NUTS)
        b.edge(row["NUTS318CD"], row["NUTS218CD"], LAD18_NUTS)
        b.edge(row["NUTS218CD"], row["NUTS118CD"], LAD18_NUTS)


def _read_lad19(folder: Path, b: _Builder, district_region: dict[str, str]) -> None:
    for row in _read(folder, LAD19_COUNTY):
        la = row["LAD19CD"]
        if not _is_english_la(la):
            continue
        b.unit(la, row["LAD19NM"], _la_type(la), V_LAD19, LAD19_COUNTY)
        b.unit(row["RGN19CD"], row["RGN19NM"], "region", V_LAD19, LAD19_COUNTY)
        b.unit(row["CTRY19CD"], row["CTRY19NM"], "england", V_LAD19, LAD19_COUNTY)
        district_region[la] = row["RGN19CD"]
        if _la_type(la) in REGION_CHILD_TYPES:
            b.edge(la, row["RGN19CD"], LAD19_COUNTY)
        # E11 metropolitan counties and E13 Inner/Outer London are not org types here.
        if row["CTY19CD"].startswith("E10"):
            b.unit(row["CTY19CD"], row["CTY19NM"], "county", V_LAD19, LAD19_COUNTY)
            b.edge(la, row["CTY19CD"], LAD19_COUNTY)

    for row in _read(folder, LAD19_PHE):
        la = row["LAD19CD"]
        b.unit(la, row["LAD19NM"], _la_type(la), V_LAD19, LAD19_PHE)
        b.unit(row["PHEC19CD"], row["PHEC19NM"], "phe_centre", V_LAD19, LAD19_PHE)
        b.edge(la, row["PHEC19CD"], LAD19_PHE)


def _read_lad20_and_ltla23(folder: Path, b: _Builder) -> None:
    for row in _read(folder, LAD20_CCG):
        la = row["LAD20CD"]
        b.unit(la, row["LAD20NM"], _la_type(la), V_APR20, LAD20_CCG)
        b.unit(row["CCG20CD"], row["CCG20NM"], "ccg", V_APR20, LAD20_CCG)

    for row in _read(folder, LAD20_COUNTY):
        la = row["LAD20CD"]
        b.unit(la, row["LAD20NM"], _la_type(la), V_APR20, LAD20_COUNTY)
        if row["CTY20CD"].startswith("E10"):
            b.unit(row["CTY20CD"], row["CTY20NM"], "county", V_APR20, LAD20_COUNTY)
            b.edge(la, row["CTY20CD"], LAD20_COUNTY)

    for row in _read(folder, LTLA23_UTLA):
        la = row["LTLA23CD"]
        if not _is_english_la(la):
            continue
        b.unit(la, row["LTLA23NM"], _la_type(la), V_APR23, LTLA23_UTLA)
        if row["UTLA23CD"].startswith("E10"):
            b.unit(row["UTLA23CD"], row["UTLA23NM"], "county", V_APR23, LTLA23_UTLA)
            b.edge(la, row["UTLA23CD"], LTLA23_UTLA)


def _read_health(folder: Path, b: _Builder) -> None:
    for row in _read(folder, CCG18_NHS):
        b.unit(row["CCG18CD"], row["CCG18NM"], "ccg", V_CCG18, CCG18_NHS)
        b.unit(row["NHSER18CD"], row["NHSER18NM"], "nhs_region", V_CCG18, CCG18_NHS)
        b.edge(row["CCG18CD"], row["NHSER18CD"], CCG18_NHS)
    for row in _read(folder, CCG20_STP):
        b.unit(row["CCG20CD"], row["CCG20NM"], "ccg", V_APR20, CCG20_STP)
        b.unit(row["STP20CD"], row["STP20NM"], "stp", V_APR20, CCG20_STP)
        b.edge(row["CCG20CD"], row["STP20CD"], CCG20_STP)


def _add_reorganised_units(b: _Builder, reorgs: dict[str, _Reorganisation]) -> None:
    # A unit abolished before the oldest vintage (Dorset county) is in no lookup at all.
    for code, reorg in reorgs.items():
        if code not in b.units:
            b.units[code] = _Unit(TYPE_BY_PREFIX[code[:3]], reorg.name, set(), [REORGANISATIONS])
        elif REORGANISATIONS not in b.units[code].sources:
            b.units[code].sources.append(REORGANISATIONS)


def _single(candidates: set[str]) -> str | None:
    return next(iter(candidates)) if len(candidates) == 1 else None


def _inherit_from_predecessors(
    b: _Builder, reorgs: dict[str, _Reorganisation], district_region: dict[str, str]
) -> None:
    """Give areas created after the region/NUTS vintages the region and NUTS3 of their predecessors."""
    predecessors: dict[str, list[str]] = defaultdict(list)
    for code, reorg in reorgs.items():
        if reorg.successor and b.units[code].type in LA_TYPES:
            predecessors[reorg.successor].append(code)
    # A new area lies wholly inside a region or NUTS3 area when all its predecessors did.
    # Oldest first, so a successor of a successor (Somerset West and Taunton -> Somerset)
    # builds on the edges it inherited itself.
    for new in sorted(predecessors, key=lambda code: reorgs[code].valid_from or date.min):
        if b.units[new].type not in LA_TYPES:
            continue
        olds = predecessors[new]
        region = _single({district_region[old] for old in olds if old in district_region})
        if region and new not in district_region:
            district_region[new] = region
            if b.units[new].type in REGION_CHILD_TYPES:
                b.edge(new, region, f"region of its predecessors, via {REORGANISATIONS}")
        nuts3 = _single(set().union(*(b.parents_of_type(old, "nuts3") for old in olds)))
        if nuts3 and not b.parents_of_type(new, "nuts3"):
            b.edge(new, nuts3, f"NUTS3 of its predecessors in {LAD18_NUTS}, via {REORGANISATIONS}")


def _inherit_district_counties(b: _Builder, reorgs: dict[str, _Reorganisation]) -> None:
    """Give districts abolished before the first county vintage (2019) their county."""
    for code, reorg in reorgs.items():
        if b.units[code].type != "non_metropolitan_district" or not reorg.successor:
            continue
        if b.parents_of_type(code, "county"):
            continue
        # The county of the district that replaced it, or the county that the same
        # unitary replaced (the Dorset districts and Dorset county).
        counties = b.parents_of_type(reorg.successor, "county")
        counties |= {c for c, r in reorgs.items() if r.successor == reorg.successor and c.startswith("E10")}
        county = _single(counties)
        if county:
            b.edge(code, county, f"county of its successor, via {REORGANISATIONS}")


def _link_upwards(b: _Builder, district_region: dict[str, str]) -> None:
    """Hang counties from their districts' region and every top-level type from England."""
    county_regions: dict[str, set[str]] = defaultdict(set)
    for child, parent in list(b.edges):
        if b.units[parent].type == "county" and child in district_region:
            county_regions[parent].add(district_region[child])
    for county, regions in county_regions.items():
        region = _single(regions)
        if region:
            b.edge(county, region, f"region of its districts in {LAD18_REGION}; {LAD19_COUNTY}")

    # A district with no known county (Christchurch, abolished 2019) still needs a route
    # to its region, or its figures would drop out of regional totals.
    for code, unit in b.units.items():
        no_county = unit.type == "non_metropolitan_district" and not b.parents_of_type(code, "county")
        if no_county and code in district_region:
            b.edge(code, district_region[code], f"{LAD18_REGION} (no county known)")

    for code, unit in b.units.items():
        if unit.type in {"region", "ccg", "stp", "nhs_region", "phe_centre", "nuts1"}:
            b.edge(code, ENGLAND, "all English areas lie in England")


def _validity(unit: _Unit, vintages: list[date], reorg: _Reorganisation | None) -> tuple[date | None, date | None]:
    """Dates from reorganisations.csv, else from the first/last vintage the unit is missing from."""
    seen = sorted(unit.seen)
    valid_from = reorg.valid_from if reorg else None
    valid_to = reorg.valid_to if reorg else None
    if seen and valid_from is None and seen[0] != vintages[0]:
        valid_from = seen[0]
    if seen and valid_to is None and seen[-1] != vintages[-1]:
        first_missing = next(v for v in vintages if v > seen[-1])
        valid_to = first_missing - timedelta(days=1)
    return valid_from, valid_to


def _overlap(a: tuple[date | None, date | None], b: tuple[date | None, date | None]) -> tuple[date | None, date | None]:
    froms = [d for d in (a[0], b[0]) if d is not None]
    tos = [d for d in (a[1], b[1]) if d is not None]
    return (max(froms) if froms else None, min(tos) if tos else None)


def _crosswalk_rows(folder: Path) -> list[Row]:
    pairs = [(r["LAD20CD"], r["CCG20CD"], int(r["LSOA11_COUNT"])) for r in _read(folder, LAD20_CCG)]
    la_total: dict[str, int] = defaultdict(int)
    ccg_total: dict[str, int] = defaultdict(int)
    for la, ccg, n in pairs:
        la_total[la] += n
        ccg_total[ccg] += n
    # Weights from the LSOA counts, not the file's 4-decimal SHARE_OF_LAD_LSOAS, so each
    # area's weights sum to exactly 1 and counts apportioned through them are conserved.
    rows: list[Row] = []
    for la, ccg, n in sorted(pairs):
        rows.append(
            {
                "from_code": la,
                "to_code": ccg,
                "weight": n / la_total[la],
                "basis": BASIS_SHARE_OF_LAD,
                "source": LAD20_CCG,
            }
        )
        rows.append(
            {
                "from_code": ccg,
                "to_code": la,
                "weight": n / ccg_total[ccg],
                "basis": BASIS_SHARE_OF_CCG,
                "source": LAD20_CCG,
            }
        )
    return rows


def load_geography(folder: Path = GEOGRAPHY_FOLDER) -> Geography:
    """Combine the shipped lookup vintages into org units, dated parent edges and crosswalks."""
    b = _Builder()
    district_region: dict[str, str] = {}
    _read_lad18(folder, b, district_region)
    _read_lad19(folder, b, district_region)
    _read_lad20_and_ltla23(folder, b)
    _read_health(folder, b)
    reorgs = _read_reorganisations(folder)
    _add_reorganised_units(b, reorgs)
    _inherit_from_predecessors(b, reorgs, district_region)
    _inherit_district_counties(b, reorgs)
    _link_upwards(b, district_region)

    # Each type is judged only against the vintages that describe that type (no 2018 file
    # lists counties, so a county is not "new in 2019").
    vintages_by_type: dict[str, set[date]] = defaultdict(set)
    for unit in b.units.values():
        vintages_by_type[unit.type] |= unit.seen

    spans: dict[str, tuple[date | None, date | None]] = {}
    org_units: list[Row] = []
    for code in sorted(b.units):
        unit = b.units[code]
        spans[code] = _validity(unit, sorted(vintages_by_type[unit.type]), reorgs.get(code))
        org_units.append(
            {
                "code": code,
                "name": unit.name,
                "type": unit.type,
                "valid_from": spans[code][0],
                "valid_to": spans[code][1],
                "source": "; ".join(unit.sources),
            }
        )

    # Between these vintages no area moved to another parent; areas were only abolished or
    # created. So an edge holds exactly while both of its ends exist.
    org_parents: list[Row] = []
    for (child, parent), sources in sorted(b.edges.items()):
        valid_from, valid_to = _overlap(spans[child], spans[parent])
        org_parents.append(
            {
                "child_code": child,
                "parent_code": parent,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "source": "; ".join(sources),
            }
        )

    units, edges = _health_before_2013(folder, set(spans))
    return Geography(org_units=org_units + units, org_parents=org_parents + edges, crosswalks=_crosswalk_rows(folder))


def _health_before_2013(folder: Path, known: set[str]) -> tuple[list[Row], list[Row]]:
    """Read the hand-written primary care trusts: each unit, and an edge from each area it contains."""
    if not (folder / HEALTH_BEFORE_2013).exists():
        return [], []
    units: list[Row] = []
    edges: list[Row] = []
    for row in _read(folder, HEALTH_BEFORE_2013):
        valid_from, valid_to = _parse_date(row["valid_from"]), _parse_date(row["valid_to"])
        source = f"{HEALTH_BEFORE_2013}: {row['note']}"
        units.append(
            {
                "code": row["code"],
                "name": row["name"],
                "type": row["type"],
                "valid_from": valid_from,
                "valid_to": valid_to,
                "source": source,
            }
        )
        for child in row["contains"].split(";"):
            if child not in known:
                raise ValueError(f"{HEALTH_BEFORE_2013}: {row['code']} contains unknown area {child}")
            edges.append(
                {
                    "child_code": child,
                    "parent_code": row["code"],
                    "valid_from": valid_from,
                    "valid_to": valid_to,
                    "source": source,
                }
            )
    return units, edges


def store_geography(session: Session, geo: Geography) -> dict[str, int]:
    """Replace all geography rows in the caller's transaction and return the row counts."""
    # Children first so foreign keys hold on PostgreSQL and on SQLite with foreign_keys=ON.
    session.execute(delete(Crosswalk))
    session.execute(delete(OrgParent))
    session.execute(delete(OrgUnit))
    for model, rows in ((OrgUnit, geo.org_units), (OrgParent, geo.org_parents), (Crosswalk, geo.crosswalks)):
        if rows:
            session.execute(insert(model), rows)
    return {"org_unit": len(geo.org_units), "org_parent": len(geo.org_parents), "crosswalk": len(geo.crosswalks)}


_UNIT_FIELDS = ("name", "type", "valid_from", "valid_to", "source")
_EDGE_FIELDS = ("valid_from", "valid_to", "source")


def refresh_geography(session: Session, geo: Geography) -> dict[str, int]:
    """Bring a store's geography up to the bundled one without replacing it: add the units and edges it lacks and
    correct the names, types, dates and sources that changed; return how many units and edges were added or changed.

    A store made before a change of the bundled files (a council recoded, ONS's successor codes) gets it at its next
    load; nothing is deleted, so agencies' own units (providers, illustrative councils) and their links stay.
    """
    stored = {u.code: u for u in session.execute(select(OrgUnit)).scalars()}
    units = 0
    for row in geo.org_units:
        unit = stored.get(str(row["code"]))
        if unit is None:
            session.add(OrgUnit(**row))  # type: ignore[arg-type]
            units += 1
        elif any(getattr(unit, name) != row[name] for name in _UNIT_FIELDS):
            for name in _UNIT_FIELDS:
                setattr(unit, name, row[name])
            units += 1
    session.flush()
    edges_by_pair: dict[tuple[str, str], OrgParent] = {}
    for edge in session.execute(select(OrgParent).order_by(OrgParent.id)).scalars():  # type: ignore[arg-type]
        edges_by_pair.setdefault((edge.child_code, edge.parent_code), edge)
    edges = 0
    for row in geo.org_parents:
        found = edges_by_pair.get((str(row["child_code"]), str(row["parent_code"])))
        if found is None:
            session.add(OrgParent(**row))  # type: ignore[arg-type]
            edges += 1
        elif any(getattr(found, name) != row[name] for name in _EDGE_FIELDS):
            for name in _EDGE_FIELDS:
                setattr(found, name, row[name])
            edges += 1
    session.flush()
    return {"geography_units_refreshed": units, "geography_edges_refreshed": edges}


@cache
def la_codes() -> tuple[dict[str, tuple[str, ...]], dict[str, str], dict[str, str]]:
    """DfE's LA numbers: the GSS codes each has had (newest first), the number of each GSS code, and each number's name."""
    by_number: dict[str, list[str]] = {}
    number_of: dict[str, str] = {}
    names: dict[str, str] = {}
    with LA_CODES.open(newline="", encoding="utf-8") as f:
        # Newest code first: a reorganised council is looked for under its current code before its old one.
        for row in sorted(csv.DictReader(f), key=lambda r: r["last_year"], reverse=True):
            by_number.setdefault(row["old_la_code"], []).append(row["new_la_code"])
            number_of[row["new_la_code"]] = row["old_la_code"]
            names[row["old_la_code"]] = row["la_name"]
    return {k: tuple(v) for k, v in by_number.items()}, number_of, names


def dfe_la_number(org_code: str) -> str | None:
    """DfE's three-digit number of the council of ONS code ``org_code`` (its EES files' old_la_code), if it has one."""
    return la_codes()[1].get(org_code)
