"""Dependencies are not handed over at import: sign-off's acts read the build themselves, and no module is imported
for its side effect.

Sign-off's states and tables sit below exports, which builds returns; its acts, review and lists read a build, so
they sit above the build (``exports.signoff``) and call the release gate's ungated build themselves. They once
received the build by registration when ``exports.release`` was first imported, then as an argument ``builds``
every caller passed; now no caller hands a build over.
"""

from __future__ import annotations

import ast
import configparser
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from exports.signoff import acts, behind, queries, reviewing

ROOT = Path(__file__).resolve().parent.parent

READS_A_BUILD: list[Callable[..., Any]] = [
    behind.vouched,
    behind.agencies_behind,
    behind.standings,
    acts.sign_off,
    acts.sign_off_all,
    reviewing.gather,
    reviewing.review,
    queries.listed,
    queries.approvals_queue,
]


@pytest.mark.parametrize("function", READS_A_BUILD, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_sign_off_reads_its_build_itself(function: Callable[..., Any]) -> None:
    """No sign-off function that reads a build is handed one: it takes no ``builds`` and no parameter of that kind."""
    parameters = inspect.signature(function).parameters
    assert "builds" not in parameters, f"{function.__name__} still takes builds"
    assert not any("build" in name for name in parameters), f"{function.__name__} is handed a build"


def test_sign_off_below_the_build_reads_none() -> None:
    """mappings/signoff/ (below exports) names no build: nothing there could be handed one or register for one."""
    folder = ROOT / "mappings" / "signoff"
    named = [
        f"{path.name}: {node.arg}"
        for path in sorted(folder.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.arg) and node.arg in {"builds", "build"}
    ]
    assert named == []
    assert not (folder / "builds.py").exists()


def product_files() -> list[Path]:
    """Every Python file of the floors (the packages and modules the layers contract names)."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    layers = [name for name in config["importlinter:contract:layers"]["layers"].split() if name != ":"]
    files: list[Path] = []
    for name in layers:
        files += sorted((ROOT / name).rglob("*.py")) if (ROOT / name).is_dir() else [ROOT / f"{name}.py"]
    return [path for path in files if "migrations/versions" not in path.as_posix()]


def _imports_by_name(call: ast.Call) -> bool:
    """Whether a call imports a module named by a string in the code (``import_module("m")``, ``__import__("m")``)."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    first = call.args[0] if call.args else None
    return name in {"import_module", "__import__"} and isinstance(first, ast.Constant) and isinstance(first.value, str)


def unused_imports(source: str) -> list[str]:
    """Imports whose name the module never uses (names in ``__all__``, and ``import x as x`` re-exports, are used)."""
    tree = ast.parse(source)
    bound: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound[alias.asname or alias.name.split(".")[0]] = node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                if alias.asname != alias.name:  # ``from m import x as x``: named again here on purpose
                    bound[alias.asname or alias.name] = node.lineno
        elif isinstance(node, ast.Call) and _imports_by_name(node):
            # ``importlib.import_module("m")`` or ``__import__("m")`` of a module named in the code binds no name
            # the module could use: an import for its side effect, always. (A loop over names, as the store's
            # tables are loaded by ``onereturn.db.metadata``, names no module here.)
            bound[f"import_module({node.args[0].value!r})"] = node.lineno  # type: ignore[attr-defined]
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    used |= {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    # Names used only in annotations written as strings are seen through the string constants above.
    return [f"{name} (line {line})" for name, line in bound.items() if name not in used]


def test_no_module_is_imported_for_its_side_effect() -> None:
    """No product module imports another and leaves its name unused: nothing runs by being imported."""
    found = {
        path.relative_to(ROOT).as_posix(): names
        for path in product_files()
        if (names := unused_imports(path.read_text(encoding="utf-8")))
    }
    assert not found, f"imports made for their side effect: {found}"


@pytest.mark.parametrize(
    ("source", "unused"),
    [
        ("import exports.release  # noqa: F401\n", ["exports (line 1)"]),
        ("def f():\n    import exports.release  # noqa: F401\n    return 1\n", ["exports (line 2)"]),
        ("from exports.release import build_ungated\nx = build_ungated\n", []),
        ("from typing import Any\ny: 'Any' = 1\n", []),
        ("from onereturn.locks import LOCK_KEY as LOCK_KEY\n", []),
        (
            "import importlib\nimportlib.import_module('collectors.ways_in')\n",
            ["import_module('collectors.ways_in') (line 2)"],
        ),
        ("def f():\n    __import__('exports.release')\n", ["import_module('exports.release') (line 2)"]),
        ("import importlib\nfor name in NAMES:\n    importlib.import_module(name)\n", []),
    ],
)
def test_an_import_for_its_side_effect_is_seen(source: str, unused: list[str]) -> None:
    """An import left unused, at the top or in a function, is named; one whose name is used is not."""
    assert unused_imports(source) == unused
