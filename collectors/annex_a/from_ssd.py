"""Annex A from what the SSD extract alone holds: Lists 1 and 2, and the columns of Lists 3 to 10 no DfE return holds
(allocated team and worker, visits and seen alone, IRO contact, permanence plan, health and dental dates, return
interviews, personal adviser and pathway plan, family), read at the inspection date from the dated rows kept at
the extract's intake (``collectors.ssd.annex_a``), encrypted as the record files are and purged with them.

The columns come out as the council's own columns file gives them ("Child Unique ID", then "List N: heading",
Ofsted's codes written), so :func:`collectors.annex_a.columns.fill_council` fills them alike. Rules are
Ofsted's ([G], August 2019) and the issue's readings; a choice Ofsted's text leaves is marked ``Choice:`` and listed
in ``docs/annex_a.md``. Nothing here logs or puts a value in a message.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine
from sqlmodel import Session

from collectors import door
from collectors.annex_a.columns import CHILD
from collectors.annex_a.common import Window, months_before
from collectors.annex_a.extract_rows import pack, unpack_kept
from collectors.door import newest_kept
from collectors.records.kept import content_hash, keep, kept_files
from collectors.records.privacy import checked_keys
from collectors.records.ssda903_care import age_on
from indicators.store.models import RECORDS_KIND
from mappings.annex_a import AnnexList, Layout
from onereturn.settings import Settings
from onereturn.workspace import private_folder

#: The mode of the submission that keeps an extract's Annex A rows.
SSD_MODE = "annex_a_ssd"
#: The way in that takes the Annex A rows an SSD extract gave, as the door reads it and its row in the table of ways
#: in holds it: one purpose, stored as its mode; kept whole as the extract is received and accepted at once, no
#: worker to hold it; no figure derived from them.
WAY = door.Way(
    "annex_a_ssd",
    RECORDS_KIND,
    {SSD_MODE: SSD_MODE},
    lease=door.Lease.DOOR,
    # These very rows of the same year repeat only the newest kept (Annex A reads the newest): an older match is kept
    # again.
    repeat=door.Repeat(("accepted",), newest_only=True),
)
KEPT_NAME = "annex_a_from_ssd.zip"


@dataclass(frozen=True)
class FromExtract:
    """The Annex A rows kept from one extract: which upload, when, and the reduced tables."""

    submission_id: int
    filename: str
    received_at: datetime
    tables: dict[str, pl.DataFrame]

    def describe(self) -> str:
        """The extract as the front sheet names it (no child in it)."""
        return (
            f"SSD extract {self.filename} (upload {self.submission_id}, received {self.received_at:%d/%m/%Y}): "
            f"Lists 1 and 2 and the columns no DfE return holds"
        )

    def made_files(self) -> dict[str, int] | None:
        """The uploads of the files made from this extract by the name they are kept under; None for rows kept before
        the extract's made files were recorded with them."""
        made = self.tables.get("made_files")
        if made is None:
            return None
        return dict(zip(made["file"].to_list(), made["submission_id"].to_list(), strict=True))

    def worker_rule(self) -> str | None:
        """Which involvements the allocated team and worker were read from, as the front sheet says it (the council's
        role ids, no child's value); None when the extract kept no involvement."""
        if "involvements" not in self.tables:
            return None
        roles = self.tables.get("worker_roles")
        if roles is None or roles.is_empty():
            return (
                "Allocated team and worker (SSD): every involvement counts, whatever its role: the council set no rule "
                "for which roles are the allocated worker (its agency's ssd.worker_roles) when the extract was read."
            )
        return (
            "Allocated team and worker (SSD): only involvements of the council's role(s) "
            f"{', '.join(roles['role'].to_list())} count, its rule for which roles are the allocated worker "
            "(its agency's ssd.worker_roles) when the extract was read."
        )


def keep_from_extract(
    engine: Engine,
    settings: Settings,
    agency_code: str,
    year: str,
    filename: str,
    tables: dict[str, pl.DataFrame],
    submitted_by: str,
) -> int:
    """Keep the extract's Annex A rows encrypted, as a record-level upload of the agency; return the upload's id (the
    earlier upload's when it kept these very rows: an extract sent again, or an unchanged SSD database read again,
    keeps nothing more)."""
    data = pack(tables)
    rows = sum(t.height for name, t in tables.items() if name not in ("worker_roles", "made_files"))
    with private_folder(settings, "annexa-ssd-") as work:
        spooled = Path(work) / KEPT_NAME
        spooled.write_bytes(data)
        named = [(KEPT_NAME, spooled)]
        digest = content_hash(named)
        file = door.File(
            Path(filename).name[:255] or "ssd.zip",
            "ssd",
            len(data),
            digest,
            keep=lambda: keep(engine, settings, checked_keys(engine, settings), digest, named),
        )
        said = f"Annex A rows from the SSD extract: {', '.join(sorted(tables))}; no figure is derived from them"
        # Finished at the door: accepted as it is recorded.
        counts = {"stage": "stored", "rows_read": rows, "rows_accepted": rows, "message": said}
        entry = door.Entry(WAY.name, WAY.mode_of(SSD_MODE), agency_code, file, submitted_by, year, "accepted", counts)
        return door.through(engine, settings, entry, store=lambda made, _: door.id_of(made), repeated=door.id_of)


def newest_from_extract(session: Session, settings: Settings, agency_code: str) -> FromExtract | None:
    """The agency's newest Annex A rows kept from an SSD extract (not purged), read back; None when it sent none."""
    found = newest_kept(session, agency_code, SSD_MODE)
    if found is None or found.id is None:
        return None
    with private_folder(settings, "annexa-ssd-") as work:
        ((_, path),) = kept_files(session.get_bind(), settings, found, Path(work))
        tables = unpack_kept(path.read_bytes())
    return FromExtract(found.id, found.filename, found.received_at, tables)


def _latest(frame: pl.DataFrame, on: str, *, by: str = "child") -> pl.DataFrame:
    """Each child's row latest in ``on`` (ties: the last row), among rows dated."""
    return frame.drop_nulls(on).sort(on, maintain_order=True).unique(by, keep="last")


def _yes_no(column: str) -> pl.Expr:
    """Ofsted's a) Yes / b) No / c) Unknown from the SSD's flags (Y, Yes, N, No; anything else unknown), as D2I's
    Annex A builder writes its return interviews."""
    flag = pl.col(column).str.strip_chars().str.to_uppercase()
    return (
        pl.when(flag.is_in(["Y", "YES"]))
        .then(pl.lit("a) Yes"))
        .when(flag.is_in(["N", "NO"]))
        .then(pl.lit("b) No"))
        .otherwise(pl.lit("c) Unknown"))
    )


def allocated(tables: dict[str, pl.DataFrame], on: date) -> pl.DataFrame | None:
    """Each child's allocated team and worker at the date: the involvement open then, else the last one ended.

    The issue's reading: the involvement open at the date (or the last one of a closed case), joined by person,
    since a looked-after child may have no CIN referral. Choice: open at the date is begun on or before it and not
    ended before it; of several open, the latest begun (then the later row). The rows are those the council's rule
    kept at intake: only involvements of its own role ids where it set one (the SSD's role ids are local: tables.md,
    ssd_involvements; users_asks.md, #93), else every involvement whatever the worker's role."""
    rows = tables.get("involvements")
    if rows is None:
        return None
    begun = rows.filter(pl.col("start").is_not_null() & (pl.col("start") <= on))
    open_now = begun.filter(pl.col("end").is_null() | (pl.col("end") >= on))
    current = _latest(open_now, "start")
    ended = _latest(begun.filter(~pl.col("child").is_in(current["child"].implode())), "end")
    return pl.concat([current, ended]).select("child", "team", "worker")


def _visits(tables: dict[str, pl.DataFrame], on: date, kinds: tuple[str, ...], *, seen: bool) -> pl.DataFrame:
    rows = tables.get(
        "visits",
        pl.DataFrame(
            schema={"child": pl.String, "kind": pl.String, "date": pl.Date, "seen": pl.String, "alone": pl.String}
        ),
    )
    rows = rows.filter(pl.col("kind").is_in(kinds) & (pl.col("date") <= on))
    if seen:
        rows = rows.filter(pl.col("seen").fill_null("Y").str.to_uppercase().str.slice(0, 1) != "N")
    return _latest(rows, "date")


def _care_columns(tables: dict[str, pl.DataFrame], window: Window) -> dict[str, pl.DataFrame]:
    """List 8's and 9's columns from the care rows, each a frame of child and value; a table absent gives none."""
    on, out = window.on, {}
    if "visits" in tables:
        out["List 8: Date of Last Social Work Visit"] = _visits(tables, on, ("cla",), seen=False).select(
            "child", "date"
        )
    if "iro" in tables:
        out["List 8: Date of Last IRO Visit / Contact to the Child"] = _latest(
            tables["iro"].filter(pl.col("date") <= on), "date"
        )
    if "care_plans" in tables:
        # [G] "the current primary permanence plan": the plan in force at the date; none agreed is blank.
        plans = tables["care_plans"].filter((pl.col("start") <= on) & (pl.col("end").is_null() | (pl.col("end") >= on)))
        out["List 8: What is the permanence plan for this child?"] = _latest(plans, "start").select("child", "plan")
    if "health" in tables:
        health = tables["health"].filter(pl.col("date") <= on)
        for kind, heading in (("health", "Date of Last Health Assessment"), ("dental", "Date of Last Dental Check")):
            out[f"List 8: {heading}"] = _latest(health.filter(pl.col("kind") == kind), "date").select("child", "date")
    if "missing" in tables:
        # Choice: "after their last missing episode" [G] is the child's latest missing episode begun in the twelve
        # months to the date, the look-back of the list's own count of missing episodes (as D2I's builder reads it).
        last = _latest(tables["missing"].filter(window.within("start", window.twelve)), "start")
        out["List 8: Was the child offered a Return Interview after their last missing episode (Y/N)?"] = last.select(
            "child", _yes_no("offered")
        )
        out["List 8: Did the child accept a Return Interview after their last missing episode (Y/N)?"] = last.select(
            "child", _yes_no("accepted")
        )
    if "care_leavers" in tables:
        # Choice: a care leaver's row as at the date is the one latest in its contact (then pathway plan) date on or
        # before it; a date after the inspection is left blank, as every record newer than it is.
        rows = tables["care_leavers"].with_columns(window.as_at("contact"), window.as_at("pathway"))
        latest = rows.sort("contact", "pathway", nulls_last=False, maintain_order=True).unique("child", keep="last")
        out["List 9: Allocated Personal Advisor"] = latest.select("child", "adviser")
        out["List 9: Latest Pathway Plan Review Date"] = latest.select("child", "pathway")
        out["List 9: Latest Date of Contact"] = latest.select("child", "contact")
        out["_leaver_team"] = latest.select("child", "team", "worker")
    if "family" in tables:
        out["List 10: Family identifier"] = tables["family"].unique("child", keep="last").select("child", "family")
    return out


def columns_at(tables: dict[str, pl.DataFrame], layout: Layout, on: date) -> pl.DataFrame | None:
    """The columns of Lists 3 to 10 the extract fills, at the date, as the council's columns file gives them: one
    row per child, "Child Unique ID" then "List N: heading", Ofsted's codes; None when it fills none."""
    window = Window(on)
    found = _care_columns(tables, window)
    leavers = found.pop("_leaver_team", None)
    team = allocated(tables, on)
    if team is not None or leavers is not None:
        for item in layout.lists:
            if item.number not in range(3, 11) or "Allocated Team" not in [c.heading for c in item.columns]:
                continue
            chosen = (
                team
                if team is not None
                else pl.DataFrame(schema={"child": pl.String, "team": pl.String, "worker": pl.String})
            )
            if item.number == 9 and leavers is not None:
                # The care leaver's own allocated team and worker (ssd_care_leavers, as D2I's List 9 reads them)
                # first, the involvement's where the row gives none.
                chosen = _prefer(leavers, chosen)
            found[f"{item.sheet}: Allocated Team"] = chosen.select("child", "team")
            found[f"{item.sheet}: Allocated Worker"] = chosen.select("child", "worker")
    found.update(_cin_columns(tables, window))
    if not found:
        return None
    kids = pl.concat([f.select("child") for f in found.values()]).unique()
    frame = kids
    for heading, values in found.items():
        frame = frame.join(values.rename({values.columns[1]: heading}), on="child", how="left")
    return frame.rename({"child": CHILD})


def _prefer(first: pl.DataFrame, second: pl.DataFrame) -> pl.DataFrame:
    joined = first.join(second, on="child", how="full", coalesce=True, suffix="_b")
    return joined.select(
        "child", pl.coalesce("team", "team_b").alias("team"), pl.coalesce("worker", "worker_b").alias("worker")
    )


def _cin_columns(tables: dict[str, pl.DataFrame], window: Window) -> dict[str, pl.DataFrame]:
    """Lists 4, 6 and 7's columns: the child seen in the assessment, last seen, last statutory visit and seen alone."""
    on, out = window.on, {}
    if "assessments" in tables:
        # Choice: the column is per child here; the child's latest assessment begun by the date gives it.
        latest = _latest(tables["assessments"].filter(pl.col("start") <= on), "start")
        out["List 4: Child Seen During Continuous Assessment"] = latest.select("child", _yes_no("seen"))
    if "visits" in tables:
        # Choice: "Date Child Was Last Seen" [G] is the latest CIN, CP or CLA visit by the date at which the child
        # was seen (a visit recorded "not seen" is not counted), the three visit tables D2I's List 6 reads.
        out["List 6: Date Child Was Last Seen"] = _visits(tables, on, ("cin", "cp", "cla"), seen=True).select(
            "child", "date"
        )
        cp = _visits(tables, on, ("cp",), seen=False)
        out["List 7: Date of the Last Statutory Visit"] = cp.select("child", "date")
        out["List 7: Was the Child Seen Alone?"] = cp.select("child", _yes_no("alone"))
    return out


def _with_layout_fields(item: AnnexList, fields: list[str]) -> AnnexList:
    """The list with each column's field named, so the records' ``present`` writes it in Ofsted's codes."""
    columns = tuple(dataclasses.replace(c, field=f) for c, f in zip(item.columns, fields, strict=True))
    return dataclasses.replace(item, columns=columns)


def contact_rows(
    tables: dict[str, pl.DataFrame], layout: Layout, on: date
) -> dict[int, tuple[AnnexList, pl.DataFrame]]:
    """Lists 1 and 2 at the date, each with the list its fields are named in (for ``present``): the child's details
    from ``ssd_person``, DfE's codes still to be written as Ofsted's."""
    window = Window(on)
    people = tables.get(
        "people",
        pl.DataFrame(
            schema={"child": pl.String, "sex": pl.String, "ethnicity": pl.String, "dob": pl.Date, "expected": pl.Date}
        ),
    )
    dob = pl.coalesce("dob", "expected")
    details = people.unique("child").select(
        "child",
        pl.col("sex"),
        pl.col("ethnicity").str.to_uppercase(),
        dob.alias("born"),
        pl.when(dob.is_null())
        .then(None)
        .when(pl.col("dob").is_null() | (pl.col("dob") > on))
        .then(pl.lit(-1, dtype=pl.Int32))
        .otherwise(age_on(dob, on))
        .alias("age"),
    )
    found: dict[int, tuple[AnnexList, pl.DataFrame]] = {}
    if "contacts" in tables:
        # [G] List 1: "All contacts received in the six months before the date of inspection".
        rows = tables["contacts"].filter(window.within("date", window.six)).sort("date", "child", maintain_order=True)
        fields = ["child", "sex", "ethnicity", "born", "age", "date", "source"]
        found[1] = (_with_layout_fields(layout.list(1), fields), rows.join(details, on="child", how="left"))
    if "early_help" in tables:
        # [G] List 2: assessments in the six months, and interventions current at the inspection. Choice: the SSD
        # holds early help episodes, not assessments (D2I's remark on its own List 2; users_asks.md): an episode
        # begun by the date and open at it or ended in the six months is listed, its start and end as the
        # assessment's; an end after the date is blank (still open then).
        rows = (
            tables["early_help"]
            .filter((pl.col("start") <= on) & (pl.col("end").is_null() | (pl.col("end") >= months_before(on, 6))))
            .with_columns(window.as_at("end"))
            .sort("start", "child", maintain_order=True)
        )
        fields = ["child", "sex", "ethnicity", "born", "age", "start", "end", "organisation"]
        found[2] = (_with_layout_fields(layout.list(2), fields), rows.join(details, on="child", how="left"))
    return found
