"""``onereturn regions``: ONS's postcode directory read for a region's placements across boundaries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

regions_app = typer.Typer(
    help="A region's hub: ONS's postcode directory its placements are read through.", no_args_is_help=True
)


def add_regions_commands(app: typer.Typer) -> None:
    """Add ``onereturn regions …`` to the CLI."""
    app.add_typer(regions_app, name="regions")


@regions_app.command("postcodes")
def postcodes_command(
    file: Annotated[
        Path,
        typer.Argument(help="ONS's postcode directory CSV (ONSPD), exactly as downloaded", dir_okay=False),
    ],
) -> None:
    """Read ONS's postcode directory (each postcode's district, county and termination) in place of the one before."""
    from cli.shared import err, ready_engine
    from collectors.regions.onspd import store_directory

    count = store_directory(ready_engine(), file)
    err.print(f"Read {count:,} postcodes from {file.name}: placements' host councils are read from it now.")
