"""A fresh store of the demo, loaded as ``serve`` loads it, with the clock and every secret the run makes fixed."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from onereturn.settings import Settings
from tools.outputs.rows import FIXED_NOW

#: Seeds of the records keys and the region's secret a dump uses, so pseudonyms and region keys are the same in
#: every dump. They seal only the demo's made-up children, in a store the dump makes and throws away.
_SEED = b"onereturn outputs dump: made-up children only"


def _derived(label: str) -> bytes:
    return hashlib.sha256(_SEED + label.encode()).digest()


def write_keys(folder: Path) -> Path:
    """Write the records keys file a dump's store uses (the service's own layout, readable by its owner only)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / "records-keys.json"
    held = {
        "pseudonym_secret": base64.urlsafe_b64encode(_derived("pseudonym")).decode("ascii"),
        "encryption_key": base64.urlsafe_b64encode(_derived("fernet")).decode("ascii"),
    }
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w") as out:
        json.dump(held, out)
    return path


def settings_for(folder: Path, database: str | None) -> Settings:
    """The settings of a dump's store: its own data folder and keys, the demo loaded, nothing run in the background."""
    return Settings(
        data_dir=folder / "data",
        database_url=database or "",
        records_keys_file=write_keys(folder / "keys"),
        load_demo=True,
        scheduler_embedded=False,
    )


def empty(database: str) -> None:
    """Empty a PostgreSQL database named for a dump: every table of its public schema dropped."""
    engine = create_engine(database)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@contextmanager
def fixed_clock() -> Iterator[None]:
    """Hold ``onereturn.clock.now`` at :data:`FIXED_NOW` (as the tests fix it), then let it go."""
    from onereturn import clock

    real = clock.now
    clock.now = lambda: FIXED_NOW  # the clock's one seam, replaced as the tests replace it
    try:
        yield
    finally:
        clock.now = real


def keep_region_secret(engine: Engine, settings: Settings, region: str) -> None:
    """Keep the region's secret before the region first needs it, made from :data:`_SEED` rather than at random."""
    from collectors.regions.childkey import secret_name
    from onereturn import keptfiles
    from onereturn.sealing import keys_for

    keptfiles.keep(engine, settings, secret_name(region), keys_for(settings).seal(_derived(f"region {region}")))


def load(engine: Engine, settings: Settings, *, tiny: bool) -> int:
    """Load the catalogue and the demo (``tiny``: one agency's figures only, for a quick check); uploads made."""
    from cli import demo
    from collectors.figures.service import submit
    from mappings.service import load_bundled
    from onereturn import db

    db.upgrade(engine)
    with db.session_scope(engine) as session:
        load_bundled(session, demo_keys=True)
    keep_region_secret(engine, settings, demo.DEMO_REGION)
    if not tiny:
        return len(demo.load_demo(engine, settings))
    agency, paths = demo.AGENCIES[0], sorted((demo.DEMO_DIR / demo.AGENCIES[0]).glob("*.csv"))[:1]
    for path in paths:
        submit(engine, settings, agency_code=agency, filename=path.name, data=path.read_bytes(), submitted_by="demo")
    return len(paths)
