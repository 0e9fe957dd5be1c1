"""No module of a package imports back through its own package's ``__init__``.

A module inside ``pkg/`` that says ``from pkg import name`` (``name`` not a module of ``pkg``) needs ``pkg/__init__.py``
run first, while ``__init__.py`` often imports that module: a circle between a package and its modules, which works
or fails by the order things are first imported. A module imports what it needs from the module that defines it.
import-linter cannot say this (its contracts compare modules side by side or floors, not a package and what is
inside it), so the product's source is read here with ``ast``.
"""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def product_roots() -> list[Path]:
    """The product's top-level packages, as ``.importlinter`` names them."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return [ROOT / name.strip() for name in config["importlinter"]["root_packages"].split()]


def _submodules(package: Path) -> set[str]:
    """The names of the modules and packages directly inside ``package``."""
    return {p.stem for p in package.glob("*.py")} | {p.name for p in package.iterdir() if (p / "__init__.py").exists()}


def back_through_package(path: Path, source: str) -> list[str]:
    """Each ``from pkg import name`` in ``source`` (the module at ``path``) where ``pkg`` is a package the module sits
    in and ``name`` is not one of its modules, as ``line: pkg.name``."""
    dotted = path.relative_to(ROOT).with_suffix("").parts
    own = dotted[:-1] if path.name != "__init__.py" else dotted[:-2]
    enclosing = {".".join(own[:depth]) for depth in range(1, len(own) + 1)}
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = (
                own[: len(own) - node.level + 1] if path.name != "__init__.py" else dotted[: len(dotted) - node.level]
            )
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
        else:
            module = node.module or ""
        if module not in enclosing:
            continue
        inside = _submodules(ROOT.joinpath(*module.split(".")))
        found += [f"{node.lineno}: {module}.{a.name}" for a in node.names if a.name not in inside]
    return found


def test_no_module_imports_back_through_its_own_package() -> None:
    found = {
        str(path.relative_to(ROOT)): hits
        for root in product_roots()
        for path in sorted(root.rglob("*.py"))
        if (hits := back_through_package(path, path.read_text(encoding="utf-8")))
    }
    assert found == {}, "import the name from the module that defines it, not through the package"


def test_an_import_back_through_the_package_is_caught() -> None:
    """A name of the package's ``__init__`` is caught, absolute or relative, from the package or one above it; a
    module of the package, or a package the module is not in, is not."""
    at = ROOT / "collectors" / "checks" / "typed.py"
    assert back_through_package(at, "from collectors.checks import check_figures\n") == [
        "1: collectors.checks.check_figures"
    ]
    assert back_through_package(at, "def f():\n    from . import Checked\n") == ["2: collectors.checks.Checked"]
    assert back_through_package(at, "from collectors import door\nfrom collectors import crosscheck\n") == [
        "2: collectors.crosscheck"
    ]
    assert back_through_package(at, "from collectors.checks import crosscheck, figures\n") == []
    assert back_through_package(at, "from collectors.door import through\n") == []
    init = ROOT / "collectors" / "checks" / "__init__.py"
    assert back_through_package(init, "from collectors.checks.figures import Checked\n") == []
    assert back_through_package(init, "from collectors import way\n") == ["1: collectors.way"]
