"""The format registry: every format is listed, deterministic, and an unknown one is refused clearly."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import pytest

from exports import writers
from exports.writers import FORMATS, ExportFormat, write
from mappings.catalogue import ExportFormat as CatalogueExportFormat
from onereturn.errors import InvalidInput
from tests.exports.writer_samples import LAYOUTS, make_built

ROOT = Path(__file__).resolve().parents[2]


def test_registry_lists_every_format_the_catalogue_allows() -> None:
    assert get_args(ExportFormat) == get_args(CatalogueExportFormat)
    assert list(FORMATS) == list(get_args(ExportFormat))
    assert {name: (f.name, f.extension) for name, f in FORMATS.items()} == {
        "xlsx": ("xlsx", "xlsx"),
        "csv": ("csv", "csv"),
        "json": ("json", "json"),
        "sdmx-csv": ("sdmx-csv", "sdmx.csv"),
    }
    assert FORMATS["sdmx-csv"].media_type.startswith("application/vnd.sdmx.data+csv; version=2.0.0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        FORMATS["csv"].extension = "txt"  # type: ignore[misc]


def test_public_interface() -> None:
    for name in ("FORMATS", "ExportFormat", "Format", "write", "neutralise", "sdmx_structure", "sdmx_ids"):
        assert hasattr(writers, name), name


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_is_deterministic(fmt: ExportFormat, layout: str) -> None:
    first = write(make_built(layout=layout), fmt)
    assert first
    assert write(make_built(layout=layout), fmt) == first


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_generated_at_is_the_only_clock(fmt: ExportFormat) -> None:
    built = make_built()
    later = dataclasses.replace(built, generated_at=datetime(2025, 1, 1, tzinfo=UTC))
    if fmt in ("csv", "sdmx-csv"):
        assert write(later, fmt) == write(built, fmt)  # these formats carry no timestamp at all
    else:
        assert write(later, fmt) != write(built, fmt)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_an_empty_return_writes(fmt: ExportFormat) -> None:
    assert write(make_built(cells=[]), fmt)


def test_unknown_format_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match="xlsx, csv, json, sdmx-csv") as info:
        write(make_built(), "pdf")  # type: ignore[arg-type]
    assert "'pdf'" in info.value.message


_DIGESTS = """
import hashlib
from exports.writers import FORMATS, sdmx_structure, write
from tests.exports.writer_samples import LAYOUTS, make_built
for layout in LAYOUTS:
    built = make_built(layout=layout)
    print(*(hashlib.sha256(write(built, f)).hexdigest() for f in FORMATS), hashlib.sha256(sdmx_structure(built)).hexdigest())
"""


def test_bytes_do_not_depend_on_hash_seed_or_local_timezone() -> None:
    runs = set()
    for seed, tz in (("1", "UTC"), ("2", "America/New_York"), ("3", "Asia/Kolkata")):
        env = {**os.environ, "PYTHONHASHSEED": seed, "TZ": tz}
        done = subprocess.run(
            [sys.executable, "-c", _DIGESTS], env=env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        runs.add(done.stdout)
    assert len(runs) == 1
