"""The release gate: a regulator sees a cell only once every agency whose figures make it has signed them off.

Every build a regulator can reach (its files, SDMX data, lineage, ``updated_after`` and ``as_of``)
passes through :func:`gate`, in the one place builds are made (``exports.service``). A cell made
from a figure that is not among those its agency vouched for, in a state that releases (signed
off; accepted where the return needs acceptance), carries no value: it shows the symbol
``...`` ("not yet signed off by <body>") and, in SDMX, CONF_STATUS ``N``. An officer can ask for
a preview with every figure; that build is never stored, so no regulator is ever served it.

An agency whose figures are official statistics it publishes itself (``published`` in its agency file,
such as ONS's population estimates behind every rate) signs nothing off: its publication is its
release, and its figures never hold a cell back.

Which figures an agency vouches for is what the ungated builder reads of its uploads for the
return and period: the stored figures behind the return's cells (``vouched``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy import func
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from exports.build import Builder, agency_names, return_with_fields
from exports.built import UNSIGNED, BuiltReturn
from exports.symbols import NOT_SIGNED_OFF
from indicators.models import CatalogueVersion, Observation
from indicators.periods import utc
from mappings import signoffs
from mappings.models import Agency, AgencyOrg, Return, SignOff
from mappings.validity import check_buildable
from onereturn.errors import InvalidInput, NotFound

#: Statuses whose cells show no figure of an agency, so there is nothing to hold back.
_NOTHING_TO_HOLD = ("missing", "different_method", "not_derivable")


def to_sign(session: Session, lineage: pl.DataFrame) -> pl.DataFrame:
    """The lineage rows whose figures an agency must sign off: an agency's, and not official statistics it published."""
    published = list(signoffs.published_sources(session))
    return lineage.filter(pl.col("agency_code").is_not_null() & ~pl.col("agency_code").is_in(published))


def released(session: Session, ret: Return, period: str) -> list[SignOff]:
    """The sign-offs a build of the return for the period releases."""
    return signoffs.releasing(session, ret.id, period)


def gate(session: Session, built: BuiltReturn, ret: Return) -> tuple[BuiltReturn, list[dict[str, Any]]]:
    """Hold back every cell made from a figure no releasing sign-off vouched for; say which sign-offs it releases."""
    rows = released(session, ret, built.period)
    included = [{"id": s.id, "agency": s.agency_code, "state": s.state, "digest": s.digest} for s in rows]
    behind = to_sign(session, built.lineage.select("cell_id", "observation_id", "agency_code"))
    if behind.is_empty():
        return built, included
    vouched = pl.DataFrame(
        [(s.agency_code, int(i)) for s in rows for i in s.figure_ids],
        schema={"agency_code": pl.String, "observation_id": pl.Int64},
        orient="row",
    ).with_columns(pl.lit(True).alias("_ok"))
    unvouched = behind.join(vouched, on=["agency_code", "observation_id"], how="left").filter(pl.col("_ok").is_null())
    held = unvouched.group_by("cell_id").agg(pl.col("agency_code").unique().sort().alias("_owed"))
    if held.is_empty():
        return built, included
    names = agency_names(session)
    signed = {
        s.agency_code: frozenset(s.figure_ids)
        for s in signoffs.list_signoffs(session, return_id=ret.id, period=built.period)
        if s.signed_at is not None
    }
    since = _since_signoff(session, unvouched, signed)
    owed = {
        cell: "; ".join(
            f"not yet signed off by {names.get(a, a)}" + (f": {since[(cell, a)]}" if (cell, a) in since else "")
            for a in agencies
        )
        for cell, agencies in held.iter_rows()
    }
    cells = built.cells.with_columns(
        pl.col("cell_id").replace_strict(owed, default=None, return_dtype=pl.String).alias("_owed")
    )
    hold = pl.col("_owed").is_not_null() & ~pl.col("status").is_in(_NOTHING_TO_HOLD)
    cells = cells.with_columns(
        *(
            pl.when(hold).then(None).otherwise(pl.col(c)).alias(c)
            for c in ("value", "numerator", "denominator", "flag")
        ),
        pl.when(hold).then(pl.lit(NOT_SIGNED_OFF)).otherwise(pl.col("display")).alias("display"),
        pl.when(hold).then(pl.lit(UNSIGNED)).otherwise(pl.col("status")).alias("status"),
        pl.when(hold).then(pl.col("_owed")).otherwise(pl.col("reason")).alias("reason"),
    ).drop("_owed")
    completeness = {str(k): int(v) for k, v in cells.group_by("status").len().iter_rows()}
    return replace(built, cells=cells, completeness=completeness), included


def _since_signoff(
    session: Session, unvouched: pl.DataFrame, signed: dict[str, frozenset[int]]
) -> dict[tuple[str, str], str]:
    """For each cell held back whose agency has signed off before, which of its figures came after that sign-off:
    added or revised, by indicator. A figure the sign-off vouched for,
    held back because the sign-off no longer releases, did not come after it and is not named."""
    mine = unvouched.filter(pl.col("agency_code").is_in(list(signed)))
    if mine.is_empty():
        return {}
    before = pl.DataFrame(
        [(agency, i) for agency, ids in signed.items() for i in ids],
        schema={"agency_code": pl.String, "observation_id": pl.Int64},
        orient="row",
    )
    mine = mine.join(before, on=["agency_code", "observation_id"], how="anti")
    if mine.is_empty():
        return {}
    ids = mine["observation_id"].unique().to_list()
    kinds: dict[int, tuple[str, bool]] = {}
    for at in range(0, len(ids), 10_000):
        query = select(Observation.id, Observation.indicator_id, Observation.version).where(
            col(Observation.id).in_(ids[at : at + 10_000])
        )
        kinds.update({int(i): (str(ind), int(v) > 1) for i, ind, v in session.execute(query).all()})
    found: dict[tuple[str, str], dict[str, set[str]]] = {}
    for cell, figure_id, agency in mine.select("cell_id", "observation_id", "agency_code").iter_rows():
        indicator, revised = kinds.get(int(figure_id), ("", False))
        found.setdefault((str(cell), str(agency)), {}).setdefault("revised" if revised else "added", set()).add(
            indicator
        )
    return {
        key: " and ".join(f"{', '.join(sorted(parts[how]))} {how}" for how in ("revised", "added") if how in parts)
        + " after its last sign-off"
        for key, parts in found.items()
    }


def vouched(session: Session, agency_code: str, return_id: str, period: str) -> list[signoffs.Figure]:
    """The stored figures of an agency behind a return's cells for a period: what its approver vouches for."""
    ret, fields = return_with_fields(session, return_id)
    built = Builder(session, period, ret.period_type).build(ret, fields, datetime.now(UTC))
    ids = built.lineage.filter(pl.col("agency_code") == agency_code)["observation_id"].unique().sort().to_list()
    return _figures(session, ids)


def agencies_behind(session: Session, return_id: str, period: str) -> list[str]:
    """The agencies whose stored figures make cells of a return for a period: those who have something to sign off.

    Read through ``standings``, so a page or list asking again builds the return only once the store has changed.
    """
    return_with_fields(session, return_id)  # an unknown return is refused here, not passed over
    found = standings(session, {return_id: [period]}).get((return_id, period))
    return found.behind if found is not None else []


def _figures(session: Session, ids: list[int]) -> list[signoffs.Figure]:
    found: list[signoffs.Figure] = []
    for at in range(0, len(ids), 10_000):
        part = ids[at : at + 10_000]
        for obs in session.execute(select(Observation).where(col(Observation.id).in_(part))).scalars():
            assert obs.id is not None
            found.append(
                signoffs.Figure(
                    obs.id,
                    obs.indicator_id,
                    obs.org_code,
                    obs.period,
                    obs.breakdown,
                    signoffs.value_text(obs.value, obs.symbol, obs.status),
                )
            )
    return sorted(found, key=signoffs.figure_line)


def sign_off(
    session: Session,
    *,
    agency_code: str,
    return_id: str,
    period: str,
    declaration: str,
    actor: signoffs.Actor,
    read: str | None = None,
) -> SignOff:
    """Sign off what an agency's figures put into a return for a period, refused if they are no longer the figures
    whose digest the approver read (``read``; see ``mappings.signoffs.sign_off``)."""
    canonical = signoffs.canonical_period(session, return_id, period)
    figures = vouched(session, agency_code, return_id, canonical)
    return signoffs.sign_off(
        session,
        agency_code=agency_code,
        return_id=return_id,
        period=canonical,
        figures=figures,
        declaration=declaration,
        actor=actor,
        read=read,
    )


@dataclass(frozen=True)
class Review:
    """What an approver sees before signing off: the cells owed, what is missing, open queries, what changed."""

    agency_code: str
    return_id: str
    period: str
    state: str
    declaration: str
    needs_acceptance: bool
    cells: list[dict[str, Any]]
    missing: list[dict[str, Any]]
    blockers: list[dict[str, Any]]
    added: list[signoffs.Figure]
    removed: list[signoffs.Figure]
    digest: str
    signoff: SignOff | None


def review(session: Session, agency_code: str, return_id: str, period: str) -> Review:
    """Gather what signing off would release for an agency, return and period, and what stands in the way."""
    ret, fields = return_with_fields(session, return_id)
    canonical = signoffs.canonical_period(session, return_id, period)
    built = Builder(session, canonical, ret.period_type).build(ret, fields, datetime.now(UTC))
    mine = built.lineage.filter(pl.col("agency_code") == agency_code)
    own_cells = set(mine["cell_id"].to_list())
    name = agency_names(session).get(agency_code, agency_code)
    shown = ("cell_id", "field_code", "org_code", "breakdown", "display", "status", "reason")
    labels = {f.code: f.label for f in fields}

    def cell(c: dict[str, Any]) -> dict[str, Any]:
        return {**{k: c[k] for k in shown}, "field_label": labels.get(c["field_code"], "")}

    cells = [cell(c) for c in built.cells.iter_rows(named=True) if c["cell_id"] in own_cells]
    missing = [
        cell(c) for c in built.cells.iter_rows(named=True) if c["status"] == "missing" and name in (c["reason"] or "")
    ]
    figures = _figures(session, mine["observation_id"].unique().sort().to_list())
    row = signoffs.find(session, agency_code, return_id, canonical)
    signed = set(row.figure_ids) if row is not None and row.signed_at is not None else set()
    now_ids = {f.id for f in figures}
    added = [f for f in figures if f.id not in signed] if signed else []
    removed = _figures(session, sorted(signed - now_ids)) if signed else []
    return Review(
        agency_code=agency_code,
        return_id=return_id,
        period=canonical,
        state=row.state if row is not None else signoffs.OPEN,
        declaration=ret.declaration,
        needs_acceptance=ret.needs_acceptance,
        cells=cells,
        missing=missing,
        blockers=signoffs.blockers(session, agency_code, return_id, canonical),
        added=added,
        removed=removed,
        digest=signoffs.digest_of(figures),
        signoff=row,
    )


def sign_off_all(session: Session, actor: signoffs.Actor, *, return_ids: list[str] | None = None) -> list[SignOff]:
    """Sign off, as ``actor``, every agency's figures in every return and period they reach that is not yet released.

    An operator's step (and the demo's): no errors or queries are checked, and the declaration is the return's own.
    """
    done: list[SignOff] = []
    rets = session.execute(select(Return).order_by(col(Return.id))).scalars().all()
    for ret in rets:
        if return_ids is not None and ret.id not in return_ids:
            continue
        ret_fields = return_with_fields(session, ret.id)[1]
        for period in signoffs.periods_with_figures(session, ret, uploaded=True):
            try:
                check_buildable(ret, period, today=datetime.now(UTC).date())
            except (InvalidInput, NotFound):
                continue  # outside the return's validity: nothing is built for it, so nothing to release
            built = Builder(session, period.code, ret.period_type).build(ret, ret_fields, datetime.now(UTC))
            for agency in sorted(set(to_sign(session, built.lineage)["agency_code"].to_list())):
                if signoffs.state_of(session, agency, ret.id, period.code) not in signoffs.SIGNABLE:
                    continue
                ids = built.lineage.filter(pl.col("agency_code") == agency)["observation_id"].unique().sort().to_list()
                done.append(
                    signoffs.sign_off(
                        session,
                        agency_code=agency,
                        return_id=ret.id,
                        period=period.code,
                        figures=_figures(session, ids),
                        declaration=ret.declaration,
                        actor=actor,
                        check=False,
                    )
                )
    return done


@dataclass(frozen=True)
class Standing:
    """Where a return stands for a period across the agencies whose figures make it: who has signed off, who not."""

    return_id: str
    period: str
    behind: list[str]
    waiting: list[str]
    unaccepted: list[str]
    last_signed_at: datetime | None
    #: Agencies whose sign-off (or acceptance) stands but vouches for only some of their figures behind the
    #: return, with how many came since: held back until their approver signs off again.
    since_signoff: dict[str, int]

    @property
    def released(self) -> bool:
        """Whether every agency whose figures make the return has signed them off (and, where asked, been accepted)."""
        return bool(self.behind) and not self.waiting and not self.unaccepted


#: What builds found behind each (return, period), by the state of the store they were made from: a page
#: asks again on every view, and only a new figure, catalogue or org link can change the answer.
_BEHIND: dict[tuple[str, str, tuple[Any, ...]], dict[str, frozenset[int]]] = {}
_BEHIND_KEPT = 512
_behind_lock = threading.Lock()


def _store_key(session: Session) -> tuple[Any, ...]:
    """What the figures behind a return depend on, read in one statement: the figures, catalogue, agencies and links."""
    key = session.execute(
        columns(
            func.max(col(Observation.id)),
            func.count(col(Observation.id)),
            # SQLite gives a rolled-back or deleted last row's id to the next one: when it was recorded tells them apart.
            func.max(col(Observation.recorded_at)),
            columns(func.max(col(CatalogueVersion.id))).scalar_subquery(),
            columns(func.count()).select_from(AgencyOrg).scalar_subquery(),
            columns(func.count()).select_from(Agency).scalar_subquery(),
            # An agency changed (say, it now publishes its own figures) changes whose figures need signing off.
            columns(func.max(col(Agency.updated_at))).scalar_subquery(),
        )
    ).one()
    # The database too: two stores (a test's copies, or a service pointed at another) can reach the same counts.
    return (str(session.get_bind().engine.url), *tuple(key), datetime.now(UTC).date())


def store_key(session: Session) -> tuple[Any, ...]:
    """What any answer built from the store's figures, catalogue and agencies depends on: a key for caches of them."""
    return _store_key(session)


def _figures_behind(
    session: Session, ret: Return, period: str, builders: dict[str, Builder]
) -> dict[str, frozenset[int]]:
    fields = return_with_fields(session, ret.id)[1]
    builder = builders.get(period)
    builder = Builder(session, period, ret.period_type, sharing=builder)
    builders.setdefault(period, builder)
    lineage = to_sign(session, builder.build(ret, fields, datetime.now(UTC)).lineage)
    return {
        str(agency): frozenset(int(i) for i in ids)
        for agency, ids in lineage.group_by("agency_code").agg(pl.col("observation_id").unique()).iter_rows()
    }


def standings(session: Session, wanted: dict[str, list[str]]) -> dict[tuple[str, str], Standing]:
    """Where each of the returns stands for each of its periods (``wanted``: return id to periods), read at once.

    The sign-offs of every return are read in one statement; the agencies behind a (return, period) are
    what a build of it finds (as ``agencies_behind``), kept until the store's figures, catalogue or links
    change, so a page that shows many periods builds each once and then reads only the sign-offs.
    """
    if not wanted:
        return {}
    rets = {r.id: r for r in session.execute(select(Return).where(col(Return.id).in_(list(wanted)))).scalars()}
    rows = {(s.agency_code, s.return_id, s.period): s for s in signoffs.list_signoffs(session, return_ids=list(rets))}
    key = _store_key(session)
    builders: dict[str, Builder] = {}
    out: dict[tuple[str, str], Standing] = {}
    for return_id, periods in wanted.items():
        ret = rets.get(return_id)
        if ret is None:
            continue
        for period in periods:
            with _behind_lock:
                behind = _BEHIND.get((return_id, period, key))
            if behind is None:
                behind = _figures_behind(session, ret, period, builders)
                with _behind_lock:
                    if len(_BEHIND) >= _BEHIND_KEPT:
                        _BEHIND.clear()
                    _BEHIND[(return_id, period, key)] = behind
            out[(return_id, period)] = _standing(ret, period, behind, rows)
    return out


def _standing(
    ret: Return, period: str, behind: dict[str, frozenset[int]], rows: dict[tuple[str, str, str], SignOff]
) -> Standing:
    releasing = signoffs.releasing_states(ret)
    waiting: list[str] = []
    unaccepted: list[str] = []
    signed: list[datetime] = []
    since: dict[str, int] = {}
    for agency, ids in sorted(behind.items()):
        row = rows.get((agency, ret.id, period))
        # As the gate decides: every figure behind the return vouched for, in a state that releases.
        vouched = row is not None and ids <= set(row.figure_ids)
        if row is not None and not vouched and (row.state in releasing or row.state == signoffs.SIGNED_OFF):
            since[agency] = len(ids - set(row.figure_ids))
        if row is not None and vouched and row.state in releasing:
            if row.signed_at is not None:
                signed.append(utc(row.signed_at))
        elif row is not None and vouched and row.state == signoffs.SIGNED_OFF:
            unaccepted.append(agency)
        else:
            waiting.append(agency)
    return Standing(
        return_id=ret.id,
        period=period,
        behind=sorted(behind),
        waiting=waiting,
        unaccepted=unaccepted,
        last_signed_at=max(signed) if signed else None,
        since_signoff=since,
    )


def signed_again(session: Session, changed: BuiltReturn) -> list[dict[str, Any]]:
    """Each changed cell of a build with when it was last signed off, or, held back, whose sign-off it waits for.

    ``changed`` is a build cut to the cells changed since an instant (``exports.changes.changed_since``); a cell
    is as recent as the newest sign-off among the agencies whose figures make it.
    """
    rows = {
        s.agency_code: s for s in signoffs.list_signoffs(session, return_id=changed.return_id, period=changed.period)
    }
    names = agency_names(session)
    behind: dict[str, set[str]] = {}
    for cell_id, agency in changed.lineage.select("cell_id", "agency_code").drop_nulls().iter_rows():
        behind.setdefault(str(cell_id), set()).add(str(agency))
    out: list[dict[str, Any]] = []
    for cell in changed.cell_records:
        signers: dict[str, datetime] = {}
        if cell["status"] != UNSIGNED:
            for agency in sorted(behind.get(cell["cell_id"], ())):
                row = rows.get(agency)
                if row is not None and row.signed_at is not None:
                    signers[names.get(agency, agency)] = utc(row.signed_at)
        out.append(
            {
                "cell_id": cell["cell_id"],
                "field_code": cell["field_code"],
                "org_code": cell["org_code"],
                "org_name": cell["org_name"],
                "breakdown": cell["breakdown"],
                "display": cell["display"],
                "status": cell["status"],
                "reason": cell["reason"],
                "signed_off_at": max(signers.values()) if signers else None,
                "signed_off_by": sorted(signers),
            }
        )
    return out
