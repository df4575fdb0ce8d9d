"""A tiny HTTP server for load balancers and Prometheus: /healthz and /metrics (tornado, already a PTB dependency)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tornado.web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

Check = Callable[[], bool]


class HealthHandler(tornado.web.RequestHandler):
    """200 "ok" while the process can do its work, 503 otherwise."""

    def initialize(self, check: Check) -> None:
        self.check = check

    def get(self) -> None:
        """Answer the load balancer."""
        healthy = self.check()
        self.set_status(200 if healthy else 503)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok\n" if healthy else "unavailable\n")


class MetricsHandler(tornado.web.RequestHandler):
    """Prometheus text exposition of this process's metrics."""

    def get(self) -> None:
        """Render every registered metric."""
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest())


def routes(check: Check) -> list[Any]:
    """The /healthz and /metrics routes, to serve alone or beside a webhook."""
    return [(r"/healthz", HealthHandler, {"check": check}), (r"/metrics", MetricsHandler)]


MAX_BODY = 1 << 20  # a Telegram update is a few kB: refuse anything larger than 1 MiB


def serve(host: str, port: int, check: Check, extra: list[Any] | None = None) -> Any:
    """Start serving on the running loop; return the server (call .stop() to end)."""
    application = tornado.web.Application([*(extra or []), *routes(check)])
    return application.listen(port, address=host, xheaders=True, max_body_size=MAX_BODY)
