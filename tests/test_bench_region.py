"""`bench region` in small: a region of two councils on PostgreSQL, their files kept and the pooled tables built by
two hosts at once, each table's rows counted, and --write puts the page in the document."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from benchmarks import region

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
def test_bench_region_builds_every_table_on_two_hosts(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "region-benchmark.md"
    monkeypatch.setattr(region, "DOC", doc)
    url = store.url.render_as_string(hide_password=False)
    sizes = ["--looked-after", "5", "--in-need", "10", "--plans", "10"]
    region.main(["--database-url", url, "--councils", "2", *sizes, "--write"])
    out = capsys.readouterr().out
    assert out.startswith("# Region benchmark")
    assert "per council 5 looked-after children, 10 children in need" in out
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in out.splitlines() if line.startswith("| 2 |")]
    tables = {(r[4], r[3]): int(r[5].replace(",", "")) for r in rows if len(r) == 8}
    assert sorted(tables) == sorted((host, t) for host, names in region.HOSTS.items() for t in names), tables
    # Both councils consent, so each pooled table of their children holds rows.
    assert all(n > 0 for (_, t), n in tables.items() if t != "placements"), tables
    peaks = [r for r in rows if len(r) == 4]
    assert len(peaks) == 1
    assert all(p.endswith("MiB") and float(p.split()[0]) > 0 for p in peaks[0][2:])
    assert doc.read_text() == out.removesuffix("\n")
