"""``onereturn catalogue …``: the canonical indicator catalogue and the returns mapped onto it, checked, loaded and
listed; the public sources it cites and the plausibility rules."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.shared import err, out
from indicators.tomlfile import Problem
from onereturn.errors import OneReturnError

catalogue_app = typer.Typer(
    help="The canonical indicator catalogue and the returns mapped onto it.", no_args_is_help=True
)


def _group_problems(path: Path | None) -> list[Problem]:
    """The seed groups file checked as an officer's group is: every member code known to the geography."""
    from mappings.comparison.kept_groups import SEED_FILE, check_seed
    from mappings.geography import load_geography

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
