"""Strict requests: a query or form parameter a route does not declare is refused with 422 naming it.

A silently ignored parameter is a silent wrong answer: ``?mode=dry_run`` in the query instead of
the form stored the figures, and ``/api/figures?updated_since=...`` returned every figure. The
check is an app-wide dependency, so it covers every route, including routes added later.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.security.base import SecurityBase
from pydantic import BaseModel
from starlette.datastructures import FormData

from onereturn.errors import InvalidInput

_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")


def _names(fields: list[Any]) -> set[str]:
    out: set[str] = set()
    for f in fields:
        annotation = f.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            # A parameter model declares its fields as separate parameters.
            out |= {field.alias or name for name, field in annotation.model_fields.items()}
        else:
            out.add(f.alias)
    return out


#: Each route's declared names, by its dependant (kept alongside, so an id is never reused while cached).
_DECLARED: dict[int, tuple[Dependant, tuple[frozenset[str], frozenset[str], bool]]] = {}


def declared(dependant: Dependant) -> tuple[frozenset[str], frozenset[str], bool]:
    """Return a route's query and form parameter names, and whether it needs a key."""
    cached = _DECLARED.get(id(dependant))
    if cached is not None and cached[0] is dependant:
        return cached[1]
    query: set[str] = set()
    form: set[str] = set()
    keyed = False
    stack = [dependant]
    while stack:
        current = stack.pop()
        query |= _names(current.query_params)
        form |= _names(current.body_params)
        keyed = keyed or isinstance(current.call, SecurityBase)
        stack.extend(current.dependencies)
    result = frozenset(query), frozenset(form), keyed
    _DECLARED[id(dependant)] = (dependant, result)
    return result


def _message(where: str, name: str, known: frozenset[str], query: frozenset[str], form: frozenset[str]) -> str:
    text = f"Unknown {'query' if where == 'query' else 'form'} parameter {name!r}; "
    if where == "query" and name in form:
        return text + "send it as a form field, with the file"
    if where == "body" and name in query:
        return text + "send it in the query string"
    return text + (f"expected one of {', '.join(sorted(known))}" if known else "this route takes none")


def refuse_unknown(
    query_names: frozenset[str], form_names: frozenset[str], request: Request, form: FormData | None
) -> None:
    """Raise 422 naming every query or form parameter that is not among the declared names."""
    problems = [("query", name, query_names) for name in dict.fromkeys(request.query_params) if name not in query_names]
    if form is not None:
        problems += [("body", name, form_names) for name in dict.fromkeys(form) if name not in form_names]
    if not problems:
        return
    errors = [
        {
            "type": "unknown_parameter",
            "loc": [where, name],
            "msg": _message(where, name, known, query_names, form_names),
            "input": name,
        }
        for where, name, known in problems
    ]
    raise InvalidInput("; ".join(str(e["msg"]) for e in errors), errors=errors)


async def reject_unknown_parameters(request: Request) -> None:
    """Refuse the request if it carries a query or form parameter its route does not declare."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    query_names, form_names, keyed = declared(dependant)
    if keyed and "x-api-key" not in request.headers:
        # Without a key, the route's own 401 comes first.
        return
    form = None
    if form_names and request.headers.get("content-type", "").startswith(_FORMS):
        # FastAPI has already parsed the route's form before any dependency runs; this is that copy.
        form = await request.form()
    refuse_unknown(query_names, form_names, request, form)
