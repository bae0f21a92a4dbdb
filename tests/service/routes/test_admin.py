"""Admin routes: keys are made, listed and revoked by admins only; the last admin stays."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.conftest import ADMIN


def test_planner_key_cannot_manage_keys(client: TestClient, planner_key: str) -> None:
    """A planner key reads planner data but gets 403 on key management."""
    h = {"X-API-Key": planner_key}
    assert client.get("/v1/orders", headers=h).status_code == 200
    assert client.post("/v1/keys", json={"role": "admin"}, headers=h).status_code == 403
    assert client.get("/v1/keys", headers=h).status_code == 403
    assert client.delete("/v1/keys/bootstrap-admin", headers=h).status_code == 403


def test_revoked_key_stops_working(client: TestClient) -> None:
    """A revoked key is refused at once; keys are listed without their secret."""
    made = client.post("/v1/keys", json={"role": "planner"}, headers=ADMIN).json()
    h = {"X-API-Key": made["key"]}
    assert client.get("/v1/plan", headers=h).status_code == 200
    assert client.delete(f"/v1/keys/{made['key_id']}", headers=ADMIN).status_code == 204
    assert client.get("/v1/plan", headers=h).status_code == 401
    assert client.delete(f"/v1/keys/{made['key_id']}", headers=ADMIN).status_code == 404
    listed = client.get("/v1/keys", headers=ADMIN).json()
    assert all("key" not in k for k in listed)
    assert {k["key_id"] for k in listed} >= {made["key_id"], "bootstrap-admin"}


def test_last_admin_key_cannot_be_revoked(client: TestClient) -> None:
    """Revoking the only admin key is a 409; with a second admin it works."""
    r = client.delete("/v1/keys/bootstrap-admin", headers=ADMIN)
    assert r.status_code == 409
    assert "last active admin key" in r.json()["detail"]
    other = client.post("/v1/keys", json={"role": "admin"}, headers=ADMIN).json()
    assert client.delete("/v1/keys/bootstrap-admin", headers=ADMIN).status_code == 204
    h = {"X-API-Key": other["key"]}
    assert client.delete(f"/v1/keys/{other['key_id']}", headers=h).status_code == 409


def test_key_bodies_are_read_only_after_the_key(client: TestClient) -> None:
    """Without a key a key request is a 401 even with a body that is not JSON at all."""
    r = client.post(
        "/v1/keys", content=b"\xff\xfe not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 401
    r = client.post("/v1/keys", json={"role": "emperor"}, headers=ADMIN)
    assert r.status_code == 422
