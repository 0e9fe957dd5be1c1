"""`bench england` in small: the first two councils of a synthetic England sent by their own keys to two hosts on
PostgreSQL, DfE's rules run for every file, every upload stored, what each host's processes held at its peak, each
return built and pulled by DfE's key with both councils in it, and --write puts the page in the document."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from benchmarks import england
from cli.synthetic.england import IN_NEED, LOOKED_AFTER, PLANS, REFERRALS, england_councils

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("store_template", ["postgresql"], indirect=True)
def test_bench_england_sends_every_councils_files_and_dfe_pulls_them(
    store: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "england-benchmark.md"
    monkeypatch.setattr(england, "DOC", doc)
    url = store.url.render_as_string(hide_password=False)
    england.main(["--database-url", url, "--scale", "0.005", "--councils", "2", "--at-once", "2", "--write"])
    out = capsys.readouterr().out
    assert out.startswith("# England from records benchmark")
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in out.splitlines() if line.startswith("| 2 |")]
    sizes = [r for r in rows if len(r) == 8]
    assert len(sizes) == 1
    # Hartlepool and Middlesbrough at 0.005 of DfE's counts: 2 and 2 looked after, 7 and 10 in need, 5 and 10 plans.
    assert sizes[0][1] == "4 / 17 / 15"
    assert sizes[0][7] == "0", out  # every upload stored
    assert "A " in sizes[0][6]
    assert "B " in sizes[0][6]
    # Each host's peak, process by process: the server, its upload processes and the scheduler held memory at that
    # moment, and DfE's rules ran in processes of their own (one per record-level upload at least).
    held = {r[1]: r for r in rows if len(r) == 5 and r[1] in ("A", "B")}
    assert sorted(held) == ["A", "B"], out
    for host in held.values():
        assert host[3].startswith("server "), host
        assert "upload process " in host[3], host
        assert "scheduler " in host[3], host
        assert int(host[2].removesuffix(" MiB").replace(",", "")) > 0
        assert "DfE's rules " in host[4], host
    builds = {r[1]: r for r in rows if len(r) == 4 + len(england.FORMATS)}
    assert sorted(builds) == sorted(england.RETURNS)
    assert all(r[3] == "2" for r in builds.values()), builds  # both councils in each return DfE pulls
    # England's rows made from the two councils' records, beside their files and DfE's counts of the same councils.
    counts = {r[1]: r[3:] for r in rows if len(r) == 6 and r[1] in england.ENGLAND_ROWS}
    first = england_councils()[:2]
    published = {k: f"{sum(c.published[k] or 0 for c in first):,}" for k in england.ENGLAND_ROWS}
    assert counts == {
        LOOKED_AFTER: ["0", "4", published[LOOKED_AFTER]],  # 4 rounded to the nearest 10, as DfE's England row
        IN_NEED: ["20", "17", published[IN_NEED]],
        REFERRALS: [counts[REFERRALS][0], counts[REFERRALS][1], published[REFERRALS]],
        PLANS: ["15", "15", published[PLANS]],  # EHC plans are neither rounded nor withheld
    }
    referrals = int(counts[REFERRALS][1])
    assert counts[REFERRALS][0] == f"{(referrals + 5) // 10 * 10}"
    assert doc.read_text() == out.removesuffix("\n")
