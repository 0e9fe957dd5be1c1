"""A council's record-level upload taken up by an upload worker and run through its stages.

The door keeps the files (encrypted) and records the submission at once (``collectors.records.receiving``), so the
API can answer 202; :func:`process_records` takes it up under the upload lease in an upload worker and moves it
through the stages ``reading`` (our own read: which return, which tables, their columns, the year), ``dfe_rules``
(DfE's rules for the collection year, in their own environment), ``deriving`` (every catalogue figure the records
answer, by DfE's published method) and ``stored`` (``collectors.records.storing``); or ends it ``rejected`` (a
clear report, nothing stored) or ``failed`` (the file kept, run again by the door's resume or ``reprocess``).
Children are named in the store only by their pseudonym (``collectors.records.privacy``).

:func:`process_records` is the one entry that starts processing: the upload pool's process, the API's background
task (no pool), and the door's resume and rerun from the kept file (``collectors.door.again``, by :data:`AGAIN`) all
call it; the door claims, leases and fails the upload, and this module runs its stages.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from collectors import door
from collectors.checks.checked import problem_frame
from collectors.door import lease
from collectors.door.spine import CutOff, record_outcome
from collectors.records.cin_figures import derive_cin
from collectors.records.contract import Findings, RecordsError
from collectors.records.kept import kept_files
from collectors.records.privacy import Keys, SealedElsewhere, checked_keys
from collectors.records.reading import as_written, check_903_year, distances_for, identify, rules_beside_read
from collectors.records.receiving import PURPOSES, WAY
from collectors.records.ssda903_figures import derive_ssda903
from collectors.records.storing import (
    Run,
    ons_population,
    problem,
    severity_counts,
    store,
    write_child_rows,
)
from indicators.store.models import Submission
from mappings.illustrative import Council, councils_of
from onereturn.errors import OneReturnError
from onereturn.keptfiles import KeptFileMissing
from onereturn.settings import Settings
from onereturn.workspace import private_folder


def _stage(engine: Engine, submission_id: int, stage: str) -> None:
    """Record the stage reached, while this worker still holds the upload."""
    if not lease.still_held(engine, submission_id, stage=stage):
        raise CutOff()


def process_records(engine: Engine, settings: Settings, submission_id: int) -> Submission:
    """Take up a received record-level upload under the lease and run it through its stages; return it as it ended.

    Raises :class:`KeysRefused` where this host's records keys are refused, the upload left as it was (resumable)
    for a host whose keys are the deployment's: the host is at fault, not the upload."""
    checked_keys(engine, settings)
    # An error's text may quote a value of the records (a child id, a birth date, a postcode): the door's failure
    # names only what kind of error it was, and the log where it was raised.
    return door.taken_up(
        engine, settings, submission_id, WAY.name, lambda submission: _run(engine, settings, submission)
    )


def _run(engine: Engine, settings: Settings, submission: Submission) -> None:
    assert submission.id is not None
    keys = checked_keys(engine, settings)
    outcome = Run(keys=keys)
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
    if submission.mode == PURPOSES["annex_a"]:
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
    population = ons_population(engine, council.rules_as, year_ending)
    try:
        if read.library == "903":
            check_903_year(read.tables["Episodes"], year_ending, submission.collection_year)
            derived = derive_ssda903(read.tables, year_ending=year_ending, population_0_17=population)
        else:
            derived = derive_cin(read.tables, year_ending=year_ending, population_0_17=population)
    except OneReturnError as exc:
        _reject(engine, submission, outcome, exc.message)
        return
    store(engine, submission, outcome, derived, council.org, keys, rows_read=read.rows)


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


def _note_findings(outcome: Run, findings: Findings, keys: Keys, spelled: dict[str, str]) -> None:
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
            problem(
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
            problem(
                "records_rules_not_checked",
                "information",
                f"{len(rules):,} of DfE's rules were not checked (not a pass) because {reason}: "
                f"rules {', '.join(rules)}",
            )
        )
    if findings.tables_missing:
        outcome.problems.append(
            problem(
                "records_tables_missing",
                "information",
                f"tables not given: {', '.join(findings.tables_missing)}; DfE's rules on them were not checked",
            )
        )


def _reject(engine: Engine, submission: Submission, outcome: Run, message: str) -> None:
    outcome.problems.append(problem("records_unreadable", "error", message))
    _end(engine, submission, outcome, status="rejected", stage="rejected", message=message)


def _end(
    engine: Engine,
    submission: Submission,
    outcome: Run,
    *,
    status: str,
    stage: str,
    message: str,
    rows_read: int = 0,
) -> None:
    """End an upload with its report (refused, or kept for Annex A alone), DfE's findings by child written, no figure
    stored."""
    assert submission.id is not None
    problems = problem_frame(outcome.problems)
    counts = {"rows_read": rows_read, **severity_counts(problems, outcome.findings)}
    with Session(engine) as session:
        # A report is recorded only by the worker that made it (a failure is the door's, ``door.mark_failed``).
        if not lease.mine(session, submission.id):
            raise CutOff()
        if outcome.keys is not None:
            write_child_rows(session, submission.id, outcome, outcome.keys, None)
        record_outcome(session, submission, problems, status=status, stage=stage, message=message, counts=counts)
        session.commit()


#: How the door runs a failed or interrupted record-level upload again, and takes up those a stop cut off: left
#: unclaimed, for :func:`process_records` to claim as any upload whose worker stopped.
AGAIN = door.Again(take_up=process_records, reopened=lambda _submission, _readings: {"stage": "received"}, resumes=True)
