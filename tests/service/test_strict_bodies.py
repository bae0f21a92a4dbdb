"""Request bodies are read strictly: a string is not a boolean (`"lock": "true"` locked
an order with a non-refundable deposit), and a JSON object that names a key twice is a
422 naming the key (parsers keep the last value silently)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import ADMIN, ADMIN_KEY, client, clock, db_url, order, store  # noqa: F401

H = {"Idempotency-Key": "k1-0123456789abcdef", "Content-Type": "application/json"}
NO_KEY = {"Content-Type": "application/json"}


def _count(client: TestClient) -> int:  # noqa: F811
    return int(client.get("/v1/orders", headers={"X-API-Key": ADMIN_KEY}).json()["count"])


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b'{"model": "A", "variant": "S", "market": "CN", "lock": "true"}', ["body", "lock"]),
        (b'{"model": "A", "variant": "S", "market": "CN", "lock": 1}', ["body", "lock"]),
    ],
)
def test_no_coercion_in_an_order(client: TestClient, body: bytes, where: list[str]) -> None:  # noqa: F811
    """A string, or a number, where a boolean belongs is a 422 naming the field; nothing
    is stored."""
    for headers in (H, NO_KEY):  # the surge path and FastAPI's
        r = client.post("/v1/orders", content=body, headers=headers)
        assert r.status_code == 422, r.text
        if headers is H:
            assert where in [e["loc"] for e in r.json()["detail"]], r.text
    assert _count(client) == 0


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"model": "A", "variant": "S", "market": "CN", "lock": false, "lock": true}', "lock"),
        (b'{"model": "A", "model": "B", "variant": "S", "market": "CN"}', "model"),
        (b'{"model": "A", "variant": "S", "market": "CN", "options": {"x": "1", "x": "2"}}', "x"),
    ],
)
def test_duplicate_keys_are_refused(client: TestClient, body: bytes, key: str) -> None:  # noqa: F811
    """A key named twice is a 422 that names it, on the surge path and FastAPI's."""
    for headers in (H, NO_KEY):
        r = client.post("/v1/orders", content=body, headers=headers)
        assert r.status_code == 422, r.text
        (err,) = r.json()["detail"]
        assert err["type"] == "duplicate_key"
        assert repr(key) in err["msg"]
        assert err["loc"] == ["body", key]
    assert _count(client) == 0


def test_bodies_read_after_the_caller_are_strict(client: TestClient) -> None:  # noqa: F811
    """The bodies read once the caller is known (a change, progress, a new key) refuse
    duplicate keys too; dates still come as JSON strings."""
    o = order(client, "strict")
    own = {"X-Order-Token": str(o["token"]), "Content-Type": "application/json"}
    url = f"/v1/orders/{o['order_id']}"
    twice = client.patch(url, content=b'{"variant": "S", "variant": "M"}', headers=own)
    assert twice.status_code == 422
    assert twice.json()["detail"][0]["loc"] == ["body", "variant"]
    r = client.post("/v1/keys", content=b'{"role": "admin", "role": "planner"}', headers=ADMIN)
    assert r.status_code == 422
    assert "'role'" in r.json()["detail"][0]["msg"]
    body = b'{"status": "delivered", "status": "scheduled", "line": "l1", "build_date": "%s"}'
    day = client.get(url, headers=own).json()["created_at"][:10].encode()
    twice = client.post(f"{url}/progress", content=body % day, headers=ADMIN | NO_KEY)
    assert twice.status_code == 422
    assert twice.json()["detail"][0]["loc"] == ["body", "status"]
    once = b'{"status": "scheduled", "line": "l1", "build_date": "%s"}'
    r = client.post(f"{url}/progress", content=once % day, headers=ADMIN | NO_KEY)
    assert r.status_code != 422, r.text  # a date as a JSON string, strict or not
    assert client.get(url, headers=own).json()["variant"] == "S"
