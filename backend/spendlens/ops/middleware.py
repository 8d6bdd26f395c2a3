"""Request-id, access-log and Prometheus middleware (pure ASGI: streams stay streamed)."""

from __future__ import annotations

import logging
import re
import time
import uuid

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spendlens.kit.routes import route_table
from spendlens.ops.logging import request_id_var

logger = logging.getLogger("spendlens.access")

REQUESTS = Counter("spendlens_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "spendlens_http_request_duration_seconds",
    "HTTP request duration",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def route_template(scope: Scope) -> str:
    """The full path template of the matched route, e.g. `/api/v1/transactions/{transaction_id}`.

    FastAPI matches through nested routers, so `scope["route"]` holds the path relative to its
    router; the application's route table has the full template for the same endpoint.
    """
    endpoint, app = scope.get("endpoint"), scope.get("app")
    if endpoint is None or app is None or not hasattr(app, "state"):
        return "unmatched"
    templates = getattr(app.state, "route_templates", None)
    if templates is None:
        templates = {endpoint: path for _, path, endpoint in route_table(app)}
        app.state.route_templates = templates
    return templates.get(endpoint, "unmatched")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_code = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            # The route template (not the raw path) keeps label cardinality bounded.
            route = route_template(scope)
            method = scope["method"]
            REQUESTS.labels(method, route, str(status_code)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            logger.info(
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "status": status_code,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
            request_id_var.reset(token)
