"""docs/architecture.md keeps up with the tree: every package and module of the product has its room in the table.

A top-level package (or module) of the floors, or a package below one, added without a row fails here, naming it; so
does a module of a package whose row lists its modules, when no row names it (by name or by a pattern); and so does a
row naming a room that is no longer there.
"""

from __future__ import annotations

import configparser
import fnmatch
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
HEADING = "## Domains and rooms"


def product_packages(root: Path = ROOT) -> list[str]:
    """Each package of the product, as ``name/``, and each top-level module of the floors, as ``name.py``."""
    config = configparser.ConfigParser()
    config.read(root / ".importlinter")
    layers = [name for name in config["importlinter:contract:layers"]["layers"].split() if name != ":"]
    found = []
    for top in layers:
        if (root / top).is_dir():
            found += sorted(
                f"{init.parent.relative_to(root).as_posix()}/" for init in (root / top).rglob("__init__.py")
            )
        else:
            found.append(f"{top}.py")
    return found


def table_rooms(text: str) -> list[list[str]]:
    """The rooms named in each row of the domains table (the second column's code spans), in order."""
    after = text.split(HEADING, 1)[1]
    rows = []
    for line in after.splitlines():
        if line.startswith("## "):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and line.startswith("|") and not set(cells[0]) <= set("- "):
            rows.append(re.findall(r"`([^`]+)`", cells[1]))
    return rows[1:]  # the header row


def uncovered(packages: list[str], rows: list[list[str]]) -> list[str]:
    """The packages no row names as a room."""
    named = {room for row in rows for room in row}
    return [package for package in packages if package not in named]


def missing_rooms(rows: list[list[str]], root: Path = ROOT) -> list[str]:
    """Rooms a row names that match nothing in the tree (a short name is read inside the package before it)."""
    missing = []
    for row in rows:
        base = ""
        for room in row:
            path = room if "/" in room else base + room
            if room.endswith("/"):
                base = room
            if not any(root.glob(path.rstrip("/"))):
                missing.append(path)
    return missing


def product_modules(root: Path = ROOT) -> list[str]:
    """Each module of the product's packages (``__init__.py`` aside, it is its package), and each top-level module."""
    found = []
    for package in product_packages(root):
        if package.endswith(".py"):
            found.append(package)
            continue
        found += [
            f.relative_to(root).as_posix() for f in sorted((root / package).glob("*.py")) if f.name != "__init__.py"
        ]
    return found


def unplaced(modules: list[str], rows: list[list[str]]) -> list[str]:
    """The modules no row places: a package named with no modules after it holds all of its own; a package named with
    its modules listed (``pkg/`` (``a.py``, ``b*.py``)) holds only those, and each of its other modules needs a row."""
    whole: set[str] = set()
    named: list[str] = []
    for row in rows:
        base = ""
        for place, room in enumerate(row):
            named.append(room if "/" in room else base + room)
            if room.endswith("/"):
                base = room
                following = row[place + 1] if place + 1 < len(row) else None
                if following is None or "/" in following:
                    whole.add(room)
    return [
        module
        for module in modules
        if module.rpartition("/")[0] + "/" not in whole and not any(fnmatch.fnmatch(module, n) for n in named)
    ]


def test_every_package_has_a_row() -> None:
    """Each package and sub-package of the floors, and scheduler.py, is a room of some domain in the table."""
    packages = product_packages()
    assert {"api/", "api/routes/", "collectors/records/", "mappings/signoff/", "scheduler.py"} <= set(packages)
    rows = table_rooms(DOC.read_text(encoding="utf-8"))
    assert len(rows) > 10, "the domains table was not found"
    assert not uncovered(packages, rows), f"give these a row in {DOC.name}'s table: {uncovered(packages, rows)}"


def test_every_module_has_its_room() -> None:
    """Each module is in a package named whole, or named itself (by name or pattern) in some row."""
    modules = product_modules()
    assert {"api/uploadpool.py", "collectors/retention.py", "scheduler.py"} <= set(modules)
    rows = table_rooms(DOC.read_text(encoding="utf-8"))
    left = unplaced(modules, rows)
    assert not left, f"name these in a row of {DOC.name}'s table: {left}"


def test_every_room_named_is_there() -> None:
    """No row names a room that is not in the tree."""
    rows = table_rooms(DOC.read_text(encoding="utf-8"))
    assert not missing_rooms(rows), f"rooms in {DOC.name} that are not in the tree: {missing_rooms(rows)}"


TABLE = f"""{HEADING}

| Domain | Rooms today | What they hold |
| --- | --- | --- |
| Figures | `shop/` (`till.py`, `stock*.py`) | the shop |
| Kernel | `base.py` | the base |

## Next
| Not | `counted/` | here |
"""


@pytest.mark.parametrize(
    ("packages", "left"),
    [
        (["shop/", "base.py"], []),
        (["shop/", "shop/back/", "base.py"], ["shop/back/"]),
        (["shop/", "base.py", "counted/"], ["counted/"]),
    ],
)
def test_a_package_without_a_row_is_caught(packages: list[str], left: list[str]) -> None:
    """A package added without a row is named; one outside the table's section does not count as a row."""
    assert uncovered(packages, table_rooms(TABLE)) == left


@pytest.mark.parametrize(
    ("modules", "left"),
    [
        (["shop/till.py", "shop/stock_room.py", "base.py"], []),
        (["shop/till.py", "shop/door.py", "base.py"], ["shop/door.py"]),
        (["counted/anything.py"], ["counted/anything.py"]),
    ],
)
def test_a_module_without_a_room_is_caught(modules: list[str], left: list[str]) -> None:
    """A module of a package whose row lists its modules is placed only by name or pattern; one outside the table
    is not placed by a row below it."""
    assert unplaced(modules, table_rooms(TABLE)) == left


def test_a_package_named_whole_holds_every_module(tmp_path: Path) -> None:
    """A package named with no modules after it holds all of its own; the modules are found in the tree."""
    rows = [["kernel/"], ["shop/", "till.py"], ["shop/back/", "shop/front.py"]]
    assert unplaced(["kernel/a.py", "shop/till.py", "shop/back/b.py", "shop/front.py", "shop/side.py"], rows) == [
        "shop/side.py"
    ]
    (tmp_path / ".importlinter").write_text("[importlinter:contract:layers]\nlayers =\n    shop\n    base\n")
    (tmp_path / "shop").mkdir()
    for name in ("__init__.py", "till.py"):
        (tmp_path / "shop" / name).write_text("")
    (tmp_path / "base.py").write_text("")
    assert product_modules(tmp_path) == ["shop/till.py", "base.py"]


def test_a_room_that_is_gone_is_caught(tmp_path: Path) -> None:
    """A row's room is looked for in the tree, a short name inside the package named before it."""
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "till.py").write_text("")
    (tmp_path / "shop" / "stock_room.py").write_text("")
    (tmp_path / "base.py").write_text("")
    assert missing_rooms(table_rooms(TABLE), tmp_path) == []
    (tmp_path / "shop" / "till.py").unlink()
    assert missing_rooms(table_rooms(TABLE), tmp_path) == ["shop/till.py"]


def test_the_packages_are_found_from_the_floors(tmp_path: Path) -> None:
    """Packages come from the layers contract: a sub-package is one with an __init__.py; a module is itself."""
    (tmp_path / ".importlinter").write_text("[importlinter:contract:layers]\nlayers =\n    shop\n    base\n")
    for folder in ("shop", "shop/back", "shop/data"):
        (tmp_path / folder).mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "back" / "__init__.py").write_text("")
    (tmp_path / "base.py").write_text("")
    assert product_packages(tmp_path) == ["shop/", "shop/back/", "base.py"]
