"""A council's record-level upload from bytes to stored figures: kept encrypted, checked by DfE's rules, derived.

:func:`receive` keeps the files (encrypted) and records the submission at once, so the API can answer 202;
:func:`process_records` takes it up under the upload lease in an upload worker and moves it through the
stages ``reading`` (our own read: which return, which tables, their columns, the year), ``dfe_rules``
(DfE's rules for the collection year, in their own environment), ``deriving`` (every catalogue figure the
records answer, by DfE's published method) and ``stored``; or ends it ``rejected`` (a clear report, nothing
stored) or ``failed`` (the file kept, run again by :func:`resume_records` or ``reprocess``). Children are
named in the store only by their pseudonym (``collectors.records.privacy``).

:func:`process_records` is the one entry that starts processing: the upload pool's process, the API's
background task (no pool), the scheduler's and the CLI's resume (:func:`resume_records`) and the CLI's rerun
(:func:`rerun`) all call it. The derived figures go to the checks as figures (``collectors.typed``) and to the
storing tail with the child rows as its hook (``spine.Alongside``).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine, delete, or_, update
from sqlmodel import Session, col, select

from collectors import head, lease
from collectors.checked import problem_frame
from collectors.context import build_context
from collectors.records.cin_figures import derive_cin
from collectors.records.contract import Findings, RecordsError, read_collection_year
from collectors.records.failed import failed_message
from collectors.records.inputs import check_at_door
from collectors.records.kept import content_hash, keep, kept_files
from collectors.records.models import RecordChild, RecordLineage, RecordProblem
from collectors.records.privacy import Keys, KeysRefused, SealedElsewhere, checked_keys
from collectors.records.reading import as_written, check_903_year, distances_for, identify, rules_beside_read
from collectors.records.ssda903_figures import Derivation, derive_ssda903
from collectors.spine import Alongside, CutOff, Stored, record_outcome, repeat_of, store_accepted
from collectors.typed import FIGURE_SCHEMA, validate_figures
from indicators.store.models import RECORDS_KIND as KIND
from indicators.store.models import Observation, Submission
from mappings.agencies import get_agency
from mappings.illustrative import Council, councils_of
from onereturn import audittrail, db
from onereturn.db import bulk_insert
from onereturn.errors import InvalidInput, NotFound, OneReturnError, PayloadTooLarge
from onereturn.keptfiles import KeptFileMissing
from onereturn.settings import Settings
from onereturn.workspace import private_folder

log = logging.getLogger(__name__)

#: The stages of a record-level upload, in order; the last three are final.
STAGES = ("received", "reading", "dfe_rules", "deriving", "stored", "rejected", "failed")
#: A worker takes an upload up at most this many times (a file that stops its worker every time is failed).
MAX_ATTEMPTS = 3
#: Figures the service's catalogue keeps as the ONS population aged 0-17, the base of the rates per 10,000.
POPULATION = "pop.resident_0_17"
#: The rule named on a figure derived from the records that a template also gives.
CONFLICT_RULE = "records_keyed_conflict"
_BATCH = 20_000
#: ``record_lineage``'s columns but the submission's, as the lineage of an upload's figures is built.
_LINEAGE_SCHEMA = pl.Schema(
    {
        "indicator_id": pl.String,
        "org_code": pl.String,
        "period": pl.String,
        "child": pl.String,
        "record_table": pl.String,
        "record_row": pl.Int64,
        "episode_start": pl.Date,
        "counted": pl.Boolean,
    }
)
#: What a record-level upload may be for (``head.PURPOSES``): DfE's return (figures derived and stored), or a fresh
#: extract for Ofsted's Annex A (checked by DfE's rules and kept; no figure).
PURPOSES = ("return", "annex_a")
#: The finished statuses of an earlier upload that sending the same files again may repeat. Not ``rejected``: the
#: council sends refused files again to have them read again (the rules, or the kept file, may have changed since).
REPEATABLE = ("accepted", "queried", "partially_accepted")


@dataclass
class Received:
    """A record-level upload recorded: its submission, and whether it repeats an earlier one."""

    submission: Submission
    duplicate: bool = False


@dataclass
class _Outcome:
    """What one run made of an upload: the problems for everyone, the findings by child, and what to store."""

    problems: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    children: set[str] = field(default_factory=set)
    #: The deployment's keys, once the files were opened with them.
    keys: Keys | None = None
    #: The pseudonym of each child id met in this run, made once per child (``Keys.pseudonyms``); never kept after it.
    named: dict[str, str] = field(default_factory=dict)


def _repeated(session: Session, agency_code: str, digest: str, year: str, mode: str) -> Submission | None:
    """The agency's earlier record-level upload of the same files, year and purpose that sending them again repeats
    (``spine.repeat_of``); the same files for another year are another return, and purged ones are kept no more."""
    where = (col(Submission.kind) == KIND, col(Submission.collection_year) == year, col(Submission.purged_at).is_(None))
    return repeat_of(session, agency_code=agency_code, digest=digest, mode=mode, statuses=REPEATABLE, where=where)


def receive(
    engine: Engine,
    settings: Settings,
    *,
    agency_code: str,
    collection_year: str,
    files: list[tuple[str, Path]],
    submitted_by: str = "",
    purpose: str = "return",
    audit: dict[str, Any] | None = None,
) -> Received:
    """Keep a record-level upload (encrypted) and record its submission, ready for an upload worker; no checks run yet.

    ``purpose`` "annex_a": a fresh extract for Ofsted's Annex A, checked by DfE's rules and kept, no figure stored.
    ``audit``: its audit event when given (as ``spine.audited`` takes it), committed with the submission."""
    if purpose not in PURPOSES:
        raise InvalidInput(f"purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
    mode = head.mode_of(KIND, purpose)
    if not files:
        raise InvalidInput("a record-level upload needs at least one file (form field 'files')")
    total = sum(path.stat().st_size for _, path in files)
    if total > settings.max_upload_bytes:
        raise PayloadTooLarge(f"the files are {total:,} bytes; the limit is {settings.max_upload_bytes:,}")
    year = read_collection_year(collection_year)
    with Session(engine) as session:
        get_agency(session, agency_code)
    for name, path in files:
        # Refused here, before anything is kept: a file no return is, and a ZIP from what it declares, rather than
        # once a worker has inflated it.
        check_at_door(path, Path(name).name, settings.max_upload_bytes)
    read = [(Path(name).name.replace("\x00", "\ufffd") or "upload", path) for name, path in files]
    digest = content_hash(read)
    keys = checked_keys(engine, settings)
    with Session(engine, expire_on_commit=False) as session:
        earlier = _repeated(session, agency_code, digest, year, mode)
        if earlier is not None:
            return Received(earlier, duplicate=True)
    name = keep(engine, settings, keys, digest, read)
    names = ", ".join(name for name, _ in read)
    with Session(engine, expire_on_commit=False) as session:
        submission = head.new_submission(
            kind=KIND,
            purpose=purpose,
            agency_code=agency_code,
            filename=names[:255],
            source_format="records",
            size_bytes=total,
            content_hash=digest,
            raw_path=name,
            submitted_by=submitted_by,
            # No worker holds it yet: an upload worker takes it up at once; if none does before this runs
            # out (the process stopped), resume_records does.
            lease_seconds=settings.upload_lease_seconds,
            held=False,
            stage="received",
            collection_year=year,
        )
        session.add(submission)
        session.flush()
        received = submission.id
        if audit is not None:
            # Its event in the same transaction: the receipt is stored with its event or not at all.
            audittrail.record(
                session,
                **{**audit, "object": str(audit.get("object", "")).replace("{id}", str(received))},
                outcome="ok",
                status=202,
                detail=f"received for {year}; DfE's rules run next",
            )
        if db.commit_verified(session, lambda again: again.get(Submission, received) is not None):
            with Session(engine, expire_on_commit=False) as again:
                found = again.get(Submission, received)
            assert found is not None
            return Received(found)
    return Received(submission)


def _claim(engine: Engine, settings: Settings, submission_id: int) -> Submission | None:
    """Take up an upload that no live worker holds; None when another worker has it or it is finished."""
    now = datetime.now(UTC)
    me = lease.worker_id()
    free = or_(
        col(Submission.lease_owner).in_(("", me)),
        col(Submission.lease_until).is_(None),
        col(Submission.lease_until) < now,
    )
    takeable = or_(col(Submission.status).in_(lease.UNFINISHED) & free, col(Submission.status) == "interrupted")
    with Session(engine, expire_on_commit=False) as session:
        taken = session.execute(
            update(Submission)
            .where(col(Submission.id) == submission_id, col(Submission.kind) == KIND, takeable)
            .values(
                status="received",
                lease_owner=me,
                lease_until=lease.expiry(settings.upload_lease_seconds),
                attempts=Submission.attempts + 1,
            )
        )
        session.commit()
        if not taken.rowcount:  # type: ignore[attr-defined]
            return None
        return session.get(Submission, submission_id)


def _stage(engine: Engine, submission_id: int, stage: str) -> None:
    """Record the stage reached, while this worker still holds the upload."""
    with Session(engine) as session:
        moved = session.execute(
            update(Submission)
            .where(
                col(Submission.id) == submission_id,
                col(Submission.lease_owner) == lease.worker_id(),
                col(Submission.status).in_(lease.UNFINISHED),
            )
            .values(stage=stage)
        )
        session.commit()
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise CutOff()


def process_records(engine: Engine, settings: Settings, submission_id: int) -> Submission:
    """Take up a received record-level upload under the lease and run it through its stages; return it as it ended.

    Raises :class:`KeysRefused` where this host's records keys are refused, the upload left as it was (resumable)
    for a host whose keys are the deployment's: the host is at fault, not the upload."""
    checked_keys(engine, settings)
    submission = _claim(engine, settings, submission_id)
    if submission is None:
        with Session(engine, expire_on_commit=False) as session:
            found = session.get(Submission, submission_id)
        if found is None or found.kind != KIND:
            raise NotFound(f"Record-level submission {submission_id} does not exist")
        return found
    if submission.attempts > MAX_ATTEMPTS:
        _end(
            engine,
            submission,
            _Outcome(),
            status="failed",
            stage="failed",
            message=f"processing stopped its worker {MAX_ATTEMPTS} times; the file is kept, see the service's log",
        )
        return submission
    with lease.held(engine, submission_id, settings.upload_lease_seconds):
        try:
            _run(engine, settings, submission)
        except CutOff:
            log.warning("record-level submission %s was taken over after this worker's lease ran out", submission_id)
        except (KeyboardInterrupt, SystemExit, GeneratorExit):
            raise  # the process is stopping: its lease runs out and the upload is resumed
        except KeysRefused:
            # Refused part-way (the store took other keys meanwhile): cut off, not failed, for a host that has them.
            lease.cut_off_by_stop(engine, ids=[submission_id])
            raise
        except BaseException as exc:
            # An error's text may quote a value of the records (a child id, a birth date, a postcode), so the
            # log and the message, which officers read, carry only where it happened and what kind it was.
            log.error(
                "record-level submission %s failed (%s) at:\n%s",
                submission_id,
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            _end(
                engine,
                submission,
                _Outcome(),
                status="failed",
                stage="failed",
                message=failed_message(exc, submission_id),
            )
    with Session(engine, expire_on_commit=False) as session:
        ended = session.get(Submission, submission_id)
    assert ended is not None
    return ended


def _run(engine: Engine, settings: Settings, submission: Submission) -> None:
    assert submission.id is not None
    keys = checked_keys(engine, settings)
    outcome = _Outcome(keys=keys)
    _stage(engine, submission.id, "reading")
    with private_folder(settings, "records-") as workdir:
        try:
            council = _local_authority(engine, submission.agency_code)
            kept = kept_files(engine, settings, submission, Path(workdir))
            found = identify(kept, Path(workdir), submission.collection_year, max_unpacked=settings.max_upload_bytes)
        except (KeptFileMissing, SealedElsewhere):
            raise  # not the council's files' fault: the upload ends failed, to be run again where they can be read
        except OneReturnError as exc:
            _reject(engine, submission, outcome, exc.message)
            return
        submission.source_format = found.library
        _stage(engine, submission.id, "dfe_rules")
        read_or_refusal = rules_beside_read(found, council.rules_as)
        if isinstance(read_or_refusal, str):
            _reject(engine, submission, outcome, read_or_refusal)
            return
        read, findings = read_or_refusal
    _note_findings(outcome, findings, keys, as_written(read.tables))
    # A rule that raised is named as not checked but does not hold the file back: one of DfE's 2024-25 rules
    # (231) raises on every CSV return, which would otherwise keep every council from storing its figures.
    blocking = sum(1 for f in findings.findings if f.severity == "error")
    if blocking:
        message = (
            f"DfE's rules ({findings.library} {findings.library_version}, {findings.rules_run} rules for "
            f"{submission.collection_year}) found {len(findings.findings):,} problem(s) for "
            f"{len({f.child for f in findings.findings if f.child}):,} child(ren)"
            + (
                f"; {len(findings.rules_raised)} rule(s) raised an error, so were not checked"
                if findings.rules_raised
                else ""
            )
            + ": nothing was stored; correct the records and upload them again"
        )
        _end(engine, submission, outcome, status="rejected", stage="rejected", message=message, rows_read=read.rows)
        return
    if head.purpose_of(submission) == "annex_a":
        # An extract feeds Annex A alone: it is kept (encrypted) and checked, and no figure of a return comes of it.
        message = (
            f"kept as an Annex A extract for {submission.collection_year}: DfE's rules found no error"
            + (f" ({len(findings.findings):,} queries)" if findings.findings else "")
            + "; it feeds Ofsted's Annex A and no DfE return, so no figure was derived or stored"
        )
        _end(engine, submission, outcome, status="accepted", stage="stored", message=message, rows_read=read.rows)
        return
    _stage(engine, submission.id, "deriving")
    if read.library == "903":
        read.tables["Episodes"] = distances_for(read.tables["Episodes"], findings.episode_distances)
    year_ending = int(read.ruleset[3:7]) + 1
    population = _population(engine, council.rules_as, year_ending)
    try:
        if read.library == "903":
            check_903_year(read.tables["Episodes"], year_ending, submission.collection_year)
            derived = derive_ssda903(read.tables, year_ending=year_ending, population_0_17=population)
        else:
            derived = derive_cin(read.tables, year_ending=year_ending, population_0_17=population)
    except OneReturnError as exc:
        _reject(engine, submission, outcome, exc.message)
        return
    _store(engine, submission, outcome, derived, council.org, keys, rows_read=read.rows)


def _local_authority(engine: Engine, agency_code: str) -> Council:
    """The council among the agency's org units: its figures are kept under its code, DfE's rules run for the real
    council it is or stands in for."""
    with Session(engine) as session:
        councils = councils_of(session, agency_code)
    if len(councils) != 1:
        raise RecordsError(
            f"record-level returns are a council's: agency {agency_code} answers for "
            f"{len(councils)} local authorities, not one"
        )
    return councils[0]


def _note_findings(outcome: _Outcome, findings: Findings, keys: Keys, spelled: dict[str, str]) -> None:
    """DfE's findings by pseudonym, and the rules that did not run to their end named as such."""
    for f in findings.findings:
        # DfE's library upper-cases every text cell before its rules match children; the report gives the id back
        # as the council wrote it (two ids differing only in case are one child to DfE, shown as first written).
        written = spelled.get(f.child.strip().upper(), f.child) if f.child else None
        child = keys.pseudonyms((written,), outcome.named)[written] if written else None
        if written:
            outcome.children.add(written)
        outcome.findings.append(
            {
                "rule": f"dfe:{f.rule}",
                "severity": f.severity,
                "message": f.message,
                "record_table": f.table,
                "child": child,
                "row": f.row,
                "fields": ", ".join(f.fields),
            }
        )
    for note in findings.rules_raised:
        outcome.problems.append(
            _problem(
                f"dfe:{note.rule}",
                "query",
                f"DfE's rule {note.rule} raised an error inside DfE's library, so it "
                f"was not checked (not a pass): {note.reason or 'no reason given'} — {note.message}",
            )
        )
    # One notice per reason, not one per rule: forty rules left out for a table not given would bury the errors.
    skipped: dict[str, list[str]] = {}
    for note in findings.rules_skipped:
        skipped.setdefault(note.reason, []).append(note.rule)
    for reason, rules in skipped.items():
        outcome.problems.append(
            _problem(
                "records_rules_not_checked",
                "information",
                f"{len(rules):,} of DfE's rules were not checked (not a pass) because {reason}: "
                f"rules {', '.join(rules)}",
            )
        )
    if findings.tables_missing:
        outcome.problems.append(
            _problem(
                "records_tables_missing",
                "information",
                f"tables not given: {', '.join(findings.tables_missing)}; DfE's rules on them were not checked",
            )
        )


def _problem(
    rule: str, severity: str, message: str, column: str | None = None, value: str | None = None
) -> dict[str, Any]:
    return {"row": None, "column": column, "value": value, "rule": rule, "severity": severity, "message": message}


def _reject(engine: Engine, submission: Submission, outcome: _Outcome, message: str) -> None:
    outcome.problems.append(_problem("records_unreadable", "error", message))
    _end(engine, submission, outcome, status="rejected", stage="rejected", message=message)


def _population(engine: Engine, org: str, year_ending: int) -> float | None:
    """The stored ONS population aged 0-17 of the council for the year, the base of the rates per 10,000."""
    period = f"FY{year_ending - 1}-{year_ending % 100:02d}"
    with Session(engine) as session:
        value = session.execute(
            select(Observation.value).where(
                Observation.indicator_id == POPULATION,
                Observation.org_code == org,
                Observation.period == period,
                Observation.breakdown == "",
                col(Observation.is_current),
            )
        ).scalar()
    return float(value) if value is not None else None


def _period_of(derived: Derivation, period_type: str | None) -> str | None:
    """The collection year as a period of the indicator's type: the financial year, or its 31 March snapshot."""
    if period_type == "financial_year":
        return derived.year.period
    if period_type == "snapshot_date":
        return derived.year.end.isoformat()
    return None


def _figures(derived: Derivation, org: str, periods: dict[str, str]) -> pl.DataFrame:
    """The derived figures, numbered from 1 in indicator order, for the checks every figure passes."""
    rows = [
        (f.indicator, org, periods[f.indicator], "", f.value, f.numerator, f.denominator, "final",
         "derived from the council's record-level return", n)
        for n, f in enumerate(sorted(derived.figures.values(), key=lambda f: f.indicator), start=1)
        if f.indicator in periods
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=FIGURE_SCHEMA, orient="row")


def _keyed(session: Session, frame: pl.DataFrame, org: str) -> dict[str, tuple[float | None, int]]:
    """Current figures of these indicators and periods for the council that came from a template or file of figures."""
    found: dict[str, tuple[float | None, int]] = {}
    for period, group in frame.group_by("period"):
        rows = session.execute(
            select(Observation.indicator_id, Observation.value, Observation.submission_id)
            .join(Submission, col(Submission.id) == col(Observation.submission_id))
            .where(
                col(Observation.indicator_id).in_(group["indicator_id"].to_list()),
                Observation.org_code == org,
                Observation.period == str(period[0]),
                Observation.breakdown == "",
                col(Observation.is_current),
                Submission.kind != KIND,
            )
        ).all()
        found |= {indicator: (value, int(sub)) for indicator, value, sub in rows}
    return found


# Some lines laid out by hand, the formatter told to leave them: its layout would take this function past 80 lines.
def _store(
    engine: Engine,
    submission: Submission,
    outcome: _Outcome,
    derived: Derivation,
    org: str,
    keys: Keys,
    *,
    rows_read: int,
) -> None:
    """Check the derived figures as any upload's, keep a keyed figure over a derived one, and store the rest with lineage."""
    assert submission.id is not None
    sid = submission.id
    with Session(engine) as session:
        ctx = build_context(session, submission.agency_code)
        types = dict(ctx.indicators.select("id", "period_type").iter_rows())
        periods = {i: p for i in derived.figures if (p := _period_of(derived, types.get(i))) is not None}
        for indicator in sorted(set(derived.figures) - set(periods)):
            derived.leave(indicator, f"the catalogue keeps it by {types.get(indicator) or 'no known period type'}, "
                          "not by the collection year")  # fmt: skip
        frame = _figures(derived, org, periods)
        keyed = _keyed(session, frame, org)
    theirs = frame.filter(pl.col("indicator_id").is_in(sorted(ctx.agency_indicators)))
    for indicator in sorted(set(frame["indicator_id"]) - set(theirs["indicator_id"])):
        outcome.problems.append(
            _problem("records_not_source", "information", f"{indicator} was derived, but {submission.agency_code} is "
                     "not its designated source, so it was not stored", column="indicator", value=indicator)
        )  # fmt: skip
    for indicator, (value, sub) in sorted(keyed.items()):
        if indicator not in set(theirs["indicator_id"]):
            continue
        mine = derived.figures[indicator].value
        outcome.problems.append(
            _problem(CONFLICT_RULE, "query",
                     f"{indicator} {periods[indicator]}: the records give {mine:g}, and submission {sub} keyed {value if value is None else f'{value:g}'} "
                     "in a template; the keyed figure is kept (upload a corrected template to change it)",
                     column="indicator", value=indicator)
        )  # fmt: skip
    theirs = theirs.filter(~pl.col("indicator_id").is_in(sorted(keyed)))
    for indicator, reason in sorted(derived.left_to_template.items()):
        outcome.problems.append(
            _problem("records_left_to_template", "information", f"{indicator} is left to the template: {reason}",
                     column="indicator", value=indicator)
        )  # fmt: skip
    result = validate_figures(theirs, ctx)
    problems = pl.concat([result.problems, problem_frame(outcome.problems)], how="vertical_relaxed")
    outcome.problems = []
    lineage = _lineage_rows(derived, result.accepted.select("indicator_id", "period").rows(), org, keys, outcome)
    counts = {"rows_read": rows_read, **_severity_counts(problems, outcome.findings)}

    def summary(stored: Stored) -> str:
        return (
            f"{stored.accepted} figure(s) derived from the records and stored ({stored.new} new, {stored.revised} "
            f"revised, {stored.unchanged} unchanged); {len(derived.left_to_template)} left to the template"
            + (f"; {len(keyed)} also keyed in a template, the keyed figure kept" if keyed else "")
        )

    alongside = Alongside(
        still_mine=lambda session: _still_mine(session, sid),
        write=lambda session, _: _write_child_rows(session, sid, outcome, keys, lineage),
    )
    store_accepted(
        engine, submission, result, problems=problems, summary=summary, stage="stored", alongside=alongside, counts=counts
    )  # fmt: skip


def _lineage_rows(
    derived: Derivation, stored: list[tuple[str, str]], org: str, keys: Keys, outcome: _Outcome
) -> pl.DataFrame:
    """The records behind each stored figure, the child by pseudonym, in ``record_lineage``'s columns."""
    if not stored:
        return pl.DataFrame(schema=_LINEAGE_SCHEMA)
    behind = pl.concat(
        [
            derived.figures[indicator].records.with_columns(indicator_id=pl.lit(indicator), period=pl.lit(period))
            for indicator, period in stored
        ],
        how="vertical_relaxed",
    )
    # Thousands of rows but a few thousand children: each child's pseudonym is made once and looked up.
    children = behind["child"].unique().to_list()
    outcome.children.update(children)
    names = keys.pseudonyms(children, outcome.named)
    return behind.select(
        pl.col("indicator_id"),
        pl.lit(org).alias("org_code"),
        pl.col("period"),
        pl.col("child").replace_strict(names, return_dtype=pl.String),
        pl.col("table").alias("record_table"),
        pl.col("row").alias("record_row"),
        pl.col("episode_start"),
        pl.col("counted").fill_null(False),
    ).cast(_LINEAGE_SCHEMA)


def _severity_counts(problems: pl.DataFrame, findings: list[dict[str, Any]]) -> dict[str, int]:
    def count(severity: str) -> int:
        return int((problems["severity"] == severity).sum()) + sum(1 for f in findings if f["severity"] == severity)

    errors, queries, information = count("error"), count("query"), count("information")
    return {
        "error_count": errors,
        "query_count": queries,
        "information_count": information,
        "warning_count": queries + information,
    }


def _still_mine(session: Session, submission_id: int) -> bool:
    return (
        session.execute(
            select(Submission.id).where(
                col(Submission.id) == submission_id,
                col(Submission.lease_owner) == lease.worker_id(),
                col(Submission.status).in_(lease.UNFINISHED),
            )
        ).first()
        is not None
    )


def _write_child_rows(
    session: Session, submission_id: int, outcome: _Outcome, keys: Keys, lineage: pl.DataFrame | None
) -> None:
    """Write the findings by child, the records behind the figures, and each child's id encrypted."""
    session.execute(delete(RecordProblem).where(col(RecordProblem.submission_id) == submission_id))
    session.execute(delete(RecordLineage).where(col(RecordLineage.submission_id) == submission_id))
    session.execute(delete(RecordChild).where(col(RecordChild.submission_id) == submission_id))
    columns = ("submission_id", "rule", "severity", "message", "record_table", "child", "row", "fields")
    finding_rows = [(submission_id, *(f[c] for c in columns[1:])) for f in outcome.findings]
    bulk_insert(session, "record_problem", columns, _batches(finding_rows))
    if lineage is not None and lineage.height:
        rows = lineage.select(pl.lit(submission_id, dtype=pl.Int64).alias("submission_id"), *_LINEAGE_SCHEMA)
        batches = (part.rows() for part in rows.iter_slices(_BATCH))
        bulk_insert(session, "record_lineage", ("submission_id", *_LINEAGE_SCHEMA), batches)
    children = sorted(outcome.children)
    names = keys.pseudonyms(children, outcome.named)
    sealed = [(submission_id, names[c], keys.seal_text(c)) for c in children]
    unique = list({row[1]: row for row in sealed}.values())
    bulk_insert(session, "record_child", ("submission_id", "pseudonym", "child_sealed"), _batches(unique))


def _batches(rows: list[tuple[Any, ...]]) -> Iterable[list[tuple[Any, ...]]]:
    return (rows[i : i + _BATCH] for i in range(0, len(rows), _BATCH))


def _end(
    engine: Engine,
    submission: Submission,
    outcome: _Outcome,
    *,
    status: str,
    stage: str,
    message: str,
    rows_read: int = 0,
) -> None:
    """End an upload rejected or failed: its report (and DfE's findings by child) written, no figure stored."""
    assert submission.id is not None
    problems = problem_frame(outcome.problems)
    counts = {"rows_read": rows_read, **_severity_counts(problems, outcome.findings)}
    with Session(engine) as session:
        # A failure is recorded whoever holds the lease now; a report only by the worker that made it.
        if status != "failed" and not _still_mine(session, submission.id):
            raise CutOff()
        if outcome.keys is not None:
            _write_child_rows(session, submission.id, outcome, outcome.keys, None)
        record_outcome(session, submission, problems, status=status, stage=stage, message=message, counts=counts)
        session.commit()


def resume_records(engine: Engine, settings: Settings) -> list[int]:
    """Take up every record-level upload whose worker stopped (its lease ran out) and run it on; return their ids."""
    now = datetime.now(UTC)
    with Session(engine) as session:
        waiting = session.execute(
            select(Submission.id)
            .where(
                col(Submission.kind) == KIND,
                or_(
                    col(Submission.status).in_(lease.UNFINISHED)
                    & or_(col(Submission.lease_until).is_(None), col(Submission.lease_until) < now),
                    col(Submission.status) == "interrupted",
                ),
            )
            .order_by(col(Submission.id))
        ).scalars()
        ids = [int(i) for i in waiting]
    resumed = []
    for submission_id in ids:
        try:
            process_records(engine, settings, submission_id)
        except KeysRefused as exc:
            # Left resumable for a host whose keys are the deployment's; this one says why it took none up.
            log.error("record-level uploads %s are left for a host whose records keys are accepted: %s", ids, exc)
            break
        resumed.append(submission_id)
    return resumed


def rerun(engine: Engine, settings: Settings, submission_id: int) -> Submission:
    """Run a failed or interrupted record-level upload again from its kept files."""
    # Left unclaimed (interrupted, no lease) for process_records to claim as any upload whose worker stopped.
    head.reopen(
        engine, settings, submission_id, kind=KIND, held=False, status="interrupted", stage="received", attempts=0
    )
    return process_records(engine, settings, submission_id)
