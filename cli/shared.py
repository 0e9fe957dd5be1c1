"""What every command shares: the consoles it prints to and the store made ready."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

# Piped output (CI, files, the README) gets room for the wide tables instead of 80 columns.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True)


def ready_engine() -> Any:
    """Return the store's engine with its schema up to date and the bundled catalogue loaded."""
    from indicators.service import current_catalogue_version
    from mappings.service import load_bundled
    from onereturn import db
    from onereturn.settings import get_settings

    settings = get_settings()
    engine = db.get_engine(settings)
    db.upgrade(engine)
    with db.session_scope(engine) as session:
        if current_catalogue_version(session) is None:
            load_bundled(session, demo_keys=settings.load_demo)
    return engine
