"""One recogniser, and no way around the table of ways in: a council's files are told by the door's recogniser alone,
every take of a way is reached through ``ways_in.take``, and an SSD extract's repeats (its files made, its payloads)
are told by the door from a ``door.Repeat``."""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine

from collectors import door
from collectors.ssd import payload_store
from onereturn.settings import Settings
from tests.collectors.ssd.ssd_samples import extract_zip
from tests.collectors.ssd.test_csc_payload import TINY, read, tables

ROOT = Path(__file__).resolve().parents[2]
#: The takes of the ways an entry point may reach only through the table (``collectors.ways_in``).
TAKES = {"import_release", "receive_extract", "keep_from_extract"}


def _product_files() -> list[Path]:
    """The product's modules (not its tests or benchmarks)."""
    packages = ("onereturn", "indicators", "mappings", "collectors", "exports", "api", "cli")
    return [ROOT / "scheduler.py", *(path for name in packages for path in sorted((ROOT / name).rglob("*.py")))]


def _named(path: Path) -> set[str]:
    """The names a module uses in its code (not its imports, definitions, comments or docstrings)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | {
        node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
    }


def test_one_recogniser_names_an_extracts_members_and_reads_a_zips() -> None:
    """The door's recogniser is the one module that names an SSD extract's member (``ssd_<table>.csv``) and reads a
    ZIP's members as a council's return holds them; the SSD's intake and DfE's files' checks ask it."""
    pattern = re.compile(r"ssd_\[a-z0-9_\]|def _?members\(archive")
    tellers = {str(p.relative_to(ROOT)) for p in _product_files() if pattern.search(p.read_text(encoding="utf-8"))}
    assert tellers == {"collectors/door/recognise.py"}


def test_no_entry_point_reaches_a_ways_take_but_through_the_table() -> None:
    """A publisher's release fetched, an SSD database read and the files and rows an extract makes are each taken by
    the table of ways in, handed down by its caller: no module but the table calls a way's take itself."""
    callers = {str(p.relative_to(ROOT)) for p in _product_files() if _named(p) & TAKES}
    assert callers == {"collectors/ways_in.py"}


def test_the_door_tells_a_repeat_of_the_newest_by_its_repeat_key() -> None:
    """``door.repeats_newest``: the newest row when each column given is the same, else None; a repeat key that is
    not of the newest is refused."""
    newest = SimpleNamespace(content_hash="abc", identifiers=False)
    key = door.Repeat((), newest_only=True)
    assert door.repeats_newest(key, newest, content_hash="abc", identifiers=False) is newest
    assert door.repeats_newest(key, newest, content_hash="abc", identifiers=True) is None
    assert door.repeats_newest(key, newest, content_hash="abd", identifiers=False) is None
    assert door.repeats_newest(key, None, content_hash="abc") is None
    with pytest.raises(ValueError, match="newest_only"):
        door.repeats_newest(door.Repeat(()), newest, content_hash="abc")


def test_an_extracts_payloads_sent_again_are_told_by_the_door(
    store: Engine, store_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The payloads of the same extract and switch kept again are the row already kept, as the door answers by the
    payloads' ``door.Repeat``; the same extract with names switched on is new; the door's answer is the answer."""
    assert door.Repeat((), newest_only=True) == payload_store.REPEAT
    path = extract_zip(tmp_path / "tiny.zip", tables(TINY))

    def kept(run: date, identifiers: bool = False) -> int:
        prepared = payload_store.prepare(read(path, identifiers=identifiers), run, identifiers=identifiers)
        row = payload_store.keep(
            store, store_settings, agency_code="synthetic_county", collection_year="2024-25", filename="tiny.zip",
            content_hash=payload_store.file_hash(path), prepared=prepared,
        )  # fmt: skip
        assert row.id is not None
        return row.id

    first = kept(date(2025, 6, 1))
    assert kept(date(2025, 6, 2)) == first
    named = kept(date(2025, 6, 3), identifiers=True)
    assert named != first
    assert kept(date(2025, 6, 4), identifiers=True) == named
    monkeypatch.setattr(door, "repeats_newest", lambda *_, **__: None)
    assert kept(date(2025, 6, 5), identifiers=True) not in (first, named)
