"""Prometheus metrics: request counters kept as they happen, the rest read from the desk
at scrape time (so every figure is current and nothing is counted twice)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from promiseline.service.desk import OrderDesk


class Metrics:
    """One registry per app (tests run several apps in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.taken = Counter(
            "promiseline_orders_taken",
            "Orders taken, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "promiseline_request_seconds",
            "Request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.desk: OrderDesk | None = None
        self.registry.register(_DeskCollector(self))

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _DeskCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        d = self.metrics.desk
        if d is None:
            return
        live, c = d.live, d.committer
        stats = d.store.outbox_stats()
        yield _gauge(
            "plan_age_seconds", "Seconds since the plan was made", time.time() - live.now.built_at
        )
        yield _gauge(
            "plan_book_version", "Order-book version the plan was made from", live.now.versions.book
        )
        yield _gauge("plan_seconds", "Seconds reading and planning took", live.now.seconds)
        yield _gauge("backlog_orders", "Orders planned and not yet built", live.backlog())
        yield _counter("replans", "Re-plans", live.replans)
        yield _counter(
            "replan_failures",
            "Re-plans that failed (the last plan kept serving)",
            live.replan_failures,
        )
        yield _counter("eta_changes", "eta_changed events written", live.eta_changes)
        yield _counter("commit_batches", "Group-commit batches written", c.batches)
        yield _gauge(
            "storage_failing", "1 while writes to the database fail", int(c.failing is not None)
        )
        yield _gauge("event_streams", "Open event streams", d.feed.open)
        yield _gauge("webhook_queue", "Webhook deliveries waiting", stats.pending)
        yield _gauge("webhook_dead", "Webhook deliveries given up (dead letters)", stats.dead)
        yield _counter("webhook_failures", "Failed webhook attempts", stats.failures)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"promiseline_{name}", doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"promiseline_{name}", doc, value=value)
