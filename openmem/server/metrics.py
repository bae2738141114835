"""Prometheus metrics of one server: requests, latency, in-flight requests, disconnects.

Each app gets its own registry (not the process-global one), so several apps in one process
(tests, embedding) never collide. Labels are the route template and the status, never the
raw path: raw paths can hold user ids.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE", "ServerMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServerMetrics:
    """The metric families of one app, and their text exposition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "openmem_http_requests",
            "HTTP requests handled, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "openmem_http_request_duration_seconds",
            "Time from the first byte of the request to the last byte of the answer.",
            ("method", "route"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "openmem_http_requests_in_flight",
            "Requests being handled now.",
            registry=self.registry,
        )
        self.disconnects = Counter(
            "openmem_http_client_disconnects",
            "Requests whose client went away before the answer; the verb was cancelled.",
            ("route",),
            registry=self.registry,
        )
        self.errors = Counter(
            "openmem_errors",
            "Error answers, by OMP error code.",
            ("code",),
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every family."""
        return generate_latest(self.registry)
