"""The floors the top-level module ``scheduler.py`` stands on, read from its source.

import-linter builds its graph from packages only: with outside modules in the graph, ``scheduler`` is one of
them, so the layers contract (``.importlinter``) breaks on a floor below that imports it, but it does not read
what ``scheduler.py`` imports. This does, against the same contract.
"""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def floors() -> list[list[str]]:
    """The layers contract's floors, top first (``collectors : exports`` is one floor of two)."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    lines = config["importlinter:contract:layers"]["layers"].strip().splitlines()
    return [[name.strip() for name in line.split(":")] for line in lines]


def not_below(module: str, source: str) -> set[str]:
    """The product's packages that ``source`` (the text of ``module``) imports and that are not below its floor."""
    stack = floors()
    at = next(i for i, floor in enumerate(stack) if module in floor)
    below = {name for floor in stack[at + 1 :] for name in floor}
    product = {name for floor in stack for name in floor}
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    return (imported & product) - below


def test_the_scheduler_imports_only_the_floors_below_it() -> None:
    assert not_below("scheduler", (ROOT / "scheduler.py").read_text()) == set()


def test_an_import_up_a_floor_or_across_is_caught() -> None:
    """The check sees imports at the top and inside functions, up a floor or of the scheduler itself."""
    assert not_below("scheduler", "import api.main\n\ndef f():\n    from cli import commands\n") == {"api", "cli"}
    assert not_below("scheduler", "from onereturn import jobs\nimport exports.service\n") == set()
    assert not_below("scheduler", "import scheduler\n") == {"scheduler"}
