"""The ``onereturn`` command line."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import Session, select

from cli.admin import agencies_app, audit_command, keys_app, signoffs_app
from cli.admin import record as record_cli
from cli.kept import add_kept_commands
from cli.published import add_published_commands
from cli.records import add_records_commands
from cli.shared import err, out, ready_engine
from indicators.tomlfile import Problem
from mappings.models import Return
from onereturn import memory
from onereturn.errors import OneReturnError
from onereturn.logs import configure_logging

app = typer.Typer(
    help="onereturn: collect each performance figure once, fan it out to every return.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
catalogue_app = typer.Typer(
    help="The canonical indicator catalogue and the returns mapped onto it.", no_args_is_help=True
)
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
        from collectors.lease import mark_expired
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
        # Each worker builds its own app (and engine) from the same environment.
        uvicorn.run(
            "api.main:served_app",
            factory=True,
            workers=workers,
            host=host or settings.host,
            port=port or settings.port,
            log_config=None,
            timeout_graceful_shutdown=max(1, round(settings.stop_seconds)),
        )
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


def _group_problems(path: Path | None) -> list[Problem]:
    """The seed groups file checked as an officer's group is: every member code known to the geography."""
    from mappings.geography import load_geography
    from mappings.groups import SEED_FILE, check_seed

    path = path or SEED_FILE
    if not path.is_file():
        raise OneReturnError(f"{path} is not a file")
    known = {str(u["code"]) for u in load_geography().org_units}
    return [Problem(str(path), line, "broken-reference", message) for line, message in check_seed(known, path)]


@catalogue_app.command("check")
def catalogue_check(
    indicators_dir: Annotated[
        Path | None, typer.Option("--indicators", help="Folder of indicator files (default: bundled)")
    ] = None,
    returns_dir: Annotated[
        Path | None, typer.Option("--returns", help="Folder of return files (default: bundled)")
    ] = None,
    published_dir: Annotated[
        Path | None,
        typer.Option(
            "--published", help="Folder of published-source files (default: bundled, with the bundled catalogue)"
        ),
    ] = None,
    groups_file: Annotated[
        Path | None, typer.Option("--groups", help="Officers' seed groups file (default: bundled groups.toml)")
    ] = None,
) -> None:
    """Check every catalogue and return file; print each problem with file and line; exit 1 on any."""
    from collectors.published.sources import check_against
    from indicators.catalogue import CATALOGUE_DIR
    from mappings.catalogue import RETURNS_DIR, load_catalogue

    for folder in (indicators_dir, returns_dir, published_dir):
        if folder is not None and not folder.is_dir():
            raise OneReturnError(f"{folder} is not a folder")
    cat = load_catalogue(indicators_dir or CATALOGUE_DIR, returns_dir or RETURNS_DIR)
    problems = cat.all_problems
    # The bundled published sources name the bundled catalogue's indicators, so they are checked with it.
    if published_dir is not None or indicators_dir is None:
        problems = sorted(problems + check_against(cat, published_dir))
    problems = sorted(problems + _group_problems(groups_file))
    for problem in problems:
        out.print(str(problem), markup=False, highlight=False)
    indicators = cat.indicators.indicators
    derived = sum(1 for i in indicators.values() if i.spec.formula)
    fields = sum(len(f) for f in cat.fields.values())
    summary = (
        f"{len(indicators)} indicators ({derived} derived), {len(cat.indicators.codelists)} code lists, "
        f"{len(cat.returns)} returns with {fields} fields"
    )
    if problems:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(Counter(p.kind for p in problems).items()))
        err.print(f"[red]{len(problems)} problem(s)[/red] ({kinds}) in {summary}.")
        raise typer.Exit(1)
    from mappings.sources_doc import counts

    n = counts(cat)
    err.print(
        f"[green]Catalogue OK[/green]: {summary}; {n['documents']} public documents cited, "
        f"{n['items_with_own_reading']} items resting partly on the service's own reading, "
        f"{n['items_only_own_reading']} wholly."
    )


@catalogue_app.command("sources")
def catalogue_sources(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: docs/sources.md)")
    ] = None,
) -> None:
    """Write the page of every public source the catalogue cites (docs/sources.md) and print the counts."""
    from mappings.catalogue import load_catalogue
    from mappings.sources_doc import SOURCES_DOC, counts, render

    cat = load_catalogue()
    if cat.all_problems:
        raise OneReturnError("The catalogue has problems; run `onereturn catalogue check`")
    target = output or SOURCES_DOC
    target.write_text(render(cat), encoding="utf-8")
    n = counts(cat)
    err.print(
        f"Wrote {target}: {n['documents']} documents, {n['citations']} citations, {n['items']} items, "
        f"{n['items_with_own_reading']} resting partly on own reading ({n['items_only_own_reading']} wholly)."
    )


@catalogue_app.command("rules")
def catalogue_rules() -> None:
    """Print the plausibility rules of the bundled catalogue as Markdown (the page docs/rules.md)."""
    from indicators.catalogue import load_indicator_files, rules_markdown

    typer.echo(rules_markdown(load_indicator_files()), nl=False)


@catalogue_app.command("load")
def catalogue_load() -> None:
    """Check the catalogue and load it (and the geography, if absent) into the database."""
    from mappings.service import load_bundled
    from onereturn import db
    from onereturn.settings import get_settings

    db.upgrade()
    with db.session_scope() as session:
        counts = load_bundled(session, demo_keys=get_settings().load_demo)
    err.print(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts.items()))


@catalogue_app.command("list")
def catalogue_list(
    text: Annotated[str | None, typer.Option("--text", "-t", help="Only indicators with this text")] = None,
    return_id: Annotated[str | None, typer.Option("--return", "-r", help="Only indicators this return uses")] = None,
) -> None:
    """List the catalogue's indicators from the files (no database needed)."""
    from mappings.catalogue import load_catalogue

    cat = load_catalogue()
    wanted: set[str] | None = None
    if return_id is not None:
        if return_id not in cat.fields:
            raise OneReturnError(f"Unknown return {return_id!r}; expected one of {', '.join(sorted(cat.returns))}")
        wanted = {f.spec.indicator for f in cat.fields[return_id]}
    uses: Counter[str] = Counter(f.spec.indicator for fields in cat.fields.values() for f in fields)
    table = Table("id", "title", "statistic", "period", "derived", "fields")
    shown = 0
    for ind_id, loc in sorted(cat.indicators.indicators.items()):
        spec = loc.spec
        if wanted is not None and ind_id not in wanted:
            continue
        if text and text.lower() not in f"{ind_id} {spec.title} {spec.definition}".lower():
            continue
        table.add_row(
            ind_id, spec.title, spec.statistic, spec.period_type, "yes" if spec.formula else "", str(uses[ind_id])
        )
        shown += 1
    out.print(table)
    err.print(f"{shown} of {len(cat.indicators.indicators)} indicators")


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
    from collectors.template import build_template
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
    from collectors.service import Mode, submit
    from onereturn import db
    from onereturn.settings import get_settings

    if dry_run and atomic:
        raise OneReturnError("--dry-run and --atomic cannot be used together")
    settings = get_settings()
    engine = ready_engine()
    mode: Mode = "dry_run" if dry_run else "atomic" if atomic else "default"
    outcome = submit(
        engine,
        settings,
        agency_code=agency,
        filename=file.name,
        data=file.read_bytes(),
        mode=mode,
        submitted_by="cli",
        sheet=sheet,
    )
    problems = outcome.problems
    if outcome.submission is not None and outcome.submission.id is not None and problems is None:
        from collectors.service import submission_problems

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
    from collectors.service import get_submission, submission_problems
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


@app.command()
def export(
    return_id: Annotated[str | None, typer.Argument(help="The return, e.g. nis (omit with --all)")] = None,
    period: Annotated[str | None, typer.Argument(help="The period, e.g. FY2024-25")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="xlsx, csv, json or sdmx-csv")] = "xlsx",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (or, with --all, folder) to write")
    ] = None,
    all_returns: Annotated[bool, typer.Option("--all", help="Every return ending in PERIOD, in every format")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Build a return for a period into a file, or with --all every return in every format into a folder."""
    from exports import service as exports
    from exports.writers import FORMATS
    from onereturn import db

    engine = ready_engine()
    if all_returns:
        year = return_id if period is None else period
        if year is None:
            raise OneReturnError("Say which period: onereturn export --all FY2024-25")
        _export_all(engine, year, output or Path(f"onereturn-{year}"), quiet=quiet)
        return
    if return_id is None or period is None:
        raise OneReturnError("Say which return and period, e.g. onereturn export nis FY2010-11 --format xlsx")
    if fmt not in FORMATS:
        raise OneReturnError(f"Unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    with db.session_scope(engine) as session:
        snap = exports.snapshot(session, return_id, period, fmt)
    record_cli("return.pull", f"return {return_id} {snap.period} {fmt} (snapshot {snap.id})", engine=engine)
    target = output or Path(f"{return_id}-{snap.period}.{FORMATS[fmt].extension}")
    target.write_bytes(snap.data)
    err.print(f"Wrote {target} (snapshot {snap.id}, {len(snap.data):,} bytes, sha256 {snap.content_hash[:12]})")


def _export_all(engine: Engine, year: str, folder: Path, *, quiet: bool) -> None:
    from rich.progress import Progress

    from cli.demo import build_all
    from exports.writers import FORMATS

    with Session(engine) as session:
        total = len(session.execute(select(Return)).scalars().all()) * len(FORMATS)
    with Progress(console=err, transient=True, disable=quiet) as progress:
        task = progress.add_task(f"Building returns for {year}", total=total)
        written = build_all(engine, (year,), folder, progress=lambda _name: progress.advance(task))
    err.print(f"Wrote {len(written)} files to {folder}/")


@app.command("burden")
def burden_command(
    period: Annotated[str, typer.Argument(help="The period, e.g. FY2024-25")],
    minutes: Annotated[float, typer.Option("--minutes", help="Officer minutes to key one figure")] = 3.0,
) -> None:
    """Print the burden saved: cells keyed into every return against figures keyed once, per agency."""
    from collectors.annex_a.build import annex_a_cells
    from exports.burden import burden
    from onereturn import db
    from onereturn.settings import get_settings

    settings = get_settings()
    with db.session_scope(ready_engine()) as session:
        report = burden(
            session,
            period,
            minutes_per_figure=minutes,
            annex_a=lambda code, on: annex_a_cells(session, settings, code, on),
        )
    print_burden(report)


def print_burden(report: Any) -> None:
    """Print a burden report as tables."""
    out.print(f"Burden for {report.period} ({report.minutes_per_figure:g} minutes a figure)")
    out.print(_agencies_table(report))
    filled = [(a.agency_code, r, n) for a in report.agencies for r, n in sorted(a.from_records_by_return.items())]
    if filled:
        by_return = Table("agency", "return", "cells filled from record-level files, keyed by nobody")
        for agency_code, return_id, n in filled:
            by_return.add_row(agency_code, return_id, f"{n:,}")
        out.print(by_return)
    annexed = [a for a in report.agencies if a.annex_a_cells]
    if annexed:
        annex = Table("council", "Annex A cells", "from records", "from the SSD extract", "keyed")
        for a in annexed:
            annex.add_row(a.agency_code, *(f"{n:,}" for n in (a.annex_a_cells, a.annex_a_from_records,
                                                               a.annex_a_from_extract, a.annex_a_keyed)))  # fmt: skip
        out.print(f"Ofsted's Annex A as at the last day of {report.period}, in child-level cells:")
        out.print(annex)
    if report.from_publishers:
        out.print("From publishers, keyed by nobody (read from the publishers' own files):")
        out.print(_publishers_table(report))
    names = list(report.overlap)
    grid = Table("shared indicators", *names)
    for a in names:
        grid.add_row(a, *(str(report.overlap[a][b]) if a != b else "-" for b in names))
    out.print(grid)
    if report.sent_twice:
        twice = Table("figure two bodies each sent", "keyed once by", "needed by", "figures")
        for t in report.sent_twice:
            needed = "; ".join(f"{a}: {', '.join(r)}" for a, r in t.needed_by.items())
            twice.add_row(t.indicator_id, t.keyed_by, needed, f"{t.figures:,}")
        out.print(twice)
    if report.consistency:
        pairs = Table("return", "field", "org", "this method", "value", "other method", "value")
        for c in report.consistency:
            pairs.add_row(
                c.return_id,
                c.field_code,
                c.org_code,
                c.method,
                _num(c.value),
                c.counterpart_method,
                _num(c.counterpart_value),
            )
        out.print(pairs)


#: The counts of the burden table, each an agency's attribute and a key of the totals, in the table's order.
_COUNTED = (
    "cells_without_service",
    "keyed_cells_without_service",
    "figures_entered",
    "saved",
    "derived_by_service",
    "from_records",
    "from_publishers",
)


def _agencies_table(report: Any) -> Table:
    """The burden of each agency with and without the service, and the totals."""
    table = Table(
        "agency",
        "returns in force",
        "cells without the service",
        "of which keyed",
        "figures keyed once",
        "keyed once, not several times",
        "derived, never keyed",
        "from record-level files, keyed by nobody",
        "from publishers, keyed by nobody",
        "hours saved",
    )
    for a in report.agencies:
        counts = (f"{getattr(a, name):,}" for name in _COUNTED)
        table.add_row(a.agency_code, ", ".join(a.returns), *counts, f"{a.hours_saved:,.1f}")
    totals = (f"{report.totals[name]:,.0f}" for name in _COUNTED)
    table.add_row("total", "", *totals, f"{report.totals['hours_saved']:,.1f}")
    return table


def _publishers_table(report: Any) -> Table:
    """The figures read from each publisher's own files, and what each return reads of them."""
    published = Table(
        "publisher", "figures for the period", "in the store as the publisher's", "return", "figures it reads"
    )
    for p in report.from_publishers:
        reads = sorted(p.by_return.items()) or [("", 0)]
        for i, (return_id, n) in enumerate(reads):
            # The publisher's own counts on its first line only.
            first = i == 0
            published.add_row(
                p.publisher if first else "",
                f"{p.figures:,}" if first else "",
                f"{p.in_store:,}" if first else "",
                return_id,
                f"{n:,}" if return_id else "",
            )
    return published


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}"


@app.command("demo")
def demo_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the built returns")] = Path("demo-out"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar")] = False,
) -> None:
    """Upload the bundled demo figures, build every return in every format into a folder, print the burden."""
    from cli.demo import YEARS, load_demo
    from exports.burden import burden
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
        _export_all(engine, year, output, quiet=quiet)
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
