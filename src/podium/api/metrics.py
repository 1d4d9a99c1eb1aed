"""Prometheus metrics of one server process (`GET /metrics`).

Each server has its own registry (not the client library's global one), so that several
apps in one process (tests) do not share or clash over metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from podium.storage import queries
from podium.storage.records import RUN_STATUSES, StepRecord

if TYPE_CHECKING:
    from podium.api.deps import Services

STEP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.runs = Gauge(
            "podium_runs", "Runs in the database by status", ["status"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "podium_queue_depth", "Runs queued and waiting for a worker", registry=self.registry
        )
        self.sockets = Gauge(
            "podium_open_websockets", "WebSocket connections open", registry=self.registry
        )
        self.steps = Histogram(
            "podium_step_duration_seconds",
            "How long a step took, from its start to its end, by status",
            ["status"],
            buckets=STEP_BUCKETS,
            registry=self.registry,
        )

    def observe_steps(self, steps: list[StepRecord]) -> None:
        for step in steps:
            self.steps.labels(step.status).observe(max(step.ended_at - step.started_at, 0.0))


async def render_metrics(services: Services) -> tuple[bytes, str]:
    metrics = services.metrics
    counts = await services.podium.store.run_read(queries.counts)
    for status in RUN_STATUSES:
        metrics.runs.labels(status).set(counts["runs"].get(status, 0))
    metrics.queue_depth.set(counts["runs"].get("queued", 0))
    metrics.sockets.set(services.sockets.open)
    return generate_latest(metrics.registry), CONTENT_TYPE_LATEST
