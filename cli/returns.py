"""``onereturn export`` and ``onereturn burden``: a return built into a file, and the burden the service saves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import Engine
from sqlmodel import Session, select

from cli.admin import record as record_cli
from cli.shared import err, out, ready_engine
from mappings.models import Return
from onereturn.errors import OneReturnError


def add_returns_commands(app: typer.Typer) -> None:
    """Add ``onereturn export`` and ``onereturn burden`` to the CLI."""
    app.command()(export)
    app.command("burden")(burden_command)


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
        export_all(engine, year, output or Path(f"onereturn-{year}"), quiet=quiet)
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


def export_all(engine: Engine, year: str, folder: Path, *, quiet: bool) -> None:
    """Build every return ending in ``year``, in every format, into ``folder`` (a progress bar unless ``quiet``)."""
    from rich.progress import Progress

    from cli.demo import build_all
    from exports.writers import FORMATS

    with Session(engine) as session:
        total = len(session.execute(select(Return)).scalars().all()) * len(FORMATS)
    with Progress(console=err, transient=True, disable=quiet) as progress:
        task = progress.add_task(f"Building returns for {year}", total=total)
        written = build_all(engine, (year,), folder, progress=lambda _name: progress.advance(task))
    err.print(f"Wrote {len(written)} files to {folder}/")


def burden_command(
    period: Annotated[str, typer.Argument(help="The period, e.g. FY2024-25")],
    minutes: Annotated[float, typer.Option("--minutes", help="Officer minutes to key one figure")] = 3.0,
) -> None:
    """Print the burden saved: cells keyed into every return against figures keyed once, per agency."""
    from api.burden_counts import counters
    from exports.burden.report import burden
    from onereturn import db
    from onereturn.settings import get_settings

    settings = get_settings()
    engine = ready_engine()
    with db.session_scope(engine) as session:
        annex_a, list1 = counters(session, engine, settings)
        report = burden(session, period, minutes_per_figure=minutes, annex_a=annex_a, list1=list1)
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
            annex.add_row(
                a.agency_code,
                *(f"{n:,}" for n in (a.annex_a_cells, a.annex_a_from_records, a.annex_a_from_extract, a.annex_a_keyed)),
            )
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
    "awaiting_publishers",
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
        "a publisher's, not yet filled",
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
