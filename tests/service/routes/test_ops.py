"""Health and Prometheus metrics: anonymous callers learn no backlog sizes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from promiseline.server import create_app
from tests.service.conftest import ADMIN, Clock, desk_maker, order, settings


def test_healthz_and_metrics(client: TestClient) -> None:
    """Metrics name orders taken, latency, plan age, backlog, outbox and streams."""
    order(client, "k1")
    order(client, "k1")
    assert client.get("/healthz").json() == {"ok": True}  # anonymous: no sizes
    detailed = client.get("/healthz", headers=ADMIN).json()
    assert detailed["ok"] is True
    assert "orders_in_plan" in detailed
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=ADMIN).text
    for line in (
        'promiseline_orders_taken_total{outcome="created"} 1.0',
        'promiseline_orders_taken_total{outcome="replayed"} 1.0',
        'promiseline_request_seconds_count{method="POST",route="/v1/orders"} 2.0',
        "promiseline_plan_age_seconds",
        "promiseline_plan_seconds",
        "promiseline_backlog_orders",
        "promiseline_webhook_queue 0.0",
        "promiseline_webhook_dead 0.0",
        "promiseline_event_streams 0.0",
        "promiseline_storage_failing 0.0",
    ):
        assert line in text, line


def test_operator_may_open_metrics_and_backlog(tmp_path: object) -> None:
    """With public metrics and backlog, anonymous callers see both."""
    s = settings(f"sqlite:///{tmp_path}/o.db", public_metrics=True, public_backlog=True)
    with TestClient(create_app(desk_maker(s, Clock()))) as c:
        assert "orders_in_plan" in c.get("/healthz").json()
        assert "promiseline_backlog_orders" in c.get("/metrics").text
        q = c.get("/v1/quote", params={"model": "A", "variant": "S", "market": "CN"}).json()
        assert q["window"]["queue_position"] == 1
