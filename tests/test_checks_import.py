"""pandera's polars API comes without numpy and pandas (``onereturn/checks.py``), and checks frames as before."""

from __future__ import annotations

import subprocess
import sys

import pytest

_CHECK = """
import sys
{first}
import collectors.validate  # noqa: F401 (the upload path, as a worker imports it)
from onereturn.checks import pa
import polars as pl

schema = pa.DataFrameSchema({{"value": pa.Column(pl.Float64, pa.Check.ge(0))}})
schema.validate(pl.DataFrame({{"value": [1.0, 2.0]}}))
try:
    schema.validate(pl.DataFrame({{"value": [-1.0]}}))
except pa.errors.SchemaError as exc:
    print("refused:", "greater_than_or_equal_to" in str(exc))
print("numpy:", "numpy" in sys.modules, "pandas:", "pandas" in sys.modules)
import numpy, pandas
print("importable after:", numpy.__name__, pandas.__name__)
"""


def _run(first: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _CHECK.format(first=first)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_upload_path_imports_neither_numpy_nor_pandas_and_its_checks_still_refuse() -> None:
    out = _run("")
    assert "refused: True" in out
    assert "numpy: False pandas: False" in out
    assert "importable after: numpy pandas" in out


@pytest.mark.parametrize("first", ["import numpy", "import pandas"])
def test_where_numpy_or_pandas_came_first_pandera_is_imported_as_it_is(first: str) -> None:
    out = _run(first)
    assert "refused: True" in out
    assert "importable after: numpy pandas" in out
