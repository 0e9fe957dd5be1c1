"""The SSDA903's OC2 table made from an SSD extract: one row for each child of the return looked after continuously for
12 months at 31 March, from the SSD's looked-after health, immunisation, SDQ, substance misuse and conviction tables.

Readings where the SSD's definitions leave a choice (each with its source):

- The children are those DfE's rules call continuously looked after: an episode of the year and none that starts care
  (RNE S) after 1 April, ends care (REC other than X1) before 31 March or is under legal status V3 or V4 (the
  definition lac_validator's ``add_col_to_episodes_CONTINUOUSLY_LOOKED_AFTER`` takes from DfE's 2021-22 validation
  rules), read from the Episodes rows made; a care leaver of OC3 is not among them (DfE's rule 215).
- A check counts when it was in the year (1 April to 31 March) and its status (CLAH005A: Planned, Refused, Cancelled,
  Completed) is Completed or not given. HEALTH_ASSESSMENT is a check of type HEALTH or "Health Assessment",
  TEETH_CHECK one of type DENTAL or "Dental Check" (the SSD spec's CLAH003A codes; D2I's Annex A tool reads the same
  two, AnnexA_sqlserver_v1.2.0 lines 1687 and 1704), HEALTH_CHECK one of type "Health Surveillance Check" (CLAH003A's
  third type; its guidance says most case systems do not record it), written only for a child under 5 on 31 March
  (DfE's rules 545 and 546). None in the year is 0: the item says the check was had. A council whose case system
  names its check types otherwise maps them in its ``code_map.csv`` (column ``clah_health_check_type``).
- IMMUNISATIONS is ``clai_immunisations_status`` Y 1, N 0 (CLAI004A, "Immunisations up to date? Y/N"); no row is 0.
- SDQ_SCORE is the score of the child's latest ``ssd_sdq_scores`` row completed in the year, or else its reason
  (CSDQ004A, DfE's SDQ1-SDQ5), written only for a child aged 4 or over on 31 March and under 17 on 1 April (DfE's
  rules 186, 188 and 189).
- CONVICTED is 1 when an ``ssd_cla_convictions`` row is dated in the year (CLAC003A), else 0, written only for a
  child 10 or over on 31 March (DfE's rules 542 and 543).
- SUBSTANCE_MISUSE is 1 when an ``ssd_cla_substance_misuse`` row is dated in the year (CLAS003A), else 0;
  INTERVENTION_RECEIVED is then that row's ``clas_intervention_received`` Y 1, N 0 (CLAS005A), blank when there is no
  problem (DfE's rule 193).
- INTERVENTION_OFFERED is not held by the SSD (no column of v1.4.5 and no ``ssda903_ref`` names it). DfE's rules ask
  for it only when a problem was identified and no intervention received (rules 158, 159 and 193), and take only 0 or
  1 (rule 181): it is written 0 there, the code that claims no offer the extract does not record, and the upload's
  notes count those children so the council can put its own answer in. DfE's guide's own words for an unknown answer
  are not in the reference this reading was made from.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from collectors.records.ssda903_tables import CollectionYear
from collectors.ssd.cin import coded, table
from collectors.ssd.intake import Extract
from collectors.ssd.spec import FLAGS

TABLES: dict[str, tuple[str, ...]] = {
    "ssd_cla_health": (
        "clah_person_id",
        "clah_health_check_type",
        "clah_health_check_date",
        "clah_health_check_status",
    ),
    "ssd_cla_immunisations": ("clai_person_id", "clai_immunisations_status", "clai_immunisations_status_date"),
    "ssd_sdq_scores": ("csdq_person_id", "csdq_sdq_completed_date", "csdq_sdq_score", "csdq_sdq_reason"),
    "ssd_cla_substance_misuse": ("clas_person_id", "clas_substance_misuse_date", "clas_intervention_received"),
    "ssd_cla_convictions": ("clac_person_id", "clac_cla_conviction_date"),
}
#: The check types each OC2 item counts, upper case (CLAH003A's codes and names).
CHECKS = {
    "HEALTH_ASSESSMENT": frozenset({"HEALTH", "HEALTH ASSESSMENT"}),
    "TEETH_CHECK": frozenset({"DENTAL", "DENTAL CHECK"}),
    "HEALTH_CHECK": frozenset({"HEALTH SURVEILLANCE CHECK"}),
}
#: Statuses of a check that did not take place (CLAH005A's code set: Planned, Refused, Cancelled, Completed).
NOT_HAD = frozenset({"PLANNED", "REFUSED", "CANCELLED"})
#: The Episodes columns read: CHILD, DECOM, RNE, LS, DEC, REC (their places in a row made).
CHILD, DECOM, RNE, LS, DEC, REC = 0, 1, 2, 3, 7, 8


def _day(text: str) -> date | None:
    return date(int(text[6:10]), int(text[3:5]), int(text[0:2])) if text else None


def continuously_looked_after(episodes: list[list[str]], year: CollectionYear) -> set[str]:
    """The children of the Episodes rows DfE's rules call looked after continuously for 12 months at 31 March."""
    seen: set[str] = set()
    broken: set[str] = set()
    for row in episodes:
        start, end = _day(row[DECOM]), _day(row[DEC])
        if start is None:
            continue
        during = start <= year.end and (end is None or end >= year.start)
        seen |= {row[CHILD]} if during else set()
        if (
            (row[RNE] == "S" and year.start < start <= year.end)
            or (row[REC] != "X1" and end is not None and year.start <= end < year.end)
            or (row[LS] in ("V3", "V4") and during)
        ):
            broken.add(row[CHILD])
    return seen - broken


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def make_oc2(
    extract: Extract,
    episodes: list[list[str]],
    dob: dict[str, str],
    leavers: set[str],
    year: CollectionYear,
    notes: list[str],
) -> list[list[str]]:
    """OC2 rows for the children of ``dob`` looked after continuously for 12 months (not care leavers of OC3), in the
    order of ``dob`` (the Header's)."""
    looked_after = continuously_looked_after(episodes, year) - leavers
    cohort = [child for child in dob if child in looked_after]
    t = {name: _in_year(table(extract, name, columns), columns, year) for name, columns in TABLES.items()}
    rows, offered = [], 0
    for child in cohort:
        born = _day(dob[child])
        if born is None:
            continue
        at_end, at_start = _age(born, year.end), _age(born, year.start)
        health = t["ssd_cla_health"].filter(pl.col("clah_person_id") == child)
        had = {item: _had(extract, health, kinds) for item, kinds in CHECKS.items()}
        sdq = _latest(t["ssd_sdq_scores"], "csdq_person_id", child)
        # A score or a reason only from the year of the 4th birthday to that of the 17th (DfE's rules 186, 188, 189).
        aged = at_end >= 4 and at_start < 17
        score = (sdq.get("csdq_sdq_score") or "").strip() if aged else ""
        reason = (coded(extract, "csdq_sdq_reason", sdq.get("csdq_sdq_reason")) or "") if aged and not score else ""
        misuse = _latest(t["ssd_cla_substance_misuse"], "clas_person_id", child)
        received = _flag(misuse.get("clas_intervention_received")) if misuse else ""
        immunised = _flag(_latest(t["ssd_cla_immunisations"], "clai_person_id", child).get("clai_immunisations_status"))
        convicted = "1" if _latest(t["ssd_cla_convictions"], "clac_person_id", child) else "0"
        offer = "0" if misuse and received == "0" else ""
        offered += offer == "0"
        rows.append(
            [
                child,
                dob[child],
                score,
                reason,
                convicted if at_end >= 10 else "",
                had["HEALTH_CHECK"] if at_end < 5 else "",
                immunised or "0",
                had["TEETH_CHECK"],
                had["HEALTH_ASSESSMENT"],
                "1" if misuse else "0",
                received,
                offer,
            ]
        )
    if offered:
        notes.append(
            f"OC2: INTERVENTION_OFFERED is not held in the SSD; written 0 (no offer recorded) for {offered} "
            "child(ren) with a substance misuse problem and no intervention received: put the council's own "
            "answer in before sending"
        )
    return rows


def _in_year(frame: pl.DataFrame, columns: tuple[str, ...], year: CollectionYear) -> pl.DataFrame:
    """The rows dated in the year, by the table's date column (the immunisation status is as held, whenever set)."""
    dated = [c for c in columns if c.endswith("_date") and not c.startswith("clai_")]
    if not dated:
        return frame
    day = pl.col(dated[0])
    return frame.filter(day.is_not_null() & (day >= year.start) & (day <= year.end)).sort(dated[0])


def _latest(frame: pl.DataFrame, person: str, child: str) -> dict[str, str | None]:
    """The child's last row (the latest dated, where the table is dated), or nothing."""
    found = frame.filter(pl.col(person) == child)
    return {} if found.is_empty() else found.row(-1, named=True)


def _had(extract: Extract, health: pl.DataFrame, kinds: frozenset[str]) -> str:
    """1 when one of the child's checks of the year is of ``kinds`` and was had, else 0; a type the council's code map
    names is read as the code it maps it to (a local name for a health assessment, say)."""
    for check in health.iter_rows(named=True):
        kind = (coded(extract, "clah_health_check_type", check["clah_health_check_type"]) or "").strip().upper()
        status = (check["clah_health_check_status"] or "").strip().upper()
        if kind in kinds and status not in NOT_HAD:
            return "1"
    return "0"


def _flag(value: str | None) -> str:
    held = FLAGS.get((value or "").strip().upper())
    return "" if held is None else str(int(held))
