"""ONS's postcode directory (ONSPD), read as ONS publishes it, and each placement's host council from it.

The directory is one CSV with a heading row of ONS's field names (the February 2023 release's: ``pcd``, ``pcd2``,
``pcds``, ``dointr``, ``doterm``, ``oscty``, ``ced``, ``oslaua``, ... ``msoa21``). Four are read: ``pcds`` (the
postcode with one space), ``oslaua`` (its local authority district), ``oscty`` (its county) and ``doterm`` (the year
and month it was terminated, blank while live). ``onereturn regions postcodes FILE`` reads a release into the store,
replacing the one read before, in one transaction: a file refused leaves the store as it was.

The host council of a placement is the upper-tier council its postcode is in: the district itself where it is a
unitary authority, a metropolitan district or a London borough, and a county district's county, through the
project's geography (``org_parent``); a district the geography does not hold is taken to its ONS county where ONS
gives one (an ``E10`` code), else left as ONS gives it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, delete, insert
from sqlmodel import Session, col, select

from collectors.regions.models import OnsPostcode
from mappings.agencies import UPPER_TIER
from mappings.models import OrgParent, OrgUnit
from onereturn.errors import InvalidInput

#: The directory's fields read, by ONS's names.
FIELDS = ("pcds", "oslaua", "oscty", "doterm")
#: Rows written a statement at a time.
BATCH = 20_000
#: A county's GSS code (ONS's county entity code).
COUNTY = "E10"


def normal(postcode: str | None) -> str | None:
    """A postcode as ONS's ``pcds`` writes it: upper case, one space before the inward code; None for a blank one."""
    cut = "".join((postcode or "").split()).upper()
    return f"{cut[:-3]} {cut[-3:]}" if len(cut) >= 5 else None


def read_directory(path: Path) -> pl.DataFrame:
    """The directory's postcodes with the four fields read; refused, naming what is missing, when its heading lacks
    one of them (not ONS's directory, or a release with other names)."""
    try:
        heading = pl.read_csv(path, n_rows=0, infer_schema=False).columns
    except (pl.exceptions.PolarsError, UnicodeDecodeError, OSError) as exc:
        raise InvalidInput(f"{path.name} cannot be read as a CSV file ({type(exc).__name__})") from None
    missing = [f for f in FIELDS if f not in heading]
    if missing:
        raise InvalidInput(
            f"{path.name} is not ONS's postcode directory as ONS publishes it: its heading lacks "
            f"{', '.join(missing)} (ONS's field names, as the February 2023 release has them)"
        )
    frame = pl.scan_csv(path, infer_schema=False).select(FIELDS).collect()
    blank = frame.filter(pl.col("pcds").is_null() | (pl.col("pcds").str.strip_chars() == ""))
    if blank.height:
        raise InvalidInput(f"{path.name}: {blank.height:,} row(s) have no postcode (pcds)")
    return frame.with_columns(pl.col(f).fill_null("").str.strip_chars() for f in FIELDS)


def store_directory(engine: Engine, path: Path) -> int:
    """Read a release of the directory into the store in place of the one before (one transaction); its rows."""
    frame = read_directory(path).unique("pcds", keep="first", maintain_order=True)
    now = datetime.now(UTC)
    with Session(engine) as session:
        session.execute(delete(OnsPostcode))
        # A slice at a time: the whole directory (about 2.7 million postcodes) is never held as Python rows.
        for part in frame.iter_slices(BATCH):
            rows = part.with_columns(pl.lit(path.name[:200]).alias("release")).to_dicts()
            session.execute(insert(OnsPostcode), [{**row, "read_at": now} for row in rows])
        session.commit()
    return frame.height


def held(session: Session) -> str | None:
    """The release of the directory the store holds, or None when none was read."""
    return session.exec(select(OnsPostcode.release).limit(1)).first()


def hosts(session: Session, postcodes: list[str | None]) -> dict[str, str]:
    """Each postcode (as given) the directory holds, to the upper-tier council it is in."""
    wanted = {given: p for given in postcodes if given and (p := normal(given)) is not None}
    if not wanted:
        return {}
    found: dict[str, tuple[str, str]] = {}
    names = sorted(set(wanted.values()))
    for start in range(0, len(names), 1000):
        for pcds, la, cty in session.exec(
            select(OnsPostcode.pcds, OnsPostcode.oslaua, OnsPostcode.oscty).where(
                col(OnsPostcode.pcds).in_(names[start : start + 1000])
            )
        ).all():
            found[pcds] = (la, cty)
    tiers = upper_tiers(session, {la for la, _ in found.values()})
    out = {}
    for given, pcds in wanted.items():
        if pcds in found:
            la, cty = found[pcds]
            out[given] = tiers.get(la) or (cty if cty.startswith(COUNTY) else la)
    return out


def upper_tiers(session: Session, districts: set[str]) -> dict[str, str]:
    """Each district the geography holds, to its upper-tier council: itself, or its county."""
    if not districts:
        return {}
    types = dict(session.exec(select(OrgUnit.code, OrgUnit.type).where(col(OrgUnit.code).in_(districts))).all())
    out = {code: code for code, kind in types.items() if kind in UPPER_TIER}
    counties = session.exec(
        select(OrgParent.child_code, OrgParent.parent_code)
        .join(OrgUnit, col(OrgUnit.code) == col(OrgParent.parent_code))
        .where(col(OrgParent.child_code).in_(districts), col(OrgUnit.type) == "county")
    ).all()
    for child, county in counties:
        out.setdefault(child, county)
    return out
