"""Every dotted name of the product a docstring or comment gives in double backticks (``exports.build``,
``mappings.signoff.states.SIGNABLE``) names what exists: a module, or a module and attributes of it. A name left behind
by a move or a rename sends a reader to nothing, so it fails here with its file and line (this file's own prose too).

A name is the product's when its first part is a package of the layers contract (``product_packages``). A path
(``collectors/sen2/measures.py``) or a file's name (``scheduler.py``) is not a dotted name and is left out.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import io
import re
import tokenize
from pathlib import Path
from typing import Any

import pytest

from tests.test_ceilings import ROOT, product_files, product_packages

#: A dotted name in double backticks: identifiers joined by dots, nothing else between the backticks.
_DOTTED = re.compile(r"``([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)``")
#: The endings that make a dotted word a file's name, not a module's or an attribute's.
_FILE_NAME = re.compile(r"\.(?:py|toml|csv|md|json|txt|html|xlsx|xml|ya?ml|sql|sqlite3|zip|ini)$")


def prose(source: str) -> list[tuple[int, str]]:
    """The docstrings (of the module, its classes and functions) and comments of ``source``, each with its first line."""
    found = [
        (token.start[0], token.string)
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                found.append((first.lineno, first.value.value))
    return found


def named(text: str, packages: set[str]) -> list[str]:
    """The product's dotted names in double backticks in ``text``, file names left out."""
    return [name for name in _DOTTED.findall(text) if name.split(".")[0] in packages and not _FILE_NAME.search(name)]


def _has(owner: Any, attribute: str) -> bool:
    """Whether ``owner`` has ``attribute``: as an attribute, or as a field declared without a value."""
    if hasattr(owner, attribute):
        return True
    fields = getattr(owner, "model_fields", None)
    return attribute in getattr(owner, "__annotations__", {}) or (isinstance(fields, dict) and attribute in fields)


def resolves(name: str) -> bool:
    """Whether ``name`` is a module of the product, or a module and a chain of attributes of it.

    A module is found without importing it (a migration's environment runs as it is imported); only a module an
    attribute is looked up in is imported.
    """
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        if found is None:
            continue
        if cut == len(parts):
            return True
        owner: Any = importlib.import_module(module)
        for attribute in parts[cut:]:
            if not _has(owner, attribute):
                return False
            owner = getattr(owner, attribute, None)
        return True
    return False


def unresolved(path: Path, source: str, packages: set[str]) -> list[str]:
    """Each dotted name of the product in the docstrings and comments of one file that names nothing, by line."""
    where = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)
    return [
        f"{where}:{line} ``{name}``"
        for line, text in prose(source)
        for name in named(text, packages)
        if not resolves(name)
    ]


def test_every_dotted_name_in_the_products_prose_names_what_exists() -> None:
    """No docstring or comment of the product, nor of this test, names a module or attribute of it that is not there."""
    packages = set(product_packages())
    files = [*product_files(), Path(__file__).resolve()]
    found = [line for path in files for line in unresolved(path, path.read_text(encoding="utf-8"), packages)]
    assert not found, "these names in docstrings and comments name nothing (name what exists now):\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "reported"),
    [
        ('"""Written by ``exports.gate``."""\n', ["``exports.gate``"]),
        ("# The purposes are ``collectors.door.head.NO_SUCH_NAME``.\n", ["``collectors.door.head.NO_SUCH_NAME``"]),
        ('def f() -> None:\n    """Reads ``mappings.signoff.queries``."""\n', ["``mappings.signoff.queries``"]),
        ('"""Built by ``exports.build`` with ``collectors.ssd.intake.read_extract``."""\n', []),
        ('"""The fields of ``collectors.ssd.intake.Extract.tables``."""\n', []),
        ('"""Read from ``collectors/sen2/measures.py`` and ``scheduler.py``."""\n', []),
        ('"""``settings.data_dir`` is not the product\'s name."""\n', []),
        ('x = "``exports.gate`` in a string, not prose"\n', []),
    ],
)
def test_a_name_that_names_nothing_is_reported(tmp_path: Path, source: str, reported: list[str]) -> None:
    """A dotted name of a missing module or attribute is reported by its line; one that exists, a path, a file's name,
    a name outside the product and words in a plain string are not."""
    found = unresolved(tmp_path / "module.py", source, set(product_packages()))
    assert [line.split(" ", 1)[1] for line in found] == reported
