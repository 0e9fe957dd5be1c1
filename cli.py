"""The ``onereturn`` command line."""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from errors import OneReturnError

app = typer.Typer(
    help="onereturn: collect each performance figure once, fan it out to every return.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
catalogue_app = typer.Typer(
    help="The canonical indicator catalogue and the returns mapped onto it.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(catalogue_app, name="catalogue")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(
            {
                "time": self.formatTime(record),
                "level": record.levelname,
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


def configure_logging(*, as_json: bool) -> None:
    """Log to stderr: JSON lines in production, plain text otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter() if as_json else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # Alembic narrates every plugin it loads; only its warnings help an operator.
    logging.getLogger("alembic").setLevel(logging.WARNING)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default ONERETURN_HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default ONERETURN_PORT or 8000)")] = None,
) -> None:
    """Upgrade the database, load the bundled catalogue and geography, and serve the API."""
    import uvicorn

    import db
    from api.main import create_app
    from collectors.service import mark_interrupted
    from mappings.service import load_bundled
    from settings import get_settings

    settings = get_settings()
    configure_logging(as_json=settings.log_json)
    engine = db.get_engine(settings)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        counts = load_bundled(session, demo_keys=settings.load_demo)
        interrupted = mark_interrupted(session)
    if interrupted:
        err.print(f"{interrupted} upload(s) were cut off by an earlier stop; their raw files are kept.")
    where = f"http://{host or settings.host}:{port or settings.port}"
    err.print(
        f"Loaded {counts['indicators']} indicators, {counts['returns']} returns, {counts['org_units']} org units. "
        f"Serving on {where} (API docs at {where}/docs)"
    )
    uvicorn.run(
        create_app(settings, engine=engine), host=host or settings.host, port=port or settings.port, log_config=None
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date."""
    import db

    db.upgrade()
    err.print("Database schema is up to date.")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m", help="What the schema change is")]) -> None:
    """Write a new migration from the difference between the models and an up-to-date database."""
    from alembic import command

    import db

    engine = db.get_engine()
    db.upgrade(engine)
    command.revision(db.alembic_config(engine), message=message, autogenerate=True)


@catalogue_app.command("check")
def catalogue_check(
    indicators_dir: Annotated[
        Path | None, typer.Option("--indicators", help="Folder of indicator files (default: bundled)")
    ] = None,
    returns_dir: Annotated[
        Path | None, typer.Option("--returns", help="Folder of return files (default: bundled)")
    ] = None,
) -> None:
    """Check every catalogue and return file; print each problem with file and line; exit 1 on any."""
    from indicators.catalogue import CATALOGUE_DIR
    from mappings.catalogue import RETURNS_DIR, load_catalogue

    for folder in (indicators_dir, returns_dir):
        if folder is not None and not folder.is_dir():
            raise OneReturnError(f"{folder} is not a folder")
    cat = load_catalogue(indicators_dir or CATALOGUE_DIR, returns_dir or RETURNS_DIR)
    problems = cat.all_problems
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
    err.print(f"[green]Catalogue OK[/green]: {summary}.")


@catalogue_app.command("load")
def catalogue_load() -> None:
    """Check the catalogue and load it (and the geography, if absent) into the database."""
    import db
    from mappings.service import load_bundled

    db.upgrade()
    with db.session_scope() as session:
        counts = load_bundled(session)
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
    import db
    from collectors.template import build_template

    if fmt not in ("xlsx", "csv"):
        raise OneReturnError(f"Unknown format {fmt!r}; expected xlsx or csv")
    with db.session_scope() as session:
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
    import db
    from collectors.service import Mode, submit
    from settings import get_settings

    if dry_run and atomic:
        raise OneReturnError("--dry-run and --atomic cannot be used together")
    settings = get_settings()
    engine = db.get_engine(settings)
    db.upgrade(engine)
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
    import db
    from collectors.service import get_submission, submission_problems

    with db.session_scope() as session:
        sub = get_submission(session, submission_id, agency_code=None)
        problems = submission_problems(session, submission_id)
    out.print(f"Submission {sub.id} from {sub.agency_code}: {sub.filename}, {sub.status}. {sub.message}", markup=False)
    for p in problems.iter_rows(named=True):
        out.print(
            f"  row {p['row']}, {p['column']}, {p['value']!r}: {p['rule']} ({p['severity']}): {p['message']}",
            markup=False,
        )


def main() -> None:
    """Run the CLI, printing domain errors as one red line without a traceback."""
    try:
        app()
    except OneReturnError as exc:
        err.print(f"[bold red]ERROR:[/bold red] {exc.message}", highlight=False)
        for item in exc.errors[:50]:
            loc = ":".join(str(p) for p in item.get("loc", []))
            err.print(f"  {loc}: {item.get('msg')}", markup=False, highlight=False)
        sys.exit(1)
