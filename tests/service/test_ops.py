"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.conftest import order


def test_healthz_and_metrics(client: TestClient) -> None:
    """Metrics name orders taken, request latency, plan age and backlog."""
    order(client, "k1")
    order(client, "k1")
    assert client.get("/healthz").json()["ok"] is True
    text = client.get("/metrics").text
    assert 'promiseline_orders_taken_total{outcome="created"} 1.0' in text
    assert 'promiseline_orders_taken_total{outcome="replayed"} 1.0' in text
    assert 'promiseline_request_seconds_count{method="POST",route="/v1/orders"} 2.0' in text
    assert "promiseline_plan_age_seconds" in text
    assert "promiseline_backlog_orders" in text
