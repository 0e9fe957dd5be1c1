"""A synthetic England (ILLUSTRATIVE ONLY): every council's SSDA903, CIN census and SEN2 files for one year, each
sized to the council's own counts in DfE's releases times a scale.

The counts are DfE's, read from the files the service already ships (docs/england.md names each):

- children looked after on 31 March: ``cla_number_and_rate_per_10k_children.csv`` (DfE's CSC outcomes and enablers,
  ``population_type`` "Children looked after on 31 March each year", ``children_count``, 2025);
- children in need on 31 March: ``b1_children_in_need_2013_to_2025.csv`` (``At31_episodes``, 2025), and referrals in
  the year (``c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv``, ``referral_count``, 2025);
- EHC plans in force in January: DfE's 2025 EHC plan release, ``caseload.csv`` (``ehcplans``, 202425, "All EHC
  plans").

A council's count times the scale is rounded half up, at least 1 (a council sends a file of one child rather than
none); a count DfE suppresses (``c``) is taken as 1 and said in the manifest. The children are made up by the
generators of :mod:`cli.synthetic` (their shares are chosen, not estimated): none is a real child.
"""

from __future__ import annotations

import csv
import io
import json
import random
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from cli.synthetic.cin import in_need_at_31_march, referrals_in_year, synthetic_cin, upn
from cli.synthetic.common import ENGLAND_COUNCILS, collection_year, council
from cli.synthetic.sen2 import ACTIVE, synthetic_sen2
from cli.synthetic.ssda903 import looked_after_at_31_march, synthetic_903
from collectors.published.sources import EHCP_RELEASE, FILES_DIR
from onereturn.errors import InvalidInput

#: The year the counts are DfE's for: 31 March 2025, and the January 2025 EHC plan caseload.
YEAR = "2024-25"
#: The share of each council's EHC plans held by children who also appear in the next council's SEN2 file.
MOVERS = 0.02
#: The kinds of count, the file each is read from and how.
LOOKED_AFTER, IN_NEED, REFERRALS, PLANS = "looked_after", "in_need", "referrals", "plans"
SOURCES = {
    LOOKED_AFTER: "cla_number_and_rate_per_10k_children.csv: children_count, 'Children looked after on 31 March each "
    "year', 2025",
    IN_NEED: "b1_children_in_need_2013_to_2025.csv: At31_episodes, 'Children in Need', 2025",
    REFERRALS: "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv: referral_count, 2025",
    PLANS: "education-health-and-care-plans_2025.zip data/caseload.csv: ehcplans, 'All EHC plans', 202425",
}


@dataclass
class Council:
    """One council of England as the manifest lists it: who, where, DfE's counts, and what its files hold."""

    code: str
    lea: str
    name: str
    region_code: str
    region: str
    published: dict[str, int | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    movers_out: int = 0
    movers_in: int = 0


def _ees_rows(data: bytes) -> Iterator[dict[str, str]]:
    yield from csv.DictReader(io.StringIO(data.decode("utf-8-sig")))


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def published_counts() -> dict[str, dict[str, int | None]]:
    """DfE's counts of each council for the year, by DfE's three-digit number and kind (None where DfE suppresses the
    figure). By number, not ONS code: the social care files give 2023's new codes of North Yorkshire, Somerset and
    Buckinghamshire, the EHC plan release the old ones, and the numbers are the same in both."""
    found: dict[str, dict[str, int | None]] = {}

    def take(kind: str, data: bytes, year: str, column: str, keep: tuple[str, str] | None = None) -> None:
        for row in _ees_rows(data):
            if row["time_period"] != year or row["geographic_level"] != "Local authority":
                continue
            if keep is None or row[keep[0]] == keep[1]:
                found.setdefault(row["old_la_code"], {})[kind] = _number(row[column])

    files = FILES_DIR
    take(
        LOOKED_AFTER,
        (files / "cla_number_and_rate_per_10k_children.csv").read_bytes(),
        "2025",
        "children_count",
        ("population_type", "Children looked after on 31 March each year"),
    )
    take(IN_NEED, (files / "b1_children_in_need_2013_to_2025.csv").read_bytes(), "2025", "At31_episodes")
    referrals = files / "c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv"
    take(REFERRALS, referrals.read_bytes(), "2025", "referral_count")
    with zipfile.ZipFile(EHCP_RELEASE) as archive:
        caseload = archive.read("data/caseload.csv")
    take(PLANS, caseload, "202425", "ehcplans", ("breakdown_topic", "All EHC plans"))
    return found


def england_councils() -> list[Council]:
    """England's 153 councils in DfE's order (its EHC plan release's, by ONS code), each with DfE's counts."""
    counts = published_counts()
    with ENGLAND_COUNCILS.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [
        Council(
            r["new_la_code"],
            r["old_la_code"],
            r["la_name"],
            r["region_code"],
            r["region_name"],
            published={k: counts.get(r["old_la_code"], {}).get(k) for k in SOURCES},
        )
        for r in rows
    ]


def sized(count: int | None, scale: Decimal) -> int:
    """A published count times the scale, rounded half up, at least 1 (1 where DfE suppresses the count)."""
    if count is None:
        return 1
    return max(1, int((count * scale).quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def _movers(seed: int, index: int, origin: Council, count: int, survey: int) -> list[tuple[str, date, str]]:
    """The children of ``origin`` who also appear in the next council's SEN2 file: UPN, birth date, sex."""
    rng = random.Random(seed * 100_003 + index)
    census = date(survey, 1, 16)
    return [
        (upn(origin.lea, 800_000_000 + n), census - timedelta(days=rng.randint(4 * 365, 18 * 365)), rng.choice("MF"))
        for n in range(1, count + 1)
    ]


def _in_files(folder: Path, year: str) -> dict[str, int]:
    """What a council's written files hold: looked after and in need on 31 March, referrals, plans in force."""
    with (folder / "ssda903" / "episodes.csv").open(newline="", encoding="utf-8") as f:
        episodes = list(csv.reader(f))[1:]
    census = ET.parse(next((folder / "cin").glob("*.xml"))).getroot()
    children = census.findall("Children/Child")
    referrals = sum(referrals_in_year(child, collection_year(year)) for child in children)
    sen2 = next((folder / "sen2").glob("*.xml")).read_text(encoding="utf-8")
    return {
        LOOKED_AFTER: looked_after_at_31_march(episodes),
        IN_NEED: sum(in_need_at_31_march(c) for c in children),
        REFERRALS: referrals,
        PLANS: sen2.count(ACTIVE),
    }


def totals(councils: list[Council]) -> tuple[dict[str, int], dict[str, int]]:
    """What the councils' files hold in all, and DfE's counts of the same councils in all (a suppressed one as 0)."""
    held = {kind: sum(c.counts.get(kind, 0) for c in councils) for kind in SOURCES}
    return held, {kind: sum(c.published[kind] or 0 for c in councils) for kind in SOURCES}


def write_england(
    out: Path, *, scale: float = 0.02, seed: int = 1, councils: int | None = None, codes: Collection[str] = ()
) -> list[Council]:
    """Write every council's files (the first ``councils`` in DfE's order, or those of ONS ``codes``) under ``out``
    with ``manifest.json``; a council's files are the same whichever others are written beside it, but its movers."""
    factor = Decimal(str(scale))
    if not Decimal(0) < factor <= Decimal(1):
        raise InvalidInput(f"--scale {scale}: give a share of England's size above 0 and at most 1")
    every = england_councils()
    if councils is not None and not 1 <= councils <= len(every):
        raise InvalidInput(f"--councils {councils}: England has {len(every)} councils")
    unknown = sorted(set(codes) - {c.code for c in every})
    if unknown:
        raise InvalidInput(f"not one of England's {len(every)} councils by DfE's ONS code: {', '.join(unknown)}")
    taken = [c for c in every if c.code in codes] if codes else every[: councils or len(every)]
    survey = collection_year(YEAR).ending
    plans = [sized(c.published[PLANS], factor) for c in taken]
    movers = [_movers(seed, i, c, round(MOVERS * n), survey) for i, (c, n) in enumerate(zip(taken, plans, strict=True))]
    for i, found in enumerate(taken):
        council(found.code)
        home = out / f"{found.code}-{found.lea}"
        child_seed = seed * 1000 + every.index(found)
        arriving = movers[i - 1] if len(taken) > 1 else []
        found.movers_out, found.movers_in = (len(movers[i]), len(arriving)) if len(taken) > 1 else (0, 0)
        synthetic_903(
            child_seed,
            1,
            YEAR,
            home / "ssda903",
            la=found.code,
            at_31_march=sized(found.published[LOOKED_AFTER], factor),
        )
        synthetic_cin(
            child_seed,
            1,
            YEAR,
            home / "cin",
            la=found.code,
            at_31_march=sized(found.published[IN_NEED], factor),
            referrals=sized(found.published[REFERRALS], factor),
        )
        known = (movers[i] + arriving) if len(taken) > 1 else []
        synthetic_sen2(child_seed, 1, survey, home / "sen2", la=found.code, known=known, plans=plans[i])
        found.files = sorted(str(p.relative_to(out)) for p in home.rglob("*") if p.is_file())
        found.counts = _in_files(home, YEAR)
    held, published = totals(taken)
    manifest: dict[str, object] = {
        "illustrative": "made-up children sized to DfE's published counts; no real child",
        "year": YEAR,
        "scale": str(factor),
        "seed": seed,
        "rounding": "each council's count times the scale, rounded half up, at least 1; 1 where DfE suppresses it",
        "steered_to": list(SOURCES),
        "movers_share_of_plans": MOVERS,
        "sources": SOURCES,
        "totals": held,
        "published_totals": published,
        "councils": [asdict(c) for c in taken],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return taken
