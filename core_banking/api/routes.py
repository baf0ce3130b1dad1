"""The application's routes, looked into: FastAPI 0.16x keeps included routers nested."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from starlette.routing import BaseRoute


def route_contexts(routes: list[BaseRoute]) -> Iterator[Any]:
    """Every route, through included routers; each has ``path`` (with its convertors),
    ``path_format`` (as documented) and ``methods``."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before nested routers: the routes are already flat
        yield from routes
        return
    yield from iter_route_contexts(routes)
