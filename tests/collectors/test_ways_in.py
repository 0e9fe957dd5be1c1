"""One head for every way figures come in: one module makes a submission, one table says which way in takes
each kind, and the purpose an upload is for is read back as it was given."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from collectors import head
from collectors.head import FIGURES_KIND, PUBLISHED_KIND, PURPOSES
from collectors.ways_in import WAYS_IN, Waiting, waiting_way_in, way_in
from indicators.store.models import RECORDS_KIND
from onereturn.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
#: The product's packages and modules (not its tests or benchmarks).
PRODUCT = ("onereturn", "indicators", "mappings", "collectors", "exports", "api", "cli", "scheduler.py")


def _product_files() -> list[Path]:
    files: list[Path] = []
    for name in PRODUCT:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return files


def test_one_module_makes_a_submission() -> None:
    """Every way in records its upload through ``collectors.head``: no other product module makes the row."""
    made = re.compile(r"(?<![\w.])Submission\(")
    makers = {
        str(path.relative_to(ROOT))
        for path in _product_files()
        for line in path.read_text(encoding="utf-8").splitlines()
        if made.search(line) and not line.lstrip().startswith("class ")
    }
    assert makers == {"collectors/head.py"}


def test_every_kind_has_its_way_in_and_its_purposes() -> None:
    """The table of ways in and the table of purposes name the same kinds; only record-level uploads wait for a
    worker; a kind no way in takes is refused in words."""
    assert set(WAYS_IN) == set(PURPOSES) == {FIGURES_KIND, RECORDS_KIND, PUBLISHED_KIND}
    assert all(way.kind == kind for kind, way in WAYS_IN.items())
    assert {kind for kind, way in WAYS_IN.items() if isinstance(way, Waiting)} == {RECORDS_KIND}
    assert waiting_way_in(RECORDS_KIND) is WAYS_IN[RECORDS_KIND]
    with pytest.raises(InvalidInput, match="taken whole"):
        waiting_way_in(FIGURES_KIND)
    with pytest.raises(InvalidInput, match="no way in takes uploads of kind 'faxes'"):
        way_in("faxes")


@pytest.mark.parametrize(("kind", "purpose"), [(k, p) for k, purposes in PURPOSES.items() for p in purposes])
def test_a_purpose_is_read_back_as_it_was_given(kind: str, purpose: str) -> None:
    """What an upload is for is stored (in ``mode``) and read back the same, for every kind and purpose."""
    submission = head.new_submission(
        kind=kind,
        purpose=purpose,
        agency_code="notts_cyp",
        filename="f.csv",
        source_format="csv",
        size_bytes=1,
        content_hash="0" * 64,
        raw_path="uploads/x",
        submitted_by="",
        lease_seconds=60,
    )
    assert (submission.kind, head.purpose_of(submission)) == (kind, purpose)
    assert submission.lease_owner
    assert submission.lease_until is not None


def test_a_purpose_a_kind_does_not_have_is_refused() -> None:
    """A record-level purpose is no purpose of a file of figures: refused naming the kind's own."""
    with pytest.raises(InvalidInput, match="purpose must be one of default, atomic, not 'annex_a'"):
        head.mode_of(FIGURES_KIND, "annex_a")
