"""The bundled demo: real figures uploaded through the real pipeline, then every return built."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from collectors.figures.service import submit
from exports import service as exports
from exports.build import Builder
from exports.signoff.acts import sign_off_all
from exports.writers import FORMATS
from indicators.periods import Period, parse_period
from indicators.store.models import Submission
from mappings.agencies import demo_keys_live
from mappings.models import Agency, Return
from mappings.obligations import owed_periods
from mappings.signoff.states import Actor
from mappings.validity import in_force
from onereturn.settings import Settings

#: Demo uploads, in the order they are sent, after the publishers' own files (``load_published``).
DEMO_DIR = Path(__file__).resolve().parent.parent / "collectors" / "demo"
AGENCIES = ("notts_cyp", "lewisham_council", "lewisham_pct")
#: The council whose children are made up (illustrative): its record-level files are written at demo set-up with
#: a fixed seed and uploaded, so its children's figures come from them and none is keyed. They are kept on its own
#: code (``RECORDS_ORG``, outside England's geography); the files are written with Derbyshire's postcodes and DfE
#: number (``RECORDS_LA``), as DfE's rules check them as that real council's (mappings/agencies/synthetic_county.toml).
RECORDS_AGENCY = "synthetic_county"
RECORDS_ORG = "SYNTHETIC-COUNTY"
RECORDS_LA = "E10000007"
RECORDS_YEAR = "2024-25"
RECORDS_SEED = 2025
#: Small enough to keep demo set-up quick (DfE's rules run on each file); the benchmark uses county sizes.
RECORDS_CHILDREN = {"903": 300, "cin": 400}
#: The council's SSD extract: the first children of the same generator and seed, few, so DfE's rules on the two files
#: made from it add seconds to the demo's first start. It is sent after the council's own files, as a council moving
#: to its SSD would: the newest set of children, so its Annex A is the whole path (Lists 1 and 2 and the columns no
#: return holds from the extract) and the figures the demo shows are those worked out from the files made from it.
RECORDS_SSD_CHILDREN = {"903": 30, "cin": 40}
#: The council's SEN2 file (illustrative): this many made-up children, the first of them children of its CIN census
#: and SSDA903 by UPN (with the same birth date and sex), so the social care columns of the area SEND inspection's
#: List 1 show real rows.
RECORDS_SEN2_CHILDREN = 200
RECORDS_SEN2_SHARED = {"cin": 40, "903": 20}
#: The council's school census (illustrative): the autumn 2024 and spring 2025 censuses of its schools (the newest on
#: or before its SEN2 file's census day and the one before), each holding the children of its SEN2 file (with a plan
#: in force, else on SEN support) and the looked-after children of its SSDA903 by UPN, with their birth dates and sex,
#: beside this many other made-up pupils; so Lists 1 and 2 fill from it.
RECORDS_CENSUS_PUPILS = 1_500
RECORDS_CENSUS_TERMS = ((2024, "autumn"), (2025, "spring"))
#: Of the SEN2 children the census holds, how many disagree with SEN2 on purpose (a school moved to, a ceased plan
#: still recorded), each kind: the council's checks across returns show a query of each.
RECORDS_CENSUS_DISAGREES = 2
#: The demo's region (mappings/agencies/synthetic_hub.toml): the made-up county is its member, and consents to it.
DEMO_REGION = "synthetic_hub"
#: FY2009-10 is the year the National Indicators and NHS Vital Signs were both in force (Lewisham).
YEARS = ("FY2009-10", "FY2023-24", "FY2024-25")


@dataclass
class DemoUpload:
    """One demo file and what became of it."""

    agency: str
    file: str
    status: str
    message: str


def demo_files() -> list[tuple[str, Path]]:
    """List the bundled demo uploads in the order they are sent."""
    return [(agency, path) for agency in AGENCIES for path in sorted((DEMO_DIR / agency).glob("*.csv"))]


#: Who vouches for the demo's figures: each demo agency's approver, named for the record.
DEMO_APPROVER = Actor("demo: the demo agencies' approvers", client="local")


def load_demo(engine: Engine, settings: Settings) -> list[DemoUpload]:
    """Upload every bundled demo file for its agency (an upload already made is recognised), then sign them off.

    The demo's figures are published statistics, so the demo signs them off at once and a regulator's
    pull shows them; an upload made after that waits for its approver like any other.
    """
    done = load_published(engine, settings)
    for agency, path in demo_files():
        outcome = submit(
            engine, settings, agency_code=agency, filename=path.name, data=path.read_bytes(), submitted_by="demo"
        )
        sub = outcome.submission
        assert sub is not None
        done.append(DemoUpload(agency, f"{agency}/{path.name}", sub.status, sub.message))
    done += load_records_demo(engine, settings)
    done += load_sen2_demo(engine, settings)
    done += load_census_demo(engine, settings)
    with Session(engine) as session:
        sign_off_all(session, DEMO_APPROVER)
        consent_demo_region(session)
        session.commit()
    return done


def consent_demo_region(session: Session) -> bool:
    """The made-up county's approver consents to every use case of the demo's region, once: a consent already held
    (or withdrawn since) is left as it is. Whether it was given now."""
    from mappings.regions import consent
    from mappings.regions.policy import use_cases

    if session.get(Agency, DEMO_REGION) is None:
        return False
    if consent.consent_of(session, RECORDS_AGENCY, DEMO_REGION).changed_at is not None:
        return False
    consent.give(session, RECORDS_AGENCY, DEMO_REGION, list(use_cases()), by=DEMO_APPROVER.name)
    return True


def load_published(engine: Engine, settings: Settings) -> list[DemoUpload]:
    """Read every bundled publisher's file through the published-figures intake, as an officer's upload would:
    ONS's population first (the rates of every council need it), then DfE's tables beside the councils' own."""
    from collectors import ways_in
    from collectors.published.intake import Imported
    from collectors.published.sources import load_sources

    done = []
    sources = sorted(load_sources().sources.values(), key=lambda s: (s.publisher != "ons", s.id))
    for spec in sources:
        data = spec.bundled_bytes()
        if data is None:
            continue
        release = ways_in.ReleaseSent(
            spec=spec, data=data, filename=spec.file, fetched_from="upload", submitted_by="demo"
        )
        got: Imported = ways_in.take(engine, settings, release)
        status = "unchanged" if got.duplicate else "accepted"
        done.append(DemoUpload(spec.publisher, f"published/{spec.file}", status, got.release.message))
    return done


def demo_records(folder: Path) -> list[tuple[str, list[Path]]]:
    """Write the synthetic council's record-level files (SSDA903 tables, CIN census) into ``folder``."""
    from cli.synthetic import synthetic_903, synthetic_cin

    tables = synthetic_903(RECORDS_SEED, RECORDS_CHILDREN["903"], RECORDS_YEAR, folder / "903", la=RECORDS_LA)
    census = synthetic_cin(RECORDS_SEED, RECORDS_CHILDREN["cin"], RECORDS_YEAR, folder / "cin", la=RECORDS_LA)
    return [("SSDA903 tables", tables), ("CIN census", [census])]


def load_records_demo(engine: Engine, settings: Settings) -> list[DemoUpload]:
    """Upload the synthetic council's own record-level files, then its SSD extract, and run each through DfE's rules
    to stored figures: the extract last, so its Annex A is built from the extract and the files made from it."""
    from collectors import ways_in
    from collectors.records.receiving import Received

    done: list[DemoUpload] = []
    with tempfile.TemporaryDirectory(prefix="onereturn-demo-records-") as tmp:
        for label, files in demo_records(Path(tmp)):
            upload = ways_in.RecordFiles(
                agency_code=RECORDS_AGENCY,
                collection_year=RECORDS_YEAR,
                files=[(p.name, p) for p in files],
                submitted_by="demo",
            )
            received = ways_in.take(engine, settings, upload)
            assert isinstance(received, Received)
            sub = received.submission
            if not received.duplicate:
                assert sub.id is not None
                sub = ways_in.take_up(engine, settings, sub.id)
            name = f"{RECORDS_AGENCY}/{label} {RECORDS_YEAR} (synthetic, illustrative)"
            done.append(DemoUpload(RECORDS_AGENCY, name, sub.status, sub.message))
    return done + load_ssd_demo(engine, settings)


def demo_sen2(folder: Path) -> Path:
    """Write the synthetic council's SEN2 file for January 2025 into ``folder``, its first children those of its CIN
    census and SSDA903 (``RECORDS_SEN2_SHARED``, aged 4 to 17 at the census)."""
    import csv
    import re
    import xml.etree.ElementTree as ET
    from datetime import date, datetime

    from cli.synthetic.sen2 import synthetic_sen2

    census_day = date(2025, 1, 16)
    sexes = {"1": "M", "2": "F", "M": "M", "F": "F"}
    found: dict[str, list[tuple[str, date, str]]] = {"cin": [], "903": []}
    files = dict(demo_records(folder / "records"))
    for child in ET.parse(files["CIN census"][0]).getroot().iter("Child"):
        upn, dob = child.findtext("ChildIdentifiers/UPN"), child.findtext("ChildIdentifiers/PersonBirthDate")
        sex = sexes.get(
            child.findtext("ChildIdentifiers/Sex") or child.findtext("ChildIdentifiers/GenderCurrent") or ""
        )
        if upn and dob and sex:
            found["cin"].append((upn, date.fromisoformat(dob), sex))
    with next(p for p in files["SSDA903 tables"] if p.name == "header.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["UPN"] and row["SEX"] in sexes:
                found["903"].append((row["UPN"], datetime.strptime(row["DOB"], "%d/%m/%Y").date(), sexes[row["SEX"]]))
    # A census UPN may be a reason it is unknown (UN1 ...): only a UPN itself names the same child.
    upn_form = re.compile(r"[A-Z]\d{12}|[A-Z]\d{11}[A-Z]")
    shared: dict[str, tuple[str, date, str]] = {}
    for source, wanted in RECORDS_SEN2_SHARED.items():
        fitting = [
            c
            for c in found[source]
            if upn_form.fullmatch(c[0]) and c[0] not in shared and 4 <= (census_day - c[1]).days // 366 <= 17
        ]
        shared |= {c[0]: c for c in fitting[:wanted]}
    return synthetic_sen2(
        RECORDS_SEED, RECORDS_SEN2_CHILDREN, 2025, folder / "sen2", la=RECORDS_LA, known=list(shared.values())
    )


def load_sen2_demo(engine: Engine, settings: Settings) -> list[DemoUpload]:
    """Upload the synthetic council's SEN2 file, checked at the door and kept as its other children's records."""
    from collectors import ways_in
    from collectors.records.receiving import Received

    with tempfile.TemporaryDirectory(prefix="onereturn-demo-sen2-") as tmp:
        path = demo_sen2(Path(tmp))
        upload = ways_in.RecordFiles(
            agency_code=RECORDS_AGENCY,
            collection_year=RECORDS_YEAR,
            files=[(path.name, path)],
            submitted_by="demo",
        )
        received = ways_in.take(engine, settings, upload)
        assert isinstance(received, Received)
    name = f"{RECORDS_AGENCY}/SEN2 {RECORDS_YEAR} (synthetic, illustrative)"
    return [DemoUpload(RECORDS_AGENCY, name, received.submission.status, received.submission.message)]


def demo_census_children(folder: Path) -> list[Any]:
    """The children the council's census holds by name, as a real council's would: its SEN2 file's children with a
    plan in force at the file's census (E) at the school of their main placement then, those whose plan is not in
    force (none issued, or ceased) on SEN support (K) at one of the council's schools, and its SSDA903's looked-after
    children not in it (N); by UPN, birth and sex, those whose made-up UPN has DfE's check letter. A child with a plan
    placed by no URN (educated at home, at a college, in another council's school, not in education) is in no school
    census of the council's. ``RECORDS_CENSUS_DISAGREES`` children of each kind disagree on purpose, so the checks
    across returns show a query of each: placed at another school than SEN2's, and a ceased plan the census still
    records."""
    import csv
    from datetime import datetime

    import polars as pl

    from collectors.census.schema import upn_valid
    from collectors.census.synthetic import Child
    from collectors.sen2.measures import in_force
    from collectors.sen2.receiving import check

    sen2 = check(demo_sen2(folder).read_bytes(), RECORDS_YEAR, max_bytes=1 << 30).records
    placed = dict(in_force(sen2).select("child", pl.col("p_urn").cast(pl.String)).iter_rows())
    schools = {urn: f"830{3000 + n:04d}" for n, urn in enumerate(sorted({u for u in placed.values() if u}))}
    moved, kept_plan = 0, 0
    children: dict[str, Child] = {}
    for child, born, sex, upn in sen2.persons.select("child", "born", "sex", "upn").drop_nulls().iter_rows():
        urn = placed.get(child)
        if child in placed and urn is None:
            continue
        if urn is not None and moved < RECORDS_CENSUS_DISAGREES:
            # Moved school since SEN2's census: the census's school is another of the council's.
            moved += 1
            urn = min(u for u in schools if u != urn)
        if urn is not None:
            children[upn] = Child(upn, born, sex, "E", schools[urn], urn)
            continue
        # No plan in force: on SEN support, or (a few) a ceased plan the school has not yet taken off its census.
        provision = "E" if kept_plan < RECORDS_CENSUS_DISAGREES else "K"
        kept_plan += provision == "E"
        children[upn] = Child(upn, born, sex, provision, f"830{2000 + child % 20:04d}", None)
    sexes = {"1": "M", "2": "F", "M": "M", "F": "F"}
    header = next(p for p in dict(demo_records(folder / "records"))["SSDA903 tables"] if p.name == "header.csv")
    with header.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f)):
            if row["UPN"] and row["SEX"] in sexes and row["UPN"] not in children:
                born = datetime.strptime(row["DOB"], "%d/%m/%Y").date()
                school = f"830{2000 + n % 20:04d}"
                children[row["UPN"]] = Child(row["UPN"], born, sexes[row["SEX"]], "N", school, None)
    # A school's system takes a UPN only with DfE's check letter: a made-up id without one is in no school's census.
    valid = pl.Series(list(children)).to_frame("upn").select(upn_valid(pl.col("upn"))).to_series()
    return [child for child, ok in zip(children.values(), valid, strict=True) if ok]


def load_census_demo(engine: Engine, settings: Settings) -> list[DemoUpload]:
    """Send the synthetic council's school censuses (``RECORDS_CENSUS_TERMS``) as a council's upload of them is taken:
    read, checked and kept minimised to the pupils its lists need; and, where no register of establishments is held,
    the made-up register of its schools and its SEN2 file's placements (:func:`demo_register`)."""
    from collectors import ways_in
    from collectors.census.synthetic import write_census
    from collectors.records.receiving import Received

    done: list[DemoUpload] = []
    with tempfile.TemporaryDirectory(prefix="onereturn-demo-census-") as tmp:
        children = demo_census_children(Path(tmp) / "records")
        sent = []
        for year, term in RECORDS_CENSUS_TERMS:
            folder = Path(tmp) / f"{year}-{term}"
            folder.mkdir()
            # Every pupil with a plan is one of the council's SEN2 children: the made-up pupils have none.
            files = write_census(
                folder,
                children,
                year=year,
                term=term,
                others=RECORDS_CENSUS_PUPILS,
                seed=RECORDS_SEED,
                lea="830",
                planned=0.0,
            )
            sent.append(files)
            upload = ways_in.RecordFiles(
                agency_code=RECORDS_AGENCY, collection_year=RECORDS_YEAR, files=files, submitted_by="demo"
            )
            received = ways_in.take(engine, settings, upload)
            assert isinstance(received, Received)
            sub = received.submission
            name = f"{RECORDS_AGENCY}/school census {year} {term} (synthetic, illustrative)"
            done.append(DemoUpload(RECORDS_AGENCY, name, sub.status, sub.message))
        load_demo_register(engine, settings, Path(tmp) / "records", sent[-1])
    return done


#: The day the demo's made-up register says GIAS published it (before the lists' inspection dates).
DEMO_REGISTER_DAY = "20250110"


def demo_register(folder: Path, census: list[tuple[str, Path]]) -> bytes:
    """The made-up register of establishments of the demo's county (ILLUSTRATIVE), in GIAS's layout as the product's
    made-up registers are written (``cli/synthetic/gias.py``: GIAS's 140 columns in its order, from the extract's
    column list in the GIAS reference's SOURCE.md): a community school (type 1) for each school of its census and
    each URN its SEN2 file places a child at, each phase by the ages of the children there at 31 August 2024
    (all under 11: Primary; 11 to 15: Secondary; 16 or over: 16 plus; else All-through). Its URNs are made up, as
    the demo's are: GIAS's own register (not stored) holds none of them."""
    from datetime import date

    import polars as pl

    from cli.synthetic.gias import establishment, gias_csv
    from collectors.census.blades import read_census
    from collectors.sen2.receiving import check

    sen2 = check(demo_sen2(folder).read_bytes(), RECORDS_YEAR, max_bytes=1 << 30).records
    placed = sen2.placements.drop_nulls("urn").join(sen2.requests.select("request", "child"), on="request")
    born = placed.join(sen2.persons.select("child", "born"), on="child").select(pl.col("urn").cast(pl.String), "born")
    pupils = read_census(census).records.pupils.select("urn", "born")
    age = (pl.lit(date(2024, 8, 31)) - pl.col("born")).dt.total_days() // 365
    ages = pl.concat([born, pupils]).drop_nulls().group_by("urn").agg(young=age.min(), old=age.max()).sort("urn")
    rows = []
    for urn, young, old in ages.iter_rows():
        phase = (
            "Primary"
            if old < 11
            else "Secondary"
            if young >= 11 and old < 16
            else "16 plus"
            if young >= 16
            else "All-through"
        )
        rows.append(
            establishment(
                int(urn), 1, **{"LA (code)": "830", "LA (name)": "Derbyshire", "PhaseOfEducation (name)": phase}
            )
        )
    return gias_csv(rows)


def load_demo_register(engine: Engine, settings: Settings, folder: Path, census: list[tuple[str, Path]]) -> bool:
    """Load the demo's made-up register (:func:`demo_register`) where no register is held, so the lists' phases fill;
    a register already held (GIAS's own, loaded by an operator) is never replaced. Whether it was loaded."""
    from mappings.establishments.service import load_register, register_held

    if register_held(engine) is not None:
        return False
    load_register(engine, settings, demo_register(folder, census), f"edubasealldata{DEMO_REGISTER_DAY}.csv", by="demo")
    return True


def load_ssd_demo(engine: Engine, settings: Settings) -> list[DemoUpload]:
    """Upload the synthetic council's SSD extract (``RECORDS_SSD_CHILDREN``) as a council's upload of it is taken: the
    CIN census and SSDA903 made from it through DfE's rules, its Annex A rows and DfE's payloads kept."""
    from cli.synthetic.ssd import synthetic_ssd
    from collectors import ways_in
    from collectors.records.receiving import Received

    done = _ssd_loaded(engine)
    if done:
        # Loaded before: the extract is recognised as the upload already made, and nothing is sent again.
        return done

    def run(received: Received) -> None:
        # DfE's rules at once, in this process: the demo's first start reports each file's outcome.
        sub = received.submission
        if not received.duplicate:
            assert sub.id is not None
            sub = ways_in.take_up(engine, settings, sub.id)
        done.append(DemoUpload(RECORDS_AGENCY, _ssd_label(sub.filename), sub.status, sub.message))

    with tempfile.TemporaryDirectory(prefix="onereturn-demo-ssd-") as tmp:
        extract = synthetic_ssd(
            RECORDS_SEED,
            RECORDS_SSD_CHILDREN["cin"],
            RECORDS_YEAR,
            Path(tmp) / "ssd",
            looked_after=RECORDS_SSD_CHILDREN["903"],
            la=RECORDS_LA,
        )
        ways_in.take(
            engine,
            settings,
            ways_in.RecordFiles(
                agency_code=RECORDS_AGENCY,
                collection_year=RECORDS_YEAR,
                files=[(extract.name, extract)],
                submitted_by="demo",
                start=run,
            ),
        )
    return done


def _ssd_loaded(engine: Engine) -> list[DemoUpload]:
    """The submissions made from the synthetic council's SSD extract when the demo loaded it before; else none."""
    from collectors.records.kept import CIN_FILE, SSDA903_FILE
    from collectors.ssd import payload_store

    with Session(engine) as session:
        if payload_store.latest(session, RECORDS_AGENCY) is None:
            return []
        made = session.exec(
            select(Submission)
            .where(Submission.agency_code == RECORDS_AGENCY, col(Submission.filename).in_((CIN_FILE, SSDA903_FILE)))
            .order_by(col(Submission.id))
        ).all()
    return [DemoUpload(RECORDS_AGENCY, _ssd_label(s.filename), s.status, s.message) for s in made]


def _ssd_label(name: str) -> str:
    return f"{RECORDS_AGENCY}/{name} from its SSD extract {RECORDS_YEAR} (synthetic, illustrative)"


def has_uploads(engine: Engine) -> bool:
    """Say whether any upload has been made."""
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(Submission)).scalar_one()) > 0


def year_end_period(year: Period, period_type: str) -> Period | None:
    """Return a return's period that ends a financial year (the year, its last quarter or month)."""
    if period_type in ("snapshot_date", "financial_year"):
        return year
    periods = owed_periods(period_type, year)  # type: ignore[arg-type]
    if periods:
        return periods[-1]
    if period_type == "academic_year":
        return parse_period(f"AY{year.start.year - 1}-{year.start.year % 100:02d}")
    if period_type == "calendar_year":
        return parse_period(f"CY{year.start.year}")
    return None


def build_all(
    engine: Engine, years: tuple[str, ...], out: Path, progress: Callable[[str], None] | None = None
) -> list[tuple[str, str, str, int]]:
    """Build every return for the period ending each year, in every format, into ``out``."""
    written: list[tuple[str, str, str, int]] = []
    # Returns of one period share the geography, owners and stored figures a builder reads.
    builders: dict[str, Builder] = {}
    # Committing a return must not expire what the builders share (each indicator would be read
    # again, one query each, for the next return): they are read once per run, like the geography.
    with Session(engine, expire_on_commit=False) as session:
        returns = list(session.execute(select(Return).order_by(Return.id)).scalars())
        for year_text in years:
            year = parse_period(year_text)
            for ret in returns:
                period = year_end_period(year, ret.period_type)
                if period is None or not in_force(ret, period):
                    continue
                if period.code not in builders:
                    # Owners, agency names and indicators are the same for every period: read them once.
                    first = next(iter(builders.values()), None)
                    builders[period.code] = Builder(session, period.code, ret.period_type, sharing=first)
                builder = builders[period.code]
                for snap in exports.snapshots(session, ret.id, period.code, list(FORMATS), builder=builder):
                    spec = FORMATS[snap.format]  # type: ignore[index]
                    target = out / ret.id / f"{period.code}.{spec.extension}"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(snap.data)
                    written.append((ret.id, period.code, snap.format, len(snap.data)))
                    if progress:
                        progress(f"{ret.id} {period.code} {snap.format}")
                session.commit()
    return written


def demo_at_start(engine: Engine, settings: Settings) -> None:
    """At ``serve``: load the demo into an empty store when this host runs it; when it does not, say whether the
    store still accepts the demo's keys (another host's demo is never removed by this one's setting)."""
    from cli.shared import err

    if settings.load_demo:
        if not has_uploads(engine):
            uploads = load_demo(engine, settings)
            err.print(f"Loaded {len(uploads)} demo uploads (ONERETURN_LOAD_DEMO=false to start empty).")
        return
    with Session(engine) as session:
        live = demo_keys_live(session)
    if live:
        err.print(
            f"The store still accepts {live} demo key(s), published in the README, though this host runs without "
            "the demo: another host may use them. Remove them with `onereturn agencies remove-demo`."
        )
