"""A region of four councils for the tests: made-up children's files (the synthetic generator's, two councils sharing
one child by UPN), kept sealed as each council's accepted uploads, a region onboarded by import, and keys."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from cli.synthetic import synthetic_903, synthetic_cin
from cli.synthetic.sen2 import synthetic_sen2
from collectors.records.cin_figures import derive_cin
from collectors.records.kept import content_hash, keep
from collectors.records.privacy import keys_for
from collectors.records.ssda903_figures import derive_ssda903
from collectors.regions.sources import Held, read_tables
from indicators.models import Indicator
from indicators.store.models import RECORDS_KIND, Observation, Submission
from mappings import keys, registry
from onereturn.settings import Settings

YEAR = "2024-25"
REGION = "midlands_hub"
#: The four member councils: agency code, GSS code, the generator's council (its postcodes) and seed.
COUNCILS = {
    "notts_cyp": ("E10000024", "E10000024", 11),
    "derbyshire_cs": ("E10000007", "E10000007", 12),
    "leics_cs": ("E10000018", "E10000024", 13),
    "lewisham_council": ("E09000023", "E10000007", 14),
}
#: The councils and the region, as the officer imports them (``onereturn agencies import``).
AGENCIES_CSV = (
    "code,name,body_type,orgs,returns,provenance\n"
    "derbyshire_cs,Derbyshire children's services,local_authority,E10000007,dfe_ssda903;dfe_cin_census,test\n"
    "leics_cs,Leicestershire children's services,local_authority,E10000018,dfe_ssda903;dfe_cin_census;dfe_sen2,test\n"
    f"{REGION},Midlands and Lewisham children's hub (test),region,E10000024;E10000007;E10000018;E09000023,,test\n"
)


@dataclass(frozen=True)
class Files:
    """Each council's made-up files, and the one child two councils share (its UPN, and each council's id for it)."""

    folders: dict[str, tuple[list[Path], Path]]
    #: Leicestershire's SEN2 file, whose first child is the shared child (its UPN, birth date and sex).
    sen2: Path
    shared_upn: str
    shared_ids: dict[str, str]
    #: Every council child id, UPN, full postcode and birth date in the files: none may leave in a pooled table.
    identifiers: set[str] = field(default_factory=set)

    def leaked(self, text: str) -> list[str]:
        """The identifiers a CSV holds as a whole cell (a child's key is a keyed hash: six of its digits may read as a
        council's child id, so a substring is no leak)."""
        cells = {cell for row in csv.reader(io.StringIO(text)) for cell in row}
        return sorted(i for i in self.identifiers if i and i in cells)


def make_files(root: Path) -> Files:
    """Write each council's SSDA903 and CIN census (40 children each), and give two councils one child by UPN."""
    folders: dict[str, tuple[list[Path], Path]] = {}
    for code, (_, la, seed) in COUNCILS.items():
        made = synthetic_903(seed, 40, YEAR, root / code / "903", la=la)
        census = synthetic_cin(seed, 40, YEAR, root / code / "cin", la=la)
        folders[code] = (made, census)
    header_a = root / "notts_cyp" / "903" / "header.csv"
    header_b = root / "derbyshire_cs" / "903" / "header.csv"
    rows_a = list(csv.DictReader(header_a.open()))
    rows_b = list(csv.DictReader(header_b.open()))
    shared = next(r for r in rows_a if len(r["UPN"]) == 13)
    other = next(r for r in rows_b if len(r["UPN"]) == 13)
    other["UPN"] = shared["UPN"]
    _write(header_b, rows_b)
    born = date(*map(int, reversed(shared["DOB"].split("/"))))
    sen2 = synthetic_sen2(
        15, 30, 2025, root / "leics_cs" / "sen2", known=[(shared["UPN"], born, "M" if shared["SEX"] == "1" else "F")]
    )
    identifiers: set[str] = {"Madeup", "Child1"}
    for code in COUNCILS:
        for row in csv.DictReader((root / code / "903" / "header.csv").open()):
            identifiers |= {row["CHILD"], row["UPN"], row["DOB"]} - {"UN1", "UN2", "UN3", "UN4", "UN5"}
        for row in csv.DictReader((root / code / "903" / "episodes.csv").open()):
            identifiers |= {p for p in (row["HOME_POST"], row["PL_POST"]) if p}
    return Files(
        folders, sen2, shared["UPN"], {"notts_cyp": shared["CHILD"], "derbyshire_cs": other["CHILD"]}, identifiers
    )


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())


def plant(engine: Engine, settings: Settings, agency: str, library: str, files: list[Path], year: str = YEAR) -> int:
    """Keep the files sealed as the council's record-level upload that passed, as the service keeps one."""
    named = [(p.name, p) for p in files]
    digest = content_hash(named)
    name = keep(engine, settings, keys_for(settings), digest, named)
    with Session(engine) as session:
        row = Submission(
            agency_code=agency,
            filename=", ".join(p.name for p in files)[:255],
            source_format=library,
            size_bytes=sum(p.stat().st_size for p in files),
            content_hash=digest,
            raw_path=name,
            received_at=datetime.now(UTC),
            mode="sen2" if library == "sen2" else "default",
            status="accepted",
            kind=RECORDS_KIND,
            stage="stored",
            collection_year=year,
        )
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


@dataclass(frozen=True)
class Region:
    """The region onboarded: the region's key, each council's approver key, and the uploads planted."""

    region_key: str
    approvers: dict[str, str]
    uploads: dict[tuple[str, str], int]


def onboard(engine: Engine, settings: Settings, files: Files) -> Region:
    """Import the councils and the region, issue keys, and keep each council's files as its accepted uploads."""
    with Session(engine) as session:
        registry.import_agencies(session, AGENCIES_CSV.encode(), "agencies.csv")
        _, region_key = keys.create_key(session, role="agency", agency_code=REGION, label="hub analysts")
        approvers = {
            code: keys.create_key(session, role="agency", agency_code=code, label="approver", approver=True)[1]
            for code in COUNCILS
        }
        session.commit()
    uploads = {}
    for code, (made, census) in files.folders.items():
        uploads[(code, "903")] = plant(engine, settings, code, "903", made)
        uploads[(code, "cin")] = plant(engine, settings, code, "cin", [census])
    uploads[("leics_cs", "sen2")] = plant(engine, settings, "leics_cs", "sen2", [files.sen2])
    return Region(region_key, approvers, uploads)


def store_figures(engine: Engine, settings: Settings, region: Region) -> None:
    """Store the figures each council's SSDA903 and CIN census give, as their uploads through DfE's rules store them."""
    for (code, library), submission_id in region.uploads.items():
        if library != "sen2":
            store_derived(engine, settings, Held(code, COUNCILS[code][0], library, YEAR, submission_id))


def store_derived(engine: Engine, settings: Settings, held: Held) -> None:
    """Store the figures the upload's records give as the council's: each the catalogue asks of a council (none its
    formula works out), by the period its indicator is kept by."""
    tables = read_tables(engine, settings, held)
    year = int(held.collection_year[:4]) + 1
    derived = (
        derive_ssda903(tables, year_ending=year) if held.library == "903" else derive_cin(tables, year_ending=year)
    )
    now = datetime.now(UTC)
    with Session(engine) as session:
        for figure in derived.figures.values():
            indicator = session.get(Indicator, figure.indicator)
            if indicator is None or indicator.formula:
                continue
            period = derived.year.end.isoformat() if indicator.period_type == "snapshot_date" else derived.year.period
            session.add(
                Observation(
                    indicator_id=figure.indicator,
                    org_code=held.gss,
                    period=period,
                    value=figure.value,
                    numerator=figure.numerator,
                    denominator=figure.denominator,
                    submission_id=held.submission_id,
                    recorded_at=now,
                )
            )
        session.commit()
