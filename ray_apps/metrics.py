"""Request metrics of the scoring API: an ASGI middleware and the ``/metrics`` route.

The middleware counts and times every request by route template (``/v1/score``,
never the raw path) and status code; probes and scrapes are not counted. The
``/metrics`` route exists only when the metrics live in a prometheus_client
registry (bare uvicorn app); under Ray Serve, Ray's metrics agent exports them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fraudlens.scoring.metrics import ServingMetrics

UNCOUNTED = frozenset({"/metrics", "/healthz", "/readyz"})
UNMATCHED = "unmatched"  # unknown paths: one label value, whatever the path


class RequestMetrics:
    """Pure ASGI middleware (cheaper than ``BaseHTTPMiddleware`` on every request).

    Args:
        app: the wrapped ASGI app.
        metrics: where requests are recorded.
        routes: the app's routes, to name requests answered before routing
            (e.g. a 413 from the body limit).
    """

    def __init__(
        self, app: ASGIApp, metrics: ServingMetrics, routes: Sequence[BaseRoute] = ()
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception escaping the app becomes a 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.request(self._route(scope), status, time.perf_counter() - start)

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:  # answered before routing
            route = next((r for r in self.routes if r.matches(scope)[0] != Match.NONE), None)
        path: str = getattr(route, "path", None) or UNMATCHED
        return path


def add_metrics(app: FastAPI, metrics: ServingMetrics) -> None:
    """Record requests in ``metrics``; serve ``GET /metrics`` if it has a registry."""
    app.add_middleware(RequestMetrics, metrics=metrics, routes=app.router.routes)
    registry = metrics.registry
    if registry is None:
        return

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Any:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
