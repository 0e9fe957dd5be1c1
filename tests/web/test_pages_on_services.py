"""The pages stand on services, never on the API's route functions: no module under api/web imports api.routes.

A page that called a route function took the route's parameters, defaults and side effects (paging links, audit
notes) as its own; the pages and the routes now call the same services, so a route can change without a page
changing with it. The imports are read from the source (ast), not from what happens to be loaded.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "api" / "web"


def route_imports(source: str, *, package: str = "api.web") -> list[str]:
    """Every import of ``api.routes`` (the package or a module in it) in one module's source, as written."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # A relative import, resolved against the page's own package.
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [name for name in names if name == "api.routes" or name.startswith("api.routes.")]
    return sorted(set(found))


def test_no_page_imports_a_route_module() -> None:
    """Each module under api/web imports services and shared helpers, never api.routes."""
    pages = sorted(PAGES.rglob("*.py"))
    assert len(pages) > 10, "the page modules were not found"
    found = {
        path.relative_to(ROOT).as_posix(): names
        for path in pages
        if (names := route_imports(path.read_text(encoding="utf-8")))
    }
    assert not found, f"pages importing route modules (call the service both use instead): {found}"


@pytest.mark.parametrize(
    ("source", "caught"),
    [
        ("from api.routes import collect as c\n", True),
        ("from api.routes.exports import visible\n", True),
        ("import api.routes.calendar\n", True),
        ("from ..routes import groups\n", True),
        ("def f():\n    from api.routes import admin\n", True),
        ("from api import paging, uploading\n", False),
        ("from api.web.render import page\n", False),
        ("from collectors import answers\n", False),
    ],
)
def test_route_imports_are_read_in_every_spelling(source: str, caught: bool) -> None:
    """Absolute, relative, plain and function-level imports of a route module are all seen; others are not."""
    assert bool(route_imports(source)) is caught
