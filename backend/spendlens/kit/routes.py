"""The application's routes with their full path templates, through nested routers."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts


def route_table(app: FastAPI) -> Iterator[tuple[frozenset[str], str, Callable]]:
    """(methods, full path, endpoint) for every API route of `app`."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            methods = frozenset(context.methods or ()) - {"HEAD", "OPTIONS"}
            yield methods, context.path, context.endpoint
