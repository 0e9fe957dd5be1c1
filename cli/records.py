"""``onereturn records``: a council's data team checks its record-level files with DfE's rules."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from collectors.records.contract import Findings, year_of

records_app = typer.Typer(
    help="Record-level returns (SSDA903, CIN census) checked by DfE's rules.", no_args_is_help=True
)


def add_records_commands(app: typer.Typer) -> None:
    """Add ``onereturn records …`` to the CLI."""
    app.add_typer(records_app, name="records")


@records_app.command("check")
def check_command(
    files: Annotated[
        list[Path], typer.Argument(help="The 903 tables as CSVs, the 903 XML, a ZIP of them, or a CIN census XML")
    ],
    year: Annotated[str, typer.Option("--year", help="The collection year, e.g. 2024-25 (picks DfE's rule set)")],
    la: Annotated[
        str | None, typer.Option("--la", help="The council's ONS code, e.g. E10000024 (needed for SSDA903)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON")] = False,
) -> None:
    """Run DfE's validation rules for the year over the files and print every finding; exit 1 if there are any."""
    from collectors.records.inputs import check

    result = check(files, year, local_authority=la)
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False, indent=1) + "\n")
    else:
        print_findings(result, Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200))
    raise typer.Exit(1 if result.findings or result.rules_raised else 0)


@records_app.command("synthetic")
def synthetic_command(
    out: Annotated[Path, typer.Option("--out", help="The folder to write the files into")],
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="903 (the SSDA903 tables as CSVs), cin (a CIN census XML), ssd (an SSD extract ZIP), sen2 (a SEN2 "
            "survey XML, for the January that ends the collection year's autumn: 2024-25 gives January 2025) or "
            "census (a school census's blade CSVs for --term of the collection year, --children pupils); not with "
            "--england",
        ),
    ] = None,
    children: Annotated[int, typer.Option("--children", min=1, help="How many made-up children")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same files")] = 1,
    year: Annotated[str, typer.Option("--year", help="The collection year, e.g. 2024-25")] = "2024-25",
    la: Annotated[
        str, typer.Option("--la", help="The council's ONS code: E10000024 (Nottinghamshire) or E10000007 (Derbyshire)")
    ] = "E10000024",
    looked_after: Annotated[
        int | None,
        typer.Option("--looked-after", min=1, help="ssd: how many looked-after children (default --children)"),
    ] = None,
    term: Annotated[
        str, typer.Option("--term", help="census: autumn (of the year's first calendar year), spring or summer")
    ] = "spring",
    england: Annotated[
        bool,
        typer.Option(
            "--england",
            help="Every English council's SSDA903, CIN census and SEN2 for 2024-25, each sized to its counts in DfE's "
            "releases times --scale, a folder each and manifest.json (docs/england.md)",
        ),
    ] = False,
    scale: Annotated[float, typer.Option("--scale", help="--england: the share of England's size")] = 0.02,
    councils: Annotated[
        int | None, typer.Option("--councils", min=1, help="--england: only the first N councils in DfE's order")
    ] = None,
) -> None:
    """Write ILLUSTRATIVE record-level files of made-up children, which DfE's rules for the year pass."""
    from cli.synthetic import synthetic_903, synthetic_cin
    from cli.synthetic.ssd import synthetic_ssd

    if england == (kind is not None):
        raise typer.BadParameter("give --kind, or --england for every council's files", param_hint="--kind")
    if england:
        _synthetic_england(out, scale, seed, councils)
        return
    if kind == "903":
        written = synthetic_903(seed, children, year, out, la=la)
        hint = f"onereturn records check --year {year} --la {la} {out}/*.csv"
    elif kind == "cin":
        written = [synthetic_cin(seed, children, year, out, la=la)]
        hint = f"onereturn records check --year {year} {written[0]}"
    elif kind == "ssd":
        # The extract holds the CIN census's children and the SSDA903's of the same seed (docs/records.md).
        written = [synthetic_ssd(seed, children, year, out, looked_after=looked_after, la=la)]
        hint = f"upload it with collection_year={year} (docs/records.md, the SSD extract)"
    elif kind == "sen2":
        from cli.synthetic.sen2 import synthetic_sen2

        written = [synthetic_sen2(seed, children, int(year[:4]) + 1, out, la=la)]
        hint = f"upload it with collection_year={year} (docs/send.md)"
    elif kind == "census":
        written = _synthetic_census(seed, children, year, term, out, la)
        hint = f"upload them with collection_year={year} (docs/census.md)"
    else:
        raise typer.BadParameter(f"{kind!r}: choose 903, cin, ssd, sen2 or census", param_hint="--kind")
    for path in written:
        typer.echo(str(path))
    many = f"{children} + {looked_after or children}" if kind == "ssd" else f"{children}"
    typer.echo(f"{many} made-up children (illustrative, no real child). Check them: {hint}")


def _synthetic_england(out: Path, scale: float, seed: int, councils: int | None) -> None:
    """England's councils' files, and the totals the files hold beside DfE's counts times the scale."""
    from cli.synthetic.england import SOURCES, totals, write_england
    from onereturn.errors import InvalidInput

    try:
        written = write_england(out, scale=scale, seed=seed, councils=councils)
    except InvalidInput as exc:
        raise typer.BadParameter(str(exc), param_hint="--scale") from None
    held, published = totals(written)
    typer.echo(f"{len(written)} councils' files (illustrative, no real child) in {out}, listed in {out}/manifest.json:")
    for kind in SOURCES:
        typer.echo(f"  {kind}: {held[kind]:,} in the files; DfE's {published[kind]:,} times {scale:g}")


def _synthetic_census(seed: int, pupils: int, year: str, term: str, out: Path, la: str) -> list[Path]:
    """A school census of made-up pupils for the term of the collection year, as COLLECT writes its blades."""
    from collectors.census.records import TERMS
    from collectors.census.synthetic import write_census
    from indicators.periods import read_collection_year
    from mappings.geography import dfe_la_number

    if term not in TERMS:
        raise typer.BadParameter(f"{term!r}: choose {', '.join(TERMS)}", param_hint="--term")
    lea = dfe_la_number(la)
    if lea is None:
        raise typer.BadParameter(f"{la!r} is no council DfE numbers", param_hint="--la")
    start = int(read_collection_year(year)[:4])
    out.mkdir(parents=True, exist_ok=True)
    written = write_census(out, [], year=start + (term != "autumn"), term=term, others=pupils, seed=seed, lea=lea)
    return [path for _, path in written]


@records_app.command("purge")
def purge_command() -> None:
    """Delete record-level raw files and child-level rows past ONERETURN_RECORDS_RETENTION_DAYS; figures and counts stay."""
    from cli.shared import ready_engine
    from collectors.retention import purge
    from onereturn.settings import get_settings

    settings = get_settings()
    done = purge(ready_engine(), settings)
    Console(stderr=True).print(
        f"Purged {done.submissions} record-level upload(s) older than {settings.records_retention_days} days: "
        f"{done.files} raw file(s) and {done.rows:,} child-level row(s) deleted; derived figures and counts kept"
        + (f"; {done.left} file(s) a stopped process left in the private folder removed." if done.left else "."),
        markup=False,
        highlight=False,
    )


@records_app.command("resume")
def resume_command() -> None:
    """Take up record-level uploads whose worker stopped (their lease ran out) and run them on."""
    from cli.shared import ready_engine
    from collectors.ways_in import WAYS_IN, resume_all
    from indicators.store.models import RECORDS_KIND
    from onereturn.settings import get_settings

    resumed = resume_all(ready_engine(), get_settings())
    ids = sorted(i for name, found in resumed.items() if WAYS_IN[name].way.kind == RECORDS_KIND for i in found)
    Console(stderr=True).print(
        f"Resumed {len(ids)} record-level upload(s){': ' if ids else ''}{', '.join(map(str, ids))}",
        markup=False,
        highlight=False,
    )


@records_app.command("read-ssd")
def read_ssd_command(
    agency: Annotated[str, typer.Option("--agency", help="The council's agency code (its agency sets ssd.read)")],
    year: Annotated[
        str | None,
        typer.Option(
            "--year",
            help="The collection year, e.g. 2024-25 (default: the council's setting, else the latest ended year "
            "the service has an SSD mapping for)",
        ),
    ] = None,
) -> None:
    """Read a council's SSD from its own database now, as the schedule does, and print what was made; exit 1 if not."""
    from cli.shared import ready_engine
    from collectors.ssd.database import mapped_year, run_read, sources
    from indicators.periods import read_collection_year
    from onereturn.errors import InvalidInput
    from onereturn.settings import get_settings

    settings = get_settings()
    engine = ready_engine()
    # A refused ask (an agency with no SSD database, a year without a mapping) exits 1 like a failed read, as
    # docs/cli.md says: it is the store's answer, not a mistyped command line.
    try:
        source = sources(engine).get(agency)
        year = mapped_year(read_collection_year(year)) if year is not None else None
    except (ValueError, InvalidInput) as exc:
        typer.echo(f"Nothing read: {exc}", err=True)
        raise typer.Exit(1) from None
    if source is None:
        typer.echo(f"Nothing read: no SSD database is set for {agency}: its agency's ssd.read names none", err=True)
        raise typer.Exit(1)
    from collectors import ways_in

    take = ways_in.extracts(engine, settings)
    ok, done = run_read(engine, settings, source, year=year, by="onereturn records read-ssd", take=take)
    typer.echo(done if ok else f"Nothing stored: {done}", err=not ok)
    raise typer.Exit(0 if ok else 1)


@records_app.command("rotate-keys")
def rotate_keys_command(
    also_open: Annotated[
        list[Path] | None,
        typer.Option("--also-open", help="A keys file that sealed some kept records besides the deployment's"),
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for the record-level uploads being processed")
    ] = 900.0,
) -> None:
    """Seal every kept record-level file and re-key every child under new keys, then make them the deployment's.

    The hosts may keep serving: record-level work is refused on every host while it runs, and the uploads being
    processed are waited for. A run stopped part-way is taken up by the next. Afterwards give every host the new
    keys file: the old keys open nothing the store keeps."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cli.shared import ready_engine
    from collectors.records.privacy import keys_at
    from collectors.records.rotation import rotate, rotating_path
    from onereturn.settings import get_settings

    settings = get_settings()
    console = Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    for path in also_open or []:
        if not path.is_file():
            raise typer.BadParameter(f"there is no keys file at {path}", param_hint="--also-open")
    also = [keys_at(path) for path in also_open or []]
    with Progress(*columns, console=console) as bar:
        done = rotate(ready_engine(), settings, _Bar(bar), also=also, wait_seconds=wait)
    console.print(
        f"Rotated the record-level keys: {done.files} sealed file(s) sealed again and {done.children:,} child(ren) "
        f"re-keyed in this run; {done.keys_file} holds the new keys ({rotating_path(settings).name} is gone). "
        "Give every host this file.",
        markup=False,
        highlight=False,
    )


class _Bar:
    """A rotation's steps as rich progress bars."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.task: Any = None

    def begin(self, what: str, total: int) -> None:
        self.task = self.bar.add_task(what, total=total)

    def advance(self, items: int) -> None:
        self.bar.advance(self.task, items)


def print_findings(result: Findings, console: Console) -> None:
    """The findings as a team reads them: every place a rule fails, then the rules that did not run to their end."""
    if result.findings:
        # Tab-separated lines, not a drawn table: DfE's fake set alone has 64,255 findings, and a team pastes
        # them into a spreadsheet.
        lines = ["rule\ttable\trow\tchild\tfields\tmessage"]
        for f in sorted(result.findings, key=lambda f: (f.table or "", f.row or 0, f.rule)):
            row = "" if f.row is None else str(f.row)
            lines.append("\t".join((f.rule, f.table or "(return)", row, f.child or "", ", ".join(f.fields), f.message)))
        console.file.write("\n".join(lines) + "\n")
    for title, notes in (
        ("raised an error inside DfE's library", result.rules_raised),
        ("skipped", result.rules_skipped),
    ):
        if notes:
            console.print(f"{len(notes)} rule(s) {title}, so not passed:", markup=False, highlight=False)
            for note in notes:
                console.print(f"  {note.rule}: {note.reason} — {note.message}", markup=False, highlight=False)
    if result.tables_missing:
        console.print(f"Tables not given: {', '.join(result.tables_missing)}", markup=False, highlight=False)
    by_rule = Counter(f.rule for f in result.findings)
    children = len({f.child for f in result.findings if f.child})
    console.print(
        f"{result.library} {result.library_version}, rule set for {year_of(result.ruleset)}: {result.rules_run} rules "
        f"over {', '.join(f'{t} {n:,}' for t, n in result.tables.items())} rows in {result.seconds:g} s. "
        f"{len(result.findings):,} finding(s) of {len(by_rule)} rule(s) for {children:,} child(ren); "
        f"{len(result.rules_raised)} raised, {len(result.rules_skipped)} skipped.",
        markup=False,
        highlight=False,
    )


def upgrade_naming_keys() -> None:
    """Bring the schema up to date; then a store sealed before it kept a fingerprint names the keys that open its
    records (never keys made now). Say what was done."""
    from collectors.records.privacy import adopt_sealed
    from onereturn import db
    from onereturn.settings import get_settings

    engine = db.get_engine()
    db.upgrade(engine)
    console = Console(stderr=True, soft_wrap=True)
    console.print("Database schema is up to date.")
    console.print(f"Records keys: {adopt_sealed(engine, get_settings())}.", markup=False, highlight=False)
