"""Every endpoint and every dependency of the API is a coroutine.

FastAPI runs a plain function -- endpoint or dependency -- in a worker thread. Each such hop
costs a thread switch and a fight for the GIL on every request; under load it was most of a
millisecond of CPU per request. Nothing the API does blocks, so nothing needs a thread.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from core_banking.api.app import create_app
from core_banking.api.routes import route_contexts
from core_banking.config import load_config


def _callables(dependant: Dependant) -> Iterator[tuple[str, Callable[..., Any]]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            call = dependency.call
            function = call if inspect.isfunction(call) or inspect.ismethod(call) else call.__call__
            yield getattr(call, "__qualname__", type(call).__name__), function
        yield from _callables(dependency)


def test_no_endpoint_or_dependency_runs_in_a_worker_thread(tmp_path) -> None:
    app = create_app(load_config({"NEXUM_DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}"}))
    threaded = set()
    routes = 0
    for context in route_contexts(app.routes):
        route = getattr(context, "original_route", context)
        if not isinstance(route, APIRoute):
            continue
        routes += 1
        if not inspect.iscoroutinefunction(route.endpoint):
            threaded.add(f"endpoint {route.endpoint.__qualname__}")
        threaded |= {
            f"dependency {name}"
            for name, function in _callables(route.dependant)
            if not inspect.iscoroutinefunction(function)
        }
    assert routes > 40
    assert threaded == set()
