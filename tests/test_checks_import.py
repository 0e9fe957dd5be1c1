"""pandera's polars API comes without numpy and pandas (``onereturn/checks.py``), and checks frames as before."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

_CHECK = """
import sys
{first}
import collectors.figures.validate  # noqa: F401 (the upload path, as a worker imports it)
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
        [sys.executable, "-c", _CHECK.format(first=first)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_upload_path_imports_neither_numpy_nor_pandas_and_its_checks_still_refuse() -> None:
    out = _run("")
    assert "refused: True" in out
    assert "numpy: False pandas: False" in out
    assert "importable after: numpy pandas" in out


def test_where_numpy_came_first_pandas_is_still_not_imported() -> None:
    out = _run("import numpy")
    assert "refused: True" in out
    assert "numpy: True pandas: False" in out


def test_where_pandas_came_first_pandera_is_imported_as_it_is() -> None:
    out = _run("import pandas")
    assert "refused: True" in out
    assert "importable after: numpy pandas" in out


def test_only_the_thread_importing_pandera_is_refused_numpy() -> None:
    from onereturn.checks import _Hidden

    hidden = _Hidden()
    with pytest.raises(ModuleNotFoundError, match="No module named 'numpy'"):
        hidden.find_spec("numpy", None)
    seen: list[object] = []
    other = threading.Thread(target=lambda: seen.append(hidden.find_spec("numpy.linalg", None)))
    other.start()
    other.join(10)
    # None: left to the finders after it, so the other thread imports numpy as ever.
    assert seen == [None]
