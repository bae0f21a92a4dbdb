"""Bad input gets a clear 4xx, never a 5xx, and nothing is half-written."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import ADMIN_KEY

H = {"Idempotency-Key": "k1", "Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b'{"model": "A", "variant"', 422, "JSON decode error"),
        (b'{"model": "Q", "variant": "S", "market": "CN"}', 422, "unknown model 'Q'"),
        (b'{"model": "A", "variant": "XL", "market": "CN"}', 422, "unknown variant 'XL'"),
        (b'{"model": "A", "variant": "S", "market": "MARS"}', 422, "unknown market 'MARS'"),
        (b'{"model": "A", "variant": "S"}', 422, "Field required"),
        (b'{"model": "A", "variant": "S", "market": "CN", "options": {"a": [1]}}', 422, "string"),
        (b'{"model": "A", "variant": "S", "market": "CN", "price": 1}', 422, "Extra inputs"),
        (b"[]", 422, "valid dictionary"),
    ],
)
def test_bad_order_bodies(client: TestClient, body: bytes, status: int, message: str) -> None:
    """Each malformed order is refused with a message saying why; none is stored."""
    r = client.post("/v1/orders", content=body, headers=H)
    assert r.status_code == status
    assert message in r.text
    listed = client.get("/v1/orders", headers={"X-API-Key": ADMIN_KEY}).json()
    assert listed["count"] == 0


def test_idempotency_key_is_required(client: TestClient) -> None:
    """No Idempotency-Key, no order."""
    r = client.post("/v1/orders", json={"model": "A", "variant": "S", "market": "CN"})
    assert r.status_code == 422
    assert "Idempotency-Key" in r.text


def test_oversized_body_is_413(client: TestClient) -> None:
    """A body over 1 MiB is refused before it is read."""
    r = client.post("/v1/orders", content=b"x" * 1_100_000, headers=H)
    assert r.status_code == 413


def test_bad_dates_and_unknown_orders(client: TestClient) -> None:
    """Unparsable dates are 422; unknown orders 404 (with a key) or 401 (without)."""
    admin = {"X-API-Key": ADMIN_KEY}
    r = client.post(
        "/v1/orders/nope/progress",
        headers=admin,
        json={"status": "scheduled", "line": "l1", "build_date": "someday"},
    )
    assert r.status_code == 422
    assert client.get("/v1/orders/nope", headers=admin).status_code == 404
    assert client.get("/v1/orders/nope/explain", headers=admin).status_code == 404
    assert client.get("/v1/orders/nope").status_code == 401
