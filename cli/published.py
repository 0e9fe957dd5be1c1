"""``onereturn published``: the publishers' data sets declared, a publisher's file read unchanged, a fetch now."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from collectors.published.fetch import FetchReport

published_app = typer.Typer(
    help="Published figures: read from the publishers' own files and API, never keyed.", no_args_is_help=True
)


def add_published_commands(app: typer.Typer) -> None:
    """Add ``onereturn published …`` to the CLI."""
    app.add_typer(published_app, name="published")


@published_app.command("sources")
def sources_command() -> None:
    """List the publishers' data sets declared (mappings/published/), with their page and indicators."""
    from cli.shared import out
    from collectors.published.sources import load_sources

    for spec in load_sources().sources.values():
        api = "upload only"
        if spec.ees_data_set:
            api = f"EES data set {spec.ees_data_set}"
        elif spec.fingertips_indicators:
            ids = ", ".join(str(i) for i in spec.fingertips_indicators)
            api = f"Fingertips indicator {ids} (fetched when ONERETURN_PUBLISHED_FINGERTIPS_API is set)"
        out.print(f"{spec.id}: {spec.title} [{spec.publisher}; {api}]", markup=False, highlight=False)
        out.print(f"  {', '.join(f.indicator for f in spec.figure)}; file {spec.file}; {spec.page}", markup=False)


@published_app.command("import")
def import_command(
    source: Annotated[str, typer.Argument(help="The published source's id (onereturn published sources)")],
    file: Annotated[
        Path, typer.Argument(help="The publisher's file, exactly as downloaded", exists=True, dir_okay=False)
    ],
    version: Annotated[str, typer.Option("--version", help="The publisher's version or release, if known")] = "",
) -> None:
    """Read a publisher's file unchanged and store its figures as the publisher's (whole, or nothing)."""
    from cli.shared import err, ready_engine
    from collectors import ways_in
    from collectors.published.intake import Imported
    from collectors.published.sources import load_sources
    from onereturn.errors import OneReturnError
    from onereturn.settings import get_settings

    spec = load_sources().sources.get(source)
    if spec is None:
        raise OneReturnError(f"No published source {source!r}; see `onereturn published sources`")
    release = ways_in.ReleaseSent(
        spec=spec,
        data=file.read_bytes(),
        filename=file.name,
        fetched_from="upload",
        version=version,
        submitted_by="command line",
    )
    done: Imported = ways_in.take(ready_engine(), get_settings(), release)
    if done.duplicate:
        err.print(f"Already read as release {done.release.id}: nothing changed.")
    else:
        err.print(f"[green]Release {done.release.id}[/green]: {done.release.message}")


@published_app.command("fetch")
def fetch_command() -> None:
    """Ask each publisher's API now for releases not yet read and import them; exit 1 if any source failed."""
    from cli.shared import err, ready_engine
    from collectors import ways_in
    from collectors.published.fetch import fetch_all
    from onereturn.settings import get_settings

    engine, settings = ready_engine(), get_settings()
    report = fetch_all(engine, settings, take=ways_in.releases(engine, settings))
    for source, done in report.imported:
        err.print(f"{source}: release {done.release.id} (version {done.release.version}): {done.release.message}")
    for source in report.up_to_date:
        err.print(f"{source}: nothing new")
    for source, why in report.failed:
        err.print(f"[red]{source}: {why}[/red]")
    err.print(fetch_summary(report), markup=False, highlight=False)
    if report.failed:
        raise typer.Exit(1)


def fetch_summary(report: FetchReport) -> str:
    """The fetch's last line: what was asked and done, or why nothing was asked, so a fetch never ends silent."""
    reasons = Counter(why for _, why in report.not_asked)
    skipped = "; ".join(f"{n} source(s): {why}" for why, n in sorted(reasons.items()))
    asked = len(report.failed) + len(report.up_to_date) + len({source for source, _ in report.imported})
    if not asked:
        return f"Nothing fetched: no declared source has an API to ask ({skipped or 'none is declared'})."
    done = (
        f"Asked {asked} source(s): {len(report.imported)} release(s) imported, {len(report.up_to_date)} source(s) "
        f"with nothing new, {len(report.failed)} failed (nothing stored for those)"
    )
    return f"{done}; not asked: {skipped}." if skipped else f"{done}."


@published_app.command("differences")
def differences_command(
    org: Annotated[str | None, typer.Option("--org", help="Only this org unit")] = None,
    indicator: Annotated[str | None, typer.Option("--indicator", help="Only this indicator")] = None,
) -> None:
    """Print each cell where a body's own figure and the publisher's differ, with both values and sources."""
    from rich.table import Table

    from cli.shared import err, out, ready_engine
    from indicators.published_query import differences
    from onereturn import db

    with db.session_scope(ready_engine()) as session:
        found, total = differences(session, org_code=org, indicator_id=indicator, limit=10_000)
    table = Table("indicator", "area", "period", "own", "from", "publisher's", "from", "by")
    for d in found:
        table.add_row(
            d.indicator_id + (f" ({d.breakdown})" if d.breakdown else ""),
            d.org_code,
            d.period,
            f"{d.own_value:,g}" if d.own_value is not None else str(d.own_symbol),
            f"{d.own_agency} upload {d.own_submission_id}",
            f"{d.published_value:,g}" if d.published_value is not None else str(d.published_symbol),
            f"{d.source_id} release {d.release_id} row {d.published_file_row}",
            f"{d.difference:+,g}" if d.difference is not None else "",
        )
    out.print(table)
    err.print(f"{total} cell(s) differ.")
