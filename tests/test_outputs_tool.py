"""The outputs tool (``tools/outputs``): the same store dumped twice compares identical, and a changed figure is named."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.stores import copied_store
from tools.outputs.__main__ import main
from tools.outputs.dump import dump_store
from tools.outputs.store import fixed_clock, load, settings_for


def _dump(store_template: str, folder: Path, start: datetime) -> Path:
    """A dump of a copy of the catalogue's store with one agency's upload (the tool's ``--tiny``); ``start`` is when
    the run began (both dumps the same: the store they copy was made before either)."""
    folder.mkdir()
    with copied_store(store_template, folder) as engine:
        settings = settings_for(folder, None)
        with fixed_clock():
            assert load(engine, settings, tiny=True) == 1
        dump_store(engine, settings, folder / "dump", start, tiny=True)
    return folder / "dump"


def test_a_store_dumped_twice_compares_identical_and_a_changed_figure_is_named(
    store_template: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    before, after = _dump(store_template, tmp_path / "a", start), _dump(store_template, tmp_path / "b", start)
    returns = sorted(p.relative_to(before).as_posix() for p in (before / "outputs" / "returns").rglob("*.tsv"))
    assert {p.split(".", 1)[1] for p in returns} == {"xlsx.tsv", "csv.tsv", "json.tsv", "sdmx.csv.tsv"}
    assert main(["compare", str(before), str(after)]) == 0
    assert "identical" in capsys.readouterr().out

    table = after / "store" / "observation.tsv"
    lines = table.read_text(encoding="utf-8").splitlines()
    was = re.search(r"\tvalue=([^\t]*)", lines[1])
    assert was is not None
    lines[1] = lines[1].replace(was.group(0), "\tvalue=999999.0", 1)
    table.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["compare", str(before), str(after)]) == 1
    said = capsys.readouterr().out
    assert said.startswith("store/observation.tsv: line 2 (")
    assert f"value: before 'value={was.group(1)}' after 'value=999999.0'" in said
    assert said.strip().endswith("1 difference(s)")
