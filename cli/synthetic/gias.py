"""A register of establishments in GIAS's own layout, ILLUSTRATIVE ONLY: made-up establishments written as GIAS
writes its all-establishments extract (its 140 columns in its order, Windows-1252, every field quoted) and a links
file of successors, for tests, the benchmark and trying the SEND pages where GIAS cannot be reached.

Every name, URN and UKPRN is invented: URNs 100000 upward and UKPRNs 10000000 upward, the ranges the synthetic SEN2
file (``sen2.py``) draws its placements from, so its placements are typed. The shares of types, phases and closures
are chosen, not estimated. Phase names are GIAS's as public projects that read its extract list them (0 Not
applicable ... 7 All-through); the service reads whatever phase the register gives.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path

from mappings.establishments.gias import READ, gias_header, type_codes

#: Each type code and its share of the made-up establishments (chosen, not estimated).
_TYPES = {
    1: 20,
    2: 8,
    3: 4,
    5: 4,
    28: 12,
    34: 24,
    35: 3,
    40: 1,
    11: 6,
    7: 2,
    12: 1,
    33: 1,
    44: 2,
    36: 1,
    8: 1,
    10: 2,
    14: 1,
    42: 1,
    43: 1,
    38: 1,
    18: 2,
    31: 1,
    32: 1,
    30: 1,
    49: 1,
    26: 1,
    15: 1,
    29: 1,
}
_PHASES = (
    "Not applicable",
    "Nursery",
    "Primary",
    "Middle deemed primary",
    "Secondary",
    "Middle deemed secondary",
    "16 plus",
    "All-through",
)
#: Columns left empty rather than filled: dates the service could come to read.
_DATED = frozenset({"OpenDate", "CensusDate", "LastChangedDate", "OfstedLastInsp"})
FIRST_URN = 100_000
FIRST_UKPRN = 10_000_000


def gias_csv(rows: Iterable[Mapping[str, object]], header: tuple[str, ...] | None = None, filler: str = "") -> bytes:
    """An extract in GIAS's layout: ``rows`` by GIAS's column names (a column not given is written ``filler``, empty
    unless asked: the benchmark fills them so that its file is about the size of GIAS's)."""
    columns = header or gias_header()
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(columns)
    blank = {c: "" if c in READ or c in _DATED else filler for c in columns}
    for row in rows:
        writer.writerow([blank[c] if row.get(c) is None else str(row.get(c)) for c in columns])
    return buffer.getvalue().encode("cp1252")


def links_csv(links: Iterable[tuple[int, int, str, str]]) -> bytes:
    """A links file as GIAS writes it: (URN, LinkURN, LinkType, LinkEstablishedDate dd-mm-yyyy) each."""
    buffer = io.StringIO()
    buffer.write('"URN","LinkURN","LinkName","LinkType","LinkEstablishedDate"\r\n')
    for urn, link, kind, when in links:
        buffer.write(f'{urn},{link},"Made-up establishment {link}","{kind}","{when}"\r\n')
    return buffer.getvalue().encode("cp1252")


def establishment(urn: int, type_code: int, **more: object) -> dict[str, object]:
    """One made-up establishment's columns: its URN, type and group (from GIAS's list), and ``more`` by GIAS's names."""
    group, name = type_codes()[type_code]
    row: dict[str, object] = {
        "URN": urn,
        "LA (code)": "891",
        "LA (name)": "Nottinghamshire",
        "EstablishmentName": f"Made-up establishment {urn}",
        "TypeOfEstablishment (code)": type_code,
        "TypeOfEstablishment (name)": name,
        "EstablishmentTypeGroup (code)": group,
        "EstablishmentStatus (name)": "Open",
        "PhaseOfEducation (name)": "Primary",
    }
    return row | more


def synthetic_register(seed: int, count: int, published: date, filler: str = "") -> tuple[bytes, bytes]:
    """``count`` made-up establishments (URNs from 100000) and their links file; the same seed, the same bytes."""
    rng = random.Random(seed)
    codes, weights = list(_TYPES), list(_TYPES.values())
    rows, links = [], []
    for number in range(count):
        urn = FIRST_URN + number
        type_code = rng.choices(codes, weights)[0]
        more: dict[str, object] = {"PhaseOfEducation (name)": rng.choice(_PHASES)}
        if number % 2 == 0:
            more["UKPRN"] = FIRST_UKPRN + number
        if number % 3 == 0:
            more["EstablishmentName"] = f"École made-up {urn}"
        if number and rng.random() < 0.06:
            # A closed school whose successor (an open academy further on) took its pupils.
            closed = published - timedelta(days=rng.randint(200, 3000))
            more |= {"EstablishmentStatus (name)": "Closed", "CloseDate": closed.strftime("%d-%m-%Y")}
            successor = FIRST_URN + rng.randrange(count)
            if successor != urn:
                links.append((urn, successor, "Successor", closed.strftime("%d-%m-%Y")))
                links.append((successor, urn, "Predecessor", closed.strftime("%d-%m-%Y")))
        rows.append(establishment(urn, type_code, **more))
    return gias_csv(rows, filler=filler), links_csv(links)


def write_register(seed: int, count: int, published: date, out: Path) -> tuple[Path, Path]:
    """Write the made-up register and its links under GIAS's names for ``published``; their paths."""
    out.mkdir(parents=True, exist_ok=True)
    extract, links = synthetic_register(seed, count, published)
    stamp = published.strftime("%Y%m%d")
    paths = (out / f"edubasealldata{stamp}.csv", out / f"links_edubasealldata{stamp}.csv")
    paths[0].write_bytes(extract)
    paths[1].write_bytes(links)
    return paths
