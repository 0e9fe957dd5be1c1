"""The ``onereturn`` command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.admin import agencies_app, audit_command, keys_app, signoffs_app
from cli.admin import record as record_cli
from cli.catalogue import catalogue_app
from cli.establishments import add_establishments_commands
from cli.kept import add_kept_commands
from cli.published import add_published_commands
from cli.records import add_records_commands
from cli.regions import add_regions_commands
from cli.returns import add_returns_commands, export_all, print_burden
from cli.shared import err, out, ready_engine
from onereturn import memory
from onereturn.errors import OneReturnError
from onereturn.logs import configure_logging

if TYPE_CHECKING:
    from onereturn.settings import Settings

app = typer.Typer(
    help="onereturn: collect each performance figure once, fan it out to every return.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
submissions_app = typer.Typer(help="Uploads that did not finish.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(agencies_app, name="agencies")
app.add_typer(keys_app, name="keys")
app.add_typer(signoffs_app, name="signoffs")
app.command("audit")(audit_command)
app.add_typer(submissions_app, name="submissions")
add_records_commands(app)
add_kept_commands(db_app)
add_published_commands(app)
add_regions_commands(app)
add_establishments_commands(app)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default ONERETURN_HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ONERETURN_PORT or 8000)")] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="API worker processes; more than one needs the scheduler run on its own")
    ] = 1,
) -> None:
    """Upgrade the database, load the bundled catalogue and geography, and serve the API."""
    with memory.collector_off():
        import uvicorn

        from api.main import create_app
        from cli.demo import demo_at_start
        from collectors.door.lease import mark_expired
        from mappings.service import load_bundled
        from onereturn import db
        from onereturn.settings import get_settings

    settings = get_settings()
    if workers > 1 and settings.scheduler_embedded:
        # Each worker would embed its own scheduler; on SQLite nothing stops them running every job side by side.
        err.print(
            f"--workers {workers}: the job scheduler cannot be embedded in several workers. "
            "Set ONERETURN_SCHEDULER_EMBEDDED=false and run `onereturn scheduler` as one process of its own."
        )
        raise typer.Exit(2)
    configure_logging(as_json=settings.log_json)
    engine = db.get_engine(settings)
    db.upgrade(engine)
    budget = db.connection_budget_warning(engine, settings, workers)
    if budget:
        err.print(budget)
    with db.session_scope(engine) as session:
        counts = load_bundled(session, demo_keys=settings.load_demo)
        # Only uploads whose worker is gone: another worker or host may be processing one right now.
        interrupted = mark_expired(session)
    if interrupted:
        err.print(f"{interrupted} upload(s) were cut off when their worker stopped; their raw files are kept.")
    demo_at_start(engine, settings)
    where = f"http://{host or settings.host}:{port or settings.port}"
    err.print(
        f"Loaded {counts['indicators']} indicators, {counts['returns']} returns, {counts['org_units']} org units. "
        f"Serving on {where} (API docs at {where}/docs)"
    )
    if workers > 1:
        engine.dispose()
        _serve_workers(settings, host or settings.host, port or settings.port, workers)
        return
    uvicorn.run(
        create_app(
            settings,
            engine=engine,
            run_scheduler=settings.scheduler_embedded,
            batch_read_audit=True,
            upload_processes=settings.upload_processes,
            freeze_heap=True,
        ),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        # Without a bound, a stop waits for every open request, an upload held by a stopped client included.
        timeout_graceful_shutdown=max(1, round(settings.stop_seconds)),
    )


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> None:
    """Serve from ``workers`` processes, the job scheduler run apart."""
    import uvicorn

    # Each worker builds its own app (and engine) from the same environment.
    uvicorn.run(
        "api.main:served_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=max(1, round(settings.stop_seconds)),
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date, and name the records keys that open what was sealed before."""
    from cli.records import upgrade_naming_keys

    upgrade_naming_keys()


@db_app.command("backup")
def db_backup(file: Annotated[Path, typer.Argument(help="The backup file to write (a tar archive)")]) -> None:
    """Back up the SQLite store and its kept uploads, safely while the service runs."""
    from onereturn import backup
    from onereturn.settings import get_settings

    done = backup.backup(get_settings(), file)
    err.print(f"Backed up {done.database_bytes:,} bytes of database and {done.uploads} kept upload(s) to {done.path}")


@db_app.command("restore")
def db_restore(
    file: Annotated[Path, typer.Argument(help="A backup written by onereturn db backup", exists=True)],
) -> None:
    """Restore a backup into an empty data directory (ONERETURN_DATA_DIR)."""
    from onereturn import backup
    from onereturn.settings import get_settings

    done = backup.restore(get_settings(), file)
    err.print(f"Restored the store to {done.path} with {done.uploads} kept upload(s)")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m", help="What the schema change is")]) -> None:
    """Write a new migration from the difference between the models and an up-to-date database."""
    from alembic import command

    from onereturn import db

    engine = db.get_engine()
    db.upgrade(engine)
    command.revision(db.alembic_config(engine), message=message, autogenerate=True)


@app.command()
def template(
    agency: Annotated[str, typer.Argument(help="The agency's code, e.g. notts_cyp")],
    period: Annotated[str, typer.Argument(help="The collection period, e.g. FY2024-25-Q1")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: onereturn-AGENCY-PERIOD.FORMAT)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="xlsx or csv")] = "xlsx",
    outstanding: Annotated[bool, typer.Option("--outstanding", help="Only figures not yet accepted")] = False,
) -> None:
    """Write the one template of every figure an agency owes for a period."""
    from collectors.figures.template import build_template
    from onereturn import db

    if fmt not in ("xlsx", "csv"):
        raise OneReturnError(f"Unknown format {fmt!r}; expected xlsx or csv")
    with db.session_scope(ready_engine()) as session:
        data, name = build_template(session, agency, period, fmt, outstanding=outstanding)  # type: ignore[arg-type]
    target = output or Path(name)
    target.write_bytes(data)
    err.print(f"Wrote {target} ({len(data):,} bytes)")


@app.command()
def collect(
    file: Annotated[
        Path, typer.Argument(help="The filled template, or a long CSV, XLSX or JSON file", exists=True, dir_okay=False)
    ],
    agency: Annotated[str, typer.Option("--agency", "-a", help="The agency the figures come from")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only; store nothing")] = False,
    atomic: Annotated[bool, typer.Option("--atomic", help="Store nothing if any row has an error")] = False,
    sheet: Annotated[str | None, typer.Option("--sheet", help="The sheet to read in a workbook")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary")] = False,
) -> None:
    """Upload one file of figures for an agency and print the validation report; exit 1 if rejected."""
    from collectors import ways_in
    from collectors.door.spine import Outcome
    from collectors.figures.service import Mode
    from onereturn import db
    from onereturn.settings import get_settings

    if dry_run and atomic:
        raise OneReturnError("--dry-run and --atomic cannot be used together")
    settings = get_settings()
    engine = ready_engine()
    mode: Mode = "dry_run" if dry_run else "atomic" if atomic else "default"
    # Through the table of ways in, as the API's upload: a child-level file is refused there, nothing kept.
    upload = ways_in.FiguresSent(
        agency_code=agency, filename=file.name, data=file.read_bytes(), mode=mode, submitted_by="cli", sheet=sheet
    )
    outcome: Outcome = ways_in.take(engine, settings, upload)
    problems = outcome.problems
    if outcome.submission is not None and outcome.submission.id is not None and problems is None:
        from collectors.figures.service import submission_problems

        with db.session_scope(engine) as session:
            problems = submission_problems(session, outcome.submission.id)
    if problems is not None and problems.height and not quiet:
        table = Table("row", "column", "value", "rule", "severity", "message")
        for p in problems.iter_rows(named=True):
            table.add_row(
                *(
                    str(p[k]) if p[k] is not None else ""
                    for k in ("row", "column", "value", "rule", "severity", "message")
                )
            )
        out.print(table)
    sub = outcome.submission
    record_cli(
        "submission.upload",
        f"{'dry run' if sub is None else f'submission {sub.id}'} (agency {agency}, file {file.name})",
        "rejected" if sub is not None and sub.status == "rejected" else "ok",
        engine=engine,
    )
    if sub is None:
        errors = 0 if problems is None else int((problems["severity"] == "error").sum())
        err.print(f"Dry run: {errors} error(s); nothing was stored.")
        raise typer.Exit(1 if errors else 0)
    prefix = (
        f"Submission {sub.id} (a repeat of an earlier identical upload)"
        if outcome.duplicate
        else f"Submission {sub.id}"
    )
    err.print(f"{prefix}: {sub.status}. {sub.message}")
    if sub.status == "rejected":
        raise typer.Exit(1)


@app.command()
def submission(submission_id: Annotated[int, typer.Argument(help="The submission's number")]) -> None:
    """Print an upload's status and every problem found in it."""
    from collectors.figures.service import get_submission, submission_problems
    from onereturn import db

    with db.session_scope(ready_engine()) as session:
        session.expunge(sub := get_submission(session, submission_id, agency_code=None))  # readable past the commit
        problems = submission_problems(session, submission_id)
    out.print(f"Submission {sub.id} from {sub.agency_code}: {sub.filename}, {sub.status}. {sub.message}", markup=False)
    for p in problems.iter_rows(named=True):
        out.print(
            f"  row {p['row']}, {p['column']}, {p['value']!r}: {p['rule']} ({p['severity']}): {p['message']}",
            markup=False,
        )


@submissions_app.command("reprocess")
def submissions_reprocess(
    submission_id: Annotated[int, typer.Argument(help="The failed or interrupted upload")],
) -> None:
    """Run a failed or interrupted upload again from its kept raw file; exit 1 unless it is stored."""
    from collectors.ways_in import rerun
    from onereturn.settings import get_settings

    sub = rerun(ready_engine(), get_settings(), submission_id).submission
    assert sub is not None
    err.print(f"Submission {sub.id}: {sub.status}. {sub.message}", markup=False)
    if sub.status not in ("accepted", "partially_accepted"):
        raise typer.Exit(1)


# Registered here, after ``submissions`` and before ``demo``, so ``onereturn --help`` lists the commands in the order
# it always has.
add_returns_commands(app)


@app.command("demo")
def demo_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the built returns")] = Path("demo-out"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Upload the bundled demo figures, build every return in every format into a folder, print the burden."""
    from cli.demo import YEARS, load_demo
    from exports.burden.report import burden
    from mappings.service import load_bundled
    from onereturn import db
    from onereturn.settings import get_settings

    settings = get_settings()
    engine = db.get_engine(settings)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session, demo_keys=settings.load_demo)
    for upload in load_demo(engine, settings):
        err.print(f"  {upload.file}: {upload.status}. {upload.message}", markup=False, highlight=False)
    for year in YEARS:
        export_all(engine, year, output, quiet=quiet)
    # The year the National Indicators and Vital Signs were both in force, then the latest year.
    for year in (YEARS[0], YEARS[-1]):
        with db.session_scope(engine) as session:
            report = burden(session, year)
        err.print(f"\nBurden, {year}:")
        print_burden(report)


@app.command("calendar")
def calendar_command(
    agency: Annotated[str | None, typer.Option("--agency", "-a", help="Only this agency's returns")] = None,
    return_id: Annotated[str | None, typer.Option("--return", "-r", help="Only this return")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default today)")] = None,
    weeks: Annotated[int, typer.Option("--weeks", "-w", help="How many weeks to show")] = 13,
) -> None:
    """Print the collection calendar: window openings, agency deadlines, builds and recipient deadlines."""
    from datetime import UTC, date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from mappings.calendar import agency_returns, calendar_entries
    from onereturn import db

    first = date.fromisoformat(start) if start else datetime.now(UTC).date()
    last = first + timedelta(weeks=weeks)
    zone = ZoneInfo("Europe/London")
    with db.session_scope(ready_engine()) as session:
        owners = agency_returns(session)
        entries = [
            e for e in calendar_entries(session, first - timedelta(days=400), last) if first <= e.at.date() <= last
        ]
        if return_id:
            entries = [e for e in entries if e.return_id == return_id]
        if agency:
            entries = [e for e in entries if e.return_id in owners.get(agency, [])]
    table = Table("when (Europe/London)", "return", "period", "what", "agencies")
    for e in entries:
        who = ", ".join(a for a, rets in sorted(owners.items()) if e.return_id in rets)
        table.add_row(
            e.at.astimezone(zone).strftime("%a %d %b %Y %H:%M"), e.return_id, e.period, e.kind.replace("_", " "), who
        )
    out.print(table)
    deadlines = sum(1 for e in entries if e.kind == "recipient_deadline")
    err.print(f"{len(entries)} entries, {deadlines} recipient deadlines, {first} to {last}")


@app.command("scheduler")
def scheduler_command() -> None:
    """Run the job scheduler as its own process (on PostgreSQL one is active; a second waits to take over)."""
    with memory.collector_off():
        import scheduler
        from onereturn import db
        from onereturn.settings import get_settings

    settings = get_settings()
    # Its jobs are background work, like the embedded scheduler's build process: on a host it shares with
    # API workers, requests take the cores first.
    os.nice(settings.build_niceness)
    configure_logging(as_json=settings.log_json)
    engine = db.get_engine(settings)
    db.upgrade(engine)
    scheduler.run(engine, settings)


def main() -> None:
    """Run the CLI, printing domain errors as one red line without a traceback."""
    try:
        app()
    except OneReturnError as exc:
        err.print(f"[bold red]ERROR:[/bold red] {escape(exc.message)}", highlight=False)
        for item in exc.errors[:50]:
            loc = ":".join(str(p) for p in item.get("loc", []))
            err.print(f"  {loc}: {item.get('msg')}", markup=False, highlight=False)
        sys.exit(1)
