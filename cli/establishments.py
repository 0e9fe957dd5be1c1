"""``onereturn establishments``: GIAS's register of establishments loaded from its files, downloaded, or said."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

establishments_app = typer.Typer(
    help="The register of establishments as GIAS publishes it: the SEN2 tables' placement types and List 1's phases.",
    no_args_is_help=True,
)


def add_establishments_commands(app: typer.Typer) -> None:
    """Add ``onereturn establishments …`` to the CLI."""
    app.add_typer(establishments_app, name="establishments")


def _bounded(path: Path, limit: int) -> bytes:
    from onereturn.errors import PayloadTooLarge

    size = path.stat().st_size
    if size > limit:
        # Refused before it is read: a file that size is not GIAS's register.
        raise PayloadTooLarge(
            f"{path.name} is {size:,} bytes, over the register's limit of {limit:,} "
            "(ONERETURN_ESTABLISHMENTS_MAX_BYTES); nothing was stored"
        )
    return path.read_bytes()


@establishments_app.command("load")
def load_command(
    file: Annotated[
        Path, typer.Argument(help="GIAS's all-establishments extract (edubasealldataYYYYMMDD.csv)", dir_okay=False)
    ],
    links: Annotated[
        Path | None,
        typer.Option("--links", help="GIAS's links file (links_edubasealldataYYYYMMDD.csv)", dir_okay=False),
    ] = None,
) -> None:
    """Check GIAS's extract whole and replace the register held (a refused file leaves it as it was)."""
    from cli.admin import operator
    from cli.shared import out, ready_engine
    from mappings.establishments.service import load_register, register_held
    from onereturn.errors import NotFound
    from onereturn.settings import get_settings

    for path in (file, links):
        if path is not None and not path.is_file():
            raise NotFound(f"No file {path}")
    settings = get_settings()
    data = _bounded(file, settings.establishments_max_bytes)
    extra = _bounded(links, settings.establishments_max_bytes) if links is not None else None
    engine = ready_engine()
    before = register_held(engine)
    held = load_register(
        engine,
        settings,
        data,
        file.name,
        links=extra,
        links_name=links.name if links is not None else "",
        by=operator(),
    )
    out.print(f"Loaded the register of establishments: {held.words()}", markup=False, highlight=False)
    if links is None and before is not None and before.links:
        out.print(
            f"The previous register's {before.links:,} links ({before.links_file_name}) were removed with it: "
            "load GIAS's links file of the same day with --links to follow successors.",
            markup=False,
            highlight=False,
        )


@establishments_app.command("status")
def status_command() -> None:
    """Say which register is held: when GIAS published it, when it was loaded, what it holds."""
    from cli.shared import out, ready_engine
    from mappings.establishments.service import register_held

    held = register_held(ready_engine())
    if held is None:
        out.print("No register of establishments is loaded: `onereturn establishments load FILE [--links FILE]`.")
        return
    out.print(f"{held.words()}; loaded {held.loaded_at} by {held.loaded_by}", markup=False, highlight=False)


@establishments_app.command("fetch")
def fetch_command() -> None:
    """Download GIAS's newest extract and links file now and load them (ONERETURN_ESTABLISHMENTS_URL)."""
    from cli.shared import out, ready_engine
    from mappings.establishments.fetch import fetch_register
    from onereturn.settings import get_settings

    outcome = fetch_register(ready_engine(), get_settings())
    if outcome.loaded and outcome.held is not None:
        out.print(f"Loaded from {outcome.url}: {outcome.held.words()}", markup=False, highlight=False)
    else:
        out.print(f"The register held is already GIAS's newest ({outcome.url}).", markup=False, highlight=False)


@establishments_app.command("synthetic")
def synthetic_command(
    out_folder: Annotated[Path, typer.Option("--out", help="The folder to write the two files into")],
    rows: Annotated[int, typer.Option("--rows", min=1, help="How many made-up establishments")] = 50_000,
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same files")] = 1,
    published: Annotated[
        str, typer.Option("--published", help="The date in the files' names, YYYY-MM-DD")
    ] = "2025-01-10",
) -> None:
    """Write an ILLUSTRATIVE register of made-up establishments in GIAS's layout, with its links file."""
    from cli.synthetic.gias import write_register

    try:
        day = date.fromisoformat(published)
    except ValueError as exc:
        raise typer.BadParameter(f"{published!r} is not a date YYYY-MM-DD", param_hint="--published") from exc
    extract, links = write_register(seed, rows, day, out_folder)
    typer.echo(f"{extract}\n{links}")
    typer.echo(
        f"{rows:,} made-up establishments (illustrative, no real school). Load them: "
        f"onereturn establishments load {extract} --links {links}"
    )
