"""Access: order tokens open one order; API keys are stored peppered; the bootstrap
admin key never stops a start, whatever happened to it."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from promiseline.errors import NotFoundError, UnauthorizedError
from promiseline.server import create_app
from promiseline.service.access import Access, key_hash
from promiseline.store import SqlStore, open_store
from tests.service.conftest import ADMIN, ADMIN_KEY, Clock, desk_maker, order, settings
from tests.store.conftest import at_once

NOW = dt.datetime(2025, 1, 1)


def test_token_opens_only_its_own_order(client: TestClient) -> None:
    """Order A's token does not open order B, nor change or cancel it."""
    a, b = order(client, "ka"), order(client, "kb")
    wrong = {"X-Order-Token": str(a["token"])}
    for method, path in (
        ("GET", ""),
        ("GET", "/eta"),
        ("POST", "/lock"),
        ("POST", "/cancel"),
        ("GET", "/events"),
    ):
        r = client.request(method, f"/v1/orders/{b['order_id']}{path}", headers=wrong)
        assert r.status_code == 404, (method, path, r.text)
    r = client.patch(f"/v1/orders/{b['order_id']}", json={"variant": "M"}, headers=wrong)
    assert r.status_code == 404
    assert client.get(f"/v1/orders/{b['order_id']}").status_code == 401


def test_tokens_and_keys(store: SqlStore) -> None:
    """Tokens are stable per order; keys work until revoked; huge keys are just unknown."""
    access = Access(store, b"pepper")
    assert access.token("o1") == access.token("o1") != access.token("o2")
    access.check_token("o1", access.token("o1"))
    with pytest.raises(NotFoundError):
        access.check_token("o1", access.token("o2"))
    with pytest.raises(UnauthorizedError):
        access.check_token("o1", None)
    _, key = access.create_key("planner", NOW)
    assert access.role(key) == "planner"
    with pytest.raises(UnauthorizedError):
        access.role("x" * 10_000)


def test_keys_are_stored_peppered(store: SqlStore) -> None:
    """The database holds neither the key nor its plain SHA-256; another pepper fails."""
    access = Access(store, b"pepper-1")
    _, key = access.create_key("admin", NOW)
    with store.transaction() as cur:
        cur.execute("SELECT key_hash FROM api_keys")
        (stored,) = cur.fetchone()
    assert stored == key_hash(b"pepper-1", key)
    assert stored not in (key, hashlib.sha256(key.encode()).hexdigest())
    with pytest.raises(UnauthorizedError):
        Access(store, b"pepper-2").role(key)


def test_keys_from_before_the_pepper_keep_working(store: SqlStore) -> None:
    """A key stored as plain SHA-256 (schema version 1) is rehashed once and still works."""
    key = "pl_admin_" + "k" * 40
    store.add_key("old", hashlib.sha256(key.encode()).hexdigest(), "admin", NOW)
    with store.transaction() as cur:
        cur.execute("UPDATE api_keys SET scheme = 'sha256'")
    assert Access(store, b"p").role(key) == "admin"
    assert Access(store, b"p").role(key) == "admin"  # rehashed once only


def _start(db_url: str, **changes: Any) -> TestClient:
    return TestClient(create_app(desk_maker(settings(db_url, **changes), Clock())))


@pytest.mark.both_stores
def test_bootstrap_key_never_stops_a_start(db_url: str, caplog: Any) -> None:
    """Revoked: the service starts and the key stays revoked. Rotated in the environment:
    the new value works, the old one does not."""
    with _start(db_url) as c:
        other = c.post("/v1/keys", json={"role": "admin"}, headers=ADMIN).json()
        assert c.delete("/v1/keys/bootstrap-admin", headers=ADMIN).status_code == 204
    caplog.set_level(logging.WARNING)
    with _start(db_url) as c:  # same (revoked) key in the environment
        assert c.get("/v1/keys", headers=ADMIN).status_code == 401
        assert c.get("/v1/keys", headers={"X-API-Key": other["key"]}).status_code == 200
    assert "stays revoked" in caplog.text
    rotated = ADMIN_KEY[::-1]
    with _start(db_url, admin_key=rotated) as c:
        assert c.get("/v1/keys", headers={"X-API-Key": rotated}).status_code == 200
        assert c.get("/v1/keys", headers=ADMIN).status_code == 401


@pytest.mark.both_stores
@pytest.mark.fresh_database
def test_fresh_database_started_by_several_workers_at_once(db_url: str) -> None:
    """Four desks starting together on a fresh database: all start, one bootstrap key."""
    assert at_once(lambda _: desk_maker(settings(db_url), Clock())().store.close()) == []
    store = open_store(db_url)
    assert [k.key_id for k in store.api_keys()] == ["bootstrap-admin"]
    stored = store.scenario()
    assert stored is not None
    store.close()
