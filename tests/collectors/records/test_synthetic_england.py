"""A synthetic England: every council's files hold its counts in DfE's releases times the scale, the same seed gives
the same files, the stated share of children appear in two councils' SEN2 files, and a council's files pass DfE's
rules and the SEN2 schema. DfE's libraries run for real here."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.commands import app
from cli.synthetic.england import (
    IN_NEED,
    LOOKED_AFTER,
    MOVERS,
    PLANS,
    REFERRALS,
    SOURCES,
    england_councils,
    sized,
    write_england,
)
from collectors.published.sources import FILES_DIR
from collectors.records.contract import run_rules
from collectors.sen2.receiving import check
from onereturn.errors import InvalidInput
from tests.collectors.records.test_synthetic import RAISES_ON_EVERY_903

SCALE = "0.003"


@pytest.fixture(scope="module")
def england(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("england")
    write_england(out, scale=float(SCALE), seed=5)
    return out


def _manifest(out: Path) -> dict[str, object]:
    found: dict[str, object] = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return found


def _councils(out: Path) -> list[dict[str, object]]:
    listed = _manifest(out)["councils"]
    assert isinstance(listed, list)
    return listed


def test_every_councils_files_hold_its_published_counts_times_the_scale(england: Path) -> None:
    councils = _councils(england)
    assert len(councils) == 153
    assert len({c["region_code"] for c in councils}) == 9
    for c in councils:
        published, counts = c["published"], c["counts"]
        assert isinstance(published, dict)
        assert isinstance(counts, dict)
        for kind in (LOOKED_AFTER, IN_NEED, REFERRALS, PLANS):
            assert counts[kind] == sized(published[kind], Decimal(SCALE)), (c["name"], kind)
        assert len(c["files"]) == 13  # type: ignore[arg-type]  # eleven 903 tables, the census, the SEN2 file
    assert _manifest(england)["steered_to"] == list(SOURCES)
    totals = _manifest(england)["totals"]
    assert isinstance(totals, dict)
    assert totals[PLANS] == sum(c["counts"][PLANS] for c in councils)  # type: ignore[index]


def test_the_councils_counts_add_up_to_englands_published_figure() -> None:
    """DfE rounds England's figure to the nearest 10 in the social care files: the councils' own sum to it."""
    councils = england_councils()
    assert len(councils) == 153
    with (FILES_DIR / "cla_number_and_rate_per_10k_children.csv").open(encoding="utf-8-sig") as f:
        national = next(
            int(r["children_count"])
            for r in csv.DictReader(f)
            if r["time_period"] == "2025"
            and r["geographic_level"] == "National"
            and r["population_type"] == "Children looked after on 31 March each year"
        )
    looked_after = sum(c.published[LOOKED_AFTER] or 0 for c in councils)
    assert national == 81_770
    assert abs(looked_after - national) <= 10
    assert abs(sum(c.published[IN_NEED] or 0 for c in councils) - 402_400) <= 10
    # Two counts DfE suppresses, both of looked-after children: the City of London ("c") and the Isles of Scilly.
    assert sorted((c.name, k) for c in councils for k in SOURCES if c.published[k] is None) == [
        ("City of London", LOOKED_AFTER),
        ("Isles of Scilly", LOOKED_AFTER),
    ]


def test_the_same_seed_gives_the_same_files_and_another_seed_others(tmp_path: Path) -> None:
    def digest(out: Path) -> str:
        files = sorted(p for p in out.rglob("*") if p.is_file())
        return hashlib.sha256(
            b"".join(p.relative_to(out).as_posix().encode() + p.read_bytes() for p in files)
        ).hexdigest()

    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_england(tmp_path / name, scale=0.01, seed=seed, councils=3)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_the_stated_share_of_children_appear_in_two_councils_files(england: Path) -> None:
    councils = _councils(england)
    seen: Counter[str] = Counter()
    for c in councils:
        sen2 = next(p for p in c["files"] if "sen2" in p)  # type: ignore[attr-defined]
        seen.update(set(re.findall(r"<UPN>([^<]+)</UPN>", (england / sen2).read_text(encoding="utf-8"))))
    moved = sum(c["movers_out"] for c in councils)  # type: ignore[misc]
    assert moved == sum(round(MOVERS * c["counts"][PLANS]) for c in councils) > 0  # type: ignore[index]
    assert sum(c["movers_in"] for c in councils) == moved  # type: ignore[misc]
    assert sum(1 for n in seen.values() if n == 2) == moved
    assert max(seen.values()) == 2


def test_a_councils_files_pass_dfes_rules_and_the_sen2_schema(tmp_path: Path) -> None:
    written = write_england(tmp_path, scale=0.05, seed=2, councils=2)
    hartlepool = tmp_path / f"{written[0].code}-{written[0].lea}"
    tables = sorted((hartlepool / "ssda903").glob("*.csv"))
    found = run_rules("903", "lac2024_25", [(p.name, p) for p in tables], local_authority=written[0].code)
    assert found.findings == (), sorted({(f.rule, f.message) for f in found.findings})
    assert {n.rule: n.reason for n in found.rules_raised} == RAISES_ON_EVERY_903
    census = next((hartlepool / "cin").glob("*.xml"))
    found = run_rules("cin", "cin2024_25", [(census.name, census)])
    assert found.findings == ()
    assert found.rules_raised == ()
    sen2 = next((hartlepool / "sen2").glob("*.xml")).read_bytes()
    checked = check(sen2, "2024-25", max_bytes=10**8)
    assert checked.council == written[0].lea
    assert len(checked.children) > written[0].counts[PLANS] > 0


def test_the_cli_writes_england_and_refuses_a_kind_beside_it(tmp_path: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(
        app, ["records", "synthetic", "--england", "--scale", "0.01", "--councils", "2", "--out", str(tmp_path)]
    )
    assert done.exit_code == 0, done.output
    assert "2 councils' files (illustrative, no real child)" in done.output
    first = england_councils()[:2]
    held = sum(sized(c.published[LOOKED_AFTER], Decimal("0.01")) for c in first)
    published = sum(c.published[LOOKED_AFTER] or 0 for c in first)
    assert f"looked_after: {held} in the files; DfE's {published:,} times 0.01" in done.output
    assert len(_councils(tmp_path)) == 2
    both = runner.invoke(app, ["records", "synthetic", "--england", "--kind", "903", "--out", str(tmp_path)])
    assert both.exit_code == 2
    assert "give --kind, or --england" in both.output
    with pytest.raises(InvalidInput, match="England has 153 councils"):
        write_england(tmp_path, councils=154)
    with pytest.raises(InvalidInput, match="at most 1"):
        write_england(tmp_path, scale=2)
