"""The opt-in CPU log writes one line per test: its id, its wall time, its own CPU and its children's."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests import cpu_log


def test_each_test_gets_a_line_with_its_wall_and_cpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_log, "FOLDER", str(tmp_path / "cpu"))
    item: Any = SimpleNamespace(nodeid="tests/test_x.py::test_y")
    wrapper = cpu_log.pytest_runtest_protocol(item)
    next(wrapper)
    sum(i * i for i in range(2_000_000))  # some CPU (os.times counts in hundredths of a second)
    with pytest.raises(StopIteration):
        next(wrapper)
    (written,) = (tmp_path / "cpu").iterdir()
    assert written.name == f"cpu-{os.getpid()}.csv"
    ((nodeid, wall, own, children),) = list(csv.reader(written.open()))
    assert nodeid == "tests/test_x.py::test_y"
    assert float(wall) > 0
    assert float(own) > 0
    assert float(children) >= 0
