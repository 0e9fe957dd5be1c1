"""Where each placement of a SEN2 file is counted in DfE's tables: the column ("place") of DfE's caseload table it
falls in, from the register of establishments held (GIAS) and SEN2's own items.

A placement is recorded by URN, then UKPRN, then a SEN setting code (items 4.7a-c, 5.7a-c; [DG]: "From 2023 a
placement is recorded by URN, then UKPRN, then a SEN setting code", ``../gias/SOURCE.md`` of the reference). Its place:

- **a URN**: the register's type of the establishment (or its successor, where it had closed by the census:
  ``mappings/establishments/register.py``), by ``mappings/establishments/gias/dfe_placement_columns.csv``; a
  mainstream LA maintained school, academy or free school is split by SEN2's SEN unit flag (4.7e/5.7g), then its
  resourced provision flag (4.7f/5.7h): *reading*, a placement flagged both is counted in the SEN unit. *Reading:*
  a URN the register does not hold is counted as DfE counts a placement it cannot place, in ``placement_unknown``
  ("Placement not recorded"), and named in the table's notes;
- **a UKPRN**: the type of the establishment the register gives that UKPRN; *reading:* one not on the register
  names a provider on the UK Register of Learning Providers only, [DG]'s ``ukrlp_provider`` ("UKRLP providers");
- **a SEN setting code**: EHE, OLA, OPA, OTH, NEET, NIEC, EYP as their columns, NIEO by age (below);
- **nothing**: ``placement_unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors.sen2.records import Sen2Records
from mappings.establishments.models import RegisterLoad
from mappings.establishments.placement import SPLIT_BY_UNIT, type_columns
from mappings.establishments.register import by_ukprn, held, look_up_frame

#: The setting codes SEN2 decides a place by itself (item 5.7c; 4.7c has the first five and EYP).
SETTINGS = {
    "EHE": "elective_home_education",
    "OLA": "other_arrangements_la",
    "OPA": "other_arrangements_parents",
    "OTH": "other_placement_settings",
    "NEET": "neet",
    "NIEC": "neet_ntci",
    "EYP": "nm_early_years",
}
#: Unknown URNs named in a table's notes at most; the count says how many more.
NAMED = 20


@dataclass(frozen=True)
class Register:
    """The register's answers for one SEN2 file: each URN's and UKPRN's column before the SEN unit split, and each
    URN's phase (as GIAS names it), and what register it was."""

    by_urn: pl.DataFrame
    by_ukprn: pl.DataFrame
    load: RegisterLoad

    def described(self) -> str:
        """The register as a note names it."""
        when = self.load.published.isoformat() if self.load.published else "on an unknown date"
        return f"the register of establishments published by GIAS {when} ({self.load.file_name})"


def _urns(values: Iterable[str | None]) -> set[int]:
    return {int(v) for v in values if v is not None and v.strip().isdigit()}


def register_for(engine: Engine, urns: Iterable[str | None], ukprns: Iterable[str | None], on: date) -> Register | None:
    """The register's answers for these URNs and UKPRNs as at ``on``; None when no register is loaded."""
    columns = type_columns()
    with Session(engine) as session:
        load = held(session)
        if load is None:
            return None
        found = look_up_frame(session, _urns(urns), on)
        providers = by_ukprn(session, {u.strip() for u in ukprns if u is not None and u.strip()})
    places = {code: c.column for code, c in columns.items()}
    by_urn = found.select(
        urn=pl.col("asked"),
        r_place=pl.col("type_code").replace_strict(places, return_dtype=pl.String),
        r_phase=pl.when(pl.col("phase") == "").then(None).otherwise(pl.col("phase")),
    )
    by_ukprn_frame = pl.DataFrame(
        {"ukprn": list(providers), "k_place": [columns[e.type_code].column for e in providers.values()]},
        schema={"ukprn": pl.String, "k_place": pl.String},
    )
    return Register(by_urn, by_ukprn_frame, load)


def with_place(units: pl.DataFrame, prefix: str, register: Register | None) -> pl.DataFrame:
    """``units`` with ``place``, the DfE column its placement (the columns ``{prefix}urn`` ...) is counted in, and
    ``unknown_urn``, a URN the register does not hold. Without a register a URN or UKPRN placement has no place."""
    urn, ukprn, setting = pl.col(f"{prefix}urn"), pl.col(f"{prefix}ukprn"), pl.col(f"{prefix}setting")
    frame = units.with_columns(_urn=urn.str.strip_chars().cast(pl.Int64, strict=False), _ukprn=ukprn.str.strip_chars())
    if register is not None:
        frame = frame.join(register.by_urn.select("urn", "r_place"), left_on="_urn", right_on="urn", how="left")
        frame = frame.join(register.by_ukprn, left_on="_ukprn", right_on="ukprn", how="left")
    else:
        frame = frame.with_columns(r_place=pl.lit(None, pl.String), k_place=pl.lit(None, pl.String))
    # Reading: "compulsory school age" ([DG] neet_other_csa) is read as aged 5 to 15.
    nieo = pl.when(pl.col("age").is_between(5, 15)).then(pl.lit("neet_other_csa")).otherwise(pl.lit("neet_other"))
    from_setting = pl.when(setting == "NIEO").then(nieo).otherwise(setting.replace_strict(SETTINGS, default=None))
    known = register is not None
    base = (
        pl.when(urn.is_not_null())
        .then(pl.col("r_place").fill_null(pl.lit("placement_unknown" if known else None, pl.String)))
        .when(ukprn.is_not_null())
        .then(pl.col("k_place").fill_null(pl.lit("ukrlp_provider" if known else None, pl.String)))
        .when(setting.is_not_null())
        .then(from_setting)
        .otherwise(pl.lit("placement_unknown"))
    )
    unit, provision = pl.col(f"{prefix}senunit") == "1", pl.col(f"{prefix}rp") == "1"
    split = base.is_in(list(SPLIT_BY_UNIT))
    place = (
        pl.when(split & unit)
        .then(base + "_senunit")
        .when(split & provision)
        .then(base + "_resourced_provision")
        .otherwise(base)
    )
    unknown = pl.when(urn.is_not_null() & pl.col("r_place").is_null() & pl.lit(known)).then(pl.col("_urn"))
    return frame.with_columns(place=place, unknown_urn=unknown).drop("_urn", "_ukprn", "r_place", "k_place")


def unknown_note(frames: Iterable[pl.DataFrame], register: Register) -> str | None:
    """The note naming the URNs of placements the register does not hold, or None when there are none."""
    urns: set[int] = set()
    for frame in frames:
        if "unknown_urn" in frame.columns:
            urns |= set(frame["unknown_urn"].drop_nulls().to_list())
    if not urns:
        return None
    shown = ", ".join(str(u) for u in sorted(urns)[:NAMED])
    more = f" and {len(urns) - NAMED:,} more" if len(urns) > NAMED else ""
    return (
        f"URN {shown}{more} not on {register.described()} (nor a successor of one on it): counted in "
        "placement_unknown ('Placement not recorded'), as DfE counts a placement it cannot place (a reading)"
    )


def placements_register(engine: Engine, records: Sen2Records) -> Register | None:
    """The register's answers for every URN and UKPRN the file places a child by, as at its census."""
    frames = (
        records.placements.rename({"urn": "u", "ukprn": "k"}),
        records.requests.rename({"plan_urn": "u", "plan_ukprn": "k"}),
    )
    urns = {v for f in frames for v in f["u"].drop_nulls().to_list()}
    ukprns = {v for f in frames for v in f["k"].drop_nulls().to_list()}
    return register_for(engine, urns, ukprns, records.census)
