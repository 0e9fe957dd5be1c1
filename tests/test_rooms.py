"""Rooms named for what they hold: no three flat modules of a top-level package share a name's first or last word.

Five flat modules called ``compare_*`` (or four ``*_writer``) tell a newcomer that one idea lives there without
saying where it starts; such a group is a package of its own (``mappings/comparison/``, ``exports/writers/``), named
once for what it holds. Modules beside a package's ``__init__.py`` are read; sub-packages are rooms already.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from tests.test_architecture_doc import ROOT, product_packages


def crowded(package: Path) -> dict[str, list[str]]:
    """The words three or more of ``package``'s flat modules share as their first or last word, with those modules."""
    by_word: dict[str, set[str]] = defaultdict(set)
    for module in package.glob("*.py"):
        if module.name == "__init__.py":
            continue
        words = module.stem.strip("_").split("_")
        by_word[f"{words[0]}_*"].add(module.stem)
        by_word[f"*_{words[-1]}"].add(module.stem)
    return {word: sorted(names) for word, names in by_word.items() if len(names) >= 3}


def test_no_three_flat_modules_of_a_top_level_package_share_a_word() -> None:
    """Each top-level package of the floors keeps no crowd of flat modules sharing a word."""
    tops = [ROOT / name for name in product_packages() if name.count("/") == 1]
    assert len(tops) >= 6
    found = {top.name: crowded(top) for top in tops if crowded(top)}
    assert not found, f"make each group a room of its own: {found}"


def test_a_crowd_is_found(tmp_path: Path) -> None:
    """The reading finds a crowd by a first word and by a last word, and not a pair."""
    for name in ("compare.py", "compare_rates.py", "compare_groups.py", "csv_writer.py", "json_writer.py"):
        (tmp_path / name).write_text("")
    assert crowded(tmp_path) == {"compare_*": ["compare", "compare_groups", "compare_rates"]}
    (tmp_path / "xlsx_writer.py").write_text("")
    assert crowded(tmp_path)["*_writer"] == ["csv_writer", "json_writer", "xlsx_writer"]
