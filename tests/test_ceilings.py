"""The size ceilings of the product code, measured on every run: a function at most 80 lines, a module at most 650,
and no more functions over 70 lines than the count written here, which may only fall.

A ceiling is met by splitting a function or module by what it does, never by packing lines the formatter is told
to leave: the lines that tell it so (``# fmt: skip``, ``# fmt: off``) are counted, and the count may only fall.

The product is every package the layers contract (``.importlinter``) names, so a new package is measured
from the day it joins the contract; the migrations' recorded history (``onereturn/migrations/versions/``)
is the one exception, since a migration is written once and never edited.
"""

from __future__ import annotations

import ast
import configparser
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FUNCTION_LINES = 80
MODULE_LINES = 650
#: A function over this many lines is long: allowed under the ceiling, but counted.
LONG_FUNCTION_LINES = 70
#: How many product functions are long (over ``LONG_FUNCTION_LINES``). Lower it when one is split; it never rises.
LONG_FUNCTIONS = 9
#: A route module holds one resource's routes: at most this many lines, or the resource is split.
ROUTE_MODULE_LINES = 500
ROUTES = ROOT / "api" / "routes"
#: Written once and kept as written: the schema's history, not code anyone edits.
EXEMPT = ("onereturn/migrations/versions/",)
#: How many of the product's lines tell the formatter to leave them. The one place for one is a literal table that
#: reads better laid out by hand (codes and weights read across a line, a return's columns in its own order). Lower
#: it when one goes; it never rises: code that outgrows a ceiling is split, not packed.
FORMATTER_LEFT_LINES = 20
_FORMATTER_LEFT = re.compile(r"#\s*fmt:\s*(skip|off)\b")


def product_packages() -> list[str]:
    """The packages the layers contract names: the product, every floor of it."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return [name for name in config["importlinter:contract:layers"]["layers"].split() if name != ":"]


def product_files() -> list[Path]:
    """Every Python file of the product (a package's files, or a top-level module), the recorded history left out."""
    files = []
    for package in product_packages():
        found = sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else [ROOT / f"{package}.py"]
        assert all(path.is_file() for path in found), f"{package} is in the contract but not in the repository"
        files += [path for path in found if not path.relative_to(ROOT).as_posix().startswith(EXEMPT)]
    return files


def oversized(path: Path, source: str) -> list[str]:
    """What in one file is over a ceiling: the module, or each function from its ``def`` to its last line.

    A decorator is left out of the count: a route's declaration of its answers is not the function's logic.
    """
    name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    found = []
    lines = len(source.splitlines())
    if lines > MODULE_LINES:
        found.append(f"{name}: {lines} lines, over the module ceiling of {MODULE_LINES}")
    for node, length in function_lengths(source, name):
        if length > FUNCTION_LINES:
            found.append(
                f"{name}:{node.lineno} {node.name}: {length} lines, over the function ceiling of {FUNCTION_LINES}"
            )
    return found


def function_lengths(source: str, name: str) -> list[tuple[ast.FunctionDef | ast.AsyncFunctionDef, int]]:
    """Each function of ``source`` (methods and nested ones too) with its length from its ``def`` to its last line."""
    return [
        (node, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(ast.parse(source, filename=name))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def long_functions(path: Path, source: str) -> list[str]:
    """The functions of one file over ``LONG_FUNCTION_LINES``, each as ``file:line name: length``, measured as
    ``oversized`` measures them (decorators left out)."""
    name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    return [
        f"{name}:{node.lineno} {node.name}: {length} lines"
        for node, length in function_lengths(source, name)
        if length > LONG_FUNCTION_LINES
    ]


def test_product_is_under_the_ceilings() -> None:
    """No product function over 80 lines and no product module over 650; the message names each one that is."""
    files = product_files()
    assert len(files) > 100, "the product's packages were not found"
    found = [line for path in files for line in oversized(path, path.read_text(encoding="utf-8"))]
    assert not found, (
        f"split these (functions at most {FUNCTION_LINES} lines, modules at most {MODULE_LINES}):\n" + "\n".join(found)
    )


def test_long_functions_only_fall() -> None:
    """No more product functions over 70 lines than ``LONG_FUNCTIONS``; the message lists each of them."""
    found = [line for path in product_files() for line in long_functions(path, path.read_text(encoding="utf-8"))]
    assert len(found) <= LONG_FUNCTIONS, (
        f"{len(found)} product functions are over {LONG_FUNCTION_LINES} lines, more than {LONG_FUNCTIONS}: split one "
        "by what it does (the count may only fall):\n" + "\n".join(found)
    )


def formatter_left(source: str) -> int:
    """How many lines of ``source`` tell the formatter to leave them (``# fmt: skip`` or ``# fmt: off``)."""
    return sum(1 for line in source.splitlines() if _FORMATTER_LEFT.search(line))


def test_lines_left_by_the_formatter_only_fall() -> None:
    """The product tells the formatter to leave no more lines than the count written here: a ceiling is met by
    splitting, and a hand-laid table is the one place the formatter is told to stand back."""
    counts = {path: n for path in product_files() if (n := formatter_left(path.read_text(encoding="utf-8")))}
    total = sum(counts.values())
    where = "\n".join(f"{path.relative_to(ROOT).as_posix()}: {n}" for path, n in sorted(counts.items()))
    assert total <= FORMATTER_LEFT_LINES, (
        f"{total} product lines tell the formatter to leave them, over {FORMATTER_LEFT_LINES}: split the code "
        f"instead of packing it (a new literal table may take one only by another going):\n{where}"
    )


@pytest.mark.parametrize(
    ("source", "left"),
    [
        ("x = (1, 2)  # fmt: skip\n", 1),
        ("# fmt: off\nx = [1,\n  2]\n# fmt: on\n", 1),
        ("x = 1  #fmt:skip\n", 1),
        ("x = 1\ny = 'fmt: skip is a marker'\n", 0),
    ],
)
def test_lines_left_by_the_formatter_are_counted(source: str, left: int) -> None:
    """A ``# fmt: skip`` and a ``# fmt: off`` are each counted, however spaced; the words in a string are not."""
    assert formatter_left(source) == left


def test_route_modules_are_one_resource_each() -> None:
    """No module of API routes over 500 lines: a resource that outgrows it is split, its logic kept in services."""
    modules = sorted(ROUTES.glob("*.py"))
    assert len(modules) > 10, "the route modules were not found"
    over = [
        f"{path.relative_to(ROOT).as_posix()}: {lines} lines"
        for path in modules
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > ROUTE_MODULE_LINES
    ]
    assert not over, f"route modules over {ROUTE_MODULE_LINES} lines (split by resource):\n" + "\n".join(over)


def _function(lines: int, decorators: int = 0) -> str:
    """Source of one function ``lines`` long from its ``def`` to its last line, under ``decorators`` lines of decorator."""
    head = ["@staticmethod"] * decorators + ["def f() -> int:"]
    body = [f"    x{i} = {i}" for i in range(lines - 2)]
    return "\n".join([*head, *body, "    return 0"]) + "\n"


@pytest.mark.parametrize(
    ("source", "over"),
    [
        (_function(80), False),
        (_function(81), True),
        (_function(81, decorators=1), True),
        (_function(80, decorators=5), False),
        ("class C:\n" + "\n".join("    " + line for line in _function(81).splitlines()) + "\n", True),
        ("x = 1\n" * 650, False),
        ("x = 1\n" * 651, True),
    ],
)
def test_the_ceilings_are_measured(tmp_path: Path, source: str, over: bool) -> None:
    """An 81-line function (decorated or a method) and a 651-line module are caught; 80 (decorators aside) and 650 pass."""
    path = tmp_path / "module.py"
    assert bool(oversized(path, source)) is over


@pytest.mark.parametrize(
    ("source", "long"),
    [
        (_function(70), False),
        (_function(71), True),
        (_function(70, decorators=3), False),
        ("class C:\n" + "\n".join("    " + line for line in _function(71).splitlines()) + "\n", True),
    ],
)
def test_long_functions_are_measured(tmp_path: Path, source: str, long: bool) -> None:
    """A 71-line function (a method too) is counted as long; one of 70, decorators aside, is not."""
    assert bool(long_functions(tmp_path / "module.py", source)) is long


def test_only_the_recorded_history_is_exempt() -> None:
    """Every product package is measured, and of the product's files only the migrations' versions are left out."""
    assert set(product_packages()) >= {
        "api",
        "benchmarks",
        "cli",
        "collectors",
        "exports",
        "indicators",
        "mappings",
        "onereturn",
        "scheduler",
    }
    measured = {path.relative_to(ROOT).as_posix() for path in product_files()}
    assert "onereturn/migrations/env.py" in measured
    assert not any(name.startswith("onereturn/migrations/versions/") for name in measured)
