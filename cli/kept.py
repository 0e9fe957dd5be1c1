"""``onereturn db keep-files``: the kept files an earlier release left on this host's disk, into the shared store."""

from __future__ import annotations

import typer


def add_kept_commands(db_app: typer.Typer) -> None:
    """Add ``onereturn db keep-files`` to the CLI."""
    db_app.command("keep-files")(keep_files_command)


def keep_files_command() -> None:
    """Copy the kept files in this host's data folder into the PostgreSQL store, so every host reads them."""
    from cli.shared import err
    from onereturn import db, keptfiles
    from onereturn.settings import get_settings

    settings = get_settings()
    engine = db.get_engine(settings)
    db.upgrade(engine)
    if not keptfiles.is_shared(engine):
        err.print("The store is SQLite: its kept files stay in the data folder, nothing to copy.")
        return
    copied = keptfiles.keep_local(engine, settings)
    err.print(
        f"{copied} kept file(s) in {settings.data_dir} are in the store (names already there were left as they are)."
    )
